//! The connector's routes: `GET /v1/commands`, `POST /v1/do/<command>`, `GET /v1/auths` and
//! `GET /liveness`, each turning a request into one [`Commands`] call and its outcome into the
//! protocol's body ([`super::wire`]). The token (on every route but `/liveness`, as SpiffArena
//! sends it on each), the body limit and the in-flight limit are checked here; nothing is kept
//! between calls.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use tokio::sync::Semaphore;

use super::commands::{task_name, Commands};
use super::wire::{outcome_response, parse_call, ProtocolError};

/// The header SpiffArena sends its connector proxy API key in.
pub const SPIFF_API_KEY_HEADER: &str = "spiff-connector-proxy-api-key";

/// What every route shares (read-only).
pub(super) struct RouteState {
    pub commands: Arc<dyn Commands>,
    /// The command list, described once: the registered tasks do not change while serving.
    pub list: Value,
    pub token: Option<String>,
    pub permits: Arc<Semaphore>,
}

/// The routes over `state`, bodies limited to `body_limit` bytes.
pub(super) fn router(state: Arc<RouteState>, body_limit: usize) -> Router {
    Router::new()
        .route("/liveness", get(|| async { Json(json!({"ok": true})) }))
        .route("/v1/commands", get(list_commands))
        .route("/v1/auths", get(list_auths))
        .route("/v1/do/{*operator}", get(do_command).post(do_command))
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state)
}

async fn list_commands(State(state): State<Arc<RouteState>>, headers: HeaderMap) -> Response {
    if let Err(e) = check_token(state.token.as_deref(), &headers) {
        return e.into_response();
    }
    Json(state.list.clone()).into_response()
}

async fn list_auths(State(state): State<Arc<RouteState>>, headers: HeaderMap) -> Response {
    if let Err(e) = check_token(state.token.as_deref(), &headers) {
        return e.into_response();
    }
    // no authentications are served: tasks take their credentials as (sensitive) parameters
    Json(json!([])).into_response()
}

async fn do_command(
    State(state): State<Arc<RouteState>>,
    Path(operator): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    if let Err(e) = check_token(state.token.as_deref(), &headers) {
        return e.into_response();
    }
    let body = match body {
        Ok(b) => b,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return ProtocolError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                "the request body is over the size limit (--body-limit)",
            )
            .into_response()
        }
        Err(e) => return ProtocolError::new(e.status(), "unreadable_body", e.body_text()).into_response(),
    };
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|ct| ct.starts_with("application/json") || ct.contains("+json"));
    if !json {
        return ProtocolError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the parameters as application/json",
        )
        .into_response();
    }
    let mut call = match parse_call(&body) {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    call.traceparent = headers
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let name = task_name(&operator);
    // the permit is taken before the task starts, so a busy answer means it never ran and the
    // caller may send the call elsewhere
    let Ok(_permit) = state.permits.clone().try_acquire_owned() else {
        return ProtocolError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "connector_busy",
            "this server runs as many calls as it may (--max-jobs); the call did not run: send it to another server or again later",
        )
        .into_response();
    };
    let Some(running) = state.commands.call(name, call) else {
        return ProtocolError::new(
            StatusCode::NOT_FOUND,
            "command_not_found",
            format!("no command '{operator}': GET /v1/commands lists them"),
        )
        .into_response();
    };
    outcome_response(running.await)
}

/// When a token is configured, every route but `/liveness` needs it as `Authorization: Bearer <token>` or in
/// SpiffArena's `Spiff-Connector-Proxy-Api-Key` header.
fn check_token(expected: Option<&str>, headers: &HeaderMap) -> Result<(), ProtocolError> {
    let Some(expected) = expected else {
        return Ok(());
    };
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let key = headers.get(SPIFF_API_KEY_HEADER).and_then(|v| v.to_str().ok());
    if [bearer, key]
        .into_iter()
        .flatten()
        .any(|given| crate::auth::constant_time_eq(given.as_bytes(), expected.as_bytes()))
    {
        return Ok(());
    }
    Err(ProtocolError {
        field: Some("Authorization".into()),
        ..ProtocolError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "send the API token as `Authorization: Bearer <token>` or in the Spiff-Connector-Proxy-Api-Key header",
        )
    })
}
