//! The [`Store`] trait every backend implements.

use std::future::Future;
use std::pin::Pin;

use crate::model::{
    Acquire, Deployment, HistoryEvent, InstanceQuery, InstanceRow, LeasedJob, NewDeployment, StoreStats, Transition,
};
use crate::StoreError;

/// The future a [`Store`] method returns.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// The engine of record. Object safe: a node holds an `Arc<dyn Store>`, whichever backend.
///
/// # Contract
///
/// - [`Store::commit`] is atomic: the instance row, its jobs and its history events change
///   together or not at all.
/// - A job is leased by at most one worker at a time: [`Store::acquire_jobs`] only hands out
///   jobs that are due and not leased, or whose lease expired (a take-over, with a new token).
pub trait Store: Send + Sync + 'static {
    /// Records a deployment; deploying the same content again returns the existing one.
    fn deploy(&self, d: NewDeployment) -> StoreFuture<'_, Deployment>;
    /// A deployment by id.
    fn deployment<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<Deployment>>;
    /// The newest deployment that has `process_id`.
    fn latest_deployment<'a>(&'a self, process_id: &'a str) -> StoreFuture<'a, Option<Deployment>>;
    /// Every deployment, oldest first.
    fn deployments(&self) -> StoreFuture<'_, Vec<Deployment>>;
    /// Commits one transition of one instance; returns its new revision.
    fn commit(&self, t: Transition) -> StoreFuture<'_, i64>;
    /// An instance by id.
    fn instance<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<InstanceRow>>;
    /// Instances matching `q`, oldest first.
    fn instances(&self, q: InstanceQuery) -> StoreFuture<'_, Vec<InstanceRow>>;
    /// Leases up to `a.max` due jobs to `a.owner`.
    fn acquire_jobs(&self, a: Acquire) -> StoreFuture<'_, Vec<LeasedJob>>;
    /// Extends a lease to `until_ms`; false when the lease is no longer held.
    fn heartbeat<'a>(&'a self, job_id: i64, lease_token: &'a str, until_ms: i64) -> StoreFuture<'a, bool>;
    /// Gives a lease back (the job is due again at once); false when it was no longer held.
    fn release<'a>(&'a self, job_id: i64, lease_token: &'a str) -> StoreFuture<'a, bool>;
    /// Instances whose next timer is due at `now_ms`, earliest first.
    fn due_instances(&self, now_ms: i64, limit: usize) -> StoreFuture<'_, Vec<String>>;
    /// The history of one instance, in order.
    fn history<'a>(&'a self, instance_id: &'a str) -> StoreFuture<'a, Vec<HistoryEvent>>;
    /// Operator figures: queue depth, oldest job age, instances by state.
    fn stats(&self, now_ms: i64) -> StoreFuture<'_, StoreStats>;
}
