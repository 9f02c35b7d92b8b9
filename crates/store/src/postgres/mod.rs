//! [`PostgresStore`]: the backend for many nodes over one PostgreSQL (feature `postgres`).
//! tokio-postgres through a deadpool pool, every statement prepared once per connection.
//! Transitions are group-committed ([`commit`]): those queued while a batch is in flight go
//! in one transaction, each checked against its instance's locked revision and its job's lease
//! token, so each still stands or fails alone. Jobs are acquired with `FOR UPDATE SKIP LOCKED`,
//! so nodes never wait on each other's picks.

mod commit;

use std::str::FromStr as _;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::NoTls;

use crate::model::{
    Acquire, Deployment, HistoryEvent, InstanceQuery, InstanceRow, InstanceState, LeasedJob, NewDeployment, StoreStats,
    Transition,
};
use crate::rows::{self, JobColumns};
use crate::store::{Store, StoreFuture};
use crate::{now_ms, StoreError};

/// The PostgreSQL scripts, version 1 first.
const MIGRATIONS: &[&str] = &[include_str!("../../migrations/postgres/0001_initial.sql")];

/// The limits of a [`PostgresStore`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PostgresConfig {
    /// Pooled connections (at least one more than `committers`, so reads never wait for every
    /// committer).
    pub max_connections: usize,
    /// Batches of transitions in flight at once (each on a pooled connection).
    pub committers: usize,
    /// Most transitions committed in one transaction.
    pub max_batch: usize,
}

impl Default for PostgresConfig {
    fn default() -> Self {
        PostgresConfig {
            max_connections: 16,
            committers: 2,
            max_batch: 256,
        }
    }
}

/// The PostgreSQL backend. Cheap to clone.
#[derive(Clone)]
pub struct PostgresStore {
    pool: Pool,
    committer: commit::Committer,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore").finish_non_exhaustive()
    }
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        StoreError::Database(e.to_string())
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        StoreError::Database(e.to_string())
    }
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user@host:port/db`) with a pool of `max_connections`
    /// and the default batching ([`PostgresConfig`]), and migrates the schema (under an advisory
    /// lock, so nodes starting together migrate once).
    pub async fn connect(url: &str, max_connections: usize) -> Result<Self, StoreError> {
        Self::connect_with(
            url,
            PostgresConfig {
                max_connections,
                ..PostgresConfig::default()
            },
        )
        .await
    }

    /// [`PostgresStore::connect`] with every limit given.
    pub async fn connect_with(url: &str, c: PostgresConfig) -> Result<Self, StoreError> {
        let config =
            tokio_postgres::Config::from_str(url).map_err(|e| StoreError::Database(format!("bad URL: {e}")))?;
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(c.max_connections.max(c.committers + 1))
            .build()
            .map_err(|e| StoreError::Database(e.to_string()))?;
        migrate(&pool).await?;
        let committer = commit::Committer::start(pool.clone(), c.committers, c.max_batch);
        Ok(PostgresStore { pool, committer })
    }

    /// A pooled connection.
    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        Ok(self.pool.get().await?)
    }
}

/// Brings the database up to the newest schema, under an advisory lock (nodes starting together
/// migrate once).
async fn migrate(pool: &Pool) -> Result<(), StoreError> {
    let mut c = pool.get().await?;
    let tx = c.transaction().await?;
    tx.batch_execute(
        "SELECT pg_advisory_xact_lock(7113013);
         CREATE TABLE IF NOT EXISTS servicetask_migrations (version BIGINT PRIMARY KEY, applied_ms BIGINT NOT NULL)",
    )
    .await?;
    let found: i64 = tx
        .query_one("SELECT COALESCE(MAX(version), 0) FROM servicetask_migrations", &[])
        .await?
        .try_get(0)?;
    let known = MIGRATIONS.len() as i64;
    if found > known {
        return Err(StoreError::SchemaTooNew { found, known });
    }
    for (i, script) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        tx.batch_execute(script).await?;
        tx.execute(
            "INSERT INTO servicetask_migrations (version, applied_ms) VALUES ($1, $2)",
            &[&(i as i64 + 1), &now_ms()],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// A deployment with its processes.
async fn load_deployment(c: &impl tokio_postgres::GenericClient, id: &str) -> Result<Option<Deployment>, StoreError> {
    let Some(row) = c.query_opt(rows::SELECT_DEPLOYMENT, &[&id]).await? else {
        return Ok(None);
    };
    let mut d = rows::deployment(&row)?;
    d.processes = c
        .query(rows::SELECT_DEPLOYMENT_PROCESSES, &[&id])
        .await?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect::<Result<_, tokio_postgres::Error>>()?;
    Ok(Some(d))
}

impl Store for PostgresStore {
    fn deploy(&self, d: NewDeployment) -> StoreFuture<'_, Deployment> {
        Box::pin(async move {
            let mut c = self.client().await?;
            let tx = c.transaction().await?;
            tx.execute("SELECT pg_advisory_xact_lock(7113014)", &[]).await?;
            let inserted = tx
                .execute(
                    "INSERT INTO deployments (id, file, content, created_ms) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING",
                    &[&d.hash, &d.file, &d.content, &now_ms()],
                )
                .await?;
            if inserted == 1 {
                for p in &d.process_ids {
                    tx.execute(rows::INSERT_DEPLOYMENT_PROCESS, &[p, &d.hash]).await?;
                }
            }
            let out = load_deployment(&*tx, &d.hash)
                .await?
                .ok_or_else(|| StoreError::NotFound(d.hash.clone()))?;
            tx.commit().await?;
            Ok(out)
        })
    }

    fn deployment<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<Deployment>> {
        Box::pin(async move { load_deployment(&**self.client().await?, id).await })
    }

    fn latest_deployment<'a>(&'a self, process_id: &'a str) -> StoreFuture<'a, Option<Deployment>> {
        Box::pin(async move {
            let c = self.client().await?;
            let id: Option<String> = match c.query_opt(rows::SELECT_LATEST_DEPLOYMENT, &[&process_id]).await? {
                Some(r) => Some(r.try_get(0)?),
                None => None,
            };
            match id {
                Some(id) => load_deployment(&**c, &id).await,
                None => Ok(None),
            }
        })
    }

    fn deployments(&self) -> StoreFuture<'_, Vec<Deployment>> {
        Box::pin(async move {
            let c = self.client().await?;
            let ids: Vec<String> = c
                .query(rows::SELECT_DEPLOYMENT_IDS, &[])
                .await?
                .iter()
                .map(|r| r.try_get(0))
                .collect::<Result<_, _>>()?;
            let mut out = Vec::new();
            for id in ids {
                out.extend(load_deployment(&**c, &id).await?);
            }
            Ok(out)
        })
    }

    fn commit(&self, t: Transition) -> StoreFuture<'_, i64> {
        Box::pin(self.committer.commit(t))
    }

    fn instance<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<InstanceRow>> {
        Box::pin(async move {
            let c = self.client().await?;
            let st = c.prepare_cached(rows::SELECT_INSTANCE).await?;
            Ok(c.query_opt(&st, &[&id])
                .await?
                .as_ref()
                .map(rows::instance_row)
                .transpose()?)
        })
    }

    fn instances(&self, q: InstanceQuery) -> StoreFuture<'_, Vec<InstanceRow>> {
        Box::pin(async move {
            let c = self.client().await?;
            let st = c.prepare_cached(rows::SELECT_INSTANCES).await?;
            let limit = q.limit.map_or(i64::MAX, |l| l as i64);
            let state = q.state.map(InstanceState::as_str);
            let found = c
                .query(
                    &st,
                    &[&state, &q.process_id, &q.business_key, &limit, &(q.offset as i64)],
                )
                .await?;
            Ok(found.iter().map(rows::instance_row).collect::<Result<_, _>>()?)
        })
    }

    fn acquire_jobs(&self, a: Acquire) -> StoreFuture<'_, Vec<LeasedJob>> {
        Box::pin(async move {
            let c = self.client().await?;
            let until = a.now_ms + a.lease_ms;
            // one statement: pick (skipping rows another node is picking), lease, return
            let st = c
                .prepare_cached(
                    "WITH picked AS (
                         SELECT id, lease_token IS NOT NULL AS was_leased FROM jobs
                         WHERE lease_until_ms <= $1 ORDER BY lease_until_ms, id LIMIT $2 FOR UPDATE SKIP LOCKED)
                     UPDATE jobs j SET lease_owner = $3, lease_until_ms = $4, leases = j.leases + 1,
                         lease_token = md5(random()::TEXT || clock_timestamp()::TEXT || j.id::TEXT)
                     FROM picked WHERE j.id = picked.id
                     RETURNING j.id, j.instance_id, j.deployment_id, j.spec, j.created_ms, j.leases, picked.was_leased, j.lease_token",
                )
                .await?;
            let found = c.query(&st, &[&a.now_ms, &(a.max as i64), &a.owner, &until]).await?;
            let mut out = Vec::with_capacity(found.len());
            for r in found {
                let job = JobColumns {
                    id: r.try_get(0)?,
                    instance_id: r.try_get(1)?,
                    deployment_id: r.try_get(2)?,
                    spec: r.try_get(3)?,
                    created_ms: r.try_get(4)?,
                    leases: r.try_get(5)?,
                    was_leased: r.try_get(6)?,
                };
                out.push(job.leased(r.try_get(7)?, until)?);
            }
            out.sort_by_key(|j| j.job.id);
            Ok(out)
        })
    }

    fn heartbeat<'a>(&'a self, job_id: i64, lease_token: &'a str, until_ms: i64) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let c = self.client().await?;
            let st = c.prepare_cached(rows::HEARTBEAT).await?;
            Ok(c.execute(&st, &[&until_ms, &job_id, &lease_token]).await? == 1)
        })
    }

    fn release<'a>(&'a self, job_id: i64, lease_token: &'a str) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let c = self.client().await?;
            let st = c.prepare_cached(rows::RELEASE).await?;
            Ok(c.execute(&st, &[&job_id, &lease_token]).await? == 1)
        })
    }

    fn due_instances(&self, now_ms: i64, limit: usize) -> StoreFuture<'_, Vec<String>> {
        Box::pin(async move {
            let c = self.client().await?;
            let st = c.prepare_cached(rows::DUE_INSTANCES).await?;
            Ok(c.query(&st, &[&now_ms, &(limit as i64)])
                .await?
                .iter()
                .map(|r| r.try_get(0))
                .collect::<Result<_, _>>()?)
        })
    }

    fn history<'a>(&'a self, instance_id: &'a str) -> StoreFuture<'a, Vec<HistoryEvent>> {
        Box::pin(async move {
            let c = self.client().await?;
            let st = c.prepare_cached(rows::SELECT_HISTORY).await?;
            Ok(c.query(&st, &[&instance_id])
                .await?
                .iter()
                .map(rows::history_event)
                .collect::<Result<_, _>>()?)
        })
    }

    fn stats(&self, now_ms: i64) -> StoreFuture<'_, StoreStats> {
        Box::pin(async move {
            let c = self.client().await?;
            let r = c.query_one(rows::JOB_FIGURES, &[&now_ms]).await?;
            let jobs = (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?);
            let by_state = c
                .query(rows::INSTANCES_BY_STATE, &[])
                .await?
                .iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                .collect::<Result<Vec<_>, tokio_postgres::Error>>()?;
            Ok(rows::stats(now_ms, jobs, by_state))
        })
    }
}
