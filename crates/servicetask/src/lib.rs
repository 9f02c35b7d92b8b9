//! servicetask: BPMN service tasks that instrument and protect themselves.
//!
//! Write a task's business logic as an async function over typed input; servicetask runs it
//! with an OpenTelemetry span in the right trace, duration/outcome metrics, classified errors
//! with recovery hints, and the layers its configuration asks for (retries, breaker, timeouts,
//! fallbacks, bulkhead, resource tracking).
//!
//! # Key types
//!
//! - [`ServiceTask`]: the trait a task implements (or `#[service_task]` on an async fn).
//! - [`TaskContext`] (`cx`): steps, tracked files, dependencies, metrics, BPMN errors.
//! - [`Runner`]: registers tasks and runs them; [`TaskHandle::run`] is the hot path.
//! - [`TaskOutcome`]: complete, BPMN error, or failure with retries left.
//!
//! # Example
//!
//! ```
//! use servicetask::{service_task, Runner, TaskContext, TaskError, TaskInput, TaskOutcome};
//!
//! #[derive(Clone, serde::Deserialize, schemars::JsonSchema, TaskInput)]
//! struct Greet {
//!     name: String,
//!     #[task(sensitive)]
//!     token: String,
//! }
//!
//! #[service_task(name = "greet", retry(max_attempts = 3), timeout(total = "5s"))]
//! async fn greet(cx: &TaskContext, input: Greet) -> Result<String, TaskError> {
//!     cx.step("format", async { Ok::<_, TaskError>(format!("hello {}", input.name)) }).await
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let runner = Runner::builder().build();
//! let task = runner.register(GreetTask).unwrap();
//! let out = task.run(Greet { name: "ann".into(), token: "secret".into() }).await;
//! assert!(matches!(out, TaskOutcome::Complete(ref s) if s == "hello ann"));
//! # });
//! ```
//!
//! # Pipeline order (outer to inner)
//!
//! telemetry span > fallback > retry (total timeout) > bulkhead > breaker > attempt timeout >
//! tracking > `task.run(cx, input)`.
//!
//! # Features
//!
//! | feature | default | what |
//! |---|---|---|
//! | `otlp` | yes | OTLP over HTTP (protobuf, or JSON) export in [`telemetry::init`] |
//! | `otlp-grpc` | no | OTLP over gRPC (tonic) too, when `OTEL_EXPORTER_OTLP_PROTOCOL=grpc` (the CLI enables it) |

pub mod config;
#[cfg(feature = "engine")]
pub mod engine;
pub mod panic;
mod runner;
pub mod telemetry;
pub mod testing;

#[doc(inline)]
pub use servicetask_core::{
    batch, layer, record, redact, redact_keys, semconv, task_fn, task_schema, BreakerConfig, BulkheadConfig,
    ContextParts, Dependency, DependencyPermit, DependencyPolicy, ErrorClass, ErrorContext, ExecutionStats,
    FallbackConfig, FnTask, Jitter, ProcessInfo, RetryBudgetConfig, RetryConfig, RetryMode, ServiceTask, TaskConfig,
    TaskConfigBuilder, TaskContext, TaskError, TaskInput, TaskMetrics, TaskOutcome, TaskScope, Telemetry,
    TimeoutConfig, TrackedFs, TrackedPath, TrackingConfig, WindowKind,
};

pub use config::{ConfigError, ConfigLoader, ConfigProblem, DependencySettings, HistorySettings};
pub use runner::{
    JsonOutcome, NoLayers, PipelineFactory, RegisteredTask, RunOptions, Runner, RunnerBuilder, StandardPipeline,
    TaskHandle,
};
pub use servicetask_macros::{service_task, TaskInput};

/// The instrumented HTTP client `cx.http()` hands out (the `http` feature, on by default): bring
/// [`http::HttpExt`] into scope to call it, no extra dependency needed.
#[cfg(feature = "http")]
pub use servicetask_http as http;

/// Items the macros expand to. Not public API.
#[doc(hidden)]
pub mod __private {
    pub use schemars;
    pub use serde;
    pub use serde_json;
    pub use servicetask_core;
}

/// The README's example, compiled and run as a doctest so it stays true.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
