//! [`Resilience`] as the context's `DependencyPolicy`: each `cx.dependency(name).call(fut)`
//! takes a bulkhead slot (waiting up to the bulkhead's `max_wait`) and a breaker permit for
//! `name` first, and reports the result. It also answers the dependency's retry policy for
//! `Dependency::call_retrying` as the retry layer applies a task's: `max_attempts`, the
//! classes retried, the backoff (a `Retry-After` hint instead, bounded by `max_delay`),
//! `max_elapsed` (no retry would start past it; a `Retry-After` that asks to wait past it
//! ends the call with an error saying so) and the retry budget (one per dependency, shared by
//! every task calling it: each call deposits, each retry withdraws; a spent budget ends the
//! call as `budget_exhausted`).

use std::time::Duration;

use servicetask_core::layer::BoxFuture;
use servicetask_core::{DependencyPermit, DependencyPolicy, ErrorClass, TaskContext, TaskError};

use crate::breaker::OwnedBreakerPermit;
use crate::budget::BudgetExhaustedError;
use crate::bulkhead::BulkheadPermit;
use crate::retry::Backoff;
use crate::telemetry::{record_rejection, RejectionReason};
use crate::Resilience;

/// The guards held for one dependency call.
struct Permit {
    breaker: Option<OwnedBreakerPermit>,
    _slot: Option<BulkheadPermit>,
}

impl DependencyPermit for Permit {
    fn record(self: Box<Self>, failure: Option<ErrorClass>, elapsed: Duration) {
        if let Some(p) = self.breaker {
            p.record(failure, elapsed);
        }
    }
}

impl DependencyPolicy for Resilience {
    fn acquire<'a>(
        &'a self,
        dependency: &'a str,
        cx: &'a TaskContext,
    ) -> BoxFuture<'a, Result<Box<dyn DependencyPermit>, TaskError>> {
        Box::pin(self.acquire_guards(dependency, cx))
    }

    fn retry_delay(
        &self,
        dependency: &str,
        retry: u32,
        previous: Option<Duration>,
        error: &TaskError,
    ) -> Option<Duration> {
        let config = self.dependency_retry(dependency)?;
        if retry >= config.max_attempts.max(1) || !config.retries_class(error.class()) {
            return None;
        }
        let backoff = Backoff::new(config);
        Some(match error.retry_after() {
            // the callee's hint, bounded by the policy's cap
            Some(hint) => hint.min(backoff.cap()),
            None => backoff.delay(retry, previous, &mut rand::rng()),
        })
    }

    fn call_started(&self, dependency: &str) {
        if let Some(b) = self.dependency_budget(dependency) {
            b.deposit();
        }
    }

    fn next_retry(
        &self,
        cx: &TaskContext,
        dependency: &str,
        retry: u32,
        previous: Option<Duration>,
        elapsed: Duration,
        error: TaskError,
    ) -> Result<Duration, TaskError> {
        // attempts left and a class retried first: a hint matters only for a retry that would be made
        let (Some(config), Some(wait)) = (
            self.dependency_retry(dependency),
            self.retry_delay(dependency, retry, previous, &error),
        ) else {
            return Err(error);
        };
        if let Some(max) = config.max_elapsed {
            match error.retry_after() {
                Some(hint) if elapsed + hint >= max => {
                    return Err(beyond_max_elapsed(dependency, error, hint, elapsed, max))
                }
                _ if elapsed + wait >= max => return Err(error),
                _ => {}
            }
        }
        if let Some(b) = self.dependency_budget(dependency) {
            if !b.try_withdraw() {
                record_rejection(cx, RejectionReason::BudgetExhausted, None);
                return Err(BudgetExhaustedError::new(retry, error)
                    .into_task_error()
                    .with_retry_after(wait));
            }
        }
        Ok(wait)
    }
}

/// The call's last error when the callee asked to wait `hint`, past `max` (the policy's
/// `max_elapsed`) with `elapsed` gone: same class, saying why no retry follows; its
/// Retry-After stays, so the engine can retry the job once the wait is over.
fn beyond_max_elapsed(
    dependency: &str,
    error: TaskError,
    hint: Duration,
    elapsed: Duration,
    max: Duration,
) -> TaskError {
    let left = max.saturating_sub(elapsed);
    TaskError::new(
        error.class(),
        format!(
            "{}; not retried: it asked to wait {hint:?} (Retry-After), past the {left:?} left of \
             retry.max_elapsed ({max:?}) of dependency '{dependency}'",
            error.message()
        ),
    )
    .with_retry_after(hint)
    .with_suggestion(format!(
        "the engine may retry the job once the wait is over (the error carries it); to wait in \
         process, raise [dependencies.{dependency}] retry.max_elapsed above {hint:?}"
    ))
    .with_source(error)
}

impl Resilience {
    /// Takes the dependency's bulkhead slot (waiting up to its `max_wait`) and breaker permit.
    async fn acquire_guards(&self, dependency: &str, cx: &TaskContext) -> Result<Box<dyn DependencyPermit>, TaskError> {
        let Some(guards) = self.dependency_guards(dependency) else {
            return Ok(Box::new(Permit {
                breaker: None,
                _slot: None,
            }));
        };
        // The slot first: a full bulkhead must not use up a half-open probe.
        let slot = match &guards.bulkhead {
            None => None,
            Some(b) => match b.acquire().await {
                Ok(s) => Some(s),
                Err(e) => {
                    record_rejection(cx, RejectionReason::BulkheadFull, Some(b.name()));
                    return Err(e.into_task_error());
                }
            },
        };
        let breaker = match &guards.breaker {
            None => None,
            Some(b) => match b.acquire_owned(Some(cx)) {
                Ok(p) => Some(p),
                Err(e) => {
                    record_rejection(cx, RejectionReason::BreakerOpen, Some(b.name()));
                    return Err(e.into_task_error());
                }
            },
        };
        Ok(Box::new(Permit { breaker, _slot: slot }))
    }
}
