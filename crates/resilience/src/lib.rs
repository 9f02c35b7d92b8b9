//! Graceful degradation for servicetask: retry with backoff, jitter and budgets, timeouts,
//! circuit breakers, bulkheads and fallbacks, as layers of the runner's pipeline, with
//! telemetry for every decision they make.
//!
//! # Overview
//!
//! - [`layers`] turns a task's [`TaskConfig`](servicetask_core::TaskConfig) into its
//!   resilience layers; [`validate`] checks the values first.
//! - [`Resilience`] holds what executions share: one [`CircuitBreaker`] per task and per
//!   dependency, one [`Bulkhead`] and one [`RetryBudget`] per task. It is also the
//!   context's `DependencyPolicy`, so `cx.dependency("payments").call(fut)` goes through the
//!   `dependency:payments` breaker and bulkhead.
//! - [`Clock`] is injected: breakers and budgets never read the time themselves, and the
//!   layers sleep on tokio time, so every timing rule is testable on a paused clock.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use servicetask_core::layer::{AttemptResult, BoxFuture, Invoke, Next, TaskValue};
//! use servicetask_core::{BreakerConfig, TaskConfig, TaskContext, TaskError};
//! use servicetask_resilience::{layers, validate, Resilience};
//!
//! struct Flaky(std::sync::atomic::AtomicU32);
//! impl Invoke for Flaky {
//!     fn invoke<'a>(&'a self, _cx: &'a TaskContext) -> BoxFuture<'a, AttemptResult> {
//!         let n = self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
//!         Box::pin(async move {
//!             if n == 0 { Err(TaskError::network("connection reset")) }
//!             else { Ok(Box::new("done") as TaskValue) }
//!         })
//!     }
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap().block_on(async {
//! let config = TaskConfig::builder("sync-orders")
//!     .retry_max_attempts(3)
//!     .timeout_attempt(Duration::from_secs(5))
//!     .breaker(BreakerConfig::default())
//!     .build();
//! validate(&config).expect("valid configuration");
//! let resilience = Resilience::default();
//! let stack = layers(&config, &resilience);
//! let cx = TaskContext::detached("sync-orders");
//! let task = Flaky(Default::default());
//! let out = Next::new(&stack, &task).run(&cx).await.unwrap();
//! assert_eq!(*out.downcast::<&str>().unwrap(), "done");
//! assert_eq!(cx.attempt(), 2);
//! # });
//! ```
//!
//! # Middleware ordering
//!
//! Outer to inner: **fallback > retry > bulkhead > breaker > timeout**, then the runner's
//! tracking layer and the task. The fallback sees the final failure; the retry layer holds
//! the total deadline and sleeps between attempts without holding a bulkhead slot or a
//! breaker permit; every attempt takes its own slot and permit; the attempt timeout is
//! innermost, so a timed-out attempt counts as a breaker failure.
//!
//! | concern | module | layer | failure class |
//! |---|---|---|---|
//! | retry, backoff, engine hand-back | [`retry`] | [`RetryLayer`] | (the last error's) |
//! | retry budget | [`budget`] | inside [`RetryLayer`] | `budget_exhausted` |
//! | timeouts | [`timeout`] | [`TimeoutLayer`] + deadline in [`RetryLayer`] | `timeout` |
//! | circuit breaker | [`breaker`] | [`BreakerLayer`] | `circuit_open` |
//! | bulkhead | [`bulkhead`] | [`BulkheadLayer`] | `bulkhead_full` |
//! | fallback | [`fallback`] | [`FallbackLayer`] | (answers instead) |
//!
//! # Features
//!
//! None: every layer is always compiled (each costs nothing unless configured).
//!
//! # MSRV
//!
//! The workspace's `rust-version` (1.85); raising it is a minor-version change.

pub mod breaker;
pub mod budget;
pub mod bulkhead;
mod clock;
mod dependency;
pub mod fallback;
mod resilience;
pub mod retry;
mod telemetry;
pub mod timeout;
mod validate;

pub use breaker::{
    BreakerLayer, BreakerOpenError, BreakerPermit, BreakerState, CallOutcome, CircuitBreaker, OwnedBreakerPermit,
    Transition, WindowTotals,
};
pub use budget::{BudgetExhaustedError, RetryBudget};
pub use bulkhead::{Bulkhead, BulkheadFullError, BulkheadLayer, BulkheadPermit};
pub use clock::{Clock, ManualClock, TokioClock};
pub use fallback::{FallbackFn, FallbackLayer, FallbackMatch};
pub use resilience::{dependency_key, layers, DependencyConfig, Resilience, ResilienceBuilder};
pub use retry::{Backoff, RetryLayer};
pub use telemetry::RejectionReason;
pub use timeout::{TimeoutError, TimeoutLayer, TimeoutScope};
pub use validate::{validate, validate_dependency, ConfigProblem};
