//! The report over a large SQLite history: time and peak memory of `servicetask report`'s path
//! (stream the records a chunk at a time into a `ReportBuilder`, render text and HTML).
//!
//! ```text
//! cargo run --release -p servicetask-report --example report_bench -- generate 10000000
//! cargo run --release -p servicetask-report --example report_bench -- report 10000000
//! ```
//!
//! `generate N` writes N synthetic records (8 tasks, durations growing with input size with
//! log-normal noise, CPU and memory, one file read per run from 2,000 paths, a dependency and a
//! retry on every 10th run, 2% failures) into `target/report-bench/history-N.db` (not committed;
//! reused when it exists). `report N` runs the report over it in a fresh process and prints the
//! time and the peak resident memory (`VmHWM`), so the figures are the report's alone.

use std::path::PathBuf;
use std::time::Instant;

use servicetask_analytics::bounded::SplitMix64;
use servicetask_analytics::report::{ReportBuilder, ReportOptions};
use servicetask_core::record::{DependencyUse, ExecutionRecord, FileAccess, FileAccessKind, OutcomeKind};
use servicetask_history::{HistoryStore, RecordQuery, SqliteStore};

const T0: i64 = 1_764_201_600_000_000_000; // 2025-11-27 00:00 UTC
const BATCH: usize = 20_000;

fn db_path(n: u64) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"),
        PathBuf::from,
    );
    target.join("report-bench").join(format!("history-{n}.db"))
}

fn record(i: u64, rng: &mut SplitMix64) -> ExecutionRecord {
    let task = i % 8;
    let size = 100 + (rng.unit() * 10_000.0) as u64;
    let noise = ((rng.unit() + rng.unit() + rng.unit() - 1.5) * 0.3).exp();
    let secs = (0.002 + 2e-7 * size as f64 * (1 + task) as f64) * noise;
    let outcome = if rng.unit() < 0.02 {
        OutcomeKind::Failure
    } else {
        OutcomeKind::Complete
    };
    let mut r = ExecutionRecord::new(
        format!("task-{task}"),
        T0 + i as i64 * 50_000_000, // 20 runs a second
        (secs * 1e9) as u64,
        outcome,
    );
    r.input_size = Some(size);
    r.cpu_ns = Some((secs * 0.7e9) as u64);
    r.mem_peak_bytes = Some(4_000_000 + 300 * size);
    if outcome == OutcomeKind::Failure {
        r.error_class = Some("timeout".into());
    }
    r.files.push(FileAccess {
        path: format!("/data/in/{}.json", (rng.unit() * 2000.0) as u64),
        kind: FileAccessKind::Read,
        bytes: size,
        ops: 1,
        file_size: Some(size),
    });
    if i % 10 == 0 {
        r.attempts = 2;
        r.dependencies.push(DependencyUse {
            name: "thumbs-api".into(),
            calls: 2,
            failures: 1,
            total_ns: 1_000_000,
            ..DependencyUse::default()
        });
    }
    r
}

fn generate(n: u64) -> Result<(), Box<dyn std::error::Error>> {
    let path = db_path(n);
    if path.exists() {
        let store = SqliteStore::open(&path)?;
        if store.count(&RecordQuery::default())? == n {
            println!("{} exists with {n} records", path.display());
            return Ok(());
        }
        drop(store);
        std::fs::remove_file(&path)?;
    }
    std::fs::create_dir_all(path.parent().ok_or("no parent")?)?;
    let store = SqliteStore::open(&path)?;
    let start = Instant::now();
    let mut rng = SplitMix64(42);
    let mut i = 0u64;
    while i < n {
        let batch: Vec<ExecutionRecord> = (i..(i + BATCH as u64).min(n)).map(|k| record(k, &mut rng)).collect();
        store.insert_batch(&batch)?;
        i += batch.len() as u64;
    }
    println!("wrote {n} records to {} in {:.1?}", path.display(), start.elapsed());
    Ok(())
}

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn report(n: u64) -> Result<(), Box<dyn std::error::Error>> {
    let path = db_path(n);
    if !path.exists() {
        return Err(format!("{} missing: run `generate {n}` first", path.display()).into());
    }
    let before = peak_rss_kib().unwrap_or(0);
    let start = Instant::now();
    let store = SqliteStore::open(&path)?;
    let mut builder = ReportBuilder::new(ReportOptions::default());
    let read = store.for_each_record(&RecordQuery::default(), 10_000, &mut |r| builder.push(&r.record))?;
    let streamed = start.elapsed();
    let data = builder.finish();
    let text = servicetask_report::render_terminal(&data);
    let html = servicetask_report::render_html(&data);
    let total = start.elapsed();
    println!(
        "report over {read} records: {:.1?} (streaming {:.1?}), peak RSS {:.1} MiB (at start {:.1} MiB); text {} KiB, HTML {} KiB, {} tasks",
        total,
        streamed,
        peak_rss_kib().unwrap_or(0) as f64 / 1024.0,
        before as f64 / 1024.0,
        text.len() / 1024,
        html.len() / 1024,
        data.tasks.len()
    );
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
    match args.first().map(String::as_str) {
        Some("generate") => generate(n),
        Some("report") => report(n),
        _ => Err("usage: report_bench generate|report N".into()),
    }
}
