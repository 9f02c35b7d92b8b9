//! The pipeline seam: a [`Layer`] wraps the rest of the pipeline ([`Next`]) around one attempt.
//!
//! The runner builds, per task, a stack of layers from its configuration (outer to inner:
//! fallback > retry > bulkhead > breaker > timeout > tracking) and calls the task at the
//! bottom. Each layer knows one concern and is tested alone. Values travel as [`TaskValue`]
//! (a boxed `Any`) so one layer serves every task type; a fallback answers with a
//! [`FallbackValue`] that the runner turns into the task's typed output.
//!
//! ```
//! use std::sync::Arc;
//! use servicetask_core::layer::{AttemptResult, BoxFuture, Invoke, Layer, Next};
//! use servicetask_core::TaskContext;
//!
//! /// Counts attempts (a toy layer).
//! struct CountAttempts(std::sync::atomic::AtomicU32);
//! impl Layer for CountAttempts {
//!     fn call<'a>(&'a self, cx: &'a TaskContext, next: Next<'a>) -> BoxFuture<'a, AttemptResult> {
//!         self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
//!         next.run(cx)
//!     }
//! }
//! struct Answer;
//! impl Invoke for Answer {
//!     fn invoke<'a>(&'a self, _cx: &'a TaskContext) -> BoxFuture<'a, AttemptResult> {
//!         Box::pin(async { Ok(Box::new(42u32) as servicetask_core::layer::TaskValue) })
//!     }
//! }
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let layers: Vec<Arc<dyn Layer>> = vec![Arc::new(CountAttempts(Default::default()))];
//! let cx = TaskContext::detached("demo");
//! let v = Next::new(&layers, &Answer).run(&cx).await.unwrap();
//! assert_eq!(*v.downcast::<u32>().unwrap(), 42);
//! # });
//! ```

use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::context::TaskContext;
use crate::error::TaskError;

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A task's output, type-erased while it travels through the layers.
pub type TaskValue = Box<dyn Any + Send>;

/// What one pass through the pipeline returns.
pub type AttemptResult = Result<TaskValue, TaskError>;

/// A fallback's answer: JSON that the runner deserialises into the task's output type.
#[derive(Debug, Clone, PartialEq)]
pub struct FallbackValue(pub serde_json::Value);

/// One concern wrapped around the rest of the pipeline.
pub trait Layer: Send + Sync + 'static {
    /// Runs the rest of the pipeline (`next`) zero or more times for one execution.
    fn call<'a>(&'a self, cx: &'a TaskContext, next: Next<'a>) -> BoxFuture<'a, AttemptResult>;
}

/// The bottom of the pipeline: runs the task itself once.
pub trait Invoke: Send + Sync {
    /// Runs one attempt of the task.
    fn invoke<'a>(&'a self, cx: &'a TaskContext) -> BoxFuture<'a, AttemptResult>;
}

/// The rest of the pipeline below a layer. `Copy`: a retry layer calls it again.
#[derive(Clone, Copy)]
pub struct Next<'a> {
    layers: &'a [Arc<dyn Layer>],
    inner: &'a dyn Invoke,
}

impl<'a> Next<'a> {
    /// A pipeline of `layers` (outer first) around `inner`.
    pub fn new(layers: &'a [Arc<dyn Layer>], inner: &'a dyn Invoke) -> Self {
        Next { layers, inner }
    }

    /// Runs the next layer, or the task when no layer is left.
    pub fn run(self, cx: &'a TaskContext) -> BoxFuture<'a, AttemptResult> {
        match self.layers.split_first() {
            Some((layer, rest)) => layer.call(
                cx,
                Next {
                    layers: rest,
                    inner: self.inner,
                },
            ),
            None => self.inner.invoke(cx),
        }
    }
}

impl std::fmt::Debug for Next<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Next").field("layers_left", &self.layers.len()).finish()
    }
}
