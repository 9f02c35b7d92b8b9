//! The OTLP exporters, with the transport the OpenTelemetry conventions ask for:
//! `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL` (or `..._METRICS_PROTOCOL`), else
//! `OTEL_EXPORTER_OTLP_PROTOCOL`, else `http/protobuf`. `grpc` needs the `otlp-grpc` feature
//! (tonic; the CLI enables it), `http/json` and `http/protobuf` come with `otlp`; any other
//! value is an error naming the variable.
//!
//! A backend that cannot be reached is said once on stderr, at the first failed export, never
//! per span; exports run on the batch processor's thread and never block a task. The gRPC
//! channel runs on a small runtime of its own, so it works whether or not the caller has one.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use opentelemetry_sdk::Resource;

use super::TelemetryError;

/// An OTLP transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtlpProtocol {
    /// gRPC (default port 4317).
    Grpc,
    /// HTTP with protobuf bodies (default port 4318; the default protocol).
    HttpProtobuf,
    /// HTTP with JSON bodies.
    HttpJson,
}

impl OtlpProtocol {
    /// The protocol for `signal` (`TRACES` or `METRICS`), from the variables `var` reads.
    pub fn from_vars(signal: &str, var: impl Fn(&str) -> Option<String>) -> Result<Self, TelemetryError> {
        let specific = format!("OTEL_EXPORTER_OTLP_{signal}_PROTOCOL");
        let (name, value) = match var(&specific).filter(|v| !v.trim().is_empty()) {
            Some(v) => (specific, v),
            None => match var("OTEL_EXPORTER_OTLP_PROTOCOL").filter(|v| !v.trim().is_empty()) {
                Some(v) => ("OTEL_EXPORTER_OTLP_PROTOCOL".to_string(), v),
                None => return Ok(OtlpProtocol::HttpProtobuf),
            },
        };
        match value.trim() {
            "grpc" => Ok(OtlpProtocol::Grpc),
            "http/protobuf" => Ok(OtlpProtocol::HttpProtobuf),
            "http/json" => Ok(OtlpProtocol::HttpJson),
            other => Err(TelemetryError::Setting(format!(
                "{name}={other}: use grpc, http/protobuf or http/json"
            ))),
        }
    }

    fn name(self) -> &'static str {
        match self {
            OtlpProtocol::Grpc => "grpc",
            OtlpProtocol::HttpProtobuf => "http/protobuf",
            OtlpProtocol::HttpJson => "http/json",
        }
    }
}

fn env(k: &str) -> Option<String> {
    std::env::var(k).ok()
}

#[cfg(feature = "otlp-grpc")]
fn grpc_runtime() -> Result<&'static tokio::runtime::Runtime, TelemetryError> {
    static RT: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    if let Some(rt) = RT.get() {
        return Ok(rt);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("servicetask-otlp-grpc")
        .enable_all()
        .build()
        .map_err(|e| TelemetryError::Exporter(format!("cannot start the gRPC exporter's runtime: {e}")))?;
    Ok(RT.get_or_init(|| rt))
}

/// Builds an exporter for `protocol` from a signal's builder (spans or metrics).
macro_rules! build_for {
    ($builder:expr, $protocol:expr) => {{
        use opentelemetry_otlp::WithExportConfig as _;
        let built = match $protocol {
            OtlpProtocol::HttpProtobuf => $builder
                .with_http()
                .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
                .build(),
            OtlpProtocol::HttpJson => $builder
                .with_http()
                .with_protocol(opentelemetry_otlp::Protocol::HttpJson)
                .build(),
            #[cfg(feature = "otlp-grpc")]
            OtlpProtocol::Grpc => {
                let _entered = grpc_runtime()?.enter();
                $builder.with_tonic().build()
            }
            #[cfg(not(feature = "otlp-grpc"))]
            OtlpProtocol::Grpc => {
                return Err(TelemetryError::Setting(
                    "OTLP over gRPC was asked for (OTEL_EXPORTER_OTLP_PROTOCOL=grpc) but servicetask was built without the `otlp-grpc` feature; use http/protobuf or enable the feature".into(),
                ))
            }
        };
        built.map_err(|e| TelemetryError::Exporter(e.to_string()))
    }};
}

/// The span exporter the environment asks for, saying its first failure once on stderr.
pub(crate) fn span_exporter() -> Result<ReportFirstFailure<opentelemetry_otlp::SpanExporter>, TelemetryError> {
    let protocol = OtlpProtocol::from_vars("TRACES", env)?;
    let exporter = build_for!(opentelemetry_otlp::SpanExporter::builder(), protocol)?;
    let endpoint = env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        .or_else(|| env("OTEL_EXPORTER_OTLP_ENDPOINT"))
        .unwrap_or_else(|| "the default endpoint".into());
    Ok(ReportFirstFailure {
        inner: exporter,
        target: format!("{endpoint} ({})", protocol.name()),
        reported: AtomicBool::new(false),
    })
}

/// The metric exporter the environment asks for.
pub(crate) fn metric_exporter() -> Result<opentelemetry_otlp::MetricExporter, TelemetryError> {
    let protocol = OtlpProtocol::from_vars("METRICS", env)?;
    build_for!(opentelemetry_otlp::MetricExporter::builder(), protocol)
}

/// A span exporter that says its first failed export on stderr, and no later one.
#[derive(Debug)]
pub(crate) struct ReportFirstFailure<E> {
    inner: E,
    target: String,
    reported: AtomicBool,
}

impl<E: SpanExporter> SpanExporter for ReportFirstFailure<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let result = self.inner.export(batch).await;
        if let Err(e) = &result {
            if !self.reported.swap(true, Ordering::Relaxed) {
                eprintln!(
                    "servicetask: cannot export spans to {}: {e}; tasks go on, and further failures are not printed (the spans lost are counted at shutdown)",
                    self.target
                );
            }
        }
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
    }

    #[test]
    fn the_signal_variable_wins_and_unknown_values_are_errors() {
        assert_eq!(
            OtlpProtocol::from_vars("TRACES", vars(&[])).unwrap(),
            OtlpProtocol::HttpProtobuf
        );
        let both = [
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc"),
        ];
        assert_eq!(
            OtlpProtocol::from_vars("TRACES", vars(&both)).unwrap(),
            OtlpProtocol::Grpc
        );
        assert_eq!(
            OtlpProtocol::from_vars("METRICS", vars(&both)).unwrap(),
            OtlpProtocol::HttpJson
        );
        let err = OtlpProtocol::from_vars("TRACES", vars(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "thrift")]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("OTEL_EXPORTER_OTLP_PROTOCOL=thrift") && err.contains("grpc"),
            "{err}"
        );
    }
}
