//! `servicetask conformance DIR`: runs a suite of BPMN files against an expected.json.

use anyhow::Context as _;

use super::exit;
use crate::flags::ConformanceArgs;

/// Runs the command.
pub fn run(args: &ConformanceArgs) -> anyhow::Result<i32> {
    let report = servicetask_engine::conformance::run_suite(&args.dir)
        .with_context(|| format!("running the conformance suite in {}", args.dir.display()))?;
    println!("{report}");
    Ok(if report.passed == report.total {
        exit::OK
    } else {
        exit::PROCESS_FAILED
    })
}
