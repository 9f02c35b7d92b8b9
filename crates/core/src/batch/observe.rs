//! Process-wide observers of batch progress: what a terminal progress bar or a console draws
//! while tasks run batches. A host registers an observer once ([`observe`]); every batch's
//! progress report (each progress step and the end) is passed to each observer with the task
//! and batch names. With no observer registered a report costs one atomic load.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use super::progress::BatchProgress;

/// Receives the progress of every batch in the process.
pub trait BatchObserver: Send + Sync + 'static {
    /// A progress report of batch `batch` in task `task` (the last one has `processed() ==
    /// total` when the batch went through, fewer when it stopped).
    fn on_batch_progress(&self, task: &str, batch: &str, progress: &BatchProgress);
}

static ANY: AtomicBool = AtomicBool::new(false);
static OBSERVERS: RwLock<Vec<Arc<dyn BatchObserver>>> = RwLock::new(Vec::new());

/// Registers `observer` for every batch of the process from now on.
pub fn observe(observer: Arc<dyn BatchObserver>) {
    OBSERVERS.write().unwrap_or_else(|p| p.into_inner()).push(observer);
    ANY.store(true, Ordering::Release);
}

/// Passes one report to every observer.
pub(super) fn notify(task: &str, batch: &str, progress: &BatchProgress) {
    if !ANY.load(Ordering::Acquire) {
        return;
    }
    let observers = OBSERVERS.read().unwrap_or_else(|p| p.into_inner()).clone();
    for o in observers {
        o.on_batch_progress(task, batch, progress);
    }
}
