//! The tokio runtimes tests block on: a current-thread one for sequential work, and a
//! two-worker one where executions must really run side by side.

use tokio::runtime::{Builder, Runtime};

/// A current-thread runtime with time and I/O enabled.
pub fn current_thread() -> Runtime {
    Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// A multi-thread runtime of two workers (the machines the tests run on have two cores) with
/// time and I/O enabled.
pub fn two_workers() -> Runtime {
    Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}
