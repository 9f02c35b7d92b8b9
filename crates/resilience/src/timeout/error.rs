//! The timeout error: which limit ran out, and after how long.

use std::time::Duration;

use servicetask_core::TaskError;

/// Which limit ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutScope {
    /// `timeout.attempt`.
    Attempt,
    /// `timeout.total`.
    Total,
}

/// An attempt or the whole execution ran out of time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} timed out after {:?}", match .scope { TimeoutScope::Attempt => "attempt", TimeoutScope::Total => "execution" }, .after)]
pub struct TimeoutError {
    scope: TimeoutScope,
    after: Duration,
}

impl TimeoutError {
    /// A timeout of `scope` after `after`.
    pub fn new(scope: TimeoutScope, after: Duration) -> Self {
        TimeoutError { scope, after }
    }

    /// Which limit ran out.
    pub fn scope(&self) -> TimeoutScope {
        self.scope
    }

    /// The limit.
    pub fn after(&self) -> Duration {
        self.after
    }

    /// The classified task error (class `timeout`).
    pub fn into_task_error(self) -> TaskError {
        TaskError::timeout(self.to_string()).with_source(self)
    }
}

impl From<TimeoutError> for TaskError {
    fn from(e: TimeoutError) -> Self {
        e.into_task_error()
    }
}
