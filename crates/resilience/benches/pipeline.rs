//! The resilience layers' added cost per successful execution: every layer configured
//! (fallback, retry with budget and total deadline, bulkhead, breaker, attempt timeout) but
//! none triggered, against the same task with no layer, and each layer alone.
//!
//! Run: `cargo bench -p servicetask-resilience --bench pipeline`

// `criterion_group!` defines an undocumented public function.
#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::json;
use servicetask_core::layer::{AttemptResult, BoxFuture, Invoke, Layer, Next, TaskValue};
use servicetask_core::{
    BreakerConfig, BulkheadConfig, ErrorClass, RetryBudgetConfig, RetryConfig, TaskConfig, TaskContext, Telemetry,
};
use servicetask_resilience::{layers, Resilience};

struct Answer;

impl Invoke for Answer {
    fn invoke<'a>(&'a self, _cx: &'a TaskContext) -> BoxFuture<'a, AttemptResult> {
        Box::pin(async { Ok(Box::new(42u32) as TaskValue) })
    }
}

fn all_config() -> TaskConfig {
    TaskConfig::builder("bench")
        .retry(RetryConfig {
            max_attempts: 4,
            budget: Some(RetryBudgetConfig::default()),
            ..RetryConfig::default()
        })
        .timeout_total(Duration::from_secs(60))
        .timeout_attempt(Duration::from_secs(30))
        .breaker(BreakerConfig::default())
        .bulkhead(BulkheadConfig::default())
        .fallback_value(ErrorClass::CircuitOpen, json!(0))
        .build()
}

fn stack(config: &TaskConfig) -> Vec<Arc<dyn Layer>> {
    layers(config, &Resilience::builder().telemetry(Telemetry::disabled()).build())
}

/// The full configuration with only one concern kept.
fn only(concern: &str) -> TaskConfig {
    let all = all_config();
    let mut c = TaskConfig::named("bench");
    match concern {
        "fallback" => c.fallback = all.fallback,
        "retry" => {
            c.retry = all.retry;
            c.timeout.total = all.timeout.total;
        }
        "bulkhead" => c.bulkhead = all.bulkhead,
        "breaker" => c.breaker = all.breaker,
        "timeout" => c.timeout.attempt = all.timeout.attempt,
        _ => unreachable!(),
    }
    c
}

fn pipeline(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let cx = TaskContext::detached("bench");
    let none: Vec<Arc<dyn Layer>> = Vec::new();
    let all = stack(&all_config());
    assert_eq!(all.len(), 5);
    let mut g = c.benchmark_group("pipeline_success");
    g.bench_function("no_layers", |b| {
        b.iter(|| rt.block_on(Next::new(black_box(&none), &Answer).run(&cx)).unwrap())
    });
    g.bench_function("all_layers_not_triggered", |b| {
        b.iter(|| rt.block_on(Next::new(black_box(&all), &Answer).run(&cx)).unwrap())
    });
    for concern in ["fallback", "retry", "bulkhead", "breaker", "timeout"] {
        let one = stack(&only(concern));
        assert_eq!(one.len(), 1);
        g.bench_function(format!("only_{concern}"), |b| {
            b.iter(|| rt.block_on(Next::new(black_box(&one), &Answer).run(&cx)).unwrap())
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = pipeline
}
criterion_main!(benches);
