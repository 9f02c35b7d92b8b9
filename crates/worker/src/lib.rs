//! servicetask-worker: the durable side of `servicetask serve`.
//!
//! - [`Host`]: every state change of an instance, as load -> resume the engine snapshot ->
//!   apply one event (start, job result, timer, user task, message, signal, incident, cancel)
//!   -> run to the next wait -> commit one [`servicetask_store::Transition`] guarded by the
//!   instance revision (redone on a conflict). The engine runs with
//!   [`servicetask_engine::EngineConfig::external_jobs`]: service calls become jobs in the
//!   store, and timers a wake-up time.
//! - [`Worker`]: the loop of one node: acquire due jobs with a lease, run them through a
//!   [`servicetask_engine::TaskHandler`] (the Runner, in the server) with heartbeats, complete
//!   them with their lease token; fire due timers; on shutdown take no new jobs and let
//!   in-flight ones finish, or release them after a grace period.
//! - [`view::InstanceView`]: what the API shows of an instance, with sensitive variables
//!   redacted.
//! - [`at_rest`]: sensitive values of a live instance in the store: encrypted with a
//!   [`StateKey`] every node shares, else not stored at all (kept in the memory of the node
//!   running the instance).
//!
//! Exactly-once state change, at-least-once execution: a job runs again only when its
//! completion was not committed (a crash, a lost lease); its idempotency key
//! (`cx.idempotency_key()`) stays the same, so a task can make the repeat harmless.

pub mod at_rest;
mod error;
mod events;
mod host;
mod metrics;
mod secrets;
mod state_key;
pub mod view;
mod worker;

pub use error::HostError;
pub use host::{Host, HostConfig, StartRequest};
pub use metrics::{Metrics, MetricsSnapshot};
pub use state_key::{KeyError, OpenError, StateKey};
pub use worker::{TimerConfig, Worker, WorkerConfig};
