//! Timeouts: per attempt ([`TimeoutLayer`], the innermost resilience layer) and in total (a
//! deadline the retry layer applies around every attempt and every delay).
//!
//! A timed-out attempt is cancelled, that is its future is dropped (so whatever it awaited is
//! dropped too, and a breaker permit it held is given back), and it fails with class
//! `timeout`, which is retryable and counts as a breaker failure.
//!
//! # Quick Start
//!
//! ```
//! use std::time::Duration;
//! use servicetask_core::TaskConfig;
//! use servicetask_resilience::{layers, Resilience};
//! let config = TaskConfig::builder("resize")
//!     .timeout_attempt(Duration::from_secs(5))
//!     .timeout(Duration::from_secs(30))
//!     .build();
//! // A retry layer (holding the 30 s deadline) and a timeout layer (5 s per attempt).
//! assert_eq!(layers(&config, &Resilience::default()).len(), 2);
//! ```
//!
//! # Configuration
//!
//! `timeout.attempt` and `timeout.total` in [`servicetask_core::TaskConfig`]
//! (`#[service_task(timeout(total = "30s"))]`, `TaskConfig::builder(..).timeout_attempt(..)`,
//! `[tasks.<name>.timeout]` in `servicetask.toml`), human durations (`"250ms"`, `"30s"`).
//!
//! # Defaults
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `timeout.attempt` | none | time allowed for one attempt |
//! | `timeout.total` | none | time allowed for the execution, retries and delays included |
//!
//! # Thread Safety
//!
//! Stateless: one layer serves every concurrent execution. Time is tokio's, so a test with
//! `tokio::time::pause()` drives every timeout exactly.
//!
//! # Telemetry
//!
//! | what | when | attributes |
//! |---|---|---|
//! | counter `servicetask.timeouts` | an attempt, or the whole execution, ran out of time | `servicetask.name` |
//!
//! The failed attempt then shows as a `servicetask.retry` event with `error.type = timeout`
//! when it is retried.
//!
//! # Examples
//!
//! See `tests/timeout.rs`.

mod deadline;
mod error;
mod layer;

pub(crate) use deadline::run_until;
pub use error::{TimeoutError, TimeoutScope};
pub use layer::TimeoutLayer;
