//! [`TimeoutLayer`]: cancels an attempt that runs longer than the per-attempt timeout.

use std::time::Duration;

use servicetask_core::layer::{AttemptResult, BoxFuture, Layer, Next};
use servicetask_core::TaskContext;

use tokio::time::Instant;

use super::{run_until, TimeoutError, TimeoutScope};
use crate::telemetry::task_attr;

/// Drops the rest of the pipeline after `attempt` and fails with class `timeout`.
#[derive(Debug, Clone, Copy)]
pub struct TimeoutLayer {
    attempt: Duration,
}

impl TimeoutLayer {
    /// A layer allowing `attempt` per attempt.
    pub fn new(attempt: Duration) -> Self {
        TimeoutLayer { attempt }
    }

    /// The time allowed per attempt.
    pub fn attempt(&self) -> Duration {
        self.attempt
    }
}

impl Layer for TimeoutLayer {
    fn call<'a>(&'a self, cx: &'a TaskContext, next: Next<'a>) -> BoxFuture<'a, AttemptResult> {
        Box::pin(async move {
            let deadline = Instant::now() + self.attempt;
            match run_until(deadline, next.run(cx)).await {
                Some(result) => result,
                None => {
                    cx.telemetry().instruments().timeouts.add(1, &[task_attr(cx)]);
                    Err(TimeoutError::new(TimeoutScope::Attempt, self.attempt).into_task_error())
                }
            }
        })
    }
}
