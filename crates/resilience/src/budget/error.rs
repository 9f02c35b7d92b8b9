//! The error of a retry the budget refused.

/// The retry budget refused a retry; the last attempt's error is the source.
#[derive(Debug, Clone, thiserror::Error)]
#[error("retry budget exhausted after attempt {attempt}: {last}")]
pub struct BudgetExhaustedError {
    attempt: u32,
    #[source]
    last: servicetask_core::TaskError,
}

impl BudgetExhaustedError {
    /// The budget refused a retry after `attempt` failed with `last`.
    pub fn new(attempt: u32, last: servicetask_core::TaskError) -> Self {
        BudgetExhaustedError { attempt, last }
    }

    /// The attempt that failed last.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The error of the last attempt.
    pub fn into_inner(self) -> servicetask_core::TaskError {
        self.last
    }

    /// The classified task error (class `budget_exhausted`).
    pub fn into_task_error(self) -> servicetask_core::TaskError {
        servicetask_core::TaskError::new(servicetask_core::ErrorClass::BudgetExhausted, self.to_string())
            .with_source(self)
    }
}
