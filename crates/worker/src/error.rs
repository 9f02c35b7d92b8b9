//! [`HostError`]: why an operation on an instance did not happen, in terms an API can map to
//! a status and a field.

use servicetask_bpmn::Diagnostic;
use servicetask_engine::EngineError;
use servicetask_store::StoreError;

/// An operation that did not happen.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// The BPMN file has errors (each with file, line and column).
    #[error("the BPMN file has errors: {}", .0.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("; "))]
    InvalidBpmn(Vec<Diagnostic>),
    /// Something named in the request does not exist.
    #[error("{what} '{key}' not found")]
    NotFound {
        /// What kind of thing (`instance`, `process`, `deployment`, `task`, `incident`).
        what: &'static str,
        /// The key given.
        key: String,
        /// The request field that named it.
        field: &'static str,
    },
    /// The instance has ended: nothing can change it any more.
    #[error("instance '{0}' has ended")]
    Finished(String),
    /// The engine refused the change.
    #[error("{0}")]
    Engine(#[from] EngineError),
    /// The store failed.
    #[error("{0}")]
    Store(#[from] StoreError),
}
