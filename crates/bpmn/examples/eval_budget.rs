//! How long the default expression budget lets a runaway evaluation run before it is stopped
//! (and so what one step costs), and how long ordinary loops take within it (BENCHMARKS.md,
//! "Expression budget"), and the peak resident memory of scripts that build as much as the
//! default limits let them (each in a child process of its own, as `eval_budget memory N`).
//! Run: `cargo run --release -p servicetask-bpmn --example eval_budget`

use serde_json::Map;
use servicetask_bpmn::expr::{EvalLimits, Script};
use std::time::Instant;

/// Scripts that build as much as the default limits allow, in shapes the byte estimate
/// (`max_bytes`) counts differently from the allocator.
const MEMORY_CASES: [&str; 5] = [
    "parts = []\nwhile True:\n    parts.append('x' * 1000000)",
    "xs = list(range(1000000))",
    "xs = [{'a': i} for i in range(1000000)]",
    "xs = [{'a': 1}] * 300000",
    "xs = []\nwhile True:\n    xs.append([i for i in range(8)])",
];

/// A line of /proc/self/status in kB (Linux).
fn status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|r| r.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Runs memory case `i` and prints its outcome and peak resident memory above the start.
fn memory_case(i: usize) {
    let before = status_kb("VmRSS:");
    let script = Script::parse(MEMORY_CASES[i]).expect("the scripts parse");
    let outcome = match script.run_with(&mut Map::new(), &[], &EvalLimits::default()) {
        Ok(()) => "completes".to_string(),
        Err(e) => e.to_string().split(':').nth(1).unwrap_or("").trim().to_string(),
    };
    let peak = status_kb("VmHWM:").saturating_sub(before);
    println!(
        "| `{}` | {outcome} | {:.0} MB |",
        MEMORY_CASES[i].replace('\n', "; "),
        peak as f64 / 1024.0
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let (Some("memory"), Some(i)) = (args.get(1).map(String::as_str), args.get(2)) {
        memory_case(i.parse().expect("a case number"));
        return;
    }
    let limits = EvalLimits::default();
    let cases = [
        "while True:\n    x = 1",
        "s = 'text'\nwhile 3:\n    s",
        "for i in range(1000000):\n    xs = [j for j in range(1000)]",
        "x = 203608 * [1, {'a': 2}, 's']",
        "xs = [0] * 200000\nwhile True:\n    b = 5 in xs",
        "xs = [0] * 200000\nwhile True:\n    b = xs == xs",
        "xs = [0] * 200000\nwhile True:\n    b = sum(xs)",
        "s = 'a' * 10000000\nwhile True:\n    b = len(s)",
        "s = 'a' * 10000000\nwhile True:\n    b = s[-1]",
        "s = 'a' * 10000000\nwhile True:\n    b = 'b' in s",
        "s = 'a' * 10000000\nwhile True:\n    b = s.strip()",
        "xs = [0] * 200000\nwhile True:\n    xs.remove(0)",
        "xs = [0] * 200000\nwhile True:\n    xs.insert(0, 1)\n    xs.pop(0)",
        "xs = [[0] * 10 for i in range(10000)]\nwhile True:\n    for x in xs:\n        pass",
        "s = 'x' * 9000000\nparts = []\nwhile True:\n    parts.append(s)",
        "s = 'x'\nwhile True:\n    s += s",
        "x = []\nwhile True:\n    x = [x]",
        "xs = []\ns = ''\nfor i in range(100000):\n    xs.append(i)\n    s += 'a'",
        "items = list(range(50000))\nt = 0\nfor i in range(len(items)):\n    t += items[i]",
    ];
    println!("max_steps = {}\n", limits.max_steps);
    println!("| script | outcome | time | per step |");
    println!("|---|---|---:|---:|");
    for src in cases {
        let script = Script::parse(src).expect("the scripts parse");
        let start = Instant::now();
        let result = script.run_with(&mut Map::new(), &[], &limits);
        let took = start.elapsed().as_secs_f64();
        let (outcome, per_step) = match result {
            Ok(()) => ("completes".to_string(), String::new()),
            Err(e) => {
                let m = e.to_string();
                let limit = m
                    .split("limit ")
                    .nth(1)
                    .and_then(|r| r.split(' ').next())
                    .unwrap_or(&m)
                    .to_string();
                // a script stopped by max_steps took all of them
                let per_step = if limit == "max_steps" {
                    format!("{:.0} ns", took * 1e9 / limits.max_steps as f64)
                } else {
                    String::new()
                };
                (format!("stopped by {limit}"), per_step)
            }
        };
        println!(
            "| `{}` | {outcome} | {:.0} ms | {per_step} |",
            src.replace('\n', "; "),
            took * 1e3
        );
    }
    println!("\n| script | outcome | peak resident memory |");
    println!("|---|---|---:|");
    for i in 0..MEMORY_CASES.len() {
        let status = std::process::Command::new(&args[0])
            .args(["memory", &i.to_string()])
            .status()
            .expect("the example runs itself");
        assert!(status.success(), "memory case {i} failed");
    }
}
