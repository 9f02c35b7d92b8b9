//! The PRD's example service tasks, written with servicetask, plus the tasks of the bundled
//! demo process (`servicetask demo`). Each does real work on real files.
//!
//! - [`FileProcessingTask`] (`file_processing`): normalises text/CSV files into an output
//!   directory, one traced step per file, every read and write tracked.
//! - [`DataAnalysisTask`] (`data_analysis`): column statistics, robust outliers and a data
//!   quality score for a CSV dataset, with custom metrics.
//! - [`GenerateSamplesTask`], [`QualityCheckTask`], [`QuarantineTask`], [`PublishReportTask`]:
//!   the rest of the demo pipeline.
//! - [`NotifyTask`] (`notify`): sensitive input (a token and a credentials file).
//! - [`LedgerAppendTask`] (`ledger_append`): an idempotency key written to a file (the
//!   durable service's crash test runs it).
//! - [`BatchImportTask`] (`batch_import`): rows processed as one resumable `cx.batch` with a
//!   durable SQLite checkpoint (the durable service's batch test kills and restarts it).
//!
//! ```
//! use servicetask::{Runner, TaskOutcome};
//! use servicetask_examples::{GenerateSamples, GenerateSamplesTask};
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let dir = tempfile::tempdir().unwrap();
//! let runner = Runner::builder().build();
//! let gen = runner.register(GenerateSamplesTask).unwrap();
//! let out = gen.run(GenerateSamples { output_dir: dir.path().into(), files: 2, rows: 10, seed: 1 }).await;
//! let TaskOutcome::Complete(out) = out else { panic!("{out:?}") };
//! assert_eq!(out.files.len(), 2);
//! # });
//! ```

mod analysis;
mod import;
mod ledger;
mod notify;
mod pipeline;
mod processing;
mod samples;

pub use analysis::{data_analysis, ColumnStats, DataAnalysis, DataAnalysisTask, DatasetReport};
pub use import::{batch_import, BatchImport, BatchImportTask, BatchImported};
pub use ledger::{ledger_append, LedgerAppend, LedgerAppendTask, LedgerEntry};
pub use notify::{notify, Notified, Notify, NotifyTask};
pub use pipeline::{
    publish_report, quality_check, quarantine, PublishReport, PublishReportTask, Published, QualityCheck,
    QualityCheckTask, QualityVerdict, Quarantine, QuarantineTask, Quarantined,
};
pub use processing::{file_processing, FileProcessing, FileProcessingTask, ProcessedFiles};
pub use samples::{generate_samples, GenerateSamples, GenerateSamplesTask, Samples};

/// Registers every example task on `runner`.
pub fn register_all(runner: &servicetask::Runner) -> Result<(), servicetask::ConfigError> {
    runner.register(FileProcessingTask)?;
    runner.register(DataAnalysisTask)?;
    runner.register(GenerateSamplesTask)?;
    runner.register(QualityCheckTask)?;
    runner.register(QuarantineTask)?;
    runner.register(PublishReportTask)?;
    runner.register(NotifyTask)?;
    runner.register(LedgerAppendTask)?;
    runner.register(BatchImportTask)?;
    Ok(())
}
