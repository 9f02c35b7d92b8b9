//! A readable span printer: one line per finished span on stderr.
//!
//! `task file_processing 12.3ms ok trace=4bf9… servicetask.attempts=2`

use std::fmt::Write as _;
use std::io::Write as _;

use opentelemetry::trace::Status;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

/// Prints each finished span as one line on stderr.
#[derive(Debug, Default)]
pub struct ConsoleSpanExporter;

/// Formats one span as a line.
pub fn format_span(span: &SpanData) -> String {
    let ms = span
        .end_time
        .duration_since(span.start_time)
        .map(|d| d.as_secs_f64() * 1e3)
        .unwrap_or(0.0);
    let status = match &span.status {
        Status::Error { description } => format!("error({description})"),
        Status::Ok => "ok".into(),
        Status::Unset => "unset".into(),
    };
    let mut line = format!(
        "span {} {:.3}ms {} trace={} span={}",
        span.name,
        ms,
        status,
        span.span_context.trace_id(),
        span.span_context.span_id()
    );
    for kv in &span.attributes {
        let _ = write!(line, " {}={}", kv.key, kv.value);
    }
    for ev in &span.events.events {
        let _ = write!(line, " [event {}]", ev.name);
    }
    line
}

impl SpanExporter for ConsoleSpanExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let mut out = std::io::stderr().lock();
        for span in &batch {
            let _ = writeln!(out, "{}", format_span(span));
        }
        Ok(())
    }
}
