//! Classified task errors: every failure is a [`TaskError`] with an [`ErrorClass`], a message,
//! its source, the execution context and a recovery suggestion.
//!
//! The class decides what the pipeline does: whether the error is retried, whether the circuit
//! breaker counts it, and which BPMN outcome it becomes.
//!
//! ```
//! use servicetask_core::{ErrorClass, TaskError};
//! let e = TaskError::from(std::io::Error::from(std::io::ErrorKind::NotFound));
//! assert_eq!(e.class(), ErrorClass::NotFound);
//! assert!(!e.class().is_retryable());
//! assert!(e.suggestion().is_some());
//! ```

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The low-cardinality class of a failure; its `as_str` is the `error.type` attribute value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorClass {
    /// The input did not pass validation or could not be deserialised. Never retried.
    Validation,
    /// A file or resource the task needs does not exist. Not retried.
    NotFound,
    /// The task lacks permission for a file or resource. Not retried.
    PermissionDenied,
    /// Any other I/O failure (disk full, interrupted...). Retried.
    Io,
    /// A network failure (connection refused, reset, DNS). Retried.
    Network,
    /// An attempt or the whole execution ran out of time. Retried per attempt.
    Timeout,
    /// The callee asked us to slow down (HTTP 429 and friends). Retried, honouring its delay hint.
    RateLimited,
    /// A circuit breaker rejected the call without running it. Not retried in a tight loop.
    CircuitOpen,
    /// A bulkhead was full and the wait for a slot timed out. Not a breaker failure.
    BulkheadFull,
    /// The retry budget of the task is spent; the failure goes back to the engine.
    BudgetExhausted,
    /// An external dependency failed in a way not covered above. Retried.
    Dependency,
    /// A business error: becomes a BPMN error with a code. Never retried, never a breaker failure.
    Business,
    /// The execution was cancelled from outside.
    Cancelled,
    /// The task panicked; the panic was caught and failed this task only.
    Panic,
    /// A bug or unexpected state; not retried.
    Internal,
}

impl ErrorClass {
    /// Every class, in declaration order.
    pub const ALL: [ErrorClass; 15] = [
        ErrorClass::Validation,
        ErrorClass::NotFound,
        ErrorClass::PermissionDenied,
        ErrorClass::Io,
        ErrorClass::Network,
        ErrorClass::Timeout,
        ErrorClass::RateLimited,
        ErrorClass::CircuitOpen,
        ErrorClass::BulkheadFull,
        ErrorClass::BudgetExhausted,
        ErrorClass::Dependency,
        ErrorClass::Business,
        ErrorClass::Cancelled,
        ErrorClass::Panic,
        ErrorClass::Internal,
    ];

    /// The snake_case name used as `error.type` and in configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Validation => "validation",
            ErrorClass::NotFound => "not_found",
            ErrorClass::PermissionDenied => "permission_denied",
            ErrorClass::Io => "io",
            ErrorClass::Network => "network",
            ErrorClass::Timeout => "timeout",
            ErrorClass::RateLimited => "rate_limited",
            ErrorClass::CircuitOpen => "circuit_open",
            ErrorClass::BulkheadFull => "bulkhead_full",
            ErrorClass::BudgetExhausted => "budget_exhausted",
            ErrorClass::Dependency => "dependency",
            ErrorClass::Business => "business",
            ErrorClass::Cancelled => "cancelled",
            ErrorClass::Panic => "panic",
            ErrorClass::Internal => "internal",
        }
    }

    /// Parses a name written by [`ErrorClass::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        ErrorClass::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// Whether an attempt failing with this class may be retried in process.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            ErrorClass::Io
                | ErrorClass::Network
                | ErrorClass::Timeout
                | ErrorClass::RateLimited
                | ErrorClass::Dependency
        )
    }

    /// Whether a circuit breaker counts this class as a failure of the protected call.
    pub fn counts_as_breaker_failure(self) -> bool {
        matches!(
            self,
            ErrorClass::Io
                | ErrorClass::Network
                | ErrorClass::Timeout
                | ErrorClass::RateLimited
                | ErrorClass::Dependency
                | ErrorClass::Panic
                | ErrorClass::Internal
        )
    }

    /// A default recovery suggestion for the class.
    pub fn default_suggestion(self) -> &'static str {
        match self {
            ErrorClass::Validation => {
                "fix the input variables: they do not match the task's input schema (see `servicetask schema`)"
            }
            ErrorClass::NotFound => {
                "check that the path or resource exists and is spelled correctly, or create it before the task runs"
            }
            ErrorClass::PermissionDenied => {
                "grant the worker's user access to the path or resource, or run the worker with the right account"
            }
            ErrorClass::Io => {
                "check free disk space and the health of the file system; the attempt may succeed when retried"
            }
            ErrorClass::Network => {
                "check that the remote service is reachable from this host; if the network is flaky, give the task retries"
            }
            ErrorClass::Timeout => {
                "raise the timeout if the work is legitimately slow for this input size, or make the task faster"
            }
            ErrorClass::RateLimited => {
                "lower the call rate or raise the quota; with retries, the task waits the delay the service asks for"
            }
            ErrorClass::CircuitOpen => {
                "the dependency is failing; wait for the breaker to probe it again, or fix the dependency"
            }
            ErrorClass::BulkheadFull => "too many concurrent executions; raise the bulkhead limit or slow the producer",
            ErrorClass::BudgetExhausted => {
                "retries are being rationed because many calls fail; fix the failing dependency"
            }
            ErrorClass::Dependency => "an external dependency failed; check its health and logs",
            ErrorClass::Business => "handle this BPMN error code with an error boundary event in the process model",
            ErrorClass::Cancelled => "the execution was cancelled; start it again if it is still needed",
            ErrorClass::Panic => "the task panicked: this is a bug in the task code; the message gives the panic's kind (its text is not recorded: it may hold input), run the task in a test to see it",
            ErrorClass::Internal => "this is a bug; report it with the trace id",
        }
    }
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where an error happened: filled in by the runner as the error travels out.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ErrorContext {
    /// Task name.
    pub task: Option<String>,
    /// Attempt number (1-based) that produced the error.
    pub attempt: Option<u32>,
    /// BPMN process definition id.
    pub process_id: Option<String>,
    /// BPMN process instance id.
    pub process_instance_id: Option<String>,
    /// BPMN element id.
    pub element_id: Option<String>,
    /// Trace id of the execution span (32 hex characters).
    pub trace_id: Option<String>,
    /// Input fields that are not marked sensitive, as JSON.
    pub input: Option<serde_json::Value>,
    /// Files involved.
    pub files: Vec<String>,
}

/// A classified failure of a task execution.
///
/// Cheap to clone (the source is shared). Build one with a constructor named after the class
/// ([`TaskError::validation`], [`TaskError::business`], ...) or convert from `std::io::Error`
/// or `serde_json::Error`.
#[derive(Clone)]
pub struct TaskError {
    class: ErrorClass,
    message: String,
    details: Box<Details>,
}

/// The less common parts of an error, boxed so `Result<T, TaskError>` stays small.
#[derive(Clone, Default)]
struct Details {
    source: Option<Arc<dyn StdError + Send + Sync>>,
    suggestion: Option<String>,
    code: Option<String>,
    variables: serde_json::Map<String, serde_json::Value>,
    retry_after: Option<Duration>,
    retries_left: Option<u32>,
    context: ErrorContext,
}

impl TaskError {
    /// A new error of the given class.
    pub fn new(class: ErrorClass, message: impl Into<String>) -> Self {
        TaskError {
            class,
            message: message.into(),
            details: Box::default(),
        }
    }

    /// Invalid input: never retried.
    pub fn validation(message: impl Into<String>) -> Self {
        TaskError::new(ErrorClass::Validation, message)
    }

    /// A BPMN business error with a code, caught by error boundary events.
    pub fn business(code: impl Into<String>, message: impl Into<String>) -> Self {
        let mut e = TaskError::new(ErrorClass::Business, message);
        e.details.code = Some(code.into());
        e
    }

    /// A failure of an external dependency (retried).
    pub fn dependency(message: impl Into<String>) -> Self {
        TaskError::new(ErrorClass::Dependency, message)
    }

    /// A network failure (retried).
    pub fn network(message: impl Into<String>) -> Self {
        TaskError::new(ErrorClass::Network, message)
    }

    /// The callee asked to slow down; `retry_after` (if any) overrides the computed backoff.
    pub fn rate_limited(message: impl Into<String>, retry_after: Option<Duration>) -> Self {
        let mut e = TaskError::new(ErrorClass::RateLimited, message);
        e.details.retry_after = retry_after;
        e
    }

    /// A timeout.
    pub fn timeout(message: impl Into<String>) -> Self {
        TaskError::new(ErrorClass::Timeout, message)
    }

    /// An internal error (a bug).
    pub fn internal(message: impl Into<String>) -> Self {
        TaskError::new(ErrorClass::Internal, message)
    }

    /// Attaches the underlying error.
    pub fn with_source(mut self, source: impl StdError + Send + Sync + 'static) -> Self {
        self.details.source = Some(Arc::new(source));
        self
    }

    /// Replaces the recovery suggestion.
    pub fn with_suggestion(mut self, suggestion: impl Into<String>) -> Self {
        self.details.suggestion = Some(suggestion.into());
        self
    }

    /// Sets the delay the failing side asked for (Retry-After); it overrides computed backoff.
    pub fn with_retry_after(mut self, delay: Duration) -> Self {
        self.details.retry_after = Some(delay);
        self
    }

    /// Adds variables to a business error (they travel with the BPMN error).
    pub fn with_variables(mut self, variables: serde_json::Map<String, serde_json::Value>) -> Self {
        self.details.variables = variables;
        self
    }

    /// Adds a file path to the context.
    pub fn with_file(mut self, path: impl Into<String>) -> Self {
        self.details.context.files.push(path.into());
        self
    }

    /// Records how many retries the engine may still make (set by the retry layer).
    pub fn with_retries_left(mut self, retries_left: u32) -> Self {
        self.details.retries_left = Some(retries_left);
        self
    }

    /// The class.
    pub fn class(&self) -> ErrorClass {
        self.class
    }

    /// The message (never contains sensitive input values unless the task put them there).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The BPMN error code of a business error.
    pub fn code(&self) -> Option<&str> {
        self.details.code.as_deref()
    }

    /// Variables attached to a business error.
    pub fn variables(&self) -> &serde_json::Map<String, serde_json::Value> {
        &self.details.variables
    }

    /// The recovery suggestion: the explicit one, else the class default.
    pub fn suggestion(&self) -> Option<&str> {
        Some(
            self.details
                .suggestion
                .as_deref()
                .unwrap_or_else(|| self.class.default_suggestion()),
        )
    }

    /// Delay hint from the failing side.
    pub fn retry_after(&self) -> Option<Duration> {
        self.details.retry_after
    }

    /// Retries the engine may still make, when the retry layer handed the failure back.
    pub fn retries_left(&self) -> Option<u32> {
        self.details.retries_left
    }

    /// The execution context.
    pub fn context(&self) -> &ErrorContext {
        &self.details.context
    }

    /// Mutable execution context (for the runner and layers).
    pub fn context_mut(&mut self) -> &mut ErrorContext {
        &mut self.details.context
    }

    /// The underlying error, if any.
    pub fn source_error(&self) -> Option<&(dyn StdError + Send + Sync + 'static)> {
        self.details.source.as_deref()
    }

    /// A multi-line, human-readable explanation: class, message, context, cause and suggestion.
    pub fn report(&self) -> String {
        use std::fmt::Write;
        let mut s = format!("{} error: {}", self.class, self.message);
        if let Some(code) = &self.details.code {
            let _ = write!(s, " (code {code})");
        }
        let c = &self.details.context;
        if let Some(t) = &c.task {
            let _ = write!(s, "\n  task: {t}");
            if let Some(a) = c.attempt {
                let _ = write!(s, " (attempt {a})");
            }
        }
        if let (Some(p), Some(e)) = (&c.process_id, &c.element_id) {
            let _ = write!(s, "\n  process: {p}, element: {e}");
        }
        if let Some(i) = &c.process_instance_id {
            let _ = write!(s, "\n  instance: {i}");
        }
        if let Some(t) = &c.trace_id {
            let _ = write!(s, "\n  trace: {t}");
        }
        if !c.files.is_empty() {
            let _ = write!(s, "\n  files: {}", c.files.join(", "));
        }
        if let Some(input) = &c.input {
            let _ = write!(s, "\n  input: {input}");
        }
        let mut src = self.source_error().map(|e| e as &dyn StdError);
        while let Some(e) = src {
            // a source that only says the message again (a breaker's rejection) is not a cause
            let text = e.to_string();
            if text != self.message {
                let _ = write!(s, "\n  caused by: {text}");
            }
            src = e.source();
        }
        if let Some(sug) = self.suggestion() {
            let _ = write!(s, "\n  help: {sug}");
        }
        s
    }
}

impl fmt::Debug for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskError")
            .field("class", &self.class)
            .field("message", &self.message)
            .field("code", &self.details.code)
            .field("source", &self.details.source.as_ref().map(|s| s.to_string()))
            .field("context", &self.details.context)
            .finish()
    }
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.class, self.message)
    }
}

impl StdError for TaskError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.details.source.as_deref().map(|e| e as &(dyn StdError + 'static))
    }
}

impl From<std::io::Error> for TaskError {
    fn from(e: std::io::Error) -> Self {
        use std::io::ErrorKind as K;
        let class = match e.kind() {
            K::NotFound => ErrorClass::NotFound,
            K::PermissionDenied => ErrorClass::PermissionDenied,
            K::ConnectionRefused
            | K::ConnectionReset
            | K::ConnectionAborted
            | K::NotConnected
            | K::AddrNotAvailable
            | K::BrokenPipe => ErrorClass::Network,
            K::TimedOut => ErrorClass::Timeout,
            K::InvalidInput | K::InvalidData => ErrorClass::Validation,
            _ => ErrorClass::Io,
        };
        TaskError::new(class, e.to_string()).with_source(e)
    }
}

impl From<serde_json::Error> for TaskError {
    fn from(e: serde_json::Error) -> Self {
        TaskError::new(ErrorClass::Validation, format!("invalid input: {e}")).with_source(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_names_round_trip() {
        for c in ErrorClass::ALL {
            assert_eq!(ErrorClass::parse(c.as_str()), Some(c));
        }
    }

    #[test]
    fn business_and_validation_are_never_retried_nor_breaker_failures() {
        for c in [
            ErrorClass::Business,
            ErrorClass::Validation,
            ErrorClass::CircuitOpen,
            ErrorClass::BulkheadFull,
        ] {
            assert!(!c.is_retryable(), "{c}");
            assert!(!c.counts_as_breaker_failure(), "{c}");
        }
    }

    #[test]
    fn io_errors_map_to_classes() {
        let e = TaskError::from(std::io::Error::from(std::io::ErrorKind::PermissionDenied));
        assert_eq!(e.class(), ErrorClass::PermissionDenied);
        let e = TaskError::from(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert_eq!(e.class(), ErrorClass::Network);
        assert!(e.class().is_retryable());
    }

    #[test]
    fn report_names_context_and_help() {
        let mut e = TaskError::business("E42", "order rejected");
        e.context_mut().task = Some("orders".into());
        e.context_mut().attempt = Some(2);
        let r = e.report();
        assert!(r.contains("business error: order rejected (code E42)"));
        assert!(r.contains("task: orders (attempt 2)"));
        assert!(r.contains("help: "));
    }

    /// A source whose text is the error's own message is not repeated as its cause; a
    /// different one is kept.
    #[test]
    fn a_source_that_repeats_the_message_is_not_its_own_cause() {
        let io = std::io::Error::other("circuit breaker 'pay' is open; the call was not made");
        let e = TaskError::new(ErrorClass::CircuitOpen, io.to_string()).with_source(io);
        assert!(!e.report().contains("caused by"), "{}", e.report());
        let e = TaskError::network("upload failed").with_source(std::io::Error::other("connection reset"));
        assert!(e.report().contains("caused by: connection reset"), "{}", e.report());
    }

    /// Hints hold whether or not retries are left: none promises a retry.
    #[test]
    fn hints_promise_no_retry() {
        for class in ErrorClass::ALL {
            let hint = class.default_suggestion();
            assert!(!hint.contains("is retried"), "{class}: {hint}");
        }
    }
}
