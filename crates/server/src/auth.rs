//! The API token: when one is configured, every request must carry
//! `Authorization: Bearer <token>`, reads too (instances, variables, history and metrics are
//! the data a token is configured to protect). Open without it: `GET /health` (liveness),
//! `GET /metrics` (the Prometheus scrape: counts, no process data), `GET /openapi.json` (the
//! API's description) and the console's page and assets (its data calls send the token),
//! and `OPTIONS`.

use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

use crate::problem::Problem;

/// Checks the token of every request but the open ones.
pub async fn require_token(State(token): State<Arc<Option<String>>>, req: Request, next: Next) -> Response {
    let Some(expected) = token.as_deref() else {
        return next.run(req).await;
    };
    if is_open(req.method(), req.uri().path()) {
        return next.run(req).await;
    }
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if constant_time_eq(given.as_bytes(), expected.as_bytes()) {
        return next.run(req).await;
    }
    let mut res = Problem::new(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "this server requires its API token: send it as `Authorization: Bearer <token>`",
    )
    .field("Authorization")
    .into_response();
    res.headers_mut()
        .insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
    res
}

/// Requests that need no token: they show no process data.
fn is_open(method: &Method, path: &str) -> bool {
    if *method == Method::OPTIONS {
        return true;
    }
    if !matches!(*method, Method::GET | Method::HEAD) {
        return false;
    }
    let console_asset = (path == "/console" || path.starts_with("/console/")) && !path.starts_with("/console/api/");
    matches!(path, "/health" | "/metrics" | "/openapi.json" | "/") || console_asset
}

/// Compares without stopping at the first difference, so the time taken tells nothing of the
/// token.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
