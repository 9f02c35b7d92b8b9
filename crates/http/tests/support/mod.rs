//! What the tests against real local servers share: in-memory OpenTelemetry providers, an
//! execution's context with a dependency policy, a span attribute as text, and the
//! `traceparent` a server reads from a request.

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::Arc;

use axum::http::HeaderMap;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{TraceContextExt, Tracer};
use opentelemetry::Context;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use servicetask_core::{ContextParts, DependencyPolicy, ProcessInfo, TaskContext, Telemetry, TrackingConfig};

/// Spans kept in memory.
pub struct Otel {
    pub spans: InMemorySpanExporter,
    pub provider: SdkTracerProvider,
    pub telemetry: Arc<Telemetry>,
}

pub fn otel() -> Otel {
    let spans = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder().with_simple_exporter(spans.clone()).build();
    let meters = opentelemetry_sdk::metrics::SdkMeterProvider::builder().build();
    let telemetry = Telemetry::from_providers(&provider, &meters);
    Otel {
        spans,
        provider,
        telemetry,
    }
}

/// An execution of `task` under its own span, calling dependencies through `policy`.
pub fn context(task: &str, telemetry: &Arc<Telemetry>, policy: Arc<dyn DependencyPolicy>) -> TaskContext {
    let exec = telemetry.tracer().start(task.to_string());
    TaskContext::new(ContextParts {
        task: Arc::from(task),
        otel: Context::new().with_span(exec),
        telemetry: telemetry.clone(),
        process: ProcessInfo::default(),
        variables: serde_json::Map::new(),
        tracking: TrackingConfig::default(),
        dependencies: Some(policy),
    })
}

/// The value of attribute `key` of span `s`, as text.
pub fn attr(s: &SpanData, key: &str) -> Option<String> {
    s.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.to_string())
}

/// (trace id, parent span id) of the `traceparent` in `headers`, when there is a valid one.
pub fn traceparent(headers: &HeaderMap) -> Option<(String, String)> {
    let carrier: HashMap<String, String> = headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
        .collect();
    let sc = TraceContextPropagator::new()
        .extract(&carrier)
        .span()
        .span_context()
        .clone();
    (sc.is_valid() && sc.is_remote()).then(|| (sc.trace_id().to_string(), sc.span_id().to_string()))
}
