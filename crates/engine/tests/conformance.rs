//! Runs the shared conformance suite (SpiffWorkflow's recorded behaviour) when it is present.

use std::path::Path;

/// Cases passing when this test was last tuned; raise it as the engine improves.
const EXPECTED_PASSES: usize = 17;

#[test]
fn shared_conformance_suite() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/bpmn");
    if !dir.join("expected.json").exists() {
        eprintln!(
            "{} absent: the shared conformance suite is not checked here",
            dir.display()
        );
        return;
    }
    let report = servicetask_engine::conformance::run_suite(&dir).expect("the suite is readable");
    println!("{report}");
    assert!(report.total >= EXPECTED_PASSES, "{report}");
    assert!(report.passed >= EXPECTED_PASSES, "{report}");
}
