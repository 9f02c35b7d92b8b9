//! Telemetry names: every attribute key, span event and metric name servicetask emits.
//!
//! Our own names (`servicetask.*`, `bpmn.*`) are defined once in the semantic-convention
//! registry `semconv/registry/*.yaml` at the repository root, in OpenTelemetry Weaver's format;
//! a test (`tests/semconv_registry.rs`) proves these constants match it. Stable names from the
//! OpenTelemetry semantic conventions are re-stated here so the code uses one vocabulary.
//!
//! ```
//! use servicetask_core::semconv;
//! assert_eq!(semconv::SERVICETASK_NAME, "servicetask.name");
//! assert_eq!(semconv::metric::DURATION, "servicetask.duration");
//! ```

// ---- stable OpenTelemetry semantic conventions -------------------------------------------

/// `error.type`: the low-cardinality class of an error (stable).
pub const ERROR_TYPE: &str = "error.type";
/// `code.function.name`: the function that implements the task (stable).
pub const CODE_FUNCTION_NAME: &str = "code.function.name";
/// `file.path`: a file's path (semantic conventions, file registry).
pub const FILE_PATH: &str = "file.path";
/// `file.size`: a file's size in bytes (semantic conventions, file registry).
pub const FILE_SIZE: &str = "file.size";
/// `file.modified`: when the file was last modified, ISO 8601 (semantic conventions, file registry).
pub const FILE_MODIFIED: &str = "file.modified";
/// `file.mode`: the file's mode as an octal string such as `0640` (semantic conventions, file registry).
pub const FILE_MODE: &str = "file.mode";
/// `peer.service`: the logical name of a remote service called by a dependency span.
pub const PEER_SERVICE: &str = "peer.service";
/// `exception.message`: a panic or error message on an exception event.
pub const EXCEPTION_MESSAGE: &str = "exception.message";
/// `exception.type`: the type of a panic or error on an exception event.
pub const EXCEPTION_TYPE: &str = "exception.type";
/// `http.request.method`: the HTTP method, upper case (stable HTTP conventions).
pub const HTTP_REQUEST_METHOD: &str = "http.request.method";
/// `http.request.method_original`: the method as sent when it is not a known one (stable).
pub const HTTP_REQUEST_METHOD_ORIGINAL: &str = "http.request.method_original";
/// `http.response.status_code`: the response's status code (stable).
pub const HTTP_RESPONSE_STATUS_CODE: &str = "http.response.status_code";
/// `http.request.resend_count`: how many times this request was sent before (stable).
pub const HTTP_REQUEST_RESEND_COUNT: &str = "http.request.resend_count";
/// `http.request.body.size`: request body bytes (HTTP conventions, development).
pub const HTTP_REQUEST_BODY_SIZE: &str = "http.request.body.size";
/// `http.response.body.size`: response body bytes (HTTP conventions, development).
pub const HTTP_RESPONSE_BODY_SIZE: &str = "http.response.body.size";
/// `url.full`: the absolute URL, credentials and secret query values redacted (stable).
pub const URL_FULL: &str = "url.full";
/// `server.address`: the host the request went to (stable).
pub const SERVER_ADDRESS: &str = "server.address";
/// `server.port`: the port the request went to (stable).
pub const SERVER_PORT: &str = "server.port";

// ---- servicetask.* attributes ----------------------------------------------------------------

/// `servicetask.name`: the task name (low cardinality).
pub const SERVICETASK_NAME: &str = "servicetask.name";
/// `servicetask.attempt`: 1-based attempt number.
pub const SERVICETASK_ATTEMPT: &str = "servicetask.attempt";
/// `servicetask.outcome`: `complete`, `bpmn_error` or `failure`.
pub const SERVICETASK_OUTCOME: &str = "servicetask.outcome";
/// `servicetask.input.size`: the size the input declares (bytes, rows, items).
pub const SERVICETASK_INPUT_SIZE: &str = "servicetask.input.size";
/// `servicetask.attempts`: attempts made by the execution.
pub const SERVICETASK_ATTEMPTS: &str = "servicetask.attempts";
/// `servicetask.retry.delay_ms`: delay chosen before the next attempt, in milliseconds.
pub const SERVICETASK_RETRY_DELAY_MS: &str = "servicetask.retry.delay_ms";
/// `servicetask.retries_left`: retries the engine may still make after a handed-back failure.
pub const SERVICETASK_RETRIES_LEFT: &str = "servicetask.retries_left";
/// `servicetask.fallback.reason`: the error class a fallback answered for.
pub const SERVICETASK_FALLBACK_REASON: &str = "servicetask.fallback.reason";
/// `servicetask.rejection.reason`: `breaker_open`, `bulkhead_full` or `budget_exhausted`.
pub const SERVICETASK_REJECTION_REASON: &str = "servicetask.rejection.reason";
/// `servicetask.breaker.name`: the breaker's key (task name or `dependency:<name>`).
pub const SERVICETASK_BREAKER_NAME: &str = "servicetask.breaker.name";
/// `servicetask.breaker.state`: `closed`, `open`, `half_open`, `forced_open` or `forced_closed`.
pub const SERVICETASK_BREAKER_STATE: &str = "servicetask.breaker.state";
/// `servicetask.breaker.previous_state`: the state a transition left.
pub const SERVICETASK_BREAKER_PREVIOUS_STATE: &str = "servicetask.breaker.previous_state";
/// `servicetask.cpu.time_ns`: CPU time of the execution, nanoseconds.
pub const SERVICETASK_CPU_TIME_NS: &str = "servicetask.cpu.time_ns";
/// `servicetask.memory.peak_bytes`: peak live bytes attributed to the execution.
pub const SERVICETASK_MEMORY_PEAK_BYTES: &str = "servicetask.memory.peak_bytes";
/// `servicetask.memory.allocated_bytes`: bytes allocated by the execution.
pub const SERVICETASK_MEMORY_ALLOCATED_BYTES: &str = "servicetask.memory.allocated_bytes";
/// `servicetask.memory.scope`: `execution` (counting allocator) or `process` (RSS).
pub const SERVICETASK_MEMORY_SCOPE: &str = "servicetask.memory.scope";
/// `servicetask.io.read_bytes`: bytes read by the execution.
pub const SERVICETASK_IO_READ_BYTES: &str = "servicetask.io.read_bytes";
/// `servicetask.io.write_bytes`: bytes written by the execution.
pub const SERVICETASK_IO_WRITE_BYTES: &str = "servicetask.io.write_bytes";
/// `servicetask.network.sent_bytes`: request body bytes the execution sent through the HTTP client.
pub const SERVICETASK_NETWORK_SENT_BYTES: &str = "servicetask.network.sent_bytes";
/// `servicetask.network.received_bytes`: response body bytes the execution received through the HTTP client.
pub const SERVICETASK_NETWORK_RECEIVED_BYTES: &str = "servicetask.network.received_bytes";
/// `servicetask.file.operation`: `read`, `write`, `append`, `copy`, `rename`, `remove`, ...
pub const SERVICETASK_FILE_OPERATION: &str = "servicetask.file.operation";
/// `servicetask.file.bytes`: bytes moved by one file operation.
pub const SERVICETASK_FILE_BYTES: &str = "servicetask.file.bytes";
/// `servicetask.file.duration_us`: duration of one file operation, microseconds.
pub const SERVICETASK_FILE_DURATION_US: &str = "servicetask.file.duration_us";
/// `servicetask.file.exists`: whether an inspected input path exists.
pub const SERVICETASK_FILE_EXISTS: &str = "servicetask.file.exists";
/// `servicetask.input.field`: the input field an inspected path came from.
pub const SERVICETASK_INPUT_FIELD: &str = "servicetask.input.field";
/// `servicetask.files.count`: distinct files touched by the execution.
pub const SERVICETASK_FILES_COUNT: &str = "servicetask.files.count";
/// `servicetask.files.events_dropped`: file events not recorded on the span (over the cap).
pub const SERVICETASK_FILES_EVENTS_DROPPED: &str = "servicetask.files.events_dropped";
/// `servicetask.anomaly.metric`: which metric was anomalous (`duration`, `cpu`, `memory`).
pub const SERVICETASK_ANOMALY_METRIC: &str = "servicetask.anomaly.metric";
/// `servicetask.anomaly.score`: the anomaly score (0-1).
pub const SERVICETASK_ANOMALY_SCORE: &str = "servicetask.anomaly.score";
/// `servicetask.io.direction`: `read` or `write` on I/O counters.
pub const SERVICETASK_IO_DIRECTION: &str = "servicetask.io.direction";
/// `servicetask.instance.state`: a durable instance's state (`active`, `waiting`, `incident`,
/// `completed`, `failed`, `cancelled`) on the instances gauge.
pub const SERVICETASK_INSTANCE_STATE: &str = "servicetask.instance.state";

// ---- bpmn.* attributes -------------------------------------------------------------------

/// `bpmn.process.id`: the process definition id.
pub const BPMN_PROCESS_ID: &str = "bpmn.process.id";
/// `bpmn.process.instance.id`: the process instance id.
pub const BPMN_PROCESS_INSTANCE_ID: &str = "bpmn.process.instance.id";
/// `bpmn.element.id`: the id of the BPMN element (service task, gateway...).
pub const BPMN_ELEMENT_ID: &str = "bpmn.element.id";
/// `bpmn.element.type`: the BPMN element type (`serviceTask`, ...).
pub const BPMN_ELEMENT_TYPE: &str = "bpmn.element.type";
/// `bpmn.error.code`: the code of a thrown BPMN error.
pub const BPMN_ERROR_CODE: &str = "bpmn.error.code";

/// `servicetask.batch.name`: the name of a `cx.batch` (span `batch NAME`).
pub const SERVICETASK_BATCH_NAME: &str = "servicetask.batch.name";
/// `servicetask.batch.total`: items in the batch, when known.
pub const SERVICETASK_BATCH_TOTAL: &str = "servicetask.batch.total";
/// `servicetask.batch.done`: batch items done (including those skipped as already checkpointed).
pub const SERVICETASK_BATCH_DONE: &str = "servicetask.batch.done";
/// `servicetask.batch.failed`: batch items failed in this run.
pub const SERVICETASK_BATCH_FAILED: &str = "servicetask.batch.failed";
/// `servicetask.batch.skipped`: batch items skipped because the checkpoint had them.
pub const SERVICETASK_BATCH_SKIPPED: &str = "servicetask.batch.skipped";
/// `servicetask.batch.retried`: failed batch item attempts that were tried again under the batch's retry policy.
pub const SERVICETASK_BATCH_RETRIED: &str = "servicetask.batch.retried";
/// `servicetask.batch.rate`: batch items processed per second by this run.
pub const SERVICETASK_BATCH_RATE: &str = "servicetask.batch.rate";
/// `servicetask.batch.eta_s`: seconds left: the task's history of the batch's pace blended into this run's rate (the rate alone without history).
pub const SERVICETASK_BATCH_ETA_S: &str = "servicetask.batch.eta_s";
/// `servicetask.batch.item.index`: 0-based position of a batch item.
pub const SERVICETASK_BATCH_ITEM_INDEX: &str = "servicetask.batch.item.index";
/// `servicetask.batch.item.count`: batch items run (and measured) by this run.
pub const SERVICETASK_BATCH_ITEM_COUNT: &str = "servicetask.batch.item.count";
/// `servicetask.batch.item.duration.min_ms`: shortest batch item, milliseconds.
pub const SERVICETASK_BATCH_ITEM_DURATION_MIN_MS: &str = "servicetask.batch.item.duration.min_ms";
/// `servicetask.batch.item.duration.max_ms`: longest batch item, milliseconds.
pub const SERVICETASK_BATCH_ITEM_DURATION_MAX_MS: &str = "servicetask.batch.item.duration.max_ms";
/// `servicetask.batch.item.duration.mean_ms`: mean batch item duration, milliseconds.
pub const SERVICETASK_BATCH_ITEM_DURATION_MEAN_MS: &str = "servicetask.batch.item.duration.mean_ms";

/// Span event names.
pub mod event {
    /// A retried attempt failed; attributes: attempt, error.type, delay.
    pub const RETRY: &str = "servicetask.retry";
    /// A fallback answered; attributes: reason.
    pub const FALLBACK: &str = "servicetask.fallback";
    /// A breaker changed state; attributes: breaker name, previous and new state.
    pub const BREAKER_TRANSITION: &str = "servicetask.breaker.transition";
    /// A call was rejected without running; attributes: reason.
    pub const REJECTION: &str = "servicetask.rejection";
    /// A tracked file operation; attributes: file.path, operation, bytes, duration.
    pub const FILE: &str = "servicetask.file";
    /// An input path was inspected at start; attributes: file.path, file.size...
    pub const INPUT_FILE: &str = "servicetask.input_file";
    /// The execution was judged anomalous.
    pub const ANOMALY: &str = "servicetask.anomaly";
    /// An exception (panic or error), per the semantic conventions.
    pub const EXCEPTION: &str = "exception";
    /// A batch's progress; attributes: done, failed, skipped, total, rate, eta_s.
    pub const BATCH_PROGRESS: &str = "servicetask.batch.progress";
    /// A batch item failed (the first 20); attributes: item index, error.type.
    pub const BATCH_ITEM_FAILED: &str = "servicetask.batch.item_failed";
}

/// Metric names.
pub mod metric {
    /// Histogram, seconds: duration of executions; attributes: name, outcome, error.type on failure.
    pub const DURATION: &str = "servicetask.duration";
    /// Counter: executions by outcome.
    pub const EXECUTIONS: &str = "servicetask.executions";
    /// Up-down counter: executions in flight.
    pub const IN_FLIGHT: &str = "servicetask.in_flight";
    /// Counter: retries made.
    pub const RETRIES: &str = "servicetask.retries";
    /// Counter: calls rejected without running, by reason.
    pub const REJECTIONS: &str = "servicetask.rejections";
    /// Counter: attempts that timed out.
    pub const TIMEOUTS: &str = "servicetask.timeouts";
    /// Counter: executions answered by a fallback.
    pub const FALLBACKS: &str = "servicetask.fallbacks";
    /// Gauge: breaker state, one series per state, 1 for the current state and 0 for the others.
    pub const BREAKER_STATE: &str = "servicetask.breaker.state";
    /// Counter: breaker transitions.
    pub const BREAKER_TRANSITIONS: &str = "servicetask.breaker.transitions";
    /// Counter, bytes: file I/O by direction.
    pub const FILE_IO: &str = "servicetask.file.io";
    /// Counter, seconds: CPU time of executions.
    pub const CPU_TIME: &str = "servicetask.cpu.time";
    /// Histogram, bytes: peak memory of executions.
    pub const MEMORY_PEAK: &str = "servicetask.memory.peak";
    /// Counter: dependency calls, by peer.service and outcome.
    pub const DEPENDENCY_CALLS: &str = "servicetask.dependency.calls";
    /// Histogram, seconds: dependency call duration.
    pub const DEPENDENCY_DURATION: &str = "servicetask.dependency.duration";
    /// Counter: executions judged anomalous.
    pub const ANOMALIES: &str = "servicetask.anomalies";
    /// Counter: history records dropped because the queue was full.
    pub const RECORDS_DROPPED: &str = "servicetask.history.dropped";
    /// Counter: spans ended but never exported (export queue full, export failed, or queued at shutdown).
    pub const SPANS_DROPPED: &str = "servicetask.telemetry.spans.dropped";
    /// Gauge: jobs in the store of `servicetask serve` (leased or not).
    pub const JOBS_QUEUE_DEPTH: &str = "servicetask.jobs.queue_depth";
    /// Gauge, seconds: age of the oldest job in the store.
    pub const JOBS_OLDEST_AGE: &str = "servicetask.jobs.oldest_age";
    /// Counter: this node's job leases that ended before the job did (a heartbeat found the
    /// lease gone).
    pub const JOBS_LEASE_EXPIRIES: &str = "servicetask.jobs.lease_expiries";
    /// Counter: jobs this node acquired after another lease on them expired.
    pub const JOBS_TAKEOVERS: &str = "servicetask.jobs.takeovers";
    /// Counter: job completions rejected as late: their lease had been taken over, or the
    /// instance had moved on without them.
    pub const JOBS_LATE_COMPLETIONS: &str = "servicetask.jobs.late_completions";
    /// Counter: instance transitions redone because another change committed first
    /// (optimistic-lock conflicts on the revision).
    pub const INSTANCES_CONFLICTS: &str = "servicetask.instances.conflicts";
    /// Gauge: durable instances by `servicetask.instance.state`.
    pub const INSTANCES: &str = "servicetask.instances";
    /// Counter: batch items by outcome (success, failure, skipped).
    pub const BATCH_ITEMS: &str = "servicetask.batch.items";
    /// Gauge: items per second of a batch's current run.
    pub const BATCH_RATE: &str = "servicetask.batch.rate";
    /// Gauge: seconds left of a batch, from the task's history blended into the run's rate.
    pub const BATCH_ETA: &str = "servicetask.batch.eta";
}
