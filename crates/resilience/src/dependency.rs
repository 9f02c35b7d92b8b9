//! [`Resilience`] as the context's `DependencyPolicy`: each `cx.dependency(name).call(fut)`
//! takes a bulkhead slot (waiting up to the bulkhead's `max_wait`) and a breaker permit for
//! `name` first, and reports the result. It also answers the dependency's retry policy for
//! `Dependency::call_retrying`.

use std::time::Duration;

use servicetask_core::layer::BoxFuture;
use servicetask_core::{DependencyPermit, DependencyPolicy, ErrorClass, TaskContext, TaskError};

use crate::breaker::OwnedBreakerPermit;
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
