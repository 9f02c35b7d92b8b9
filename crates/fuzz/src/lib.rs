//! servicetask-fuzz: fuzz targets for the BPMN parser, the validator, the expression language
//! and a stubbed engine run, shared by every engine that drives them.
//!
//! - [`targets`]: one body per target ([`Target::exec`]); a panic, an abort or a hang is a finding.
//! - [`corpus`]: builds the seed corpus and AFL++ dictionaries from the shared BPMN files.
//! - [`smoke`]: a stable, in-process runner (seeds, kept regressions, then mutated inputs; a
//!   per-input time limit) for CI and for machines without AFL++.
//! - [`probes`]: large structured inputs (many elements, deep nesting, long expressions) that
//!   byte-level mutation does not reach, timed at growing scales.
//! - [`alloc_cap`]: the fuzz binaries' global allocator, capping live heap at 256 MiB.
//!
//! Coverage-guided fuzzing runs the same bodies under AFL++ (`afl/`, driven by `run.sh`).

pub mod alloc_cap;
pub mod corpus;
mod mutate;
pub mod probes;
pub mod smoke;
pub mod targets;

pub use targets::Target;
