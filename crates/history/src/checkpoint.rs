//! [`SqliteCheckpoint`]: the durable store of a `cx.batch` checkpoint, the item keys completed
//! under each scope (an execution's idempotency key and the batch name), in a SQLite file.
//!
//! A batch saves its completed keys in groups (a thousand by default); each group is one row
//! (the keys joined by a newline) written in one transaction, so the cost per item is a share
//! of one insert, not an insert per key. `journal_mode=WAL` with `synchronous=NORMAL` (the
//! default) keeps every acknowledged group when the process is killed; `synchronous=FULL`
//! ([`SqliteCheckpoint::open_with`]) also keeps it through a power loss, at an fsync per group.
//! Loading reads a scope's rows back into a set: memory grows with the keys of that one scope.
//! [`SqliteCheckpoint::forget`] drops a finished scope and [`SqliteCheckpoint::prune`] every
//! scope older than a cut-off, so the file does not grow for ever.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{params, Connection};
use servicetask_core::batch::Checkpoint;
use servicetask_core::layer::BoxFuture;
use servicetask_core::TaskError;

use crate::HistoryError;

/// How hard a saved group is made durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// Survives the process being killed (WAL, `synchronous=NORMAL`).
    #[default]
    Process,
    /// Survives a power loss too (WAL, `synchronous=FULL`: an fsync per group).
    PowerLoss,
}

/// Opens (or creates) the SQLite file at `path` in WAL mode with the durability asked for and a
/// five-second busy timeout: the batch stores' one way to open their file.
pub(crate) fn open_wal(path: &Path, durability: Durability) -> Result<Connection, HistoryError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    let sync = match durability {
        Durability::Process => "NORMAL",
        Durability::PowerLoss => "FULL",
    };
    conn.pragma_update(None, "synchronous", sync)?;
    Ok(conn)
}

/// Completed batch item keys in a SQLite file (see the module documentation).
#[derive(Debug)]
pub struct SqliteCheckpoint {
    conn: Mutex<Connection>,
}

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS batch_checkpoint (
    scope TEXT NOT NULL,
    saved_ms INTEGER NOT NULL,
    keys TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS batch_checkpoint_scope ON batch_checkpoint (scope);
CREATE INDEX IF NOT EXISTS batch_checkpoint_saved ON batch_checkpoint (saved_ms);";

impl SqliteCheckpoint {
    /// Opens (or creates) the store at `path`, surviving a killed process.
    pub fn open(path: &Path) -> Result<Self, HistoryError> {
        Self::open_with(path, Durability::Process)
    }

    /// Opens (or creates) the store at `path` with the chosen durability.
    pub fn open_with(path: &Path, durability: Durability) -> Result<Self, HistoryError> {
        Self::with_connection(open_wal(path, durability)?)
    }

    /// A store in memory (tests; lost with the process).
    pub fn open_in_memory() -> Result<Self, HistoryError> {
        Self::with_connection(Connection::open_in_memory()?)
    }

    fn with_connection(conn: Connection) -> Result<Self, HistoryError> {
        conn.execute_batch(SCHEMA)?;
        Ok(SqliteCheckpoint { conn: Mutex::new(conn) })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The keys done under `scope`.
    pub fn keys(&self, scope: &str) -> Result<HashSet<String>, HistoryError> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached("SELECT keys FROM batch_checkpoint WHERE scope = ?1")?;
        let mut rows = stmt.query(params![scope])?;
        let mut out = HashSet::new();
        while let Some(row) = rows.next()? {
            let keys: String = row.get(0)?;
            out.extend(keys.split('\n').filter(|k| !k.is_empty()).map(str::to_string));
        }
        Ok(out)
    }

    /// The scopes that hold keys, in order (what a host may `forget` once a batch is over).
    pub fn scopes(&self) -> Result<Vec<String>, HistoryError> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached("SELECT DISTINCT scope FROM batch_checkpoint ORDER BY scope")?;
        let scopes = stmt.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
        Ok(scopes)
    }

    /// Adds one group of keys under `scope`, in one transaction.
    pub fn add(&self, scope: &str, keys: &[String]) -> Result<(), HistoryError> {
        if keys.is_empty() {
            return Ok(());
        }
        let joined = keys.join("\n");
        let conn = self.lock();
        conn.prepare_cached("INSERT INTO batch_checkpoint (scope, saved_ms, keys) VALUES (?1, ?2, ?3)")?
            .execute(params![scope, now_ms(), joined])?;
        Ok(())
    }

    /// SQLite's `PRAGMA integrity_check`: `ok` for a sound file.
    pub fn integrity(&self) -> Result<String, HistoryError> {
        Ok(self.lock().query_row("PRAGMA integrity_check", [], |r| r.get(0))?)
    }

    /// Drops the keys of `scope` (a batch that finished and will not be retried).
    pub fn forget(&self, scope: &str) -> Result<usize, HistoryError> {
        Ok(self
            .lock()
            .execute("DELETE FROM batch_checkpoint WHERE scope = ?1", params![scope])?)
    }

    /// Drops every group saved more than `age` ago; returns how many groups went.
    pub fn prune(&self, age: Duration) -> Result<usize, HistoryError> {
        let cut = now_ms().saturating_sub(i64::try_from(age.as_millis()).unwrap_or(i64::MAX));
        Ok(self
            .lock()
            .execute("DELETE FROM batch_checkpoint WHERE saved_ms < ?1", params![cut])?)
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A key with a newline would split into two on load: refused when saved.
fn check_keys(keys: &[String]) -> Result<(), TaskError> {
    match keys.iter().find(|k| k.contains('\n') || k.is_empty()) {
        Some(_) => Err(TaskError::validation(
            "a batch checkpoint key must be non-empty and hold no newline",
        )),
        None => Ok(()),
    }
}

fn store_error(e: HistoryError) -> TaskError {
    TaskError::new(servicetask_core::ErrorClass::Io, format!("batch checkpoint store: {e}"))
}

impl Checkpoint for SqliteCheckpoint {
    fn load<'a>(&'a self, scope: &'a str) -> BoxFuture<'a, Result<HashSet<String>, TaskError>> {
        let keys = self.keys(scope).map_err(store_error);
        Box::pin(std::future::ready(keys))
    }

    fn save<'a>(&'a self, scope: &'a str, keys: &'a [String]) -> BoxFuture<'a, Result<(), TaskError>> {
        // Written before the future exists: a caller that drops it has the group committed or
        // not at all (one transaction).
        let done = check_keys(keys).and_then(|()| self.add(scope, keys).map_err(store_error));
        Box::pin(std::future::ready(done))
    }

    fn save_now(&self, scope: &str, keys: &[String]) -> bool {
        check_keys(keys).is_ok() && self.add(scope, keys).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_load_back_per_scope_and_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cp.db");
        {
            let cp = SqliteCheckpoint::open(&path).unwrap();
            cp.add("job-1/rows", &["1".into(), "2".into()]).unwrap();
            cp.add("job-1/rows", &["2".into(), "3".into()]).unwrap();
            cp.add("job-2/rows", &["9".into()]).unwrap();
        }
        let cp = SqliteCheckpoint::open(&path).unwrap();
        assert_eq!(cp.scopes().unwrap(), ["job-1/rows", "job-2/rows"]);
        let keys = cp.keys("job-1/rows").unwrap();
        assert_eq!(keys, ["1", "2", "3"].map(String::from).into_iter().collect());
        assert_eq!(cp.forget("job-1/rows").unwrap(), 2);
        assert!(cp.keys("job-1/rows").unwrap().is_empty());
        assert_eq!(
            cp.prune(Duration::from_secs(3600)).unwrap(),
            0,
            "nothing is an hour old"
        );
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(cp.prune(Duration::from_millis(1)).unwrap(), 1);
        assert!(cp.keys("job-2/rows").unwrap().is_empty());
    }

    #[test]
    fn a_key_that_would_not_load_back_is_refused() {
        let cp = SqliteCheckpoint::open_in_memory().unwrap();
        let bad = ["a\nb".to_string()];
        let err = futures_ready(cp.save("s", &bad)).unwrap_err();
        assert!(err.message().contains("newline"), "{err}");
        assert!(cp.keys("s").unwrap().is_empty());
    }

    /// The store's futures are ready at once: poll one without a runtime.
    fn futures_ready<T>(f: BoxFuture<'_, T>) -> T {
        let mut f = f;
        let waker = std::task::Waker::noop();
        match f.as_mut().poll(&mut std::task::Context::from_waker(waker)) {
            std::task::Poll::Ready(v) => v,
            std::task::Poll::Pending => unreachable!("a ready future"),
        }
    }
}
