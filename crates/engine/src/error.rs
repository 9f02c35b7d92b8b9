//! Engine errors: why a process could not start or failed while running.

use servicetask_bpmn::{Diagnostic, Position};

/// Where in which file an element is, for error messages (`file:line:column`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Location {
    /// The BPMN file.
    pub file: String,
    /// The element's position.
    pub position: Position,
    /// The element id.
    pub element_id: String,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}:{}: element '{}'",
            self.file, self.position.line, self.position.column, self.element_id
        )
    }
}

/// Why the engine could not start or continue a process.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// The definitions have error diagnostics.
    #[error("the process definitions have errors:\n{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<Diagnostic>),
    /// No process with this id (in the file or the library).
    #[error("{}no process '{process_id}' in this file or the engine's library\n  help: put the BPMN file that defines process '{process_id}' in the same directory (or the library), or fix the process id / calledElement", .at.as_ref().map(|l| format!("{l}: ")).unwrap_or_default())]
    UnknownProcess {
        /// The id looked for.
        process_id: String,
        /// The call activity that asked for it.
        at: Option<Box<Location>>,
    },
    /// No start event or start element.
    #[error("process '{0}' has nothing to start: add a start event")]
    NoStart(String),
    /// An expression or script could not be evaluated.
    #[error("{at}: {what}: {message}\n  help: {help}")]
    Expression {
        /// Where.
        at: Box<Location>,
        /// Which expression (condition of flow 'f', script, parameter 'x').
        what: String,
        /// The evaluation error.
        message: String,
        /// How to fix it.
        help: String,
    },
    /// A gateway found no condition true and has no default flow.
    #[error("{at}: no conditions satisfied for {gateway} and it has no default flow\n  help: add a default flow to the gateway, or make sure one condition is true")]
    NoPathTaken {
        /// The gateway.
        at: Box<Location>,
        /// Its kind and id, e.g. "exclusive gateway 'Gateway_1'".
        gateway: String,
    },
    /// A BPMN error reached the process level with no boundary event to catch it.
    #[error("{at}: BPMN error '{code}' was not caught{}\n  help: attach an error boundary event with this errorCode (or none, to catch all) to the activity or an enclosing subprocess", if .message.is_empty() { String::new() } else { format!(": {}", .message) })]
    UncaughtError {
        /// The thrower.
        at: Box<Location>,
        /// The error code.
        code: String,
        /// The message.
        message: String,
    },
    /// Nothing can move and nothing is waiting: tokens are stuck (a join that can never fire).
    #[error("process '{process_id}' is stuck: {details}\n  help: check that every path into a parallel join is taken (use an inclusive gateway for optional paths)")]
    Stuck {
        /// The process.
        process_id: String,
        /// Which tokens wait where.
        details: String,
    },
    /// The step limit was reached (an endless loop).
    #[error("process '{process_id}' exceeded {limit} steps (an endless loop?)\n  help: check loop conditions and gateway loop-backs")]
    StepLimit {
        /// The process.
        process_id: String,
        /// The limit.
        limit: u64,
    },
    /// Too many live tokens (a runaway fan-out).
    #[error("process '{process_id}' holds more than {limit} live tokens, the last at '{element_id}' (a runaway loop or fan-out?)\n  help: check flows that lead back into the same element and the loop conditions")]
    TokenLimit {
        /// The process.
        process_id: String,
        /// The element the last token was entering.
        element_id: String,
        /// The limit.
        limit: usize,
    },
    /// No waiting task matches the key given.
    #[error("no waiting task '{0}'")]
    NoSuchTask(String),
    /// No incident matches the key given.
    #[error("no incident '{0}'")]
    NoSuchIncident(String),
    /// The element is not supported by this engine.
    #[error("{at}: {what} is not supported\n  help: {help}")]
    Unsupported {
        /// Where.
        at: Box<Location>,
        /// What.
        what: String,
        /// How to model it instead.
        help: String,
    },
    /// The instance has already finished.
    #[error("instance '{0}' has already finished")]
    Finished(String),
    /// Saving or loading an instance failed.
    #[error("instance store: {0}")]
    Store(String),
}
