//! What the report shows, computed from execution records in bounded memory.
//!
//! [`ReportBuilder`] takes records one at a time, in start order (as
//! `HistoryStore::for_each_record` hands them out), and keeps only summaries: per task and time
//! bucket a DDSketch of duration, CPU and memory; the streaming [`AnomalyMonitor`]; a uniform
//! [`Reservoir`](crate::bounded::Reservoir) of `(input size, duration)` points for the scatter
//! chart and the size model, and one of whole records for the recommendations; the duration
//! series thinned to block means for the change statements; the last runs; the most used files
//! by Space-Saving. Its memory does not grow with the number of records (BENCHMARKS.md: ten
//! million records in a SQLite history). [`ReportData::from_records`] does the same over a slice.
//!
//! Rendering lives in the `servicetask-report` crate; this module only computes.
//!
//! ```
//! use servicetask_analytics::report::{ReportBuilder, ReportData, ReportOptions};
//! use servicetask_core::record::{ExecutionRecord, OutcomeKind};
//! let mut b = ReportBuilder::new(ReportOptions::default());
//! for i in 0..100 {
//!     b.push(&ExecutionRecord::new("resize", i * 1_000_000_000, 1_000_000 + i as u64, OutcomeKind::Complete));
//! }
//! let data: ReportData = b.finish();
//! assert_eq!(data.tasks[0].runs, 100);
//! ```

mod builder;

use std::collections::HashMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use servicetask_core::record::ExecutionRecord;

pub use builder::ReportBuilder;

use crate::recommend::Recommendation;
use crate::trends::ChangeOptions;

/// Distinct input sizes a report model needs before it is fitted and drawn.
pub const MODEL_MIN_SIZES: usize = 3;
/// Runs a report model needs before it is fitted.
pub const MODEL_MIN_RUNS: usize = 10;
/// Points kept per task for the scatter chart and the size model (a uniform sample).
pub const SCATTER_POINTS: usize = 2000;
/// Records kept per task for the recommendation rules (a uniform sample).
pub const SAMPLED_RECORDS: usize = 2000;
/// Anomalies listed per task (the most recent; the total is counted).
pub const LISTED_ANOMALIES: usize = 200;
/// Last runs kept per task for the table of runs.
pub const RECENT_RUNS: usize = 10;
/// Files tracked (Space-Saving counters) and files listed.
pub const TRACKED_FILES: usize = 10_000;
/// Dependencies tracked (Space-Saving counters) and dependencies listed.
pub const TRACKED_DEPENDENCIES: usize = 1_000;

/// What the report covers and how.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportOptions {
    /// Only this task.
    pub task: Option<String>,
    /// Only executions started at or after this time (Unix nanoseconds).
    pub since_unix_ns: Option<i64>,
    /// Configured timeouts per task (for the timeout recommendation).
    pub timeouts: HashMap<String, Duration>,
    /// Most time buckets for percentiles over time (at least 2; the report uses between half
    /// of this and this many, of a round width).
    pub buckets: usize,
    /// Page title.
    pub title: String,
    /// When a change in a task's durations is stated.
    pub changes: ChangeOptions,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions {
            task: None,
            since_unix_ns: None,
            timeouts: HashMap::new(),
            buckets: 24,
            title: "servicetask report".to_string(),
            changes: ChangeOptions::default(),
        }
    }
}

/// Percentiles of a metric: p50, p90, p95, p99.
pub type Percentiles = [f64; 4];

/// Statistics of one time bucket of one task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bucket {
    /// Bucket start, Unix nanoseconds.
    pub start_unix_ns: i64,
    /// Bucket end (exclusive).
    pub end_unix_ns: i64,
    /// Executions started in the bucket.
    pub runs: u64,
    /// Median duration, seconds (0 when empty).
    pub p50: f64,
    /// 95th percentile duration, seconds.
    pub p95: f64,
    /// 99th percentile duration, seconds.
    pub p99: f64,
    /// Median and 95th percentile of CPU time per execution, seconds (when recorded).
    pub cpu: Option<(f64, f64)>,
    /// Median and 95th percentile of peak memory per execution, bytes (when recorded).
    pub memory: Option<(f64, f64)>,
    /// Executions that failed.
    pub failures: u64,
    /// Extra attempts made (retries).
    pub retries: u64,
    /// Executions rejected by an open circuit breaker (error class containing `breaker` or `circuit`).
    pub breaker_rejections: u64,
}

/// An execution judged anomalous.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnomalyMark {
    /// Execution number within the task (1-based, in start order).
    pub run: u64,
    /// Start time.
    pub at_unix_ns: i64,
    /// Metric that was anomalous (`duration`, `cpu`, `memory`, or `flagged` when only the history
    /// flag says so).
    pub metric: String,
    /// The execution's duration in seconds (plotted).
    pub duration_secs: f64,
    /// Value of the (first) anomalous metric: seconds for duration and CPU, bytes for memory.
    pub value: f64,
    /// Input size, if known.
    pub input_size: Option<f64>,
    /// What the size model expected for that metric, if known (same unit as `value`).
    pub expected: Option<f64>,
}

/// The duration model of a task, for the chart and the table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelSummary {
    /// What the report says: the class and its error, or "no reliable model"
    /// ([`SizeModel::verdict`](crate::predict::SizeModel::verdict)).
    pub verdict: String,
    /// Big-O notation of the chosen class, when it is reliable enough to name.
    pub class: Option<String>,
    /// Exponent of the power-law fit, only when it agrees with the class.
    pub power_exponent: Option<f64>,
    /// Mean relative error of the best class on the sampled history.
    pub mean_rel_error: f64,
    /// Curve samples `(size, expected, low, high)` over the size range seen, seconds (empty
    /// when no class is named).
    pub curve: Vec<(f64, f64, f64, f64)>,
}

/// One execution as a table row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRow {
    /// Execution number within the task (1-based).
    pub run: u64,
    /// Start time.
    pub at_unix_ns: i64,
    /// Outcome (`complete`, `bpmn_error`, `failure`).
    pub outcome: String,
    /// Duration, seconds.
    pub duration_secs: f64,
    /// CPU time, seconds.
    pub cpu_secs: Option<f64>,
    /// Peak memory, bytes.
    pub mem_peak_bytes: Option<u64>,
    /// Input size.
    pub input_size: Option<u64>,
    /// Attempts made.
    pub attempts: u32,
    /// Network bytes sent and received (request and response bodies, over every dependency).
    #[serde(default)]
    pub net_bytes: (u64, u64),
}

/// Everything the report shows about one task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskReport {
    /// Task name.
    pub name: String,
    /// Executions.
    pub runs: u64,
    /// Completed executions.
    pub complete: u64,
    /// Executions ending in a BPMN error.
    pub bpmn_errors: u64,
    /// Failed executions.
    pub failures: u64,
    /// Executions that needed more than one attempt.
    pub retried_runs: u64,
    /// Executions answered by a fallback.
    pub fallback_runs: u64,
    /// p50, p90, p95, p99 of duration, seconds.
    pub duration_percentiles: Percentiles,
    /// p50, p90, p95, p99 of CPU time per execution, seconds (when recorded).
    pub cpu_percentiles: Option<Percentiles>,
    /// p50, p90, p95, p99 of peak memory per execution, bytes (when recorded).
    pub memory_percentiles: Option<Percentiles>,
    /// Percentiles and failures over time.
    pub buckets: Vec<Bucket>,
    /// `(input size, duration seconds, anomalous)` for the scatter chart: a uniform sample of at
    /// most [`SCATTER_POINTS`] runs.
    pub size_points: Vec<(f64, f64, bool)>,
    /// Runs with an input size, and how many distinct sizes (counted up to [`MODEL_MIN_SIZES`]).
    pub sized_runs: (u64, usize),
    /// The duration model, when the history has enough sized runs.
    pub model: Option<ModelSummary>,
    /// Anomalous executions (the last [`LISTED_ANOMALIES`]).
    pub anomalies: Vec<AnomalyMark>,
    /// Anomalous executions in all.
    pub anomaly_count: u64,
    /// The last [`RECENT_RUNS`] runs.
    pub recent_runs: Vec<RunRow>,
    /// Trend and change-point statements.
    pub statements: Vec<String>,
    /// Failures per error class, most frequent first.
    pub error_classes: Vec<(String, u64)>,
}

/// Per-file totals over the reported executions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileRow {
    /// Path.
    pub path: String,
    /// Executions that read it.
    pub read_runs: u64,
    /// Executions that wrote it.
    pub write_runs: u64,
    /// Bytes read.
    pub bytes_read: u64,
    /// Bytes written.
    pub bytes_written: u64,
}

/// All the report shows. Build it with [`ReportBuilder`] or [`ReportData::from_records`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportData {
    /// Page title.
    pub title: String,
    /// Executions covered.
    pub runs: u64,
    /// First and last start time covered.
    pub range: Option<(i64, i64)>,
    /// One entry per task, by name.
    pub tasks: Vec<TaskReport>,
    /// Files read or written, most used first (at most [`TRACKED_FILES`]; counts are exact
    /// unless `files_approximate`).
    pub files: Vec<FileRow>,
    /// More distinct files were seen than tracked: the counts of the files listed are upper
    /// bounds (Space-Saving).
    pub files_approximate: bool,
    /// Dependencies called, most called first, with their findings (at most
    /// [`TRACKED_DEPENDENCIES`]; counts are exact unless `dependencies_approximate`).
    #[serde(default)]
    pub dependencies: Vec<crate::dependencies::DependencyRow>,
    /// More distinct dependencies were seen than tracked (Space-Saving upper bounds).
    #[serde(default)]
    pub dependencies_approximate: bool,
    /// Recommendations.
    pub recommendations: Vec<Recommendation>,
}

impl ReportData {
    /// Computes the report over `records` (any order), filtered by `options`.
    pub fn from_records(records: &[ExecutionRecord], options: &ReportOptions) -> ReportData {
        let mut recs: Vec<&ExecutionRecord> = records.iter().collect();
        recs.sort_by_key(|r| r.started_at_unix_ns);
        let mut b = ReportBuilder::new(options.clone());
        for r in recs {
            b.push(r);
        }
        b.finish()
    }
}

/// Parses a `--since` value into Unix nanoseconds: an absolute UTC time (`2026-11-27`,
/// `2026-11-27 14:02`, `2026-11-27T14:02:00Z`) or an age before `now_unix_ns` (`90s`, `30m`,
/// `6h`, `7d`, `2w`). `None` when it is neither.
pub fn parse_since(s: &str, now_unix_ns: i64) -> Option<i64> {
    let s = s.trim();
    if let Some(unit) = s.chars().last().filter(|c| c.is_ascii_alphabetic()) {
        if let Ok(n) = s[..s.len() - 1].parse::<f64>() {
            let secs = match unit {
                's' => 1.0,
                'm' => 60.0,
                'h' => 3600.0,
                'd' => 86_400.0,
                'w' => 604_800.0,
                _ => return None,
            };
            if !n.is_finite() || n < 0.0 {
                return None;
            }
            return Some(now_unix_ns.saturating_sub((n * secs * 1e9) as i64));
        }
    }
    let t = s.trim_end_matches('Z').replace('T', " ");
    let t = if t.len() == 10 { format!("{t} 00:00:00") } else { t };
    crate::nab::parse_timestamp(&t).map(|secs| secs.saturating_mul(1_000_000_000))
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_values() {
        let now = 10_000 * 1_000_000_000;
        assert_eq!(parse_since("90s", now), Some(now - 90 * 1_000_000_000));
        assert_eq!(parse_since("2h", now), Some(now - 7200 * 1_000_000_000));
        assert_eq!(parse_since("1970-01-01 01:00", now), Some(3600 * 1_000_000_000));
        assert_eq!(parse_since("1970-01-02", now), Some(86_400 * 1_000_000_000));
        assert_eq!(parse_since("1970-01-01T00:00:10Z", now), Some(10 * 1_000_000_000));
        assert_eq!(parse_since("soon", now), None);
        assert_eq!(parse_since("-3h", now), None);
    }
}
