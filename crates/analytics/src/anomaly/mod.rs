//! Streaming anomaly detection: a threshold-free ensemble score per value, an alarm policy on
//! top, and a per-task, per-metric monitor over execution records.
//!
//! - [`detector`]: [`AnomalyDetector`], the ensemble (robust level, shift, novelty and change of
//!   the values; level and shift of the residuals against a daily or weekly profile, when the data
//!   show one); the table of members and what each contributes is in BENCHMARKS.md;
//! - [`alarm`]: [`AlarmPolicy`], the threshold and the cooldown that starts where an alarm is
//!   raised at that threshold;
//! - [`monitor`]: [`AnomalyMonitor`] over [`ExecutionRecord`](servicetask_core::record::ExecutionRecord)s,
//!   judging each metric against what the input size predicts;
//! - `stats`, `seasonal`: the members' building blocks.
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

pub mod alarm;
pub mod detector;
pub mod monitor;
mod seasonal;
mod stats;

pub use alarm::{AlarmKind, AlarmPolicy, AlarmState, Scored};
pub use detector::{score_series, score_series_at, AnomalyDetector, DetectorConfig, PERIODS};
pub use monitor::{AnomalyMonitor, Metric, MetricAnomaly, MIN_RELATIVE_DEVIATION};

#[cfg(test)]
mod tests;
