//! [`SqliteBatchPace`]: the pace of past `cx.batch` runs per task and batch (items processed and
//! wall time), in a SQLite file, as the [`BatchHistory`] a batch's time left starts from.
//!
//! Each run that processed at least one item adds one row. The prior time per item is the
//! median of the last [`SqliteBatchPace::RUNS`] runs' wall time per item: one unusually slow or
//! fast run does not move it. Reads and writes are one indexed query each, once per batch run.
//! A store error is dropped (a batch's time left then falls back to the run's rate): the
//! prediction is a convenience and never fails a batch. A file store opens its connection for
//! each of those two calls and closes it after: the store lives in a process-wide slot that is
//! never dropped, and a connection held there would leave the file's WAL uncheckpointed at exit.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{params, Connection};
use servicetask_core::batch::BatchHistory;

use crate::checkpoint::{open_wal, Durability};
use crate::HistoryError;

/// Past batch runs' pace in a SQLite file (see the module documentation).
#[derive(Debug)]
pub struct SqliteBatchPace {
    place: Place,
}

/// Where the rows are: a file opened per call, or a connection kept for the store's life.
#[derive(Debug)]
enum Place {
    File(PathBuf),
    Memory(Mutex<Connection>),
}

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS batch_pace (
    task TEXT NOT NULL,
    batch TEXT NOT NULL,
    ended_ms INTEGER NOT NULL,
    items INTEGER NOT NULL,
    elapsed_us INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS batch_pace_task ON batch_pace (task, batch, ended_ms);";

impl SqliteBatchPace {
    /// How many recent runs the prior is the median of.
    pub const RUNS: u32 = 20;

    /// Opens (or creates) the store at `path` (WAL, `synchronous=NORMAL`); the table is created
    /// here, so a file that cannot hold it is an error now rather than at the first batch.
    pub fn open(path: &Path) -> Result<Self, HistoryError> {
        open_file(path)?;
        Ok(SqliteBatchPace {
            place: Place::File(path.to_path_buf()),
        })
    }

    /// A store in memory (tests; lost with the process).
    pub fn open_in_memory() -> Result<Self, HistoryError> {
        let conn = Connection::open_in_memory()?;
        conn.execute_batch(SCHEMA)?;
        Ok(SqliteBatchPace {
            place: Place::Memory(Mutex::new(conn)),
        })
    }

    fn with_conn<T>(&self, f: impl FnOnce(&Connection) -> Result<T, HistoryError>) -> Result<T, HistoryError> {
        match &self.place {
            Place::File(path) => f(&open_file(path)?),
            Place::Memory(conn) => f(&conn.lock().unwrap_or_else(|p| p.into_inner())),
        }
    }

    /// Adds one run of `batch` in `task`: `items` processed in `elapsed`.
    pub fn add(&self, task: &str, batch: &str, items: u64, elapsed: Duration) -> Result<(), HistoryError> {
        let items = i64::try_from(items).unwrap_or(i64::MAX);
        let us = i64::try_from(elapsed.as_micros()).unwrap_or(i64::MAX);
        self.with_conn(|conn| {
            conn.execute(
                "INSERT INTO batch_pace (task, batch, ended_ms, items, elapsed_us) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![task, batch, now_ms(), items, us],
            )?;
            Ok(())
        })
    }

    /// The median wall time per item of the last [`Self::RUNS`] runs (`None` before any run).
    pub fn median_per_item(&self, task: &str, batch: &str) -> Result<Option<Duration>, HistoryError> {
        let mut per_item: Vec<f64> = self.with_conn(|conn| {
            let mut stmt = conn.prepare(
                "SELECT elapsed_us, items FROM batch_pace WHERE task = ?1 AND batch = ?2 AND items > 0
                 ORDER BY ended_ms DESC, rowid DESC LIMIT ?3",
            )?;
            let rows = stmt.query_map(params![task, batch, Self::RUNS], |r| {
                Ok(r.get::<_, i64>(0)? as f64 / r.get::<_, i64>(1)? as f64)
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })?;
        if per_item.is_empty() {
            return Ok(None);
        }
        per_item.sort_by(f64::total_cmp);
        let n = per_item.len();
        let median = match n % 2 {
            1 => per_item[n / 2],
            _ => (per_item[n / 2 - 1] + per_item[n / 2]) / 2.0,
        };
        Ok(Some(Duration::from_secs_f64(median.max(0.0) / 1e6)))
    }
}

impl BatchHistory for SqliteBatchPace {
    fn time_per_item(&self, task: &str, batch: &str) -> Option<Duration> {
        self.median_per_item(task, batch).ok().flatten()
    }

    fn record(&self, task: &str, batch: &str, items: u64, elapsed: Duration) {
        let _ = self.add(task, batch, items, elapsed);
    }
}

/// One connection to the file, its table created if missing.
fn open_file(path: &Path) -> Result<Connection, HistoryError> {
    let conn = open_wal(path, Durability::Process)?;
    conn.execute_batch(SCHEMA)?;
    Ok(conn)
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
