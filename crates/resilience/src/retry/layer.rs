//! [`RetryLayer`]: runs the rest of the pipeline again after a retryable failure.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry::KeyValue;
use rand::rngs::StdRng;
use rand::SeedableRng;
use servicetask_core::layer::{AttemptResult, BoxFuture, Layer, Next};
use servicetask_core::semconv::{self, event};
use servicetask_core::{ErrorClass, RetryConfig, RetryMode, TaskContext, TaskError};
use tokio::time::Instant;

use super::Backoff;
use crate::budget::{BudgetExhaustedError, RetryBudget};
use crate::telemetry::{record_rejection, task_attr, RejectionReason};
use crate::timeout::{run_until, TimeoutError, TimeoutScope};

/// Retries failed attempts per a [`RetryConfig`], within an optional total deadline and
/// retry budget (see the [module docs](crate::retry)).
pub struct RetryLayer {
    config: RetryConfig,
    backoff: Backoff,
    total: Option<Duration>,
    budget: Option<Arc<RetryBudget>>,
    rng: Mutex<StdRng>,
}

impl std::fmt::Debug for RetryLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RetryLayer")
            .field("config", &self.config)
            .field("total", &self.total)
            .field("budget", &self.budget)
            .finish_non_exhaustive()
    }
}

impl RetryLayer {
    /// A layer for `config`, with `total` as the deadline of the whole execution.
    pub fn new(config: RetryConfig, total: Option<Duration>) -> Self {
        RetryLayer {
            backoff: Backoff::new(&config),
            config,
            total,
            budget: None,
            rng: Mutex::new(StdRng::from_os_rng()),
        }
    }

    /// Shares `budget` (one per task) with this layer.
    pub fn with_budget(mut self, budget: Arc<RetryBudget>) -> Self {
        self.budget = Some(budget);
        self
    }

    /// Seeds the jitter RNG (deterministic delays, for tests).
    pub fn with_seed(self, seed: u64) -> Self {
        RetryLayer {
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
            ..self
        }
    }

    /// The retry policy.
    pub fn config(&self) -> &RetryConfig {
        &self.config
    }

    fn next_delay(&self, retry: u32, previous: Option<Duration>) -> Duration {
        let mut rng = self.rng.lock().unwrap_or_else(|p| p.into_inner());
        self.backoff.delay(retry, previous, &mut *rng)
    }

    async fn run<'a>(&'a self, cx: &'a TaskContext, next: Next<'a>) -> AttemptResult {
        // Read the clock only when a time limit needs it (it costs tens of ns on some VMs).
        let start = (self.total.is_some() || self.config.max_elapsed.is_some()).then(Instant::now);
        let deadline = self.total.zip(start).map(|(t, s)| s + t);
        let max_attempts = self.config.max_attempts.max(1);
        let mut attempt = cx.attempt().max(1);
        if attempt == 1 {
            // A call: an engine's retry of this job (attempt > 1) is not a new call.
            if let Some(b) = &self.budget {
                b.deposit();
            }
        }
        let mut previous = None;
        loop {
            cx.set_attempt(attempt);
            let result = match deadline {
                None => next.run(cx).await,
                Some(d) => match run_until(d, next.run(cx)).await {
                    Some(r) => r,
                    None => {
                        cx.telemetry().instruments().timeouts.add(1, &[task_attr(cx)]);
                        let total = self.total.unwrap_or_default();
                        Err(TimeoutError::new(TimeoutScope::Total, total).into_task_error())
                    }
                },
            };
            let mut err = match result {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            if err.context().attempt.is_none() {
                err.context_mut().attempt = Some(attempt);
            }
            let class = err.class();
            let left = max_attempts.saturating_sub(attempt);
            if class == ErrorClass::Business {
                return Err(err);
            }
            if is_rejection(class) {
                return Err(hand_back(cx, err, left));
            }
            let total_passed = deadline.is_some_and(|d| Instant::now() >= d);
            if !self.config.retries_class(class) || left == 0 {
                return Err(err.with_retries_left(0));
            }
            if total_passed {
                return Err(hand_back(cx, err, left));
            }
            let computed = err.retry_after().unwrap_or_else(|| self.next_delay(attempt, previous));
            let now = Instant::now();
            if let (Some(max), Some(start)) = (self.config.max_elapsed, start) {
                if now.saturating_duration_since(start) + computed >= max {
                    return Err(err.with_retries_left(0));
                }
            }
            // Every retry this layer lets happen, in process or by the engine, spends budget.
            if let Some(b) = &self.budget {
                if !b.try_withdraw() {
                    record_rejection(cx, RejectionReason::BudgetExhausted, None);
                    let e = BudgetExhaustedError::new(attempt, err.clone())
                        .into_task_error()
                        .with_retry_after(computed);
                    return Err(hand_back(cx, e, left));
                }
            }
            if self.config.mode == RetryMode::Engine {
                retry_event(cx, attempt, &err, computed, Some(left));
                return Err(hand_back(cx, err.with_retry_after(computed), left));
            }
            let delay = computed;
            if let Some(d) = deadline {
                if delay >= d.saturating_duration_since(now) {
                    // Nothing would be left for the attempt: let the engine retry later.
                    return Err(hand_back(cx, err.with_retry_after(computed), left));
                }
            }
            retry_event(cx, attempt, &err, delay, None);
            cx.telemetry()
                .instruments()
                .retries
                .add(1, &[task_attr(cx), KeyValue::new(semconv::ERROR_TYPE, class.as_str())]);
            if !delay.is_zero() {
                match deadline {
                    // a sleep ends on the timer's next millisecond: never let it pass the deadline
                    Some(d) => tokio::time::sleep_until((now + delay).min(d)).await,
                    None => tokio::time::sleep(delay).await,
                }
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                // the wait ran into the deadline: no attempt starts there; the engine may retry
                return Err(hand_back(cx, err, left));
            }
            previous = Some(computed);
            attempt += 1;
        }
    }
}

fn is_rejection(class: ErrorClass) -> bool {
    matches!(
        class,
        ErrorClass::CircuitOpen | ErrorClass::BulkheadFull | ErrorClass::BudgetExhausted
    )
}

/// Returns a failure to the engine with `left` retries (and whatever Retry-After it carries).
fn hand_back(cx: &TaskContext, err: TaskError, left: u32) -> TaskError {
    cx.span()
        .set_attribute(KeyValue::new(semconv::SERVICETASK_RETRIES_LEFT, i64::from(left)));
    err.with_retries_left(left)
}

fn retry_event(cx: &TaskContext, attempt: u32, err: &TaskError, delay: Duration, engine_left: Option<u32>) {
    let mut attrs = vec![
        KeyValue::new(semconv::SERVICETASK_ATTEMPT, i64::from(attempt)),
        KeyValue::new(semconv::ERROR_TYPE, err.class().as_str()),
        KeyValue::new(
            semconv::SERVICETASK_RETRY_DELAY_MS,
            i64::try_from(delay.as_millis()).unwrap_or(i64::MAX),
        ),
        KeyValue::new(semconv::EXCEPTION_MESSAGE, err.message().to_string()),
    ];
    if let Some(left) = engine_left {
        attrs.push(KeyValue::new(semconv::SERVICETASK_RETRIES_LEFT, i64::from(left)));
    }
    cx.span().add_event(event::RETRY, attrs);
}

impl Layer for RetryLayer {
    fn call<'a>(&'a self, cx: &'a TaskContext, next: Next<'a>) -> BoxFuture<'a, AttemptResult> {
        Box::pin(self.run(cx, next))
    }
}
