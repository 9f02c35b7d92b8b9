//! Test helper: writes numbered records through a `HistoryWriter` until killed.
//!
//! `history-kill-writer DB` writes record `k` (with `input_size = k`) for k = 0, 1, 2, ...,
//! retrying when the queue is full so no number is skipped. `tests/kill.rs` kills it with
//! SIGKILL and checks what survived.

use std::sync::Arc;
use std::time::Duration;

use servicetask_core::record::{ExecutionRecord, FileAccess, FileAccessKind, OutcomeKind};
use servicetask_history::{HistoryWriter, SqliteStore, WriterConfig};

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: history-kill-writer DB");
        std::process::exit(2);
    };
    let store = match SqliteStore::open(&path) {
        Ok(s) => Arc::new(s),
        Err(e) => {
            eprintln!("history-kill-writer: {e}");
            std::process::exit(1);
        }
    };
    let cfg = WriterConfig {
        capacity: 1024,
        batch_size: 64,
        batch_interval: Duration::from_millis(5),
    };
    let writer = match HistoryWriter::spawn(store, cfg) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("history-kill-writer: {e}");
            std::process::exit(1);
        }
    };
    for k in 0u64.. {
        let mut r = ExecutionRecord::new("kill-test", k as i64, 1_000 + k, OutcomeKind::Complete);
        r.input_size = Some(k);
        r.files.push(FileAccess {
            path: "in.txt".into(),
            kind: FileAccessKind::Read,
            bytes: k,
            ops: 1,
            file_size: None,
        });
        let mut pending = r;
        while let Err(back) = writer.try_record(pending) {
            pending = *back;
            std::thread::sleep(Duration::from_micros(200));
        }
        if k % 64 == 0 {
            std::thread::sleep(Duration::from_micros(100));
        }
    }
}
