//! Shared test support: telemetry captured in memory, contexts with a real span, and a tiny
//! pipeline runner around the tracking layer.
#![allow(dead_code)]

use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use opentelemetry::trace::{TraceContextExt as _, Tracer as _};
use opentelemetry::{Context, KeyValue, Value};
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use servicetask_core::layer::{AttemptResult, BoxFuture, Invoke, Layer, Next, TaskValue};
use servicetask_core::{ContextParts, ProcessInfo, TaskContext, TaskError, Telemetry, TrackingConfig};
use servicetask_tracking::TrackingLayer;

/// In-memory telemetry.
pub struct Harness {
    pub exporter: InMemorySpanExporter,
    pub provider: SdkTracerProvider,
    pub metrics: InMemoryMetricExporter,
    pub meter_provider: SdkMeterProvider,
    pub telemetry: Arc<Telemetry>,
}

impl Harness {
    pub fn new() -> Self {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        let metrics = InMemoryMetricExporter::default();
        let meter_provider = SdkMeterProvider::builder()
            .with_reader(PeriodicReader::builder(metrics.clone()).build())
            .build();
        let telemetry = Telemetry::from_providers(&provider, &meter_provider);
        Harness {
            exporter,
            provider,
            metrics,
            meter_provider,
            telemetry,
        }
    }

    /// A context whose execution span is a real, recording span named after the task.
    pub fn context(&self, task: &str, tracking: TrackingConfig) -> TaskContext {
        let span = self.telemetry.tracer().start(task.to_string());
        TaskContext::new(ContextParts {
            task: Arc::from(task),
            otel: Context::new().with_span(span),
            telemetry: self.telemetry.clone(),
            process: ProcessInfo::default(),
            variables: serde_json::Map::new(),
            tracking,
            dependencies: None,
        })
    }

    /// Ends the execution span and returns every finished span.
    pub fn end(&self, cx: &TaskContext) -> Vec<SpanData> {
        cx.span().end();
        self.exporter.get_finished_spans().unwrap()
    }

    /// Flushes the metrics and returns, for the metric `name`, each data point as (attributes,
    /// value): the sum of a counter, the maximum of a histogram.
    pub fn metric(&self, name: &str) -> Vec<(Vec<KeyValue>, f64)> {
        self.meter_provider.force_flush().unwrap();
        let mut out = Vec::new();
        let all = self.metrics.get_finished_metrics().unwrap();
        let Some(rm) = all.last() else { return out };
        for sm in rm.scope_metrics() {
            for m in sm.metrics().filter(|m| m.name() == name) {
                match m.data() {
                    AggregatedMetrics::F64(MetricData::Sum(s)) => {
                        out.extend(s.data_points().map(|p| (p.attributes().cloned().collect(), p.value())))
                    }
                    AggregatedMetrics::U64(MetricData::Sum(s)) => out.extend(
                        s.data_points()
                            .map(|p| (p.attributes().cloned().collect(), p.value() as f64)),
                    ),
                    AggregatedMetrics::U64(MetricData::Histogram(h)) => out.extend(
                        h.data_points()
                            .map(|p| (p.attributes().cloned().collect(), p.max().unwrap_or_default() as f64)),
                    ),
                    other => panic!("unexpected metric data {other:?}"),
                }
            }
        }
        out
    }

    /// Ends the execution span and returns it.
    pub fn end_span(&self, cx: &TaskContext) -> SpanData {
        let name = cx.task_name().to_string();
        self.end(cx)
            .into_iter()
            .find(|s| s.name == name)
            .expect("the task span")
    }
}

/// A task body given as a closure over an owned context.
pub struct FnInvoke<F>(pub F);

impl<F, Fut> Invoke for FnInvoke<F>
where
    F: Fn(TaskContext) -> Fut + Send + Sync,
    Fut: Future<Output = Result<(), TaskError>> + Send + 'static,
{
    fn invoke<'a>(&'a self, cx: &'a TaskContext) -> BoxFuture<'a, AttemptResult> {
        let fut = (self.0)(cx.clone());
        Box::pin(async move { fut.await.map(|()| Box::new(()) as TaskValue) })
    }
}

/// Runs `body` once through a pipeline made of `layer` alone.
pub async fn run<F, Fut>(layer: &Arc<TrackingLayer>, cx: &TaskContext, body: F) -> Result<(), TaskError>
where
    F: Fn(TaskContext) -> Fut + Send + Sync,
    Fut: Future<Output = Result<(), TaskError>> + Send + 'static,
{
    let layers: Vec<Arc<dyn Layer>> = vec![layer.clone() as Arc<dyn Layer>];
    let inner = FnInvoke(body);
    Next::new(&layers, &inner).run(cx).await.map(|_| ())
}

/// The attribute `key` of an attribute list.
pub fn attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a Value> {
    attrs.iter().find(|kv| kv.key.as_str() == key).map(|kv| &kv.value)
}

/// Events named `name` on a span.
pub fn events<'a>(span: &'a SpanData, name: &str) -> Vec<&'a opentelemetry::trace::Event> {
    span.events.iter().filter(|e| e.name == name).collect()
}

pub fn load(a: &std::sync::atomic::AtomicU64) -> u64 {
    a.load(Ordering::Relaxed)
}

/// A fresh directory under the system temp dir.
pub fn temp_dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("st-tracking-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// CPU time of the calling thread, nanoseconds.
pub fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: valid out-pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Burns about `ns` of this thread's CPU and returns what it really burned (thread CPU clock).
pub fn burn(ns: u64) -> u64 {
    let start = thread_cpu_ns();
    let mut x = 0u64;
    loop {
        for i in 0..10_000u64 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(i);
        }
        std::hint::black_box(x);
        let now = thread_cpu_ns();
        if now - start >= ns {
            return now - start;
        }
    }
}
