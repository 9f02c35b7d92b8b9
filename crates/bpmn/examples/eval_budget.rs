//! How long the default expression budget lets a runaway evaluation run before it is stopped
//! (and so what one step costs), and how long ordinary loops take within it (BENCHMARKS.md,
//! "Expression budget"). Run: `cargo run --release -p servicetask-bpmn --example eval_budget`

use serde_json::Map;
use servicetask_bpmn::expr::{EvalLimits, Script};
use std::time::Instant;

fn main() {
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
}
