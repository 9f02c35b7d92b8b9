//! One-call telemetry setup from the standard OpenTelemetry environment variables, and W3C
//! trace-context propagation.
//!
//! [`init`] installs global tracer and meter providers and returns a [`TelemetryGuard`] that
//! flushes and shuts them down when dropped:
//!
//! | environment | what is installed |
//! |---|---|
//! | `OTEL_SDK_DISABLED=true` | nothing (no-op providers) |
//! | `OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` set | OTLP: a batch span processor and a periodic metric reader, over the transport `OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL` names (`http/protobuf` by default, `http/json`, or `grpc` with the `otlp-grpc` feature; another value is an error); an unreachable endpoint is said once on stderr |
//! | `OTEL_TRACES_EXPORTER=console` (and no endpoint) | a readable one-line-per-span printer on stderr |
//! | otherwise | providers without exporters: spans are created (so trace ids exist) but not exported |
//!
//! `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER(_ARG)`,
//! `OTEL_EXPORTER_OTLP_TIMEOUT`, `OTEL_BSP_*` and `OTEL_METRIC_EXPORT_INTERVAL` are honoured by
//! the SDK as usual.
//!
//! **Never blocking the task; losses admitted.** Spans go through the SDK's batch processor:
//! a bounded queue that a background thread drains into the exporter. Its sizes come from the
//! standard variables, checked (a bad value is an error naming the variable):
//! `OTEL_BSP_MAX_QUEUE_SIZE` (default 2048 spans), `OTEL_BSP_MAX_EXPORT_BATCH_SIZE` (512),
//! `OTEL_BSP_SCHEDULE_DELAY` (5000 ms); the OTLP exporter's own timeout is
//! `OTEL_EXPORTER_OTLP_TIMEOUT`.
//!
//! *Under overload* (spans end faster than the backend takes them, or the backend is down) the
//! queue fills and each further span is dropped at once: a task never waits for telemetry and
//! memory stays bounded by the queue. The drops are not silent: the first one seen prints one
//! line on stderr, shutdown prints the exact total lost (`ended - exported`: queue full, failed
//! exports, spans still queued when the shutdown timeout ran out), and the observable counter
//! `servicetask.telemetry.spans.dropped` carries the count (a lower bound while running, the
//! exact total in the final export). [`TelemetryGuard::span_losses`] gives the figures to code.
//! The meter provider is installed before the batch processor is built, so the SDK's own
//! `otel.sdk.processor.span.processed{error.type=queue_full}` counter works too. Export
//! happens off the task's thread, bounded by the export timeout.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let guard = servicetask::telemetry::init()?;
//! let runner = servicetask::Runner::builder().telemetry(guard.telemetry()).build();
//! # let _ = runner;
//! // ... run tasks; dropping `guard` flushes
//! # Ok(()) }
//! ```

mod console;
pub mod exemplars;
mod losses;
mod openmetrics;
#[cfg(feature = "otlp")]
mod otlp;
pub mod prometheus;
pub mod propagation;

use std::sync::Arc;
use std::time::Duration;

use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use servicetask_core::Telemetry;

pub use console::ConsoleSpanExporter;
pub use losses::{counted_batch_processor, BatchSizes, SpanLosses};
#[cfg(feature = "otlp")]
pub use otlp::OtlpProtocol;
pub use propagation::{extract_traceparent, inject_traceparent, TRACEPARENT};

/// Where spans go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportTarget {
    /// No export at all (no-op providers).
    Disabled,
    /// Providers without exporters.
    None,
    /// Readable lines on stderr.
    Console,
    /// OTLP over HTTP/protobuf to the endpoint from the environment.
    Otlp,
}

impl ExportTarget {
    /// Chooses the target from the standard environment variables.
    pub fn from_env() -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        if var("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
            return ExportTarget::Disabled;
        }
        if var("OTEL_EXPORTER_OTLP_ENDPOINT").is_some() || var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").is_some() {
            return ExportTarget::Otlp;
        }
        match var("OTEL_TRACES_EXPORTER").as_deref() {
            Some("console") | Some("stdout") => ExportTarget::Console,
            _ => ExportTarget::None,
        }
    }
}

/// An error setting telemetry up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TelemetryError {
    /// The OTLP exporter could not be built.
    #[error("cannot build the OTLP exporter: {0}")]
    Exporter(String),
    /// An `OTEL_BSP_*` variable is not a positive integer.
    #[error("bad telemetry setting: {0}")]
    Setting(String),
    /// OTLP was asked for but this build has no `otlp` feature.
    #[error("OTEL_EXPORTER_OTLP_ENDPOINT is set but servicetask was built without the `otlp` feature")]
    NoOtlpSupport,
}

/// Owns the installed providers; flushes and shuts them down on drop.
pub struct TelemetryGuard {
    tracer_provider: Option<SdkTracerProvider>,
    meter_provider: Option<SdkMeterProvider>,
    telemetry: Arc<Telemetry>,
    target: ExportTarget,
    losses: Option<Arc<SpanLosses>>,
    prometheus: Option<prometheus::Prometheus>,
}

impl std::fmt::Debug for TelemetryGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelemetryGuard")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

impl TelemetryGuard {
    /// The telemetry to hand to a [`crate::Runner`].
    pub fn telemetry(&self) -> Arc<Telemetry> {
        self.telemetry.clone()
    }

    /// What was installed.
    pub fn target(&self) -> &ExportTarget {
        &self.target
    }

    /// The batch processor's span counts (OTLP export only; see "losses admitted" above).
    pub fn span_losses(&self) -> Option<&Arc<SpanLosses>> {
        self.losses.as_ref()
    }

    /// The `/metrics` text of the installed meter, when set up by [`init_with_prometheus`].
    pub fn prometheus(&self) -> Option<prometheus::Prometheus> {
        self.prometheus.clone()
    }

    /// Flushes pending spans and metrics now (bounded by the export timeout).
    pub fn flush(&self) {
        if let Some(tp) = &self.tracer_provider {
            let _ = tp.force_flush();
        }
        if let Some(mp) = &self.meter_provider {
            let _ = mp.force_flush();
        }
    }

    /// Flushes and shuts down, waiting at most `timeout` for each provider.
    pub fn shutdown(mut self, timeout: Duration) {
        self.shutdown_inner(timeout);
    }

    fn shutdown_inner(&mut self, timeout: Duration) {
        if let Some(tp) = self.tracer_provider.take() {
            let _ = tp.shutdown_with_timeout(timeout);
        }
        if let Some(mp) = self.meter_provider.take() {
            let _ = mp.shutdown_with_timeout(timeout);
        }
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        self.shutdown_inner(Duration::from_secs(5));
    }
}

fn resource() -> Resource {
    Resource::builder().build()
}

/// Installs global providers as the environment says (see the module docs).
pub fn init() -> Result<TelemetryGuard, TelemetryError> {
    init_with(ExportTarget::from_env())
}

/// Installs global providers for an explicit target.
pub fn init_with(target: ExportTarget) -> Result<TelemetryGuard, TelemetryError> {
    install::<ConsoleSpanExporter>(target, None, None)
}

/// Like [`init`], and the same meter provider also feeds a Prometheus scrape:
/// [`TelemetryGuard::prometheus`] renders it for a `/metrics` endpoint (`OTEL_SDK_DISABLED=true`
/// installs nothing, as with [`init`]: the scrape answers with no series).
pub fn init_with_prometheus() -> Result<TelemetryGuard, TelemetryError> {
    let (scrape, reader) = prometheus::Prometheus::new()?;
    let mut guard = install::<ConsoleSpanExporter>(ExportTarget::from_env(), None, Some(reader))?;
    guard.prometheus = Some(scrape);
    Ok(guard)
}

/// Like [`init`], and also hands every finished span to `exporter` (synchronously, so keep it
/// cheap: an in-memory exporter that a CLI reads to print a summary, for example).
pub fn init_with_exporter<E>(exporter: E) -> Result<TelemetryGuard, TelemetryError>
where
    E: opentelemetry_sdk::trace::SpanExporter + 'static,
{
    install(ExportTarget::from_env(), Some(exporter), None)
}

fn install<E>(
    target: ExportTarget,
    extra: Option<E>,
    scrape: Option<prometheus::Reader>,
) -> Result<TelemetryGuard, TelemetryError>
where
    E: opentelemetry_sdk::trace::SpanExporter + 'static,
{
    let target = match (&target, &extra) {
        (ExportTarget::Disabled, Some(_)) => ExportTarget::None,
        _ => target,
    };
    let add = |b: opentelemetry_sdk::trace::TracerProviderBuilder| match extra {
        Some(e) => b.with_simple_exporter(e),
        None => b,
    };
    let mut losses = None;
    let (tp, mp) = match &target {
        ExportTarget::Disabled => {
            return Ok(TelemetryGuard {
                tracer_provider: None,
                meter_provider: None,
                telemetry: Telemetry::disabled(),
                target,
                losses: None,
                prometheus: None,
            })
        }
        ExportTarget::None => (
            add(SdkTracerProvider::builder().with_resource(resource())).build(),
            meter_builder(scrape).build(),
        ),
        ExportTarget::Console => (
            add(SdkTracerProvider::builder()
                .with_resource(resource())
                .with_simple_exporter(ConsoleSpanExporter))
            .build(),
            meter_builder(scrape).build(),
        ),
        ExportTarget::Otlp => {
            let (tb, mp, counted) = otlp_providers(meter_builder(scrape))?;
            losses = Some(counted);
            (add(tb).build(), mp)
        }
    };
    opentelemetry::global::set_tracer_provider(tp.clone());
    opentelemetry::global::set_meter_provider(mp.clone());
    let telemetry = Telemetry::from_providers(&tp, &mp);
    Ok(TelemetryGuard {
        tracer_provider: Some(tp),
        meter_provider: Some(mp),
        telemetry,
        target,
        losses,
        prometheus: None,
    })
}

/// A meter provider builder with this process's resource and, when asked, the Prometheus reader.
fn meter_builder(scrape: Option<prometheus::Reader>) -> opentelemetry_sdk::metrics::MeterProviderBuilder {
    let builder = SdkMeterProvider::builder().with_resource(resource());
    match scrape {
        Some(reader) => builder.with_reader(reader),
        None => builder,
    }
}

/// The OTLP providers. The meter provider is built and installed first: the SDK's batch
/// processor takes its own drop counter from the global meter provider when it is built.
/// The OTLP tracer provider (to finish), the meter provider, and the span losses.
type OtlpProviders = (
    opentelemetry_sdk::trace::TracerProviderBuilder,
    SdkMeterProvider,
    Arc<SpanLosses>,
);

#[cfg(feature = "otlp")]
fn otlp_providers(meters: opentelemetry_sdk::metrics::MeterProviderBuilder) -> Result<OtlpProviders, TelemetryError> {
    use opentelemetry::metrics::MeterProvider as _;
    let sizes = BatchSizes::from_vars(|k| std::env::var(k).ok()).map_err(TelemetryError::Setting)?;
    let metrics = otlp::metric_exporter()?;
    let mp = meters.with_periodic_exporter(metrics).build();
    opentelemetry::global::set_meter_provider(mp.clone());
    let spans = otlp::span_exporter()?;
    let (processor, losses) = counted_batch_processor(spans, sizes);
    let counted = losses.clone();
    // (observable: read at each collection, the final one after the tracer provider's shutdown)
    let _dropped = mp
        .meter("servicetask")
        .u64_observable_counter(servicetask_core::semconv::metric::SPANS_DROPPED)
        .with_unit("{span}")
        .with_description("Spans ended but never exported: export queue full, export failed, or queued at shutdown")
        .with_callback(move |o| o.observe(counted.dropped(), &[]))
        .build();
    let tp = SdkTracerProvider::builder()
        .with_resource(resource())
        .with_span_processor(processor);
    Ok((tp, mp, losses))
}

#[cfg(not(feature = "otlp"))]
fn otlp_providers(_: opentelemetry_sdk::metrics::MeterProviderBuilder) -> Result<OtlpProviders, TelemetryError> {
    Err(TelemetryError::NoOtlpSupport)
}
