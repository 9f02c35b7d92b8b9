//! [`BreakerLayer`]: guards each attempt with a shared [`CircuitBreaker`].

use std::sync::Arc;

use servicetask_core::layer::{AttemptResult, BoxFuture, Layer, Next};
use servicetask_core::TaskContext;

use super::CircuitBreaker;
use crate::telemetry::{record_rejection, RejectionReason};

/// Asks the breaker before each attempt; records the attempt's class and duration after it.
/// A rejection fails at once with class `circuit_open` (see the [module docs](crate::breaker)).
#[derive(Debug, Clone)]
pub struct BreakerLayer {
    breaker: Arc<CircuitBreaker>,
}

impl BreakerLayer {
    /// A layer over `breaker` (shared: usually from [`crate::Resilience::task_breaker`]).
    pub fn new(breaker: Arc<CircuitBreaker>) -> Self {
        BreakerLayer { breaker }
    }

    /// The breaker.
    pub fn get_ref(&self) -> &Arc<CircuitBreaker> {
        &self.breaker
    }
}

impl Layer for BreakerLayer {
    fn call<'a>(&'a self, cx: &'a TaskContext, next: Next<'a>) -> BoxFuture<'a, AttemptResult> {
        Box::pin(async move {
            let permit = match self.breaker.acquire(Some(cx)) {
                Ok(p) => p,
                Err(e) => {
                    record_rejection(cx, RejectionReason::BreakerOpen, Some(self.breaker.name()));
                    return Err(e.into_task_error());
                }
            };
            let clock = self.breaker.clock();
            let start = clock.now();
            let result = next.run(cx).await;
            let elapsed = clock.now().saturating_duration_since(start);
            permit.record(result.as_ref().err().map(|e| e.class()), elapsed);
            result
        })
    }
}
