//! Test support: SDK providers with in-memory exporters, contexts with a real span, and a
//! scripted task whose attempts the test controls.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry::trace::{TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue, Value};
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use servicetask_core::layer::{AttemptResult, BoxFuture, Invoke, Layer, Next, TaskValue};
use servicetask_core::{
    ContextParts, DependencyPolicy, ProcessInfo, TaskContext, TaskError, Telemetry, TrackingConfig,
};
use tokio::time::Instant;

/// In-memory OpenTelemetry.
pub struct Otel {
    spans: InMemorySpanExporter,
    metrics: InMemoryMetricExporter,
    pub tracer_provider: SdkTracerProvider,
    pub meter_provider: SdkMeterProvider,
    pub telemetry: Arc<Telemetry>,
}

/// A span event, flattened.
#[derive(Debug, Clone)]
pub struct Event {
    pub span: String,
    pub name: String,
    pub attrs: Vec<KeyValue>,
}

impl Event {
    pub fn attr(&self, key: &str) -> Option<String> {
        attr(&self.attrs, key)
    }
}

pub fn attr(attrs: &[KeyValue], key: &str) -> Option<String> {
    attrs
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.to_string())
}

impl Otel {
    pub fn new() -> Self {
        let spans = InMemorySpanExporter::default();
        let metrics = InMemoryMetricExporter::default();
        let tracer_provider = SdkTracerProvider::builder().with_simple_exporter(spans.clone()).build();
        let meter_provider = SdkMeterProvider::builder()
            .with_reader(PeriodicReader::builder(metrics.clone()).build())
            .build();
        let telemetry = Telemetry::from_providers(&tracer_provider, &meter_provider);
        Otel {
            spans,
            metrics,
            tracer_provider,
            meter_provider,
            telemetry,
        }
    }

    /// A context with its own span, exported when [`Otel::end`] is called. `name` is the span
    /// name; the task name is the part before any `#` (`pay#2` is an execution of `pay`).
    pub fn context(&self, name: &str, policy: Option<Arc<dyn DependencyPolicy>>) -> TaskContext {
        let task = name.split('#').next().unwrap_or(name);
        let span = self.telemetry.tracer().start(name.to_string());
        TaskContext::new(ContextParts {
            task: Arc::from(task),
            otel: Context::new().with_span(span),
            telemetry: Arc::clone(&self.telemetry),
            process: ProcessInfo::default(),
            variables: serde_json::Map::new(),
            tracking: TrackingConfig::default(),
            dependencies: policy,
        })
    }

    pub fn end(&self, cx: &TaskContext) {
        cx.span().end();
    }

    pub fn spans(&self) -> Vec<SpanData> {
        self.spans.get_finished_spans().unwrap()
    }

    /// Events of every finished span, in span order then event order.
    pub fn events(&self) -> Vec<Event> {
        self.spans()
            .into_iter()
            .flat_map(|s| {
                let span = s.name.to_string();
                s.events
                    .events
                    .into_iter()
                    .map(move |e| Event {
                        span: span.clone(),
                        name: e.name.to_string(),
                        attrs: e.attributes,
                    })
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    pub fn events_named(&self, name: &str) -> Vec<Event> {
        self.events().into_iter().filter(|e| e.name == name).collect()
    }

    /// Every data point `(metric, attributes, value)` of the last cumulative export.
    pub fn points(&self) -> Vec<(String, Vec<KeyValue>, f64)> {
        self.meter_provider.force_flush().unwrap();
        let exported = self.metrics.get_finished_metrics().unwrap();
        let Some(last) = exported.last() else { return Vec::new() };
        let mut out = Vec::new();
        for sm in last.scope_metrics() {
            for m in sm.metrics() {
                let name = m.name().to_string();
                let mut push = |a: Vec<KeyValue>, v: f64| out.push((name.clone(), a, v));
                match m.data() {
                    AggregatedMetrics::F64(d) => flatten(d, |v| v, &mut push),
                    AggregatedMetrics::U64(d) => flatten(d, |v| v as f64, &mut push),
                    AggregatedMetrics::I64(d) => flatten(d, |v| v as f64, &mut push),
                }
            }
        }
        out
    }

    /// Sum of a metric's points whose attributes include every `(key, value)` of `filter`.
    pub fn sum(&self, name: &str, filter: &[(&str, &str)]) -> f64 {
        self.points()
            .into_iter()
            .filter(|(n, a, _)| n == name && filter.iter().all(|(k, v)| attr(a, k).as_deref() == Some(*v)))
            .map(|(_, _, v)| v)
            .sum()
    }

    /// `state -> value` of the breaker-state gauge for one breaker.
    pub fn gauge_states(&self, breaker: &str) -> Vec<(String, f64)> {
        let mut v: Vec<(String, f64)> = self
            .points()
            .into_iter()
            .filter(|(n, a, _)| {
                n == "servicetask.breaker.state" && attr(a, "servicetask.breaker.name").as_deref() == Some(breaker)
            })
            .map(|(_, a, v)| (attr(&a, "servicetask.breaker.state").unwrap(), v))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }
}

fn flatten<T: Copy>(data: &MetricData<T>, f: impl Fn(T) -> f64, push: &mut impl FnMut(Vec<KeyValue>, f64)) {
    match data {
        MetricData::Sum(s) => s
            .data_points()
            .for_each(|p| push(p.attributes().cloned().collect(), f(p.value()))),
        MetricData::Gauge(g) => g
            .data_points()
            .for_each(|p| push(p.attributes().cloned().collect(), f(p.value()))),
        MetricData::Histogram(h) => h
            .data_points()
            .for_each(|p| push(p.attributes().cloned().collect(), f(p.sum()))),
        MetricData::ExponentialHistogram(h) => h
            .data_points()
            .for_each(|p| push(p.attributes().cloned().collect(), f(p.sum()))),
    }
}

/// What one scripted attempt does.
#[derive(Clone)]
pub enum Step {
    /// Succeed with this number.
    Ok(u32),
    /// Fail.
    Err(TaskError),
    /// Sleep (tokio time), then do the inner step.
    After(Duration, Box<Step>),
    /// Never finish.
    Hang,
}

/// A task that plays a script, one step per attempt (the last step repeats), and records
/// when each attempt started and whether an attempt was dropped before finishing.
pub struct Script {
    steps: Mutex<VecDeque<Step>>,
    last: Mutex<Option<Step>>,
    pub calls: AtomicU32,
    pub starts: Mutex<Vec<Instant>>,
    pub dropped: Arc<AtomicU32>,
    pub finished: AtomicBool,
}

impl Script {
    pub fn new(steps: impl IntoIterator<Item = Step>) -> Self {
        Script {
            steps: Mutex::new(steps.into_iter().collect()),
            last: Mutex::new(None),
            calls: AtomicU32::new(0),
            starts: Mutex::new(Vec::new()),
            dropped: Arc::new(AtomicU32::new(0)),
            finished: AtomicBool::new(false),
        }
    }

    pub fn calls(&self) -> u32 {
        self.calls.load(Ordering::SeqCst)
    }

    /// Start times relative to `t0`.
    pub fn offsets(&self, t0: Instant) -> Vec<Duration> {
        self.starts.lock().unwrap().iter().map(|s| *s - t0).collect()
    }

    fn next_step(&self) -> Step {
        let mut steps = self.steps.lock().unwrap();
        let mut last = self.last.lock().unwrap();
        match steps.pop_front() {
            Some(s) => {
                *last = Some(s.clone());
                s
            }
            None => last.clone().expect("script has steps"),
        }
    }
}

struct DropFlag(Arc<AtomicU32>, bool);
impl Drop for DropFlag {
    fn drop(&mut self) {
        if !self.1 {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
}

fn play(step: Step) -> BoxFuture<'static, AttemptResult> {
    Box::pin(async move {
        match step {
            Step::Ok(n) => Ok(Box::new(n) as TaskValue),
            Step::Err(e) => Err(e),
            Step::After(d, inner) => {
                tokio::time::sleep(d).await;
                play(*inner).await
            }
            Step::Hang => std::future::pending().await,
        }
    })
}

impl Invoke for Script {
    fn invoke<'a>(&'a self, _cx: &'a TaskContext) -> BoxFuture<'a, AttemptResult> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.starts.lock().unwrap().push(Instant::now());
        let step = self.next_step();
        let flag = self.dropped.clone();
        Box::pin(async move {
            let mut guard = DropFlag(flag, false);
            let r = play(step).await;
            guard.1 = true;
            r
        })
    }
}

/// Runs `layers` around `task` once.
pub async fn run(layers: &[Arc<dyn Layer>], task: &dyn Invoke, cx: &TaskContext) -> AttemptResult {
    Next::new(layers, task).run(cx).await
}

pub fn value(r: AttemptResult) -> u32 {
    *r.expect("success").downcast::<u32>().expect("a u32")
}

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

pub fn int(v: &Option<String>) -> i64 {
    v.as_deref().expect("attribute present").parse().expect("an integer")
}

/// Keeps `Value` imported for users of `attr` on non-string values.
pub fn string_value(v: &Value) -> String {
    v.to_string()
}
