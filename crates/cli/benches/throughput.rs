//! Process instances per second for start -> 10 no-op service tasks -> end
//! (`benches/spiff/ten_tasks.bpmn`), on one core (a current-thread runtime):
//!
//! - the engine alone, answering service calls with a bare handler;
//! - (a) the engine running every task through the servicetask runner with telemetry off
//!   (`Telemetry::disabled()`, tracking off, and no SDK provider installed yet);
//! - (b) full instrumentation: SDK tracer and meter providers, a batch exporter that counts
//!   spans, default tracking;
//! - (b) without per-poll tracking.
//!
//! Every instance starts from one `Deployment`, as a worker's would.
//!
//! Run: `cargo bench -p servicetask-cli --bench throughput` (or `benches/spiff/compare.sh`,
//! which also measures SpiffWorkflow on the same file, on the same core); `BENCH_ONLY=a` (or
//! `engine`, `b`, `b-no-tracking`) runs one variant, `BENCH_SECONDS` sets each one's time.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
use servicetask::engine::RunnerHandler;
use servicetask::{Runner, ServiceTask, TaskConfig, TaskContext, TaskError, Telemetry, TrackingConfig};
use servicetask_engine::{Engine, RunOutcome, ServiceCall, ServiceFuture, ServiceResult, TaskHandler};

#[derive(Debug, Clone, Default)]
struct CountingExporter(Arc<AtomicU64>);

impl SpanExporter for CountingExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.0.fetch_add(batch.len() as u64, Ordering::Relaxed);
        Ok(())
    }
}

struct Bare;
impl TaskHandler for Bare {
    fn call(&self, _call: ServiceCall) -> ServiceFuture {
        Box::pin(async { ServiceResult::Complete(serde_json::Map::new()) })
    }
}

/// The no-op task, written as the `ServiceTask` trait (what `#[service_task]` generates): it
/// borrows its context.
struct Noop(TaskConfig);

impl ServiceTask for Noop {
    type Input = serde_json::Map<String, serde_json::Value>;
    type Output = ();

    fn config(&self) -> TaskConfig {
        self.0.clone()
    }

    async fn run(&self, _cx: &TaskContext, _input: Self::Input) -> Result<(), TaskError> {
        Ok(())
    }
}

fn runner_with(telemetry: Arc<Telemetry>, tracking: bool) -> Runner {
    let runner = Runner::builder().telemetry(telemetry).build();
    let mut config = TaskConfig::named("noop");
    if !tracking {
        config.tracking = TrackingConfig {
            cpu: false,
            memory: false,
            process_rss: false,
            disk_io: false,
            files: false,
            dependencies: false,
            max_file_events: 0,
        };
    }
    runner.register(Noop(config)).unwrap();
    runner
}

fn measure(rt: &tokio::runtime::Runtime, engine: &Engine, defs: &servicetask_bpmn::Definitions, secs: f64) -> f64 {
    // deployed once, as a worker would: every start then reuses the compiled process
    let deployed = engine.deploy(defs).unwrap();
    rt.block_on(async {
        // Warm up and check the instance really completes.
        let mut i = deployed.start("ten_tasks", serde_json::Map::new()).unwrap();
        assert_eq!(i.run().await, RunOutcome::Completed);
        assert_eq!(
            i.completed()
                .iter()
                .filter(|c| c.element_id.starts_with("task_"))
                .count(),
            10
        );
        let start = Instant::now();
        let mut n = 0u64;
        while start.elapsed() < Duration::from_secs_f64(secs) {
            for _ in 0..100 {
                let mut i = deployed.start("ten_tasks", serde_json::Map::new()).unwrap();
                let outcome = i.run().await;
                debug_assert_eq!(outcome, RunOutcome::Completed);
            }
            n += 100;
        }
        n as f64 / start.elapsed().as_secs_f64()
    })
}

fn main() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../benches/spiff/ten_tasks.bpmn");
    let defs = servicetask_bpmn::load_file(std::path::Path::new(path)).expect("benchmark process");
    let secs: f64 = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);
    // `BENCH_ONLY=a` (or `engine`, `b`, `b-no-tracking`) runs one variant: a target for a profiler.
    let only = std::env::var("BENCH_ONLY").ok();
    let wanted = |key: &str| only.as_deref().is_none_or(|o| o == key);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    println!("| variant | instances/s (one core) |");
    println!("|---|---:|");
    // Telemetry off first: no SDK provider is installed yet, so the engine's instance span is the
    // OpenTelemetry API's no-op, as in a program that never sets up telemetry.
    let off: Vec<(&str, &str, Engine)> = vec![
        (
            "engine",
            "engine alone (bare handler, no runner)",
            Engine::new(Arc::new(Bare)),
        ),
        (
            "a",
            "(a) engine + runner, telemetry off, tracking off",
            Engine::new(Arc::new(RunnerHandler::new(runner_with(Telemetry::disabled(), false)))),
        ),
    ];
    for (key, name, engine) in &off {
        if wanted(key) {
            let rate = measure(&rt, engine, &defs, secs);
            println!("| {name} | {rate:.0} |");
        }
    }

    let exported = CountingExporter::default();
    let tp = SdkTracerProvider::builder()
        .with_batch_exporter(exported.clone())
        .build();
    let mp = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(InMemoryMetricExporter::default()).build())
        .build();
    opentelemetry::global::set_tracer_provider(tp.clone());
    let full = Telemetry::from_providers(&tp, &mp);
    let on: Vec<(&str, &str, Engine)> = vec![
        (
            "b",
            "(b) engine + runner, full instrumentation, batch exporter",
            Engine::new(Arc::new(RunnerHandler::new(runner_with(full.clone(), true)))),
        ),
        (
            "b-no-tracking",
            "(b) full instrumentation, per-poll tracking off",
            Engine::new(Arc::new(RunnerHandler::new(runner_with(full, false)))),
        ),
    ];
    for (key, name, engine) in &on {
        if wanted(key) {
            let rate = measure(&rt, engine, &defs, secs);
            println!("| {name} | {rate:.0} |");
        }
    }
    let _ = tp.force_flush();
    println!(
        "spans exported by the counting batch exporter: {}",
        exported.0.load(Ordering::Relaxed)
    );
}
