//! Cost of a circuit-breaker permission check plus result record in the closed state,
//! uncontended and with two threads on one breaker, of a rejection in the open state, and of
//! the clock reads that time a call.
//!
//! Run: `cargo bench -p servicetask-resilience --bench breaker`

// `criterion_group!` defines an undocumented public function.
#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use servicetask_core::{BreakerConfig, Telemetry};
use servicetask_resilience::{CircuitBreaker, Clock, TokioClock};

fn breaker() -> Arc<CircuitBreaker> {
    Arc::new(CircuitBreaker::new(
        "bench",
        BreakerConfig::default(),
        Arc::new(TokioClock),
        Telemetry::disabled(),
    ))
}

fn closed(c: &mut Criterion) {
    let mut g = c.benchmark_group("breaker_closed");
    let b = breaker();
    g.bench_function("acquire_record_uncontended", |bench| {
        bench.iter(|| {
            let p = black_box(&b).acquire(None).unwrap();
            p.record(None, black_box(Duration::from_micros(5)));
        })
    });
    // What `BreakerLayer` does: the primitive plus two clock reads to time the call.
    g.bench_function("acquire_record_timed_uncontended", |bench| {
        bench.iter(|| {
            let clock = b.clock();
            let start = clock.now();
            let p = black_box(&b).acquire(None).unwrap();
            p.record(None, clock.now().saturating_duration_since(start));
        })
    });
    g.bench_function("acquire_record_2_threads", |bench| {
        bench.iter_custom(|iters| {
            let b = breaker();
            let start = Arc::new(Barrier::new(2));
            let other = {
                let (b, start) = (b.clone(), start.clone());
                std::thread::spawn(move || {
                    start.wait();
                    for _ in 0..iters {
                        black_box(&b).acquire(None).unwrap().record(None, Duration::ZERO);
                    }
                })
            };
            start.wait();
            let t0 = Instant::now();
            for _ in 0..iters {
                black_box(&b).acquire(None).unwrap().record(None, Duration::ZERO);
            }
            let elapsed = t0.elapsed();
            other.join().unwrap();
            elapsed
        })
    });
    g.finish();
}

fn clocks(c: &mut Criterion) {
    let mut g = c.benchmark_group("clock");
    g.bench_function("tokio_clock_now", |bench| bench.iter(|| black_box(TokioClock.now())));
    g.bench_function("std_instant_now", |bench| bench.iter(|| black_box(Instant::now())));
    g.finish();
}

fn open(c: &mut Criterion) {
    let b = breaker();
    b.force_open();
    c.bench_function("breaker_open/reject", |bench| {
        bench.iter(|| black_box(&b).acquire(None).unwrap_err())
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = closed, open, clocks
}
criterion_main!(benches);
