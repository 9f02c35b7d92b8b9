//! Stores that fail loudly and stay fast: a damaged file is detected (on open with
//! `open_checked`, and by the writer on its first failed batch) with the way to recover, and the
//! store's queries search indexes (checked with `EXPLAIN QUERY PLAN`).

use std::io::{Seek, SeekFrom, Write};
use std::sync::Arc;

use servicetask_core::record::{ExecutionRecord, FileAccess, FileAccessKind, OutcomeKind, RecordSink};
use servicetask_history::{HistoryError, HistoryStore, HistoryWriter, SqliteStore, WriterConfig, BATCH_COUNTS};

fn rec(i: i64) -> ExecutionRecord {
    let mut r = ExecutionRecord::new(format!("task{}", i % 7), i, 1000 + i as u64, OutcomeKind::Complete);
    r.files.push(FileAccess {
        path: format!("/data/file-{i}.csv"),
        kind: FileAccessKind::Read,
        bytes: 10,
        ops: 1,
        file_size: Some(10),
    });
    r
}

/// A history of `n` records, written and closed (checkpointed into the main file).
fn history(path: &std::path::Path, n: i64) {
    let store = SqliteStore::open(path).unwrap();
    let records: Vec<ExecutionRecord> = (0..n).map(rec).collect();
    for chunk in records.chunks(500) {
        store.insert_batch(chunk).unwrap();
    }
    drop(store);
}

/// Overwrites every page but the first (the header and schema) with garbage.
fn damage(path: &std::path::Path) {
    let len = std::fs::metadata(path).unwrap().len();
    assert!(len > 8192, "the file has pages to damage");
    let mut f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.seek(SeekFrom::Start(4096)).unwrap();
    f.write_all(&vec![0xA5; (len - 4096) as usize]).unwrap();
}

#[test]
fn a_damaged_file_is_refused_on_a_checked_open_with_a_recovery_hint() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    history(&db, 3000);
    assert!(SqliteStore::open_checked(&db).is_ok(), "a sound file opens");
    damage(&db);
    let err = SqliteStore::open_checked(&db).unwrap_err();
    assert!(err.is_damage(), "{err}");
    let text = err.to_string();
    assert!(text.contains("damaged") && text.contains(".recover"), "{text}");
}

#[test]
fn the_writer_reports_a_damaged_file_instead_of_losing_records_silently() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    history(&db, 3000);
    damage(&db);
    // an unchecked open succeeds (the first page is intact); writing is what fails
    let store = Arc::new(SqliteStore::open(&db).unwrap());
    let writer = HistoryWriter::spawn(store, WriterConfig::default()).unwrap();
    for i in 0..10 {
        writer.record(rec(10_000 + i));
    }
    writer.flush().unwrap();
    let err = writer.health().unwrap_err();
    assert!(matches!(err, HistoryError::Damaged { .. }), "{err}");
    assert!(err.to_string().contains(".recover"), "{err}");
    assert_eq!(writer.written(), 0);
}

#[test]
fn a_healthy_writer_reports_ok() {
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let writer = HistoryWriter::spawn(store, WriterConfig::default()).unwrap();
    writer.record(rec(1));
    writer.flush().unwrap();
    writer.health().unwrap();
}

/// Every query the store runs, as SQLite plans it: none scans a whole table when it filters.
#[test]
fn queries_search_indexes() {
    let store = SqliteStore::open_in_memory().unwrap();
    let plans = |sql: &str| store.query_plan(sql).unwrap().join(" | ");
    // the batch check's correlated count
    let p = plans(BATCH_COUNTS);
    assert!(p.contains("USING COVERING INDEX executions_batch"), "{p}");
    assert!(!p.contains("SCAN e"), "{p}");
    // records of a task in a time range
    let p = plans("SELECT e.id FROM executions e WHERE e.task = ? AND e.started_at >= ? AND e.started_at < ? ORDER BY e.started_at, e.id");
    assert!(
        p.contains("SEARCH e USING") && p.contains("INDEX executions_task_started"),
        "{p}"
    );
    // records in a time range
    let p = plans("SELECT e.id FROM executions e WHERE e.started_at >= ? ORDER BY e.started_at, e.id");
    assert!(p.contains("executions_started"), "{p}");
    // files and dependencies of the selected records
    let p = plans("SELECT execution_id FROM file_access WHERE execution_id BETWEEN ? AND ? ORDER BY rowid");
    assert!(
        p.contains("SEARCH file_access USING") && p.contains("INDEX file_access_execution"),
        "{p}"
    );
    let p = plans("SELECT execution_id FROM dependency_use WHERE execution_id BETWEEN ? AND ? ORDER BY rowid");
    assert!(
        p.contains("SEARCH dependency_use USING") && p.contains("INDEX dependency_use_execution"),
        "{p}"
    );
    // file patterns of a task: files found through the executions index
    let p = plans(
        "SELECT f.path FROM file_access f JOIN executions e ON e.id = f.execution_id WHERE e.task = ? AND e.started_at >= ?",
    );
    assert!(
        p.contains("executions_task_started") && p.contains("file_access_execution"),
        "{p}"
    );
}
