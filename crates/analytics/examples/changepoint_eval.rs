//! Measures the change statements of the report: how often they cry wolf on stationary
//! durations, and how many runs after a planted shift they first report it.
//!
//! `cargo run --release -p servicetask-analytics --example changepoint_eval`
//!
//! Durations are log-normal around 1 s (sd of the log given) with 1% outliers five times slower,
//! the shape of a real task's durations. Each "report" is [`describe`] over the history so far
//! with the default [`ChangeOptions`] (Mann-Whitney at 0.001 Bonferroni, material from 20%).

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use servicetask_analytics::trends::{describe, ChangeOptions, TrendPoint};

fn durations(rng: &mut StdRng, n: usize, level: f64, sd: f64) -> Vec<f64> {
    (0..n)
        .map(|_| {
            let g: f64 = (0..12).map(|_| rng.random_range(0.0..1.0f64)).sum::<f64>() - 6.0;
            let outlier = if rng.random_range(0.0..1.0f64) < 0.01 { 5.0 } else { 1.0 };
            level * (sd * g).exp() * outlier
        })
        .collect()
}

fn points(values: &[f64]) -> Vec<TrendPoint> {
    values
        .iter()
        .enumerate()
        .map(|(i, &v)| TrendPoint {
            at_unix_ns: i as i64 * 1_000_000_000,
            run: i as u64 + 1,
            value: v,
        })
        .collect()
}

fn main() {
    let o = ChangeOptions::default();
    println!("false alarms on stationary durations (500 histories of 1,000 runs per noise level):");
    for sd in [0.05, 0.2, 0.5] {
        let mut rng = StdRng::seed_from_u64(1);
        let (mut statements, mut with_any) = (0usize, 0usize);
        for _ in 0..500 {
            let n = describe("d", &points(&durations(&mut rng, 1000, 1.0, sd)), &o).1.len();
            statements += n;
            with_any += usize::from(n > 0);
        }
        println!(
            "  log sd {sd:<4}  statements per 1,000 runs {:.4}  histories with any statement {:.1}%",
            statements as f64 / 500.0,
            100.0 * with_any as f64 / 500.0
        );
    }
    println!("delay after a shift at run 500 (50 histories each; report after every 5 runs, up to 300):");
    for sd in [0.1, 0.2] {
        for shift in [1.2, 1.3, 1.5, 0.7] {
            let mut delays = Vec::new();
            for seed in 0..50 {
                let mut rng = StdRng::seed_from_u64(seed);
                let mut values = durations(&mut rng, 500, 1.0, sd);
                values.extend(durations(&mut rng, 300, shift, sd));
                let found = (5..=300).step_by(5).find(|&k| {
                    describe("d", &points(&values[..500 + k]), &o)
                        .0
                        .iter()
                        .any(|c| (c.index as i64 - 500).abs() <= 20)
                });
                delays.push(found);
            }
            let mut got: Vec<usize> = delays.iter().flatten().copied().collect();
            got.sort_unstable();
            let q = |p: f64| {
                got.get(((got.len() as f64 - 1.0) * p).round() as usize)
                    .copied()
                    .unwrap_or(0)
            };
            println!(
                "  log sd {sd:<4} shift {:+.0}%  detected {:>3}/50  delay median {:>3} runs  90th percentile {:>3} runs",
                (shift - 1.0) * 100.0,
                got.len(),
                q(0.5),
                q(0.9)
            );
        }
    }
}
