//! Per-item overhead of `cx.batch(items)` against a plain loop over the same async item work,
//! with the real OpenTelemetry SDK (batch span exporter, periodic metric reader) behind the
//! context: aggregated accounting (sampled item spans, duration statistics, a progress event
//! and metrics per hundredth), with and without a concurrency limit above 1, with an in-memory
//! checkpoint and with the durable SQLite checkpoint (a file in a temporary folder, keys saved
//! a thousand per row and transaction).
//!
//! Run: `cargo run --release -p servicetask --example batch_overhead`
//!
//! Variants are interleaved round by round and each figure is the median over rounds.
//! `BATCH_ITEMS` and `BATCH_ROUNDS` shrink the run (for a profile under
//! `valgrind --tool=callgrind`, which counts instructions whatever the machine's load).

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use opentelemetry::trace::{TraceContextExt as _, Tracer as _, TracerProvider as _};
use opentelemetry::Context;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
use servicetask::batch::MemoryCheckpoint;
use servicetask::{ContextParts, ProcessInfo, TaskContext, TaskError, Telemetry, TrackingConfig};

/// A batch span exporter that only counts spans.
#[derive(Debug, Clone, Default)]
struct SpanCounter(Arc<AtomicU64>);

impl SpanExporter for SpanCounter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.0.fetch_add(batch.len() as u64, Ordering::Relaxed);
        Ok(())
    }
}

/// A count from the environment, else `default`.
fn env_count(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The item's work: trivial, so the figure is the batch's own cost.
async fn item(i: u64) -> Result<(), TaskError> {
    black_box(i);
    Ok(())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let items = env_count("BATCH_ITEMS", 1_000_000);
    let rounds = env_count("BATCH_ROUNDS", 7) as usize;
    let spans = SpanCounter::default();
    let tp = SdkTracerProvider::builder().with_batch_exporter(spans.clone()).build();
    let mp = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(InMemoryMetricExporter::default()).build())
        .build();
    let telemetry = Telemetry::from_providers(&tp, &mp);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let execution = tp.tracer("bench").start("execution");
    let otel = Context::current_with_span(execution);
    let context = |key: Option<String>| {
        TaskContext::new(ContextParts {
            task: "bench".into(),
            otel: otel.clone(),
            telemetry: telemetry.clone(),
            process: ProcessInfo {
                idempotency_key: key.map(Into::into),
                ..ProcessInfo::default()
            },
            variables: serde_json::Map::new(),
            tracking: TrackingConfig::default(),
            dependencies: None,
        })
    };
    let store = Arc::new(MemoryCheckpoint::new());
    let dir = tempfile::tempdir().unwrap();
    let sqlite = Arc::new(servicetask_history::SqliteCheckpoint::open(&dir.path().join("checkpoint.db")).unwrap());
    let mut results: Vec<(&str, Vec<f64>)> = vec![
        ("plain loop", vec![]),
        ("cx.batch, concurrency 1", vec![]),
        ("cx.batch, concurrency 16", vec![]),
        ("cx.batch, concurrency 16, memory checkpoint", vec![]),
        ("cx.batch, concurrency 16, SQLite checkpoint", vec![]),
    ];
    let per_item = |t: Instant| t.elapsed().as_nanos() as f64 / items as f64;
    rt.block_on(async {
        for round in 0..rounds {
            let t = Instant::now();
            for i in 0..items {
                item(i).await.unwrap();
            }
            results[0].1.push(per_item(t));

            let cx = context(None);
            let t = Instant::now();
            black_box(cx.batch(0..items).run(item).await.unwrap());
            results[1].1.push(per_item(t));

            let t = Instant::now();
            black_box(cx.batch(0..items).concurrency(16).run(item).await.unwrap());
            results[2].1.push(per_item(t));

            let cx = context(Some(format!("round-{round}")));
            let t = Instant::now();
            let summary = cx
                .batch(0..items)
                .concurrency(16)
                .checkpoint(store.clone())
                .run(item)
                .await
                .unwrap();
            results[3].1.push(per_item(t));
            assert_eq!(summary.progress.done, items);

            let cx = context(Some(format!("sqlite-round-{round}")));
            let t = Instant::now();
            let summary = cx
                .batch(0..items)
                .concurrency(16)
                .checkpoint(sqlite.clone())
                .run(item)
                .await
                .unwrap();
            results[4].1.push(per_item(t));
            assert_eq!((summary.progress.done, summary.progress.skipped), (items, 0));
        }
    });
    otel.span().end();
    let _ = tp.force_flush();
    let plain = median(results[0].1.clone());
    println!("{items} items, median of {rounds} rounds, current-thread runtime");
    println!(
        "{:<46} {:>10} {:>12} {:>9}",
        "variant", "ns/item", "overhead ns", "ratio"
    );
    for (name, v) in &results {
        let m = median(v.clone());
        println!("{name:<46} {m:>10.1} {:>12.1} {:>8.2}x", m - plain, m / plain);
    }
    println!(
        "spans exported: {} for {} batches of {items} items",
        spans.0.load(Ordering::Relaxed),
        rounds * 4
    );
}
