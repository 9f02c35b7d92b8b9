//! One record per task execution: the unit of the history store and of analytics.
//!
//! The runner fills an [`ExecutionRecord`] when an execution ends and hands it to a
//! [`RecordSink`] (the history store's writer implements it). The sink must be cheap and must
//! never block the task's path: a bounded queue that drops and counts when full.
//!
//! ```
//! use servicetask_core::record::{ExecutionRecord, OutcomeKind};
//! let r = ExecutionRecord::new("resize", 1_700_000_000_000_000_000, 2_000_000, OutcomeKind::Complete);
//! assert_eq!(r.duration_secs(), 0.002);
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// How an execution ended, as stored in the history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeKind {
    /// The task completed and produced output variables.
    Complete,
    /// The task raised a BPMN (business) error.
    BpmnError,
    /// The task failed (after any retries).
    Failure,
}

impl OutcomeKind {
    /// The lowercase name used in telemetry and storage (`complete`, `bpmn_error`, `failure`).
    pub fn as_str(self) -> &'static str {
        match self {
            OutcomeKind::Complete => "complete",
            OutcomeKind::BpmnError => "bpmn_error",
            OutcomeKind::Failure => "failure",
        }
    }

    /// Parses the name written by [`OutcomeKind::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "complete" => Some(OutcomeKind::Complete),
            "bpmn_error" => Some(OutcomeKind::BpmnError),
            "failure" => Some(OutcomeKind::Failure),
            _ => None,
        }
    }
}

/// Kind of file operation seen by tracked file I/O.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileAccessKind {
    /// Bytes were read from the file.
    Read,
    /// Bytes were written (or appended) to the file.
    Write,
    /// Metadata only (stat, listing, removal, rename...).
    Meta,
}

/// Per-file totals of one execution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileAccess {
    /// The path as the task named it.
    pub path: String,
    /// What was done.
    pub kind: FileAccessKind,
    /// Bytes moved (0 for metadata operations).
    pub bytes: u64,
    /// Number of operations of this kind on this path in the execution.
    pub ops: u32,
    /// Size of the file when last seen, if known.
    pub file_size: Option<u64>,
}

/// Per-dependency totals of one execution.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DependencyUse {
    /// Logical dependency name (`peer.service`).
    pub name: String,
    /// Calls made.
    pub calls: u32,
    /// Calls that failed.
    pub failures: u32,
    /// Total time spent in calls, in nanoseconds.
    pub total_ns: u64,
    /// Request body bytes sent (the HTTP client counts them; 0 for calls that carry none).
    #[serde(default)]
    pub bytes_sent: u64,
    /// Response body bytes received (the HTTP client counts them).
    #[serde(default)]
    pub bytes_received: u64,
    /// Failed calls by error class (`network`, `timeout`, `circuit_open`, ...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub errors: BTreeMap<String, u32>,
}

impl DependencyUse {
    /// Totals with only the name set.
    pub fn named(name: impl Into<String>) -> Self {
        DependencyUse {
            name: name.into(),
            ..DependencyUse::default()
        }
    }
}

/// Everything the history keeps about one task execution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutionRecord {
    /// Task name (low cardinality).
    pub task: String,
    /// Start time, nanoseconds since the Unix epoch (UTC).
    pub started_at_unix_ns: i64,
    /// Wall-clock duration of the whole execution including retries, nanoseconds.
    pub duration_ns: u64,
    /// How it ended.
    pub outcome: OutcomeKind,
    /// Error class (`timeout`, `io`, ...) when it did not complete.
    pub error_class: Option<String>,
    /// Input size as declared by the input type (bytes, rows, items...).
    pub input_size: Option<u64>,
    /// CPU time (user + system) summed over the polls of the task, nanoseconds.
    pub cpu_ns: Option<u64>,
    /// Peak live heap bytes attributed to the execution (counting allocator), or process RSS.
    pub mem_peak_bytes: Option<u64>,
    /// Bytes read through tracked I/O.
    pub bytes_read: u64,
    /// Bytes written through tracked I/O.
    pub bytes_written: u64,
    /// Attempts made (1 when not retried).
    pub attempts: u32,
    /// Whether a fallback produced the result.
    pub fallback_used: bool,
    /// W3C trace id (32 hex chars) of the execution span.
    pub trace_id: Option<String>,
    /// BPMN process definition id.
    pub process_id: Option<String>,
    /// BPMN process instance id.
    pub process_instance_id: Option<String>,
    /// BPMN element id of the service task.
    pub element_id: Option<String>,
    /// Files touched.
    pub files: Vec<FileAccess>,
    /// External dependencies called.
    pub dependencies: Vec<DependencyUse>,
    /// Set by anomaly detection when this execution was judged anomalous.
    pub anomaly: bool,
}

impl ExecutionRecord {
    /// A record with the required fields set and everything else empty.
    pub fn new(task: impl Into<String>, started_at_unix_ns: i64, duration_ns: u64, outcome: OutcomeKind) -> Self {
        ExecutionRecord {
            task: task.into(),
            started_at_unix_ns,
            duration_ns,
            outcome,
            error_class: None,
            input_size: None,
            cpu_ns: None,
            mem_peak_bytes: None,
            bytes_read: 0,
            bytes_written: 0,
            attempts: 1,
            fallback_used: false,
            trace_id: None,
            process_id: None,
            process_instance_id: None,
            element_id: None,
            files: Vec::new(),
            dependencies: Vec::new(),
            anomaly: false,
        }
    }

    /// Duration in seconds.
    pub fn duration_secs(&self) -> f64 {
        self.duration_ns as f64 / 1e9
    }

    /// Network bytes sent by the execution (request bodies, over every dependency).
    pub fn net_bytes_sent(&self) -> u64 {
        self.dependencies.iter().map(|d| d.bytes_sent).sum()
    }

    /// Network bytes received by the execution (response bodies, over every dependency).
    pub fn net_bytes_received(&self) -> u64 {
        self.dependencies.iter().map(|d| d.bytes_received).sum()
    }
}

/// Receives execution records from the runner.
///
/// Implementations must return quickly and never block: queue the record and write it elsewhere.
/// A full queue drops the record and counts the drop.
pub trait RecordSink: Send + Sync + 'static {
    /// Accepts one record (or drops it, counting the drop, when the queue is full).
    fn record(&self, record: ExecutionRecord);
}
