//! One module per subcommand ("high" arguments: files loaded, runner built), each returning
//! the process exit code.

pub mod conformance;
pub mod connector;
pub mod demo;
pub mod instances;
pub mod report;
pub mod run;
pub mod schema;
pub mod serve;
pub mod test;
pub mod validate;

/// Exit codes.
pub mod exit {
    /// Success.
    pub const OK: i32 = 0;
    /// The process failed, or a task failed with no retries left (an incident).
    pub const PROCESS_FAILED: i32 = 1;
    /// Bad input: invalid BPMN, bad variables, unknown process or task.
    pub const INVALID: i32 = 2;
    /// The process waits for user tasks (saved; continue with `servicetask complete`).
    pub const WAITING: i32 = 3;
    /// The run's records could not be written to the history (a damaged file: the message says
    /// how to recover). Takes precedence over the process's own outcome.
    pub const HISTORY: i32 = 4;
}
