//! The runner's added time per execution of a no-op task, against (a) a direct call and (b) the
//! same work hand-instrumented with the raw OpenTelemetry SDK (one span, one histogram record,
//! one counter add), in one process, on the same providers and the same batch exporter.
//!
//! Run: `cargo bench -p servicetask --bench overhead`; with `BENCH_EXEMPLARS=1` the duration
//! histogram's exemplars are kept as under a Prometheus scrape (`Prometheus::new` turns them on
//! for the whole process, so that is a second run, not a variant).
//!
//! Variants are interleaved round by round and each figure is the median over rounds, so a
//! noisy neighbour hits every variant alike.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
use opentelemetry::KeyValue;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
use servicetask::{
    task_fn, Runner, ServiceTask, TaskConfig, TaskContext, TaskError, TaskHandle, Telemetry, TrackingConfig,
};

/// A batch exporter target that only counts spans.
#[derive(Debug, Clone, Default)]
struct CountingExporter(Arc<AtomicU64>);

impl SpanExporter for CountingExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.0.fetch_add(batch.len() as u64, Ordering::Relaxed);
        Ok(())
    }
}

async fn noop() -> Result<(), TaskError> {
    Ok(())
}

const ITERS: u64 = 20_000;
const ROUNDS: usize = 25;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

async fn time_runner<T: ServiceTask<Input = ()>>(handle: &TaskHandle<T>) -> f64 {
    let t = Instant::now();
    for _ in 0..ITERS {
        black_box(handle.run(()).await);
    }
    t.elapsed().as_nanos() as f64 / ITERS as f64
}

fn main() {
    let exemplars = std::env::var("BENCH_EXEMPLARS").as_deref() == Ok("1");
    if exemplars {
        servicetask::telemetry::exemplars::ExemplarStore::global().enable();
    }
    let exported = CountingExporter::default();
    let tp = SdkTracerProvider::builder()
        .with_batch_exporter(exported.clone())
        .build();
    let mp = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(InMemoryMetricExporter::default()).build())
        .build();
    let telemetry = Telemetry::from_providers(&tp, &mp);

    // (b) the raw SDK, hand-instrumented.
    let tracer = tp.tracer("bench");
    let meter = mp.meter("bench");
    let hist = meter.f64_histogram("raw.duration").with_unit("s").build();
    let counter = meter.u64_counter("raw.executions").build();
    let attrs = [
        KeyValue::new("servicetask.name", "noop"),
        KeyValue::new("servicetask.outcome", "complete"),
    ];

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let untracked = TrackingConfig {
        cpu: false,
        memory: false,
        process_rss: false,
        disk_io: false,
        files: false,
        dependencies: false,
        max_file_events: 32,
    };
    let runner = Runner::builder().telemetry(telemetry.clone()).build();
    let plain = runner
        .register(task_fn(
            TaskConfig::builder("noop").tracking(untracked.clone()).build(),
            |_cx: TaskContext, _i: ()| noop(),
        ))
        .unwrap();
    let tracked = runner
        .register(task_fn(
            TaskConfig::named("noop_tracked"),
            |_cx: TaskContext, _i: ()| noop(),
        ))
        .unwrap();
    let mut configured = TaskConfig::builder("noop_all_layers")
        .retry_max_attempts(4)
        .timeout_total(std::time::Duration::from_secs(30))
        .timeout_attempt(std::time::Duration::from_secs(10))
        .breaker(servicetask::BreakerConfig::default())
        .bulkhead(servicetask::BulkheadConfig {
            max_concurrent: 64,
            max_wait: std::time::Duration::ZERO,
        })
        .fallback_value(servicetask::ErrorClass::Timeout, serde_json::Value::Null)
        .build();
    configured.tracking = untracked;
    let all_layers = runner
        .register(task_fn(configured, |_cx: TaskContext, _i: ()| noop()))
        .unwrap();

    let mut results: Vec<(&str, Vec<f64>)> = vec![
        ("(a) direct call", vec![]),
        ("(b) raw SDK: span + histogram + counter", vec![]),
        ("runner, no layers, tracking off", vec![]),
        ("runner, default config (tracking on)", vec![]),
        ("runner, all resilience layers, not triggered", vec![]),
    ];
    rt.block_on(async {
        for _ in 0..ROUNDS {
            let t = Instant::now();
            for _ in 0..ITERS {
                black_box(noop().await).unwrap();
            }
            results[0].1.push(t.elapsed().as_nanos() as f64 / ITERS as f64);

            let t = Instant::now();
            for _ in 0..ITERS {
                let start = Instant::now();
                let mut span = tracer.start("noop");
                black_box(noop().await).unwrap();
                hist.record(start.elapsed().as_secs_f64(), &attrs);
                counter.add(1, &attrs);
                span.end();
            }
            results[1].1.push(t.elapsed().as_nanos() as f64 / ITERS as f64);

            results[2].1.push(time_runner(&plain).await);
            results[3].1.push(time_runner(&tracked).await);
            results[4].1.push(time_runner(&all_layers).await);
        }
    });
    let _ = tp.force_flush();
    let raw = median(results[1].1.clone());
    println!(
        "{ITERS} executions x {ROUNDS} rounds, median ns per execution (spans exported: {}; exemplars {})",
        exported.0.load(Ordering::Relaxed),
        if exemplars { "kept" } else { "off" }
    );
    println!("| variant | median ns/execution | above (b) |");
    println!("|---|---:|---:|");
    for (name, v) in &results {
        let m = median(v.clone());
        println!("| {name} | {m:.0} | {:+.0} |", m - raw);
    }
}
