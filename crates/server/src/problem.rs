//! RFC 9457 problem details (`application/problem+json`): every error the API answers, with
//! the request field at fault when there is one.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use servicetask_store::StoreError;
use servicetask_worker::HostError;
use utoipa::ToSchema;

/// A problem: what went wrong, for people and for programs.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem (`https://servicetask.dev/problems/<slug>`).
    #[serde(rename = "type", serialize_with = "problem_uri")]
    #[schema(value_type = String)]
    pub kind: &'static str,
    /// A short summary of the kind.
    pub title: &'static str,
    /// The HTTP status.
    pub status: u16,
    /// What happened this time.
    pub detail: String,
    /// The request field at fault (a JSON path such as `variables.amount`, or a query or
    /// path parameter), when one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Every finding, for problems with several (a BPMN file's diagnostics).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// One finding of a problem.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct FieldError {
    /// Where: a request field, or `file:line:column` in a BPMN file.
    pub field: String,
    /// What is wrong there.
    pub detail: String,
}

impl Problem {
    /// A problem of `status` with a `detail`.
    pub fn new(status: StatusCode, kind: &'static str, detail: impl Into<String>) -> Self {
        Problem {
            kind,
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            detail: detail.into(),
            field: None,
            errors: Vec::new(),
        }
    }

    /// The same, naming the field at fault.
    pub fn field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// A 400 naming `field`.
    pub fn bad_field(field: &str, detail: impl Into<String>) -> Self {
        Problem::new(StatusCode::BAD_REQUEST, "invalid-request", detail).field(field)
    }
}

/// Writes a problem's slug as its type URI.
fn problem_uri<S: serde::Serializer>(kind: &&'static str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("https://servicetask.dev/problems/{kind}"))
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).unwrap_or_default();
        (status, [(header::CONTENT_TYPE, "application/problem+json")], body).into_response()
    }
}

impl From<HostError> for Problem {
    fn from(e: HostError) -> Self {
        match e {
            HostError::InvalidBpmn(diags) => {
                let mut p = Problem::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid-bpmn",
                    format!("the BPMN file has {} error(s)", diags.len()),
                )
                .field("xml");
                p.errors = diags
                    .iter()
                    .map(|d| FieldError {
                        field: format!("{}:{}:{}", d.file, d.position.line, d.position.column),
                        detail: d.message.clone(),
                    })
                    .collect();
                p
            }
            HostError::NotFound { field, .. } => {
                Problem::new(StatusCode::NOT_FOUND, "not-found", e.to_string()).field(field)
            }
            HostError::Finished(_) => Problem::new(StatusCode::CONFLICT, "instance-ended", e.to_string()),
            HostError::Engine(_) => Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "engine-refused", e.to_string()),
            HostError::Store(StoreError::Conflict(_)) => {
                Problem::new(StatusCode::CONFLICT, "concurrent-change", e.to_string())
            }
            // the store's own text (SQL, file paths, a snapshot's serde error quoting a stored
            // value) stays in the server's log; the client learns what kind of problem it is
            HostError::Store(_) => {
                eprintln!("servicetask serve: store error: {e}");
                Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "store-unavailable",
                    "the instance store could not answer; the server's log has the cause".to_string(),
                )
            }
        }
    }
}
