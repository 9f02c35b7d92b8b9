//! cargo-fuzz target (nightly): evaluating any expression, script or timer string never panics.
//! The body is servicetask-fuzz's, shared with the AFL++ harness on stable (crates/fuzz/run.sh).
//! Run: `cd crates/bpmn/fuzz && cargo +nightly fuzz run expr`
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| servicetask_fuzz::targets::expr(data));
