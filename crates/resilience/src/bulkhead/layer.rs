//! [`BulkheadLayer`]: holds a bulkhead slot for the duration of each attempt.

use std::sync::Arc;

use servicetask_core::layer::{AttemptResult, BoxFuture, Layer, Next};
use servicetask_core::TaskContext;

use super::Bulkhead;
use crate::telemetry::{record_rejection, RejectionReason};

/// Takes a slot (waiting up to `max_wait`) before the rest of the pipeline; rejects with
/// class `bulkhead_full` when none frees in time.
#[derive(Debug, Clone)]
pub struct BulkheadLayer {
    bulkhead: Arc<Bulkhead>,
}

impl BulkheadLayer {
    /// A layer over `bulkhead` (shared by every execution of the task).
    pub fn new(bulkhead: Arc<Bulkhead>) -> Self {
        BulkheadLayer { bulkhead }
    }

    /// The bulkhead.
    pub fn get_ref(&self) -> &Arc<Bulkhead> {
        &self.bulkhead
    }
}

impl Layer for BulkheadLayer {
    fn call<'a>(&'a self, cx: &'a TaskContext, next: Next<'a>) -> BoxFuture<'a, AttemptResult> {
        Box::pin(async move {
            let _slot = match self.bulkhead.acquire().await {
                Ok(p) => p,
                Err(e) => {
                    record_rejection(cx, RejectionReason::BulkheadFull, Some(self.bulkhead.name()));
                    return Err(e.into_task_error());
                }
            };
            next.run(cx).await
        })
    }
}
