//! cargo-fuzz target (nightly): validating any model (JSON of Definitions) never panics.
//! The body is servicetask-fuzz's, shared with the AFL++ harness on stable (crates/fuzz/run.sh).
//! Run: `cd crates/bpmn/fuzz && cargo +nightly fuzz run validate`
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| servicetask_fuzz::targets::validate(data));
