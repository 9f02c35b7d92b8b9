//! `/metrics`: the installed OpenTelemetry meter in the Prometheus text format, or in the
//! OpenMetrics text format with exemplars, chosen by the scrape's `Accept` header.
//!
//! The reader is `opentelemetry-prometheus` (the OpenTelemetry project's own exporter, released
//! with the SDK at 0.33), registered on the same meter provider as any OTLP exporter, so a scrape
//! and a push see the same instruments. Names follow the OpenTelemetry-to-Prometheus rules: dots
//! become underscores, the unit is appended (`servicetask.duration` in `s` is
//! `servicetask_duration_seconds`), counters end in `_total`, histograms give `_bucket`, `_sum`
//! and `_count`, and the resource is the `target_info` series.
//!
//! Two encodings of the same collection: the Prometheus text format 0.0.4 (the `prometheus`
//! crate's encoder, what `opentelemetry-prometheus` is made for) and OpenMetrics 1.0
//! ([`super::openmetrics`], written here: neither crate has an OpenMetrics encoder), which alone
//! can carry exemplars: the duration histogram's buckets link to the trace of an execution that
//! fell in them ([`super::exemplars`]). [`Prometheus::scrape`] picks by the `Accept` header as
//! Prometheus sends it (OpenMetrics first, the text format as the fallback).

use opentelemetry_prometheus::PrometheusExporter;
use prometheus::{Encoder, Registry, TextEncoder};

use super::exemplars::ExemplarStore;
use super::TelemetryError;

/// The reader to register on a meter provider (see [`Prometheus::new`]).
pub type Reader = PrometheusExporter;

/// Renders the metrics a [`Reader`] collects; cheap to clone.
#[derive(Clone, Debug)]
pub struct Prometheus {
    registry: Registry,
}

/// One answer to a scrape: its `Content-Type` and its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scrape {
    /// [`Prometheus::CONTENT_TYPE`] or [`Prometheus::OPENMETRICS_CONTENT_TYPE`].
    pub content_type: &'static str,
    /// The metrics.
    pub body: String,
}

impl Prometheus {
    /// The `Content-Type` of [`Prometheus::render`]'s text.
    pub const CONTENT_TYPE: &'static str = "text/plain; version=0.0.4; charset=utf-8";
    /// The `Content-Type` of [`Prometheus::render_openmetrics`]'s text.
    pub const OPENMETRICS_CONTENT_TYPE: &'static str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

    /// A scrape and the reader that feeds it: register the reader on the meter provider
    /// (`SdkMeterProvider::builder().with_reader(reader)`). Turns on the runner's exemplars.
    pub fn new() -> Result<(Prometheus, Reader), TelemetryError> {
        let registry = Registry::new();
        let reader = opentelemetry_prometheus::exporter()
            .with_registry(registry.clone())
            .build()
            .map_err(|e| TelemetryError::Exporter(e.to_string()))?;
        ExemplarStore::global().enable();
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

    /// The current values, collected now, as OpenMetrics text with the duration histogram's
    /// exemplars, ending in `# EOF`.
    pub fn render_openmetrics(&self) -> String {
        super::openmetrics::encode(&self.registry.gather(), ExemplarStore::global())
    }

    /// The answer to a scrape whose `Accept` header is `accept` (empty when it sent none):
    /// OpenMetrics when it asks for `application/openmetrics-text` (version 1.0.0 or 0.0.1) at
    /// least as much as for `text/plain`, else the Prometheus text format.
    pub fn scrape(&self, accept: &str) -> Scrape {
        if wants_openmetrics(accept) {
            Scrape {
                content_type: Self::OPENMETRICS_CONTENT_TYPE,
                body: self.render_openmetrics(),
            }
        } else {
            Scrape {
                content_type: Self::CONTENT_TYPE,
                body: self.render(),
            }
        }
    }
}

/// Whether an `Accept` header prefers OpenMetrics: its quality for
/// `application/openmetrics-text` (of a version this encoder writes, or none) is above 0 and
/// not below the quality of any `text/plain` range it names.
pub fn wants_openmetrics(accept: &str) -> bool {
    let (mut openmetrics, mut text) = (0.0f32, 0.0f32);
    for range in accept.split(',') {
        let mut parts = range.split(';').map(str::trim);
        let media = parts.next().unwrap_or("").to_ascii_lowercase();
        let (mut q, mut version) = (1.0f32, None);
        for p in parts {
            let Some((k, v)) = p.split_once('=') else { continue };
            match k.trim().to_ascii_lowercase().as_str() {
                "q" => q = v.trim().parse().unwrap_or(0.0),
                "version" => version = Some(v.trim().trim_matches('"').to_string()),
                _ => {}
            }
        }
        match media.as_str() {
            "application/openmetrics-text" if matches!(version.as_deref(), None | Some("1.0.0") | Some("0.0.1")) => {
                openmetrics = openmetrics.max(q)
            }
            "text/plain" => text = text.max(q),
            _ => {}
        }
    }
    openmetrics > 0.0 && openmetrics >= text
}

#[cfg(test)]
mod tests {
    use super::wants_openmetrics;

    #[test]
    fn the_accept_header_chooses_the_format() {
        // what Prometheus 2.x sends
        let prom = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert!(wants_openmetrics(prom));
        assert!(wants_openmetrics("application/openmetrics-text; version=1.0.0"));
        assert!(wants_openmetrics("application/openmetrics-text"));
        for text in [
            "",
            "*/*",
            "text/plain",
            "text/plain;version=0.0.4",
            "application/openmetrics-text;version=2.0.0",
            "application/openmetrics-text;q=0",
            "application/openmetrics-text;q=0.5, text/plain",
            "application/json",
        ] {
            assert!(!wants_openmetrics(text), "{text}");
        }
    }
}
