//! What tracking adds per execution and per file operation (criterion).
//!
//! Run: `cargo bench -p servicetask-tracking --bench overhead` (and again with
//! `--features alloc-counter` to measure with the counting allocator installed). Results and
//! the machine are in `crates/tracking/BENCHMARKS.md`.

// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use servicetask_core::layer::{AttemptResult, BoxFuture, Invoke, Layer, Next, TaskValue};
use servicetask_core::{TaskContext, TrackingConfig};
use servicetask_tracking::TrackingLayer;

#[cfg(feature = "alloc-counter")]
#[global_allocator]
static A: servicetask_tracking::CountingAllocator = servicetask_tracking::CountingAllocator::system();

/// A task that returns after `polls` polls (yielding `polls - 1` times).
struct Yields(u32);

impl Invoke for Yields {
    fn invoke<'a>(&'a self, _cx: &'a TaskContext) -> BoxFuture<'a, AttemptResult> {
        let n = self.0;
        Box::pin(async move {
            for _ in 1..n {
                tokio::task::yield_now().await;
            }
            Ok(Box::new(()) as TaskValue)
        })
    }
}

fn configs() -> Vec<(&'static str, Option<TrackingConfig>)> {
    let off = TrackingConfig {
        cpu: false,
        memory: false,
        disk_io: false,
        files: false,
        dependencies: false,
        ..TrackingConfig::default()
    };
    vec![
        ("no_layer", None),
        ("all_off", Some(off.clone())),
        (
            "cpu",
            Some(TrackingConfig {
                cpu: true,
                ..off.clone()
            }),
        ),
        (
            "disk_io",
            Some(TrackingConfig {
                disk_io: true,
                ..off.clone()
            }),
        ),
        (
            "memory",
            Some(TrackingConfig {
                memory: true,
                ..off.clone()
            }),
        ),
        ("all_on", Some(TrackingConfig::default())),
    ]
}

fn per_execution(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("execution");
    for polls in [1u32, 100] {
        let task = Yields(polls);
        for (name, config) in configs() {
            let layers: Vec<Arc<dyn Layer>> = match &config {
                Some(c) => vec![Arc::new(TrackingLayer::new(c))],
                None => Vec::new(),
            };
            let cx = TaskContext::detached("bench");
            group.bench_with_input(BenchmarkId::new(format!("{polls}_polls"), name), &polls, |b, _| {
                b.iter(|| rt.block_on(Next::new(&layers, &task).run(&cx)).unwrap())
            });
        }
    }
    group.finish();
}

/// The system calls a bracket makes, to read the other figures against the machine's state.
fn readings(c: &mut Criterion) {
    let mut group = c.benchmark_group("reading");
    group.bench_function("clock_gettime_thread_cputime", |b| {
        b.iter(|| {
            let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
            // SAFETY: valid out-pointer.
            unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
            ts
        })
    });
    group.bench_function("getrusage_thread", |b| {
        b.iter(|| {
            // SAFETY: rusage is plain data; valid out-pointer.
            let mut r: libc::rusage = unsafe { std::mem::zeroed() };
            unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut r) };
            r.ru_inblock
        })
    });
    group.bench_function("clock_gettime_monotonic", |b| {
        b.iter(|| {
            let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
            // SAFETY: valid out-pointer.
            unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
            ts
        })
    });
    group.finish();
}

fn file_read(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let dir = std::env::temp_dir().join(format!("st-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut group = c.benchmark_group("file_read");
    for size in [4 * 1024usize, 1024 * 1024] {
        let path = dir.join(format!("f{size}"));
        std::fs::write(&path, vec![1u8; size]).unwrap();
        let label = if size < 1 << 20 { "4KiB" } else { "1MiB" };
        group.bench_function(BenchmarkId::new("tokio_fs_read", label), |b| {
            b.iter(|| rt.block_on(tokio::fs::read(&path)).unwrap())
        });
        // The context is made once; its per-file totals hold one entry (same path every time).
        let cx = TaskContext::detached("bench");
        let layer = TrackingLayer::new(&TrackingConfig::default());
        drop(layer); // installs the blocking hook, as in a real runner
        group.bench_function(BenchmarkId::new("cx_fs_read_tracked", label), |b| {
            b.iter(|| rt.block_on(cx.fs().read(&path)).unwrap())
        });
        let off = TaskContext::new(servicetask_core::ContextParts {
            task: Arc::from("bench"),
            otel: opentelemetry::Context::new(),
            telemetry: servicetask_core::Telemetry::disabled(),
            process: Default::default(),
            variables: Default::default(),
            tracking: TrackingConfig {
                files: false,
                ..TrackingConfig::default()
            },
            dependencies: None,
        });
        group.bench_function(BenchmarkId::new("cx_fs_read_files_off", label), |b| {
            b.iter(|| rt.block_on(off.fs().read(&path)).unwrap())
        });
    }
    group.finish();
    let _ = std::fs::remove_dir_all(dir);
}

/// The recording part of a file operation without the blocking-pool round trip: inspecting
/// one input path (one `stat`), with `files` on (event, per-file totals) and off.
fn inspect(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("st-bench-inspect-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("in.csv");
    std::fs::write(&path, b"a,b\n").unwrap();
    let paths = [servicetask_core::TrackedPath {
        field: "input",
        path: path.clone(),
        required: true,
        sensitive: false,
    }];
    let mut group = c.benchmark_group("inspect_input");
    // A recording SDK span (no exporter; the SDK keeps at most 128 events and counts the rest).
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    let meters = opentelemetry_sdk::metrics::SdkMeterProvider::builder().build();
    let sdk = servicetask_core::Telemetry::from_providers(&provider, &meters);
    for (name, files, recording) in [
        ("files_on_sdk_span", true, true),
        ("files_on_noop_span", true, false),
        ("files_off", false, false),
    ] {
        let tracking = TrackingConfig {
            files,
            max_file_events: u32::MAX,
            ..TrackingConfig::default()
        };
        let (otel, telemetry) = if recording {
            use opentelemetry::trace::{TraceContextExt as _, Tracer as _};
            let span = sdk.tracer().start("bench");
            (opentelemetry::Context::new().with_span(span), sdk.clone())
        } else {
            (opentelemetry::Context::new(), servicetask_core::Telemetry::disabled())
        };
        let cx = TaskContext::new(servicetask_core::ContextParts {
            task: Arc::from("bench"),
            otel,
            telemetry,
            process: Default::default(),
            variables: Default::default(),
            tracking,
            dependencies: None,
        });
        group.bench_function(name, |b| {
            b.iter(|| servicetask_tracking::inspect_input_paths(&cx, &paths).unwrap())
        });
    }
    group.finish();
    let _ = std::fs::remove_dir_all(dir);
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30);
    targets = readings, per_execution, file_read, inspect
}
criterion_main!(benches);
