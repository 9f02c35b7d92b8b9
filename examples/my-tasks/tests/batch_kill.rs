//! A program of one's own that imports 100,000 rows in one execution (`cx.batch` with a
//! durable SQLite checkpoint), killed with SIGKILL in the middle and run again with the same
//! idempotency key, as a durable job host reruns a job: the second run skips exactly the rows
//! the checkpoint acknowledged before the kill and processes the rest, and the file passes
//! SQLite's integrity check.
//!
//! This test has its own `main` (`harness = false`): run with `IMPORT_ROWS=1` it is the importer
//! (`CHECKPOINT.db IDEMPOTENCY_KEY ROWS [ITEM_MICROS]`; it prints `progress DONE FAILED SKIPPED
//! TOTAL` at every hundredth and `summary DONE FAILED SKIPPED RAN` at the end), otherwise the
//! test, which starts itself as the importer in a real child process.

use std::io::{BufRead, BufReader};
use std::process::ExitCode;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use servicetask::batch::FailurePolicy;
use servicetask::{task_fn, ProcessInfo, RunOptions, Runner, TaskConfig, TaskContext, TaskError, TaskOutcome};

use servicetask_history::SqliteCheckpoint;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if std::env::var_os("IMPORT_ROWS").is_some() {
        return import(&args);
    }
    // `cargo test -- --list` and filters: one test, named as a harness would name it
    const NAME: &str = "a_killed_import_resumes_where_its_checkpoint_stopped";
    if args.iter().any(|a| a == "--list") {
        println!("{NAME}: test");
        return ExitCode::SUCCESS;
    }
    if let Some(filter) = args.iter().find(|a| !a.starts_with('-')) {
        if !NAME.contains(filter.as_str()) {
            println!("test result: ok. 0 passed; 0 failed; 0 ignored; 1 filtered out");
            return ExitCode::SUCCESS;
        }
    }
    println!("running 1 test");
    a_killed_import_resumes_where_its_checkpoint_stopped();
    println!("test {NAME} ... ok\n\ntest result: ok. 1 passed; 0 failed");
    ExitCode::SUCCESS
}

/// This program as the importer.
fn importer() -> Command {
    let mut c = Command::new(std::env::current_exe().expect("the test's own path"));
    c.env("IMPORT_ROWS", "1");
    c
}

const ROWS: u64 = 100_000;

/// `progress DONE FAILED SKIPPED TOTAL` -> the numbers.
fn numbers(line: &str, word: &str) -> Option<Vec<u64>> {
    let rest = line.strip_prefix(word)?;
    rest.split_whitespace().map(|n| n.parse().ok()).collect()
}

fn a_killed_import_resumes_where_its_checkpoint_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("checkpoint.db");
    let key = "order-42/import";
    // 20 µs of work per row: about two seconds for the whole batch
    let mut child = importer()
        .args([db.to_str().unwrap(), key, &ROWS.to_string(), "20"])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let mut last = 0;
    for line in stdout.lines() {
        let line = line.unwrap();
        let Some(p) = numbers(&line, "progress") else { continue };
        assert!(p[0] + p[1] >= last, "progress went backwards: {line}");
        last = p[0] + p[1];
        assert_eq!(p[3], ROWS, "{line}");
        if last >= ROWS * 3 / 10 {
            break;
        }
    }
    assert!(
        last >= ROWS * 3 / 10,
        "the child ended before a third of the rows: {last}"
    );
    // SIGKILL: no destructor, no final save runs
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success(), "{status:?}");

    let acknowledged = SqliteCheckpoint::open(&db)
        .unwrap()
        .keys(&format!("{key}/rows"))
        .unwrap();
    let acked = acknowledged.len() as u64;
    assert!(
        (1000..ROWS).contains(&acked),
        "{acked} rows acknowledged before the kill"
    );
    // keys are saved a thousand at a time, as they complete
    assert!(acked + 1000 >= last, "{acked} acknowledged, {last} reported done");

    // the same execution again: the rows acknowledged are skipped, the others run
    let out = importer()
        .args([db.to_str().unwrap(), key, &ROWS.to_string(), "0"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let progress: Vec<Vec<u64>> = text.lines().filter_map(|l| numbers(l, "progress")).collect();
    assert!(
        progress.windows(2).all(|w| w[0][0] + w[0][1] <= w[1][0] + w[1][1]),
        "progress out of order"
    );
    let summary = text.lines().find_map(|l| numbers(l, "summary")).expect(&text);
    let (done, failed, skipped, ran) = (summary[0], summary[1], summary[2], summary[3]);
    assert_eq!((done, failed), (ROWS, 0), "{text}");
    assert_eq!(skipped, acked, "every acknowledged row is skipped, and only those");
    assert_eq!(ran, ROWS - acked, "the rest run once");

    let store = SqliteCheckpoint::open(&db).unwrap();
    assert_eq!(store.integrity().unwrap(), "ok");
    let keys = store.keys(&format!("{key}/rows")).unwrap();
    assert_eq!(
        keys.len() as u64,
        ROWS,
        "every row is acknowledged after the second run"
    );
}

/// One row's work: `micros` of CPU (a stand-in for parsing and writing it).
fn work(row: u64, micros: u64) -> Result<(), TaskError> {
    let until = Instant::now() + Duration::from_micros(micros);
    while Instant::now() < until {
        std::hint::black_box(row);
    }
    Ok(())
}

/// The importer: `ARGS` are `CHECKPOINT.db IDEMPOTENCY_KEY ROWS [ITEM_MICROS]`.
fn import(args: &[String]) -> ExitCode {
    let (Some(db), Some(key), Some(rows)) = (args.first(), args.get(1), args.get(2).and_then(|r| r.parse().ok()))
    else {
        eprintln!("usage: import-rows CHECKPOINT.db IDEMPOTENCY_KEY ROWS [ITEM_MICROS]");
        return ExitCode::from(2);
    };
    let micros: u64 = args.get(3).and_then(|m| m.parse().ok()).unwrap_or(0);
    let checkpoint = match SqliteCheckpoint::open(std::path::Path::new(db)) {
        Ok(c) => Arc::new(c),
        Err(e) => {
            eprintln!("import-rows: {db}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let ran = Arc::new(AtomicU64::new(0));
    let ran_in_task = ran.clone();
    let task = task_fn(TaskConfig::named("import_rows"), move |cx: TaskContext, rows: u64| {
        let (checkpoint, ran) = (checkpoint.clone(), ran_in_task.clone());
        async move {
            let summary = cx
                .batch(0..rows)
                .name("rows")
                .concurrency(8)
                .failure_policy(FailurePolicy::TolerateFraction(0.01))
                .checkpoint(checkpoint)
                .on_progress(|p| {
                    println!(
                        "progress {} {} {} {}",
                        p.done,
                        p.failed,
                        p.skipped,
                        p.total.unwrap_or(0)
                    )
                })
                .run(|row| {
                    let ran = ran.clone();
                    async move {
                        ran.fetch_add(1, Ordering::Relaxed);
                        work(row, micros)?;
                        // let the other rows in flight and the progress report take turns
                        tokio::task::yield_now().await;
                        Ok::<_, TaskError>(())
                    }
                })
                .await?;
            let p = summary.progress;
            Ok::<_, TaskError>((p.done, p.failed, p.skipped))
        }
    });
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("import-rows: {e}");
            return ExitCode::FAILURE;
        }
    };
    rt.block_on(async {
        let runner = Runner::builder().code_config_only().build();
        let handle = match runner.register(task) {
            Ok(h) => h,
            Err(e) => {
                eprintln!("import-rows: {e}");
                return ExitCode::FAILURE;
            }
        };
        let options = RunOptions {
            process: ProcessInfo {
                idempotency_key: Some(key.as_str().into()),
                ..ProcessInfo::default()
            },
            ..RunOptions::default()
        };
        match handle.run_with(rows, options).await {
            TaskOutcome::Complete((done, failed, skipped)) => {
                println!("summary {done} {failed} {skipped} {}", ran.load(Ordering::Relaxed));
                ExitCode::SUCCESS
            }
            other => {
                eprintln!("import-rows: {other:?}");
                ExitCode::FAILURE
            }
        }
    })
}
