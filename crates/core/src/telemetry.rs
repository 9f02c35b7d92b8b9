//! The tracer, meter and standard instruments shared by every execution.
//!
//! A [`Telemetry`] is built once (from the global providers, from given providers, or
//! disabled) and shared by `Arc`. Layers and the runner record through its public instruments;
//! task code records custom metrics through `cx.metrics()`.
//!
//! ```
//! use servicetask_core::Telemetry;
//! let t = Telemetry::disabled();
//! t.instruments().executions.add(1, &[]);
//! ```

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use opentelemetry::global::BoxedTracer;
use opentelemetry::metrics::{Counter, Gauge, Histogram, Meter, MeterProvider, UpDownCounter};
use opentelemetry::trace::TracerProvider;
use opentelemetry::KeyValue;

use crate::semconv::metric;

/// Instrumentation scope name used for spans and metrics.
pub const SCOPE: &str = "servicetask";

/// The bucket boundaries of the execution duration histogram, seconds (also where the
/// Prometheus scrape's exemplars are kept per bucket).
pub const DURATION_BOUNDARIES: &[f64] = &[
    0.000_01, 0.000_05, 0.000_1, 0.000_5, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0, 300.0,
];

/// The standard instruments (names in [`crate::semconv::metric`]).
#[derive(Debug, Clone)]
pub struct Instruments {
    /// Execution duration, seconds.
    pub duration: Histogram<f64>,
    /// Executions by outcome.
    pub executions: Counter<u64>,
    /// Executions in flight.
    pub in_flight: UpDownCounter<i64>,
    /// Retries made.
    pub retries: Counter<u64>,
    /// Rejections by reason.
    pub rejections: Counter<u64>,
    /// Attempt timeouts.
    pub timeouts: Counter<u64>,
    /// Fallback answers.
    pub fallbacks: Counter<u64>,
    /// Breaker state (one series per state).
    pub breaker_state: Gauge<i64>,
    /// Breaker transitions.
    pub breaker_transitions: Counter<u64>,
    /// File bytes by direction.
    pub file_io: Counter<u64>,
    /// CPU seconds.
    pub cpu_time: Counter<f64>,
    /// Peak memory bytes.
    pub memory_peak: Histogram<u64>,
    /// Dependency calls.
    pub dependency_calls: Counter<u64>,
    /// Dependency call duration, seconds.
    pub dependency_duration: Histogram<f64>,
    /// Anomalous executions.
    pub anomalies: Counter<u64>,
    /// History records dropped.
    pub records_dropped: Counter<u64>,
}

impl Instruments {
    fn new(meter: &Meter) -> Self {
        Instruments {
            duration: meter
                .f64_histogram(metric::DURATION)
                .with_unit("s")
                .with_description("Duration of task executions, retries included")
                .with_boundaries(DURATION_BOUNDARIES.to_vec())
                .build(),
            executions: meter
                .u64_counter(metric::EXECUTIONS)
                .with_unit("{execution}")
                .with_description("Task executions by outcome")
                .build(),
            in_flight: meter
                .i64_up_down_counter(metric::IN_FLIGHT)
                .with_unit("{execution}")
                .with_description("Task executions in flight")
                .build(),
            retries: meter
                .u64_counter(metric::RETRIES)
                .with_unit("{retry}")
                .with_description("Retries of task attempts")
                .build(),
            rejections: meter
                .u64_counter(metric::REJECTIONS)
                .with_unit("{call}")
                .with_description("Calls rejected without running, by reason")
                .build(),
            timeouts: meter
                .u64_counter(metric::TIMEOUTS)
                .with_unit("{attempt}")
                .with_description("Attempts that timed out")
                .build(),
            fallbacks: meter
                .u64_counter(metric::FALLBACKS)
                .with_unit("{execution}")
                .with_description("Executions answered by a fallback")
                .build(),
            breaker_state: meter
                .i64_gauge(metric::BREAKER_STATE)
                .with_unit("1")
                .with_description("Circuit breaker state: 1 for the current state, 0 for the others")
                .build(),
            breaker_transitions: meter
                .u64_counter(metric::BREAKER_TRANSITIONS)
                .with_unit("{transition}")
                .with_description("Circuit breaker state transitions")
                .build(),
            file_io: meter
                .u64_counter(metric::FILE_IO)
                .with_unit("By")
                .with_description("Bytes read and written through tracked file I/O")
                .build(),
            cpu_time: meter
                .f64_counter(metric::CPU_TIME)
                .with_unit("s")
                .with_description("CPU time of task executions")
                .build(),
            memory_peak: meter
                .u64_histogram(metric::MEMORY_PEAK)
                .with_unit("By")
                .with_description("Peak memory of task executions")
                .build(),
            dependency_calls: meter
                .u64_counter(metric::DEPENDENCY_CALLS)
                .with_unit("{call}")
                .with_description("Calls to external dependencies")
                .build(),
            dependency_duration: meter
                .f64_histogram(metric::DEPENDENCY_DURATION)
                .with_unit("s")
                .with_description("Duration of calls to external dependencies")
                .build(),
            anomalies: meter
                .u64_counter(metric::ANOMALIES)
                .with_unit("{execution}")
                .with_description("Executions judged anomalous")
                .build(),
            records_dropped: meter
                .u64_counter(metric::RECORDS_DROPPED)
                .with_unit("{record}")
                .with_description("History records dropped because the queue was full")
                .build(),
        }
    }
}

/// Tracer, meter and instruments: built once, shared by `Arc`.
pub struct Telemetry {
    tracer: BoxedTracer,
    /// False for [`Telemetry::disabled`]: executions then build no span at all.
    traces: bool,
    /// False for [`Telemetry::disabled`]: executions then read no clock for metrics.
    metrics: bool,
    meter: Meter,
    instruments: Instruments,
    custom: Mutex<HashMap<String, CustomInstrument>>,
}

#[derive(Clone)]
enum CustomInstrument {
    Counter(Counter<u64>),
    Histogram(Histogram<f64>),
    Gauge(Gauge<f64>),
}

impl std::fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Telemetry").finish_non_exhaustive()
    }
}

impl Telemetry {
    /// Uses the globally installed tracer and meter providers.
    pub fn global() -> Arc<Self> {
        Self::from_parts(
            opentelemetry::global::tracer(SCOPE),
            opentelemetry::global::meter(SCOPE),
        )
    }

    /// Uses the given providers (for example the SDK's, or in-memory ones in tests).
    pub fn from_providers<T, M>(tracer_provider: &T, meter_provider: &M) -> Arc<Self>
    where
        T: TracerProvider,
        T::Tracer: Send + Sync + 'static,
        <T::Tracer as opentelemetry::trace::Tracer>::Span: Send + Sync + 'static,
        M: MeterProvider,
    {
        let tracer = BoxedTracer::new(Box::new(tracer_provider.tracer(SCOPE)));
        Self::from_parts(tracer, meter_provider.meter(SCOPE))
    }

    /// Telemetry that records nothing.
    pub fn disabled() -> Arc<Self> {
        let tp = opentelemetry::trace::noop::NoopTracerProvider::new();
        let tracer = BoxedTracer::new(Box::new(tp.tracer(SCOPE)));
        let meter = opentelemetry::metrics::noop::NoopMeterProvider::new().meter(SCOPE);
        Self::build(tracer, meter, false, false)
    }

    /// From a tracer and a meter.
    pub fn from_parts(tracer: BoxedTracer, meter: Meter) -> Arc<Self> {
        Self::build(tracer, meter, true, true)
    }

    fn build(tracer: BoxedTracer, meter: Meter, traces: bool, metrics: bool) -> Arc<Self> {
        let instruments = Instruments::new(&meter);
        Arc::new(Telemetry {
            tracer,
            traces,
            metrics,
            meter,
            instruments,
            custom: Mutex::new(HashMap::new()),
        })
    }

    /// The tracer.
    pub fn tracer(&self) -> &BoxedTracer {
        &self.tracer
    }

    /// False when spans are known to go nowhere ([`Telemetry::disabled`]): the runner then
    /// skips building them (their names and attributes) altogether.
    pub fn traces_enabled(&self) -> bool {
        self.traces
    }

    /// False when metrics are known to go nowhere ([`Telemetry::disabled`]).
    pub fn metrics_enabled(&self) -> bool {
        self.metrics
    }

    /// The meter.
    pub fn meter(&self) -> &Meter {
        &self.meter
    }

    /// The standard instruments.
    pub fn instruments(&self) -> &Instruments {
        &self.instruments
    }

    fn custom(&self, name: &str, make: impl FnOnce(&Meter) -> CustomInstrument) -> CustomInstrument {
        let mut map = self.custom.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(name.to_string()).or_insert_with(|| make(&self.meter)).clone()
    }

    /// A custom counter (created on first use, then cached).
    pub fn custom_counter(&self, name: &str) -> Option<Counter<u64>> {
        match self.custom(name, |m| {
            CustomInstrument::Counter(m.u64_counter(name.to_string()).build())
        }) {
            CustomInstrument::Counter(c) => Some(c),
            _ => None,
        }
    }

    /// A custom histogram (created on first use, then cached).
    pub fn custom_histogram(&self, name: &str) -> Option<Histogram<f64>> {
        match self.custom(name, |m| {
            CustomInstrument::Histogram(m.f64_histogram(name.to_string()).build())
        }) {
            CustomInstrument::Histogram(h) => Some(h),
            _ => None,
        }
    }

    /// A custom gauge (created on first use, then cached).
    pub fn custom_gauge(&self, name: &str) -> Option<Gauge<f64>> {
        match self.custom(name, |m| CustomInstrument::Gauge(m.f64_gauge(name.to_string()).build())) {
            CustomInstrument::Gauge(g) => Some(g),
            _ => None,
        }
    }
}

/// Custom metrics recorded by task code, tagged with the task name.
#[derive(Debug, Clone)]
pub struct TaskMetrics<'a> {
    telemetry: &'a Telemetry,
    task_attr: KeyValue,
}

impl<'a> TaskMetrics<'a> {
    pub(crate) fn new(telemetry: &'a Telemetry, task: &str) -> Self {
        TaskMetrics {
            telemetry,
            task_attr: KeyValue::new(crate::semconv::SERVICETASK_NAME, task.to_string()),
        }
    }

    /// Adds to a custom counter. A name already used for another instrument kind is ignored.
    pub fn add(&self, counter: &str, value: u64, attributes: &[KeyValue]) {
        if let Some(c) = self.telemetry.custom_counter(counter) {
            c.add(value, &self.with_task(attributes));
        }
    }

    /// Records into a custom histogram.
    pub fn record(&self, histogram: &str, value: f64, attributes: &[KeyValue]) {
        if let Some(h) = self.telemetry.custom_histogram(histogram) {
            h.record(value, &self.with_task(attributes));
        }
    }

    /// Sets a custom gauge.
    pub fn gauge(&self, gauge: &str, value: f64, attributes: &[KeyValue]) {
        if let Some(g) = self.telemetry.custom_gauge(gauge) {
            g.record(value, &self.with_task(attributes));
        }
    }

    fn with_task(&self, attributes: &[KeyValue]) -> Vec<KeyValue> {
        let mut v = Vec::with_capacity(attributes.len() + 1);
        v.push(self.task_attr.clone());
        v.extend_from_slice(attributes);
        v
    }
}
