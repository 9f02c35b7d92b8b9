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
//! #[servicetask::service_task(name = "resize", retry(max_attempts = 4), timeout(total = "30s"))]
//! async fn resize(cx: &servicetask::TaskContext, input: Input) -> Result<u64, servicetask::TaskError> { Ok(1) }
//! ```

use proc_macro::TokenStream;

mod sections;
mod service_task;
mod task_input;

/// Turns an `async fn(cx: &TaskContext, input: I) -> Result<O, E>` into a service task type
/// (`<CamelName>Task`), or adds `fn config` to an `impl ServiceTask for X` block.
///
/// One vocabulary: besides `name` (required), `description` and `type_name = "Name"` (the
/// generated type's name), the keys are the tables and keys of `[tasks.<name>]` in
/// `servicetask.toml`, written `table(key = value, ...)`:
///
/// - `retry(max_attempts = 4, initial_delay = "100ms", max_delay = "10s", multiplier = 2.0,
///   jitter = "full" | "decorrelated" | "none", mode = "in_process" | "engine", max_elapsed =
///   "1m", retry_on = ["timeout", "network"], budget(ratio = 0.2, window = "10s",
///   min_per_second = 10))`
/// - `timeout(total = "30s", attempt = "5s")`
/// - `breaker` (the defaults) or `breaker(failure_rate_threshold = 50, slow_call_rate_threshold
///   = 80, slow_call_duration = "2s", minimum_calls = 10, window = "count_based" | "time_based",
///   window_size = 20, permitted_calls_in_half_open = 3, wait_in_open = "30s",
///   max_wait_in_half_open = "1m")`
/// - `bulkhead` (the defaults) or `bulkhead(max_concurrent = 5, max_wait = "100ms")`
/// - `tracking(cpu = false, memory = true, process_rss = false, disk_io = true, files = true,
///   dependencies = true, max_file_events = 32)`
/// - `attributes(key = "value", ...)`
///
/// Every value is checked at compile time; an unknown key lists the keys known at its level.
/// The shorthands of older releases (`retries = N`, `timeout = "30s"`, `attempt_timeout`,
/// `backoff`, `max_backoff`, `jitter`, `retry_mode`, `bulkhead = N`) still work and warn with
/// their spelling in this vocabulary.
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
