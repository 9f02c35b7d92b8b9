//! `/metrics`: the installed OpenTelemetry meter in the Prometheus text exposition format.
//!
//! The reader is `opentelemetry-prometheus` (the OpenTelemetry project's own exporter, released
//! with the SDK at 0.33), registered on the same meter provider as any OTLP exporter, so a scrape
//! and a push see the same instruments. Names follow the OpenTelemetry-to-Prometheus rules: dots
//! become underscores, the unit is appended (`servicetask.duration` in `s` is
//! `servicetask_duration_seconds`), counters end in `_total`, histograms give `_bucket`, `_sum`
//! and `_count`, and the resource is the `target_info` series. The text is format 0.0.4, which
//! every Prometheus reads; OpenMetrics (and so exemplars) is not offered, as the `prometheus`
//! crate that encodes it has no OpenMetrics encoder.

use opentelemetry_prometheus::PrometheusExporter;
use prometheus::{Encoder, Registry, TextEncoder};

use super::TelemetryError;

/// The reader to register on a meter provider (see [`Prometheus::new`]).
pub type Reader = PrometheusExporter;

/// Renders the metrics a [`Reader`] collects; cheap to clone.
#[derive(Clone, Debug)]
pub struct Prometheus {
    registry: Registry,
}

impl Prometheus {
    /// The `Content-Type` of [`Prometheus::render`]'s text.
    pub const CONTENT_TYPE: &'static str = "text/plain; version=0.0.4; charset=utf-8";

    /// A scrape and the reader that feeds it: register the reader on the meter provider
    /// (`SdkMeterProvider::builder().with_reader(reader)`).
    pub fn new() -> Result<(Prometheus, Reader), TelemetryError> {
        let registry = Registry::new();
        let reader = opentelemetry_prometheus::exporter()
            .with_registry(registry.clone())
            .build()
            .map_err(|e| TelemetryError::Exporter(e.to_string()))?;
        Ok((Prometheus { registry }, reader))
    }

    /// The current values, collected now, as Prometheus text.
    pub fn render(&self) -> String {
        let mut text = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut text) {
            // one family that cannot be encoded must not hide the others: say it in the scrape
            return format!("# servicetask: cannot encode the metrics: {e}\n");
        }
        String::from_utf8_lossy(&text).into_owned()
    }
}
