//! The connector protocol's bodies: the `POST /v1/do/<command>` request (parameters beside the
//! `spiff__` fields SpiffArena adds) and the answers, as the SpiffArena backend reads them.
//!
//! - Complete: `200 {"command_response_version": 2, "command_response": {"body": <output>,
//!   "mimetype": "application/json", "http_status": 200}, "error": null, "spiff__logs": []}`.
//!   The caller stores `command_response` in the service task's result variable.
//! - BPMN error: `200`, the same envelope with `"error": {"error_code": <code>, "message", ...}`:
//!   the backend throws `error_code` to the boundary event that catches it (the proxy answers
//!   a command's own error with 200 too).
//! - Failure: a 4xx/5xx by error class with `"error": {"error_code":
//!   "ServiceTask<Class>Error", "message", "error_class", "recovery_hint", "retryable"}` and an
//!   empty `command_response`, as the proxy answers a command that raised.
//! - Protocol errors (unknown command, bad body, token, busy): the proxy's error shape with
//!   snake_case codes (`command_not_found`, `invalid_request`, ...).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use super::commands::{CommandCall, CommandOutcome};

/// The `spiff__` fields: everything else in the body is a parameter.
const TASK_DATA: &str = "spiff__task_data";
const INSTANCE_ID: &str = "spiff__process_instance_id";
const TASK_ID: &str = "spiff__task_id";
const PROCESS_ID: &str = "spiff__process_id";
const ELEMENT_ID: &str = "spiff__element_id";
const SPIFF_PREFIX: &str = "spiff__";

/// An answer that is not the command's: the proxy's error shape.
#[derive(Debug, Clone, PartialEq)]
pub struct ProtocolError {
    /// The HTTP status.
    pub status: StatusCode,
    /// A snake_case code.
    pub code: &'static str,
    /// What happened, naming the field at fault when there is one.
    pub message: String,
    /// The request field at fault.
    pub field: Option<String>,
}

impl ProtocolError {
    /// A problem of `status`.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ProtocolError {
            status,
            code,
            message: message.into(),
            field: None,
        }
    }

    /// A 400 naming `field`.
    pub fn bad_field(field: &str, message: impl Into<String>) -> Self {
        ProtocolError {
            field: Some(field.to_string()),
            ..ProtocolError::new(StatusCode::BAD_REQUEST, "invalid_request", message)
        }
    }
}

impl IntoResponse for ProtocolError {
    fn into_response(self) -> Response {
        let mut error = json!({"error_code": self.code, "message": self.message});
        if let Some(f) = self.field {
            error["field"] = f.into();
        }
        let body = json!({"command_response": {}, "error": error});
        let mut res = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        res
    }
}

/// Reads a `/v1/do` body: a JSON object of parameters and `spiff__` fields (an empty body is
/// no parameters).
pub fn parse_call(bytes: &[u8]) -> Result<CommandCall, ProtocolError> {
    let value: Value = if bytes.iter().all(u8::is_ascii_whitespace) {
        Value::Object(Map::new())
    } else {
        serde_json::from_slice(bytes).map_err(|e| {
            ProtocolError::bad_field(
                "body",
                format!(
                    "the body is not JSON (line {}, column {}): {}",
                    e.line(),
                    e.column(),
                    e.classify_words()
                ),
            )
        })?
    };
    let Value::Object(mut body) = value else {
        return Err(ProtocolError::bad_field(
            "body",
            "the body must be a JSON object of parameters",
        ));
    };
    let task_data = match body.remove(TASK_DATA) {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m,
        // the proxy's own default is the string '{}'
        Some(Value::String(s)) => match serde_json::from_str(&s) {
            Ok(Value::Object(m)) => m,
            _ => {
                return Err(ProtocolError::bad_field(
                    TASK_DATA,
                    format!("{TASK_DATA} must be a JSON object (or a string holding one)"),
                ))
            }
        },
        Some(_) => {
            return Err(ProtocolError::bad_field(
                TASK_DATA,
                format!("{TASK_DATA} must be a JSON object"),
            ))
        }
    };
    let instance_id = id_field(&body, INSTANCE_ID)?;
    let task_id = id_field(&body, TASK_ID)?;
    let process_id = id_field(&body, PROCESS_ID)?;
    let element_id = id_field(&body, ELEMENT_ID)?;
    body.retain(|k, _| !k.starts_with(SPIFF_PREFIX));
    let idempotency_key = task_id.as_ref().map(|t| match &instance_id {
        Some(i) => format!("{i}/{t}"),
        None => t.clone(),
    });
    Ok(CommandCall {
        params: body,
        task_data,
        traceparent: None,
        idempotency_key,
        instance_id,
        process_id,
        element_id,
    })
}

/// An id field: a string or a number (SpiffArena's instance id is an integer), or absent.
fn id_field(body: &Map<String, Value>, field: &str) -> Result<Option<String>, ProtocolError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(_) => Err(ProtocolError::bad_field(
            field,
            format!("{field} must be a string or a number"),
        )),
    }
}

/// The answer to a call that ran.
pub fn outcome_response(outcome: CommandOutcome) -> Response {
    match outcome {
        CommandOutcome::Complete(output) => {
            let body = envelope(Value::Object(output), StatusCode::OK, Value::Null);
            (StatusCode::OK, axum::Json(body)).into_response()
        }
        CommandOutcome::BpmnError {
            code,
            message,
            variables,
        } => {
            let error = json!({
                "error_code": code,
                "message": message,
                "error_class": "business",
                "variables": variables,
            });
            let body = envelope(Value::Object(variables), StatusCode::UNPROCESSABLE_ENTITY, error);
            (StatusCode::OK, axum::Json(body)).into_response()
        }
        CommandOutcome::Failed {
            message,
            error_class,
            recovery_hint,
            retryable,
            retry_after,
        } => {
            let status = failure_status(&error_class);
            let mut error = json!({
                "error_code": failure_code(&error_class),
                "message": message,
                "error_class": error_class,
                "recovery_hint": recovery_hint,
                "retryable": retryable,
            });
            if let Some(d) = retry_after {
                error["retry_after_ms"] = (d.as_millis() as u64).into();
            }
            let body = json!({"command_response": {}, "error": error, "spiff__logs": []});
            let mut res = (status, axum::Json(body)).into_response();
            if let Some(d) = retry_after {
                let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
                if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                    res.headers_mut().insert(header::RETRY_AFTER, v);
                }
            }
            res
        }
    }
}

/// The version 2 envelope around a command's body.
fn envelope(body: Value, http_status: StatusCode, error: Value) -> Value {
    json!({
        "command_response_version": 2,
        "command_response": {
            "body": body,
            "mimetype": "application/json",
            "http_status": http_status.as_u16(),
        },
        "error": error,
        "spiff__logs": [],
    })
}

/// The HTTP status of a failure of `class`.
pub fn failure_status(class: &str) -> StatusCode {
    match class {
        "validation" => StatusCode::BAD_REQUEST,
        "not_found" => StatusCode::NOT_FOUND,
        "permission_denied" => StatusCode::FORBIDDEN,
        "rate_limited" => StatusCode::TOO_MANY_REQUESTS,
        "timeout" => StatusCode::GATEWAY_TIMEOUT,
        "network" | "dependency" | "io" => StatusCode::BAD_GATEWAY,
        "circuit_open" | "bulkhead_full" | "budget_exhausted" => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The error code of a failure of `class`: `ServiceTask<Class>Error`, in the family of the
/// codes SpiffArena itself gives failed service calls (`ServiceTaskHttpError500`, ...), so an
/// error boundary can catch a class of failure when the model wants to.
pub fn failure_code(class: &str) -> String {
    let camel: String = class
        .split('_')
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect();
    format!("ServiceTask{camel}Error")
}

/// serde_json's error category, in words (its message may quote the input).
trait ClassifyWords {
    fn classify_words(&self) -> &'static str;
}

impl ClassifyWords for serde_json::Error {
    fn classify_words(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "could not be read",
            serde_json::error::Category::Syntax => "a syntax error",
            serde_json::error::Category::Data => "a value of the wrong type",
            serde_json::error::Category::Eof => "it ends too early",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spiff_fields_are_taken_out_of_the_parameters() {
        let call = parse_call(
            br#"{"quality_score": 0.5, "spiff__task_data": {"score": 0.5}, "spiff__process_instance_id": 7,
                 "spiff__task_id": "t-1", "spiff__callback_url": "http://x/cb", "spiff__element_id": "check"}"#,
        )
        .unwrap();
        assert_eq!(call.params.len(), 1);
        assert_eq!(call.params["quality_score"], 0.5);
        assert_eq!(call.task_data["score"], 0.5);
        assert_eq!(call.instance_id.as_deref(), Some("7"));
        assert_eq!(call.idempotency_key.as_deref(), Some("7/t-1"));
        assert_eq!(call.element_id.as_deref(), Some("check"));
    }

    #[test]
    fn the_proxys_string_task_data_is_read() {
        let call = parse_call(br#"{"spiff__task_data": "{\"a\": 1}"}"#).unwrap();
        assert_eq!(call.task_data["a"], 1);
        assert!(parse_call(b"").unwrap().params.is_empty());
    }

    #[test]
    fn bad_bodies_name_the_field() {
        let e = parse_call(b"[1]").unwrap_err();
        assert_eq!(e.field.as_deref(), Some("body"));
        let e = parse_call(br#"{"spiff__task_data": 3}"#).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("spiff__task_data"));
        let e = parse_call(br#"{"spiff__task_id": [1]}"#).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("spiff__task_id"));
        let e = parse_call(br#"{"secret": "hunter2"#).unwrap_err();
        assert!(!e.message.contains("hunter2"), "{}", e.message);
        assert!(e.message.contains("line 1"), "{}", e.message);
    }

    #[test]
    fn failure_codes_and_statuses_follow_the_class() {
        assert_eq!(failure_code("timeout"), "ServiceTaskTimeoutError");
        assert_eq!(failure_code("rate_limited"), "ServiceTaskRateLimitedError");
        assert_eq!(failure_status("validation"), StatusCode::BAD_REQUEST);
        assert_eq!(failure_status("timeout"), StatusCode::GATEWAY_TIMEOUT);
        assert_eq!(failure_status("panic"), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
