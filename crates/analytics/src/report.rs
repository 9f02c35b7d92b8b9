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
use crate::trends::{describe, format_time, group_thousands, SegmentStat, TrendPoint};

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
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions {
            task: None,
            since_unix_ns: None,
            timeouts: HashMap::new(),
            buckets: 24,
            title: "servicetask report".to_string(),
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
    /// Files, most used first.
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
            .map(|(name, runs)| task_report(name, runs, range, buckets))
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
        let mut files: Vec<FileRow> = files.into_values().collect();
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

fn task_report(name: &str, runs: &[&ExecutionRecord], range: Option<(i64, i64)>, n_buckets: usize) -> TaskReport {
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
    let model = if pts.len() >= 10 {
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
    let (_, statements) = describe("p95 duration", &tp, SegmentStat::P95, 0.1);
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

/// The report as terminal text: a task table with p95 sparklines, then per-task details, files
/// and recommendations.
pub fn render_terminal(d: &ReportData) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "{}", d.title);
    match d.range {
        Some((a, b)) => {
            let _ = writeln!(
                o,
                "{} executions from {} to {}\n",
                group_thousands(d.runs),
                format_time(a, true),
                format_time(b, true)
            );
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
                f.path,
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

/// A tick label with as many decimals as the axis span needs.
fn fmt_num(v: f64, span: f64) -> String {
    let decimals = if span >= 20.0 {
        0
    } else if span >= 2.0 {
        1
    } else {
        2
    };
    format!("{v:.decimals$}")
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

/// A linear map from data to pixels.
struct Axis {
    lo: f64,
    hi: f64,
    p0: f64,
    p1: f64,
}

impl Axis {
    fn new(lo: f64, hi: f64, p0: f64, p1: f64) -> Axis {
        let (lo, hi) = if !(lo.is_finite() && hi.is_finite()) {
            (0.0, 1.0)
        } else if hi - lo <= 0.0 {
            (lo - 0.5 * lo.abs().max(1e-9), hi + 0.5 * hi.abs().max(1e-9))
        } else {
            (lo, hi)
        };
        Axis { lo, hi, p0, p1 }
    }
    fn at(&self, v: f64) -> f64 {
        self.p0 + (v - self.lo) / (self.hi - self.lo) * (self.p1 - self.p0)
    }
}

fn svg_open(o: &mut String, id: &str, title: &str) {
    let _ = write!(
        o,
        r#"<figure><figcaption>{}</figcaption><svg class="chart" id="{}" viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img" aria-label="{}" xmlns="http://www.w3.org/2000/svg">"#,
        esc(title),
        esc(id),
        esc(title)
    );
}

fn axes(o: &mut String, x: &Axis, y: &Axis, xfmt: &dyn Fn(f64) -> String, yfmt: &dyn Fn(f64) -> String) {
    let _ = write!(
        o,
        r##"<line x1="{ML}" y1="{}" x2="{}" y2="{}" stroke="#888"/><line x1="{ML}" y1="{MT}" x2="{ML}" y2="{}" stroke="#888"/>"##,
        H - MB,
        W - MR,
        H - MB,
        H - MB
    );
    for k in 0..=4 {
        let v = y.lo + (y.hi - y.lo) * k as f64 / 4.0;
        let py = y.at(v);
        let _ = write!(
            o,
            r##"<line x1="{ML}" y1="{py:.1}" x2="{}" y2="{py:.1}" stroke="#eee"/><text x="{}" y="{:.1}" text-anchor="end" class="tick">{}</text>"##,
            W - MR,
            ML - 4.0,
            py + 4.0,
            esc(&yfmt(v))
        );
        let xv = x.lo + (x.hi - x.lo) * k as f64 / 4.0;
        let px = x.at(xv);
        let _ = write!(
            o,
            r#"<text x="{px:.1}" y="{}" text-anchor="{}" class="tick">{}</text>"#,
            H - MB + 16.0,
            match k {
                0 => "start",
                4 => "end",
                _ => "middle",
            },
            esc(&xfmt(xv))
        );
    }
}

fn polyline(o: &mut String, pts: &[(f64, f64)], color: &str, label: &str) {
    if pts.is_empty() {
        return;
    }
    let s: Vec<String> = pts.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
    let _ = write!(
        o,
        r#"<polyline fill="none" stroke="{color}" stroke-width="2" points="{}"><title>{}</title></polyline>"#,
        s.join(" "),
        esc(label)
    );
}

fn legend(o: &mut String, items: &[(&str, &str)]) {
    for (k, (color, label)) in items.iter().enumerate() {
        let x = ML + 10.0 + k as f64 * 120.0;
        let _ = write!(
            o,
            r#"<rect x="{x}" y="{}" width="10" height="10" fill="{color}"/><text x="{}" y="{}" class="tick">{}</text>"#,
            6.0,
            x + 14.0,
            15.0,
            esc(label)
        );
    }
}

fn chart_percentiles(o: &mut String, t: &TaskReport, id: &str) {
    svg_open(
        o,
        id,
        &format!("{}: duration percentiles over time (anomalies in red)", t.name),
    );
    let filled: Vec<&Bucket> = t.buckets.iter().filter(|b| b.runs > 0).collect();
    let x0 = t.buckets.first().map_or(0, |b| b.start_unix_ns) as f64;
    let x1 = t.buckets.last().map_or(1, |b| b.end_unix_ns) as f64;
    let ymax = filled
        .iter()
        .map(|b| b.p99)
        .chain(t.anomalies.iter().map(|a| a.duration_secs))
        .fold(0.0, f64::max);
    let x = Axis::new(x0, x1, ML, W - MR);
    let y = Axis::new(0.0, ymax * 1.05, H - MB, MT);
    axes(o, &x, &y, &|v| format_time(v as i64, false), &fmt_secs);
    let mid = |b: &Bucket| x.at((b.start_unix_ns as f64 + b.end_unix_ns as f64) / 2.0);
    for (sel, color, label) in [(0usize, "#2b7bb9", "p50"), (1, "#f0a030", "p95"), (2, "#8e44ad", "p99")] {
        let pts: Vec<(f64, f64)> = filled
            .iter()
            .map(|b| (mid(b), y.at([b.p50, b.p95, b.p99][sel])))
            .collect();
        polyline(o, &pts, color, label);
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
    legend(
        o,
        &[
            ("#2b7bb9", "p50"),
            ("#f0a030", "p95"),
            ("#8e44ad", "p99"),
            ("#d62728", "anomaly"),
        ],
    );
    o.push_str("</svg></figure>");
}

fn chart_size(o: &mut String, t: &TaskReport, m: Option<&ModelSummary>, id: &str) {
    let title = match m {
        Some(m) => format!(
            "{}: duration against input size, fitted {} with 90% band",
            t.name, m.class
        ),
        None => format!("{}: duration against input size", t.name),
    };
    svg_open(o, id, &title);
    let xmax = t.size_points.iter().map(|p| p.0).fold(0.0, f64::max);
    let ymax = t
        .size_points
        .iter()
        .map(|p| p.1)
        .chain(m.into_iter().flat_map(|m| m.curve.iter().map(|c| c.3)))
        .fold(0.0, f64::max);
    let x = Axis::new(0.0, xmax * 1.02, ML, W - MR);
    let y = Axis::new(0.0, ymax * 1.05, H - MB, MT);
    let xspan = x.hi - x.lo;
    axes(o, &x, &y, &|v| fmt_num(v, xspan), &fmt_secs);
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
        polyline(o, &pts, "#2b7bb9", &format!("fitted {}", m.class));
    }
    for p in t.size_points.iter().filter(|p| p.2) {
        let _ = write!(
            o,
            r##"<circle class="anomaly" cx="{:.1}" cy="{:.1}" r="4" fill="#d62728"/>"##,
            x.at(p.0),
            y.at(p.1)
        );
    }
    legend(
        o,
        &[
            ("#555", "execution"),
            ("#2b7bb9", "fit and band"),
            ("#d62728", "anomaly"),
        ],
    );
    o.push_str("</svg></figure>");
}

fn chart_retries(o: &mut String, t: &TaskReport, id: &str) {
    svg_open(
        o,
        id,
        &format!("{}: retries, failures and breaker rejections over time", t.name),
    );
    let n = t.buckets.len().max(1);
    let ymax = t
        .buckets
        .iter()
        .map(|b| b.retries.max(b.failures).max(b.breaker_rejections))
        .max()
        .unwrap_or(0) as f64;
    let x = Axis::new(0.0, n as f64, ML, W - MR);
    let y = Axis::new(0.0, ymax.max(1.0) * 1.1, H - MB, MT);
    let x0 = t.buckets.first().map_or(0, |b| b.start_unix_ns) as f64;
    let span = t.buckets.last().map_or(1, |b| b.end_unix_ns) as f64 - x0;
    let yspan = y.hi - y.lo;
    axes(
        o,
        &x,
        &y,
        &|v| format_time((x0 + v / n as f64 * span) as i64, false),
        &|v| fmt_num(v, yspan),
    );
    let bw = (W - ML - MR) / n as f64 / 3.5;
    for (k, b) in t.buckets.iter().enumerate() {
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
            let px = x.at(k as f64) + bw * (0.25 + j as f64);
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
            ("#f0a030", "retries"),
            ("#d62728", "failures"),
            ("#555", "breaker rejections"),
        ],
    );
    o.push_str("</svg></figure>");
}

fn chart_files(o: &mut String, files: &[FileRow], id: &str) {
    let rows: Vec<&FileRow> = files.iter().take(12).collect();
    svg_open(o, id, "file access patterns: executions reading and writing each file");
    let max = rows
        .iter()
        .map(|f| f.read_runs.max(f.write_runs))
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let left = 220.0;
    let bar_h = ((H - MT - 30.0) / rows.len().max(1) as f64 / 2.2).min(9.0);
    for (k, f) in rows.iter().enumerate() {
        let y0 = MT + 24.0 + k as f64 * bar_h * 2.2;
        let name: String = if f.path.chars().count() > 34 {
            format!(
                "…{}",
                f.path
                    .chars()
                    .rev()
                    .take(33)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect::<String>()
            )
        } else {
            f.path.clone()
        };
        let _ = write!(
            o,
            r#"<text x="{}" y="{:.1}" text-anchor="end" class="tick">{}</text>"#,
            left - 6.0,
            y0 + bar_h,
            esc(&name)
        );
        for (j, (v, color)) in [(f.read_runs, "#2b7bb9"), (f.write_runs, "#f0a030")].iter().enumerate() {
            let w = (W - left - MR) * *v as f64 / max;
            let _ = write!(
                o,
                r#"<rect x="{left}" y="{:.1}" width="{w:.1}" height="{bar_h:.1}" fill="{color}"><title>{v} executions</title></rect>"#,
                y0 + j as f64 * bar_h
            );
        }
    }
    legend(o, &[("#2b7bb9", "read in N runs"), ("#f0a030", "written in N runs")]);
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
.tick{{font-size:11px;fill:#555}}.spark{{font-family:monospace}}li{{margin:4px 0}}
</style></head><body><h1>{}</h1>"#,
        esc(&d.title),
        esc(&d.title)
    );
    match d.range {
        Some((a, b)) => {
            let _ = write!(
                o,
                "<p>{} executions from {} to {}.</p>",
                group_thousands(d.runs),
                esc(&format_time(a, true)),
                esc(&format_time(b, true))
            );
        }
        None => o.push_str("<p>No executions.</p>"),
    }
    o.push_str(r#"<p id="chart-count" data-expected=""#);
    let expected = d.tasks.len() * 3 + usize::from(!d.files.is_empty());
    let _ = write!(o, r#"{expected}">charts: {expected}</p>"#);
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
        chart_files(&mut o, &d.files, "files");
        o.push_str("<table><tr><th>path</th><th>read in runs</th><th>written in runs</th><th>bytes read</th><th>bytes written</th></tr>");
        for f in d.files.iter().take(50) {
            let _ = write!(
                o,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&f.path),
                f.read_runs,
                f.write_runs,
                fmt_bytes(f.bytes_read),
                fmt_bytes(f.bytes_written)
            );
        }
        o.push_str("</table>");
    }
    // counts the rendered charts so a headless browser check can see them in the DOM
    o.push_str(
        r#"<script>(function(){var n=document.querySelectorAll("svg.chart").length;var p=document.getElementById("chart-count");p.textContent="charts: "+n;p.setAttribute("data-rendered",String(n));})();</script>"#,
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
}
