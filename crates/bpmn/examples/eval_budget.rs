//! How long the default expression budget lets a runaway evaluation run before it is stopped,
//! and how long ordinary loops take within it (BENCHMARKS.md, "Expression budget").
//! Run: `cargo run --release -p servicetask-bpmn --example eval_budget`

use serde_json::Map;
use servicetask_bpmn::expr::Script;
use std::time::Instant;

fn main() {
    let cases = [
        ("while True: x = 1", "while True:\n    x = 1"),
        (
            "nested loops with a comprehension",
            "for i in range(1000000):\n    xs = [j for j in range(1000)]",
        ),
        (
            "a 9 MB string appended in a loop",
            "s = 'x' * 9000000\nparts = []\nwhile True:\n    parts.append(s)",
        ),
        ("s += s", "s = 'x'\nwhile True:\n    s += s"),
        ("x = [x]", "x = []\nwhile True:\n    x = [x]"),
        (
            "100,000 appends and += (completes)",
            "xs = []\ns = ''\nfor i in range(100000):\n    xs.append(i)\n    s += 'a'",
        ),
        (
            "sum over 100,000 items by index (completes)",
            "items = list(range(100000))\nt = 0\nfor i in range(len(items)):\n    t += items[i]",
        ),
    ];
    println!("| script | outcome | time |");
    println!("|---|---|---|");
    for (name, src) in cases {
        let script = Script::parse(src).expect("the scripts parse");
        let start = Instant::now();
        let outcome = match script.run(&mut Map::new()) {
            Ok(()) => "completes".to_string(),
            Err(e) => {
                let m = e.to_string();
                let limit = m.split("limit ").nth(1).and_then(|r| r.split(' ').next()).unwrap_or(&m);
                format!("stopped by {limit}")
            }
        };
        println!("| {name} | {outcome} | {:.0} ms |", start.elapsed().as_secs_f64() * 1e3);
    }
}
