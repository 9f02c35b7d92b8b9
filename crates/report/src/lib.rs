//! servicetask-report: the execution report as terminal text and as one self-contained HTML page.
//!
//! Presentation only: every figure comes from
//! [`ReportData`](servicetask_analytics::report::ReportData), which `servicetask-analytics`
//! computes from records (in bounded memory, streaming); this crate formats it.
//!
//! | module | what |
//! |---|---|
//! | [`terminal`] | [`render_terminal`]: a task table with sparklines, then per-task details |
//! | [`html`] | [`render_html`]: a page with a table of contents, full-width SVG charts of duration, CPU and memory, retries, files |
//! | `dependencies` | the dependencies section (text and HTML): calls per run, failures by class, time share, bytes, findings |
//! | `charts`, `svg` | the charts and their primitives (axes with round ticks, lines, legends) |
//! | `format` | durations, bytes, periods, sparklines, escaping |
//! | [`browser`] | the headless-Chromium check of a rendered page (loads, every chart has data, no console error) |
//!
//! ```
//! use servicetask_analytics::report::{ReportData, ReportOptions};
//! use servicetask_core::record::{ExecutionRecord, OutcomeKind};
//! use servicetask_report::{render_html, render_terminal};
//! let recs: Vec<_> = (0..100)
//!     .map(|i| ExecutionRecord::new("resize", i * 1_000_000_000, 1_000_000 + i as u64, OutcomeKind::Complete))
//!     .collect();
//! let data = ReportData::from_records(&recs, &ReportOptions::default());
//! assert!(render_terminal(&data).contains("resize"));
//! assert!(render_html(&data).contains("<svg"));
//! ```

pub mod browser;
mod charts;
mod dependencies;
mod format;
pub mod html;
mod svg;
pub mod terminal;

pub use format::{fmt_secs, sparkline};
pub use html::render_html;
pub use terminal::render_terminal;

#[cfg(test)]
mod tests;
