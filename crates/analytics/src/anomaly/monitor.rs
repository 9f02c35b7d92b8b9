//! Anomaly detection over execution records: per task and metric (duration, CPU, memory),
//! judged relative to what the input size predicts.

use std::collections::VecDeque;

use servicetask_core::record::ExecutionRecord;

use super::detector::{AnomalyDetector, DetectorConfig};

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
            let at = r.started_at_unix_ns as f64 / 1e9;
            let score = st.detector.update_at(Some(at), fed, None);
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
    use servicetask_core::record::OutcomeKind;

    #[test]
    fn monitor_judges_duration_against_input_size() {
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
}
