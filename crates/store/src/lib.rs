//! servicetask-store: the engine of record of `servicetask serve`.
//!
//! Deployments (versioned by process id and content hash), instances (an engine snapshot with
//! a revision), jobs (service calls waiting to run, acquired with a lease), timers (an
//! instance's next wake-up time), incidents (in the instance state) and history (one event per
//! transition) live behind one trait, [`Store`], with an embedded backend ([`SqliteStore`])
//! and one for many nodes (`PostgresStore`, feature `postgres`).
//!
//! Every state change of an instance is one [`Transition`], committed in one transaction that
//! checks the instance's revision (optimistic locking: [`StoreError::Conflict`] when another
//! node moved it first) and, for a job completion, the job's lease token
//! ([`StoreError::LeaseLost`] when the lease was taken over). That gives exactly-once state
//! change over at-least-once execution.
//!
//! The store knows rows, not BPMN: the snapshot is opaque JSON to it.

mod error;
mod migrate;
mod model;
#[cfg(feature = "postgres")]
mod postgres;
mod rows;
mod sqlite;
mod store;

pub use error::StoreError;
pub use model::{
    Acquire, Deployment, HistoryEvent, InstanceQuery, InstanceRow, InstanceState, Job, JobLease, LeasedJob,
    NewDeployment, NewHistoryEvent, NewInstance, NewJob, StoreStats, Transition, TransitionKind,
};
#[cfg(feature = "postgres")]
pub use postgres::{PostgresConfig, PostgresStore};
pub use sqlite::SqliteStore;
pub use store::{Store, StoreFuture};

/// Milliseconds since the Unix epoch, the store's clock for leases, timers and ages.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
