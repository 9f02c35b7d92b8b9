//! The [`HistoryStore`] trait and the query types shared by its implementations.

use servicetask_core::record::{ExecutionRecord, FileAccessKind};

use crate::HistoryError;

/// A record as stored: its row id and the batch (transaction) it was written in.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRecord {
    /// Row id, increasing in insertion order.
    pub id: i64,
    /// Id of the batch that wrote it (one transaction).
    pub batch: i64,
    /// The record.
    pub record: ExecutionRecord,
}

/// Which records a query selects. `Default` selects everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RecordQuery {
    /// Only this task.
    pub task: Option<String>,
    /// Only executions started at or after this time (Unix nanoseconds).
    pub since_unix_ns: Option<i64>,
    /// Only executions started before this time (Unix nanoseconds).
    pub until_unix_ns: Option<i64>,
    /// At most this many records (the oldest first).
    pub limit: Option<usize>,
}

/// Totals of one file over the selected executions.
#[derive(Debug, Clone, PartialEq)]
pub struct FileAccessPattern {
    /// The path.
    pub path: String,
    /// Executions that read it.
    pub read_executions: u64,
    /// Executions that wrote it.
    pub write_executions: u64,
    /// Executions that touched it in any way.
    pub executions: u64,
    /// Bytes read in total.
    pub bytes_read: u64,
    /// Bytes written in total.
    pub bytes_written: u64,
    /// Operations in total.
    pub ops: u64,
    /// Largest file size seen.
    pub max_file_size: Option<u64>,
}

/// A trait of a file's access pattern (see [`FileAccessPattern::traits`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AccessTrait {
    /// Read in at least 4 times as many executions as it is written in.
    ReadHeavy,
    /// Written in at least 4 times as many executions as it is read in.
    WriteHeavy,
    /// Larger than 100 MiB, or more than 100 MiB moved per execution on average.
    Large,
    /// Touched by at least half of the executions considered.
    Frequent,
}

impl FileAccessPattern {
    /// The traits of this file's pattern, given how many executions were considered.
    pub fn traits(&self, total_executions: u64) -> Vec<AccessTrait> {
        const LARGE: u64 = 100 * 1024 * 1024;
        let mut t = Vec::new();
        if self.read_executions > 0 && self.read_executions >= 4 * self.write_executions {
            t.push(AccessTrait::ReadHeavy);
        }
        if self.write_executions > 0 && self.write_executions >= 4 * self.read_executions {
            t.push(AccessTrait::WriteHeavy);
        }
        let per_exec = (self.bytes_read + self.bytes_written) / self.executions.max(1);
        if self.max_file_size.is_some_and(|s| s > LARGE) || per_exec > LARGE {
            t.push(AccessTrait::Large);
        }
        if total_executions > 0 && self.executions * 2 >= total_executions {
            t.push(AccessTrait::Frequent);
        }
        t
    }

    /// Adds one execution's use of the file.
    pub fn add(&mut self, kind: FileAccessKind, bytes: u64, ops: u32, file_size: Option<u64>) {
        match kind {
            FileAccessKind::Read => {
                self.read_executions += 1;
                self.bytes_read += bytes;
            }
            FileAccessKind::Write => {
                self.write_executions += 1;
                self.bytes_written += bytes;
            }
            FileAccessKind::Meta => {}
        }
        self.ops += u64::from(ops);
        self.max_file_size = match (self.max_file_size, file_size) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }
}

/// Where execution records are kept.
///
/// # Contract
///
/// - `insert_batch` writes all records or none (one transaction), and returns their ids in order.
/// - Queries see every batch whose `insert_batch` has returned.
/// - Times are Unix nanoseconds; ranges are `[since, until)`.
/// - Implementations are shared between threads (`Send + Sync`); SQLite serialises writers.
///
/// [`SqliteStore`](crate::SqliteStore) is the default; a PostgreSQL store implements the same trait
/// when several machines share one history.
pub trait HistoryStore: Send + Sync {
    /// Writes a batch of records in one transaction and returns their ids.
    fn insert_batch(&self, records: &[ExecutionRecord]) -> Result<Vec<i64>, HistoryError>;

    /// Records selected by `query`, oldest first.
    fn query(&self, query: &RecordQuery) -> Result<Vec<StoredRecord>, HistoryError>;

    /// Number of records selected by `query` (ignoring its limit).
    fn count(&self, query: &RecordQuery) -> Result<u64, HistoryError>;

    /// Names of all tasks with at least one record, sorted.
    fn tasks(&self) -> Result<Vec<String>, HistoryError>;

    /// Duration percentiles (nanoseconds) of the selected executions, one per quantile in
    /// `quantiles` (each in `[0, 1]`, nearest rank). `None` when nothing is selected.
    fn duration_percentiles(&self, query: &RecordQuery, quantiles: &[f64]) -> Result<Option<Vec<u64>>, HistoryError>;

    /// Sets or clears the anomaly flag of a record.
    fn mark_anomaly(&self, id: i64, anomaly: bool) -> Result<(), HistoryError>;

    /// Per-file totals over the selected executions, most used first.
    fn file_access_patterns(&self, query: &RecordQuery) -> Result<Vec<FileAccessPattern>, HistoryError>;

    /// Hands every record selected by `query` to `each`, oldest first, reading `chunk` records
    /// at a time, so a history of any length is read in memory bounded by the chunk (a report
    /// over ten million records keeps at most one chunk). Returns the number of records read.
    ///
    /// A keyset cursor over [`HistoryStore::query`]: each chunk starts at the start time of the
    /// last record read, skipping the records at that time already read (the order is by start
    /// time, then id). Records sharing one start time are read in one chunk, however many.
    fn for_each_record(
        &self,
        query: &RecordQuery,
        chunk: usize,
        each: &mut dyn FnMut(StoredRecord),
    ) -> Result<u64, HistoryError> {
        let chunk = chunk.max(1);
        let mut read = 0u64;
        // start time of the last record read, and how many read records start then
        let mut cursor: Option<(i64, usize)> = None;
        loop {
            let left = query.limit.map(|l| (l as u64).saturating_sub(read) as usize);
            if left == Some(0) {
                return Ok(read);
            }
            let skip = cursor.map_or(0, |c| c.1);
            let page = self.query(&RecordQuery {
                since_unix_ns: cursor.map(|c| c.0).or(query.since_unix_ns),
                limit: Some(skip + left.map_or(chunk, |l| l.min(chunk))),
                ..query.clone()
            })?;
            if page.len() <= skip {
                return Ok(read);
            }
            for r in page.into_iter().skip(skip) {
                let t = r.record.started_at_unix_ns;
                cursor = Some(match cursor {
                    Some((ct, n)) if ct == t => (t, n + 1),
                    _ => (t, 1),
                });
                read += 1;
                each(r);
            }
        }
    }
}

/// Nearest-rank quantile of an ascending slice.
pub(crate) fn nearest_rank(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let q = if q.is_finite() { q.clamp(0.0, 1.0) } else { 0.5 };
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Whether `database` names a PostgreSQL database (`postgres://` or `postgresql://`) rather
/// than a SQLite file.
pub fn is_postgres_url(database: &str) -> bool {
    database.starts_with("postgres://") || database.starts_with("postgresql://")
}

/// The history store `database` names: a `postgres://` URL (every node of a fleet writing one
/// history; needs the `postgres` feature), else a SQLite file path.
pub fn open_database(database: &str) -> Result<std::sync::Arc<dyn HistoryStore>, HistoryError> {
    if is_postgres_url(database) {
        #[cfg(feature = "postgres")]
        return Ok(std::sync::Arc::new(crate::PostgresStore::connect(database)?));
        #[cfg(not(feature = "postgres"))]
        return Err(HistoryError::Database(
            "this build has no PostgreSQL history store (feature `postgres`)".into(),
        ));
    }
    Ok(std::sync::Arc::new(crate::SqliteStore::open(database)?))
}
