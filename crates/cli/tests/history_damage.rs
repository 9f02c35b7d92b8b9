//! A damaged history fails loudly: the demo run again over a history whose pages were
//! overwritten exits non-zero, says the file is damaged and how to recover, and does not claim
//! a history it could not write.

use std::io::{Seek, SeekFrom, Write};
use std::path::Path;
use std::process::Output;

use servicetask_test_support::output::{clean_command, run, stderr, stdout, text};

fn demo(cwd: &Path) -> Output {
    run(clean_command(env!("CARGO_BIN_EXE_servicetask"))
        .args(["demo", "--dir", "d", "--files", "3", "--rows", "60"])
        .current_dir(cwd))
}

#[test]
fn the_demo_over_a_damaged_history_exits_non_zero_with_a_recovery_hint() {
    let dir = tempfile::tempdir().unwrap();
    let first = demo(dir.path());
    assert_eq!(first.status.code(), Some(0), "{}", text(&first));
    let db = dir.path().join("d/history.db");
    // every page but the first (header and schema) overwritten
    let len = std::fs::metadata(&db).unwrap().len();
    assert!(len > 4096, "the history has pages past the first");
    let mut f = std::fs::OpenOptions::new().write(true).open(&db).unwrap();
    f.seek(SeekFrom::Start(4096)).unwrap();
    f.write_all(&vec![0x5A; (len - 4096) as usize]).unwrap();
    drop(f);

    let second = demo(dir.path());
    let (stdout, stderr) = (stdout(&second), stderr(&second));
    assert_ne!(second.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stderr.contains("damaged") && stderr.contains(".recover"), "{stderr}");
    assert!(!stdout.contains("History:"), "{stdout}");
}
