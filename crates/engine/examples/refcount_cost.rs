//! What an `Arc` clone and drop, and a small allocation and free, cost on this machine: the two
//! prices the engine's step path is designed around (see the crate README, "Performance").
//!
//! `cargo run --release -p servicetask-engine --example refcount_cost`

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

fn main() {
    let n: u32 = std::env::var("N")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(50_000_000);
    let shared = Arc::new(5u64);
    let mut sum = 0u64;
    let start = Instant::now();
    for _ in 0..n {
        let clone = black_box(shared.clone());
        sum += *clone;
    }
    let arc = start.elapsed().as_nanos() as f64 / f64::from(n);
    let start = Instant::now();
    for _ in 0..n {
        drop(black_box(Box::new([0u8; 64])));
    }
    let boxed = start.elapsed().as_nanos() as f64 / f64::from(n);
    assert_eq!(sum, 5 * u64::from(n));
    println!("Arc clone + drop: {arc:.1} ns; 64-byte Box allocation + free: {boxed:.1} ns ({n} each)");
}
