//! The PostgreSQL history store (feature `postgres`): the execution records of every node of a
//! fleet in one database, so `servicetask report --database postgres://...` reads them all.
//!
//! # Schema and migrations
//!
//! Tables of their own (`history_batches`, `history_executions`, prefixed so they sit beside
//! the engine store's tables in one database) and a migrations table of their own
//! (`servicetask_history_migrations`). Opening applies the scripts of [`PG_MIGRATIONS`] not yet
//! applied, in one transaction under an advisory lock, so nodes opening a new database together
//! migrate it once; a database newer than this build is [`HistoryError::SchemaTooNew`].
//!
//! An execution's scalar fields are columns; its files and dependencies are JSONB arrays of the
//! records' own serde form, so every field of them (network bytes, error classes) is kept as
//! the record defines it.
//!
//! # A blocking API over an async driver
//!
//! [`HistoryStore`] is synchronous (the history writer calls it from its own thread). The store
//! owns tokio-postgres's connection and a small runtime of its own; a call made from inside
//! another tokio runtime (the CLI's) runs on a scoped thread, since a runtime cannot block
//! inside another.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::str::FromStr as _;

use servicetask_core::record::{DependencyUse, ExecutionRecord, FileAccess, OutcomeKind};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, NoTls};

use crate::store::{nearest_rank, FileAccessPattern, HistoryStore, RecordQuery, StoredRecord};
use crate::HistoryError;

/// Schema migrations, applied in order; migration `i` brings the schema to version `i + 1`.
pub const PG_MIGRATIONS: &[&str] = &[
    // v1: executions (files and dependencies as JSONB) and the batches that wrote them
    "CREATE TABLE history_batches (
        id BIGSERIAL PRIMARY KEY,
        written_at_unix_ns BIGINT NOT NULL,
        records BIGINT NOT NULL
    );
    CREATE TABLE history_executions (
        id BIGSERIAL PRIMARY KEY,
        batch_id BIGINT NOT NULL REFERENCES history_batches(id),
        task TEXT NOT NULL,
        started_at BIGINT NOT NULL,
        duration_ns BIGINT NOT NULL,
        outcome TEXT NOT NULL,
        error_class TEXT,
        input_size BIGINT,
        cpu_ns BIGINT,
        mem_peak_bytes BIGINT,
        bytes_read BIGINT NOT NULL,
        bytes_written BIGINT NOT NULL,
        attempts BIGINT NOT NULL,
        fallback_used BOOLEAN NOT NULL,
        trace_id TEXT,
        process_id TEXT,
        process_instance_id TEXT,
        element_id TEXT,
        anomaly BOOLEAN NOT NULL DEFAULT FALSE,
        files JSONB NOT NULL DEFAULT '[]',
        dependencies JSONB NOT NULL DEFAULT '[]'
    );
    CREATE INDEX history_executions_task_started ON history_executions(task, started_at);
    CREATE INDEX history_executions_started ON history_executions(started_at);
    CREATE INDEX history_executions_batch ON history_executions(batch_id);",
];

/// The scalar columns [`record_of`] reads, in its order.
const COLUMNS: &str = "e.id, e.batch_id, e.task, e.started_at, e.duration_ns, e.outcome, e.error_class,
    e.input_size, e.cpu_ns, e.mem_peak_bytes, e.bytes_read, e.bytes_written, e.attempts,
    e.fallback_used, e.trace_id, e.process_id, e.process_instance_id, e.element_id, e.anomaly,
    e.files::TEXT, e.dependencies::TEXT";

/// A [`HistoryStore`] in PostgreSQL, shared by every node of a fleet.
pub struct PostgresStore {
    /// Always `Some` until dropped.
    runtime: Option<tokio::runtime::Runtime>,
    client: Client,
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        // without waiting: a store may be dropped inside another runtime, where blocking panics
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore").finish_non_exhaustive()
    }
}

fn db(e: impl std::fmt::Display) -> HistoryError {
    HistoryError::Database(e.to_string())
}

fn i(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn u(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user@host:port/db`) and migrates the schema.
    pub fn connect(url: &str) -> Result<PostgresStore, HistoryError> {
        let config = tokio_postgres::Config::from_str(url).map_err(|e| db(format!("bad URL: {e}")))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| db(format!("cannot start the history runtime: {e}")))?;
        let connected = blocking(&runtime, async {
            let (client, connection) = config.connect(NoTls).await.map_err(db)?;
            tokio::spawn(connection);
            migrate(&client).await?;
            Ok::<_, HistoryError>(client)
        });
        let client = match connected {
            Ok(c) => c,
            Err(e) => {
                runtime.shutdown_background();
                return Err(e);
            }
        };
        Ok(PostgresStore {
            runtime: Some(runtime),
            client,
        })
    }

    /// Runs `f` with the client to completion.
    fn run<'a, T: Send, F: Future<Output = Result<T, HistoryError>> + Send + 'a>(
        &'a self,
        f: impl FnOnce(&'a Client) -> F,
    ) -> Result<T, HistoryError> {
        match &self.runtime {
            Some(rt) => blocking(rt, f(&self.client)),
            None => Err(db("the history store is closed")),
        }
    }
}

/// Drives `f` on `runtime`; from inside another tokio runtime, on a scoped thread.
fn blocking<T: Send, F: Future<Output = Result<T, HistoryError>> + Send>(
    runtime: &tokio::runtime::Runtime,
    f: F,
) -> Result<T, HistoryError> {
    if tokio::runtime::Handle::try_current().is_err() {
        return runtime.block_on(f);
    }
    std::thread::scope(|s| {
        s.spawn(|| runtime.block_on(f))
            .join()
            .unwrap_or_else(|_| Err(db("the history store's thread panicked")))
    })
}

async fn migrate(client: &Client) -> Result<(), HistoryError> {
    client.batch_execute("BEGIN").await.map_err(db)?;
    let applied = async {
        client
            .batch_execute(
                "SELECT pg_advisory_xact_lock(7113015);
                 CREATE TABLE IF NOT EXISTS servicetask_history_migrations (version BIGINT PRIMARY KEY, applied_unix_ns BIGINT NOT NULL)",
            )
            .await?;
        let found: i64 = client
            .query_one("SELECT COALESCE(MAX(version), 0) FROM servicetask_history_migrations", &[])
            .await?
            .try_get(0)?;
        Ok::<_, tokio_postgres::Error>(found)
    }
    .await;
    let found = match applied {
        Ok(f) => f,
        Err(e) => {
            let _ = client.batch_execute("ROLLBACK").await;
            return Err(db(e));
        }
    };
    let known = PG_MIGRATIONS.len() as i64;
    if found > known {
        let _ = client.batch_execute("ROLLBACK").await;
        return Err(HistoryError::SchemaTooNew {
            found,
            supported: known,
        });
    }
    for (n, script) in PG_MIGRATIONS.iter().enumerate().skip(found as usize) {
        let step = async {
            client.batch_execute(script).await?;
            client
                .execute(
                    "INSERT INTO servicetask_history_migrations (version, applied_unix_ns) VALUES ($1, $2)",
                    &[&(n as i64 + 1), &now_ns()],
                )
                .await
        };
        if let Err(e) = step.await {
            let _ = client.batch_execute("ROLLBACK").await;
            return Err(db(e));
        }
    }
    client.batch_execute("COMMIT").await.map_err(db)
}

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// ` WHERE ...` for a query (parameters from `$first`), and its parameters.
fn where_clause(q: &RecordQuery) -> (String, Vec<Box<dyn ToSql + Sync + Send>>) {
    let mut parts = Vec::new();
    let mut args: Vec<Box<dyn ToSql + Sync + Send>> = Vec::new();
    if let Some(t) = &q.task {
        args.push(Box::new(t.clone()));
        parts.push(format!("e.task = ${}", args.len()));
    }
    if let Some(s) = q.since_unix_ns {
        args.push(Box::new(s));
        parts.push(format!("e.started_at >= ${}", args.len()));
    }
    if let Some(s) = q.until_unix_ns {
        args.push(Box::new(s));
        parts.push(format!("e.started_at < ${}", args.len()));
    }
    let w = if parts.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", parts.join(" AND "))
    };
    (w, args)
}

fn params(args: &[Box<dyn ToSql + Sync + Send>]) -> Vec<&(dyn ToSql + Sync)> {
    args.iter().map(|a| a.as_ref() as &(dyn ToSql + Sync)).collect()
}

/// A record from a row of [`COLUMNS`].
fn record_of(r: &tokio_postgres::Row) -> Result<StoredRecord, HistoryError> {
    let outcome: String = r.try_get(5).map_err(db)?;
    let get_u = |k: usize| r.try_get::<_, i64>(k).map(u).map_err(db);
    let get_opt_u = |k: usize| r.try_get::<_, Option<i64>>(k).map(|v| v.map(u)).map_err(db);
    let mut rec = ExecutionRecord::new(
        r.try_get::<_, String>(2).map_err(db)?,
        r.try_get(3).map_err(db)?,
        get_u(4)?,
        OutcomeKind::parse(&outcome).ok_or_else(|| HistoryError::Corrupt(format!("unknown outcome {outcome}")))?,
    );
    rec.error_class = r.try_get(6).map_err(db)?;
    rec.input_size = get_opt_u(7)?;
    rec.cpu_ns = get_opt_u(8)?;
    rec.mem_peak_bytes = get_opt_u(9)?;
    rec.bytes_read = get_u(10)?;
    rec.bytes_written = get_u(11)?;
    rec.attempts = u32::try_from(get_u(12)?).unwrap_or(u32::MAX);
    rec.fallback_used = r.try_get(13).map_err(db)?;
    rec.trace_id = r.try_get(14).map_err(db)?;
    rec.process_id = r.try_get(15).map_err(db)?;
    rec.process_instance_id = r.try_get(16).map_err(db)?;
    rec.element_id = r.try_get(17).map_err(db)?;
    rec.anomaly = r.try_get(18).map_err(db)?;
    let files: String = r.try_get(19).map_err(db)?;
    rec.files = serde_json::from_str::<Vec<FileAccess>>(&files)
        .map_err(|e| HistoryError::Corrupt(format!("files of execution: {e}")))?;
    let deps: String = r.try_get(20).map_err(db)?;
    rec.dependencies = serde_json::from_str::<Vec<DependencyUse>>(&deps)
        .map_err(|e| HistoryError::Corrupt(format!("dependencies of execution: {e}")))?;
    Ok(StoredRecord {
        id: r.try_get(0).map_err(db)?,
        batch: r.try_get(1).map_err(db)?,
        record: rec,
    })
}

/// The records' columns as arrays, one element per record, for one `UNNEST` insert.
#[derive(Default)]
struct Columns<'a> {
    task: Vec<&'a str>,
    started_at: Vec<i64>,
    duration_ns: Vec<i64>,
    outcome: Vec<&'static str>,
    error_class: Vec<Option<&'a str>>,
    input_size: Vec<Option<i64>>,
    cpu_ns: Vec<Option<i64>>,
    mem_peak_bytes: Vec<Option<i64>>,
    bytes_read: Vec<i64>,
    bytes_written: Vec<i64>,
    attempts: Vec<i64>,
    fallback_used: Vec<bool>,
    trace_id: Vec<Option<&'a str>>,
    process_id: Vec<Option<&'a str>>,
    process_instance_id: Vec<Option<&'a str>>,
    element_id: Vec<Option<&'a str>>,
    anomaly: Vec<bool>,
    files: Vec<String>,
    dependencies: Vec<String>,
}

impl<'a> Columns<'a> {
    fn push(&mut self, r: &'a ExecutionRecord) -> Result<(), HistoryError> {
        self.task.push(&r.task);
        self.started_at.push(r.started_at_unix_ns);
        self.duration_ns.push(i(r.duration_ns));
        self.outcome.push(r.outcome.as_str());
        self.error_class.push(r.error_class.as_deref());
        self.input_size.push(r.input_size.map(i));
        self.cpu_ns.push(r.cpu_ns.map(i));
        self.mem_peak_bytes.push(r.mem_peak_bytes.map(i));
        self.bytes_read.push(i(r.bytes_read));
        self.bytes_written.push(i(r.bytes_written));
        self.attempts.push(i64::from(r.attempts));
        self.fallback_used.push(r.fallback_used);
        self.trace_id.push(r.trace_id.as_deref());
        self.process_id.push(r.process_id.as_deref());
        self.process_instance_id.push(r.process_instance_id.as_deref());
        self.element_id.push(r.element_id.as_deref());
        self.anomaly.push(r.anomaly);
        self.files.push(serde_json::to_string(&r.files).map_err(db)?);
        self.dependencies
            .push(serde_json::to_string(&r.dependencies).map_err(db)?);
        Ok(())
    }
}

impl HistoryStore for PostgresStore {
    fn insert_batch(&self, records: &[ExecutionRecord]) -> Result<Vec<i64>, HistoryError> {
        let mut cols = Columns::default();
        for r in records {
            cols.push(r)?;
        }
        self.run(|c| async move {
            // one statement: the batch row, then every record of it in order, ids returned
            let rows = c
                .query(
                    "WITH b AS (INSERT INTO history_batches (written_at_unix_ns, records) VALUES ($1, $2) RETURNING id)
                     INSERT INTO history_executions (batch_id, task, started_at, duration_ns, outcome, error_class,
                         input_size, cpu_ns, mem_peak_bytes, bytes_read, bytes_written, attempts, fallback_used,
                         trace_id, process_id, process_instance_id, element_id, anomaly, files, dependencies)
                     SELECT b.id, u.task, u.started_at, u.duration_ns, u.outcome, u.error_class, u.input_size, u.cpu_ns,
                         u.mem_peak_bytes, u.bytes_read, u.bytes_written, u.attempts, u.fallback_used, u.trace_id,
                         u.process_id, u.process_instance_id, u.element_id, u.anomaly, u.files::JSONB, u.dependencies::JSONB
                     FROM b, UNNEST($3::TEXT[], $4::BIGINT[], $5::BIGINT[], $6::TEXT[], $7::TEXT[], $8::BIGINT[],
                         $9::BIGINT[], $10::BIGINT[], $11::BIGINT[], $12::BIGINT[], $13::BIGINT[], $14::BOOLEAN[],
                         $15::TEXT[], $16::TEXT[], $17::TEXT[], $18::TEXT[], $19::BOOLEAN[], $20::TEXT[], $21::TEXT[])
                         WITH ORDINALITY AS u(task, started_at, duration_ns, outcome, error_class, input_size, cpu_ns,
                             mem_peak_bytes, bytes_read, bytes_written, attempts, fallback_used, trace_id, process_id,
                             process_instance_id, element_id, anomaly, files, dependencies, n)
                     ORDER BY u.n
                     RETURNING id",
                    &[
                        &now_ns(),
                        &(records.len() as i64),
                        &cols.task,
                        &cols.started_at,
                        &cols.duration_ns,
                        &cols.outcome,
                        &cols.error_class,
                        &cols.input_size,
                        &cols.cpu_ns,
                        &cols.mem_peak_bytes,
                        &cols.bytes_read,
                        &cols.bytes_written,
                        &cols.attempts,
                        &cols.fallback_used,
                        &cols.trace_id,
                        &cols.process_id,
                        &cols.process_instance_id,
                        &cols.element_id,
                        &cols.anomaly,
                        &cols.files,
                        &cols.dependencies,
                    ],
                )
                .await
                .map_err(db)?;
            let mut ids: Vec<i64> = rows.iter().map(|r| r.try_get(0)).collect::<Result<_, _>>().map_err(db)?;
            // ids follow the records' order (a sequence, in the insert's ORDER BY)
            ids.sort_unstable();
            Ok(ids)
        })
    }

    fn query(&self, q: &RecordQuery) -> Result<Vec<StoredRecord>, HistoryError> {
        let (w, args) = where_clause(q);
        let limit = q.limit.map_or(String::new(), |l| format!(" LIMIT {l}"));
        let sql = format!("SELECT {COLUMNS} FROM history_executions e{w} ORDER BY e.started_at, e.id{limit}");
        self.run(|c| async move {
            let rows = c.query(&sql, &params(&args)).await.map_err(db)?;
            rows.iter().map(record_of).collect()
        })
    }

    fn count(&self, q: &RecordQuery) -> Result<u64, HistoryError> {
        let (w, args) = where_clause(q);
        let sql = format!("SELECT COUNT(*) FROM history_executions e{w}");
        self.run(|c| async move {
            let n: i64 = c
                .query_one(&sql, &params(&args))
                .await
                .and_then(|r| r.try_get(0))
                .map_err(db)?;
            Ok(u(n))
        })
    }

    fn tasks(&self) -> Result<Vec<String>, HistoryError> {
        self.run(|c| async move {
            // skip-scan over the (task, started_at) index: one probe per distinct task
            c.query(
                "WITH RECURSIVE t(task) AS (
                     SELECT MIN(task) FROM history_executions
                     UNION ALL
                     SELECT (SELECT MIN(task) FROM history_executions WHERE task > t.task) FROM t WHERE t.task IS NOT NULL
                 )
                 SELECT task FROM t WHERE task IS NOT NULL",
                &[],
            )
            .await
            .map_err(db)?
            .iter()
            .map(|r| r.try_get(0).map_err(db))
            .collect()
        })
    }

    fn duration_percentiles(&self, q: &RecordQuery, quantiles: &[f64]) -> Result<Option<Vec<u64>>, HistoryError> {
        let (w, args) = where_clause(q);
        let sql = format!("SELECT e.duration_ns FROM history_executions e{w} ORDER BY e.duration_ns");
        let sorted: Vec<u64> = self.run(|c| async move {
            c.query(&sql, &params(&args))
                .await
                .map_err(db)?
                .iter()
                .map(|r| r.try_get::<_, i64>(0).map(u).map_err(db))
                .collect()
        })?;
        if sorted.is_empty() {
            return Ok(None);
        }
        Ok(Some(quantiles.iter().map(|&q| nearest_rank(&sorted, q)).collect()))
    }

    fn mark_anomaly(&self, id: i64, anomaly: bool) -> Result<(), HistoryError> {
        self.run(|c| async move {
            c.execute(
                "UPDATE history_executions SET anomaly = $1 WHERE id = $2",
                &[&anomaly, &id],
            )
            .await
            .map_err(db)?;
            Ok(())
        })
    }

    fn file_access_patterns(&self, q: &RecordQuery) -> Result<Vec<FileAccessPattern>, HistoryError> {
        let (w, args) = where_clause(q);
        let and = if w.is_empty() { " WHERE" } else { " AND" };
        let sql = format!("SELECT e.id, e.files::TEXT FROM history_executions e{w}{and} e.files <> '[]'::JSONB");
        let rows: Vec<(i64, String)> = self.run(|c| async move {
            c.query(&sql, &params(&args))
                .await
                .map_err(db)?
                .iter()
                .map(|r| Ok((r.try_get(0).map_err(db)?, r.try_get(1).map_err(db)?)))
                .collect()
        })?;
        let mut map: HashMap<String, (FileAccessPattern, HashSet<i64>)> = HashMap::new();
        for (exec, files) in rows {
            let files: Vec<FileAccess> = serde_json::from_str(&files)
                .map_err(|e| HistoryError::Corrupt(format!("files of execution {exec}: {e}")))?;
            for f in files {
                let e = map.entry(f.path.clone()).or_insert_with(|| {
                    (
                        FileAccessPattern {
                            path: f.path.clone(),
                            read_executions: 0,
                            write_executions: 0,
                            executions: 0,
                            bytes_read: 0,
                            bytes_written: 0,
                            ops: 0,
                            max_file_size: None,
                        },
                        HashSet::new(),
                    )
                });
                e.0.add(f.kind, f.bytes, f.ops, f.file_size);
                e.1.insert(exec);
            }
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
