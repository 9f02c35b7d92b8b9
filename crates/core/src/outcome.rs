//! The result of one task execution as the engine sees it.
//!
//! ```
//! use servicetask_core::{TaskOutcome, TaskError};
//! let o: TaskOutcome<()> = TaskOutcome::from_result(Err(TaskError::business("E1", "no stock")), 0, None);
//! assert!(matches!(o, TaskOutcome::BpmnError { ref code, .. } if code == "E1"));
//! ```

use std::time::Duration;

use crate::error::{ErrorClass, TaskError};
use crate::record::OutcomeKind;

/// complete, BPMN error, or failure: what an execution tells the engine.
#[derive(Debug, Clone)]
pub enum TaskOutcome<T> {
    /// The task completed with this output.
    Complete(T),
    /// The task raised a BPMN error: the engine throws it to the nearest error boundary.
    BpmnError {
        /// The BPMN error code.
        code: String,
        /// A message.
        message: String,
        /// Variables carried with the error.
        variables: serde_json::Map<String, serde_json::Value>,
    },
    /// The task failed.
    Failure {
        /// The classified error.
        error: TaskError,
        /// Retries the engine may still make (0: raise an incident).
        retries_left: u32,
        /// Suggested delay before the engine retries.
        retry_backoff: Option<Duration>,
    },
}

impl<T> TaskOutcome<T> {
    /// Maps a task result to an outcome.
    pub fn from_result(result: Result<T, TaskError>, retries_left: u32, retry_backoff: Option<Duration>) -> Self {
        match result {
            Ok(v) => TaskOutcome::Complete(v),
            Err(e) if e.class() == ErrorClass::Business => TaskOutcome::BpmnError {
                code: e.code().unwrap_or("error").to_string(),
                message: e.message().to_string(),
                variables: e.variables().clone(),
            },
            Err(e) => {
                let left = e.retries_left().unwrap_or(retries_left);
                TaskOutcome::Failure {
                    error: e,
                    retries_left: left,
                    retry_backoff,
                }
            }
        }
    }

    /// The outcome's kind.
    pub fn kind(&self) -> OutcomeKind {
        match self {
            TaskOutcome::Complete(_) => OutcomeKind::Complete,
            TaskOutcome::BpmnError { .. } => OutcomeKind::BpmnError,
            TaskOutcome::Failure { .. } => OutcomeKind::Failure,
        }
    }

    /// The output of a completed execution.
    pub fn output(&self) -> Option<&T> {
        match self {
            TaskOutcome::Complete(v) => Some(v),
            _ => None,
        }
    }

    /// Converts to a `Result`, a BPMN error becoming a `business` `TaskError`.
    pub fn into_result(self) -> Result<T, TaskError> {
        match self {
            TaskOutcome::Complete(v) => Ok(v),
            TaskOutcome::BpmnError {
                code,
                message,
                variables,
            } => Err(TaskError::business(code, message).with_variables(variables)),
            TaskOutcome::Failure { error, .. } => Err(error),
        }
    }

    /// Maps the output.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> TaskOutcome<U> {
        match self {
            TaskOutcome::Complete(v) => TaskOutcome::Complete(f(v)),
            TaskOutcome::BpmnError {
                code,
                message,
                variables,
            } => TaskOutcome::BpmnError {
                code,
                message,
                variables,
            },
            TaskOutcome::Failure {
                error,
                retries_left,
                retry_backoff,
            } => TaskOutcome::Failure {
                error,
                retries_left,
                retry_backoff,
            },
        }
    }
}
