//! servicetask-analytics: insight from the execution history.
//!
//! Pure functions and small structs over [`ExecutionRecord`]-like data, no I/O except the NAB
//! evaluation helpers and the report writer:
//!
//! - [`anomaly`]: a streaming, residual-aware anomaly detector, evaluated with [`nab`];
//! - [`nab`]: the Numenta Anomaly Benchmark scorer;
//! - [`percentiles`]: live per-task percentiles (DDSketch, mergeable);
//! - [`predict`]: a metric against input size: complexity class, power law, intervals;
//! - [`trends`]: Mann-Kendall, Theil-Sen, PELT change points and plain statements;
//! - [`recommend`]: rules over the history that tell an operator what to do;
//! - [`report`]: terminal tables with sparklines and a self-contained HTML page with SVG charts.

pub mod anomaly;
mod error;
pub mod nab;
pub mod percentiles;
pub mod predict;
pub mod recommend;
pub mod report;
pub mod trends;

pub use error::AnalyticsError;
