//! Calls to external dependencies: `cx.dependency("payments").call(fut)`.
//!
//! Each call gets a client span (`peer.service`), is timed and counted per dependency, and is
//! guarded by the [`DependencyPolicy`] when one is configured (a breaker and a bulkhead per
//! dependency, shared by every execution). A rejection is immediate and does not run the call.
//!
//! ```
//! use servicetask_core::{TaskContext, TaskError};
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let cx = TaskContext::detached("demo");
//! let v = cx.dependency("payments").call(async { Ok::<_, TaskError>(7) }).await.unwrap();
//! assert_eq!(v, 7);
//! assert_eq!(cx.stats().dependencies()[0].calls, 1);
//! # });
//! ```

use std::future::Future;
use std::time::{Duration, Instant};

use opentelemetry::trace::{FutureExt as _, Status, TraceContextExt};
use opentelemetry::KeyValue;

use crate::context::TaskContext;
use crate::error::{ErrorClass, TaskError};
use crate::semconv;

/// Admission control for dependency calls (implemented by the resilience crate).
pub trait DependencyPolicy: Send + Sync + 'static {
    /// Asks to call `dependency`; an `Err` is a rejection (breaker open, bulkhead full after its
    /// bounded wait). Asynchronous so a bulkhead can wait for a slot.
    fn acquire<'a>(
        &'a self,
        dependency: &'a str,
        cx: &'a TaskContext,
    ) -> crate::layer::BoxFuture<'a, Result<Box<dyn DependencyPermit>, TaskError>>;
}

/// Permission to make one call; told how it went.
pub trait DependencyPermit: Send {
    /// Records the call's result (`None`: success) and its duration.
    fn record(self: Box<Self>, failure: Option<ErrorClass>, elapsed: Duration);
}

/// A named dependency of the current execution.
#[derive(Debug, Clone, Copy)]
pub struct Dependency<'a> {
    cx: &'a TaskContext,
    name: &'a str,
}

impl<'a> Dependency<'a> {
    pub(crate) fn new(cx: &'a TaskContext, name: &'a str) -> Self {
        Dependency { cx, name }
    }

    /// Runs `fut` as a call to this dependency.
    pub async fn call<T, E, F>(self, fut: F) -> Result<T, TaskError>
    where
        F: Future<Output = Result<T, E>>,
        E: Into<TaskError>,
    {
        let permit = match self.cx.dependency_policy() {
            Some(policy) => Some(policy.acquire(self.name, self.cx).await?),
            None => None,
        };
        let track = self.cx.tracking().dependencies;
        let otel = self.cx.client_span(self.name);
        let start = Instant::now();
        let result = fut.with_context(otel.clone()).await.map_err(Into::into);
        let elapsed = start.elapsed();
        let failure = result.as_ref().err().map(TaskError::class);
        let span = otel.span();
        if let Err(e) = &result {
            span.set_attribute(KeyValue::new(semconv::ERROR_TYPE, e.class().as_str()));
            span.set_status(Status::error(e.message().to_string()));
        }
        span.end();
        if let Some(p) = permit {
            p.record(failure, elapsed);
        }
        if track {
            self.cx
                .stats()
                .add_dependency_call(self.name, failure.is_some(), elapsed.as_nanos() as u64);
            let outcome = if failure.is_some() { "failure" } else { "success" };
            let attrs = [
                KeyValue::new(semconv::PEER_SERVICE, self.name.to_string()),
                KeyValue::new(semconv::SERVICETASK_OUTCOME, outcome),
            ];
            let i = self.cx.telemetry().instruments();
            i.dependency_calls.add(1, &attrs);
            i.dependency_duration.record(elapsed.as_secs_f64(), &attrs);
        }
        result
    }
}
