//! Calls to external dependencies: `cx.dependency("payments").call(fut)`.
//!
//! Each call gets a client span (`peer.service`), is timed and counted per dependency, and is
//! guarded by the [`DependencyPolicy`] when one is configured (a breaker and a bulkhead per
//! dependency, shared by every execution). A rejection is immediate and does not run the call.
//! [`Dependency::call_retrying`] also applies the dependency's retry policy (a delay hint such
//! as HTTP `Retry-After` bounded by the policy's cap); [`Dependency::call_as`] lets a client
//! (the HTTP client) name the span and give it its own semantic conventions.
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

use std::borrow::Cow;
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

    /// The wait before retry number `retry` (1-based) of a call to `dependency` that failed
    /// with `error`, or `None` to give up. `previous` is the wait chosen before the previous
    /// retry. The default never retries.
    fn retry_delay(
        &self,
        dependency: &str,
        retry: u32,
        previous: Option<Duration>,
        error: &TaskError,
    ) -> Option<Duration> {
        let _ = (dependency, retry, previous, error);
        None
    }

    /// Told that a call made with [`Dependency::call_retrying`] starts (before its first
    /// attempt), so a retry budget can count calls. The default does nothing.
    fn call_started(&self, dependency: &str) {
        let _ = dependency;
    }

    /// After attempt `retry` (1-based) of a call to `dependency` failed with `error`,
    /// `elapsed` after the call started: `Ok(wait)` to retry after `wait`, or `Err` with the
    /// error the call ends with (`error`, or one saying why retrying stopped: a spent budget,
    /// a `Retry-After` past the policy's time limit). `previous` is the wait before the
    /// previous retry. The default asks [`DependencyPolicy::retry_delay`].
    fn next_retry(
        &self,
        cx: &TaskContext,
        dependency: &str,
        retry: u32,
        previous: Option<Duration>,
        elapsed: Duration,
        error: TaskError,
    ) -> Result<Duration, TaskError> {
        let _ = (cx, elapsed);
        match self.retry_delay(dependency, retry, previous, &error) {
            Some(wait) => Ok(wait),
            None => Err(error),
        }
    }
}

/// Permission to make one call; told how it went.
pub trait DependencyPermit: Send {
    /// Records the call's result (`None`: success) and its duration.
    fn record(self: Box<Self>, failure: Option<ErrorClass>, elapsed: Duration);
}

/// How a client describes its call's span: its name and attributes (the HTTP client's
/// `GET` with `http.request.method`, `url.full`, ...). Without one, the span is named after
/// the dependency.
#[derive(Debug, Clone, Default)]
pub struct CallSpan {
    /// The span name (empty: the dependency's name).
    pub name: Cow<'static, str>,
    /// Attributes known when the call starts (`peer.service` is added).
    pub attributes: Vec<KeyValue>,
    /// Whether the call sets `error.type` and the span status itself (through
    /// `Context::current().span()` while it runs); otherwise a failed call gets its error class.
    pub sets_error_type: bool,
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

    /// The dependency's name.
    pub fn name(&self) -> &'a str {
        self.name
    }

    /// Runs `fut` as a call to this dependency.
    pub async fn call<T, E, F>(self, fut: F) -> Result<T, TaskError>
    where
        F: Future<Output = Result<T, E>>,
        E: Into<TaskError>,
    {
        self.run(None, fut).await
    }

    /// Runs `fut` as a call to this dependency, with the span `span` describes.
    pub async fn call_as<T, E, F>(self, span: CallSpan, fut: F) -> Result<T, TaskError>
    where
        F: Future<Output = Result<T, E>>,
        E: Into<TaskError>,
    {
        self.run(Some(span), fut).await
    }

    /// Runs `attempt(n)` (n = 1, 2, ...) as calls to this dependency until one succeeds or the
    /// dependency's retry policy gives up, sleeping the policy's delay in between. Each attempt
    /// is a call of its own: its own span (`span(n)`), breaker permit and bulkhead slot. A
    /// rejection (breaker open, bulkhead full) is not retried. The policy sees each call start
    /// and the time since (its retry budget and `max_elapsed`: [`DependencyPolicy::next_retry`]).
    pub async fn call_retrying<T, S, A, F>(self, mut span: S, mut attempt: A) -> Result<T, TaskError>
    where
        S: FnMut(u32) -> CallSpan,
        A: FnMut(u32) -> F,
        F: Future<Output = Result<T, TaskError>>,
    {
        let policy = self.cx.dependency_policy();
        if let Some(p) = policy {
            p.call_started(self.name);
        }
        // tokio's clock, as the retry layer's: paused time drives both
        let start = tokio::time::Instant::now();
        let mut n = 1u32;
        let mut previous = None;
        loop {
            let err = match self.run(Some(span(n)), attempt(n)).await {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            let class = err.class();
            let delay = match (class, policy) {
                (ErrorClass::CircuitOpen | ErrorClass::BulkheadFull, _) | (_, None) => return Err(err),
                (_, Some(policy)) => policy.next_retry(self.cx, self.name, n, previous, start.elapsed(), err)?,
            };
            self.cx.span().add_event(
                semconv::event::RETRY,
                vec![
                    KeyValue::new(semconv::PEER_SERVICE, self.name.to_string()),
                    KeyValue::new(semconv::SERVICETASK_ATTEMPT, i64::from(n)),
                    KeyValue::new(semconv::ERROR_TYPE, class.as_str()),
                    KeyValue::new(semconv::SERVICETASK_RETRY_DELAY_MS, delay.as_millis() as i64),
                ],
            );
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            previous = Some(delay);
            n = n.saturating_add(1);
        }
    }

    async fn run<T, E, F>(self, call: Option<CallSpan>, fut: F) -> Result<T, TaskError>
    where
        F: Future<Output = Result<T, E>>,
        E: Into<TaskError>,
    {
        let track = self.cx.tracking().dependencies;
        let permit = match self.cx.dependency_policy() {
            Some(policy) => match policy.acquire(self.name, self.cx).await {
                Ok(p) => Some(p),
                Err(e) => {
                    // a rejection is a failed call of its own class (`circuit_open`, ...)
                    if track {
                        self.cx.stats().add_dependency_call(self.name, Some(e.class()), 0);
                    }
                    return Err(e);
                }
            },
            None => None,
        };
        let (span_name, attributes, caller_sets_error) = match call {
            // an unnamed span takes the dependency's name
            Some(c) => ((!c.name.is_empty()).then_some(c.name), c.attributes, c.sets_error_type),
            None => (None, Vec::new(), false),
        };
        let otel = self.cx.client_span(self.name, span_name, attributes);
        let start = Instant::now();
        let result = fut.with_context(otel.clone()).await.map_err(Into::into);
        let elapsed = start.elapsed();
        let failure = result.as_ref().err().map(TaskError::class);
        let span = otel.span();
        if let (Err(e), false) = (&result, caller_sets_error) {
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
                .add_dependency_call(self.name, failure, elapsed.as_nanos() as u64);
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
