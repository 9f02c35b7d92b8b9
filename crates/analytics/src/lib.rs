//! servicetask-analytics: insight from the execution history.
//!
//! Pure functions and small structs over
//! [`ExecutionRecord`](servicetask_core::record::ExecutionRecord)s; no I/O except the NAB
//! evaluation helpers (`nab::read_*`); rendering is the `servicetask-report` crate's.
//!
//! | module | what |
//! |---|---|
//! | [`anomaly`] | streaming ensemble detector ([`anomaly::AnomalyDetector`]: robust level, shift, novelty, daily and weekly seasonality found from the data), the alarm policy applied at a threshold, and the per-task, per-metric, size-conditioned [`anomaly::AnomalyMonitor`] |
//! | [`nab`] | the Numenta Anomaly Benchmark scorer the detector is evaluated with, and leave-one-category-out cross-validation ([`nab::cv`], `nab-eval --cv`) |
//! | [`percentiles`] | live per-task p50/p90/p95/p99 from mergeable DDSketches |
//! | [`predict`] | a metric against input size: complexity class, power law, intervals; [`predict::Forecaster`] per task for duration, CPU and memory, and for batches |
//! | [`trends`] | Mann-Kendall, Theil-Sen, PELT change points, plain statements |
//! | [`dependencies`] | patterns over dependencies: calls per run, failures by class, time share, bytes; slow, flaky and chatty findings |
//! | [`recommend`] | rules that tell an operator what to do |
//! | [`report`] | [`report::ReportData`] built record by record in bounded memory ([`report::ReportBuilder`]); rendered by the `servicetask-report` crate |
//! | [`bounded`] | reservoir sample, Space-Saving top-k, thinned series: summaries of unbounded streams |
//!
//! # Wiring
//!
//! The runner, for each finished execution: `monitor.observe_and_flag(&mut record)` (emit one
//! `servicetask.anomaly` span event and one `servicetask.anomalies` increment per returned
//! anomaly), then hands the record to the history writer (`servicetask_history::HistoryWriter`, a
//! `RecordSink`). The `servicetask report` command streams records from the history store
//! (`HistoryStore::for_each_record`) into a [`report::ReportBuilder`], then renders the
//! [`report::ReportData`] with the `servicetask-report` crate.
//!
//! ```
//! use servicetask_analytics::anomaly::AnomalyMonitor;
//! use servicetask_analytics::predict::Forecaster;
//! use servicetask_analytics::report::{ReportData, ReportOptions};
//! use servicetask_core::record::{ExecutionRecord, OutcomeKind};
//!
//! let mut monitor = AnomalyMonitor::default();
//! let mut history = Vec::new();
//! for i in 0..300u64 {
//!     let size = 100 + (i * 37) % 900;
//!     let mut r = ExecutionRecord::new("resize", i as i64 * 1_000_000_000, 10_000 * size, OutcomeKind::Complete);
//!     r.input_size = Some(size);
//!     monitor.observe_and_flag(&mut r);
//!     history.push(r);
//! }
//! let expected = Forecaster::from_records(&history).predict("resize", 10_000.0).unwrap();
//! assert!((expected.expected - 0.1).abs() < 1e-3); // 10 µs per item
//! let data = ReportData::from_records(&history, &ReportOptions::default());
//! assert_eq!(data.tasks[0].model.as_ref().unwrap().class.as_deref(), Some("O(n)"));
//! ```

pub mod anomaly;
pub mod bounded;
pub mod dependencies;
mod error;
pub mod nab;
pub mod percentiles;
pub mod predict;
pub mod recommend;
pub mod report;
pub mod trends;

pub use error::AnalyticsError;
