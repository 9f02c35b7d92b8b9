//! [`PostgresStore`]: the backend for many nodes over one PostgreSQL (feature `postgres`).
//! tokio-postgres through a deadpool pool; every transition is one transaction whose
//! `UPDATE ... WHERE revision = $n` row lock serialises concurrent changes of one instance
//! (the loser sees no row: a conflict); jobs are acquired with `FOR UPDATE SKIP LOCKED`, so
//! nodes never wait on each other's picks.

use std::str::FromStr as _;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::NoTls;

use crate::model::{
    Acquire, Deployment, HistoryEvent, InstanceQuery, InstanceRow, InstanceState, Job, LeasedJob, NewDeployment,
    NewHistoryEvent, NewJob, StoreStats, Transition, TransitionKind,
};
use crate::store::{Store, StoreFuture};
use crate::{now_ms, StoreError};

/// The PostgreSQL scripts, version 1 first.
const MIGRATIONS: &[&str] = &[include_str!("../migrations/postgres/0001_initial.sql")];

/// The PostgreSQL backend. Cheap to clone.
#[derive(Clone)]
pub struct PostgresStore {
    pool: Pool,
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
    /// and migrates the schema (under an advisory lock, so nodes starting together migrate
    /// once).
    pub async fn connect(url: &str, max_connections: usize) -> Result<Self, StoreError> {
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
            .max_size(max_connections.max(1))
            .build()
            .map_err(|e| StoreError::Database(e.to_string()))?;
        let store = PostgresStore { pool };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let mut c = self.pool.get().await?;
        let tx = c.transaction().await?;
        tx.batch_execute(
            "SELECT pg_advisory_xact_lock(7113013);
             CREATE TABLE IF NOT EXISTS servicetask_migrations (version BIGINT PRIMARY KEY, applied_ms BIGINT NOT NULL)",
        )
        .await?;
        let found: i64 = tx
            .query_one("SELECT COALESCE(MAX(version), 0) FROM servicetask_migrations", &[])
            .await?
            .get(0);
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

    async fn load_deployment(
        c: &impl tokio_postgres::GenericClient,
        id: &str,
    ) -> Result<Option<Deployment>, StoreError> {
        let Some(row) = c
            .query_opt(
                "SELECT id, file, content, created_ms FROM deployments WHERE id = $1",
                &[&id],
            )
            .await?
        else {
            return Ok(None);
        };
        let processes = c
            .query(
                "SELECT process_id, version FROM deployment_processes WHERE deployment_id = $1 ORDER BY process_id",
                &[&id],
            )
            .await?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        Ok(Some(Deployment {
            id: row.get(0),
            file: row.get(1),
            content: row.get(2),
            processes,
            created_ms: row.get(3),
        }))
    }
}

const INSTANCE_COLUMNS: &str =
    "id, deployment_id, process_id, business_key, state, revision, snapshot, saved_at_ms, wake_at_ms, created_ms";

fn instance_row(r: &tokio_postgres::Row) -> InstanceRow {
    let state: String = r.get(4);
    InstanceRow {
        id: r.get(0),
        deployment_id: r.get(1),
        process_id: r.get(2),
        business_key: r.get(3),
        state: InstanceState::parse(&state).unwrap_or(InstanceState::Failed),
        revision: r.get(5),
        snapshot: r.get(6),
        saved_at_ms: r.get(7),
        wake_at_ms: r.get(8),
        created_ms: r.get(9),
    }
}

impl Store for PostgresStore {
    fn deploy(&self, d: NewDeployment) -> StoreFuture<'_, Deployment> {
        Box::pin(async move {
            let mut c = self.pool.get().await?;
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
                    tx.execute(
                        "INSERT INTO deployment_processes (process_id, version, deployment_id)
                         SELECT $1, COALESCE(MAX(version), 0) + 1, $2 FROM deployment_processes WHERE process_id = $1",
                        &[p, &d.hash],
                    )
                    .await?;
                }
            }
            let out = Self::load_deployment(&*tx, &d.hash)
                .await?
                .ok_or_else(|| StoreError::NotFound(d.hash.clone()))?;
            tx.commit().await?;
            Ok(out)
        })
    }

    fn deployment<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<Deployment>> {
        Box::pin(async move {
            let c = self.pool.get().await?;
            Self::load_deployment(&**c, id).await
        })
    }

    fn latest_deployment<'a>(&'a self, process_id: &'a str) -> StoreFuture<'a, Option<Deployment>> {
        Box::pin(async move {
            let c = self.pool.get().await?;
            let id: Option<String> = c
                .query_opt(
                    "SELECT deployment_id FROM deployment_processes WHERE process_id = $1 ORDER BY version DESC LIMIT 1",
                    &[&process_id],
                )
                .await?
                .map(|r| r.get(0));
            match id {
                Some(id) => Self::load_deployment(&**c, &id).await,
                None => Ok(None),
            }
        })
    }

    fn deployments(&self) -> StoreFuture<'_, Vec<Deployment>> {
        Box::pin(async move {
            let c = self.pool.get().await?;
            let ids: Vec<String> = c
                .query("SELECT id FROM deployments ORDER BY created_ms, id", &[])
                .await?
                .iter()
                .map(|r| r.get(0))
                .collect();
            let mut out = Vec::new();
            for id in ids {
                out.extend(Self::load_deployment(&**c, &id).await?);
            }
            Ok(out)
        })
    }

    fn commit(&self, t: Transition) -> StoreFuture<'_, i64> {
        Box::pin(async move {
            let now = now_ms();
            let mut c = self.pool.get().await?;
            let tx = c.transaction().await?;
            let state = t.state.as_str();
            let revision = match &t.kind {
                TransitionKind::Create(n) => {
                    let inserted = tx
                        .execute(
                            "INSERT INTO instances (id, deployment_id, process_id, business_key, state, revision, snapshot, saved_at_ms, wake_at_ms, created_ms)
                             VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $8, $9) ON CONFLICT (id) DO NOTHING",
                            &[&t.instance_id, &n.deployment_id, &n.process_id, &n.business_key, &state, &t.snapshot, &t.saved_at_ms, &t.wake_at_ms, &now],
                        )
                        .await?;
                    if inserted == 0 {
                        return Err(StoreError::Conflict(t.instance_id));
                    }
                    1
                }
                TransitionKind::Update { expected_revision } => {
                    let updated = tx
                        .execute(
                            "UPDATE instances SET state = $1, revision = revision + 1, snapshot = $2, saved_at_ms = $3, wake_at_ms = $4
                             WHERE id = $5 AND revision = $6",
                            &[&state, &t.snapshot, &t.saved_at_ms, &t.wake_at_ms, &t.instance_id, expected_revision],
                        )
                        .await?;
                    if updated == 0 {
                        return Err(StoreError::Conflict(t.instance_id));
                    }
                    expected_revision + 1
                }
            };
            if let Some(lease) = &t.completes_job {
                let deleted = tx
                    .execute(
                        "DELETE FROM jobs WHERE id = $1 AND lease_token = $2",
                        &[&lease.job_id, &lease.lease_token],
                    )
                    .await?;
                if deleted == 0 {
                    return Err(StoreError::LeaseLost(lease.job_id));
                }
            }
            let keys: Vec<&str> = t.jobs.iter().map(|j| j.key.as_str()).collect();
            tx.execute(
                "DELETE FROM jobs WHERE instance_id = $1 AND NOT (key = ANY($2))",
                &[&t.instance_id, &keys],
            )
            .await?;
            if !t.jobs.is_empty() {
                let deployment_id: String = tx
                    .query_one("SELECT deployment_id FROM instances WHERE id = $1", &[&t.instance_id])
                    .await?
                    .get(0);
                let insert = tx
                    .prepare_cached(
                        "INSERT INTO jobs (key, instance_id, deployment_id, spec, created_ms) VALUES ($1, $2, $3, $4, $5)
                         ON CONFLICT (key) DO NOTHING",
                    )
                    .await?;
                for j in &t.jobs {
                    let spec = serde_json::to_string(j).map_err(|e| StoreError::Database(e.to_string()))?;
                    tx.execute(&insert, &[&j.key, &t.instance_id, &deployment_id, &spec, &now])
                        .await?;
                }
            }
            if !t.history.is_empty() {
                let insert = tx
                    .prepare_cached(
                        "INSERT INTO history (instance_id, at_ms, kind, element_id, detail) VALUES ($1, $2, $3, $4, $5)",
                    )
                    .await?;
                for h in &t.history {
                    tx.execute(&insert, &[&t.instance_id, &now, &h.kind, &h.element_id, &h.detail])
                        .await?;
                }
            }
            tx.commit().await?;
            Ok(revision)
        })
    }

    fn instance<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<InstanceRow>> {
        Box::pin(async move {
            let c = self.pool.get().await?;
            let sql = format!("SELECT {INSTANCE_COLUMNS} FROM instances WHERE id = $1");
            Ok(c.query_opt(&sql, &[&id]).await?.as_ref().map(instance_row))
        })
    }

    fn instances(&self, q: InstanceQuery) -> StoreFuture<'_, Vec<InstanceRow>> {
        Box::pin(async move {
            let c = self.pool.get().await?;
            let sql = format!(
                "SELECT {INSTANCE_COLUMNS} FROM instances
                 WHERE ($1::TEXT IS NULL OR state = $1) AND ($2::TEXT IS NULL OR process_id = $2) AND ($3::TEXT IS NULL OR business_key = $3)
                 ORDER BY created_ms, id LIMIT $4 OFFSET $5"
            );
            let limit = q.limit.map_or(i64::MAX, |l| l as i64);
            let state = q.state.map(InstanceState::as_str);
            let rows = c
                .query(
                    &sql,
                    &[&state, &q.process_id, &q.business_key, &limit, &(q.offset as i64)],
                )
                .await?;
            Ok(rows.iter().map(instance_row).collect())
        })
    }

    fn acquire_jobs(&self, a: Acquire) -> StoreFuture<'_, Vec<LeasedJob>> {
        Box::pin(async move {
            let c = self.pool.get().await?;
            let until = a.now_ms + a.lease_ms;
            let rows = c
                .query(
                    "WITH picked AS (
                         SELECT id, lease_token IS NOT NULL AS was_leased FROM jobs
                         WHERE lease_until_ms <= $1 ORDER BY lease_until_ms, id LIMIT $2 FOR UPDATE SKIP LOCKED)
                     UPDATE jobs j SET lease_owner = $3, lease_until_ms = $4, leases = j.leases + 1,
                         lease_token = md5(random()::TEXT || clock_timestamp()::TEXT || j.id::TEXT)
                     FROM picked WHERE j.id = picked.id
                     RETURNING j.id, j.instance_id, j.deployment_id, j.spec, j.created_ms, j.leases, j.lease_token, picked.was_leased",
                    &[&a.now_ms, &(a.max as i64), &a.owner, &until],
                )
                .await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                let spec: String = r.get(3);
                let spec: NewJob = serde_json::from_str(&spec).map_err(|e| StoreError::Database(e.to_string()))?;
                out.push(LeasedJob {
                    job: Job {
                        id: r.get(0),
                        instance_id: r.get(1),
                        deployment_id: r.get(2),
                        spec,
                        created_ms: r.get(4),
                        leases: r.get(5),
                    },
                    lease_token: r.get(6),
                    lease_until_ms: until,
                    taken_over: r.get(7),
                });
            }
            out.sort_by_key(|j| j.job.id);
            Ok(out)
        })
    }

    fn heartbeat<'a>(&'a self, job_id: i64, lease_token: &'a str, until_ms: i64) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let c = self.pool.get().await?;
            Ok(c.execute(
                "UPDATE jobs SET lease_until_ms = $1 WHERE id = $2 AND lease_token = $3",
                &[&until_ms, &job_id, &lease_token],
            )
            .await?
                == 1)
        })
    }

    fn release<'a>(&'a self, job_id: i64, lease_token: &'a str) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let c = self.pool.get().await?;
            Ok(c.execute(
                "UPDATE jobs SET lease_owner = NULL, lease_token = NULL, lease_until_ms = 0 WHERE id = $1 AND lease_token = $2",
                &[&job_id, &lease_token],
            )
            .await?
                == 1)
        })
    }

    fn due_instances(&self, now_ms: i64, limit: usize) -> StoreFuture<'_, Vec<String>> {
        Box::pin(async move {
            let c = self.pool.get().await?;
            Ok(c.query(
                "SELECT id FROM instances WHERE wake_at_ms IS NOT NULL AND wake_at_ms <= $1 ORDER BY wake_at_ms LIMIT $2",
                &[&now_ms, &(limit as i64)],
            )
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect())
        })
    }

    fn history<'a>(&'a self, instance_id: &'a str) -> StoreFuture<'a, Vec<HistoryEvent>> {
        Box::pin(async move {
            let c = self.pool.get().await?;
            Ok(c.query(
                "SELECT id, instance_id, at_ms, kind, element_id, detail FROM history WHERE instance_id = $1 ORDER BY id",
                &[&instance_id],
            )
            .await?
            .iter()
            .map(|r| HistoryEvent {
                id: r.get(0),
                instance_id: r.get(1),
                at_ms: r.get(2),
                event: NewHistoryEvent {
                    kind: r.get(3),
                    element_id: r.get(4),
                    detail: r.get(5),
                },
            })
            .collect())
        })
    }

    fn stats(&self, now_ms: i64) -> StoreFuture<'_, StoreStats> {
        Box::pin(async move {
            let c = self.pool.get().await?;
            let r = c
                .query_one(
                    "SELECT COUNT(*), MIN(created_ms), COALESCE(SUM(CASE WHEN lease_until_ms > $1 THEN 1 ELSE 0 END), 0)::BIGINT FROM jobs",
                    &[&now_ms],
                )
                .await?;
            let (depth, oldest, leased): (i64, Option<i64>, i64) = (r.get(0), r.get(1), r.get(2));
            let mut instances = Vec::new();
            for row in c
                .query("SELECT state, COUNT(*) FROM instances GROUP BY state", &[])
                .await?
            {
                let s: String = row.get(0);
                if let Some(s) = InstanceState::parse(&s) {
                    instances.push((s, row.get::<_, i64>(1)));
                }
            }
            Ok(StoreStats {
                queue_depth: depth,
                oldest_job_age_ms: oldest.map_or(0, |o| (now_ms - o).max(0)),
                leased_jobs: leased,
                instances,
            })
        })
    }
}
