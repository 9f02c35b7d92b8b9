//! Evaluates size-model prediction on synthetic tasks of known complexity.
//!
//! `cargo run --release -p servicetask-analytics --example predict_eval`
//!
//! For each class (linear, n log n, quadratic) and each noise level, 200 seeded trials: 40
//! training sizes in 25..=1000, multiplicative noise, a fixed overhead of 2; prediction at
//! 10 000 (10 times the largest training size). Prints the mean absolute percentage error and the
//! share of trials where the right class was chosen, and how often the 90% interval covers a
//! fresh noisy run at the target size.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use servicetask_analytics::predict::{Complexity, SizeModel};

fn main() {
    let sizes: Vec<f64> = (1..=40).map(|i| i as f64 * 25.0).collect();
    let target = 10_000.0;
    println!("| class | noise (sd) | trials | MAPE at 10x | right class | linear-vs-quadratic right | 90% interval covers a new run at 10x |");
    println!("|---|---|---|---|---|---|---|");
    for sd in [0.02, 0.05, 0.10] {
        for (ci, class) in [Complexity::Linear, Complexity::NLogN, Complexity::Quadratic]
            .into_iter()
            .enumerate()
        {
            let mut rng = StdRng::seed_from_u64(7 + (sd * 1000.0) as u64 + 100_000 * ci as u64);
            let a = match class {
                Complexity::Quadratic => 1e-4,
                Complexity::NLogN => 0.01,
                _ => 0.1,
            };
            let trials = 200;
            let (mut ape, mut right, mut lq, mut covered) = (0.0, 0, 0, 0);
            for _ in 0..trials {
                let pts: Vec<(f64, f64)> = sizes
                    .iter()
                    .map(|&n| {
                        let z: f64 = (0..12).map(|_| rng.random_range(0.0..1.0)).sum::<f64>() - 6.0;
                        (n, (2.0 + a * class.basis(n)) * (1.0 + sd * z))
                    })
                    .collect();
                let m = SizeModel::fit(&pts).expect("enough points");
                let truth = 2.0 + a * class.basis(target);
                let p = m.predict(target);
                ape += (p.expected - truth).abs() / truth;
                // a fresh observation at the target size: inside the 90% interval?
                let z: f64 = (0..12).map(|_| rng.random_range(0.0..1.0)).sum::<f64>() - 6.0;
                let obs = truth * (1.0 + sd * z);
                covered += usize::from(p.low <= obs && obs <= p.high);
                right += usize::from(m.class() == class);
                // linear vs quadratic: which of the two fits better
                let f = m.class_fits();
                let err = |k| f.iter().find(|x| x.class == k).map_or(f64::MAX, |x| x.mean_rel_error);
                let pick = if err(Complexity::Quadratic) < err(Complexity::Linear) {
                    Complexity::Quadratic
                } else {
                    Complexity::Linear
                };
                lq += usize::from(class != Complexity::NLogN && pick == class);
            }
            let lq = if class == Complexity::NLogN {
                "-".to_string()
            } else {
                format!("{:.1}%", 100.0 * lq as f64 / trials as f64)
            };
            println!(
                "| {} | {:.2} | {} | {:.2}% | {:.1}% | {} | {:.1}% |",
                class.notation(),
                sd,
                trials,
                100.0 * ape / trials as f64,
                100.0 * right as f64 / trials as f64,
                lq,
                100.0 * covered as f64 / trials as f64
            );
        }
    }
}
