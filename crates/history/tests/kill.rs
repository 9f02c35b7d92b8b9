//! A writer process killed with SIGKILL leaves an intact database holding a prefix of complete
//! batches, and the store reopens and keeps working after the crash.

use std::process::Command;
use std::time::{Duration, Instant};

use servicetask_core::record::{ExecutionRecord, OutcomeKind};
use servicetask_history::{HistoryStore, RecordQuery, SqliteStore};

#[test]
fn killed_writer_leaves_prefix_of_complete_batches() {
    let dir = std::env::temp_dir().join(format!("servicetask-kill-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("history.db");
    let mut child = Command::new(env!("CARGO_BIN_EXE_history-kill-writer"))
        .arg(&db)
        .spawn()
        .unwrap();

    // wait until a good number of batches is committed, then kill mid-run
    let start = Instant::now();
    loop {
        std::thread::sleep(Duration::from_millis(50));
        if let Ok(s) = SqliteStore::open(&db) {
            if s.count(&RecordQuery::default()).unwrap_or(0) >= 3000 {
                break;
            }
        }
        assert!(child.try_wait().unwrap().is_none(), "writer exited early");
        assert!(start.elapsed() < Duration::from_secs(120), "writer too slow");
    }
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();

    let store = SqliteStore::open(&db).unwrap();
    assert_eq!(store.integrity_check().unwrap(), vec!["ok".to_string()]);
    // every batch present is complete
    for (batch, declared, present) in store.batch_counts().unwrap() {
        assert_eq!(declared, present, "batch {batch} incomplete");
    }
    // and the records form a prefix: 0, 1, ..., n-1 in order
    let recs = store.query(&RecordQuery::default()).unwrap();
    assert!(recs.len() >= 3000);
    for (k, r) in recs.iter().enumerate() {
        assert_eq!(r.record.input_size, Some(k as u64));
        assert_eq!(r.record.files.len(), 1);
    }

    // reopened after the crash, the store accepts more
    let n = recs.len() as u64;
    store
        .insert_batch(&[ExecutionRecord::new("after", 0, 1, OutcomeKind::Complete)])
        .unwrap();
    drop(store);
    let store = SqliteStore::open(&db).unwrap();
    assert_eq!(store.count(&RecordQuery::default()).unwrap(), n + 1);
    assert_eq!(
        store.tasks().unwrap(),
        vec!["after".to_string(), "kill-test".to_string()]
    );
    let _ = std::fs::remove_dir_all(&dir);
}
