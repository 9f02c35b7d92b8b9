//! Macros for servicetask. The entry points are one-line shims; the work is in
//! [`service_task`](mod@crate::service_task) (parse attribute -> config -> generated impl) and
//! [`task_input`](mod@crate::task_input) (field attributes -> `TaskInput` impl). Errors are
//! `compile_error!`s pointing at the offending tokens.
//!
//! Use them through the `servicetask` crate:
//!
//! ```ignore
//! #[derive(Clone, serde::Deserialize, schemars::JsonSchema, servicetask::TaskInput)]
//! struct Input { #[task(path, required)] file: std::path::PathBuf, #[task(sensitive)] token: String }
//!
//! #[servicetask::service_task(name = "resize", retries = 3, timeout = "30s")]
//! async fn resize(cx: &servicetask::TaskContext, input: Input) -> Result<u64, servicetask::TaskError> { Ok(1) }
//! ```

use proc_macro::TokenStream;

mod service_task;
mod task_input;

/// Turns an `async fn(cx: &TaskContext, input: I) -> Result<O, E>` into a service task type
/// (`<CamelName>Task`), or adds `fn config` to an `impl ServiceTask for X` block.
///
/// Keys: `name` (required), `description`, `retries`, `timeout`, `attempt_timeout`,
/// `backoff` (initial delay), `max_backoff`, `jitter` (`full`, `decorrelated`, `none`),
/// `retry_mode` (`in_process`, `engine`), `breaker` (flag, or `breaker(failure_rate_threshold
/// = 50, minimum_calls = 10, window_size = 20, wait_in_open = "30s",
/// permitted_calls_in_half_open = 3, slow_call_duration = "2s", slow_call_rate_threshold = 80,
/// window = "time_based", max_wait_in_half_open = "1m")`: the same keys as `[tasks.x.breaker]`
/// in `servicetask.toml`), `bulkhead = N`, `attributes(key = "value", ...)`, and
/// `type_name = "Name"` to choose the generated type's name.
///
/// The other keys are shorthands for the file's keys: `retries = N` is `retry.max_attempts =
/// N + 1`, `timeout` is `timeout.total`, `attempt_timeout` is `timeout.attempt`, `backoff` is
/// `retry.initial_delay`, `max_backoff` is `retry.max_delay`, `jitter` is `retry.jitter`,
/// `retry_mode` is `retry.mode`, `bulkhead = N` is `bulkhead.max_concurrent = N`.
#[proc_macro_attribute]
pub fn service_task(args: TokenStream, item: TokenStream) -> TokenStream {
    service_task::expand(args.into(), item.into()).into()
}

/// Implements `TaskInput` from field attributes: `#[task(path)]` / `#[task(path, required)]`
/// (inspected at start), `#[task(sensitive)]` (never in telemetry or error context),
/// `#[task(size)]` (the input size: a number's value, a string's or list's length, a file path's size in bytes), `#[task(non_empty)]`, `#[task(min = N)]`, `#[task(max = N)]`;
/// on the struct, `#[task(validate = "path::to_fn")]` with `fn(&Self) -> Result<(), TaskError>`.
#[proc_macro_derive(TaskInput, attributes(task))]
pub fn derive_task_input(item: TokenStream) -> TokenStream {
    task_input::expand(item.into()).into()
}
