//! The SQLite store and the batching writer, through the public API.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use servicetask_core::record::{ExecutionRecord, FileAccess, FileAccessKind, RecordSink};
use servicetask_history::{
    AccessTrait, HistoryError, HistoryStore, HistoryWriter, RecordQuery, SqliteStore, StoredRecord, WriterConfig,
    SCHEMA_VERSION,
};

use servicetask_test_support::records::{every_field, record, SEC};

#[test]
fn round_trip_keeps_every_field() {
    let s = SqliteStore::open_in_memory().unwrap();
    let r = every_field();
    let ids = s.insert_batch(std::slice::from_ref(&r)).unwrap();
    let got = s.query(&RecordQuery::default()).unwrap();
    assert_eq!(
        got,
        vec![StoredRecord {
            id: ids[0],
            batch: got[0].batch,
            record: r
        }]
    );
}

#[test]
fn queries_by_task_and_time_range() {
    let s = SqliteStore::open_in_memory().unwrap();
    let batch: Vec<_> = (0..100)
        .map(|t| record(if t % 2 == 0 { "a" } else { "b" }, t, t as u64 + 1))
        .collect();
    s.insert_batch(&batch).unwrap();
    assert_eq!(s.tasks().unwrap(), vec!["a", "b"]);
    let q = RecordQuery {
        task: Some("a".into()),
        since_unix_ns: Some(10 * SEC),
        until_unix_ns: Some(20 * SEC),
        limit: None,
    };
    let got = s.query(&q).unwrap();
    assert_eq!(
        got.iter()
            .map(|r| r.record.started_at_unix_ns / SEC)
            .collect::<Vec<_>>(),
        vec![10, 12, 14, 16, 18]
    );
    assert_eq!(s.count(&q).unwrap(), 5);
    assert_eq!(
        s.query(&RecordQuery {
            limit: Some(3),
            ..q.clone()
        })
        .unwrap()
        .len(),
        3
    );
    // durations of a in [10, 20): 11, 13, 15, 17, 19 ms
    let p = s.duration_percentiles(&q, &[0.0, 0.5, 1.0]).unwrap().unwrap();
    assert_eq!(p, vec![11_000_000, 15_000_000, 19_000_000]);
    let none = RecordQuery {
        task: Some("zzz".into()),
        ..Default::default()
    };
    assert_eq!(s.duration_percentiles(&none, &[0.5]).unwrap(), None);
}

#[test]
fn anomaly_flag_and_file_patterns() {
    let s = SqliteStore::open_in_memory().unwrap();
    let mut batch = Vec::new();
    for t in 0..10 {
        let mut r = record("etl", t, 1);
        r.files.push(FileAccess {
            path: "config.json".into(),
            kind: FileAccessKind::Read,
            bytes: 100,
            ops: 1,
            file_size: Some(100),
        });
        if t % 5 == 0 {
            r.files.push(FileAccess {
                path: "out.csv".into(),
                kind: FileAccessKind::Write,
                bytes: 10,
                ops: 2,
                file_size: None,
            });
        }
        batch.push(r);
    }
    let ids = s.insert_batch(&batch).unwrap();
    s.mark_anomaly(ids[3], true).unwrap();
    let got = s.query(&RecordQuery::default()).unwrap();
    assert_eq!(
        got.iter()
            .filter(|r| r.record.anomaly)
            .map(|r| r.id)
            .collect::<Vec<_>>(),
        vec![ids[3]]
    );
    let p = s.file_access_patterns(&RecordQuery::default()).unwrap();
    assert_eq!(p.len(), 2);
    assert_eq!(
        (
            p[0].path.as_str(),
            p[0].executions,
            p[0].read_executions,
            p[0].bytes_read
        ),
        ("config.json", 10, 10, 1000)
    );
    assert_eq!(
        (
            p[1].path.as_str(),
            p[1].executions,
            p[1].write_executions,
            p[1].bytes_written,
            p[1].ops
        ),
        ("out.csv", 2, 2, 20, 4)
    );
    assert_eq!(p[0].traits(10), vec![AccessTrait::ReadHeavy, AccessTrait::Frequent]);
    assert_eq!(p[1].traits(10), vec![AccessTrait::WriteHeavy]);
}

#[test]
fn schema_is_versioned_and_newer_files_are_refused() {
    let dir = std::env::temp_dir().join(format!("servicetask-schema-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("h.db");
    let _ = std::fs::remove_file(&db);
    {
        let s = SqliteStore::open(&db).unwrap();
        assert_eq!(s.schema_version().unwrap(), SCHEMA_VERSION);
    }
    // reopening an up-to-date file applies nothing and keeps data
    {
        let s = SqliteStore::open(&db).unwrap();
        s.insert_batch(&[record("a", 1, 1)]).unwrap();
    }
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1).unwrap();
    drop(conn);
    assert!(matches!(SqliteStore::open(&db), Err(HistoryError::SchemaTooNew { .. })));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn writer_batches_and_flushes() {
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let w = HistoryWriter::spawn(
        store.clone(),
        WriterConfig {
            batch_size: 10,
            ..Default::default()
        },
    )
    .unwrap();
    for t in 0..95 {
        w.record(record("a", t, 1));
    }
    w.flush().unwrap();
    assert_eq!(store.count(&RecordQuery::default()).unwrap(), 95);
    assert_eq!(w.written(), 95);
    assert!(w.batches() >= 10);
    assert_eq!(w.dropped(), 0);
    w.shutdown();
    w.record(record("a", 100, 1));
    assert_eq!(w.dropped(), 1);
    assert!(w.flush().is_err());
}

/// A store whose inserts wait until the test opens the gate.
struct GatedStore {
    inner: SqliteStore,
    open: AtomicBool,
}

impl HistoryStore for GatedStore {
    fn insert_batch(&self, r: &[ExecutionRecord]) -> Result<Vec<i64>, HistoryError> {
        while !self.open.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(1));
        }
        self.inner.insert_batch(r)
    }
    fn query(&self, q: &RecordQuery) -> Result<Vec<StoredRecord>, HistoryError> {
        self.inner.query(q)
    }
    fn count(&self, q: &RecordQuery) -> Result<u64, HistoryError> {
        self.inner.count(q)
    }
    fn tasks(&self) -> Result<Vec<String>, HistoryError> {
        self.inner.tasks()
    }
    fn duration_percentiles(&self, q: &RecordQuery, qs: &[f64]) -> Result<Option<Vec<u64>>, HistoryError> {
        self.inner.duration_percentiles(q, qs)
    }
    fn mark_anomaly(&self, id: i64, a: bool) -> Result<(), HistoryError> {
        self.inner.mark_anomaly(id, a)
    }
    fn file_access_patterns(
        &self,
        q: &RecordQuery,
    ) -> Result<Vec<servicetask_history::FileAccessPattern>, HistoryError> {
        self.inner.file_access_patterns(q)
    }
}

#[test]
fn full_queue_drops_and_counts_without_blocking() {
    let store = Arc::new(GatedStore {
        inner: SqliteStore::open_in_memory().unwrap(),
        open: AtomicBool::new(false),
    });
    let cfg = WriterConfig {
        capacity: 8,
        batch_size: 4,
        batch_interval: Duration::from_millis(1),
    };
    let w = HistoryWriter::spawn(store.clone(), cfg).unwrap();
    // the writer holds at most one batch of 4 while blocked; the queue holds 8 more
    for t in 0..100 {
        w.record(record("a", t, 1));
    }
    let dropped = w.dropped();
    assert!((100 - 12..=100 - 8).contains(&dropped), "dropped {dropped}");
    store.open.store(true, Ordering::SeqCst);
    w.flush().unwrap();
    assert_eq!(store.count(&RecordQuery::default()).unwrap() + dropped, 100);
}
