//! The bulkhead's rejection error.

use std::sync::Arc;
use std::time::Duration;

use servicetask_core::{ErrorClass, TaskError};

/// A bulkhead had no free slot within its wait.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bulkhead '{bulkhead}' is full ({max_concurrent} running; waited {waited:?})")]
pub struct BulkheadFullError {
    pub(crate) bulkhead: Arc<str>,
    pub(crate) max_concurrent: u32,
    pub(crate) waited: Duration,
}

impl BulkheadFullError {
    /// The bulkhead's key.
    pub fn bulkhead(&self) -> &str {
        &self.bulkhead
    }

    /// The classified task error (class `bulkhead_full`).
    pub fn into_task_error(self) -> TaskError {
        TaskError::new(ErrorClass::BulkheadFull, self.to_string()).with_source(self)
    }
}

impl From<BulkheadFullError> for TaskError {
    fn from(e: BulkheadFullError) -> Self {
        e.into_task_error()
    }
}
