//! The report as terminal text: a task table with sparklines, then per-task details, files,
//! dependencies and recommendations.

use std::fmt::Write as _;

use servicetask_analytics::report::{ReportData, MODEL_MIN_RUNS, MODEL_MIN_SIZES};
use servicetask_analytics::trends::{format_time, group_thousands};

use crate::format::*;

/// The report as terminal text: a task table with p95 sparklines, then per-task details, files
/// and recommendations.
pub fn render_terminal(d: &ReportData) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "{}", d.title);
    match d.range {
        Some((a, b)) => {
            let _ = writeln!(o, "{} executions {}\n", group_thousands(d.runs), fmt_range(a, b));
        }
        None => {
            let _ = writeln!(o, "no executions\n");
        }
    }
    if !d.tasks.is_empty() {
        let w = d.tasks.iter().map(|t| t.name.chars().count()).max().unwrap_or(4).max(4);
        let _ = writeln!(
            o,
            "{:<w$}  {:>8}  {:>6}  {:>8}  {:>8}  {:>8}  {:>8}  {:>5}  p95 over time",
            "task", "runs", "fail%", "p50", "p90", "p95", "p99", "anom"
        );
        for t in &d.tasks {
            let sl = sparkline(
                &t.buckets
                    .iter()
                    .map(|b| if b.runs > 0 { b.p95 } else { f64::NAN })
                    .collect::<Vec<_>>(),
            );
            let _ = writeln!(
                o,
                "{:<w$}  {:>8}  {:>5.1}%  {:>8}  {:>8}  {:>8}  {:>8}  {:>5}  {}",
                t.name,
                group_thousands(t.runs),
                100.0 * t.failures as f64 / t.runs.max(1) as f64,
                fmt_secs(t.duration_percentiles[0]),
                fmt_secs(t.duration_percentiles[1]),
                fmt_secs(t.duration_percentiles[2]),
                fmt_secs(t.duration_percentiles[3]),
                t.anomaly_count,
                sl
            );
        }
    }
    for t in &d.tasks {
        let _ = writeln!(o, "\n== {} ==", t.name);
        let _ = writeln!(
            o,
            "outcomes: {} complete, {} bpmn errors, {} failures; {} retried, {} fallbacks",
            t.complete, t.bpmn_errors, t.failures, t.retried_runs, t.fallback_runs
        );
        if !t.error_classes.is_empty() {
            let ec: Vec<String> = t.error_classes.iter().map(|(c, n)| format!("{c} {n}")).collect();
            let _ = writeln!(o, "errors: {}", ec.join(", "));
        }
        if let Some(p) = t.cpu_percentiles {
            let _ = writeln!(
                o,
                "cpu per execution: p50 {}  p95 {}  p99 {}",
                fmt_secs(p[0]),
                fmt_secs(p[2]),
                fmt_secs(p[3])
            );
        }
        if let Some(p) = t.memory_percentiles {
            let b = |v: f64| fmt_bytes(v.max(0.0) as u64);
            let _ = writeln!(
                o,
                "peak memory per execution: p50 {}  p95 {}  p99 {}",
                b(p[0]),
                b(p[2]),
                b(p[3])
            );
        }
        match &t.model {
            Some(m) => {
                let _ = writeln!(o, "duration vs input size: {}", m.verdict);
            }
            None if t.sized_runs.0 > 0 => {
                let (runs, sizes) = t.sized_runs;
                let seen = match (sizes, t.size_points.first()) {
                    (1, Some(p)) => format!("every run had input size {}", group_thousands(p.0 as u64)),
                    _ => format!("{} runs at {sizes} distinct sizes", group_thousands(runs)),
                };
                let _ = writeln!(
                    o,
                    "duration vs input size: no model ({seen}; it needs at least {MODEL_MIN_RUNS} runs at {MODEL_MIN_SIZES} or more distinct sizes)"
                );
            }
            None => {}
        }
        let retries: Vec<f64> = t.buckets.iter().map(|b| b.retries as f64).collect();
        if retries.iter().any(|&r| r > 0.0) {
            let _ = writeln!(o, "retries over time: {}", sparkline(&retries));
        }
        for s in &t.statements {
            let _ = writeln!(o, "trend: {s}");
        }
        for a in t.anomalies.iter().take(10) {
            let unit = |v: f64| {
                if a.metric.starts_with("memory") {
                    fmt_bytes(v.max(0.0) as u64)
                } else {
                    fmt_secs(v)
                }
            };
            let name = a.metric.split('+').next().unwrap_or("duration");
            let name = if name == "flagged" { "duration" } else { name };
            let _ = writeln!(
                o,
                "anomaly: run {} at {} ({}): {name} {}{}",
                group_thousands(a.run),
                format_time(a.at_unix_ns, true),
                a.metric,
                unit(a.value),
                a.expected
                    .map_or(String::new(), |e| format!(", expected about {}", unit(e)))
            );
        }
        if t.anomaly_count > 10 {
            let _ = writeln!(o, "... and {} more anomalies", t.anomaly_count - 10);
        }
    }
    if !d.files.is_empty() {
        let _ = writeln!(o, "\n== files ==");
        let w = d
            .files
            .iter()
            .map(|f| f.path.chars().count())
            .max()
            .unwrap_or(4)
            .clamp(4, 60);
        let _ = writeln!(
            o,
            "{:<w$}  {:>8}  {:>8}  {:>10}  {:>10}",
            "path", "reads", "writes", "read", "written"
        );
        for f in d.files.iter().take(20) {
            let _ = writeln!(
                o,
                "{:<w$}  {:>8}  {:>8}  {:>10}  {:>10}",
                shorten_left(&f.path, w),
                f.read_runs,
                f.write_runs,
                fmt_bytes(f.bytes_read),
                fmt_bytes(f.bytes_written)
            );
        }
    }
    crate::dependencies::terminal(&mut o, d);
    if !d.recommendations.is_empty() {
        let _ = writeln!(o, "\n== recommendations ==");
        for r in &d.recommendations {
            let _ = writeln!(o, "- {}", r.message);
        }
    }
    o
}
