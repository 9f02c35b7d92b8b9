//! Fuzz target: parsing and validating any bytes never panics.
//! Run: `cd crates/bpmn/fuzz && cargo +nightly fuzz run parse`
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = servicetask_bpmn::parse("fuzz.bpmn", data);
});
