//! [`HttpRequest`]: one request, sent as calls to its host's dependency through
//! `cx.dependency(name).call_retrying(..)`, so the breaker, bulkhead, retry policy, client span
//! and per-dependency totals are the ones every dependency call has. This module adds what is
//! HTTP's own: the span's semantic conventions, `traceparent`, `Retry-After`, the status
//! classes, and the bytes.

use std::time::SystemTime;

use bytes::{Bytes, BytesMut};
use opentelemetry::propagation::{Injector, TextMapPropagator};
use opentelemetry::trace::{Status, TraceContextExt};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE, RETRY_AFTER};
use reqwest::{Method, StatusCode, Url};
use servicetask_core::{semconv, CallSpan, ErrorClass, TaskError};

use crate::client::Http;
use crate::naming::dependency_name;
use crate::redact::redacted_url;
use crate::response::HttpResponse;
use crate::retry_after::retry_after;

/// A request being built: `cx.http().post(url).json(&body)?.send().await`.
#[derive(Debug)]
#[must_use = "a request does nothing until sent"]
pub struct HttpRequest<'a> {
    http: Http<'a>,
    method: Method,
    url: Result<Url, String>,
    headers: HeaderMap,
    body: Bytes,
    problem: Option<String>,
}

impl<'a> HttpRequest<'a> {
    pub(crate) fn new(http: Http<'a>, method: Method, url: &str) -> Self {
        HttpRequest {
            http,
            method,
            // the parser's message never repeats the URL, which may hold a secret
            url: Url::parse(url).map_err(|e| format!("the URL is not valid: {e}")),
            headers: HeaderMap::new(),
            body: Bytes::new(),
            problem: None,
        }
    }

    /// Adds a header; an invalid name or value makes `send` fail with a `validation` error.
    /// A header named `authorization`, `cookie` or `proxy-authorization` is marked sensitive.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        match (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            (Ok(n), Ok(mut v)) => {
                if matches!(n.as_str(), "authorization" | "cookie" | "proxy-authorization") {
                    v.set_sensitive(true);
                }
                self.headers.append(n, v);
            }
            (Err(_), _) => self.problem = Some(format!("{name:?} is not a valid header name")),
            (_, Err(_)) => self.problem = Some(format!("the value of header {name:?} is not valid")),
        }
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// Sets a JSON body and `content-type: application/json`.
    pub fn json<T: serde::Serialize + ?Sized>(mut self, value: &T) -> Self {
        match serde_json::to_vec(value) {
            Ok(v) => {
                self.body = Bytes::from(v);
                self.headers
                    .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            }
            Err(e) => self.problem = Some(format!("the JSON body could not be written: {e}")),
        }
        self
    }

    /// Sends the request as calls to its host's dependency, retrying per that dependency's
    /// policy. A 5xx answer is a `dependency` error and 429 a `rate_limited` one (both carry
    /// the `Retry-After` wait); a failure to connect is `network`, a time limit `timeout`.
    /// Any other status is an `Ok` response (a 4xx marks the span as failed, not the call).
    pub async fn send(self) -> Result<HttpResponse, TaskError> {
        let HttpRequest {
            http,
            method,
            url,
            headers,
            body,
            problem,
        } = self;
        if let Some(p) = problem {
            return Err(TaskError::validation(p));
        }
        let url = url.map_err(TaskError::validation)?;
        #[cfg(not(feature = "rustls"))]
        if url.scheme() == "https" {
            return Err(TaskError::validation(format!(
                "{} cannot be called: {}",
                redacted_url(&url, &http.settings().redacted_query),
                crate::tls::NO_TLS
            ))
            .with_suggestion("build servicetask-http with its default features (the `rustls` feature)"));
        }
        let settings = http.settings();
        let name = dependency_name(&url, &settings.hosts).into_owned();
        // span attributes only for a traced execution; the redacted URL is made again for an error
        let call = CallTemplate::new(
            &method,
            &url,
            &settings.redacted_query,
            http.cx.telemetry().traces_enabled(),
        );
        let mut template = reqwest::Request::new(method, url);
        *template.headers_mut() = headers;
        *template.body_mut() = Some(body.clone().into());
        let attempt = Attempt {
            http,
            dependency: &name,
            template: &template,
            sent: body.len() as u64,
            max_body: settings.max_response_bytes,
            secret: &settings.redacted_query,
        };
        http.cx
            .dependency(&name)
            .call_retrying(|n| call.span(n), |_| attempt.run())
            .await
    }
}

/// The parts of the client span that are the same on every attempt.
struct CallTemplate {
    span_name: &'static str,
    attributes: Vec<KeyValue>,
}

impl CallTemplate {
    /// The span's name and, when `traced`, its attributes (`url.full` redacted with `secret`).
    fn new(method: &Method, url: &Url, secret: &[String], traced: bool) -> Self {
        let known = matches!(
            *method,
            Method::GET
                | Method::HEAD
                | Method::POST
                | Method::PUT
                | Method::DELETE
                | Method::CONNECT
                | Method::OPTIONS
                | Method::TRACE
                | Method::PATCH
        );
        let span_name = if known { static_method(method) } else { "HTTP" };
        if !traced {
            return CallTemplate {
                span_name,
                attributes: Vec::new(),
            };
        }
        let mut attributes = Vec::with_capacity(6);
        if known {
            attributes.push(KeyValue::new(semconv::HTTP_REQUEST_METHOD, span_name));
        } else {
            attributes.push(KeyValue::new(semconv::HTTP_REQUEST_METHOD, "_OTHER"));
            attributes.push(KeyValue::new(
                semconv::HTTP_REQUEST_METHOD_ORIGINAL,
                method.as_str().to_string(),
            ));
        }
        attributes.push(KeyValue::new(semconv::URL_FULL, redacted_url(url, secret)));
        if let Some(host) = url.host_str() {
            attributes.push(KeyValue::new(semconv::SERVER_ADDRESS, host.to_string()));
        }
        if let Some(port) = url.port_or_known_default() {
            attributes.push(KeyValue::new(semconv::SERVER_PORT, i64::from(port)));
        }
        CallTemplate { span_name, attributes }
    }

    /// The span of attempt `n` (1-based): `http.request.resend_count` from the second on.
    fn span(&self, n: u32) -> CallSpan {
        let mut attributes = self.attributes.clone();
        if n > 1 {
            attributes.push(KeyValue::new(semconv::HTTP_REQUEST_RESEND_COUNT, i64::from(n - 1)));
        }
        CallSpan {
            name: self.span_name.into(),
            attributes,
            sets_error_type: true,
        }
    }
}

fn static_method(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::CONNECT => "CONNECT",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::PATCH => "PATCH",
        _ => "HTTP",
    }
}

/// One attempt: runs inside the client span (`Context::current()` is the span's context).
#[derive(Clone, Copy)]
struct Attempt<'r> {
    http: Http<'r>,
    dependency: &'r str,
    template: &'r reqwest::Request,
    sent: u64,
    max_body: u64,
    secret: &'r [String],
}

struct HeaderInjector<'h>(&'h mut HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(n), Ok(v)) = (HeaderName::try_from(key), HeaderValue::try_from(value)) {
            self.0.insert(n, v);
        }
    }
}

impl Attempt<'_> {
    /// The request's URL as messages show it (credentials and secret values redacted).
    fn shown(&self) -> String {
        redacted_url(self.template.url(), self.secret)
    }

    async fn run(self) -> Result<HttpResponse, TaskError> {
        let otel = Context::current();
        let span = otel.span();
        let Some(mut request) = self.template.try_clone() else {
            return Err(TaskError::internal(
                "the request body could not be cloned for an attempt",
            ));
        };
        TraceContextPropagator::new().inject_context(&otel, &mut HeaderInjector(request.headers_mut()));
        if self.sent > 0 {
            span.set_attribute(KeyValue::new(semconv::HTTP_REQUEST_BODY_SIZE, self.sent as i64));
        }
        let method = self.template.method().clone();
        let response = match self.http.reqwest().execute(request).await {
            Ok(r) => r,
            Err(e) => {
                // a request that never connected sent nothing
                let sent = if e.is_connect() { 0 } else { self.sent };
                self.count(sent, 0);
                return Err(self.transport_error(&span, &method, &e));
            }
        };
        let status = response.status();
        span.set_attribute(KeyValue::new(
            semconv::HTTP_RESPONSE_STATUS_CODE,
            i64::from(status.as_u16()),
        ));
        let headers = response.headers().clone();
        let body = match self.read_body(response).await {
            Ok(b) => b,
            Err((received, e)) => {
                self.count(self.sent, received);
                span.set_attribute(KeyValue::new(semconv::HTTP_RESPONSE_BODY_SIZE, received as i64));
                return Err(e);
            }
        };
        self.count(self.sent, body.len() as u64);
        span.set_attribute(KeyValue::new(semconv::HTTP_RESPONSE_BODY_SIZE, body.len() as i64));
        if status.is_client_error() || status.is_server_error() {
            span.set_attribute(KeyValue::new(semconv::ERROR_TYPE, status.as_str().to_string()));
            span.set_status(Status::error(""));
        }
        if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
            let class = if status == StatusCode::TOO_MANY_REQUESTS {
                ErrorClass::RateLimited
            } else {
                ErrorClass::Dependency
            };
            let mut err = TaskError::new(class, format!("{method} {} answered {status}", self.shown()));
            let wait = headers
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| retry_after(v, SystemTime::now()));
            if let Some(w) = wait {
                err = err.with_retry_after(w);
            }
            return Err(err);
        }
        Ok(HttpResponse {
            status,
            headers,
            body,
            dependency: self.dependency.to_string(),
        })
    }

    fn count(&self, sent: u64, received: u64) {
        if self.http.cx.tracking().dependencies {
            self.http
                .cx
                .stats()
                .add_dependency_bytes(self.dependency, sent, received);
        }
    }

    /// Reads the whole body, refusing more than `max_body` bytes; on failure, the bytes that
    /// did arrive and the error.
    async fn read_body(&self, mut response: reqwest::Response) -> Result<Bytes, (u64, TaskError)> {
        let too_big = |n: u64| {
            TaskError::internal(format!(
                "{} answered a body over {} bytes ({n} or more)",
                self.shown(),
                self.max_body
            ))
            .with_suggestion("raise http.max_response_bytes if such a body is expected")
        };
        match response.content_length() {
            Some(n) if n > self.max_body => return Err((0, too_big(n))),
            // a declared length within the limit: reqwest collects it without a second copy
            // (hyper stops at the declared length)
            Some(_) => {
                return response.bytes().await.map_err(|e| {
                    let method = self.template.method().clone();
                    (0, self.transport_error(&Context::current().span(), &method, &e))
                })
            }
            None => {}
        }
        let mut buf = BytesMut::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    let n = buf.len() as u64 + chunk.len() as u64;
                    if n > self.max_body {
                        return Err((n, too_big(n)));
                    }
                    buf.extend_from_slice(&chunk);
                }
                Ok(None) => return Ok(buf.freeze()),
                Err(e) => {
                    let span = Context::current();
                    let method = self.template.method().clone();
                    return Err((buf.len() as u64, self.transport_error(&span.span(), &method, &e)));
                }
            }
        }
    }

    /// A transport failure as a classified error, recorded on the span. The message names the
    /// request by its redacted URL and gives reqwest's causes without any URL of theirs.
    fn transport_error(
        &self,
        span: &opentelemetry::trace::SpanRef<'_>,
        method: &Method,
        e: &reqwest::Error,
    ) -> TaskError {
        let untrusted = e.is_connect() && crate::tls::is_untrusted_certificate(e);
        let class = if untrusted {
            // no retry makes a certificate trusted: not retried, not a breaker failure
            ErrorClass::PermissionDenied
        } else if e.is_timeout() {
            ErrorClass::Timeout
        } else {
            ErrorClass::Network
        };
        let mut causes = Vec::new();
        let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
        while let Some(s) = source {
            causes.push(s.to_string());
            source = s.source();
        }
        causes.dedup();
        let what = if untrusted {
            "refused the server's certificate"
        } else if e.is_connect() {
            "could not connect"
        } else if e.is_timeout() {
            "timed out"
        } else if e.is_body() || e.is_decode() {
            "failed while reading the body"
        } else {
            "failed"
        };
        let mut message = format!("{method} {} {what}", self.shown());
        if !causes.is_empty() {
            message.push_str(": ");
            message.push_str(&causes.join(": "));
        }
        span.set_attribute(KeyValue::new(semconv::ERROR_TYPE, class.as_str()));
        span.set_status(Status::error(message.clone()));
        let err = TaskError::new(class, message);
        if untrusted {
            err.with_suggestion(crate::tls::UNTRUSTED_HINT)
        } else {
            err
        }
    }
}
