//! Telemetry for a CLI run: installs the providers the environment asks for and keeps every
//! finished span in memory, so the command can print the span tree when the run ends.

use std::sync::Arc;

use anyhow::Context as _;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SpanData};
use servicetask::telemetry::TelemetryGuard;
use servicetask::Telemetry;

/// Installed telemetry plus the captured spans.
pub struct Capture {
    guard: TelemetryGuard,
    spans: InMemorySpanExporter,
}

impl Capture {
    /// Installs telemetry from the environment, capturing spans.
    pub fn install() -> anyhow::Result<Capture> {
        let spans = InMemorySpanExporter::default();
        let guard = servicetask::telemetry::init_with_exporter(spans.clone())
            .context("setting up telemetry from the OTEL_* environment variables")?;
        Ok(Capture { guard, spans })
    }

    /// The telemetry for the runner.
    pub fn telemetry(&self) -> Arc<Telemetry> {
        self.guard.telemetry()
    }

    /// Spans finished so far.
    pub fn spans(&self) -> Vec<SpanData> {
        self.spans.get_finished_spans().unwrap_or_default()
    }

    /// Flushes exporters (OTLP) before the process exits.
    pub fn finish(self) {
        self.guard.shutdown(std::time::Duration::from_secs(5));
    }
}
