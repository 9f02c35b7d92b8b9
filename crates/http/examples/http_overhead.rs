//! Per-request overhead of the instrumented client against the bare reqwest client, same
//! local server (axum on 127.0.0.1), same connection pool settings, one run, interleaved
//! rounds. Prints microseconds per request and the ratios for BENCHMARKS.md.
//!
//! `cargo run --release -p servicetask-http --example http_overhead [requests per round]`

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use opentelemetry::trace::{TraceContextExt, Tracer};
use opentelemetry::Context;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use servicetask_core::{
    BreakerConfig, ContextParts, DependencyPolicy, ProcessInfo, TaskContext, Telemetry, TrackingConfig,
};
use servicetask_http::{HttpClient, HttpSettings};
use servicetask_resilience::{DependencyConfig, Resilience};

const ROUNDS: usize = 10;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let per_round: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(2_000);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new().fallback(|| async { "x".repeat(512) });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let url = format!("http://{addr}/items?page=1");

    let bare = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let instrumented = HttpClient::new(HttpSettings::default()).unwrap();

    // a context with telemetry off and no policy: what the client itself adds
    let quiet = TaskContext::detached("bench");
    // a context with a real SDK tracer (spans kept in memory, cleared each round) and a breaker
    let spans = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder().with_simple_exporter(spans.clone()).build();
    let meters = opentelemetry_sdk::metrics::SdkMeterProvider::builder().build();
    let telemetry = Telemetry::from_providers(&provider, &meters);
    let resilience = Arc::new(
        Resilience::builder()
            .telemetry(telemetry.clone())
            .default_dependency(DependencyConfig {
                breaker: Some(BreakerConfig::default()),
                bulkhead: None,
            })
            .build(),
    );
    let exec = telemetry.tracer().start("bench");
    let traced = TaskContext::new(ContextParts {
        task: Arc::from("bench"),
        otel: Context::new().with_span(exec),
        telemetry: telemetry.clone(),
        process: ProcessInfo::default(),
        variables: serde_json::Map::new(),
        tracking: TrackingConfig::default(),
        dependencies: Some(resilience as Arc<dyn DependencyPolicy>),
    });

    // warm the pools
    for _ in 0..200 {
        bare.get(&url).send().await.unwrap().bytes().await.unwrap();
        instrumented.on(&quiet).get(&url).send().await.unwrap();
    }
    let mut t = [Duration::ZERO; 3];
    for _ in 0..ROUNDS {
        let s = Instant::now();
        for _ in 0..per_round {
            let b = bare.get(&url).send().await.unwrap().bytes().await.unwrap();
            assert_eq!(b.len(), 512);
        }
        t[0] += s.elapsed();
        let s = Instant::now();
        for _ in 0..per_round {
            let r = instrumented.on(&quiet).get(&url).send().await.unwrap();
            assert_eq!(r.bytes().len(), 512);
        }
        t[1] += s.elapsed();
        let s = Instant::now();
        for _ in 0..per_round {
            let r = instrumented.on(&traced).get(&url).send().await.unwrap();
            assert_eq!(r.bytes().len(), 512);
        }
        t[2] += s.elapsed();
        spans.reset();
    }
    let n = (ROUNDS * per_round) as f64;
    let us = |d: Duration| d.as_secs_f64() * 1e6 / n;
    println!("requests per variant: {n}");
    println!("bare reqwest:                         {:8.2} µs/request", us(t[0]));
    println!(
        "instrumented, telemetry off:          {:8.2} µs/request  ratio {:.3}  (+{:.2} µs)",
        us(t[1]),
        us(t[1]) / us(t[0]),
        us(t[1]) - us(t[0])
    );
    println!(
        "instrumented, SDK spans + breaker:    {:8.2} µs/request  ratio {:.3}  (+{:.2} µs)",
        us(t[2]),
        us(t[2]) / us(t[0]),
        us(t[2]) - us(t[0])
    );
    let dep = &traced.stats().dependencies()[0];
    println!(
        "traced execution: {} calls, {} bytes received",
        dep.calls, dep.bytes_received
    );
}
