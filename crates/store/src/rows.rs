//! What the SQLite and PostgreSQL backends share: the SQL both dialects read alike (`$n`
//! parameters, numbered in order of first use, which SQLite binds by position too), and the
//! mapping from a result row to the model's types, written once over [`Columns`], the few typed
//! getters each driver's row offers.

use crate::model::{
    Deployment, HistoryEvent, InstanceRow, InstanceState, Job, LeasedJob, NewHistoryEvent, NewJob, StoreStats,
};
use crate::StoreError;

/// The instance columns [`instance_row`] reads, in its order.
macro_rules! instance_columns {
    () => {
        "id, deployment_id, process_id, business_key, state, revision, snapshot, saved_at_ms, wake_at_ms, created_ms"
    };
}

/// One instance by id.
pub(crate) const SELECT_INSTANCE: &str = concat!("SELECT ", instance_columns!(), " FROM instances WHERE id = $1");

/// Instances by optional state, process and business key, oldest first, with limit and offset.
pub(crate) const SELECT_INSTANCES: &str = concat!(
    "SELECT ",
    instance_columns!(),
    " FROM instances
     WHERE (CAST($1 AS TEXT) IS NULL OR state = $1) AND (CAST($2 AS TEXT) IS NULL OR process_id = $2)
       AND (CAST($3 AS TEXT) IS NULL OR business_key = $3)
     ORDER BY created_ms, id LIMIT $4 OFFSET $5"
);

/// A deployment's own columns.
pub(crate) const SELECT_DEPLOYMENT: &str = "SELECT id, file, content, created_ms FROM deployments WHERE id = $1";

/// A deployment's processes and their versions.
pub(crate) const SELECT_DEPLOYMENT_PROCESSES: &str =
    "SELECT process_id, version FROM deployment_processes WHERE deployment_id = $1 ORDER BY process_id";

/// The deployment holding the newest version of a process.
pub(crate) const SELECT_LATEST_DEPLOYMENT: &str =
    "SELECT deployment_id FROM deployment_processes WHERE process_id = $1 ORDER BY version DESC LIMIT 1";

/// Every deployment id, oldest first.
pub(crate) const SELECT_DEPLOYMENT_IDS: &str = "SELECT id FROM deployments ORDER BY created_ms, id";

/// The next version of a process, recorded for a new deployment.
pub(crate) const INSERT_DEPLOYMENT_PROCESS: &str =
    "INSERT INTO deployment_processes (process_id, version, deployment_id)
     SELECT $1, COALESCE(MAX(version), 0) + 1, $2 FROM deployment_processes WHERE process_id = $1";

/// Extends a lease held with a token.
pub(crate) const HEARTBEAT: &str = "UPDATE jobs SET lease_until_ms = $1 WHERE id = $2 AND lease_token = $3";

/// Gives a lease held with a token back (due again at once).
pub(crate) const RELEASE: &str =
    "UPDATE jobs SET lease_owner = NULL, lease_token = NULL, lease_until_ms = 0 WHERE id = $1 AND lease_token = $2";

/// Instances whose next timer is due, earliest first.
pub(crate) const DUE_INSTANCES: &str =
    "SELECT id FROM instances WHERE wake_at_ms IS NOT NULL AND wake_at_ms <= $1 ORDER BY wake_at_ms LIMIT $2";

/// One instance's history, in order ([`history_event`]'s columns).
pub(crate) const SELECT_HISTORY: &str =
    "SELECT id, instance_id, at_ms, kind, element_id, detail FROM history WHERE instance_id = $1 ORDER BY id";

/// Queue depth, oldest job's creation and live leases at `$1`.
pub(crate) const JOB_FIGURES: &str = "SELECT COUNT(*), MIN(created_ms),
     COALESCE(SUM(CASE WHEN lease_until_ms > $1 THEN 1 ELSE 0 END), 0) FROM jobs";

/// Instances per state.
pub(crate) const INSTANCES_BY_STATE: &str = "SELECT state, COUNT(*) FROM instances GROUP BY state";

/// The typed getters the mappings need, by column index, as each driver's row offers them.
pub(crate) trait Columns {
    /// The driver's error.
    type Error;
    /// A TEXT column.
    fn text(&self, i: usize) -> Result<String, Self::Error>;
    /// A nullable TEXT column.
    fn opt_text(&self, i: usize) -> Result<Option<String>, Self::Error>;
    /// An integer column.
    fn int(&self, i: usize) -> Result<i64, Self::Error>;
    /// A nullable integer column.
    fn opt_int(&self, i: usize) -> Result<Option<i64>, Self::Error>;
    /// A BLOB (SQLite) or BYTEA (PostgreSQL) column.
    fn bytes(&self, i: usize) -> Result<Vec<u8>, Self::Error>;
}

impl Columns for rusqlite::Row<'_> {
    type Error = rusqlite::Error;
    fn text(&self, i: usize) -> rusqlite::Result<String> {
        self.get(i)
    }
    fn opt_text(&self, i: usize) -> rusqlite::Result<Option<String>> {
        self.get(i)
    }
    fn int(&self, i: usize) -> rusqlite::Result<i64> {
        self.get(i)
    }
    fn opt_int(&self, i: usize) -> rusqlite::Result<Option<i64>> {
        self.get(i)
    }
    fn bytes(&self, i: usize) -> rusqlite::Result<Vec<u8>> {
        self.get(i)
    }
}

#[cfg(feature = "postgres")]
impl Columns for tokio_postgres::Row {
    type Error = tokio_postgres::Error;
    fn text(&self, i: usize) -> Result<String, Self::Error> {
        self.try_get(i)
    }
    fn opt_text(&self, i: usize) -> Result<Option<String>, Self::Error> {
        self.try_get(i)
    }
    fn int(&self, i: usize) -> Result<i64, Self::Error> {
        self.try_get(i)
    }
    fn opt_int(&self, i: usize) -> Result<Option<i64>, Self::Error> {
        self.try_get(i)
    }
    fn bytes(&self, i: usize) -> Result<Vec<u8>, Self::Error> {
        self.try_get(i)
    }
}

/// An instance from a row of `instance_columns!()`. An unknown state reads as failed.
pub(crate) fn instance_row<R: Columns + ?Sized>(r: &R) -> Result<InstanceRow, R::Error> {
    Ok(InstanceRow {
        id: r.text(0)?,
        deployment_id: r.text(1)?,
        process_id: r.text(2)?,
        business_key: r.opt_text(3)?,
        state: InstanceState::parse(&r.text(4)?).unwrap_or(InstanceState::Failed),
        revision: r.int(5)?,
        snapshot: r.text(6)?,
        saved_at_ms: r.int(7)?,
        wake_at_ms: r.opt_int(8)?,
        created_ms: r.int(9)?,
    })
}

/// A deployment from a row of [`SELECT_DEPLOYMENT`], without its processes.
pub(crate) fn deployment<R: Columns + ?Sized>(r: &R) -> Result<Deployment, R::Error> {
    Ok(Deployment {
        id: r.text(0)?,
        file: r.text(1)?,
        content: r.bytes(2)?,
        processes: Vec::new(),
        created_ms: r.int(3)?,
    })
}

/// A history event from a row of [`SELECT_HISTORY`].
pub(crate) fn history_event<R: Columns + ?Sized>(r: &R) -> Result<HistoryEvent, R::Error> {
    Ok(HistoryEvent {
        id: r.int(0)?,
        instance_id: r.text(1)?,
        at_ms: r.int(2)?,
        event: NewHistoryEvent {
            kind: r.text(3)?,
            element_id: r.opt_text(4)?,
            detail: r.opt_text(5)?,
        },
    })
}

/// A job's spec as stored (JSON).
pub(crate) fn spec_json(job: &NewJob) -> Result<String, StoreError> {
    serde_json::to_string(job).map_err(|e| StoreError::Database(format!("job {}: {e}", job.key)))
}

/// A leased job row's columns, as both backends read them before the lease is granted.
#[derive(Debug)]
pub(crate) struct JobColumns {
    /// Its id.
    pub id: i64,
    /// Its instance.
    pub instance_id: String,
    /// Its instance's deployment.
    pub deployment_id: String,
    /// The spec (JSON).
    pub spec: String,
    /// When it was created.
    pub created_ms: i64,
    /// Leases so far, this one included.
    pub leases: i64,
    /// True when it had a lease before this one.
    pub was_leased: bool,
}

impl JobColumns {
    /// The job leased with `lease_token` until `lease_until_ms`.
    pub(crate) fn leased(self, lease_token: String, lease_until_ms: i64) -> Result<LeasedJob, StoreError> {
        let spec: NewJob = serde_json::from_str(&self.spec)
            .map_err(|e| StoreError::Database(format!("job {}: bad spec: {e}", self.id)))?;
        Ok(LeasedJob {
            job: Job {
                id: self.id,
                instance_id: self.instance_id,
                deployment_id: self.deployment_id,
                spec,
                created_ms: self.created_ms,
                leases: self.leases,
            },
            lease_token,
            lease_until_ms,
            taken_over: self.was_leased,
        })
    }
}

/// The operator figures from [`JOB_FIGURES`]' values and [`INSTANCES_BY_STATE`]' rows.
pub(crate) fn stats(
    now_ms: i64,
    (depth, oldest, leased): (i64, Option<i64>, i64),
    by_state: impl IntoIterator<Item = (String, i64)>,
) -> StoreStats {
    StoreStats {
        queue_depth: depth,
        oldest_job_age_ms: oldest.map_or(0, |o| (now_ms - o).max(0)),
        leased_jobs: leased,
        instances: by_state
            .into_iter()
            .filter_map(|(s, n)| InstanceState::parse(&s).map(|s| (s, n)))
            .collect(),
    }
}
