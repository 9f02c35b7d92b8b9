//! The API token: when one is configured, every mutating request (any method but GET, HEAD
//! and OPTIONS) must carry `Authorization: Bearer <token>`.

use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

use crate::problem::Problem;

/// Checks the token of mutating requests.
pub async fn require_token(State(token): State<Arc<Option<String>>>, req: Request, next: Next) -> Response {
    let Some(expected) = token.as_deref() else {
        return next.run(req).await;
    };
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
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
        "this call changes state: send the API token as `Authorization: Bearer <token>`",
    )
    .field("Authorization")
    .into_response();
    res.headers_mut()
        .insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
    res
}

/// Compares without stopping at the first difference, so the time taken tells nothing of the
/// token.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
