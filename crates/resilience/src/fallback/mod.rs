//! Fallback: answer a failed execution with a value or an async function chosen by error
//! class, and say so on the span.
//!
//! # Quick Start
//!
//! ```
//! use serde_json::json;
//! use servicetask_core::{ErrorClass, TaskConfig};
//! use servicetask_resilience::{layers, Resilience};
//! let config = TaskConfig::builder("quote")
//!     .fallback_value(ErrorClass::CircuitOpen, json!({"price": null, "stale": true}))
//!     .build();
//! assert_eq!(layers(&config, &Resilience::default()).len(), 1);
//! ```
//!
//! # Configuration
//!
//! Values: `fallback.values` in [`servicetask_core::TaskConfig`] (class name or `*` to a JSON
//! output; `[tasks.<name>.fallback.values]` in `servicetask.toml`). Functions:
//! [`crate::ResilienceBuilder::fallback_fn`] (code only). For a failure of class `c`, the
//! first that exists answers: a function for `c`, a value for `c`, a function for `*`, a
//! value for `*`. A business (BPMN) error is only answered by a fallback named `business`,
//! never by `*`: it belongs to the process model's error boundary events.
//!
//! The answer travels as a [`servicetask_core::layer::FallbackValue`] (JSON) that the runner
//! turns into the task's typed output.
//!
//! # Defaults
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `fallback.values` | empty | no fallback: failures go to the engine |
//!
//! # Thread Safety
//!
//! Stateless apart from the shared, immutable values and functions; one layer serves every
//! execution. A fallback function gets a clone of the context and the error, and must be
//! `Send + Sync`.
//!
//! # Telemetry
//!
//! | what | when | attributes |
//! |---|---|---|
//! | span event `servicetask.fallback` | a fallback answered | `servicetask.fallback.reason` (the class it answered for), `exception.message` |
//! | counter `servicetask.fallbacks` | same | `servicetask.name`, `servicetask.fallback.reason` |
//! | `cx.stats().fallback_used` | same | set to `true` |
//!
//! # Examples
//!
//! ```
//! use std::sync::Arc;
//! use serde_json::json;
//! use servicetask_core::layer::FallbackValue;
//! use servicetask_core::ErrorClass;
//! use servicetask_resilience::{FallbackMatch, Resilience};
//! let resilience = Resilience::builder()
//!     .fallback_fn("quote", FallbackMatch::Class(ErrorClass::Timeout), Arc::new(|_cx, err| {
//!         Box::pin(async move { Ok(FallbackValue(json!({ "reason": err.class().as_str() }))) })
//!     }))
//!     .build();
//! # let _ = resilience;
//! ```

mod layer;

use std::sync::Arc;

use servicetask_core::layer::{BoxFuture, FallbackValue};
use servicetask_core::{ErrorClass, TaskContext, TaskError};

pub use layer::FallbackLayer;

/// An async fallback: gets the context and the error, answers with the output as JSON (or
/// fails, and then its error is the execution's).
pub type FallbackFn =
    Arc<dyn Fn(TaskContext, TaskError) -> BoxFuture<'static, Result<FallbackValue, TaskError>> + Send + Sync>;

/// Which failures a fallback function answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FallbackMatch {
    /// Failures of one class.
    Class(ErrorClass),
    /// Any class but `business` (`*`).
    Any,
}
