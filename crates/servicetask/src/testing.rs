//! Test support: real OpenTelemetry SDK providers with in-memory exporters, and helpers to read
//! what they captured. Used by servicetask's own tests and offered to users testing tasks.
//!
//! ```
//! use servicetask::testing::TestTelemetry;
//! use servicetask::{task_fn, Runner, TaskConfig, TaskContext, TaskError};
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let t = TestTelemetry::new();
//! let runner = Runner::builder().telemetry(t.telemetry()).build();
//! let h = runner.register(task_fn(TaskConfig::named("noop"), |_cx: TaskContext, _i: ()| async { Ok::<_, TaskError>(()) })).unwrap();
//! h.run(()).await;
//! assert_eq!(t.spans().len(), 1);
//! assert_eq!(t.counter_total("servicetask.executions"), 1.0);
//! # });
//! ```

use std::sync::Arc;

use opentelemetry::KeyValue;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData, ResourceMetrics};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use servicetask_core::Telemetry;

/// SDK providers exporting to memory.
pub struct TestTelemetry {
    spans: InMemorySpanExporter,
    metrics: InMemoryMetricExporter,
    /// The tracer provider (simple processor: spans are exported as they end).
    pub tracer_provider: SdkTracerProvider,
    /// The meter provider.
    pub meter_provider: SdkMeterProvider,
    telemetry: Arc<Telemetry>,
}

impl Default for TestTelemetry {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for TestTelemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestTelemetry").finish_non_exhaustive()
    }
}

/// One exported metric data point, flattened.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// Metric name.
    pub name: String,
    /// Attributes.
    pub attributes: Vec<KeyValue>,
    /// Value (sum or gauge value; histogram: sum).
    pub value: f64,
    /// Histogram count (0 for sums and gauges).
    pub count: u64,
}

impl Point {
    /// The string value of an attribute.
    pub fn attr(&self, key: &str) -> Option<String> {
        self.attributes
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| kv.value.to_string())
    }
}

impl TestTelemetry {
    /// New providers with empty exporters.
    pub fn new() -> Self {
        let spans = InMemorySpanExporter::default();
        let metrics = InMemoryMetricExporter::default();
        let tracer_provider = SdkTracerProvider::builder().with_simple_exporter(spans.clone()).build();
        let meter_provider = SdkMeterProvider::builder()
            .with_reader(PeriodicReader::builder(metrics.clone()).build())
            .build();
        let telemetry = Telemetry::from_providers(&tracer_provider, &meter_provider);
        TestTelemetry {
            spans,
            metrics,
            tracer_provider,
            meter_provider,
            telemetry,
        }
    }

    /// The telemetry to hand to a runner.
    pub fn telemetry(&self) -> Arc<Telemetry> {
        self.telemetry.clone()
    }

    /// Finished spans so far.
    pub fn spans(&self) -> Vec<SpanData> {
        self.spans.get_finished_spans().unwrap_or_default()
    }

    /// The finished span with this name (panics if there is none: for tests).
    pub fn span(&self, name: &str) -> SpanData {
        self.spans()
            .into_iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no span named {name}"))
    }

    /// Collects metrics now and returns every data point.
    pub fn points(&self) -> Vec<Point> {
        let _ = self.meter_provider.force_flush();
        let exported: Vec<ResourceMetrics> = self.metrics.get_finished_metrics().unwrap_or_default();
        // Cumulative temporality: the last export holds the totals.
        let Some(last) = exported.last() else { return Vec::new() };
        let mut out = Vec::new();
        for sm in last.scope_metrics() {
            for m in sm.metrics() {
                let name = m.name().to_string();
                let mut push = |attributes: Vec<KeyValue>, value: f64, count: u64| {
                    out.push(Point {
                        name: name.clone(),
                        attributes,
                        value,
                        count,
                    })
                };
                match m.data() {
                    AggregatedMetrics::F64(d) => flatten(d, |v| v, &mut push),
                    AggregatedMetrics::U64(d) => flatten(d, |v| v as f64, &mut push),
                    AggregatedMetrics::I64(d) => flatten(d, |v| v as f64, &mut push),
                }
            }
        }
        out
    }

    /// Sum of a counter's (or histogram's) values over all attribute sets.
    pub fn counter_total(&self, name: &str) -> f64 {
        self.points().iter().filter(|p| p.name == name).map(|p| p.value).sum()
    }

    /// The points of one metric.
    pub fn metric(&self, name: &str) -> Vec<Point> {
        self.points().into_iter().filter(|p| p.name == name).collect()
    }

    /// Every exported byte of text we can see: span names, attributes, events, status, metric
    /// names and attributes. Used to prove a value never leaks into telemetry.
    pub fn all_text(&self) -> String {
        let mut s = String::new();
        for span in self.spans() {
            s.push_str(&format!("{span:?}\n"));
        }
        for p in self.points() {
            s.push_str(&format!("{p:?}\n"));
        }
        s
    }
}

fn flatten<T: Copy>(data: &MetricData<T>, to_f64: impl Fn(T) -> f64, push: &mut impl FnMut(Vec<KeyValue>, f64, u64)) {
    match data {
        MetricData::Sum(s) => {
            for p in s.data_points() {
                push(p.attributes().cloned().collect(), to_f64(p.value()), 0);
            }
        }
        MetricData::Gauge(g) => {
            for p in g.data_points() {
                push(p.attributes().cloned().collect(), to_f64(p.value()), 0);
            }
        }
        MetricData::Histogram(h) => {
            for p in h.data_points() {
                push(p.attributes().cloned().collect(), to_f64(p.sum()), p.count());
            }
        }
        MetricData::ExponentialHistogram(h) => {
            for p in h.data_points() {
                push(p.attributes().cloned().collect(), to_f64(p.sum()), p.count() as u64);
            }
        }
    }
}
