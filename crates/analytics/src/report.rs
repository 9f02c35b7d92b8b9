//! The report: terminal tables with sparklines, and a self-contained HTML page with charts.
//!
//! [`ReportData::from_records`] computes everything (percentiles per time bucket, the size model
//! with its prediction band, anomalies from [`AnomalyMonitor`] plus those already flagged in the
//! history, trend statements, file access patterns, retry and breaker history, recommendations);
//! [`render_terminal`] and [`render_html`] only format it. The HTML page has inline CSS and
//! inline SVG charts, no external script, font or stylesheet, so it can be mailed or archived.
//!
//! ```
//! use servicetask_analytics::report::{render_html, render_terminal, ReportData, ReportOptions};
//! use servicetask_core::record::{ExecutionRecord, OutcomeKind};
//! let recs: Vec<_> = (0..100)
//!     .map(|i| ExecutionRecord::new("resize", i * 1_000_000_000, 1_000_000 + i as u64, OutcomeKind::Complete))
//!     .collect();
//! let data = ReportData::from_records(&recs, &ReportOptions::default());
//! assert!(render_terminal(&data).contains("resize"));
//! assert!(render_html(&data).contains("<svg"));
//! ```

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use servicetask_core::record::{ExecutionRecord, FileAccessKind, OutcomeKind};

use crate::anomaly::AnomalyMonitor;
use crate::percentiles::exact_percentiles;
use crate::predict::SizeModel;
use crate::recommend::{recommend_refs, Recommendation};
use crate::trends::{describe, format_time, group_thousands, ChangeOptions, TrendPoint};

/// What the report covers and how.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportOptions {
    /// Only this task.
    pub task: Option<String>,
    /// Only executions started at or after this time (Unix nanoseconds).
    pub since_unix_ns: Option<i64>,
    /// Configured timeouts per task (for the timeout recommendation).
    pub timeouts: HashMap<String, Duration>,
    /// Time buckets for percentiles over time (at least 1).
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
    /// Big-O notation of the chosen class.
    pub class: String,
    /// Exponent of the power-law fit, if any.
    pub power_exponent: Option<f64>,
    /// Mean relative error of the chosen class on the history.
    pub mean_rel_error: f64,
    /// Curve samples `(size, expected, low, high)` over the size range seen, seconds.
    pub curve: Vec<(f64, f64, f64, f64)>,
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
    pub duration_percentiles: [f64; 4],
    /// Percentiles and failures over time.
    pub buckets: Vec<Bucket>,
    /// `(input size, duration seconds, anomalous)` for the scatter chart (at most 2000, evenly
    /// thinned).
    pub size_points: Vec<(f64, f64, bool)>,
    /// The duration model, when the history has input sizes.
    pub model: Option<ModelSummary>,
    /// Anomalous executions.
    pub anomalies: Vec<AnomalyMark>,
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

/// All the report shows. Build it with [`ReportData::from_records`].
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
    /// Files read or written, most used first.
    pub files: Vec<FileRow>,
    /// Recommendations.
    pub recommendations: Vec<Recommendation>,
}

impl ReportData {
    /// Computes the report over `records` (any order), filtered by `options`.
    pub fn from_records(records: &[ExecutionRecord], options: &ReportOptions) -> ReportData {
        let mut recs: Vec<&ExecutionRecord> = records
            .iter()
            .filter(|r| options.task.as_ref().is_none_or(|t| &r.task == t))
            .filter(|r| options.since_unix_ns.is_none_or(|s| r.started_at_unix_ns >= s))
            .collect();
        recs.sort_by_key(|r| r.started_at_unix_ns);
        let range = recs
            .first()
            .zip(recs.last())
            .map(|(a, b)| (a.started_at_unix_ns, b.started_at_unix_ns));
        let mut by_task: BTreeMap<&str, Vec<&ExecutionRecord>> = BTreeMap::new();
        for r in &recs {
            by_task.entry(r.task.as_str()).or_default().push(r);
        }
        let buckets = options.buckets.max(1);
        let tasks = by_task
            .iter()
            .map(|(name, runs)| task_report(name, runs, range, buckets, &options.changes))
            .collect();
        let mut files: BTreeMap<&str, FileRow> = BTreeMap::new();
        for r in &recs {
            let mut seen = std::collections::HashSet::new();
            for f in &r.files {
                let row = files.entry(f.path.as_str()).or_insert_with(|| FileRow {
                    path: f.path.clone(),
                    read_runs: 0,
                    write_runs: 0,
                    bytes_read: 0,
                    bytes_written: 0,
                });
                match f.kind {
                    FileAccessKind::Read => {
                        row.bytes_read += f.bytes;
                        if seen.insert((f.path.as_str(), 0)) {
                            row.read_runs += 1;
                        }
                    }
                    FileAccessKind::Write => {
                        row.bytes_written += f.bytes;
                        if seen.insert((f.path.as_str(), 1)) {
                            row.write_runs += 1;
                        }
                    }
                    FileAccessKind::Meta => {}
                }
            }
        }
        // files only looked at (metadata, directories) were neither read nor written
        let mut files: Vec<FileRow> = files.into_values().filter(|f| f.read_runs + f.write_runs > 0).collect();
        files.sort_by(|a, b| {
            (b.read_runs + b.write_runs)
                .cmp(&(a.read_runs + a.write_runs))
                .then(a.path.cmp(&b.path))
        });
        ReportData {
            title: options.title.clone(),
            runs: recs.len() as u64,
            range,
            tasks,
            files,
            recommendations: recommend_refs(&recs, &options.timeouts),
        }
    }
}

fn task_report(
    name: &str,
    runs: &[&ExecutionRecord],
    range: Option<(i64, i64)>,
    n_buckets: usize,
    changes: &ChangeOptions,
) -> TaskReport {
    let durs: Vec<f64> = runs.iter().map(|r| r.duration_secs()).collect();
    let p = exact_percentiles(&durs, &[0.5, 0.9, 0.95, 0.99]).unwrap_or_else(|| vec![0.0; 4]);
    let count = |f: &dyn Fn(&ExecutionRecord) -> bool| runs.iter().filter(|r| f(r)).count() as u64;
    // buckets over the whole report's range, so tasks line up
    let (t0, t1) = range.unwrap_or((0, 0));
    let width = ((t1 - t0) / n_buckets as i64).max(1) + 1;
    let mut bucket_vals: Vec<Vec<f64>> = vec![Vec::new(); n_buckets];
    let mut buckets: Vec<Bucket> = (0..n_buckets)
        .map(|k| Bucket {
            start_unix_ns: t0 + k as i64 * width,
            end_unix_ns: t0 + (k as i64 + 1) * width,
            runs: 0,
            p50: 0.0,
            p95: 0.0,
            p99: 0.0,
            failures: 0,
            retries: 0,
            breaker_rejections: 0,
        })
        .collect();
    for r in runs {
        let k = (((r.started_at_unix_ns - t0) / width) as usize).min(n_buckets - 1);
        let b = &mut buckets[k];
        b.runs += 1;
        b.failures += u64::from(r.outcome == OutcomeKind::Failure);
        b.retries += u64::from(r.attempts.saturating_sub(1));
        b.breaker_rejections += u64::from(
            r.error_class
                .as_deref()
                .is_some_and(|c| c.contains("breaker") || c.contains("circuit")),
        );
        bucket_vals[k].push(r.duration_secs());
    }
    for (b, v) in buckets.iter_mut().zip(&bucket_vals) {
        if let Some(q) = exact_percentiles(v, &[0.5, 0.95, 0.99]) {
            (b.p50, b.p95, b.p99) = (q[0], q[1], q[2]);
        }
    }
    // anomalies: the streaming monitor over the task's history, plus flags already stored
    let mut monitor = AnomalyMonitor::default();
    let mut anomalies = Vec::new();
    for (i, r) in runs.iter().enumerate() {
        let found = monitor.observe(r);
        let mark = |metric: String, value: f64, expected: Option<f64>| AnomalyMark {
            run: i as u64 + 1,
            at_unix_ns: r.started_at_unix_ns,
            metric,
            duration_secs: r.duration_secs(),
            value,
            input_size: r.input_size.map(|s| s as f64),
            expected,
        };
        if let Some(a) = found.first() {
            let metrics: Vec<&str> = found.iter().map(|a| a.metric.as_str()).collect();
            anomalies.push(mark(metrics.join("+"), a.value, a.expected));
        } else if r.anomaly {
            anomalies.push(mark("flagged".to_string(), r.duration_secs(), None));
        }
    }
    let anomalous_runs: std::collections::HashSet<u64> = anomalies.iter().map(|a| a.run).collect();
    // size model of duration
    let pts: Vec<(f64, f64)> = runs
        .iter()
        .filter_map(|r| Some((r.input_size? as f64, r.duration_secs())))
        .collect();
    let distinct_sizes = {
        let mut s: Vec<u64> = runs.iter().filter_map(|r| r.input_size).collect();
        s.sort_unstable();
        s.dedup();
        s.len()
    };
    let model = if pts.len() >= 10 && distinct_sizes >= MODEL_MIN_SIZES {
        SizeModel::fit(&pts).ok().map(|m| {
            let (lo, hi) = pts
                .iter()
                .fold((f64::MAX, 0.0f64), |(a, b), p| (a.min(p.0), b.max(p.0)));
            let curve = (0..=40)
                .map(|k| {
                    let n = lo + (hi - lo) * k as f64 / 40.0;
                    let pr = m.predict(n);
                    (n, pr.expected, pr.low, pr.high)
                })
                .collect();
            ModelSummary {
                class: m.class().notation().to_string(),
                power_exponent: m.power_law().map(|p| p.b),
                mean_rel_error: m.best_fit().mean_rel_error,
                curve,
            }
        })
    } else {
        None
    };
    let mut size_points: Vec<(f64, f64, bool)> = runs
        .iter()
        .enumerate()
        .filter_map(|(i, r)| {
            Some((
                r.input_size? as f64,
                r.duration_secs(),
                anomalous_runs.contains(&(i as u64 + 1)),
            ))
        })
        .collect();
    if size_points.len() > 2000 {
        let n = size_points.len();
        let keep: Vec<(f64, f64, bool)> = (0..2000).map(|k| size_points[k * (n - 1) / 1999]).collect();
        // always keep the anomalous points
        let extra: Vec<(f64, f64, bool)> = size_points.iter().copied().filter(|p| p.2).collect();
        size_points = keep.into_iter().filter(|p| !p.2).chain(extra).collect();
    }
    let tp: Vec<TrendPoint> = runs
        .iter()
        .enumerate()
        .map(|(i, r)| TrendPoint {
            at_unix_ns: r.started_at_unix_ns,
            run: i as u64 + 1,
            value: r.duration_secs(),
        })
        .collect();
    let (_, statements) = describe("median duration", &tp, changes);
    let mut classes: BTreeMap<String, u64> = BTreeMap::new();
    for r in runs.iter().filter(|r| r.outcome != OutcomeKind::Complete) {
        *classes
            .entry(r.error_class.clone().unwrap_or_else(|| "unclassified".into()))
            .or_default() += 1;
    }
    let mut error_classes: Vec<(String, u64)> = classes.into_iter().collect();
    error_classes.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    TaskReport {
        name: name.to_string(),
        runs: runs.len() as u64,
        complete: count(&|r| r.outcome == OutcomeKind::Complete),
        bpmn_errors: count(&|r| r.outcome == OutcomeKind::BpmnError),
        failures: count(&|r| r.outcome == OutcomeKind::Failure),
        retried_runs: count(&|r| r.attempts > 1),
        fallback_runs: count(&|r| r.fallback_used),
        duration_percentiles: [p[0], p[1], p[2], p[3]],
        buckets,
        size_points,
        model,
        anomalies,
        statements,
        error_classes,
    }
}

/// Unicode sparkline of the values (`▁▂▃▄▅▆▇█`); non-finite values and empty buckets print as a space.
pub fn sparkline(values: &[f64]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let finite = values.iter().copied().filter(|v| v.is_finite() && *v > 0.0);
    let (lo, hi) = finite.fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(v), b.max(v)));
    values
        .iter()
        .map(|&v| {
            if !v.is_finite() || v <= 0.0 {
                ' '
            } else if hi <= lo {
                BARS[3]
            } else {
                BARS[(((v - lo) / (hi - lo)) * 7.0).round().clamp(0.0, 7.0) as usize]
            }
        })
        .collect()
}

/// Seconds as a short human string (`850µs`, `12.3ms`, `1.20s`).
pub fn fmt_secs(s: f64) -> String {
    if !s.is_finite() {
        "-".into()
    } else if s < 1e-3 {
        format!("{:.0}µs", s * 1e6)
    } else if s < 1.0 {
        format!("{:.1}ms", s * 1e3)
    } else {
        format!("{s:.2}s")
    }
}

fn fmt_bytes(b: u64) -> String {
    let b = b as f64;
    if b < 1024.0 {
        format!("{b:.0} B")
    } else if b < 1024.0 * 1024.0 {
        format!("{:.1} KiB", b / 1024.0)
    } else if b < 1024.0 * 1024.0 * 1024.0 {
        format!("{:.1} MiB", b / 1024.0 / 1024.0)
    } else {
        format!("{:.2} GiB", b / 1024.0 / 1024.0 / 1024.0)
    }
}

/// The covered period: `on 2026-11-27 from 23:06:11 to 23:06:12 UTC` (seconds when it is
/// shorter than an hour), or two dates and times when it spans days.
fn fmt_range(a_ns: i64, b_ns: i64) -> String {
    let day = |t: i64| t.div_euclid(86_400 * 1_000_000_000);
    let clock = |t: i64, secs: bool| {
        let s = format_time(t, false);
        let hm = s.trim_end_matches(" UTC");
        if secs {
            format!("{hm}:{:02}", t.div_euclid(1_000_000_000).rem_euclid(60))
        } else {
            hm.to_string()
        }
    };
    if day(a_ns) == day(b_ns) {
        let date = format_time(a_ns, true);
        let date = date.split(' ').next().unwrap_or_default();
        let secs = b_ns - a_ns < 3_600 * 1_000_000_000;
        format!("on {date} from {} to {} UTC", clock(a_ns, secs), clock(b_ns, secs))
    } else {
        format!("from {} to {}", format_time(a_ns, true), format_time(b_ns, true))
    }
}

/// The report as terminal text: a task table with p95 sparklines, then per-task details, files
/// and recommendations.
pub fn render_terminal(d: &ReportData) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "{}", d.title);
    match d.range {
        Some((a, b)) => {
            let _ = writeln!(o, "{} executions {}\n", group_thousands(d.runs), fmt_range(a, b));
        }
        None => {
            let _ = writeln!(o, "no executions\n");
        }
    }
    if !d.tasks.is_empty() {
        let w = d.tasks.iter().map(|t| t.name.chars().count()).max().unwrap_or(4).max(4);
        let _ = writeln!(
            o,
            "{:<w$}  {:>8}  {:>6}  {:>8}  {:>8}  {:>8}  {:>8}  {:>5}  p95 over time",
            "task", "runs", "fail%", "p50", "p90", "p95", "p99", "anom"
        );
        for t in &d.tasks {
            let sl = sparkline(
                &t.buckets
                    .iter()
                    .map(|b| if b.runs > 0 { b.p95 } else { f64::NAN })
                    .collect::<Vec<_>>(),
            );
            let _ = writeln!(
                o,
                "{:<w$}  {:>8}  {:>5.1}%  {:>8}  {:>8}  {:>8}  {:>8}  {:>5}  {}",
                t.name,
                group_thousands(t.runs),
                100.0 * t.failures as f64 / t.runs.max(1) as f64,
                fmt_secs(t.duration_percentiles[0]),
                fmt_secs(t.duration_percentiles[1]),
                fmt_secs(t.duration_percentiles[2]),
                fmt_secs(t.duration_percentiles[3]),
                t.anomalies.len(),
                sl
            );
        }
    }
    for t in &d.tasks {
        let _ = writeln!(o, "\n== {} ==", t.name);
        let _ = writeln!(
            o,
            "outcomes: {} complete, {} bpmn errors, {} failures; {} retried, {} fallbacks",
            t.complete, t.bpmn_errors, t.failures, t.retried_runs, t.fallback_runs
        );
        if !t.error_classes.is_empty() {
            let ec: Vec<String> = t.error_classes.iter().map(|(c, n)| format!("{c} {n}")).collect();
            let _ = writeln!(o, "errors: {}", ec.join(", "));
        }
        if t.model.is_none() && !t.size_points.is_empty() {
            let mut sizes: Vec<u64> = t.size_points.iter().map(|p| p.0 as u64).collect();
            sizes.sort_unstable();
            sizes.dedup();
            let seen = if sizes.len() == 1 {
                format!("every run had input size {}", group_thousands(sizes[0]))
            } else {
                format!("{} runs at {} distinct sizes", t.size_points.len(), sizes.len())
            };
            let _ = writeln!(
                o,
                "duration vs input size: no model ({seen}; it needs at least 10 runs at {MODEL_MIN_SIZES} or more distinct sizes)"
            );
        }
        if let Some(m) = &t.model {
            let _ = write!(
                o,
                "duration vs input size: {} (mean relative error {:.1}%",
                m.class,
                m.mean_rel_error * 100.0
            );
            if let Some(b) = m.power_exponent {
                let _ = write!(o, "; power law exponent {b:.2}");
            }
            let _ = writeln!(o, ")");
        }
        let retries: Vec<f64> = t.buckets.iter().map(|b| b.retries as f64).collect();
        if retries.iter().any(|&r| r > 0.0) {
            let _ = writeln!(o, "retries over time: {}", sparkline(&retries));
        }
        for s in &t.statements {
            let _ = writeln!(o, "trend: {s}");
        }
        for a in t.anomalies.iter().take(10) {
            let unit = |v: f64| {
                if a.metric.starts_with("memory") {
                    fmt_bytes(v.max(0.0) as u64)
                } else {
                    fmt_secs(v)
                }
            };
            let name = a.metric.split('+').next().unwrap_or("duration");
            let name = if name == "flagged" { "duration" } else { name };
            let _ = writeln!(
                o,
                "anomaly: run {} at {} ({}): {name} {}{}",
                group_thousands(a.run),
                format_time(a.at_unix_ns, true),
                a.metric,
                unit(a.value),
                a.expected
                    .map_or(String::new(), |e| format!(", expected about {}", unit(e)))
            );
        }
        if t.anomalies.len() > 10 {
            let _ = writeln!(o, "... and {} more anomalies", t.anomalies.len() - 10);
        }
    }
    if !d.files.is_empty() {
        let _ = writeln!(o, "\n== files ==");
        let w = d
            .files
            .iter()
            .map(|f| f.path.chars().count())
            .max()
            .unwrap_or(4)
            .clamp(4, 60);
        let _ = writeln!(
            o,
            "{:<w$}  {:>8}  {:>8}  {:>10}  {:>10}",
            "path", "reads", "writes", "read", "written"
        );
        for f in d.files.iter().take(20) {
            let _ = writeln!(
                o,
                "{:<w$}  {:>8}  {:>8}  {:>10}  {:>10}",
                shorten_left(&f.path, w),
                f.read_runs,
                f.write_runs,
                fmt_bytes(f.bytes_read),
                fmt_bytes(f.bytes_written)
            );
        }
    }
    if !d.recommendations.is_empty() {
        let _ = writeln!(o, "\n== recommendations ==");
        for r in &d.recommendations {
            let _ = writeln!(o, "- {}", r.message);
        }
    }
    o
}

/// Escapes text for HTML.
fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            _ => o.push(c),
        }
    }
    o
}

const W: f64 = 720.0;
const H: f64 = 260.0;
const ML: f64 = 64.0;
const MR: f64 = 16.0;
const MT: f64 = 28.0;
const MB: f64 = 36.0;
/// Approximate width of one character of an 11px tick label, for collision checks.
const TICK_CHAR_W: f64 = 6.4;

/// Removes the sign of a label that reads as zero (`-0`, `-0.00`, `-0µs`): rounding a tiny
/// negative value must not print a negative zero.
fn no_negative_zero(s: String) -> String {
    match s.strip_prefix('-') {
        Some(rest)
            if rest.chars().any(|c| c.is_ascii_digit()) && !rest.chars().any(|c| c.is_ascii_digit() && c != '0') =>
        {
            rest.to_string()
        }
        _ => s,
    }
}

/// The "nice" step (1, 2 or 5 times a power of ten) at or above `raw`.
fn nice_step(raw: f64) -> f64 {
    if !(raw.is_finite() && raw > 0.0) {
        return 1.0;
    }
    let mag = 10f64.powf(raw.log10().floor());
    let f = raw / mag;
    let n = if f <= 1.0 + 1e-9 {
        1.0
    } else if f <= 2.0 + 1e-9 {
        2.0
    } else if f <= 5.0 + 1e-9 {
        5.0
    } else {
        10.0
    };
    n * mag
}

/// Decimals needed to tell ticks `step` apart.
fn step_decimals(step: f64) -> usize {
    if !(step.is_finite() && step > 0.0) || step >= 1.0 - 1e-9 {
        0
    } else {
        ((-step.log10() - 1e-9).ceil() as usize).min(6)
    }
}

/// A count or size tick label (`0`, `2.5`, `1200`, `15k`, `1.5M`).
fn fmt_count(v: f64, step: f64) -> String {
    let (div, suffix) = if v.abs() >= 1e6 && step >= 1e5 {
        (1e6, "M")
    } else if v.abs() >= 1e4 && step >= 1e3 {
        (1e3, "k")
    } else {
        (1.0, "")
    };
    no_negative_zero(format!("{:.*}{suffix}", step_decimals(step / div), v / div))
}

/// A duration tick label with as many decimals as the step needs (`0`, `500µs`, `1.5ms`, `2s`).
fn fmt_secs_tick(v: f64, step: f64) -> String {
    if v.abs() < step * 1e-3 {
        return "0".to_string();
    }
    let (scale, unit) = if v.abs() < 1e-3 {
        (1e6, "µs")
    } else if v.abs() < 1.0 {
        (1e3, "ms")
    } else {
        (1.0, "s")
    };
    no_negative_zero(format!("{:.*}{unit}", step_decimals(step * scale).min(3), v * scale))
}

/// A clock tick label in UTC, as precise as the step between ticks needs.
fn fmt_clock(t_ns: i64, step_ns: i64) -> String {
    let secs = t_ns.div_euclid(1_000_000_000);
    let sod = secs.rem_euclid(86_400);
    let (h, m, s) = (sod / 3600, (sod % 3600) / 60, sod % 60);
    let date = || {
        let (_, mo, d) = crate::trends::civil_from_days(secs.div_euclid(86_400));
        format!("{mo:02}-{d:02}")
    };
    if step_ns >= 86_400_000_000_000 || (sod == 0 && step_ns >= 3_600_000_000_000) {
        date()
    } else if step_ns >= 60_000_000_000 {
        format!("{h:02}:{m:02}")
    } else if step_ns >= 1_000_000_000 {
        format!("{h:02}:{m:02}:{s:02}")
    } else {
        let frac = t_ns.rem_euclid(1_000_000_000);
        let decimals = if step_ns >= 100_000_000 {
            1
        } else if step_ns >= 10_000_000 {
            2
        } else {
            3
        };
        let digits = format!("{frac:09}");
        format!("{h:02}:{m:02}:{s:02}.{}", &digits[..decimals])
    }
}

/// A linear map from data to pixels, with its tick labels.
struct Axis {
    lo: f64,
    hi: f64,
    p0: f64,
    p1: f64,
    /// `(value, label)`; labels never read `-0`.
    ticks: Vec<(f64, String)>,
}

impl Axis {
    /// A value axis over `[lo, hi]`, widened to whole "nice" steps. A degenerate range (one
    /// distinct value) is padded around the value by half of it (at least `min_pad`);
    /// `non_negative` drops tick labels below zero (sizes, counts and durations can't be).
    #[allow(clippy::too_many_arguments)]
    fn value(
        lo: f64,
        hi: f64,
        p0: f64,
        p1: f64,
        integer: bool,
        non_negative: bool,
        min_pad: f64,
        fmt: &dyn Fn(f64, f64) -> String,
    ) -> Axis {
        let (mut lo, mut hi) = if lo.is_finite() && hi.is_finite() && hi >= lo {
            (lo, hi)
        } else {
            (0.0, 1.0)
        };
        if hi - lo <= 0.0 {
            let pad = (lo.abs() * 0.5).max(min_pad);
            (lo, hi) = (lo - pad, hi + pad);
        }
        let mut step = nice_step((hi - lo) / 5.0);
        if integer {
            step = step.max(1.0).round();
        }
        lo = (lo / step).floor() * step;
        hi = (hi / step - 1e-9).ceil() * step;
        if hi <= lo {
            hi = lo + step;
        }
        let n = ((hi - lo) / step).round() as i64;
        let ticks = (0..=n)
            .map(|k| lo + k as f64 * step)
            .filter(|v| !non_negative || *v > -step * 1e-6)
            .map(|v| {
                (
                    v,
                    no_negative_zero(fmt(if v.abs() < step * 1e-9 { 0.0 } else { v }, step)),
                )
            })
            .collect();
        Axis { lo, hi, p0, p1, ticks }
    }

    /// A time axis over `[t0, t1]` (Unix nanoseconds) with ticks on round clock times.
    fn time(t0: f64, t1: f64, p0: f64, p1: f64) -> Axis {
        let (t0, t1) = if t1 > t0 { (t0, t1) } else { (t0 - 5e8, t0 + 5e8) };
        const MS: i64 = 1_000_000;
        const S: i64 = 1000 * MS;
        const STEPS: [i64; 31] = [
            MS,
            2 * MS,
            5 * MS,
            10 * MS,
            20 * MS,
            50 * MS,
            100 * MS,
            200 * MS,
            500 * MS,
            S,
            2 * S,
            5 * S,
            10 * S,
            15 * S,
            30 * S,
            60 * S,
            120 * S,
            300 * S,
            600 * S,
            900 * S,
            1800 * S,
            3600 * S,
            7200 * S,
            3 * 3600 * S,
            6 * 3600 * S,
            12 * 3600 * S,
            86_400 * S,
            2 * 86_400 * S,
            7 * 86_400 * S,
            14 * 86_400 * S,
            28 * 86_400 * S,
        ];
        let span = t1 - t0;
        let step = STEPS
            .iter()
            .copied()
            .find(|&s| span / s as f64 <= 6.0)
            .unwrap_or_else(|| (span / 6.0 / (86_400 * S) as f64).ceil() as i64 * 86_400 * S);
        let (a, b) = (t0 as i64, t1 as i64);
        let mut t = a.div_euclid(step) * step;
        if t < a {
            t += step;
        }
        let mut ticks = Vec::new();
        while t <= b {
            ticks.push((t as f64, fmt_clock(t, step)));
            t += step;
        }
        Axis {
            lo: t0,
            hi: t1,
            p0,
            p1,
            ticks,
        }
    }

    fn at(&self, v: f64) -> f64 {
        self.p0 + (v - self.lo) / (self.hi - self.lo) * (self.p1 - self.p0)
    }
}

fn svg_open(o: &mut String, id: &str, title: &str, height: f64) {
    let _ = write!(
        o,
        r#"<figure><figcaption>{}</figcaption><svg class="chart" id="{}" viewBox="0 0 {W} {height}" width="{W}" height="{height}" role="img" aria-label="{}" xmlns="http://www.w3.org/2000/svg">"#,
        esc(title),
        esc(id),
        esc(title)
    );
}

/// A chart with nothing to show: one line saying so, instead of an empty plot.
fn empty_chart(o: &mut String, id: &str, text: &str) {
    let _ = write!(o, r#"<p class="empty" id="{}">{}</p>"#, esc(id), esc(text));
}

fn axes(o: &mut String, x: &Axis, y: &Axis) {
    let _ = write!(
        o,
        r##"<line x1="{ML}" y1="{}" x2="{}" y2="{}" stroke="#888"/><line x1="{ML}" y1="{MT}" x2="{ML}" y2="{}" stroke="#888"/>"##,
        H - MB,
        W - MR,
        H - MB,
        H - MB
    );
    for (v, label) in &y.ticks {
        let py = y.at(*v);
        let _ = write!(
            o,
            r##"<line x1="{ML}" y1="{py:.1}" x2="{}" y2="{py:.1}" stroke="#eee"/><text x="{}" y="{:.1}" text-anchor="end" class="tick">{}</text>"##,
            W - MR,
            ML - 4.0,
            py + 4.0,
            esc(&no_negative_zero(label.clone()))
        );
    }
    // centred labels; one that would leave the picture or touch its neighbour is left out
    let mut right_of_last = f64::MIN;
    for (v, label) in &x.ticks {
        let px = x.at(*v);
        let half = label.chars().count() as f64 * TICK_CHAR_W / 2.0;
        if px - half < 2.0 || px + half > W - 2.0 || px - half < right_of_last + 8.0 {
            continue;
        }
        right_of_last = px + half;
        let _ = write!(
            o,
            r##"<line x1="{px:.1}" y1="{}" x2="{px:.1}" y2="{}" stroke="#888"/><text x="{px:.1}" y="{}" text-anchor="middle" class="tick">{}</text>"##,
            H - MB,
            H - MB + 4.0,
            H - MB + 16.0,
            esc(&no_negative_zero(label.clone()))
        );
    }
}

/// How a series looks, in the chart and in its legend entry.
#[derive(Clone, Copy)]
enum Mark {
    /// A filled square (bars, points).
    Square,
    /// A line of this width, dashed or solid.
    Line(f64, bool),
}

const DASH: &str = "7 4";

fn polyline(o: &mut String, pts: &[(f64, f64)], color: &str, label: &str, width: f64, dashed: bool) {
    if pts.is_empty() {
        return;
    }
    let dash = if dashed {
        format!(r#" stroke-dasharray="{DASH}""#)
    } else {
        String::new()
    };
    if pts.len() == 1 {
        // a lone point: a short horizontal stroke, so it is visible
        let (x, y) = pts[0];
        let _ = write!(
            o,
            r#"<line x1="{:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="{color}" stroke-width="{width}"{dash}><title>{}</title></line>"#,
            x - 5.0,
            x + 5.0,
            esc(label)
        );
        return;
    }
    let s: Vec<String> = pts.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
    let _ = write!(
        o,
        r#"<polyline fill="none" stroke="{color}" stroke-width="{width}"{dash} points="{}"><title>{}</title></polyline>"#,
        s.join(" "),
        esc(label)
    );
}

fn legend(o: &mut String, items: &[(&str, &str, Mark)]) {
    let mut x = ML + 10.0;
    for (color, label, mark) in items {
        let text_x = match mark {
            Mark::Square => {
                let _ = write!(o, r#"<rect x="{x:.1}" y="6" width="10" height="10" fill="{color}"/>"#);
                x + 14.0
            }
            Mark::Line(width, dashed) => {
                let dash = if *dashed {
                    format!(r#" stroke-dasharray="{DASH}""#)
                } else {
                    String::new()
                };
                let _ = write!(
                    o,
                    r#"<line class="legend-line" x1="{x:.1}" y1="11" x2="{:.1}" y2="11" stroke="{color}" stroke-width="{width}"{dash}/>"#,
                    x + 24.0
                );
                x + 28.0
            }
        };
        let _ = write!(o, r#"<text x="{text_x:.1}" y="15" class="tick">{}</text>"#, esc(label));
        x = text_x + label.chars().count() as f64 * TICK_CHAR_W + 22.0;
    }
}

/// The percentile series: `(selector, color, label, width, dashed)`, drawn in this order. p95
/// is wide and underneath, p50 narrower on top of it, p99 dashed on top of both, so that
/// coinciding percentiles (few runs per bucket) stay visible.
const PERCENTILE_SERIES: [(usize, &str, &str, f64, bool); 3] = [
    (1, "#f0a030", "p95", 4.5, false),
    (0, "#2b7bb9", "p50", 2.0, false),
    (2, "#8e44ad", "p99", 2.0, true),
];

fn chart_percentiles(o: &mut String, t: &TaskReport, id: &str) {
    svg_open(
        o,
        id,
        &format!("{}: duration percentiles over time, UTC (anomalies in red)", t.name),
        H,
    );
    let x0 = t.buckets.first().map_or(0, |b| b.start_unix_ns) as f64;
    let x1 = t.buckets.last().map_or(1, |b| b.end_unix_ns) as f64;
    let ymax = t
        .buckets
        .iter()
        .filter(|b| b.runs > 0)
        .map(|b| b.p99)
        .chain(t.anomalies.iter().map(|a| a.duration_secs))
        .fold(0.0, f64::max);
    let x = Axis::time(x0, x1, ML, W - MR);
    let y = Axis::value(
        0.0,
        (ymax * 1.02).max(1e-6),
        H - MB,
        MT,
        false,
        true,
        1e-6,
        &fmt_secs_tick,
    );
    axes(o, &x, &y);
    let mid = |b: &Bucket| x.at((b.start_unix_ns as f64 + b.end_unix_ns as f64) / 2.0);
    for (sel, color, label, width, dashed) in PERCENTILE_SERIES {
        // one line per run of consecutive non-empty buckets: no line across an empty bucket
        for seg in t.buckets.split(|b| b.runs == 0) {
            let pts: Vec<(f64, f64)> = seg.iter().map(|b| (mid(b), y.at([b.p50, b.p95, b.p99][sel]))).collect();
            polyline(o, &pts, color, label, width, dashed);
        }
    }
    for a in &t.anomalies {
        let _ = write!(
            o,
            r##"<circle class="anomaly" cx="{:.1}" cy="{:.1}" r="4" fill="#d62728"><title>run {} ({}): {}</title></circle>"##,
            x.at(a.at_unix_ns as f64),
            y.at(a.duration_secs),
            a.run,
            esc(&a.metric),
            fmt_secs(a.duration_secs)
        );
    }
    let mut items: Vec<(&str, &str, Mark)> = [1usize, 0, 2]
        .iter()
        .map(|&k| {
            let (_, color, label, width, dashed) = PERCENTILE_SERIES[k];
            (color, label, Mark::Line(width, dashed))
        })
        .collect();
    items.push(("#d62728", "anomaly", Mark::Square));
    legend(o, &items);
    o.push_str("</svg></figure>");
}

/// Distinct input sizes a report model needs before it is fitted and drawn.
const MODEL_MIN_SIZES: usize = 3;

fn chart_size(o: &mut String, t: &TaskReport, m: Option<&ModelSummary>, id: &str) {
    let title = match m {
        Some(m) => format!(
            "{}: duration against input size, fitted {} with 90% band",
            t.name, m.class
        ),
        None => format!("{}: duration against input size", t.name),
    };
    if t.size_points.is_empty() {
        empty_chart(
            o,
            id,
            "Duration against input size: no input sizes recorded for this task; declare one with #[task(size)]",
        );
        return;
    }
    svg_open(o, id, &title, H);
    let (xmin, xmax) = t
        .size_points
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.0), b.max(p.0)));
    let ymax = t
        .size_points
        .iter()
        .map(|p| p.1)
        .chain(m.into_iter().flat_map(|m| m.curve.iter().map(|c| c.3)))
        .fold(0.0, f64::max);
    // from zero unless the sizes sit far from it; one distinct size is padded around it
    let lo = if xmax > xmin && xmin < xmax - xmin { 0.0 } else { xmin };
    let x = Axis::value(lo, xmax, ML, W - MR, true, true, 1.0, &fmt_count);
    let y = Axis::value(
        0.0,
        (ymax * 1.02).max(1e-6),
        H - MB,
        MT,
        false,
        true,
        1e-6,
        &fmt_secs_tick,
    );
    axes(o, &x, &y);
    if let Some(m) = m {
        let mut band: Vec<String> = m
            .curve
            .iter()
            .map(|c| format!("{:.1},{:.1}", x.at(c.0), y.at(c.3)))
            .collect();
        band.extend(
            m.curve
                .iter()
                .rev()
                .map(|c| format!("{:.1},{:.1}", x.at(c.0), y.at(c.2))),
        );
        let _ = write!(
            o,
            r##"<polygon class="band" fill="#2b7bb9" fill-opacity="0.15" stroke="none" points="{}"/>"##,
            band.join(" ")
        );
    }
    for p in t.size_points.iter().filter(|p| !p.2) {
        let _ = write!(
            o,
            r##"<circle cx="{:.1}" cy="{:.1}" r="2" fill="#555" fill-opacity="0.5"/>"##,
            x.at(p.0),
            y.at(p.1)
        );
    }
    if let Some(m) = m {
        let pts: Vec<(f64, f64)> = m.curve.iter().map(|c| (x.at(c.0), y.at(c.1))).collect();
        polyline(o, &pts, "#2b7bb9", &format!("fitted {}", m.class), 2.0, false);
    }
    for p in t.size_points.iter().filter(|p| p.2) {
        let _ = write!(
            o,
            r##"<circle class="anomaly" cx="{:.1}" cy="{:.1}" r="4" fill="#d62728"/>"##,
            x.at(p.0),
            y.at(p.1)
        );
    }
    let mut items = vec![("#555", "execution", Mark::Square)];
    if m.is_some() {
        items.push(("#2b7bb9", "fit and 90% band", Mark::Line(2.0, false)));
    }
    if t.size_points.iter().any(|p| p.2) {
        items.push(("#d62728", "anomaly", Mark::Square));
    }
    legend(o, &items);
    o.push_str("</svg>");
    if m.is_none() {
        let mut sizes: Vec<u64> = t.size_points.iter().map(|p| p.0 as u64).collect();
        sizes.sort_unstable();
        sizes.dedup();
        let why = if sizes.len() == 1 {
            format!("every run had input size {}", group_thousands(sizes[0]))
        } else {
            format!(
                "{} runs at {} distinct input sizes",
                group_thousands(t.size_points.len() as u64),
                sizes.len()
            )
        };
        let _ = write!(
            o,
            r#"<p class="note">{}: too little to fit a duration model (it needs at least 10 runs at {MODEL_MIN_SIZES} or more distinct sizes).</p>"#,
            esc(&why)
        );
    }
    o.push_str("</figure>");
}

fn chart_retries(o: &mut String, t: &TaskReport, id: &str) {
    let title = format!("{}: retries, failures and breaker rejections over time, UTC", t.name);
    let ymax = t
        .buckets
        .iter()
        .map(|b| b.retries.max(b.failures).max(b.breaker_rejections))
        .max()
        .unwrap_or(0);
    if ymax == 0 {
        empty_chart(o, id, "No retries, failures or rejections in this period.");
        return;
    }
    svg_open(o, id, &title, H);
    let x0 = t.buckets.first().map_or(0, |b| b.start_unix_ns) as f64;
    let x1 = t.buckets.last().map_or(1, |b| b.end_unix_ns) as f64;
    let x = Axis::time(x0, x1, ML, W - MR);
    let y = Axis::value(0.0, ymax as f64, H - MB, MT, true, true, 1.0, &fmt_count);
    axes(o, &x, &y);
    for b in &t.buckets {
        let (left, right) = (x.at(b.start_unix_ns as f64), x.at(b.end_unix_ns as f64));
        let bw = (right - left) / 3.5;
        for (j, (v, color, label)) in [
            (b.retries, "#f0a030", "retries"),
            (b.failures, "#d62728", "failures"),
            (b.breaker_rejections, "#555", "breaker rejections"),
        ]
        .iter()
        .enumerate()
        {
            if *v == 0 {
                continue;
            }
            let px = left + bw * (0.25 + j as f64);
            let top = y.at(*v as f64);
            let _ = write!(
                o,
                r#"<rect x="{px:.1}" y="{top:.1}" width="{bw:.1}" height="{:.1}" fill="{color}"><title>{v} {label}</title></rect>"#,
                (H - MB) - top
            );
        }
    }
    legend(
        o,
        &[
            ("#f0a030", "retries", Mark::Square),
            ("#d62728", "failures", Mark::Square),
            ("#555", "breaker rejections", Mark::Square),
        ],
    );
    o.push_str("</svg></figure>");
}

/// The directory all paths share (ending in `/`), when there are at least two paths and it
/// is not just `/`.
fn common_dir(paths: &[&str]) -> Option<String> {
    if paths.len() < 2 {
        return None;
    }
    let mut prefix: &str = paths[0];
    for p in &paths[1..] {
        let n = prefix
            .char_indices()
            .zip(p.chars())
            .take_while(|((_, a), b)| a == b)
            .last()
            .map_or(0, |((i, a), _)| i + a.len_utf8());
        prefix = &prefix[..n];
    }
    let cut = prefix.rfind('/')? + 1;
    (cut > 1).then(|| prefix[..cut].to_string())
}

/// `s` cut from the left to at most `width` characters, `…` marking the cut.
fn shorten_left(s: &str, width: usize) -> String {
    let n = s.chars().count();
    if n <= width {
        return s.to_string();
    }
    let keep = width.saturating_sub(1);
    let tail: String = s.chars().skip(n - keep).collect();
    format!("…{tail}")
}

fn chart_files(o: &mut String, files: &[FileRow], prefix: &str, id: &str) {
    let rows: Vec<&FileRow> = files.iter().take(12).collect();
    let bar_h = 9.0;
    let row_h = bar_h * 2.0 + 6.0;
    let height = MT + 8.0 + rows.len() as f64 * row_h + 8.0;
    let title = if files.len() > rows.len() {
        format!(
            "file access: executions reading and writing each file ({} most used of {})",
            rows.len(),
            files.len()
        )
    } else {
        "file access: executions reading and writing each file".to_string()
    };
    svg_open(o, id, &title, height);
    let max = rows
        .iter()
        .map(|f| f.read_runs.max(f.write_runs))
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let left = 250.0;
    let right = W - MR - 40.0;
    for (k, f) in rows.iter().enumerate() {
        let y0 = MT + 8.0 + k as f64 * row_h;
        let name = shorten_left(f.path.strip_prefix(prefix).unwrap_or(&f.path), 38);
        let _ = write!(
            o,
            r#"<text x="{}" y="{:.1}" text-anchor="end" class="tick"><title>{}</title>{}</text>"#,
            left - 6.0,
            y0 + bar_h + 4.0,
            esc(&f.path),
            esc(&name)
        );
        for (j, (v, color, what)) in [(f.read_runs, "#2b7bb9", "read"), (f.write_runs, "#f0a030", "written")]
            .iter()
            .enumerate()
        {
            if *v == 0 {
                continue;
            }
            let w = (right - left) * *v as f64 / max;
            // a lone bar sits level with its label
            let by = if f.read_runs == 0 || f.write_runs == 0 {
                y0 + bar_h / 2.0
            } else {
                y0 + j as f64 * bar_h
            };
            let _ = write!(
                o,
                r#"<rect x="{left}" y="{by:.1}" width="{w:.1}" height="{bar_h:.1}" fill="{color}"><title>{what} in {v} executions</title></rect><text x="{:.1}" y="{:.1}" class="tick" style="font-size:8.5px">{v}</text>"#,
                left + w + 4.0,
                by + bar_h - 1.0
            );
        }
    }
    legend(
        o,
        &[
            ("#2b7bb9", "read in N executions", Mark::Square),
            ("#f0a030", "written in N executions", Mark::Square),
        ],
    );
    o.push_str("</svg></figure>");
}

/// The report as a self-contained HTML page with inline SVG charts (no external resources).
pub fn render_html(d: &ReportData) -> String {
    let mut o = String::new();
    let _ = write!(
        o,
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{}</title><style>
body{{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1000px}}
table{{border-collapse:collapse;margin:8px 0}}td,th{{padding:3px 10px;border-bottom:1px solid #ddd;text-align:right}}
td:first-child,th:first-child{{text-align:left}}figure{{margin:12px 0}}figcaption{{font-weight:600;margin-bottom:4px}}
.tick{{font-size:11px;fill:#555}}.spark{{font-family:monospace;white-space:pre}}li{{margin:4px 0}}
p.empty{{margin:12px 0;color:#555}}p.empty b{{color:#222}}p.note{{margin:2px 0 0;color:#555;font-size:90%}}
</style></head><body><h1>{}</h1>"#,
        esc(&d.title),
        esc(&d.title)
    );
    match d.range {
        Some((a, b)) => {
            let _ = write!(
                o,
                "<p>{} executions {}.</p>",
                group_thousands(d.runs),
                esc(&fmt_range(a, b))
            );
        }
        None => o.push_str("<p>No executions.</p>"),
    }
    if !d.tasks.is_empty() {
        o.push_str("<table><tr><th>task</th><th>runs</th><th>failures</th><th>p50</th><th>p90</th><th>p95</th><th>p99</th><th>anomalies</th><th>p95 over time</th></tr>");
        for t in &d.tasks {
            let sl = sparkline(
                &t.buckets
                    .iter()
                    .map(|b| if b.runs > 0 { b.p95 } else { f64::NAN })
                    .collect::<Vec<_>>(),
            );
            let _ = write!(
                o,
                r#"<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class="spark">{}</td></tr>"#,
                esc(&t.name),
                t.runs,
                t.failures,
                fmt_secs(t.duration_percentiles[0]),
                fmt_secs(t.duration_percentiles[1]),
                fmt_secs(t.duration_percentiles[2]),
                fmt_secs(t.duration_percentiles[3]),
                t.anomalies.len(),
                esc(&sl)
            );
        }
        o.push_str("</table>");
    }
    if !d.recommendations.is_empty() {
        o.push_str("<h2>Recommendations</h2><ul>");
        for r in &d.recommendations {
            let _ = write!(o, "<li>{}</li>", esc(&r.message));
        }
        o.push_str("</ul>");
    }
    for (k, t) in d.tasks.iter().enumerate() {
        let _ = write!(o, "<h2>{}</h2>", esc(&t.name));
        if !t.statements.is_empty() {
            o.push_str("<ul>");
            for s in &t.statements {
                let _ = write!(o, "<li>{}</li>", esc(s));
            }
            o.push_str("</ul>");
        }
        chart_percentiles(&mut o, t, &format!("percentiles-{k}"));
        chart_size(&mut o, t, t.model.as_ref(), &format!("size-{k}"));
        chart_retries(&mut o, t, &format!("retries-{k}"));
    }
    if !d.files.is_empty() {
        o.push_str("<h2>Files</h2>");
        let paths: Vec<&str> = d.files.iter().map(|f| f.path.as_str()).collect();
        let prefix = common_dir(&paths).unwrap_or_default();
        if !prefix.is_empty() {
            let _ = write!(o, "<p>Paths relative to <code>{}</code>.</p>", esc(&prefix));
        }
        chart_files(&mut o, &d.files, &prefix, "files");
        o.push_str("<table><tr><th>path</th><th>read in runs</th><th>written in runs</th><th>bytes read</th><th>bytes written</th></tr>");
        for f in d.files.iter().take(50) {
            let _ = write!(
                o,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(f.path.strip_prefix(prefix.as_str()).unwrap_or(&f.path)),
                f.read_runs,
                f.write_runs,
                fmt_bytes(f.bytes_read),
                fmt_bytes(f.bytes_written)
            );
        }
        o.push_str("</table>");
        if d.files.len() > 50 {
            let _ = write!(o, "<p class=\"note\">and {} more files</p>", d.files.len() - 50);
        }
    }
    // counts the rendered charts into a hidden element, so a headless browser check can see
    // them in the DOM (the reader sees nothing)
    let expected = o.matches(r#"<svg class="chart""#).count();
    let _ = write!(o, r#"<p id="chart-count" hidden data-expected="{expected}"></p>"#);
    o.push_str(
        r#"<script>(function(){var n=document.querySelectorAll("svg.chart").length;document.getElementById("chart-count").setAttribute("data-rendered",String(n));})();</script>"#,
    );
    o.push_str("</body></html>\n");
    o
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
    use servicetask_core::record::FileAccess;

    #[test]
    fn sparkline_shapes() {
        assert_eq!(sparkline(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]), "▁▂▃▄▅▆▇█");
        assert_eq!(sparkline(&[2.0, f64::NAN, 2.0]), "▄ ▄");
        assert_eq!(sparkline(&[]), "");
    }

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

    #[test]
    fn empty_report_renders() {
        let d = ReportData::from_records(&[], &ReportOptions::default());
        assert!(render_terminal(&d).contains("no executions"));
        assert!(render_html(&d).contains("No executions"));
    }

    #[test]
    fn html_escapes_names() {
        let recs = vec![ExecutionRecord::new("<b>&x", 0, 1, OutcomeKind::Complete)];
        let html = render_html(&ReportData::from_records(&recs, &ReportOptions::default()));
        assert!(html.contains("&lt;b&gt;&amp;x") && !html.contains("<b>&x"));
    }

    /// Every tick label in the page (the text of `class="tick"` elements).
    fn tick_labels(html: &str) -> Vec<String> {
        html.split(r#"class="tick">"#)
            .skip(1)
            .map(|rest| {
                let rest = rest
                    .strip_prefix("<title>")
                    .map_or(rest, |r| r.split_once("</title>").map_or(r, |x| x.1));
                rest.split('<').next().unwrap_or_default().to_string()
            })
            .collect()
    }

    fn reads_as_negative_zero(label: &str) -> bool {
        label.starts_with('-')
            && label.chars().any(|c| c.is_ascii_digit())
            && !label.chars().any(|c| c.is_ascii_digit() && c != '0')
    }

    /// Three tasks over 0.4 s: `nosize` without input sizes, `zero` whose sizes are all 0 and
    /// durations all 0, `same` whose sizes are all 400.
    fn degenerate_history() -> Vec<ExecutionRecord> {
        let t0 = 1_795_820_771_826_067_011i64;
        let mut recs = Vec::new();
        for i in 0..12i64 {
            recs.push(ExecutionRecord::new(
                "nosize",
                t0 + i * 30_000_000,
                5_000_000,
                OutcomeKind::Complete,
            ));
            let mut z = ExecutionRecord::new("zero", t0 + i * 31_000_000, 0, OutcomeKind::Complete);
            z.input_size = Some(0);
            recs.push(z);
            let mut s = ExecutionRecord::new(
                "same",
                t0 + i * 33_000_000,
                1_000_000 * (1 + i as u64),
                OutcomeKind::Complete,
            );
            s.input_size = Some(400);
            recs.push(s);
        }
        recs
    }

    #[test]
    fn labels_never_read_negative_zero() {
        assert_eq!(no_negative_zero("-0.00".into()), "0.00");
        assert_eq!(no_negative_zero("-0µs".into()), "0µs");
        assert_eq!(no_negative_zero("-0".into()), "0");
        assert_eq!(no_negative_zero("-1.50".into()), "-1.50");
        assert_eq!(no_negative_zero("-".into()), "-");
        assert_eq!(fmt_count(-1e-12, 0.01), "0.00");
        assert_eq!(fmt_secs_tick(-1e-12, 1e-6), "0");
        let html = render_html(&ReportData::from_records(
            &degenerate_history(),
            &ReportOptions::default(),
        ));
        let labels = tick_labels(&html);
        assert!(labels.len() > 20, "{labels:?}");
        let bad: Vec<&String> = labels.iter().filter(|l| reads_as_negative_zero(l)).collect();
        assert!(bad.is_empty(), "negative zero labels: {bad:?}");
        assert!(!html.contains(">-0<") && !html.contains(">-0.") && !html.contains(">-0µs"));
        // the CLI demo's history (one size per task) was the original symptom
        let mut one = Vec::new();
        for i in 0..5i64 {
            let mut r = ExecutionRecord::new("file_processing", i * 1_000_000, 7_000_000, OutcomeKind::Complete);
            r.input_size = Some(1);
            one.push(r);
        }
        let html = render_html(&ReportData::from_records(&one, &ReportOptions::default()));
        assert!(!tick_labels(&html).iter().any(|l| reads_as_negative_zero(l)));
    }

    #[test]
    fn size_chart_without_sizes_says_so_in_one_line() {
        let d = ReportData::from_records(&degenerate_history(), &ReportOptions::default());
        let html = render_html(&d);
        let k = d.tasks.iter().position(|t| t.name == "nosize").unwrap();
        assert!(html.contains(&format!(
            r#"<p class="empty" id="size-{k}">Duration against input size: no input sizes recorded for this task; declare one with #[task(size)]</p>"#
        )));
        assert!(!html.contains(&format!(r#"id="size-{k}" viewBox"#)));
    }

    #[test]
    fn one_distinct_size_gets_a_padded_axis_and_no_model() {
        let d = ReportData::from_records(&degenerate_history(), &ReportOptions::default());
        let same = d.tasks.iter().find(|t| t.name == "same").unwrap();
        assert!(same.model.is_none(), "one size cannot support a model");
        let x = Axis::value(400.0, 400.0, 0.0, 100.0, true, true, 1.0, &fmt_count);
        assert!(x.lo < 400.0 && x.hi > 400.0, "{} {}", x.lo, x.hi);
        assert!((x.at(400.0) - 50.0).abs() < 1e-9, "the value sits in the middle");
        let labels: Vec<&str> = x.ticks.iter().map(|t| t.1.as_str()).collect();
        assert_eq!(labels, ["200", "300", "400", "500", "600"]);
        // size 0: padded to -1..1, no negative size labelled
        let x = Axis::value(0.0, 0.0, 0.0, 100.0, true, true, 1.0, &fmt_count);
        assert!((x.at(0.0) - 50.0).abs() < 1e-9);
        let labels: Vec<&str> = x.ticks.iter().map(|t| t.1.as_str()).collect();
        assert_eq!(labels, ["0", "1"]);
        let html = render_html(&d);
        let k = d.tasks.iter().position(|t| t.name == "same").unwrap();
        assert!(html.contains(&format!(r#"id="size-{k}" viewBox"#)));
        assert!(html.contains("every run had input size 400: too little to fit a duration model"));
        assert!(render_terminal(&d).contains("no model (every run had input size 400;"));
    }

    #[test]
    fn retries_chart_only_when_something_happened() {
        let d = ReportData::from_records(&degenerate_history(), &ReportOptions::default());
        let html = render_html(&d);
        assert_eq!(
            html.matches("No retries, failures or rejections in this period.")
                .count(),
            3
        );
        assert!(!html.contains(r#"id="retries-0" viewBox"#));
        let mut recs = degenerate_history();
        recs[0].attempts = 3; // nosize, first run: two retries
        let d = ReportData::from_records(&recs, &ReportOptions::default());
        let k = d.tasks.iter().position(|t| t.name == "nosize").unwrap();
        let html = render_html(&d);
        assert!(html.contains(&format!(r#"id="retries-{k}" viewBox"#)));
        assert_eq!(
            html.matches("No retries, failures or rejections in this period.")
                .count(),
            2
        );
        assert!(html.contains("<title>2 retries</title>"));
        // integer ticks on a count axis
        let svg = html
            .split(&format!(r#"id="retries-{k}""#))
            .nth(1)
            .unwrap()
            .split("</svg>")
            .next()
            .unwrap();
        let labels = tick_labels(svg);
        assert!(
            labels.iter().any(|l| l == "2") && !labels.iter().any(|l| l.contains('.') && !l.contains(':')),
            "{labels:?}"
        );
    }

    #[test]
    fn coinciding_percentiles_stay_visible_and_the_legend_matches() {
        // one run per bucket: p50 == p95 == p99
        let recs: Vec<_> = (0..24)
            .map(|i| ExecutionRecord::new("t", i * 1_000_000_000, 1_000_000, OutcomeKind::Complete))
            .collect();
        let html = render_html(&ReportData::from_records(&recs, &ReportOptions::default()));
        let svg = html
            .split(r#"id="percentiles-0""#)
            .nth(1)
            .unwrap()
            .split("</svg>")
            .next()
            .unwrap();
        // p99 dashed, p95 wider than p50, in the chart and in the legend
        let p99 = r##"stroke="#8e44ad" stroke-width="2" stroke-dasharray="7 4""##;
        let p95 = r##"stroke="#f0a030" stroke-width="4.5""##;
        let p50 = r##"stroke="#2b7bb9" stroke-width="2""##;
        for s in [p99, p95, p50] {
            assert!(svg.matches(s).count() >= 2, "{s} missing in chart or legend");
        }
        assert!(svg.contains(&format!(r#"<polyline fill="none" {p99}"#)));
        // drawn after (on top of) p95 and p50
        let at = |s: &str| svg.find(&format!("<polyline fill=\"none\" {s}")).unwrap();
        assert!(at(p95) < at(p50) && at(p50) < at(p99));
    }

    #[test]
    fn time_ticks_follow_the_span_and_fit() {
        assert_eq!(fmt_clock(3_600_000_000_000 + 61_250_000_000, 100_000_000), "01:01:01.2");
        assert_eq!(fmt_clock(3_600_000_000_000 + 61_250_000_000, 5_000_000_000), "01:01:01");
        assert_eq!(fmt_clock(3_600_000_000_000 + 60_000_000_000, 300_000_000_000), "01:01");
        assert_eq!(fmt_clock(86_400_000_000_000, 6 * 3_600_000_000_000), "01-02");
        // a 0.4 s report (the CLI demo) used to label every tick "23:06 UTC"
        let d = ReportData::from_records(&degenerate_history(), &ReportOptions::default());
        let html = render_html(&d);
        let svg = html
            .split(r#"id="percentiles-0""#)
            .nth(1)
            .unwrap()
            .split("</svg>")
            .next()
            .unwrap();
        let mut labels: Vec<String> = tick_labels(svg).into_iter().filter(|l| l.contains(':')).collect();
        assert!(labels.len() >= 3, "{labels:?}");
        assert!(labels.iter().all(|l| l.contains('.')), "sub-second ticks: {labels:?}");
        let n = labels.len();
        labels.dedup();
        assert_eq!(labels.len(), n, "distinct labels");
        // every x label is centred and inside the picture
        for part in svg.split(r#"text-anchor="middle" class="tick">"#).skip(1) {
            let label = part.split('<').next().unwrap();
            let before = svg
                .find(&format!(r#"text-anchor="middle" class="tick">{label}<"#))
                .unwrap();
            let x: f64 = svg[..before]
                .rsplit("<text x=\"")
                .next()
                .unwrap()
                .split('"')
                .next()
                .unwrap()
                .parse()
                .unwrap();
            let half = label.chars().count() as f64 * TICK_CHAR_W / 2.0;
            assert!(x - half >= 0.0 && x + half <= W, "{label} at {x}");
        }
        // an 11-hour report gets hour:minute ticks on round times
        let x = Axis::time(0.0, 11.0 * 3600e9, 0.0, 100.0);
        let labels: Vec<&str> = x.ticks.iter().map(|t| t.1.as_str()).collect();
        assert_eq!(labels, ["01-01", "02:00", "04:00", "06:00", "08:00", "10:00"]);
    }

    #[test]
    fn value_axes_have_round_ticks() {
        let y = Axis::value(0.0, 0.0776, 100.0, 0.0, false, true, 1e-6, &fmt_secs_tick);
        let labels: Vec<&str> = y.ticks.iter().map(|t| t.1.as_str()).collect();
        assert_eq!(labels, ["0", "20ms", "40ms", "60ms", "80ms"]);
        let x = Axis::value(0.0, 5097.0, 0.0, 100.0, true, true, 1.0, &fmt_count);
        let labels: Vec<&str> = x.ticks.iter().map(|t| t.1.as_str()).collect();
        assert_eq!(labels, ["0", "2000", "4000", "6000"]);
        assert_eq!(fmt_secs_tick(0.0005, 0.0002), "500µs");
        assert_eq!(fmt_secs_tick(0.0015, 0.0005), "1.5ms");
        assert_eq!(fmt_count(1_500_000.0, 500_000.0), "1.5M");
    }

    #[test]
    fn page_has_no_meaningless_chart_count_and_counts_charts_for_the_browser_check() {
        let d = ReportData::from_records(&degenerate_history(), &ReportOptions::default());
        let html = render_html(&d);
        assert!(!html.contains("charts: "));
        let n = html.matches(r#"<svg class="chart""#).count();
        assert_eq!(n, 5, "3 percentile charts, 2 size charts, no retry chart");
        assert!(html.contains(&format!(r#"<p id="chart-count" hidden data-expected="{n}"></p>"#)));
    }

    #[test]
    fn range_shows_seconds_when_short() {
        let t = 1_795_820_771_826_067_011i64; // 2026-11-27 23:06:11 UTC
        assert_eq!(
            fmt_range(t, t + 400_000_000),
            "on 2026-11-27 from 23:06:11 to 23:06:12 UTC"
        );
        assert_eq!(
            fmt_range(t - 7_200_000_000_000, t),
            "on 2026-11-27 from 21:06 to 23:06 UTC"
        );
        assert_eq!(
            fmt_range(t, t + 86_400_000_000_000),
            "from 2026-11-27 23:06 UTC to 2026-11-28 23:06 UTC"
        );
    }

    #[test]
    fn terminal_file_table_stays_aligned_with_long_paths() {
        let long = format!("/srv/data/{}/input.csv", "very-long-directory-name/".repeat(5));
        let mut recs = Vec::new();
        for (i, path) in [long.as_str(), "a.txt", "/tmp/b.json"].iter().enumerate() {
            let mut r = ExecutionRecord::new("t", i as i64, 1_000, OutcomeKind::Complete);
            r.files.push(FileAccess {
                path: path.to_string(),
                kind: FileAccessKind::Read,
                bytes: 10,
                ops: 1,
                file_size: None,
            });
            r.files.push(FileAccess {
                path: "/only/looked/at".into(),
                kind: FileAccessKind::Meta,
                bytes: 0,
                ops: 1,
                file_size: None,
            });
            recs.push(r);
        }
        let text = render_terminal(&ReportData::from_records(&recs, &ReportOptions::default()));
        let table: Vec<&str> = text
            .split("== files ==\n")
            .nth(1)
            .unwrap()
            .lines()
            .take_while(|l| !l.is_empty())
            .collect();
        assert_eq!(
            table.len(),
            4,
            "header and three files (metadata-only paths left out): {table:?}"
        );
        let widths: Vec<usize> = table.iter().map(|l| l.chars().count()).collect();
        assert!(widths.iter().all(|&w| w == widths[0]), "{table:#?}");
        assert!(
            table.iter().any(|l| l.starts_with("…") && l.contains("/input.csv ")),
            "{table:#?}"
        );
        assert_eq!(shorten_left("abcdef", 4), "…def");
        assert_eq!(shorten_left("abc", 4), "abc");
        assert_eq!(
            common_dir(&["/tmp/rp/a.csv", "/tmp/rp/out/b.csv"]).as_deref(),
            Some("/tmp/rp/")
        );
        assert_eq!(common_dir(&["/a.csv", "/b.csv"]), None);
    }
}
