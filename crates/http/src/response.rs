//! [`HttpResponse`]: a response read whole (bounded by `max_response_bytes`), so its bytes are
//! counted exactly and the call's span ends when the body has arrived.

use bytes::Bytes;
use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use servicetask_core::{ErrorClass, TaskError};

/// A response whose body has been read.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
    pub(crate) dependency: String,
}

impl HttpResponse {
    /// The status (never 5xx or 429: those are errors, retried per the dependency's policy).
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The response headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The dependency the request was a call to.
    pub fn dependency(&self) -> &str {
        &self.dependency
    }

    /// The body.
    pub fn bytes(&self) -> &Bytes {
        &self.body
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON; a body that is not the expected JSON is a `dependency` error.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, TaskError> {
        serde_json::from_slice(&self.body).map_err(|e| {
            TaskError::new(
                ErrorClass::Dependency,
                format!("{} answered a body that is not the expected JSON: {e}", self.dependency),
            )
        })
    }
}
