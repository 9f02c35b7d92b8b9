//! Retry with exponential backoff and jitter, a maximum number of attempts and of elapsed
//! time, a total deadline, an optional retry budget, and BPMN-aware hand-back to the engine.
//!
//! # Quick Start
//!
//! ```
//! use std::time::Duration;
//! use servicetask_core::TaskConfig;
//! use servicetask_resilience::{layers, Resilience};
//! let config = TaskConfig::builder("fetch-rates").retry_max_attempts(4).build(); // up to 4 attempts
//! let stack = layers(&config, &Resilience::default());
//! assert_eq!(stack.len(), 1); // the retry layer
//! ```
//!
//! # Configuration
//!
//! `retry` in [`servicetask_core::TaskConfig`] (`#[service_task(retry(max_attempts = 4))]`,
//! `TaskConfig::builder(..).retry(RetryConfig { .. })`, `[tasks.<name>.retry]` in
//! `servicetask.toml`) and `timeout.total` for the deadline.
//!
//! What happens to a failed attempt, in order:
//!
//! 1. a business (BPMN) error is returned untouched: never retried;
//! 2. a rejection (`circuit_open`, `bulkhead_full`, `budget_exhausted`) is never retried in
//!    process (no tight loop against an open breaker): it is returned with the retries left
//!    and its own Retry-After, for the fallback or the engine;
//! 3. a class the policy does not retry (`retry_on`, else `ErrorClass::is_retryable`) is
//!    returned with 0 retries left (an incident: retrying cannot help);
//! 4. with no attempt left, or when `max_elapsed` would pass during the delay, the error is
//!    returned with 0 retries left;
//! 5. the delay is the error's Retry-After hint if it has one, else the backoff
//!    ([`Backoff`]); no sleep ever passes the total deadline: a delay that would reach it
//!    (leaving no time for the attempt) is not slept, and the error goes back with the
//!    retries left and the delay as its Retry-After, so the engine retries later (a fresh
//!    execution with a fresh deadline) instead of the task timing out asleep;
//! 6. when a retry budget is configured and spent, the execution fails with class
//!    `budget_exhausted` (the last error as its source), retries left and Retry-After set;
//!    every retry the layer lets happen spends budget, in process or by the engine, and only
//!    a first attempt (`cx.attempt() == 1`) counts as a call;
//! 7. in [`RetryMode::Engine`](servicetask_core::RetryMode::Engine) the layer does not sleep:
//!    it returns the error with `retries_left` and the delay as its Retry-After;
//! 8. otherwise the layer sleeps and runs the next attempt (`cx.set_attempt(n + 1)`).
//!
//! **Convention for the runner:** the suggested engine backoff is the returned error's
//! `TaskError::retry_after()` and the retries left its `TaskError::retries_left()`. The first
//! attempt number is `cx.attempt()` when the layer starts, so an engine that retries a job
//! sets it before running the execution.
//!
//! # Defaults
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `max_attempts` | `1` | attempts in all, the first included (`4` is up to 3 retries) |
//! | `max_elapsed` | none | no retry starts after this much time |
//! | `initial_delay` | `100ms` | base delay |
//! | `max_delay` | `10s` | cap on any delay |
//! | `multiplier` | `2.0` | exponential factor |
//! | `jitter` | `full` | `full`, `decorrelated` or `none` |
//! | `retry_on` | none | classes to retry; none means every retryable class |
//! | `mode` | `in_process` | `in_process` or `engine` |
//! | `budget` | none | see [`crate::RetryBudget`] |
//!
//! # Thread Safety
//!
//! One layer serves every concurrent execution of a task; its RNG sits behind a mutex
//! (seedable through [`crate::ResilienceBuilder::seed`] for deterministic tests). Delays and
//! deadlines use tokio time, so `tokio::time::pause()` drives them exactly.
//!
//! # Telemetry
//!
//! | what | when | attributes |
//! |---|---|---|
//! | span event `servicetask.retry` | an attempt failed and will be retried (in process, or by the engine) | `servicetask.attempt` (the failed one), `error.type`, `servicetask.retry.delay_ms`, `exception.message`; `servicetask.retries_left` when handed to the engine |
//! | counter `servicetask.retries` | an in-process retry is about to sleep | `servicetask.name`, `error.type` |
//! | span attribute `servicetask.retries_left` | the failure goes back to the engine with retries left | |
//! | counter `servicetask.timeouts` | the total deadline passed | `servicetask.name` |
//! | span event `servicetask.rejection`, counter `servicetask.rejections` | the retry budget refused a retry | `servicetask.name`, `servicetask.rejection.reason = budget_exhausted` |
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//! use servicetask_core::{Jitter, RetryConfig, RetryMode, TaskConfig};
//! let retry = RetryConfig {
//!     max_attempts: 5,
//!     initial_delay: Duration::from_millis(200),
//!     max_delay: Duration::from_secs(5),
//!     jitter: Jitter::Decorrelated,
//!     mode: RetryMode::Engine, // let Zeebe-style engines retry later
//!     ..RetryConfig::default()
//! };
//! let config = TaskConfig::builder("notify").retry(retry).build();
//! assert!(servicetask_resilience::validate(&config).is_ok());
//! ```

mod backoff;
mod layer;

pub use backoff::Backoff;
pub use layer::RetryLayer;
