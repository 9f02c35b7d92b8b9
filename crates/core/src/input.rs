//! What the framework needs to know about a task's input: validation, tracked paths,
//! sensitive fields and input size. `#[derive(TaskInput)]` implements it from field attributes.
//!
//! ```
//! use servicetask_core::{TaskInput, TaskError, TrackedPath};
//! struct Resize { path: String, width: u32 }
//! impl TaskInput for Resize {
//!     fn validate(&self) -> Result<(), TaskError> {
//!         if self.width == 0 { return Err(TaskError::validation("width: must be at least 1")); }
//!         Ok(())
//!     }
//!     fn tracked_paths(&self) -> Vec<TrackedPath> {
//!         vec![TrackedPath { field: "path", path: self.path.clone().into(), required: true }]
//!     }
//! }
//! assert!(Resize { path: "a.png".into(), width: 0 }.validate().is_err());
//! ```

use std::path::PathBuf;

use crate::error::TaskError;

/// A file path named by an input field, inspected when the execution starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackedPath {
    /// The field it came from.
    pub field: &'static str,
    /// The path.
    pub path: PathBuf,
    /// Whether a missing file fails the execution (as `not_found`) before the task body runs.
    pub required: bool,
}

/// Facts about a task input that the framework uses before and around the task.
pub trait TaskInput {
    /// Names of fields whose values must never reach telemetry or error context.
    const SENSITIVE_FIELDS: &'static [&'static str] = &[];

    /// Checks the input; a failure is a non-retryable `validation` error.
    fn validate(&self) -> Result<(), TaskError> {
        Ok(())
    }

    /// File paths to inspect at start (exists, size, modified time, permissions).
    fn tracked_paths(&self) -> Vec<TrackedPath> {
        Vec::new()
    }

    /// The input's size (bytes, rows, items): the x of duration prediction.
    fn input_size(&self) -> Option<u64> {
        None
    }
}

impl TaskInput for () {}

impl TaskInput for serde_json::Value {
    fn input_size(&self) -> Option<u64> {
        match self {
            serde_json::Value::Array(a) => Some(a.len() as u64),
            serde_json::Value::Object(o) => Some(o.len() as u64),
            serde_json::Value::String(s) => Some(s.len() as u64),
            _ => None,
        }
    }
}

impl TaskInput for serde_json::Map<String, serde_json::Value> {
    fn input_size(&self) -> Option<u64> {
        Some(self.len() as u64)
    }
}

impl TaskInput for String {
    fn input_size(&self) -> Option<u64> {
        Some(self.len() as u64)
    }
}

impl<T> TaskInput for Vec<T> {
    fn input_size(&self) -> Option<u64> {
        Some(self.len() as u64)
    }
}

/// Removes sensitive fields from a serialised input (used for error context).
pub fn redact(mut value: serde_json::Value, sensitive: &[&str]) -> serde_json::Value {
    if let serde_json::Value::Object(map) = &mut value {
        for key in sensitive {
            if map.contains_key(*key) {
                map.insert((*key).to_string(), serde_json::Value::String("[redacted]".into()));
            }
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_replaces_sensitive_values() {
        let v = serde_json::json!({"user": "ann", "password": "hunter2"});
        let r = redact(v, &["password"]);
        assert_eq!(r["password"], "[redacted]");
        assert_eq!(r["user"], "ann");
        assert!(!r.to_string().contains("hunter2"));
    }
}
