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
//!         vec![TrackedPath { field: "path", path: self.path.clone().into(), required: true, sensitive: false }]
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
    /// Whether the field is `#[task(path, sensitive)]`: the path is shown as `[redacted:FIELD]`
    /// wherever it is recorded (errors, span events, per-file totals, history).
    pub sensitive: bool,
}

/// Facts about a task input that the framework uses before and around the task.
pub trait TaskInput {
    /// Names of fields whose values must never reach telemetry or error context.
    const SENSITIVE_FIELDS: &'static [&'static str] = &[];

    /// Whether any of [`TaskInput::tracked_paths`] is sensitive: the runner then reads the
    /// tracked paths of every execution to redact them (inputs without such fields cost nothing).
    const HAS_SENSITIVE_PATHS: bool = false;

    /// JSON Schema keywords the `#[task(...)]` checks add to fields, as `(field, keyword,
    /// value)`: `min`/`max` give `minimum`/`maximum`, `non_empty` gives `minLength` and
    /// `minItems` (each applies to its own type). [`crate::task_schema`] puts them in the schema.
    const SCHEMA_CONSTRAINTS: &'static [(&'static str, &'static str, f64)] = &[];

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

    /// The input's non-sensitive fields as JSON, for error context (`None`: nothing shown).
    fn context_fields(&self) -> Option<serde_json::Value> {
        None
    }
}

impl TaskInput for () {}
impl TaskInput for bool {}
impl TaskInput for f64 {}

macro_rules! integer_input {
    ($($t:ty),*) => {$(
        /// An integer input's size is its value (a count of items to process).
        impl TaskInput for $t {
            fn input_size(&self) -> Option<u64> {
                u64::try_from(*self).ok()
            }
        }
    )*};
}
integer_input!(u8, u16, u32, u64, usize, i32, i64);

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

/// Replaces the value of every object key in `sensitive`, at any depth, with `"[redacted]"`
/// (for showing process variables: a task's sensitive field is a variable of that name).
pub fn redact_keys(value: &mut serde_json::Value, sensitive: &[&str]) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if sensitive.contains(&k.as_str()) {
                    *v = serde_json::Value::String("[redacted]".into());
                } else {
                    redact_keys(v, sensitive);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(|v| redact_keys(v, sensitive)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_keys_reaches_nested_objects_and_arrays() {
        let mut v = serde_json::json!({"a": {"token": "s1"}, "b": [{"token": "s2"}], "token": "s3", "n": 1});
        redact_keys(&mut v, &["token"]);
        for s in ["s1", "s2", "s3"] {
            assert!(!v.to_string().contains(s), "{v}");
        }
        assert_eq!(v["n"], 1);
    }

    #[test]
    fn redact_replaces_sensitive_values() {
        let v = serde_json::json!({"user": "ann", "password": "hunter2"});
        let r = redact(v, &["password"]);
        assert_eq!(r["password"], "[redacted]");
        assert_eq!(r["user"], "ann");
        assert!(!r.to_string().contains("hunter2"));
    }
}

/// Helpers the `TaskInput` derive expands to. Not public API.
#[doc(hidden)]
pub mod __derive {
    use std::path::{Path, PathBuf};

    /// Wraps a field for serialisation-if-possible (autoref specialisation).
    pub struct Probe<'a, T>(pub &'a T);

    /// Chosen when the field is `Serialize`.
    pub trait ViaSerialize {
        /// The field as JSON.
        fn to_json(&self) -> Option<serde_json::Value>;
    }
    impl<T: serde::Serialize> ViaSerialize for Probe<'_, T> {
        fn to_json(&self) -> Option<serde_json::Value> {
            serde_json::to_value(self.0).ok()
        }
    }

    /// Chosen when it is not: the field is left out of the error context.
    pub trait ViaNothing {
        /// Nothing.
        fn to_json(&self) -> Option<serde_json::Value>;
    }
    impl<T> ViaNothing for &Probe<'_, T> {
        fn to_json(&self) -> Option<serde_json::Value> {
            None
        }
    }

    /// Fields that name paths.
    pub trait AsPaths {
        /// The paths.
        fn as_paths(&self) -> Vec<PathBuf>;
    }
    impl AsPaths for PathBuf {
        fn as_paths(&self) -> Vec<PathBuf> {
            vec![self.clone()]
        }
    }
    impl AsPaths for Path {
        fn as_paths(&self) -> Vec<PathBuf> {
            vec![self.to_path_buf()]
        }
    }
    impl AsPaths for String {
        fn as_paths(&self) -> Vec<PathBuf> {
            vec![PathBuf::from(self)]
        }
    }
    impl<T: AsPaths> AsPaths for Option<T> {
        fn as_paths(&self) -> Vec<PathBuf> {
            self.as_ref().map(AsPaths::as_paths).unwrap_or_default()
        }
    }
    impl<T: AsPaths> AsPaths for Vec<T> {
        fn as_paths(&self) -> Vec<PathBuf> {
            self.iter().flat_map(AsPaths::as_paths).collect()
        }
    }

    /// Fields that give the input size.
    pub trait InputSize {
        /// The size.
        fn input_size(&self) -> Option<u64>;
    }
    macro_rules! int_size {
        ($($t:ty),*) => {$(
            impl InputSize for $t {
                fn input_size(&self) -> Option<u64> { u64::try_from(*self).ok() }
            }
        )*};
    }
    int_size!(u8, u16, u32, u64, usize, i8, i16, i32, i64, isize);
    impl InputSize for String {
        fn input_size(&self) -> Option<u64> {
            Some(self.len() as u64)
        }
    }
    impl<T> InputSize for Vec<T> {
        fn input_size(&self) -> Option<u64> {
            Some(self.len() as u64)
        }
    }
    /// A path's input size is the size in bytes of the file it names (one `stat`), if any.
    impl InputSize for PathBuf {
        fn input_size(&self) -> Option<u64> {
            std::fs::metadata(self).ok().filter(|m| m.is_file()).map(|m| m.len())
        }
    }
    impl<T: InputSize> InputSize for Option<T> {
        fn input_size(&self) -> Option<u64> {
            self.as_ref().and_then(InputSize::input_size)
        }
    }

    /// Fields that can be empty.
    pub trait IsEmpty {
        /// Whether it is empty.
        fn is_empty_value(&self) -> bool;
    }
    impl IsEmpty for String {
        fn is_empty_value(&self) -> bool {
            self.trim().is_empty()
        }
    }
    impl<T> IsEmpty for Vec<T> {
        fn is_empty_value(&self) -> bool {
            self.is_empty()
        }
    }
    impl IsEmpty for PathBuf {
        fn is_empty_value(&self) -> bool {
            self.as_os_str().is_empty()
        }
    }
    impl<T: IsEmpty> IsEmpty for Option<T> {
        fn is_empty_value(&self) -> bool {
            self.as_ref().is_none_or(IsEmpty::is_empty_value)
        }
    }
}
