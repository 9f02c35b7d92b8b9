//! Writes a report over a synthetic history (planted anomalies, a slowdown, retries, files).
//!
//! `cargo run --release -p servicetask-report --example report_demo -- [OUT.html [RUNS_PER_TASK]]`
//!
//! Prints the terminal report and writes the HTML page (default `report-demo.html`).

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use servicetask_analytics::report::{ReportData, ReportOptions};
use servicetask_core::record::{DependencyUse, ExecutionRecord, FileAccess, FileAccessKind, OutcomeKind};
use servicetask_report::{render_html, render_terminal};

fn main() {
    let out = std::env::args().nth(1).unwrap_or_else(|| "report-demo.html".into());
    let runs: usize = std::env::args().nth(2).and_then(|s| s.parse().ok()).unwrap_or(2000);
    let mut rng = StdRng::seed_from_u64(99);
    let t0 = 1_764_201_600_000_000_000i64;
    let mut recs = Vec::new();
    for i in 0..runs {
        let size = rng.random_range(100..5000u64);
        let mut secs = (0.005 + 2e-6 * size as f64) * (1.0 + rng.random_range(-0.03..0.03));
        if i >= runs * 62 / 100 {
            secs *= 1.35;
        }
        if [700, 1100, 1500].contains(&i) {
            secs *= 4.0;
        }
        let mut r = ExecutionRecord::new(
            "resize",
            t0 + i as i64 * 20_000_000_000,
            (secs * 1e9) as u64,
            OutcomeKind::Complete,
        );
        r.input_size = Some(size);
        r.mem_peak_bytes = Some(1_000_000 + size * size / 4);
        r.files.push(FileAccess {
            path: "config.json".into(),
            kind: FileAccessKind::Read,
            bytes: 200,
            ops: 1,
            file_size: Some(200),
        });
        if i % 3 == 0 {
            r.files.push(FileAccess {
                path: format!("out/{}.png", i % 7),
                kind: FileAccessKind::Write,
                bytes: size * 10,
                ops: 1,
                file_size: None,
            });
        }
        r.dependencies.push(DependencyUse {
            name: "thumbs-api".into(),
            calls: 1,
            failures: 0,
            total_ns: 1000,
            ..DependencyUse::default()
        });
        if i % 10 == 0 {
            r.attempts = 2;
            r.dependencies[0].failures = 1;
        }
        if i % 97 == 0 {
            r.outcome = OutcomeKind::Failure;
            r.error_class = Some(if i > 1000 { "breaker_open" } else { "timeout" }.into());
        }
        recs.push(r);
        // a second, steady task
        let mut q = ExecutionRecord::new(
            "notify",
            t0 + i as i64 * 20_000_000_000 + 5,
            2_000_000 + rng.random_range(0..200_000),
            OutcomeKind::Complete,
        );
        q.input_size = Some(1);
        recs.push(q);
    }
    let opts = ReportOptions {
        timeouts: [("resize".to_string(), std::time::Duration::from_millis(15))]
            .into_iter()
            .collect(),
        ..Default::default()
    };
    let start = std::time::Instant::now();
    let data = ReportData::from_records(&recs, &opts);
    let text = render_terminal(&data);
    let html = render_html(&data);
    let took = start.elapsed();
    print!("{text}");
    std::fs::write(&out, &html).expect("write html");
    eprintln!(
        "wrote {out} ({} bytes); {} records analysed and rendered in {took:.2?}",
        html.len(),
        recs.len()
    );
}
