//! Streaming anomaly detection for one metric of one task.
//!
//! [`AnomalyDetector`] consumes values one at a time and returns an anomaly score in `[0, 1]`.
//! It is causal (it never looks ahead) and needs no training beyond the values it has seen.
//! When a prediction from the size model is given (see [`crate::predict`]), it judges the
//! residual `value - predicted` instead of the raw value, so a slow run on a big input is not an
//! anomaly while the same duration on a small input is.
//!
//! # How it scores
//!
//! Four robust statistics of each value against a sliding window of recent values:
//!
//! - **level**: `|x - median| / MAD` of the window (the MAD is floored relative to the series'
//!   range so flat data do not divide by zero, and any departure from a flat line stands out);
//! - **shift**: the median of the last `short` values against the window's median, in MADs
//!   (level shifts and changes of distribution);
//! - **change**: the step `|x_t - x_{t-1}|` against the median step of the window;
//! - **novelty**: how far `x` lies beyond the range of everything seen so far.
//!
//! Each statistic is turned into a tail probability against its own past values (empirical
//! below their 90th percentile, an exponential tail fitted to the excesses above it: peaks over
//! threshold), so one threshold means the same on every series. The smallest probability, divided
//! by the statistic's weight, gives the score `1 - p`. Alarms are then debounced: a score is
//! emitted only when it exceeds every raw score of the previous `debounce` values, and nothing is
//! emitted for `cooldown` values after an alarm, so a sustained excursion raises one alarm instead
//! of hundreds (NAB charges every flagged row outside a label window as a false positive; an
//! operator's pager does the same).
//!
//! The default weights (level 0.1, shift 1, change 0, novelty 1) and the threshold 0.999 are
//! those that scored best on the NAB subset in `shared/nab` among the few combinations tried;
//! the neighbourhood of the defaults scores within a few points (see BENCHMARKS.md).
//!
//! Written by hand because no maintained crate offers a streaming, causal, residual-aware
//! detector with this debouncing; the building blocks (sorted window, median, MAD) are small.
//!
//! ```
//! use servicetask_analytics::anomaly::{AnomalyDetector, DetectorConfig};
//! let mut d = AnomalyDetector::new(DetectorConfig::default());
//! let mut last = 0.0;
//! for i in 0..500 {
//!     last = d.update(10.0 + (i % 7) as f64 * 0.1, None);
//! }
//! assert!(last < 0.5);
//! let spike = d.update(100.0, None);
//! assert!(d.is_anomaly(spike));
//! ```

use std::collections::VecDeque;

use servicetask_core::record::ExecutionRecord;

/// Tuning of [`AnomalyDetector`]. The defaults are the ones evaluated on NAB (see BENCHMARKS.md).
#[derive(Debug, Clone, PartialEq)]
pub struct DetectorConfig {
    /// Values in the sliding reference window.
    pub window: usize,
    /// Values in the short window compared with the reference window (shift statistic).
    pub short: usize,
    /// Values seen before any score above 0 is emitted.
    pub warmup: usize,
    /// After a score, later scores are emitted only if they exceed every raw score of this many
    /// previous values.
    pub debounce: usize,
    /// Values after an alarm during which no further alarm is raised.
    pub cooldown: usize,
    /// Weight of the level statistic (its tail probability is divided by the weight; 0 turns the
    /// statistic off).
    pub w_level: f64,
    /// Weight of the shift statistic.
    pub w_shift: f64,
    /// Weight of the change statistic.
    pub w_change: f64,
    /// Weight of the novelty statistic.
    pub w_novelty: f64,
    /// Past distances kept to calibrate the score as an empirical tail probability (0: off).
    pub calibration: usize,
    /// Score at or above which a value is an anomaly (optimised on NAB, one for all series).
    pub threshold: f64,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        DetectorConfig {
            window: 1500,
            short: 6,
            warmup: 60,
            debounce: 120,
            cooldown: 100,
            w_level: 0.1,
            w_shift: 1.0,
            w_change: 0.0,
            w_novelty: 1.0,
            calibration: 2000,
            threshold: 0.999,
        }
    }
}

/// A window of the last `cap` values kept both in arrival order and sorted.
#[derive(Debug, Clone)]
struct SortedWindow {
    cap: usize,
    order: VecDeque<f64>,
    sorted: Vec<f64>,
}

impl SortedWindow {
    fn new(cap: usize) -> Self {
        SortedWindow {
            cap: cap.max(1),
            order: VecDeque::new(),
            sorted: Vec::new(),
        }
    }

    fn push(&mut self, x: f64) {
        if self.order.len() == self.cap {
            if let Some(old) = self.order.pop_front() {
                let i = self.sorted.partition_point(|&v| v < old);
                if i < self.sorted.len() {
                    self.sorted.remove(i);
                }
            }
        }
        self.order.push_back(x);
        let i = self.sorted.partition_point(|&v| v < x);
        self.sorted.insert(i, x);
    }

    fn len(&self) -> usize {
        self.sorted.len()
    }

    fn median(&self) -> f64 {
        median_sorted(&self.sorted)
    }

    /// Median absolute deviation from `m`, by merging the two sides of the sorted window.
    fn mad(&self, m: f64) -> f64 {
        let s = &self.sorted;
        let n = s.len();
        if n == 0 {
            return 0.0;
        }
        let split = s.partition_point(|&v| v < m);
        // left side deviations grow as we go left, right side as we go right
        let (mut l, mut r) = (split as isize - 1, split);
        let mut k = 0;
        let target_lo = (n - 1) / 2;
        let target_hi = n / 2;
        let mut lo_val = 0.0;
        loop {
            let dl = if l >= 0 { m - s[l as usize] } else { f64::INFINITY };
            let dr = if r < n { s[r] - m } else { f64::INFINITY };
            let d = if dl <= dr {
                l -= 1;
                dl
            } else {
                r += 1;
                dr
            };
            if k == target_lo {
                lo_val = d;
            }
            if k == target_hi {
                return (lo_val + d) / 2.0;
            }
            k += 1;
        }
    }
}

fn median_sorted(s: &[f64]) -> f64 {
    let n = s.len();
    if n == 0 {
        0.0
    } else if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

/// Streaming detector for one metric of one task. See the module docs.
#[derive(Debug, Clone)]
pub struct AnomalyDetector {
    cfg: DetectorConfig,
    cached_mad: f64,
    values: SortedWindow,
    steps: SortedWindow,
    recent: VecDeque<f64>,
    raw_hist: VecDeque<f64>,
    cooldown: usize,
    dists: [SortedWindow; 4],
    prev: Option<f64>,
    seen: u64,
    min: f64,
    max: f64,
}

impl AnomalyDetector {
    /// A detector with the given tuning.
    pub fn new(cfg: DetectorConfig) -> Self {
        AnomalyDetector {
            cached_mad: 0.0,
            values: SortedWindow::new(cfg.window),
            steps: SortedWindow::new(cfg.window),
            recent: VecDeque::new(),
            raw_hist: VecDeque::new(),
            cooldown: 0,
            dists: std::array::from_fn(|_| SortedWindow::new(cfg.calibration)),
            prev: None,
            seen: 0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            cfg,
        }
    }

    /// The tuning in use.
    pub fn config(&self) -> &DetectorConfig {
        &self.cfg
    }

    /// Values consumed so far (non-finite values are ignored and not counted).
    pub fn seen(&self) -> u64 {
        self.seen
    }

    /// Median of the values in the sliding window (0 before any value).
    pub fn window_median(&self) -> f64 {
        self.values.median()
    }

    /// Whether a score returned by [`AnomalyDetector::update`] counts as an anomaly.
    pub fn is_anomaly(&self, score: f64) -> bool {
        score >= self.cfg.threshold
    }

    /// Consumes one value (and optionally what the size model predicted for it) and returns the
    /// debounced anomaly score in `[0, 1]`. Non-finite values return 0 and are ignored.
    pub fn update(&mut self, value: f64, predicted: Option<f64>) -> f64 {
        let x = match predicted {
            Some(p) if p.is_finite() => value - p,
            _ => value,
        };
        if !x.is_finite() {
            return 0.0;
        }
        let d = self.distance(x);
        let w = [
            self.cfg.w_level,
            self.cfg.w_shift,
            self.cfg.w_change,
            self.cfg.w_novelty,
        ];
        let mut p_min = 1.0f64;
        for i in 0..4 {
            if w[i] > 0.0 {
                p_min = p_min.min(tail_probability(&self.dists[i].sorted, d[i]) / w[i]);
            }
            if self.cfg.calibration > 0 && w[i] > 0.0 {
                self.dists[i].push(d[i]);
            }
        }
        let raw = (1.0 - p_min).clamp(0.0, 1.0);

        self.learn(x);
        if (self.seen as usize) <= self.cfg.warmup {
            return 0.0;
        }
        // debounce: emit only a new high over the last `debounce` raw scores, and nothing during
        // the cool-down that follows an alarm
        let emitted = if self.raw_hist.iter().all(|&r| raw > r) {
            raw
        } else {
            0.0
        };
        self.raw_hist.push_back(raw);
        if self.raw_hist.len() > self.cfg.debounce {
            self.raw_hist.pop_front();
        }
        if self.cooldown > 0 {
            self.cooldown -= 1;
            return 0.0;
        }
        if emitted >= self.cfg.threshold {
            self.cooldown = self.cfg.cooldown;
        }
        emitted
    }

    /// The weighted distance of `x` from what has been learned so far.
    fn distance(&mut self, x: f64) -> [f64; 4] {
        // the window's MAD moves slowly: refresh it every 8 values (it is the costliest statistic)
        if self.seen % 8 == 0 || self.values.len() < 64 {
            let med = self.values.median();
            self.cached_mad = self.values.mad(med);
        }
        let c = &self.cfg;
        if self.values.len() < 3 {
            return [0.0; 4];
        }
        let med = self.values.median();
        let range = (self.max - self.min).abs();
        let floor = (1e-3 * range).max(1e-9 * med.abs()).max(1e-12);
        let mad = (1.4826 * self.cached_mad).max(floor);
        let level = (x - med).abs() / mad;
        let shift = if self.recent.len() + 1 >= c.short {
            let mut r: Vec<f64> = self.recent.iter().copied().chain(std::iter::once(x)).collect();
            r.sort_by(f64::total_cmp);
            (median_sorted(&r) - med).abs() / mad
        } else {
            0.0
        };
        let change = match self.prev {
            Some(p) if self.steps.len() >= 3 => {
                let ms = self.steps.median();
                let ss = (1.4826 * self.steps.mad(ms)).max(floor);
                ((x - p).abs() - ms).max(0.0) / ss
            }
            _ => 0.0,
        };
        let novelty = if range > 0.0 {
            ((x - self.max).max(self.min - x).max(0.0)) / range
        } else if x != self.max {
            1.0
        } else {
            0.0
        };
        [level, shift, change, novelty]
    }

    fn learn(&mut self, x: f64) {
        if let (Some(p), true) = (self.prev, self.cfg.w_change > 0.0) {
            self.steps.push((x - p).abs());
        }
        self.values.push(x);
        self.recent.push_back(x);
        while self.recent.len() >= self.cfg.short.max(1) {
            self.recent.pop_front();
        }
        self.prev = Some(x);
        self.seen += 1;
        self.min = self.min.min(x);
        self.max = self.max.max(x);
    }
}

/// Estimated probability of a distance at least `d`, given past distances sorted ascending: the
/// empirical tail below their 90th percentile, and an exponential tail fitted to the excesses
/// above it (peaks over threshold), so the value keeps its meaning across series of different
/// length and noise.
fn tail_probability(s: &[f64], d: f64) -> f64 {
    let n = s.len();
    if n < 20 {
        return 1.0;
    }
    let k = (n / 10).max(2);
    let u = s[n - k];
    if d <= u {
        let at_least = n - s.partition_point(|&v| v < d);
        return at_least as f64 / n as f64;
    }
    let beta = ex_mean(&s[n - k..], u).max(1e-12);
    (k as f64 / n as f64) * (-(d - u) / beta).exp()
}

fn ex_mean(s: &[f64], u: f64) -> f64 {
    s.iter().map(|&v| v - u).sum::<f64>() / s.len().max(1) as f64
}

/// Scores a whole series with a fresh detector (convenience for batch evaluation).
pub fn score_series(values: &[f64], cfg: &DetectorConfig) -> Vec<f64> {
    let mut d = AnomalyDetector::new(cfg.clone());
    values.iter().map(|&v| d.update(v, None)).collect()
}

/// A metric of an execution that anomaly detection watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Wall-clock duration (seconds).
    Duration,
    /// CPU time (seconds).
    Cpu,
    /// Peak memory (bytes).
    Memory,
}

impl Metric {
    /// All metrics.
    pub const ALL: [Metric; 3] = [Metric::Duration, Metric::Cpu, Metric::Memory];

    /// Lowercase name (`duration`, `cpu`, `memory`), as used in span events and metric attributes.
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::Duration => "duration",
            Metric::Cpu => "cpu",
            Metric::Memory => "memory",
        }
    }

    /// The metric's value in a record, if recorded.
    pub fn value(self, r: &ExecutionRecord) -> Option<f64> {
        match self {
            Metric::Duration => Some(r.duration_ns as f64 / 1e9),
            Metric::Cpu => r.cpu_ns.map(|v| v as f64 / 1e9),
            Metric::Memory => r.mem_peak_bytes.map(|v| v as f64),
        }
    }
}

/// One anomalous metric of one execution, as reported by [`AnomalyMonitor::observe`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MetricAnomaly {
    /// The metric.
    pub metric: Metric,
    /// Its value in the execution.
    pub value: f64,
    /// What the size model predicted for the execution's input size, when it had one.
    pub expected: Option<f64>,
    /// The detector's score (at or above the threshold).
    pub score: f64,
}

/// Smallest relative departure from the window's median (of the value, or of its ratio to the
/// prediction) that [`AnomalyMonitor`] reports: 10%.
pub const MIN_RELATIVE_DEVIATION: f64 = 0.1;

/// Size-model refits happen every this many observations of a (task, metric), or every quarter
/// of the fit window once it holds more.
const REFIT_EVERY: usize = 100;
/// Observations kept per (task, metric) for refitting the size model.
const FIT_WINDOW: usize = 2000;

#[derive(Debug, Clone)]
struct MetricState {
    detector: AnomalyDetector,
    points: VecDeque<(f64, f64)>,
    model: Option<crate::predict::SizeModel>,
    since_fit: usize,
}

/// Streaming anomaly detection over execution records: per task and metric (duration, CPU,
/// memory), judged relative to what the input size predicts.
///
/// For each (task, metric) it keeps an [`AnomalyDetector`] and a [`SizeModel`](crate::predict::SizeModel)
/// refitted every 100 observations (every 500 once the window is full) on the last 2000 `(input_size, value)` pairs. When a model
/// exists and the record has an input size, the detector sees the ratio `value / predicted`,
/// so big inputs are not anomalies merely for being big; otherwise it sees the raw value.
///
/// Departures smaller than [`MIN_RELATIVE_DEVIATION`] are not reported even when the detector
/// scores them high (on near-flat data a 0.1% change is statistically rare and of no interest).
///
/// The caller turns each returned [`MetricAnomaly`] into a span event on the execution, a counter
/// increment, and a history flag (`HistoryStore::mark_anomaly`).
#[derive(Debug, Clone, Default)]
pub struct AnomalyMonitor {
    cfg: DetectorConfig,
    states: std::collections::HashMap<String, [Option<MetricState>; 3]>,
}

impl AnomalyMonitor {
    /// A monitor whose detectors use `cfg`.
    pub fn new(cfg: DetectorConfig) -> Self {
        AnomalyMonitor {
            cfg,
            states: Default::default(),
        }
    }

    /// Feeds one execution; returns its anomalous metrics (empty for a normal execution).
    pub fn observe(&mut self, r: &ExecutionRecord) -> Vec<MetricAnomaly> {
        let mut out = Vec::new();
        for m in Metric::ALL {
            let Some(v) = m.value(r) else { continue };
            if !v.is_finite() {
                continue;
            }
            if !self.states.contains_key(r.task.as_str()) {
                self.states.insert(r.task.clone(), [None, None, None]);
            }
            let Some(slots) = self.states.get_mut(r.task.as_str()) else {
                continue;
            };
            let st = slots[m as usize].get_or_insert_with(|| MetricState {
                detector: AnomalyDetector::new(self.cfg.clone()),
                points: VecDeque::new(),
                model: None,
                since_fit: 0,
            });
            let size = r.input_size.map(|s| s as f64);
            let expected = match (&st.model, size) {
                (Some(model), Some(n)) => Some(model.predict(n).expected),
                _ => None,
            };
            let fed = match expected {
                Some(e) if e > 0.0 => v / e,
                _ => v,
            };
            let median = st.detector.window_median();
            let score = st.detector.update(fed, None);
            // statistically unusual but operationally negligible (near-flat data): not reported
            let material = median == 0.0 || ((fed - median) / median).abs() >= MIN_RELATIVE_DEVIATION;
            if st.detector.is_anomaly(score) && material {
                out.push(MetricAnomaly {
                    metric: m,
                    value: v,
                    expected,
                    score,
                });
            }
            if let Some(n) = size {
                st.points.push_back((n, v));
                if st.points.len() > FIT_WINDOW {
                    st.points.pop_front();
                }
                st.since_fit += 1;
                if st.since_fit >= REFIT_EVERY.max(st.points.len() / 4) || (st.model.is_none() && st.points.len() >= 30)
                {
                    let pts: Vec<(f64, f64)> = st.points.iter().copied().collect();
                    let first = pts[0].0;
                    let second = pts.iter().map(|p| p.0).find(|&n| n != first);
                    let distinct = match second {
                        None => 1,
                        Some(b) => 2 + usize::from(pts.iter().any(|p| p.0 != first && p.0 != b)),
                    };
                    if distinct >= 3 {
                        let had_model = st.model.is_some();
                        st.model = crate::predict::SizeModel::fit_classes(&pts).ok();
                        if !had_model && st.model.is_some() {
                            // from now on the detector sees ratios to the prediction, not raw
                            // values: start it afresh rather than mix the two scales
                            st.detector = AnomalyDetector::new(self.cfg.clone());
                        }
                    }
                    st.since_fit = 0;
                }
            }
        }
        out
    }

    /// Like [`AnomalyMonitor::observe`], and sets `record.anomaly` when any metric is anomalous,
    /// so the flag reaches the history with the record. The runner calls this just before
    /// handing the record to its `RecordSink`, and turns each returned anomaly into a
    /// `servicetask.anomaly` span event (attributes `servicetask.anomaly.metric`,
    /// `servicetask.anomaly.score`) and a `servicetask.anomalies` counter increment (names in
    /// `servicetask_core::semconv`).
    pub fn observe_and_flag(&mut self, record: &mut ExecutionRecord) -> Vec<MetricAnomaly> {
        let found = self.observe(record);
        if !found.is_empty() {
            record.anomaly = true;
        }
        found
    }

    /// The current size model of a task's metric, if one has been fitted.
    pub fn model(&self, task: &str, metric: Metric) -> Option<&crate::predict::SizeModel> {
        self.states.get(task)?[metric as usize].as_ref()?.model.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    #[test]
    fn mad_matches_naive() {
        let mut rng = StdRng::seed_from_u64(7);
        for n in 1..40 {
            let mut w = SortedWindow::new(n);
            let mut xs = Vec::new();
            for _ in 0..n {
                let x: f64 = rng.random_range(0.0..10.0);
                w.push(x);
                xs.push(x);
            }
            xs.sort_by(f64::total_cmp);
            let m = median_sorted(&xs);
            let mut dev: Vec<f64> = xs.iter().map(|v| (v - m).abs()).collect();
            dev.sort_by(f64::total_cmp);
            assert!((w.mad(m) - median_sorted(&dev)).abs() < 1e-12, "n={n}");
        }
    }

    #[test]
    fn planted_spikes_are_found_and_noise_is_quiet() {
        let mut rng = StdRng::seed_from_u64(42);
        let mut d = AnomalyDetector::new(DetectorConfig::default());
        let planted = [800usize, 1500, 2300];
        let mut flagged = Vec::new();
        for i in 0..3000 {
            let mut v = 100.0 + rng.random_range(-5.0..5.0);
            if planted.contains(&i) {
                v += 80.0;
            }
            let s = d.update(v, None);
            if d.is_anomaly(s) {
                flagged.push(i);
            }
        }
        assert_eq!(flagged, planted.to_vec());
    }

    #[test]
    fn flat_then_step_is_one_alarm() {
        let mut d = AnomalyDetector::new(DetectorConfig::default());
        let mut flagged = Vec::new();
        for i in 0..1000 {
            let v = if i < 600 { 5.0 } else { 6.0 };
            let s = d.update(v, None);
            if d.is_anomaly(s) {
                flagged.push(i);
            }
        }
        assert_eq!(flagged, vec![600]);
    }

    #[test]
    fn residual_of_prediction_is_judged() {
        let mut d = AnomalyDetector::new(DetectorConfig::default());
        let mut rng = StdRng::seed_from_u64(1);
        // duration = 2 * size + noise: big sizes are not anomalies when predicted
        for _ in 0..500 {
            let n: f64 = rng.random_range(1.0..1000.0);
            let s = d.update(2.0 * n + rng.random_range(-1.0..1.0), Some(2.0 * n));
            assert!(!d.is_anomaly(s));
        }
        let s = d.update(2.0 * 10.0 + 50.0, Some(20.0));
        assert!(d.is_anomaly(s));
    }

    #[test]
    fn monitor_judges_duration_against_input_size() {
        use servicetask_core::record::OutcomeKind;
        let mut rng = StdRng::seed_from_u64(77);
        let mut m = AnomalyMonitor::default();
        let planted = [900usize, 1400, 1900];
        let mut flagged = Vec::new();
        for i in 0..2200 {
            // duration = 1 ms per KB of input, sizes 1..1000 KB, 5% noise; big inputs are normal
            let size = rng.random_range(1..1000u64);
            let mut secs = 0.001 * size as f64 * (1.0 + rng.random_range(-0.05..0.05));
            if planted.contains(&i) {
                secs *= 3.0; // slow for its size, yet well within the range of durations seen
            }
            let mut r = ExecutionRecord::new("resize", i as i64, (secs * 1e9) as u64, OutcomeKind::Complete);
            r.input_size = Some(size);
            if m.observe(&r).iter().any(|a| a.metric == Metric::Duration) {
                flagged.push(i);
            }
        }
        assert_eq!(
            m.model("resize", Metric::Duration).unwrap().class(),
            crate::predict::Complexity::Linear
        );
        for p in planted {
            assert!(flagged.contains(&p), "missed {p}: {flagged:?}");
        }
        assert!(flagged.len() <= planted.len() + 2, "{flagged:?}");
    }

    #[test]
    fn monitor_is_quiet_on_flat_and_exact_data() {
        use servicetask_core::record::OutcomeKind;
        let mut m = AnomalyMonitor::default();
        for i in 0..3000u64 {
            // duration exactly proportional to size, memory constant, CPU with a 0.01% wobble
            let size = 1 + (i * 7919) % 1000;
            let mut r = ExecutionRecord::new("flat", i as i64, 1_000 * size, OutcomeKind::Complete);
            r.input_size = Some(size);
            r.mem_peak_bytes = Some(4096);
            r.cpu_ns = Some(1_000_000 + i % 100);
            assert!(m.observe(&r).is_empty(), "flagged run {i}");
        }
    }

    #[test]
    fn bad_input_never_panics() {
        let mut d = AnomalyDetector::new(DetectorConfig {
            window: 0,
            short: 0,
            ..Default::default()
        });
        for v in [f64::NAN, f64::INFINITY, 1.0, 1.0, f64::NEG_INFINITY, 2.0] {
            let s = d.update(v, None);
            assert!((0.0..=1.0).contains(&s));
        }
        assert_eq!(score_series(&[], &DetectorConfig::default()), Vec::<f64>::new());
    }
}
