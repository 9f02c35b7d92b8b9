//! [`SqliteStore`]: the embedded backend, one SQLite file in WAL mode. A writer thread owns
//! the write connection and group-commits queued transitions (SQLite allows one writer at a
//! time anyway); reads run on a connection of their own on tokio's blocking pool, so neither
//! stalls the runtime.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use crate::model::{
    Acquire, Deployment, HistoryEvent, InstanceQuery, InstanceRow, InstanceState, LeasedJob, NewDeployment, StoreStats,
    Transition, TransitionKind,
};
use crate::rows::{self, JobColumns};
use crate::store::{Store, StoreFuture};
use crate::{now_ms, StoreError};

/// The SQLite backend. Cheap to clone.
///
/// Writes go to one writer thread that owns the write connection and commits every
/// transition waiting in its queue in one transaction (group commit: one fsync for many
/// transitions, each in a savepoint of its own so one that fails leaves the others standing).
/// Reads use a connection of their own (WAL: readers never wait for the writer).
#[derive(Clone)]
pub struct SqliteStore {
    writer: std::sync::mpsc::Sender<Write>,
    reader: Arc<Mutex<Connection>>,
}

/// One request to the writer thread.
enum Write {
    /// A transition, committed with whatever else is queued.
    Transition(Box<Transition>, tokio::sync::oneshot::Sender<Result<i64, StoreError>>),
    /// Any other write, in a transaction of its own.
    Other(Box<dyn FnOnce(&mut Connection) + Send>),
}

/// Most transitions committed in one transaction.
const MAX_BATCH: usize = 512;

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

fn connect(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    Ok(conn)
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and migrates it to the newest schema.
    ///
    /// Durability: WAL with `synchronous = FULL`, so a committed transition survives a crash of
    /// the process and of the machine.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let mut conn = connect(path)?;
        crate::migrate::sqlite(&mut conn)?;
        let reader = connect(path)?;
        let (writer, queue) = std::sync::mpsc::channel::<Write>();
        std::thread::Builder::new()
            .name("servicetask-store-writer".into())
            .spawn(move || write_loop(conn, queue))
            .map_err(|e| StoreError::Database(format!("cannot start the writer thread: {e}")))?;
        Ok(SqliteStore {
            writer,
            reader: Arc::new(Mutex::new(reader)),
        })
    }

    /// Runs `f` on the read connection on the blocking pool.
    fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> StoreFuture<'_, T> {
        let conn = self.reader.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                let mut c = conn.lock().unwrap_or_else(|e| e.into_inner());
                f(&mut c)
            })
            .await
            .map_err(|e| StoreError::Database(format!("store task failed: {e}")))?
        })
    }

    /// Runs `f` on the write connection, on the writer thread.
    fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> StoreFuture<'_, T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let sent = self.writer.send(Write::Other(Box::new(move |c| {
            let _ = tx.send(f(c));
        })));
        Box::pin(async move {
            sent.map_err(|_| stopped())?;
            rx.await.map_err(|_| stopped())?
        })
    }
}

fn stopped() -> StoreError {
    StoreError::Database("the store's writer thread stopped".into())
}

/// The writer thread: takes what is queued, commits the transitions among it together.
fn write_loop(mut conn: Connection, queue: std::sync::mpsc::Receiver<Write>) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(w) => batch.push(w),
                Err(_) => break,
            }
        }
        let mut transitions = Vec::new();
        for w in batch {
            match w {
                Write::Transition(t, reply) => transitions.push((*t, reply)),
                Write::Other(f) => f(&mut conn),
            }
        }
        if !transitions.is_empty() {
            commit_batch(&mut conn, transitions);
        }
    }
}

/// Commits `transitions` in one transaction, each in a savepoint; answers each.
fn commit_batch(
    conn: &mut Connection,
    transitions: Vec<(Transition, tokio::sync::oneshot::Sender<Result<i64, StoreError>>)>,
) {
    let mut results = Vec::with_capacity(transitions.len());
    let outcome = (|| -> Result<(), StoreError> {
        let mut tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for (t, reply) in transitions {
            let sp = tx.savepoint()?;
            let r = apply(&sp, t);
            if r.is_ok() {
                sp.commit()?;
            }
            results.push((r, reply));
        }
        tx.commit()?;
        Ok(())
    })();
    for (r, reply) in results {
        let _ = reply.send(match &outcome {
            Ok(()) => r,
            Err(e) => Err(StoreError::Database(e.to_string())),
        });
    }
}

fn load_deployment(c: &Connection, id: &str) -> Result<Option<Deployment>, StoreError> {
    let Some(mut d) = c
        .prepare_cached(rows::SELECT_DEPLOYMENT)?
        .query_row([id], |r| rows::deployment(r))
        .optional()?
    else {
        return Ok(None);
    };
    d.processes = c
        .prepare_cached(rows::SELECT_DEPLOYMENT_PROCESSES)?
        .query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    Ok(Some(d))
}

/// Applies one transition inside the writer's open transaction (a savepoint of it: a
/// transition that fails leaves no trace, the others of the batch stand).
fn apply(tx: &Connection, t: Transition) -> Result<i64, StoreError> {
    let now = now_ms();
    let revision = match &t.kind {
        TransitionKind::Create(n) => {
            let inserted = tx.execute(
                "INSERT OR IGNORE INTO instances (id, deployment_id, process_id, business_key, state, revision, snapshot, saved_at_ms, wake_at_ms, created_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6, ?7, ?8, ?9)",
                params![
                    t.instance_id,
                    n.deployment_id,
                    n.process_id,
                    n.business_key,
                    t.state.as_str(),
                    t.snapshot,
                    t.saved_at_ms,
                    t.wake_at_ms,
                    now
                ],
            )?;
            if inserted == 0 {
                return Err(StoreError::Conflict(t.instance_id));
            }
            1
        }
        TransitionKind::Update { expected_revision } => {
            let updated = tx.execute(
                "UPDATE instances SET state = ?1, revision = revision + 1, snapshot = ?2, saved_at_ms = ?3, wake_at_ms = ?4
                 WHERE id = ?5 AND revision = ?6",
                params![
                    t.state.as_str(),
                    t.snapshot,
                    t.saved_at_ms,
                    t.wake_at_ms,
                    t.instance_id,
                    expected_revision
                ],
            )?;
            if updated == 0 {
                return Err(StoreError::Conflict(t.instance_id));
            }
            expected_revision + 1
        }
    };
    if let Some(lease) = &t.completes_job {
        let deleted = tx.execute(
            "DELETE FROM jobs WHERE id = ?1 AND lease_token = ?2",
            params![lease.job_id, lease.lease_token],
        )?;
        if deleted == 0 {
            return Err(StoreError::LeaseLost(lease.job_id));
        }
    }
    let deployment_id: String = tx.query_row(
        "SELECT deployment_id FROM instances WHERE id = ?1",
        [&t.instance_id],
        |r| r.get(0),
    )?;
    {
        let mut existing = tx.prepare_cached("SELECT key FROM jobs WHERE instance_id = ?1")?;
        let keys: Vec<String> = existing
            .query_map([&t.instance_id], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let mut delete = tx.prepare_cached("DELETE FROM jobs WHERE key = ?1")?;
        for k in keys.iter().filter(|k| !t.jobs.iter().any(|j| &j.key == *k)) {
            delete.execute([k])?;
        }
        let mut insert = tx.prepare_cached(
            "INSERT OR IGNORE INTO jobs (key, instance_id, deployment_id, spec, created_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for j in t.jobs.iter().filter(|j| !keys.contains(&j.key)) {
            insert.execute(params![j.key, t.instance_id, deployment_id, rows::spec_json(j)?, now])?;
        }
    }
    {
        let mut hist = tx.prepare_cached(
            "INSERT INTO history (instance_id, at_ms, kind, element_id, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for h in &t.history {
            hist.execute(params![t.instance_id, now, h.kind, h.element_id, h.detail])?;
        }
    }
    Ok(revision)
}

fn acquire(c: &mut Connection, a: Acquire) -> Result<Vec<LeasedJob>, StoreError> {
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut out = Vec::new();
    {
        let mut select = tx.prepare_cached(
            "SELECT id, instance_id, deployment_id, spec, created_ms, leases, lease_token IS NOT NULL
             FROM jobs WHERE lease_until_ms <= ?1 ORDER BY lease_until_ms, id LIMIT ?2",
        )?;
        let found = select
            .query_map(params![a.now_ms, a.max as i64], |r| {
                Ok(JobColumns {
                    id: r.get(0)?,
                    instance_id: r.get(1)?,
                    deployment_id: r.get(2)?,
                    spec: r.get(3)?,
                    created_ms: r.get(4)?,
                    leases: r.get::<_, i64>(5)? + 1,
                    was_leased: r.get(6)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let mut lease = tx.prepare_cached(
            "UPDATE jobs SET lease_owner = ?1, lease_token = ?2, lease_until_ms = ?3, leases = leases + 1 WHERE id = ?4",
        )?;
        let until = a.now_ms + a.lease_ms;
        for job in found {
            let token = format!("{:016x}", rand::random::<u64>());
            lease.execute(params![a.owner, token, until, job.id])?;
            out.push(job.leased(token, until)?);
        }
    }
    tx.commit()?;
    Ok(out)
}

impl Store for SqliteStore {
    fn deploy(&self, d: NewDeployment) -> StoreFuture<'_, Deployment> {
        self.write(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let exists: bool = tx
                .query_row("SELECT 1 FROM deployments WHERE id = ?1", [&d.hash], |_| Ok(true))
                .optional()?
                .unwrap_or(false);
            if !exists {
                tx.execute(
                    "INSERT INTO deployments (id, file, content, created_ms) VALUES (?1, ?2, ?3, ?4)",
                    params![d.hash, d.file, d.content, now_ms()],
                )?;
                for p in &d.process_ids {
                    tx.execute(rows::INSERT_DEPLOYMENT_PROCESS, params![p, d.hash])?;
                }
            }
            let out = load_deployment(&tx, &d.hash)?.ok_or_else(|| StoreError::NotFound(d.hash.clone()))?;
            tx.commit()?;
            Ok(out)
        })
    }

    fn deployment<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<Deployment>> {
        let id = id.to_string();
        self.with(move |c| load_deployment(c, &id))
    }

    fn latest_deployment<'a>(&'a self, process_id: &'a str) -> StoreFuture<'a, Option<Deployment>> {
        let pid = process_id.to_string();
        self.with(move |c| {
            let id: Option<String> = c
                .prepare_cached(rows::SELECT_LATEST_DEPLOYMENT)?
                .query_row([&pid], |r| r.get(0))
                .optional()?;
            match id {
                Some(id) => load_deployment(c, &id),
                None => Ok(None),
            }
        })
    }

    fn deployments(&self) -> StoreFuture<'_, Vec<Deployment>> {
        self.with(|c| {
            let ids: Vec<String> = c
                .prepare_cached(rows::SELECT_DEPLOYMENT_IDS)?
                .query_map([], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            let mut out = Vec::new();
            for id in ids {
                out.extend(load_deployment(c, &id)?);
            }
            Ok(out)
        })
    }

    fn commit(&self, t: Transition) -> StoreFuture<'_, i64> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let sent = self.writer.send(Write::Transition(Box::new(t), tx));
        Box::pin(async move {
            sent.map_err(|_| stopped())?;
            rx.await.map_err(|_| stopped())?
        })
    }

    fn instance<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<InstanceRow>> {
        let id = id.to_string();
        self.with(move |c| {
            Ok(c.prepare_cached(rows::SELECT_INSTANCE)?
                .query_row([id], |r| rows::instance_row(r))
                .optional()?)
        })
    }

    fn instances(&self, q: InstanceQuery) -> StoreFuture<'_, Vec<InstanceRow>> {
        self.with(move |c| {
            let limit = q.limit.map_or(i64::MAX, |l| l as i64);
            let found = c
                .prepare_cached(rows::SELECT_INSTANCES)?
                .query_map(
                    params![
                        q.state.map(InstanceState::as_str),
                        q.process_id,
                        q.business_key,
                        limit,
                        q.offset as i64
                    ],
                    |r| rows::instance_row(r),
                )?
                .collect::<Result<_, _>>()?;
            Ok(found)
        })
    }

    fn acquire_jobs(&self, a: Acquire) -> StoreFuture<'_, Vec<LeasedJob>> {
        self.write(move |c| acquire(c, a))
    }

    fn heartbeat<'a>(&'a self, job_id: i64, lease_token: &'a str, until_ms: i64) -> StoreFuture<'a, bool> {
        let token = lease_token.to_string();
        self.write(move |c| {
            Ok(c.prepare_cached(rows::HEARTBEAT)?
                .execute(params![until_ms, job_id, token])?
                == 1)
        })
    }

    fn release<'a>(&'a self, job_id: i64, lease_token: &'a str) -> StoreFuture<'a, bool> {
        let token = lease_token.to_string();
        self.write(move |c| Ok(c.prepare_cached(rows::RELEASE)?.execute(params![job_id, token])? == 1))
    }

    fn due_instances(&self, now_ms: i64, limit: usize) -> StoreFuture<'_, Vec<String>> {
        self.with(move |c| {
            Ok(c.prepare_cached(rows::DUE_INSTANCES)?
                .query_map(params![now_ms, limit as i64], |r| r.get(0))?
                .collect::<Result<_, _>>()?)
        })
    }

    fn history<'a>(&'a self, instance_id: &'a str) -> StoreFuture<'a, Vec<HistoryEvent>> {
        let id = instance_id.to_string();
        self.with(move |c| {
            Ok(c.prepare_cached(rows::SELECT_HISTORY)?
                .query_map([id], |r| rows::history_event(r))?
                .collect::<Result<_, _>>()?)
        })
    }

    fn stats(&self, now_ms: i64) -> StoreFuture<'_, StoreStats> {
        self.with(move |c| {
            let jobs = c
                .prepare_cached(rows::JOB_FIGURES)?
                .query_row([now_ms], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            let by_state = c
                .prepare_cached(rows::INSTANCES_BY_STATE)?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows::stats(now_ms, jobs, by_state))
        })
    }
}
