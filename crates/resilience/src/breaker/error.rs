//! The breaker's rejection error.

use std::sync::Arc;
use std::time::Duration;

use servicetask_core::{ErrorClass, TaskError};

use super::engine::BreakerState;

/// A circuit breaker rejected a call without running it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("circuit breaker '{breaker}' is {state}; the call was not made")]
pub struct BreakerOpenError {
    pub(crate) breaker: Arc<str>,
    pub(crate) state: BreakerState,
    pub(crate) retry_after: Duration,
}

impl BreakerOpenError {
    /// The breaker's key (task name or `dependency:<name>`).
    pub fn breaker(&self) -> &str {
        &self.breaker
    }

    /// The state that rejected (`open`, `half_open` with every probe out, or `forced_open`).
    pub fn state(&self) -> BreakerState {
        self.state
    }

    /// When asking again makes sense.
    pub fn retry_after(&self) -> Duration {
        self.retry_after
    }

    /// The classified task error: class `circuit_open`, with the wait as its Retry-After.
    pub fn into_task_error(self) -> TaskError {
        TaskError::new(ErrorClass::CircuitOpen, self.to_string())
            .with_retry_after(self.retry_after)
            .with_source(self)
    }
}

impl From<BreakerOpenError> for TaskError {
    fn from(e: BreakerOpenError) -> Self {
        e.into_task_error()
    }
}
