//! [`ReportBuilder`]: the report's figures accumulated record by record in bounded memory.

use std::collections::{BTreeMap, HashMap, VecDeque};

use servicetask_core::record::{ExecutionRecord, FileAccessKind, OutcomeKind};
use sketches_ddsketch::DDSketch;

use super::*;
use crate::anomaly::AnomalyMonitor;
use crate::bounded::{Reservoir, Thinned, TopK};
use crate::dependencies::{sort_patterns, DependencyPattern, DependencyRow, DependencyThresholds};
use crate::percentiles::new_sketch;
use crate::predict::SizeModel;
use crate::recommend::recommend_refs;
use crate::trends::{describe, TrendPoint};

/// Points of the thinned duration series the change statements look at.
const SERIES_POINTS: usize = 4096;
/// Distinct error classes counted per task; the rest are counted as `other`.
const ERROR_CLASSES: usize = 100;
/// First bucket width tried, nanoseconds (it doubles as the covered period grows).
const FIRST_WIDTH_NS: i64 = 1_000;

/// One time bucket being filled.
#[derive(Clone)]
struct BucketAcc {
    runs: u64,
    failures: u64,
    retries: u64,
    breaker_rejections: u64,
    duration: DDSketch,
    cpu: Option<DDSketch>,
    memory: Option<DDSketch>,
}

impl BucketAcc {
    fn new() -> Self {
        BucketAcc {
            runs: 0,
            failures: 0,
            retries: 0,
            breaker_rejections: 0,
            duration: new_sketch(),
            cpu: None,
            memory: None,
        }
    }

    fn merge(&mut self, o: &BucketAcc) {
        self.runs += o.runs;
        self.failures += o.failures;
        self.retries += o.retries;
        self.breaker_rejections += o.breaker_rejections;
        merge_sketch(&mut self.duration, &o.duration);
        merge_optional(&mut self.cpu, &o.cpu);
        merge_optional(&mut self.memory, &o.memory);
    }
}

fn merge_sketch(into: &mut DDSketch, from: &DDSketch) {
    // one configuration everywhere, so merging cannot fail
    let _ = into.merge(from);
}

fn merge_optional(into: &mut Option<DDSketch>, from: &Option<DDSketch>) {
    if let Some(f) = from {
        merge_sketch(into.get_or_insert_with(new_sketch), f);
    }
}

fn add_optional(s: &mut Option<DDSketch>, v: Option<f64>) {
    if let Some(v) = v.filter(|v| v.is_finite() && *v >= 0.0) {
        s.get_or_insert_with(new_sketch).add(v);
    }
}

fn quantiles(s: &DDSketch, qs: &[f64]) -> Option<Vec<f64>> {
    qs.iter().map(|&q| s.quantile(q).ok().flatten()).collect()
}

fn percentiles(s: &DDSketch) -> Option<Percentiles> {
    quantiles(s, &[0.5, 0.9, 0.95, 0.99]).map(|v| [v[0], v[1], v[2], v[3]])
}

/// Everything kept about one task.
struct TaskAcc {
    runs: u64,
    complete: u64,
    bpmn_errors: u64,
    failures: u64,
    retried_runs: u64,
    fallback_runs: u64,
    duration: DDSketch,
    cpu: Option<DDSketch>,
    memory: Option<DDSketch>,
    buckets: Vec<BucketAcc>,
    scatter: Reservoir<(f64, f64, bool)>,
    sample: Reservoir<ExecutionRecord>,
    sized_runs: u64,
    sizes: Vec<u64>,
    anomalies: VecDeque<AnomalyMark>,
    anomaly_count: u64,
    recent: VecDeque<RunRow>,
    series: Thinned,
    errors: HashMap<String, u64>,
}

impl TaskAcc {
    fn new(seed: u64) -> Self {
        TaskAcc {
            runs: 0,
            complete: 0,
            bpmn_errors: 0,
            failures: 0,
            retried_runs: 0,
            fallback_runs: 0,
            duration: new_sketch(),
            cpu: None,
            memory: None,
            buckets: Vec::new(),
            scatter: Reservoir::new(SCATTER_POINTS, seed),
            sample: Reservoir::new(SAMPLED_RECORDS, seed ^ 0x5eed),
            sized_runs: 0,
            sizes: Vec::new(),
            anomalies: VecDeque::new(),
            anomaly_count: 0,
            recent: VecDeque::new(),
            series: Thinned::new(SERIES_POINTS),
            errors: HashMap::new(),
        }
    }
}

/// Accumulates the report record by record. See the [module docs](super).
pub struct ReportBuilder {
    options: ReportOptions,
    runs: u64,
    range: Option<(i64, i64)>,
    /// Start of the first bucket and the bucket width, nanoseconds.
    grid: Option<(i64, i64)>,
    tasks: BTreeMap<String, TaskAcc>,
    monitor: AnomalyMonitor,
    files: TopK<String, FileRow>,
    dependencies: TopK<String, DependencyPattern>,
}

impl ReportBuilder {
    /// An empty report with these options.
    pub fn new(options: ReportOptions) -> Self {
        ReportBuilder {
            options,
            runs: 0,
            range: None,
            grid: None,
            tasks: BTreeMap::new(),
            monitor: AnomalyMonitor::default(),
            files: TopK::new(TRACKED_FILES),
            dependencies: TopK::new(TRACKED_DEPENDENCIES),
        }
    }

    fn max_buckets(&self) -> usize {
        self.options.buckets.max(2)
    }

    /// Adds one record (records come in start order; one that starts before the first is counted
    /// in the first bucket). Records outside the options' task or period are skipped.
    pub fn push(&mut self, r: &ExecutionRecord) {
        let o = &self.options;
        if o.task.as_ref().is_some_and(|t| &r.task != t) || o.since_unix_ns.is_some_and(|s| r.started_at_unix_ns < s) {
            return;
        }
        let t = r.started_at_unix_ns;
        self.runs += 1;
        self.range = Some(self.range.map_or((t, t), |(a, b)| (a.min(t), b.max(t))));
        let slot = self.slot(t);
        let seed = self.tasks.len() as u64 + 1;
        let acc = self.tasks.entry(r.task.clone()).or_insert_with(|| TaskAcc::new(seed));
        acc.runs += 1;
        let run = acc.runs;
        match r.outcome {
            OutcomeKind::Complete => acc.complete += 1,
            OutcomeKind::BpmnError => acc.bpmn_errors += 1,
            OutcomeKind::Failure => acc.failures += 1,
        }
        acc.retried_runs += u64::from(r.attempts > 1);
        acc.fallback_runs += u64::from(r.fallback_used);
        let secs = r.duration_secs();
        let cpu = r.cpu_ns.map(|v| v as f64 / 1e9);
        let mem = r.mem_peak_bytes.map(|v| v as f64);
        acc.duration.add(secs);
        add_optional(&mut acc.cpu, cpu);
        add_optional(&mut acc.memory, mem);
        if acc.buckets.len() <= slot {
            acc.buckets.resize_with(slot + 1, BucketAcc::new);
        }
        let b = &mut acc.buckets[slot];
        b.runs += 1;
        b.failures += u64::from(r.outcome == OutcomeKind::Failure);
        b.retries += u64::from(r.attempts.saturating_sub(1));
        b.breaker_rejections += u64::from(
            r.error_class
                .as_deref()
                .is_some_and(|c| c.contains("breaker") || c.contains("circuit")),
        );
        b.duration.add(secs);
        add_optional(&mut b.cpu, cpu);
        add_optional(&mut b.memory, mem);
        // anomalies: the streaming monitor, plus flags already stored
        let found = self.monitor.observe(r);
        let mark = |metric: String, value: f64, expected: Option<f64>| AnomalyMark {
            run,
            at_unix_ns: t,
            metric,
            duration_secs: secs,
            value,
            input_size: r.input_size.map(|s| s as f64),
            expected,
        };
        let anomaly = if let Some(a) = found.first() {
            let metrics: Vec<&str> = found.iter().map(|a| a.metric.as_str()).collect();
            Some(mark(metrics.join("+"), a.value, a.expected))
        } else if r.anomaly {
            Some(mark("flagged".to_string(), secs, None))
        } else {
            None
        };
        let anomalous = anomaly.is_some();
        if let Some(a) = anomaly {
            acc.anomaly_count += 1;
            acc.anomalies.push_back(a);
            if acc.anomalies.len() > LISTED_ANOMALIES {
                acc.anomalies.pop_front();
            }
        }
        if let Some(size) = r.input_size {
            acc.sized_runs += 1;
            if acc.sizes.len() < MODEL_MIN_SIZES && !acc.sizes.contains(&size) {
                acc.sizes.push(size);
            }
            acc.scatter.push((size as f64, secs, anomalous));
        }
        acc.sample.offer(|| r.clone());
        acc.recent.push_back(RunRow {
            run,
            at_unix_ns: t,
            outcome: r.outcome.as_str().to_string(),
            duration_secs: secs,
            cpu_secs: cpu,
            mem_peak_bytes: r.mem_peak_bytes,
            input_size: r.input_size,
            attempts: r.attempts,
            net_bytes: (r.net_bytes_sent(), r.net_bytes_received()),
        });
        if acc.recent.len() > RECENT_RUNS {
            acc.recent.pop_front();
        }
        acc.series.push(TrendPoint {
            at_unix_ns: t,
            run,
            value: secs,
        });
        if r.outcome != OutcomeKind::Complete {
            let class = r.error_class.clone().unwrap_or_else(|| "unclassified".into());
            let known = acc.errors.len() < ERROR_CLASSES || acc.errors.contains_key(&class);
            *acc.errors
                .entry(if known { class } else { "other".into() })
                .or_default() += 1;
        }
        self.count_files(r);
        for d in &r.dependencies {
            self.dependencies.add(
                &d.name,
                || DependencyPattern::named(d.name.as_str()),
                |p| p.add(d, r.duration_ns),
            );
        }
    }

    /// The bucket of time `t`, widening the buckets (merging neighbours) when `t` lies beyond
    /// twice the bucket count.
    fn slot(&mut self, t: i64) -> usize {
        let (t0, mut width) = *self.grid.get_or_insert((t, FIRST_WIDTH_NS));
        let limit = 2 * self.max_buckets() as i64;
        let offset = t.saturating_sub(t0).max(0);
        while offset / width >= limit {
            width = width.saturating_mul(2);
            for acc in self.tasks.values_mut() {
                acc.buckets = merge_pairs(&acc.buckets);
            }
        }
        self.grid = Some((t0, width));
        (offset / width) as usize
    }

    fn count_files(&mut self, r: &ExecutionRecord) {
        // a run counts once per file and direction (a few files per run: a list, not a set)
        let mut seen: Vec<(&str, bool)> = Vec::new();
        for f in &r.files {
            let write = match f.kind {
                FileAccessKind::Read => false,
                FileAccessKind::Write => true,
                FileAccessKind::Meta => continue,
            };
            let first = !seen.contains(&(f.path.as_str(), write));
            if first {
                seen.push((f.path.as_str(), write));
            }
            let fresh = || FileRow {
                path: f.path.clone(),
                read_runs: 0,
                write_runs: 0,
                bytes_read: 0,
                bytes_written: 0,
            };
            self.files.add(&f.path, fresh, |row| {
                if write {
                    row.bytes_written += f.bytes;
                    row.write_runs += u64::from(first);
                } else {
                    row.bytes_read += f.bytes;
                    row.read_runs += u64::from(first);
                }
            });
        }
    }

    /// The report.
    pub fn finish(mut self) -> ReportData {
        let max = self.max_buckets();
        let (t0, mut width) = self.grid.unwrap_or((0, FIRST_WIDTH_NS));
        let mut used = self.tasks.values().map(|a| a.buckets.len()).max().unwrap_or(0);
        while used > max {
            width = width.saturating_mul(2);
            for acc in self.tasks.values_mut() {
                acc.buckets = merge_pairs(&acc.buckets);
            }
            used = used.div_ceil(2);
        }
        let mut samples: Vec<ExecutionRecord> = Vec::new();
        let mut tasks = Vec::new();
        for (name, acc) in std::mem::take(&mut self.tasks) {
            let (report, sample) = task_report(name, acc, (t0, width), used, &self.options);
            tasks.push(report);
            samples.extend(sample);
        }
        let refs: Vec<&ExecutionRecord> = samples.iter().collect();
        let mut files: Vec<FileRow> = self
            .files
            .entries()
            .map(|(_, _, _, row)| row.clone())
            .filter(|f| f.read_runs + f.write_runs > 0)
            .collect();
        files.sort_by(|a, b| {
            (b.read_runs + b.write_runs)
                .cmp(&(a.read_runs + a.write_runs))
                .then(a.path.cmp(&b.path))
        });
        let mut patterns: Vec<DependencyPattern> = self.dependencies.entries().map(|(_, _, _, p)| p.clone()).collect();
        sort_patterns(&mut patterns);
        let thresholds = DependencyThresholds::default();
        ReportData {
            dependencies_approximate: self.dependencies.approximate(),
            dependencies: patterns
                .into_iter()
                .map(|p| DependencyRow::new(p, &thresholds))
                .collect(),
            title: self.options.title.clone(),
            runs: self.runs,
            range: self.range,
            tasks,
            files_approximate: self.files.approximate(),
            files,
            recommendations: recommend_refs(&refs, &self.options.timeouts),
        }
    }
}

fn merge_pairs(buckets: &[BucketAcc]) -> Vec<BucketAcc> {
    buckets
        .chunks(2)
        .map(|c| {
            let mut b = c[0].clone();
            if let Some(o) = c.get(1) {
                b.merge(o);
            }
            b
        })
        .collect()
}

fn task_report(
    name: String,
    mut acc: TaskAcc,
    (t0, width): (i64, i64),
    n_buckets: usize,
    options: &ReportOptions,
) -> (TaskReport, Vec<ExecutionRecord>) {
    acc.buckets.resize_with(n_buckets, BucketAcc::new);
    let buckets = acc
        .buckets
        .iter()
        .enumerate()
        .map(|(k, b)| {
            let q = quantiles(&b.duration, &[0.5, 0.95, 0.99]).unwrap_or_else(|| vec![0.0; 3]);
            let pair = |s: &Option<DDSketch>| {
                s.as_ref()
                    .and_then(|s| quantiles(s, &[0.5, 0.95]))
                    .map(|v| (v[0], v[1]))
            };
            Bucket {
                start_unix_ns: t0 + k as i64 * width,
                end_unix_ns: t0 + (k as i64 + 1) * width,
                runs: b.runs,
                p50: q[0],
                p95: q[1],
                p99: q[2],
                cpu: pair(&b.cpu),
                memory: pair(&b.memory),
                failures: b.failures,
                retries: b.retries,
                breaker_rejections: b.breaker_rejections,
            }
        })
        .collect();
    let size_points = acc.scatter.into_items();
    let model = (acc.sized_runs as usize >= MODEL_MIN_RUNS && acc.sizes.len() >= MODEL_MIN_SIZES)
        .then(|| {
            let pts: Vec<(f64, f64)> = size_points.iter().map(|p| (p.0, p.1)).collect();
            SizeModel::fit(&pts).ok().map(|m| model_summary(&m, &pts))
        })
        .flatten();
    // the change statements look at block means once the series is thinned: the shortest
    // segment is counted in points
    let block = acc.series.block();
    let changes = crate::trends::ChangeOptions {
        min_segment: options.changes.min_segment.div_ceil(block).max(2),
        ..options.changes
    };
    let (_, statements) = describe("median duration", &acc.series.points(), &changes);
    let mut error_classes: Vec<(String, u64)> = acc.errors.into_iter().collect();
    error_classes.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let report = TaskReport {
        name,
        runs: acc.runs,
        complete: acc.complete,
        bpmn_errors: acc.bpmn_errors,
        failures: acc.failures,
        retried_runs: acc.retried_runs,
        fallback_runs: acc.fallback_runs,
        duration_percentiles: percentiles(&acc.duration).unwrap_or([0.0; 4]),
        cpu_percentiles: acc.cpu.as_ref().and_then(percentiles),
        memory_percentiles: acc.memory.as_ref().and_then(percentiles),
        buckets,
        size_points,
        sized_runs: (acc.sized_runs, acc.sizes.len()),
        model,
        anomalies: acc.anomalies.into(),
        anomaly_count: acc.anomaly_count,
        recent_runs: acc.recent.into(),
        statements,
        error_classes,
    };
    (report, acc.sample.into_items())
}

fn model_summary(m: &SizeModel, pts: &[(f64, f64)]) -> ModelSummary {
    let v = m.verdict();
    let (lo, hi) = pts
        .iter()
        .fold((f64::MAX, 0.0f64), |(a, b), p| (a.min(p.0), b.max(p.0)));
    let curve = if v.class.is_some() {
        (0..=40)
            .map(|k| {
                let n = lo + (hi - lo) * k as f64 / 40.0;
                let pr = m.predict(n);
                (n, pr.expected, pr.low, pr.high)
            })
            .collect()
    } else {
        Vec::new()
    };
    ModelSummary {
        verdict: v.text,
        class: v.class.map(|c| c.notation().to_string()),
        power_exponent: v.power_exponent,
        mean_rel_error: v.mean_rel_error,
        curve,
    }
}
