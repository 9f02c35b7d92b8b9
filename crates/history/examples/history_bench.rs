//! Measures the history store: the cost of `HistoryWriter::record` on the task's path, batch
//! insert throughput, and queries over a million records.
//!
//! `cargo run --release -p servicetask-history --example history_bench [-- RECORDS]`
//!
//! Writes a temporary SQLite file (removed at the end). Timing only: nothing is asserted.

use std::sync::Arc;
use std::time::{Duration, Instant};

use servicetask_core::record::{ExecutionRecord, OutcomeKind, RecordSink};
use servicetask_history::{HistoryStore, HistoryWriter, RecordQuery, SqliteStore, WriterConfig};

const DAY_NS: i64 = 86_400_000_000_000;
const T0: i64 = 1_764_201_600_000_000_000;

fn record(i: u64, per_day: u64) -> ExecutionRecord {
    let task = format!("task-{}", i % 10);
    let t = T0 + (i / per_day) as i64 * DAY_NS + ((i % per_day) as i64 * (DAY_NS / per_day as i64));
    let mut r = ExecutionRecord::new(task, t, 1_000_000 + (i * 7919) % 5_000_000, OutcomeKind::Complete);
    r.input_size = Some(i % 10_000);
    r.cpu_ns = Some(500_000);
    r.mem_peak_bytes = Some(1 << 20);
    r.trace_id = Some("0af7651916cd43dd8448eb211c80319c".into());
    r
}

fn main() {
    let total: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let dir = std::env::temp_dir().join(format!("servicetask-history-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let db = dir.join("bench.db");

    // 1. cost of record() on the caller's thread: rounds of 4000 calls into a warm queue of the
    //    default capacity, the writer draining between rounds (only the calls are timed)
    let store = Arc::new(SqliteStore::open(&db).expect("open"));
    let n = 200_000u64;
    let writer = HistoryWriter::spawn(store.clone(), WriterConfig::default()).expect("spawn");
    let mut timed_ns = 0u128;
    let mut calls = 0u64;
    for round in 0..(n / 4000) {
        let recs: Vec<ExecutionRecord> = (0..4000).map(|i| record(round * 4000 + i, 100_000)).collect();
        let start = Instant::now();
        for r in recs {
            writer.record(r);
        }
        timed_ns += start.elapsed().as_nanos();
        calls += 4000;
        writer.flush().expect("flush");
    }
    let per = timed_ns as f64 / calls as f64;
    println!(
        "record(): {per:.0} ns per call over {calls} calls in rounds of 4000 ({} dropped)",
        writer.dropped()
    );
    // and when the queue is full (records are dropped and counted)
    let full = HistoryWriter::spawn(
        Arc::new(SlowStore),
        WriterConfig {
            capacity: 16,
            ..Default::default()
        },
    )
    .expect("spawn");
    let recs: Vec<ExecutionRecord> = (0..n).map(|i| record(i, 100_000)).collect();
    let start = Instant::now();
    for r in recs {
        full.record(r);
    }
    let per_drop = start.elapsed().as_nanos() as f64 / n as f64;
    println!(
        "record() with a full queue: {per_drop:.0} ns per call ({} dropped)",
        full.dropped()
    );
    drop(writer);

    // 2. fill to `total` records in batches of 256 (one transaction each)
    let have = store.count(&RecordQuery::default()).expect("count");
    let per_day = 100_000;
    let start = Instant::now();
    let mut i = have;
    while i < total {
        let batch: Vec<ExecutionRecord> = (i..(i + 256).min(total)).map(|k| record(k, per_day)).collect();
        store.insert_batch(&batch).expect("insert");
        i += 256;
    }
    let el = start.elapsed();
    println!(
        "insert_batch: {} records in {el:.2?} ({:.0} records/s)",
        total - have,
        (total - have) as f64 / el.as_secs_f64()
    );

    // 3. queries over the million records
    let q_day = RecordQuery {
        task: Some("task-3".into()),
        since_unix_ns: Some(T0 + 5 * DAY_NS),
        until_unix_ns: Some(T0 + 6 * DAY_NS),
        limit: None,
    };
    let timed = |label: &str, f: &dyn Fn() -> usize| {
        let mut best = Duration::MAX;
        let mut out = 0;
        for _ in 0..5 {
            let s = Instant::now();
            out = f();
            best = best.min(s.elapsed());
        }
        println!("{label}: {best:.2?} (best of 5; {out} rows)");
    };
    let total_rows = store.count(&RecordQuery::default()).expect("count");
    println!(
        "store holds {total_rows} records over {} days, 10 tasks",
        total_rows.div_ceil(per_day)
    );
    timed("p50/p95/p99 of one task over one day", &|| {
        store
            .duration_percentiles(&q_day, &[0.5, 0.95, 0.99])
            .expect("pct")
            .map_or(0, |v| v.len())
    });
    let q_all_day = RecordQuery {
        task: None,
        ..q_day.clone()
    };
    timed("p99 of all tasks over one day", &|| {
        store
            .duration_percentiles(&q_all_day, &[0.99])
            .expect("pct")
            .map_or(0, |v| v.len())
    });
    timed("records of one task over one day (full rows)", &|| {
        store.query(&q_day).expect("query").len()
    });
    timed("count of everything", &|| {
        store.count(&RecordQuery::default()).expect("count") as usize
    });
    timed("list tasks", &|| store.tasks().expect("tasks").len());
    let _ = std::fs::remove_dir_all(&dir);
}

/// A store that takes a second per batch, to keep the queue full.
struct SlowStore;

impl HistoryStore for SlowStore {
    fn insert_batch(&self, r: &[ExecutionRecord]) -> Result<Vec<i64>, servicetask_history::HistoryError> {
        std::thread::sleep(Duration::from_secs(1));
        Ok(vec![0; r.len()])
    }
    fn query(
        &self,
        _: &RecordQuery,
    ) -> Result<Vec<servicetask_history::StoredRecord>, servicetask_history::HistoryError> {
        Ok(vec![])
    }
    fn count(&self, _: &RecordQuery) -> Result<u64, servicetask_history::HistoryError> {
        Ok(0)
    }
    fn tasks(&self) -> Result<Vec<String>, servicetask_history::HistoryError> {
        Ok(vec![])
    }
    fn duration_percentiles(
        &self,
        _: &RecordQuery,
        _: &[f64],
    ) -> Result<Option<Vec<u64>>, servicetask_history::HistoryError> {
        Ok(None)
    }
    fn mark_anomaly(&self, _: i64, _: bool) -> Result<(), servicetask_history::HistoryError> {
        Ok(())
    }
    fn file_access_patterns(
        &self,
        _: &RecordQuery,
    ) -> Result<Vec<servicetask_history::FileAccessPattern>, servicetask_history::HistoryError> {
        Ok(vec![])
    }
}
