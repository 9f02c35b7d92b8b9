//! Schema v3: a dependency's network bytes and failures by error class are stored and read
//! back, and a database written by v2 is migrated in place (its rows read with zero bytes and
//! no classes).

use std::collections::BTreeMap;

use rusqlite::Connection;
use servicetask_core::record::{DependencyUse, ExecutionRecord, OutcomeKind};
use servicetask_history::{HistoryStore, RecordQuery, SqliteStore, MIGRATIONS, SCHEMA_VERSION};

#[test]
fn bytes_and_error_classes_round_trip() {
    let s = SqliteStore::open_in_memory().unwrap();
    let mut r = ExecutionRecord::new("fetch", 1_000, 5_000, OutcomeKind::Complete);
    r.dependencies.push(DependencyUse {
        name: "payments".into(),
        calls: 6,
        failures: 3,
        total_ns: 9_000,
        bytes_sent: 1_234,
        bytes_received: 56_789,
        errors: BTreeMap::from([("network".to_string(), 1), ("dependency".to_string(), 2)]),
    });
    r.dependencies.push(DependencyUse {
        calls: 1,
        ..DependencyUse::named("cache")
    });
    s.insert_batch(std::slice::from_ref(&r)).unwrap();
    let got = s.query(&RecordQuery::default()).unwrap();
    assert_eq!(got[0].record, r);
    assert_eq!(got[0].record.net_bytes_sent(), 1_234);
    assert_eq!(got[0].record.net_bytes_received(), 56_789);
}

#[test]
fn a_v2_database_is_migrated_and_its_rows_read() {
    let dir = std::env::temp_dir().join(format!("st-hist-v2-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("h.db");
    let _ = std::fs::remove_file(&path);
    {
        let conn = Connection::open(&path).unwrap();
        for m in &MIGRATIONS[..2] {
            conn.execute_batch(m).unwrap();
        }
        conn.pragma_update(None, "user_version", 2).unwrap();
        conn.execute_batch(
            "INSERT INTO batches (id, written_at_unix_ns, records) VALUES (1, 0, 1);
             INSERT INTO executions (id, batch_id, task, started_at, duration_ns, outcome, bytes_read,
                 bytes_written, attempts, fallback_used) VALUES (1, 1, 'old', 5, 7, 'complete', 0, 0, 1, 0);
             INSERT INTO dependency_use (execution_id, name, calls, failures, total_ns)
                 VALUES (1, 'payments', 2, 1, 300);",
        )
        .unwrap();
    }
    let s = SqliteStore::open(&path).unwrap();
    assert_eq!(s.schema_version().unwrap(), SCHEMA_VERSION);
    const { assert!(SCHEMA_VERSION >= 3) };
    let got = s.query(&RecordQuery::default()).unwrap();
    let d = &got[0].record.dependencies[0];
    assert_eq!((d.calls, d.failures, d.total_ns), (2, 1, 300));
    assert_eq!((d.bytes_sent, d.bytes_received), (0, 0));
    assert!(d.errors.is_empty());
    drop(s);
    let _ = std::fs::remove_dir_all(&dir);
}
