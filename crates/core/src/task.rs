//! The [`ServiceTask`] trait: a task's business logic over typed input and output.
//!
//! # Contract
//!
//! - `run` is called once per attempt with a clone of the validated input. It must be
//!   cancel-safe at its await points: a timed-out attempt is dropped.
//! - Return `Err(TaskError::business(code, msg))` (or `cx.bpmn_error`) for a business outcome the
//!   process model handles; it is never retried.
//! - Any other `Err` is classified: its class decides retries and the breaker.
//! - A panic fails this execution only (class `panic`).
//!
//! ```
//! use servicetask_core::{ServiceTask, TaskConfig, TaskContext, TaskError};
//!
//! struct Double;
//! impl ServiceTask for Double {
//!     type Input = u64Input;
//!     type Output = u64;
//!     fn config(&self) -> TaskConfig { TaskConfig::named("double") }
//!     async fn run(&self, _cx: &TaskContext, input: u64Input) -> Result<u64, TaskError> {
//!         Ok(input.n * 2)
//!     }
//! }
//! #[derive(Clone, serde::Deserialize, schemars::JsonSchema)]
//! #[allow(non_camel_case_types)]
//! struct u64Input { n: u64 }
//! impl servicetask_core::TaskInput for u64Input {}
//! ```

use std::future::Future;
use std::marker::PhantomData;

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::config::TaskConfig;
use crate::context::TaskContext;
use crate::error::TaskError;
use crate::input::TaskInput;

/// A BPMN service task's business logic.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a service task",
    label = "this type does not implement `ServiceTask`",
    note = "put `#[service_task(name = \"...\")]` on an async fn, or implement `ServiceTask` (type Input, type Output, fn config, async fn run)"
)]
pub trait ServiceTask: Send + Sync + 'static {
    /// The typed input, deserialised from the process variables and validated before `run`.
    type Input: TaskInput + DeserializeOwned + JsonSchema + Clone + Send + Sync + 'static;
    /// The typed output, serialised into output variables.
    type Output: Serialize + DeserializeOwned + JsonSchema + Send + 'static;

    /// The task's configuration from code (the lowest layer above the built-in defaults).
    fn config(&self) -> TaskConfig;

    /// Runs one attempt.
    fn run(&self, cx: &TaskContext, input: Self::Input)
        -> impl Future<Output = Result<Self::Output, TaskError>> + Send;
}

/// JSON Schemas of a task's input and output, for tools that generate or check tasks.
pub fn task_schema<T: ServiceTask>(task: &T) -> serde_json::Value {
    let config = task.config();
    let mut input = serde_json::to_value(schemars::schema_for!(T::Input)).unwrap_or_default();
    for (field, keyword, value) in <T::Input as TaskInput>::SCHEMA_CONSTRAINTS {
        if let Some(serde_json::Value::Object(p)) = input.pointer_mut(&format!("/properties/{field}")) {
            let number = if value.fract() == 0.0 && value.abs() < 9e15 {
                serde_json::Value::from(*value as i64)
            } else {
                serde_json::Value::from(*value)
            };
            p.insert((*keyword).to_string(), number);
        }
    }
    let output = schemars::schema_for!(T::Output);
    serde_json::json!({
        "name": config.name,
        "description": config.description,
        "sensitive_fields": <T::Input as TaskInput>::SENSITIVE_FIELDS,
        "input": input,
        "output": output,
    })
}

/// A task made from an async closure and a [`TaskConfig`]: the no-macro way.
///
/// The closure receives an owned (cheap) clone of the context.
///
/// ```
/// use servicetask_core::{task_fn, TaskConfig, TaskContext, TaskError, ServiceTask};
/// let t = task_fn(TaskConfig::builder("greet").retry_max_attempts(3).build(), |_cx: TaskContext, name: String| async move {
///     Ok::<_, TaskError>(format!("hello {name}"))
/// });
/// assert_eq!(t.config().retry.max_attempts, 3);
/// ```
pub fn task_fn<I, O, F, Fut>(config: TaskConfig, f: F) -> FnTask<I, O, F>
where
    F: Fn(TaskContext, I) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<O, TaskError>> + Send + 'static,
{
    FnTask {
        config,
        f,
        _types: PhantomData,
    }
}

/// See [`task_fn`].
pub struct FnTask<I, O, F> {
    config: TaskConfig,
    f: F,
    _types: PhantomData<fn(I) -> O>,
}

impl<I, O, F, Fut> ServiceTask for FnTask<I, O, F>
where
    I: TaskInput + DeserializeOwned + JsonSchema + Clone + Send + Sync + 'static,
    O: Serialize + DeserializeOwned + JsonSchema + Send + 'static,
    F: Fn(TaskContext, I) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<O, TaskError>> + Send + 'static,
{
    type Input = I;
    type Output = O;

    fn config(&self) -> TaskConfig {
        self.config.clone()
    }

    fn run(&self, cx: &TaskContext, input: I) -> impl Future<Output = Result<O, TaskError>> + Send {
        (self.f)(cx.clone(), input)
    }
}
