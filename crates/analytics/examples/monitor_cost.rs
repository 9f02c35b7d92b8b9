//! Measures the cost of `AnomalyMonitor::observe` per execution (three metrics, size model
//! refitted every 100 executions).
//!
//! `cargo run --release -p servicetask-analytics --example monitor_cost`

use std::time::Instant;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use servicetask_analytics::anomaly::AnomalyMonitor;
use servicetask_core::record::{ExecutionRecord, OutcomeKind};

fn main() {
    let mut rng = StdRng::seed_from_u64(1);
    let n = 50_000;
    let recs: Vec<ExecutionRecord> = (0..n)
        .map(|i| {
            let size = rng.random_range(1..10_000u64);
            let mut r = ExecutionRecord::new(
                "t",
                i as i64,
                1_000 * size + rng.random_range(0..1000),
                OutcomeKind::Complete,
            );
            r.input_size = Some(size);
            r.cpu_ns = Some(900 * size);
            r.mem_peak_bytes = Some(1_000_000 + 100 * size);
            r
        })
        .collect();
    let mut m = AnomalyMonitor::default();
    let start = Instant::now();
    let mut flagged = 0;
    for r in &recs {
        flagged += usize::from(!m.observe(r).is_empty());
    }
    let per = start.elapsed().as_nanos() as f64 / n as f64;
    let mut d = servicetask_analytics::anomaly::AnomalyDetector::new(Default::default());
    let vals: Vec<f64> = (0..n).map(|_| rng.random_range(0.0..1.0)).collect();
    let s0 = Instant::now();
    for &v in &vals {
        d.update(v, None);
    }
    println!(
        "AnomalyDetector::update: {:.1} µs per value",
        s0.elapsed().as_nanos() as f64 / n as f64 / 1000.0
    );
    println!(
        "AnomalyMonitor::observe: {:.1} µs per execution over {n} executions (3 metrics; {flagged} flagged)",
        per / 1000.0
    );
}
