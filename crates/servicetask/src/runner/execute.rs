//! One execution, end to end: the span, the pipeline, error enrichment, metrics and the record.
//!
//! This is the hot path of servicetask. Everything that can be computed once per task
//! (attribute sets, the span name, the pipeline) is computed at registration in
//! [`TaskHandle::new`]; an execution allocates its context, its span and little else.

use std::any::Any;
use std::borrow::Cow;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::time::{Instant, SystemTime};

use futures_util::FutureExt as _;
use opentelemetry::metrics::{BoundCounter, BoundHistogram, BoundUpDownCounter};
use opentelemetry::trace::{FutureExt as _, SpanKind, Status, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue};
use servicetask_core::layer::{AttemptResult, BoxFuture, FallbackValue, Invoke, Layer, Next, TaskValue};
use servicetask_core::record::{ExecutionRecord, OutcomeKind};
use servicetask_core::{
    semconv, ErrorClass, ProcessInfo, ServiceTask, TaskConfig, TaskContext, TaskError, TaskInput, TaskOutcome,
    TaskScope, TrackedPath,
};

use super::Shared;
use crate::telemetry::propagation;

/// Inspects an input's tracked paths before the task body runs; an `Err` fails the execution.
pub type PathInspector = Arc<dyn Fn(&TaskContext, &[TrackedPath]) -> Result<(), TaskError> + Send + Sync>;

/// Where an execution sits: its parent trace context and BPMN coordinates.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Parent context (default: the caller's current context).
    pub parent: Option<Context>,
    /// A W3C `traceparent` to continue when no parent is given.
    pub traceparent: Option<String>,
    /// BPMN coordinates.
    pub process: ProcessInfo,
    /// Process variables visible to the task through `cx.variables()`.
    pub variables: serde_json::Map<String, serde_json::Value>,
}

/// Instruments bound to this task's attribute sets: recording is one atomic operation. The
/// per-outcome ones are bound on first use, so an outcome that never happens exports no series.
struct BoundInstruments {
    in_flight: BoundUpDownCounter<i64>,
    complete: OnceLock<(BoundHistogram<f64>, BoundCounter<u64>)>,
    bpmn_error: OnceLock<(BoundHistogram<f64>, BoundCounter<u64>)>,
    /// The duration histogram's exemplars of this task, for a Prometheus scrape.
    exemplars: crate::telemetry::exemplars::TaskSlot,
}

impl BoundInstruments {
    fn outcome<'a>(
        slot: &'a OnceLock<(BoundHistogram<f64>, BoundCounter<u64>)>,
        instruments: &servicetask_core::Instruments,
        name: &KeyValue,
        outcome: OutcomeKind,
    ) -> &'a (BoundHistogram<f64>, BoundCounter<u64>) {
        slot.get_or_init(|| {
            let attrs = [
                name.clone(),
                KeyValue::new(semconv::SERVICETASK_OUTCOME, outcome.as_str()),
            ];
            (instruments.duration.bind(&attrs), instruments.executions.bind(&attrs))
        })
    }
}

struct HandleInner<T> {
    task: T,
    config: TaskConfig,
    span_name: &'static str,
    /// What every execution's context shares.
    scope: Arc<TaskScope>,
    bound: BoundInstruments,
    layers: Vec<Arc<dyn Layer>>,
    shared: Arc<Shared>,
    span_attributes: Vec<KeyValue>,
    name_attribute: KeyValue,
    #[cfg(feature = "analytics")]
    anomalies: Option<std::sync::Mutex<servicetask_analytics::anomaly::AnomalyMonitor>>,
}

/// A registered task: run it with [`TaskHandle::run`]. Cheap to clone.
pub struct TaskHandle<T> {
    inner: Arc<HandleInner<T>>,
}

impl<T> Clone for TaskHandle<T> {
    fn clone(&self) -> Self {
        TaskHandle {
            inner: self.inner.clone(),
        }
    }
}

impl<T> std::fmt::Debug for TaskHandle<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskHandle")
            .field("task", &self.inner.span_name)
            .finish_non_exhaustive()
    }
}

impl<T: ServiceTask> TaskHandle<T> {
    pub(crate) fn new(task: T, config: TaskConfig, layers: Vec<Arc<dyn Layer>>, shared: Arc<Shared>) -> Self {
        // Task names are few and live as long as the program: one leaked copy per registration
        // lets every span use a static name without allocating.
        let span_name: &'static str = Box::leak(config.name.clone().into_boxed_str());
        let name_kv = KeyValue::new(semconv::SERVICETASK_NAME, span_name);
        let mut span_attributes = vec![name_kv.clone()];
        for (k, v) in &config.attributes {
            span_attributes.push(KeyValue::new(k.clone(), v.clone()));
        }
        #[cfg(feature = "analytics")]
        let anomalies = shared
            .anomalies
            .clone()
            .map(|c| std::sync::Mutex::new(servicetask_analytics::anomaly::AnomalyMonitor::new(c)));
        let bound = BoundInstruments {
            in_flight: shared
                .telemetry
                .instruments()
                .in_flight
                .bind(std::slice::from_ref(&name_kv)),
            complete: OnceLock::new(),
            bpmn_error: OnceLock::new(),
            exemplars: Default::default(),
        };
        TaskHandle {
            inner: Arc::new(HandleInner {
                task,
                span_name,
                scope: Arc::new(TaskScope {
                    task: Arc::from(span_name),
                    telemetry: shared.telemetry.clone(),
                    tracking: config.tracking.clone(),
                    dependencies: shared.dependencies.clone(),
                }),
                bound,
                layers,
                shared,
                span_attributes,
                name_attribute: name_kv,
                #[cfg(feature = "analytics")]
                anomalies,
                config,
            }),
        }
    }

    /// The resolved configuration.
    pub fn config(&self) -> &TaskConfig {
        &self.inner.config
    }

    /// The task.
    pub fn task(&self) -> &T {
        &self.inner.task
    }

    /// Runs the task once (with its retries, timeouts... as configured) under the caller's
    /// current trace context.
    pub async fn run(&self, input: T::Input) -> TaskOutcome<T::Output> {
        self.execute(Ok(input), RunOptions::default()).await
    }

    /// Runs the task with explicit parent context and BPMN coordinates.
    pub async fn run_with(&self, input: T::Input, options: RunOptions) -> TaskOutcome<T::Output> {
        self.execute(Ok(input), options).await
    }

    /// Runs an execution whose input may already have failed to deserialise.
    pub(crate) async fn execute(
        &self,
        input: Result<T::Input, TaskError>,
        options: RunOptions,
    ) -> TaskOutcome<T::Output> {
        let inner = &*self.inner;
        let shared = &*inner.shared;
        let telemetry = &shared.telemetry;
        let instruments = telemetry.instruments();
        #[cfg(feature = "analytics")]
        let wants_record = shared.sink.is_some() || inner.anomalies.is_some();
        #[cfg(not(feature = "analytics"))]
        let wants_record = shared.sink.is_some();
        let started_wall = wants_record.then(SystemTime::now);
        // the duration feeds the metrics and the record; with neither, no clock is read
        let start = (wants_record || telemetry.metrics_enabled()).then(Instant::now);

        // (with neither a parent nor a traceparent, the caller's current context is already
        // current while the task is polled: nothing needs attaching unless a span is built)
        let inherited = options.parent.is_none() && options.traceparent.is_none();
        let parent = match (options.parent, &options.traceparent) {
            (Some(p), _) => p,
            (None, Some(tp)) => propagation::extract_traceparent(tp).unwrap_or_else(Context::current),
            (None, None) => Context::current(),
        };
        let input_size = input.as_ref().ok().and_then(TaskInput::input_size);
        let traced = telemetry.traces_enabled();
        let otel = if traced {
            let mut attributes = Vec::with_capacity(inner.span_attributes.len() + 5);
            attributes.extend_from_slice(&inner.span_attributes);
            push_process_attributes(&mut attributes, &options.process);
            if let Some(n) = input_size {
                attributes.push(KeyValue::new(semconv::SERVICETASK_INPUT_SIZE, n as i64));
            }
            let tracer = telemetry.tracer();
            let span = tracer
                .span_builder(Cow::Borrowed(inner.span_name))
                .with_kind(SpanKind::Internal)
                .with_attributes(attributes)
                .start_with_context(tracer, &parent);
            parent.with_span(span)
        } else {
            // No span is built; the execution still runs in its caller's context (the trace
            // propagates), and `cx.span()` writes nowhere.
            parent
        };
        inner.bound.in_flight.add(1);

        let cx = TaskContext::in_scope(inner.scope.clone(), otel.clone(), options.process, options.variables);

        // The context current while the task runs: the task span's; without one, the caller's
        // (baggage and trace still propagate) with a non-recording stand-in for the span when
        // the caller has one, so task code writing to "the current span" reaches no one else's.
        let stand_in;
        let current = match (traced, otel.span().span_context().is_valid()) {
            (true, _) => Some(&otel),
            (false, true) => {
                stand_in = otel.with_remote_span_context(otel.span().span_context().clone());
                Some(&stand_in)
            }
            (false, false) => (!inherited).then_some(&otel),
        };
        let mut context_fields = None;
        // (awaited here rather than in a nested block: one future fewer to build and move)
        let result: Result<T::Output, TaskError> = match self.admit(input, &cx) {
            Err(e) => Err(e),
            Ok(input) => {
                let result = if inner.layers.is_empty() {
                    // Nothing between the runner and the task: call it in place, with no boxed
                    // future and no type-erased value in between.
                    in_context(run_in_place(&inner.task, &cx, &input), current).await
                } else {
                    let invoke = Attempt {
                        task: &inner.task,
                        input: &input,
                    };
                    in_context(Next::new(&inner.layers, &invoke).run(&cx), current)
                        .await
                        .and_then(into_output::<T::Output>)
                };
                if result.is_err() {
                    context_fields = input.context_fields();
                }
                result
            }
        };

        let elapsed = start.map(|s| s.elapsed()).unwrap_or_default();
        let span = cx.span();
        let stats = cx.stats();
        let attempts = stats.attempts.load(Ordering::Relaxed).max(1);
        record_resource_attributes(&cx);
        let outcome = TaskOutcome::from_result(result, 0, None);
        if traced {
            annotate_span(&span, &outcome, attempts);
        }
        let (kind, error_class) = match &outcome {
            TaskOutcome::Complete(_) => (OutcomeKind::Complete, None),
            TaskOutcome::BpmnError { .. } => (OutcomeKind::BpmnError, Some(ErrorClass::Business)),
            TaskOutcome::Failure { error, .. } => (OutcomeKind::Failure, Some(error.class())),
        };
        if telemetry.metrics_enabled() {
            let seconds = elapsed.as_secs_f64();
            let bound = match kind {
                OutcomeKind::Complete => Some(&inner.bound.complete),
                OutcomeKind::BpmnError => Some(&inner.bound.bpmn_error),
                OutcomeKind::Failure => None,
            };
            match bound {
                Some(slot) => {
                    let (duration, count) = BoundInstruments::outcome(slot, instruments, &inner.name_attribute, kind);
                    duration.record(seconds);
                    count.add(1);
                }
                // failures are labelled by class too: not bound
                None => {
                    let class = error_class.map_or("", ErrorClass::as_str);
                    let attrs = [
                        inner.name_attribute.clone(),
                        KeyValue::new(semconv::SERVICETASK_OUTCOME, OutcomeKind::Failure.as_str()),
                        KeyValue::new(semconv::ERROR_TYPE, class),
                    ];
                    instruments.duration.record(seconds, &attrs);
                    instruments.executions.add(1, &attrs);
                }
            }
            let class = error_class.filter(|_| kind == OutcomeKind::Failure);
            inner.bound.exemplars.offer(
                inner.span_name,
                kind.as_str(),
                class.map_or("", ErrorClass::as_str),
                seconds,
                otel.span().span_context(),
                || started_wall.map_or_else(SystemTime::now, |s| s + elapsed),
            );
        }
        inner.bound.in_flight.add(-1);
        // the task span's trace, or the caller's when no span was built
        let trace = otel.span().span_context().clone();
        let trace_id = trace.is_valid().then(|| trace.trace_id());
        let record = started_wall.map(|started_wall| {
            let mut r = ExecutionRecord::new(
                inner.span_name,
                started_wall
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as i64)
                    .unwrap_or(0),
                elapsed.as_nanos() as u64,
                kind,
            );
            r.error_class = error_class.map(|c| c.as_str().to_string());
            r.input_size = input_size;
            r.cpu_ns = stats
                .cpu_measured
                .load(Ordering::Relaxed)
                .then(|| stats.cpu_ns.load(Ordering::Relaxed));
            r.mem_peak_bytes = stats
                .mem_measured
                .load(Ordering::Relaxed)
                .then(|| stats.mem_peak.load(Ordering::Relaxed));
            r.bytes_read = stats.bytes_read.load(Ordering::Relaxed);
            r.bytes_written = stats.bytes_written.load(Ordering::Relaxed);
            r.attempts = attempts;
            r.fallback_used = stats.fallback_used.load(Ordering::Relaxed);
            r.trace_id = trace_id.map(|t| t.to_string());
            let p = cx.process();
            r.process_id = p.process_id.as_deref().map(str::to_string);
            r.process_instance_id = p.instance_id.as_deref().map(str::to_string);
            r.element_id = p.element_id.as_deref().map(str::to_string);
            r.files = stats.files();
            r.dependencies = stats.dependencies();
            r
        });
        #[cfg(feature = "analytics")]
        let record = record.map(|mut r| {
            if let Some(monitor) = &inner.anomalies {
                let found = monitor.lock().unwrap_or_else(|p| p.into_inner()).observe(&r);
                for a in &found {
                    span.add_event(
                        semconv::event::ANOMALY,
                        vec![
                            KeyValue::new(semconv::SERVICETASK_ANOMALY_METRIC, a.metric.as_str()),
                            KeyValue::new(semconv::SERVICETASK_ANOMALY_SCORE, a.score),
                        ],
                    );
                    instruments.anomalies.add(
                        1,
                        &[
                            inner.name_attribute.clone(),
                            KeyValue::new(semconv::SERVICETASK_ANOMALY_METRIC, a.metric.as_str()),
                        ],
                    );
                }
                r.anomaly = !found.is_empty();
            }
            r
        });
        if traced {
            // (an untraced execution's span is a no-op: nothing to end, and ending it would
            // still read the clock)
            span.end();
        }

        let outcome = match outcome {
            TaskOutcome::Failure {
                mut error,
                retries_left,
                retry_backoff,
            } => {
                enrich(
                    &mut error,
                    &cx,
                    attempts,
                    trace_id.map(|t| t.to_string()),
                    context_fields,
                );
                let backoff = retry_backoff.or_else(|| (retries_left > 0).then(|| error.retry_after()).flatten());
                TaskOutcome::Failure {
                    error,
                    retries_left,
                    retry_backoff: backoff,
                }
            }
            other => other,
        };

        if let (Some(sink), Some(r)) = (&shared.sink, record) {
            sink.record(r);
        }
        outcome
    }
}

/// Writes an execution's outcome on its span: `servicetask.outcome`, the attempts when there
/// were retries, a BPMN error's code, or a failure's class, retries left, status and (for a
/// panic) an exception event.
fn annotate_span<O>(span: &opentelemetry::trace::SpanRef<'_>, outcome: &TaskOutcome<O>, attempts: u32) {
    if attempts > 1 {
        span.set_attribute(KeyValue::new(semconv::SERVICETASK_ATTEMPTS, attempts as i64));
    }
    match outcome {
        TaskOutcome::Complete(_) => {
            span.set_attribute(KeyValue::new(
                semconv::SERVICETASK_OUTCOME,
                OutcomeKind::Complete.as_str(),
            ));
        }
        TaskOutcome::BpmnError { code, .. } => {
            span.set_attribute(KeyValue::new(
                semconv::SERVICETASK_OUTCOME,
                OutcomeKind::BpmnError.as_str(),
            ));
            span.set_attribute(KeyValue::new(semconv::BPMN_ERROR_CODE, code.clone()));
        }
        TaskOutcome::Failure {
            error, retries_left, ..
        } => {
            span.set_attribute(KeyValue::new(
                semconv::SERVICETASK_OUTCOME,
                OutcomeKind::Failure.as_str(),
            ));
            span.set_attribute(KeyValue::new(semconv::ERROR_TYPE, error.class().as_str()));
            if *retries_left > 0 {
                span.set_attribute(KeyValue::new(semconv::SERVICETASK_RETRIES_LEFT, *retries_left as i64));
            }
            if error.class() == ErrorClass::Panic {
                span.add_event(
                    semconv::event::EXCEPTION,
                    vec![
                        KeyValue::new(semconv::EXCEPTION_TYPE, "panic"),
                        KeyValue::new(semconv::EXCEPTION_MESSAGE, error.message().to_string()),
                    ],
                );
            }
            span.set_status(Status::error(error.message().to_string()));
        }
    }
}

/// Polls `fut` with `current` as the current context, if given (else in the caller's).
async fn in_context<F: Future>(fut: F, current: Option<&Context>) -> F::Output {
    match current {
        Some(cx) => fut.with_context(cx.clone()).await,
        None => fut.await,
    }
}

/// One call of a task with no layers around it, panics caught (what [`Attempt`] does, unboxed).
async fn run_in_place<T: ServiceTask>(task: &T, cx: &TaskContext, input: &T::Input) -> Result<T::Output, TaskError> {
    match std::panic::catch_unwind(AssertUnwindSafe(|| task.run(cx, input.clone()))) {
        Ok(fut) => match AssertUnwindSafe(fut).catch_unwind().await {
            Ok(result) => result,
            Err(payload) => Err(panic_error(payload)),
        },
        Err(payload) => Err(panic_error(payload)),
    }
}

impl<T: ServiceTask> TaskHandle<T> {
    /// What runs before the task: the input deserialised, validated, and its tracked paths
    /// inspected. An error here fails the execution without running the task.
    fn admit(&self, input: Result<T::Input, TaskError>, cx: &TaskContext) -> Result<T::Input, TaskError> {
        let inner = &*self.inner;
        let input = input?;
        input.validate().map_err(as_validation)?;
        let inspect = inner
            .shared
            .inspect_paths
            .as_ref()
            .filter(|_| inner.config.tracking.files);
        // (an input without path fields, or without sensitive ones and inspection off, skips this)
        if inspect.is_some() || <T::Input as TaskInput>::HAS_SENSITIVE_PATHS {
            let paths = input.tracked_paths();
            if <T::Input as TaskInput>::HAS_SENSITIVE_PATHS {
                let sensitive = paths.iter().filter(|p| p.sensitive);
                cx.set_sensitive_paths(sensitive.map(|p| (p.field, p.path.clone())).collect());
            }
            if let (Some(inspect), false) = (inspect, paths.is_empty()) {
                inspect(cx, &paths)?;
            }
        }
        Ok(input)
    }
}

/// The bottom of the pipeline: one call of the task, panics caught.
struct Attempt<'t, T: ServiceTask> {
    task: &'t T,
    input: &'t T::Input,
}

impl<T: ServiceTask> Invoke for Attempt<'_, T> {
    fn invoke<'a>(&'a self, cx: &'a TaskContext) -> BoxFuture<'a, AttemptResult> {
        let input = self.input.clone();
        match std::panic::catch_unwind(AssertUnwindSafe(|| self.task.run(cx, input))) {
            Ok(fut) => Box::pin(run_caught(fut)),
            Err(payload) => Box::pin(std::future::ready(Err(panic_error(payload)))),
        }
    }
}

async fn run_caught<F, O>(fut: F) -> AttemptResult
where
    F: Future<Output = Result<O, TaskError>> + Send,
    O: Send + 'static,
{
    match AssertUnwindSafe(fut).catch_unwind().await {
        Ok(Ok(v)) => Ok(Box::new(v) as TaskValue),
        Ok(Err(e)) => Err(e),
        Err(payload) => Err(panic_error(payload)),
    }
}

/// A caught panic as an error: classified by [`crate::panic::classify`], its payload dropped
/// here (it may hold input: `panic!("{input:?}")`, an `unwrap` of an error naming a value).
fn panic_error(payload: Box<dyn Any + Send>) -> TaskError {
    let kind = crate::panic::classify(payload.as_ref());
    TaskError::new(
        ErrorClass::Panic,
        format!("task panicked: {kind} (the panic message is not recorded: it may hold input)"),
    )
    .with_suggestion("find the panic by its kind and the task's code; run the task in a test to see the message")
}

fn as_validation(e: TaskError) -> TaskError {
    if e.class() == ErrorClass::Validation {
        e
    } else {
        TaskError::validation(e.message().to_string()).with_source(e)
    }
}

fn into_output<O: serde::de::DeserializeOwned + 'static>(value: TaskValue) -> Result<O, TaskError> {
    match value.downcast::<O>() {
        Ok(v) => Ok(*v),
        Err(other) => match other.downcast::<FallbackValue>() {
            Ok(fb) => serde_json::from_value(fb.0).map_err(|e| {
                TaskError::internal(format!(
                    "the configured fallback value does not fit the task's output: {e}"
                ))
                .with_suggestion("change the fallback value in the configuration to match the output schema")
            }),
            Err(_) => Err(TaskError::internal(
                "a pipeline layer returned a value of the wrong type",
            )),
        },
    }
}

fn push_process_attributes(attributes: &mut Vec<KeyValue>, p: &ProcessInfo) {
    if let Some(v) = &p.process_id {
        attributes.push(KeyValue::new(semconv::BPMN_PROCESS_ID, v.clone()));
    }
    if let Some(v) = &p.instance_id {
        attributes.push(KeyValue::new(semconv::BPMN_PROCESS_INSTANCE_ID, v.clone()));
    }
    if let Some(v) = &p.element_id {
        attributes.push(KeyValue::new(semconv::BPMN_ELEMENT_ID, v.clone()));
    }
    if let Some(v) = &p.element_type {
        attributes.push(KeyValue::new(semconv::BPMN_ELEMENT_TYPE, v.clone()));
    }
}

/// Copies what tracking measured onto the span (only figures that were measured and are not
/// zero, to keep spans of trivial tasks small) and records the per-execution memory metric.
/// The CPU-time counter is recorded by the tracking layer itself, per attempt.
fn record_resource_attributes(cx: &TaskContext) {
    let s = cx.stats();
    let span = cx.span();
    if s.cpu_measured.load(Ordering::Relaxed) {
        let ns = s.cpu_ns.load(Ordering::Relaxed);
        span.set_attribute(KeyValue::new(semconv::SERVICETASK_CPU_TIME_NS, ns as i64));
    }
    if s.mem_measured.load(Ordering::Relaxed) {
        let process = s.mem_process_wide.load(Ordering::Relaxed);
        span.set_attribute(KeyValue::new(
            semconv::SERVICETASK_MEMORY_PEAK_BYTES,
            s.mem_peak.load(Ordering::Relaxed) as i64,
        ));
        span.set_attribute(KeyValue::new(
            semconv::SERVICETASK_MEMORY_SCOPE,
            if process { "process" } else { "execution" },
        ));
        if !process {
            span.set_attribute(KeyValue::new(
                semconv::SERVICETASK_MEMORY_ALLOCATED_BYTES,
                s.mem_allocated.load(Ordering::Relaxed) as i64,
            ));
        }
        #[cfg(feature = "tracking")]
        servicetask_tracking::record_execution_metrics(cx);
    }
    let read = s.bytes_read.load(Ordering::Relaxed);
    let written = s.bytes_written.load(Ordering::Relaxed);
    if read > 0 {
        span.set_attribute(KeyValue::new(semconv::SERVICETASK_IO_READ_BYTES, read as i64));
    }
    if written > 0 {
        span.set_attribute(KeyValue::new(semconv::SERVICETASK_IO_WRITE_BYTES, written as i64));
    }
    // network bytes join CPU, memory and disk among the execution's resource figures
    let sent = s.net_bytes_sent.load(Ordering::Relaxed);
    let received = s.net_bytes_received.load(Ordering::Relaxed);
    if sent > 0 || received > 0 {
        span.set_attribute(KeyValue::new(semconv::SERVICETASK_NETWORK_SENT_BYTES, sent as i64));
        span.set_attribute(KeyValue::new(
            semconv::SERVICETASK_NETWORK_RECEIVED_BYTES,
            received as i64,
        ));
    }
    let events = s.file_events.load(Ordering::Relaxed);
    if events > 0 {
        let mut paths: Vec<String> = s.files().into_iter().map(|f| f.path).collect();
        paths.sort();
        paths.dedup();
        span.set_attribute(KeyValue::new(semconv::SERVICETASK_FILES_COUNT, paths.len() as i64));
        let dropped = s.file_events_dropped.load(Ordering::Relaxed);
        if dropped > 0 {
            span.set_attribute(KeyValue::new(semconv::SERVICETASK_FILES_EVENTS_DROPPED, dropped as i64));
        }
    }
}

fn enrich(
    error: &mut TaskError,
    cx: &TaskContext,
    attempts: u32,
    trace_id: Option<String>,
    input: Option<serde_json::Value>,
) {
    let p = cx.process();
    let task = cx.task_name().to_string();
    let c = error.context_mut();
    c.task.get_or_insert(task);
    c.attempt.get_or_insert(attempts);
    if c.process_id.is_none() {
        c.process_id = p.process_id.as_deref().map(str::to_string);
    }
    if c.process_instance_id.is_none() {
        c.process_instance_id = p.instance_id.as_deref().map(str::to_string);
    }
    if c.element_id.is_none() {
        c.element_id = p.element_id.as_deref().map(str::to_string);
    }
    if c.trace_id.is_none() {
        c.trace_id = trace_id;
    }
    if c.input.is_none() {
        c.input = input;
    }
}
