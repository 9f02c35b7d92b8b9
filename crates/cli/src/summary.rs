//! The readable end-of-run summary: the span tree with durations and outcomes, the files the
//! tasks touched, and the retries. The record summary is summed as records arrive, in bounded
//! memory ([`RecordSummary`]).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::time::Duration;

use opentelemetry::trace::{SpanId, Status};
use opentelemetry_sdk::trace::SpanData;
use servicetask::record::{ExecutionRecord, FileAccessKind};

fn duration(span: &SpanData) -> Duration {
    span.end_time.duration_since(span.start_time).unwrap_or_default()
}

fn fmt_duration(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us < 1000.0 {
        format!("{us:.0} µs")
    } else if us < 1e6 {
        format!("{:.1} ms", us / 1e3)
    } else {
        format!("{:.2} s", us / 1e6)
    }
}

fn attr(span: &SpanData, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.to_string())
}

fn outcome(span: &SpanData) -> String {
    let mut s = match (&span.status, attr(span, "servicetask.outcome")) {
        (_, Some(o)) if o == "bpmn_error" => {
            format!("bpmn error {}", attr(span, "bpmn.error.code").unwrap_or_default())
        }
        (Status::Error { .. }, _) => {
            format!(
                "FAILED ({})",
                attr(span, "error.type").unwrap_or_else(|| "error".into())
            )
        }
        (_, Some(o)) => o,
        _ => "ok".into(),
    };
    if let Some(a) = attr(span, "servicetask.attempts") {
        let _ = write!(s, ", {a} attempts");
    }
    if span.events.events.iter().any(|e| e.name == "servicetask.fallback") {
        s.push_str(", fallback answered");
    }
    s
}

/// Renders the span tree. Siblings with the same name beyond the second are folded into one
/// line with their count and duration range, unless `all` is set.
pub fn span_tree(spans: &[SpanData], all: bool) -> String {
    let ids: HashSet<SpanId> = spans.iter().map(|s| s.span_context.span_id()).collect();
    let mut children: HashMap<SpanId, Vec<&SpanData>> = HashMap::new();
    let mut roots = Vec::new();
    for s in spans {
        if ids.contains(&s.parent_span_id) {
            children.entry(s.parent_span_id).or_default().push(s);
        } else {
            roots.push(s);
        }
    }
    for v in children.values_mut() {
        v.sort_by_key(|s| s.start_time);
    }
    roots.sort_by_key(|s| s.start_time);
    let mut out = String::new();
    for r in roots {
        write_node(&mut out, r, "", "", &children, all);
    }
    out
}

/// Siblings folded into one line: how many more, and their shortest and longest duration.
type Folded = (usize, Duration, Duration);

fn write_node(
    out: &mut String,
    span: &SpanData,
    first: &str,
    rest: &str,
    children: &HashMap<SpanId, Vec<&SpanData>>,
    all: bool,
) {
    let label = format!("{first}{}", span.name);
    let _ = writeln!(
        out,
        "{label:<52} {:>10}  {}",
        fmt_duration(duration(span)),
        outcome(span)
    );
    let Some(kids) = children.get(&span.span_context.span_id()) else {
        return;
    };
    // Group repeated names so a 500-file batch does not print 500 lines.
    let mut shown: Vec<(&SpanData, Option<Folded>)> = Vec::new();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for k in kids {
        let n = counts.entry(k.name.as_ref()).or_default();
        *n += 1;
        if all || *n <= 2 {
            shown.push((k, None));
        }
    }
    if !all {
        for (name, n) in &counts {
            if *n > 2 {
                let same: Vec<Duration> = kids.iter().filter(|k| k.name == *name).map(|k| duration(k)).collect();
                let min = same.iter().min().copied().unwrap_or_default();
                let max = same.iter().max().copied().unwrap_or_default();
                let last = kids.iter().rev().find(|k| k.name == *name).copied();
                if let Some(last) = last {
                    shown.push((last, Some((n - 2, min, max))));
                }
            }
        }
        shown.sort_by_key(|(s, _)| s.start_time);
    }
    let count = shown.len();
    for (i, (kid, folded)) in shown.into_iter().enumerate() {
        let last = i + 1 == count;
        let (f, r) = if last { ("└─ ", "   ") } else { ("├─ ", "│  ") };
        match folded {
            Some((more, min, max)) => {
                let _ = writeln!(
                    out,
                    "{rest}{f}… {more} more {} ({} to {})",
                    kid.name,
                    fmt_duration(min),
                    fmt_duration(max)
                );
            }
            None => write_node(out, kid, &format!("{rest}{f}"), &format!("{rest}{r}"), children, all),
        }
    }
}

/// Files with their own line in the summary's file table; beyond, they are counted together.
pub const MAX_FILES: usize = 10_000;

/// Retried executions listed one by one; beyond, only counted.
pub const MAX_RETRIED_LISTED: usize = 25;

/// Reads and writes of one path.
#[derive(Debug, Default, Clone)]
struct Use {
    reads: u32,
    writes: u32,
    read_bytes: u64,
    written_bytes: u64,
}

/// A run's execution records, summed as they arrive: memory bounded by [`MAX_FILES`] paths and
/// [`MAX_RETRIED_LISTED`] retried executions, however many executions the run has.
#[derive(Debug, Default)]
pub struct RecordSummary {
    files: BTreeMap<String, Use>,
    other_files: Use,
    other_paths: u64,
    retried: Vec<String>,
    retried_executions: u64,
    retries: u64,
    complete: u64,
    bpmn_errors: u64,
    failures: u64,
    cpu_ns: u64,
}

impl RecordSummary {
    /// Adds one record.
    pub fn add(&mut self, r: &ExecutionRecord) {
        for f in &r.files {
            let known = self.files.len() < MAX_FILES || self.files.contains_key(f.path.as_str());
            let u = if known {
                self.files.entry(f.path.clone()).or_default()
            } else {
                self.other_paths += 1;
                &mut self.other_files
            };
            match f.kind {
                FileAccessKind::Read => {
                    u.reads += f.ops;
                    u.read_bytes += f.bytes;
                }
                FileAccessKind::Write => {
                    u.writes += f.ops;
                    u.written_bytes += f.bytes;
                }
                FileAccessKind::Meta => {}
            }
        }
        if r.attempts > 1 {
            self.retried_executions += 1;
            self.retries += u64::from(r.attempts - 1);
            if self.retried.len() < MAX_RETRIED_LISTED {
                self.retried.push(format!(
                    "  {} on {}: {} attempts, {}",
                    r.task,
                    r.element_id.as_deref().unwrap_or("-"),
                    r.attempts,
                    r.outcome.as_str()
                ));
            }
        }
        match r.outcome.as_str() {
            "complete" => self.complete += 1,
            "bpmn_error" => self.bpmn_errors += 1,
            _ => self.failures += 1,
        }
        self.cpu_ns += r.cpu_ns.unwrap_or(0);
    }

    /// Executions summed.
    pub fn executions(&self) -> u64 {
        self.complete + self.bpmn_errors + self.failures
    }
}

/// Files touched, per path: reads, writes and bytes; then retried executions; then the counts.
pub fn records(summary: &RecordSummary) -> String {
    let mut out = String::new();
    let touched: Vec<_> = summary.files.iter().filter(|(_, u)| u.reads + u.writes > 0).collect();
    let _ = writeln!(out, "Files touched: {}", touched.len() as u64 + summary.other_paths);
    let _ = writeln!(
        out,
        "  {:<60} {:>6} {:>10} {:>7} {:>10}",
        "path", "reads", "read", "writes", "written"
    );
    let line = |out: &mut String, path: &str, u: &Use| {
        let _ = writeln!(
            out,
            "  {:<60} {:>6} {:>10} {:>7} {:>10}",
            shorten(path, 60),
            u.reads,
            bytes(u.read_bytes),
            u.writes,
            bytes(u.written_bytes)
        );
    };
    for (path, u) in touched.iter().take(25) {
        line(&mut out, path, u);
    }
    if touched.len() > 25 {
        let _ = writeln!(out, "  … and {} more", touched.len() - 25);
    }
    if summary.other_paths > 0 {
        line(
            &mut out,
            &format!(
                "(accesses to {} paths beyond the first {MAX_FILES})",
                summary.other_paths
            ),
            &summary.other_files,
        );
    }
    let _ = writeln!(out, "Retries: {}", summary.retries);
    for r in &summary.retried {
        let _ = writeln!(out, "{r}");
    }
    if summary.retried_executions > summary.retried.len() as u64 {
        let _ = writeln!(
            out,
            "  … and {} more retried executions",
            summary.retried_executions - summary.retried.len() as u64
        );
    }
    let _ = writeln!(
        out,
        "Executions: {} ({} complete, {} BPMN errors, {} failures), CPU {}",
        summary.executions(),
        summary.complete,
        summary.bpmn_errors,
        summary.failures,
        fmt_duration(Duration::from_nanos(summary.cpu_ns)),
    );
    out
}

/// When the capture kept only a sample of the spans: how many ended, and per name how many,
/// how many failed, and their duration range.
pub fn span_overflow(stats: &crate::capture::SpanStats) -> String {
    let mut out = String::new();
    if stats.ended <= stats.kept {
        return out;
    }
    let _ = writeln!(
        out,
        "… {} spans ended; the tree shows the first {} (and their parents). Every span by name:",
        stats.ended, stats.kept
    );
    for (name, s) in &stats.by_name {
        let _ = writeln!(
            out,
            "  {name:<50} {:>9} spans {:>7} failed  {} to {}",
            s.count,
            s.errors,
            fmt_duration(s.min),
            fmt_duration(s.max)
        );
    }
    out
}

fn bytes(n: u64) -> String {
    if n >= 1 << 20 {
        format!("{:.1} MiB", n as f64 / (1u64 << 20) as f64)
    } else if n >= 1 << 10 {
        format!("{:.1} KiB", n as f64 / 1024.0)
    } else {
        format!("{n} B")
    }
}

fn shorten(s: &str, width: usize) -> String {
    let n = s.chars().count();
    if n <= width {
        s.to_string()
    } else {
        format!("…{}", s.chars().skip(n - width + 1).collect::<String>())
    }
}
