//! cargo-fuzz target (nightly): running any parsed model with stub tasks never panics or runs away.
//! The body is servicetask-fuzz's, shared with the AFL++ harness on stable (crates/fuzz/run.sh).
//! Run: `cd crates/bpmn/fuzz && cargo +nightly fuzz run run`
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| servicetask_fuzz::targets::run(data));
