//! A damaged history fails loudly: the demo run again over a history whose pages were
//! overwritten exits non-zero, says the file is damaged and how to recover, and does not claim
//! a history it could not write.

use std::io::{Seek, SeekFrom, Write};
use std::path::Path;
use std::process::{Command, Output};

fn demo(cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_servicetask"))
        .args(["demo", "--dir", "d", "--files", "3", "--rows", "60"])
        .current_dir(cwd)
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .env_remove("OTEL_TRACES_EXPORTER")
        .env_remove("SERVICETASK_HISTORY")
        .output()
        .expect("run servicetask")
}

#[test]
fn the_demo_over_a_damaged_history_exits_non_zero_with_a_recovery_hint() {
    let dir = tempfile::tempdir().unwrap();
    let first = demo(dir.path());
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let db = dir.path().join("d/history.db");
    // every page but the first (header and schema) overwritten
    let len = std::fs::metadata(&db).unwrap().len();
    assert!(len > 4096, "the history has pages past the first");
    let mut f = std::fs::OpenOptions::new().write(true).open(&db).unwrap();
    f.seek(SeekFrom::Start(4096)).unwrap();
    f.write_all(&vec![0x5A; (len - 4096) as usize]).unwrap();
    drop(f);

    let second = demo(dir.path());
    let stdout = String::from_utf8_lossy(&second.stdout);
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_ne!(second.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stderr.contains("damaged") && stderr.contains(".recover"), "{stderr}");
    assert!(!stdout.contains("History:"), "{stdout}");
}
