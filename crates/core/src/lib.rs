//! The small, stable core of servicetask: the [`ServiceTask`] trait, its [`TaskContext`],
//! [`TaskOutcome`], the classified [`TaskError`], [`TaskConfig`], the pipeline seam
//! ([`layer`]), telemetry names ([`semconv`]) and the [`record::ExecutionRecord`].
//!
//! Everything else in servicetask depends on this crate; it depends on nothing of ours.
//! Users normally reach these types through the `servicetask` facade crate.
//!
//! ```
//! use servicetask_core::{task_fn, ServiceTask, TaskConfig, TaskContext, TaskError};
//! let t = task_fn(TaskConfig::named("noop"), |_cx: TaskContext, _in: ()| async { Ok::<_, TaskError>(()) });
//! assert_eq!(t.config().name, "noop");
//! ```

pub mod batch;
pub mod config;
mod context;
mod dependency;
pub mod error;
pub mod fs;
mod input;
pub mod layer;
mod outcome;
pub mod record;
pub mod semconv;
mod task;
mod telemetry;

pub use config::{
    BreakerConfig, BulkheadConfig, FallbackConfig, Jitter, RetryBudgetConfig, RetryConfig, RetryMode, TaskConfig,
    TaskConfigBuilder, TimeoutConfig, TrackingConfig, WindowKind,
};
pub use context::{ContextParts, ExecutionStats, ProcessInfo, TaskContext, TaskScope};
pub use dependency::{CallSpan, Dependency, DependencyPermit, DependencyPolicy};
pub use error::{ErrorClass, ErrorContext, TaskError};
pub use fs::TrackedFs;
pub use input::{__derive, redact, redact_keys, TaskInput, TrackedPath};
pub use outcome::TaskOutcome;
pub use task::{task_fn, task_schema, FnTask, ServiceTask};
pub use telemetry::{Instruments, TaskMetrics, Telemetry, DURATION_BOUNDARIES, SCOPE};
