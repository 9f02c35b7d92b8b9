//! The SQLite history store: one file, WAL journal, versioned schema.
//!
//! # Schema and migrations
//!
//! The schema version lives in `PRAGMA user_version`. [`MIGRATIONS`] lists the scripts in
//! order; opening a database applies those it has not seen, each in its own transaction with
//! the version bump, so a crash during a migration leaves the previous version intact. A
//! database newer than this build is refused ([`HistoryError::SchemaTooNew`]).
//!
//! # Durability
//!
//! `journal_mode=WAL` with `synchronous=NORMAL`: a committed batch survives the process being
//! killed at any point (the WAL is replayed on the next open); a power cut may lose the last
//! batches committed before it, never the integrity of the file.
//!
//! # Damage
//!
//! A corrupt page, or a file that is not a database, is [`HistoryError::Damaged`] wherever
//! SQLite meets it; its message says how to recover (move the file aside, or salvage it with
//! `sqlite3 DAMAGED.db .recover`). [`SqliteStore::open_checked`] looks for damage before any
//! work (`PRAGMA quick_check`, linear in the file's size); the writer keeps its first failed
//! batch's error for [`crate::HistoryWriter::health`].
//!
//! # Indexes
//!
//! Every query searches an index (`tests/integrity.rs` checks each plan with `EXPLAIN QUERY
//! PLAN`): executions by (task, start), by start and by batch; files and dependencies by
//! execution.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::{params, params_from_iter, Connection, OptionalExtension, ToSql, TransactionBehavior};
use servicetask_core::record::{DependencyUse, ExecutionRecord, FileAccess, FileAccessKind, OutcomeKind};

use crate::store::{nearest_rank, FileAccessPattern, HistoryStore, RecordQuery, StoredRecord};
use crate::HistoryError;

/// Schema migrations, applied in order; migration `i` brings the schema to version `i + 1`.
pub const MIGRATIONS: &[&str] = &[
    // v1: executions, their files and dependencies, and the batches that wrote them
    "CREATE TABLE batches (
        id INTEGER PRIMARY KEY,
        written_at_unix_ns INTEGER NOT NULL,
        records INTEGER NOT NULL
    );
    CREATE TABLE executions (
        id INTEGER PRIMARY KEY,
        batch_id INTEGER NOT NULL REFERENCES batches(id),
        task TEXT NOT NULL,
        started_at INTEGER NOT NULL,
        duration_ns INTEGER NOT NULL,
        outcome TEXT NOT NULL,
        error_class TEXT,
        input_size INTEGER,
        cpu_ns INTEGER,
        mem_peak_bytes INTEGER,
        bytes_read INTEGER NOT NULL,
        bytes_written INTEGER NOT NULL,
        attempts INTEGER NOT NULL,
        fallback_used INTEGER NOT NULL,
        trace_id TEXT,
        process_id TEXT,
        process_instance_id TEXT,
        element_id TEXT,
        anomaly INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX executions_task_started ON executions(task, started_at);
    CREATE INDEX executions_started ON executions(started_at);
    CREATE TABLE file_access (
        execution_id INTEGER NOT NULL REFERENCES executions(id),
        path TEXT NOT NULL,
        kind TEXT NOT NULL,
        bytes INTEGER NOT NULL,
        ops INTEGER NOT NULL,
        file_size INTEGER
    );
    CREATE INDEX file_access_execution ON file_access(execution_id);
    CREATE INDEX file_access_path ON file_access(path);
    CREATE TABLE dependency_use (
        execution_id INTEGER NOT NULL REFERENCES executions(id),
        name TEXT NOT NULL,
        calls INTEGER NOT NULL,
        failures INTEGER NOT NULL,
        total_ns INTEGER NOT NULL
    );
    CREATE INDEX dependency_use_execution ON dependency_use(execution_id);",
    // v2: executions by batch (batch_counts' correlated count searched the whole table)
    "CREATE INDEX executions_batch ON executions(batch_id);",
    // v3: network bytes and failures by error class per dependency (the HTTP client's);
    // `errors` is a JSON object {"class": count}, NULL when the calls did not fail
    "ALTER TABLE dependency_use ADD COLUMN bytes_sent INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE dependency_use ADD COLUMN bytes_received INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE dependency_use ADD COLUMN errors TEXT;",
];

/// Each batch with its declared and present record counts (the count searches
/// `executions_batch`).
pub const BATCH_COUNTS: &str = "SELECT b.id, b.records, (SELECT COUNT(*) FROM executions e WHERE e.batch_id = b.id)
     FROM batches b ORDER BY b.id";

/// Schema version written by this build.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// The default [`HistoryStore`]: a single SQLite file in WAL mode.
#[derive(Debug)]
pub struct SqliteStore {
    conn: Mutex<Connection>,
}

fn i(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn u(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn kind_str(k: FileAccessKind) -> &'static str {
    match k {
        FileAccessKind::Read => "read",
        FileAccessKind::Write => "write",
        FileAccessKind::Meta => "meta",
    }
}

fn parse_kind(s: &str) -> Option<FileAccessKind> {
    match s {
        "read" => Some(FileAccessKind::Read),
        "write" => Some(FileAccessKind::Write),
        "meta" => Some(FileAccessKind::Meta),
        _ => None,
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`, switches it to WAL and migrates it.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteStore, HistoryError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        Self::setup(conn)
    }

    /// An in-memory database (for tests and one-off analysis).
    pub fn open_in_memory() -> Result<SqliteStore, HistoryError> {
        Self::setup(Connection::open_in_memory()?)
    }

    fn setup(mut conn: Connection) -> Result<SqliteStore, HistoryError> {
        conn.pragma_update(None, "foreign_keys", "ON")?;
        migrate(&mut conn)?;
        Ok(SqliteStore { conn: Mutex::new(conn) })
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> Result<i64, HistoryError> {
        Ok(self.conn().query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    /// Opens the database like [`SqliteStore::open`], then checks every page of it
    /// (`PRAGMA quick_check`: linear in the file's size, about a second per few hundred MB); a
    /// damaged file is [`HistoryError::Damaged`], with the way to recover in its message.
    pub fn open_checked(path: impl AsRef<Path>) -> Result<SqliteStore, HistoryError> {
        let store = Self::open(path)?;
        let problems: Vec<String> = {
            let conn = store.conn();
            let mut st = conn.prepare("PRAGMA quick_check(5)")?;
            let rows = st.query_map([], |r| r.get::<_, String>(0))?;
            rows.collect::<Result<_, _>>()?
        };
        if problems != ["ok"] {
            return Err(HistoryError::Damaged {
                detail: problems.join("; "),
            });
        }
        Ok(store)
    }

    /// Distinct file paths in the file table, sorted.
    pub fn file_paths(&self) -> Result<Vec<String>, HistoryError> {
        let conn = self.conn();
        let mut st = conn.prepare("SELECT DISTINCT path FROM file_access ORDER BY path")?;
        let rows = st.query_map([], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The query plan SQLite chooses for `sql` (`EXPLAIN QUERY PLAN`'s detail lines), for tests
    /// that check a query searches an index instead of scanning a table.
    pub fn query_plan(&self, sql: &str) -> Result<Vec<String>, HistoryError> {
        let conn = self.conn();
        let mut st = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
        // parameters bound to NULL: the plan does not depend on their values
        let nulls = std::iter::repeat_n(rusqlite::types::Null, st.parameter_count());
        let rows = st.query_map(params_from_iter(nulls), |r| r.get::<_, String>(3))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Runs `PRAGMA integrity_check` and returns its lines (`["ok"]` for a sound file).
    pub fn integrity_check(&self) -> Result<Vec<String>, HistoryError> {
        let conn = self.conn();
        let mut st = conn.prepare("PRAGMA integrity_check")?;
        let rows = st.query_map([], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Each batch id with the record count it declared when written, and the count present.
    pub fn batch_counts(&self) -> Result<Vec<(i64, u64, u64)>, HistoryError> {
        let conn = self.conn();
        let mut st = conn.prepare(BATCH_COUNTS)?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, u(r.get(1)?), u(r.get(2)?))))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // a panic while holding the lock leaves the connection usable: SQLite rolls back
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn migrate(conn: &mut Connection) -> Result<(), HistoryError> {
    loop {
        // take the write lock before reading the version, so two processes opening a new file
        // at once do not both run the same migration
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version > SCHEMA_VERSION {
            return Err(HistoryError::SchemaTooNew {
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        let Some(script) = MIGRATIONS.get(version.max(0) as usize) else {
            return Ok(());
        };
        tx.execute_batch(script)?;
        tx.pragma_update(None, "user_version", version + 1)?;
        tx.commit()?;
    }
}

/// Builds ` WHERE ...` for a query, and its parameters.
fn where_clause(q: &RecordQuery) -> (String, Vec<Box<dyn ToSql>>) {
    let mut parts = Vec::new();
    let mut args: Vec<Box<dyn ToSql>> = Vec::new();
    if let Some(t) = &q.task {
        parts.push("e.task = ?");
        args.push(Box::new(t.clone()));
    }
    if let Some(s) = q.since_unix_ns {
        parts.push("e.started_at >= ?");
        args.push(Box::new(s));
    }
    if let Some(s) = q.until_unix_ns {
        parts.push("e.started_at < ?");
        args.push(Box::new(s));
    }
    let w = if parts.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", parts.join(" AND "))
    };
    (w, args)
}

const COLUMNS: &str = "e.id, e.batch_id, e.task, e.started_at, e.duration_ns, e.outcome, e.error_class,
    e.input_size, e.cpu_ns, e.mem_peak_bytes, e.bytes_read, e.bytes_written, e.attempts,
    e.fallback_used, e.trace_id, e.process_id, e.process_instance_id, e.element_id, e.anomaly";

impl HistoryStore for SqliteStore {
    fn insert_batch(&self, records: &[ExecutionRecord]) -> Result<Vec<i64>, HistoryError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
        tx.execute(
            "INSERT INTO batches (written_at_unix_ns, records) VALUES (?, ?)",
            params![now, records.len() as i64],
        )?;
        let batch = tx.last_insert_rowid();
        let mut ids = Vec::with_capacity(records.len());
        {
            let mut ins = tx.prepare_cached(
                "INSERT INTO executions (batch_id, task, started_at, duration_ns, outcome, error_class,
                 input_size, cpu_ns, mem_peak_bytes, bytes_read, bytes_written, attempts, fallback_used,
                 trace_id, process_id, process_instance_id, element_id, anomaly)
                 VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            )?;
            let mut ins_file = tx.prepare_cached(
                "INSERT INTO file_access (execution_id, path, kind, bytes, ops, file_size) VALUES (?,?,?,?,?,?)",
            )?;
            let mut ins_dep = tx.prepare_cached(
                "INSERT INTO dependency_use (execution_id, name, calls, failures, total_ns, bytes_sent,
                 bytes_received, errors) VALUES (?,?,?,?,?,?,?,?)",
            )?;
            for r in records {
                ins.execute(params![
                    batch,
                    r.task,
                    r.started_at_unix_ns,
                    i(r.duration_ns),
                    r.outcome.as_str(),
                    r.error_class,
                    r.input_size.map(i),
                    r.cpu_ns.map(i),
                    r.mem_peak_bytes.map(i),
                    i(r.bytes_read),
                    i(r.bytes_written),
                    r.attempts,
                    r.fallback_used,
                    r.trace_id,
                    r.process_id,
                    r.process_instance_id,
                    r.element_id,
                    r.anomaly,
                ])?;
                let id = tx.last_insert_rowid();
                for f in &r.files {
                    ins_file.execute(params![
                        id,
                        f.path,
                        kind_str(f.kind),
                        i(f.bytes),
                        f.ops,
                        f.file_size.map(i)
                    ])?;
                }
                for d in &r.dependencies {
                    let errors = if d.errors.is_empty() {
                        None
                    } else {
                        Some(serde_json::to_string(&d.errors).map_err(|e| HistoryError::Corrupt(e.to_string()))?)
                    };
                    ins_dep.execute(params![
                        id,
                        d.name,
                        d.calls,
                        d.failures,
                        i(d.total_ns),
                        i(d.bytes_sent),
                        i(d.bytes_received),
                        errors
                    ])?;
                }
                ids.push(id);
            }
        }
        tx.commit()?;
        Ok(ids)
    }

    fn query(&self, q: &RecordQuery) -> Result<Vec<StoredRecord>, HistoryError> {
        let conn = self.conn();
        let (w, args) = where_clause(q);
        let limit = q.limit.map_or(String::new(), |l| format!(" LIMIT {l}"));
        let sql = format!("SELECT {COLUMNS} FROM executions e{w} ORDER BY e.started_at, e.id{limit}");
        let mut st = conn.prepare(&sql)?;
        let mut out = Vec::new();
        let mut rows = st.query(params_from_iter(args.iter()))?;
        while let Some(r) = rows.next()? {
            let outcome: String = r.get(5)?;
            let rec = ExecutionRecord {
                task: r.get(2)?,
                started_at_unix_ns: r.get(3)?,
                duration_ns: u(r.get(4)?),
                outcome: OutcomeKind::parse(&outcome)
                    .ok_or_else(|| HistoryError::Corrupt(format!("unknown outcome {outcome}")))?,
                error_class: r.get(6)?,
                input_size: r.get::<_, Option<i64>>(7)?.map(u),
                cpu_ns: r.get::<_, Option<i64>>(8)?.map(u),
                mem_peak_bytes: r.get::<_, Option<i64>>(9)?.map(u),
                bytes_read: u(r.get(10)?),
                bytes_written: u(r.get(11)?),
                attempts: r.get(12)?,
                fallback_used: r.get(13)?,
                trace_id: r.get(14)?,
                process_id: r.get(15)?,
                process_instance_id: r.get(16)?,
                element_id: r.get(17)?,
                files: Vec::new(),
                dependencies: Vec::new(),
                anomaly: r.get(18)?,
            };
            out.push(StoredRecord {
                id: r.get(0)?,
                batch: r.get(1)?,
                record: rec,
            });
        }
        drop(rows);
        drop(st);
        if out.is_empty() {
            return Ok(out);
        }
        // attach files and dependencies of the selected executions
        let (lo, hi) = out
            .iter()
            .fold((i64::MAX, i64::MIN), |(a, b), s| (a.min(s.id), b.max(s.id)));
        let pos: HashMap<i64, usize> = out.iter().enumerate().map(|(k, s)| (s.id, k)).collect();
        let mut st = conn.prepare_cached(
            "SELECT execution_id, path, kind, bytes, ops, file_size FROM file_access
             WHERE execution_id BETWEEN ? AND ? ORDER BY rowid",
        )?;
        let mut rows = st.query(params![lo, hi])?;
        while let Some(r) = rows.next()? {
            if let Some(&k) = pos.get(&r.get::<_, i64>(0)?) {
                let kind: String = r.get(2)?;
                out[k].record.files.push(FileAccess {
                    path: r.get(1)?,
                    kind: parse_kind(&kind)
                        .ok_or_else(|| HistoryError::Corrupt(format!("unknown file access {kind}")))?,
                    bytes: u(r.get(3)?),
                    ops: r.get(4)?,
                    file_size: r.get::<_, Option<i64>>(5)?.map(u),
                });
            }
        }
        drop(rows);
        let mut st = conn.prepare_cached(
            "SELECT execution_id, name, calls, failures, total_ns, bytes_sent, bytes_received, errors
             FROM dependency_use WHERE execution_id BETWEEN ? AND ? ORDER BY rowid",
        )?;
        let mut rows = st.query(params![lo, hi])?;
        while let Some(r) = rows.next()? {
            if let Some(&k) = pos.get(&r.get::<_, i64>(0)?) {
                let errors = match r.get::<_, Option<String>>(7)? {
                    None => Default::default(),
                    Some(text) => serde_json::from_str(&text)
                        .map_err(|e| HistoryError::Corrupt(format!("dependency errors {text:?}: {e}")))?,
                };
                out[k].record.dependencies.push(DependencyUse {
                    name: r.get(1)?,
                    calls: r.get(2)?,
                    failures: r.get(3)?,
                    total_ns: u(r.get(4)?),
                    bytes_sent: u(r.get(5)?),
                    bytes_received: u(r.get(6)?),
                    errors,
                });
            }
        }
        Ok(out)
    }

    fn count(&self, q: &RecordQuery) -> Result<u64, HistoryError> {
        let conn = self.conn();
        let (w, args) = where_clause(q);
        let n: i64 = conn.query_row(
            &format!("SELECT COUNT(*) FROM executions e{w}"),
            params_from_iter(args.iter()),
            |r| r.get(0),
        )?;
        Ok(u(n))
    }

    fn tasks(&self) -> Result<Vec<String>, HistoryError> {
        let conn = self.conn();
        let mut st = conn.prepare(
            // skip-scan over the (task, started_at) index: one probe per distinct task
            "WITH RECURSIVE t(task) AS (
                 SELECT MIN(task) FROM executions
                 UNION ALL
                 SELECT (SELECT MIN(task) FROM executions WHERE task > t.task) FROM t WHERE t.task IS NOT NULL
             )
             SELECT task FROM t WHERE task IS NOT NULL",
        )?;
        let rows = st.query_map([], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn duration_percentiles(&self, q: &RecordQuery, quantiles: &[f64]) -> Result<Option<Vec<u64>>, HistoryError> {
        let conn = self.conn();
        let (w, args) = where_clause(q);
        let mut st = conn.prepare(&format!("SELECT e.duration_ns FROM executions e{w}"))?;
        let mut v: Vec<u64> = st
            .query_map(params_from_iter(args.iter()), |r| r.get::<_, i64>(0))?
            .map(|x| x.map(u))
            .collect::<Result<_, _>>()?;
        if v.is_empty() {
            return Ok(None);
        }
        v.sort_unstable();
        Ok(Some(quantiles.iter().map(|&q| nearest_rank(&v, q)).collect()))
    }

    fn mark_anomaly(&self, id: i64, anomaly: bool) -> Result<(), HistoryError> {
        self.conn()
            .execute("UPDATE executions SET anomaly = ? WHERE id = ?", params![anomaly, id])?;
        Ok(())
    }

    fn file_access_patterns(&self, q: &RecordQuery) -> Result<Vec<FileAccessPattern>, HistoryError> {
        let conn = self.conn();
        let (w, args) = where_clause(q);
        let sql = format!(
            "SELECT f.execution_id, f.path, f.kind, f.bytes, f.ops, f.file_size
             FROM file_access f JOIN executions e ON e.id = f.execution_id{w}"
        );
        let mut st = conn.prepare(&sql)?;
        let mut rows = st.query(params_from_iter(args.iter()))?;
        let mut map: HashMap<String, (FileAccessPattern, std::collections::HashSet<i64>)> = HashMap::new();
        while let Some(r) = rows.next()? {
            let exec: i64 = r.get(0)?;
            let path: String = r.get(1)?;
            let kind: String = r.get(2)?;
            let Some(kind) = parse_kind(&kind) else { continue };
            let e = map.entry(path.clone()).or_insert_with(|| {
                (
                    FileAccessPattern {
                        path,
                        read_executions: 0,
                        write_executions: 0,
                        executions: 0,
                        bytes_read: 0,
                        bytes_written: 0,
                        ops: 0,
                        max_file_size: None,
                    },
                    Default::default(),
                )
            });
            e.0.add(kind, u(r.get(3)?), r.get(4)?, r.get::<_, Option<i64>>(5)?.map(u));
            e.1.insert(exec);
        }
        let mut out: Vec<FileAccessPattern> = map
            .into_values()
            .map(|(mut p, execs)| {
                p.executions = execs.len() as u64;
                p
            })
            .collect();
        out.sort_by(|a, b| b.executions.cmp(&a.executions).then_with(|| a.path.cmp(&b.path)));
        Ok(out)
    }
}

impl SqliteStore {
    /// Id of the newest record, if any.
    pub fn last_id(&self) -> Result<Option<i64>, HistoryError> {
        Ok(self
            .conn()
            .query_row("SELECT MAX(id) FROM executions", [], |r| r.get(0))
            .optional()?
            .flatten())
    }
}
