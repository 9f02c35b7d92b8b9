//! Fuzz target: parsing and evaluating any expression or script never panics.
//! Run: `cd crates/bpmn/fuzz && cargo +nightly fuzz run expr`
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(src) = std::str::from_utf8(data) {
        let mut vars = serde_json::Map::new();
        vars.insert("x".into(), serde_json::json!([1, {"a": 2}, "s"]));
        let _ = servicetask_bpmn::expr::evaluate(src, &vars);
        let _ = servicetask_bpmn::expr::run_script(src, &mut vars);
    }
});
