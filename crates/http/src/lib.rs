//! servicetask's HTTP client: dependencies identified without being named.
//!
//! `cx.http().get(url).send().await` makes a request as a call to the dependency its host is
//! ([`HttpSettings::hosts`], else the host itself), through the same path as
//! `cx.dependency(name).call(fut)`: that dependency's breaker and bulkhead from
//! `[dependencies.NAME]`, its retry policy (honouring `Retry-After`, bounded by the policy's
//! `max_delay`; a `Retry-After` past what is left of its `max_elapsed` ends the request with
//! an error saying so, and its `budget` is shared by every task calling the dependency), a
//! client span per attempt and the per-dependency totals of the execution's record. What is HTTP's own is here: the span follows the OpenTelemetry HTTP client
//! conventions (`GET`, `http.request.method`, `url.full` with secrets redacted,
//! `server.address`, `server.port`, `http.response.status_code`, `error.type`), the W3C
//! `traceparent` continues the trace at the server, and request and response body bytes are
//! added to the dependency's totals and the execution's network figures.
//!
//! https works as http does (rustls, the default `rustls` feature), trusting the system's roots
//! and `[http] ca_file`; a certificate the client refuses is a `permission_denied` error with
//! what to do, not retried.
//!
//! Kept out of `servicetask-core` so that reqwest is compiled only by programs that make HTTP
//! calls; the runner's hot path does not see it.
//!
//! ```no_run
//! use servicetask_core::{TaskContext, TaskError};
//! use servicetask_http::HttpExt as _;
//! async fn charge(cx: TaskContext) -> Result<String, TaskError> {
//!     let r = cx.http().post("https://api.stripe.com/v1/charges").json(&serde_json::json!({"amount": 5})).send().await?;
//!     Ok(r.text())
//! }
//! ```

mod client;
mod naming;
mod redact;
mod request;
mod response;
mod retry_after;
mod settings;
mod tls;

pub use client::{Http, HttpClient, HttpExt};
pub use naming::dependency_name;
pub use redact::redacted_url;
pub use request::HttpRequest;
pub use reqwest::{Method, StatusCode, Url};
pub use response::HttpResponse;
pub use retry_after::retry_after;
pub use settings::{HttpSettings, DEFAULT_REDACTED_QUERY};
