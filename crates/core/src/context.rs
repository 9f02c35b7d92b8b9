//! [`TaskContext`], the `cx` handed to a task: the one door from task code to the framework.
//!
//! It gives child steps (`cx.step`), tracked file I/O (`cx.fs()`), dependency calls with their
//! own client span and breaker (`cx.dependency(name).call(fut)`), custom metrics
//! (`cx.metrics()`), BPMN errors (`cx.bpmn_error`), process variables, the attempt number and
//! the execution's statistics. It is cheap to clone (one `Arc`).
//!
//! ```
//! use servicetask_core::{TaskContext, TaskError};
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let cx = TaskContext::detached("demo");
//! let n = cx.step("parse", async { Ok::<_, TaskError>(42) }).await.unwrap();
//! assert_eq!(n, 42);
//! assert_eq!(cx.attempt(), 1);
//! # });
//! ```

use std::borrow::Cow;
use std::fmt::Display;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use opentelemetry::trace::{FutureExt as _, SpanKind, Status, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue};

use crate::config::TrackingConfig;
use crate::dependency::{Dependency, DependencyPolicy};
use crate::error::{ErrorClass, TaskError};
use crate::fs::TrackedFs;
use crate::record::{DependencyUse, FileAccess, FileAccessKind};
use crate::telemetry::{TaskMetrics, Telemetry};

/// BPMN coordinates of an execution started by an engine.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcessInfo {
    /// Process definition id.
    pub process_id: Option<Arc<str>>,
    /// Process instance id.
    pub instance_id: Option<Arc<str>>,
    /// Element id of the service task.
    pub element_id: Option<Arc<str>>,
    /// Element type (`serviceTask`, `sendTask`, ...).
    pub element_type: Option<Cow<'static, str>>,
    /// The same for every attempt of this execution and different for any other, when the
    /// host runs it as a durable job (see [`TaskContext::idempotency_key`]).
    pub idempotency_key: Option<Arc<str>>,
}

/// Counters filled during an execution by tracking and tracked I/O.
#[derive(Debug, Default)]
pub struct ExecutionStats {
    /// Bytes read through tracked I/O.
    pub bytes_read: AtomicU64,
    /// Bytes written through tracked I/O.
    pub bytes_written: AtomicU64,
    /// CPU nanoseconds over the polls of the task future.
    pub cpu_ns: AtomicU64,
    /// Whether CPU was measured at all.
    pub cpu_measured: AtomicBool,
    /// Bytes allocated (counting allocator).
    pub mem_allocated: AtomicU64,
    /// Peak live bytes (counting allocator) or process RSS.
    pub mem_peak: AtomicU64,
    /// Whether memory was measured at all.
    pub mem_measured: AtomicBool,
    /// Block I/O bytes read, from the OS per-thread counters.
    pub disk_read_bytes: AtomicU64,
    /// Block I/O bytes written, from the OS per-thread counters.
    pub disk_write_bytes: AtomicU64,
    /// Attempts made.
    pub attempts: AtomicU32,
    /// Whether a fallback answered.
    pub fallback_used: AtomicBool,
    /// File events recorded on the span.
    pub file_events: AtomicU32,
    /// File events left off the span because of the cap.
    pub file_events_dropped: AtomicU32,
    /// User CPU as the OS samples it per thread (tick-sampled, so it need not add up to
    /// `cpu_ns`; `servicetask_tracking::cpu_split` scales it); 0 when not measured.
    pub cpu_user_ns: AtomicU64,
    /// System CPU as the OS samples it per thread (see `cpu_user_ns`); 0 when not measured.
    pub cpu_system_ns: AtomicU64,
    /// Bytes freed (counting allocator).
    pub mem_freed: AtomicU64,
    /// Live bytes now (counting allocator): allocated minus freed; negative when the execution
    /// freed memory allocated before it or by another execution.
    pub mem_live: AtomicI64,
    /// Whether `mem_peak` is the process RSS (process-wide, not per execution).
    pub mem_process_wide: AtomicBool,
    /// Process RSS at the start of the execution, bytes (0 when not read).
    pub rss_start_bytes: AtomicU64,
    /// Process RSS at the end of the execution, bytes (0 when not read).
    pub rss_end_bytes: AtomicU64,
    /// Whether `disk_read_bytes`/`disk_write_bytes` were measured at all.
    pub disk_measured: AtomicBool,
    /// Network bytes sent (request bodies through the HTTP client).
    pub net_bytes_sent: AtomicU64,
    /// Network bytes received (response bodies through the HTTP client).
    pub net_bytes_received: AtomicU64,
    files: Mutex<FileTable>,
    dependencies: Mutex<Vec<DependencyUse>>,
}

impl ExecutionStats {
    /// Adds one file operation to the per-file totals.
    pub fn add_file(&self, path: &str, kind: FileAccessKind, bytes: u64, file_size: Option<u64>) {
        match kind {
            FileAccessKind::Read => self.bytes_read.fetch_add(bytes, Ordering::Relaxed),
            FileAccessKind::Write => self.bytes_written.fetch_add(bytes, Ordering::Relaxed),
            FileAccessKind::Meta => 0,
        };
        let mut files = self.files.lock().unwrap_or_else(|p| p.into_inner());
        let FileTable { list, index } = &mut *files;
        let slot = match kind {
            FileAccessKind::Read => 0,
            FileAccessKind::Write => 1,
            FileAccessKind::Meta => 2,
        };
        match index.get(path).and_then(|slots| slots[slot]) {
            Some(i) => {
                let f = &mut list[i];
                f.bytes += bytes;
                f.ops += 1;
                if file_size.is_some() {
                    f.file_size = file_size;
                }
            }
            None => {
                index.entry(path.to_string()).or_default()[slot] = Some(list.len());
                list.push(FileAccess {
                    path: path.to_string(),
                    kind,
                    bytes,
                    ops: 1,
                    file_size,
                });
            }
        }
    }

    /// Runs `f` on the totals of dependency `name`, adding them on first use.
    fn with_dependency(&self, name: &str, f: impl FnOnce(&mut DependencyUse)) {
        let mut deps = self.dependencies.lock().unwrap_or_else(|p| p.into_inner());
        match deps.iter_mut().find(|d| d.name == name) {
            Some(d) => f(d),
            None => {
                let mut d = DependencyUse::named(name);
                f(&mut d);
                deps.push(d);
            }
        }
    }

    /// Adds one dependency call to the per-dependency totals (`failure`: its error class).
    pub fn add_dependency_call(&self, name: &str, failure: Option<ErrorClass>, elapsed_ns: u64) {
        self.with_dependency(name, |d| {
            d.calls += 1;
            d.total_ns += elapsed_ns;
            if let Some(class) = failure {
                d.failures += 1;
                *d.errors.entry(class.as_str().to_string()).or_default() += 1;
            }
        });
    }

    /// Adds body bytes sent and received by a call to dependency `name`, to its totals and to
    /// the execution's network figures.
    pub fn add_dependency_bytes(&self, name: &str, sent: u64, received: u64) {
        self.net_bytes_sent.fetch_add(sent, Ordering::Relaxed);
        self.net_bytes_received.fetch_add(received, Ordering::Relaxed);
        self.with_dependency(name, |d| {
            d.bytes_sent += sent;
            d.bytes_received += received;
        });
    }

    /// Per-file totals so far.
    pub fn files(&self) -> Vec<FileAccess> {
        self.files.lock().unwrap_or_else(|p| p.into_inner()).list.clone()
    }

    /// Per-dependency totals so far.
    pub fn dependencies(&self) -> Vec<DependencyUse> {
        self.dependencies.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// Per-file totals in first-seen order, indexed by path (one slot per access kind) so that an
/// execution touching many files stays linear.
#[derive(Debug, Default)]
struct FileTable {
    list: Vec<FileAccess>,
    index: std::collections::HashMap<String, [Option<usize>; 3]>,
}

struct Inner {
    scope: Arc<TaskScope>,
    attempt: AtomicU32,
    otel: Context,
    process: ProcessInfo,
    variables: serde_json::Map<String, serde_json::Value>,
    stats: ExecutionStats,
    /// Paths of `#[task(path, sensitive)]` fields, with their field: shown redacted wherever
    /// this execution records a path. Set only for inputs that have such fields.
    sensitive_paths: std::sync::OnceLock<Vec<(&'static str, std::path::PathBuf)>>,
}

/// What every execution of one registered task shares: built once per task, so a context
/// takes one shared pointer where it would otherwise clone four.
pub struct TaskScope {
    /// Task name.
    pub task: Arc<str>,
    /// Shared telemetry.
    pub telemetry: Arc<Telemetry>,
    /// Tracking switches.
    pub tracking: TrackingConfig,
    /// Breakers and bulkheads for dependencies, if configured.
    pub dependencies: Option<Arc<dyn DependencyPolicy>>,
}

impl std::fmt::Debug for TaskScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskScope")
            .field("task", &self.task)
            .finish_non_exhaustive()
    }
}

/// The span of an execution whose telemetry is disabled: writes go nowhere.
fn untraced() -> &'static Context {
    static UNTRACED: std::sync::OnceLock<Context> = std::sync::OnceLock::new();
    UNTRACED.get_or_init(|| Context::new().with_span(opentelemetry::trace::noop::NoopSpan::DEFAULT))
}

/// The execution context handed to a task (`cx`).
#[derive(Clone)]
pub struct TaskContext {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for TaskContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskContext")
            .field("task", &self.inner.scope.task)
            .field("attempt", &self.attempt())
            .field("process", &self.inner.process)
            .finish_non_exhaustive()
    }
}

/// Everything needed to build a [`TaskContext`]; the runner fills it.
pub struct ContextParts {
    /// Task name.
    pub task: Arc<str>,
    /// The OpenTelemetry context holding the execution span.
    pub otel: Context,
    /// Shared telemetry.
    pub telemetry: Arc<Telemetry>,
    /// BPMN coordinates.
    pub process: ProcessInfo,
    /// Process variables visible to the task.
    pub variables: serde_json::Map<String, serde_json::Value>,
    /// Tracking switches.
    pub tracking: TrackingConfig,
    /// Breakers and bulkheads for dependencies, if configured.
    pub dependencies: Option<Arc<dyn DependencyPolicy>>,
}

impl TaskContext {
    /// Builds a context (used by the runner).
    pub fn new(parts: ContextParts) -> Self {
        let scope = Arc::new(TaskScope {
            task: parts.task,
            telemetry: parts.telemetry,
            tracking: parts.tracking,
            dependencies: parts.dependencies,
        });
        Self::in_scope(scope, parts.otel, parts.process, parts.variables)
    }

    /// Builds a context for one execution of the task `scope` describes (what the runner does
    /// on its hot path). `otel` holds the execution span; with the scope's telemetry disabled it
    /// is the caller's context, and [`TaskContext::span`] writes nowhere.
    pub fn in_scope(
        scope: Arc<TaskScope>,
        otel: Context,
        process: ProcessInfo,
        variables: serde_json::Map<String, serde_json::Value>,
    ) -> Self {
        TaskContext {
            inner: Arc::new(Inner {
                scope,
                attempt: AtomicU32::new(1),
                otel,
                process,
                variables,
                stats: ExecutionStats::default(),
                sensitive_paths: std::sync::OnceLock::new(),
            }),
        }
    }

    /// A context outside any runner, with telemetry disabled (for unit tests of task logic).
    pub fn detached(task: &str) -> Self {
        TaskContext::new(ContextParts {
            task: Arc::from(task),
            otel: Context::new(),
            telemetry: Telemetry::disabled(),
            process: ProcessInfo::default(),
            variables: serde_json::Map::new(),
            tracking: TrackingConfig::default(),
            dependencies: None,
        })
    }

    /// The task name.
    pub fn task_name(&self) -> &str {
        &self.inner.scope.task
    }

    /// The 1-based attempt number.
    pub fn attempt(&self) -> u32 {
        self.inner.attempt.load(Ordering::Relaxed)
    }

    /// Sets the attempt number (used by the retry layer).
    pub fn set_attempt(&self, attempt: u32) {
        self.inner.attempt.store(attempt, Ordering::Relaxed);
        self.inner.stats.attempts.fetch_max(attempt, Ordering::Relaxed);
    }

    /// The OpenTelemetry context holding the execution span (with telemetry disabled: the
    /// caller's context, so the trace still propagates).
    pub fn otel_context(&self) -> &Context {
        &self.inner.otel
    }

    /// The execution span (to add events or attributes); a no-op span when telemetry is
    /// disabled.
    pub fn span(&self) -> opentelemetry::trace::SpanRef<'_> {
        if self.inner.scope.telemetry.traces_enabled() {
            self.inner.otel.span()
        } else {
            untraced().span()
        }
    }

    /// The trace id of the execution span as 32 hex characters, if the span is sampled or valid.
    pub fn trace_id(&self) -> Option<String> {
        let sc = self.inner.otel.span().span_context().clone();
        sc.is_valid().then(|| sc.trace_id().to_string())
    }

    /// Shared telemetry.
    pub fn telemetry(&self) -> &Arc<Telemetry> {
        &self.inner.scope.telemetry
    }

    /// A key for this execution's side effects: the same on every attempt, also when a
    /// durable service runs the task again after a crash, and different for any other
    /// execution. Pass it to the outside world (an `Idempotency-Key` header, a unique column)
    /// so a repeated attempt is harmless. `None` when the host gives none (a direct run, the
    /// in-process engine).
    pub fn idempotency_key(&self) -> Option<&str> {
        self.process().idempotency_key.as_deref()
    }

    /// BPMN coordinates.
    pub fn process(&self) -> &ProcessInfo {
        &self.inner.process
    }

    /// Process variables visible to the task.
    pub fn variables(&self) -> &serde_json::Map<String, serde_json::Value> {
        &self.inner.variables
    }

    /// One process variable.
    pub fn variable(&self, name: &str) -> Option<&serde_json::Value> {
        self.inner.variables.get(name)
    }

    /// Marks paths as sensitive for this execution (the runner does it for the input's
    /// `#[task(path, sensitive)]` fields before the task runs; only the first call counts):
    /// [`TaskContext::shown_path`] then redacts them, and everything under them.
    pub fn set_sensitive_paths(&self, paths: Vec<(&'static str, std::path::PathBuf)>) {
        let _ = self.inner.sensitive_paths.set(paths);
    }

    /// A path as this execution records it (span events, per-file totals, error messages):
    /// [`crate::fs::display_path`], or `[redacted:FIELD]` for a path that is, or lies under, a
    /// path of a sensitive input field. Paths are compared as given (component-wise), so an
    /// alias of a sensitive path (another spelling, a symlink) is not recognised.
    pub fn shown_path<'p>(&self, path: &'p std::path::Path) -> Cow<'p, str> {
        if let Some(list) = self.inner.sensitive_paths.get() {
            if let Some((field, _)) = list.iter().find(|(_, p)| path.starts_with(p)) {
                return Cow::Owned(crate::fs::redacted_path(field));
            }
        }
        crate::fs::display_path(path)
    }

    /// Counters of this execution.
    pub fn stats(&self) -> &ExecutionStats {
        &self.inner.stats
    }

    /// Tracking switches in force.
    pub fn tracking(&self) -> &TrackingConfig {
        &self.inner.scope.tracking
    }

    /// Dependency policy (breakers and bulkheads per dependency), if any.
    pub fn dependency_policy(&self) -> Option<&Arc<dyn DependencyPolicy>> {
        self.inner.scope.dependencies.as_ref()
    }

    /// Custom metrics, tagged with the task name.
    pub fn metrics(&self) -> TaskMetrics<'_> {
        TaskMetrics::new(&self.inner.scope.telemetry, &self.inner.scope.task)
    }

    /// Tracked file operations.
    pub fn fs(&self) -> TrackedFs<'_> {
        TrackedFs::new(self)
    }

    /// A named external dependency: `cx.dependency("payments").call(fut)`.
    pub fn dependency<'a>(&'a self, name: &'a str) -> Dependency<'a> {
        Dependency::new(self, name)
    }

    /// Many items processed with a concurrency limit, progress, a failure policy and
    /// checkpoints: `cx.batch(rows).concurrency(8).run(|row| async { .. }).await` (see
    /// [`crate::batch`]).
    pub fn batch<I: IntoIterator>(&self, items: I) -> crate::batch::Batch<'_, I::IntoIter> {
        crate::batch::Batch::new(self, items.into_iter())
    }

    /// A BPMN error to return from the task: `return Err(cx.bpmn_error("E1", "no stock"))`.
    pub fn bpmn_error(&self, code: impl Into<String>, message: impl Into<String>) -> TaskError {
        TaskError::business(code, message)
    }

    /// The context a child span should have as parent: the innermost active span of this
    /// execution (a step inside a step nests), else the execution span.
    pub fn current_parent(&self) -> Context {
        let current = Context::current();
        let own = self.inner.otel.span().span_context().trace_id();
        if current.span().span_context().is_valid() && current.span().span_context().trace_id() == own {
            current
        } else {
            self.inner.otel.clone()
        }
    }

    /// Runs `fut` as a child step with its own span (`name`); an `Err` marks the span as failed.
    pub async fn step<T, E, F>(&self, name: impl Into<Cow<'static, str>>, fut: F) -> Result<T, E>
    where
        F: Future<Output = Result<T, E>>,
        E: Display,
    {
        let parent = self.current_parent();
        let span = self.inner.scope.telemetry.tracer().start_with_context(name, &parent);
        let cx = parent.with_span(span);
        let result = fut.with_context(cx.clone()).await;
        let span = cx.span();
        if let Err(e) = &result {
            span.set_status(Status::error(e.to_string()));
        }
        span.end();
        result
    }

    /// Starts a client span for a call to dependency `name` (used by [`Dependency`]): named
    /// `span_name` (the dependency's name when `None`), with `peer.service` and `attributes`.
    pub(crate) fn client_span(
        &self,
        name: &str,
        span_name: Option<Cow<'static, str>>,
        attributes: Vec<KeyValue>,
    ) -> Context {
        let parent = self.current_parent();
        let tracer = self.inner.scope.telemetry.tracer();
        let mut attrs = attributes;
        attrs.push(KeyValue::new(crate::semconv::PEER_SERVICE, name.to_string()));
        let span = tracer
            .span_builder(span_name.unwrap_or_else(|| Cow::Owned(name.to_string())))
            .with_kind(SpanKind::Client)
            .with_attributes(attrs)
            .start_with_context(tracer, &parent);
        parent.with_span(span)
    }
}
