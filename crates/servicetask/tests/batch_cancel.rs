//! A `cx.batch` cancelled midway leaves its checkpoint consistent, with each kind of store: no
//! key is acknowledged of an item that did not finish, and none is lost of one that did (the
//! batch's destructor hands the keys completed since its last group to `save_now`); the next
//! run with the same idempotency key skips exactly those and runs exactly the rest. A store that
//! cannot save without a runtime keeps whole groups only, and then only the items done after
//! the last group run twice.
//!
//! Two ways to cancel: the runner's own attempt timeout (`timeout.attempt`, the retry is the
//! next run), and aborting the tokio task that runs the execution (the next run is a new call
//! with the same key). Items from `HANG_FROM` on hang in the first run, so it stops with every
//! earlier item finished and `CONCURRENCY` items in flight.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use servicetask::batch::{Checkpoint, MemoryCheckpoint};
use servicetask::layer::BoxFuture;
use servicetask::testing::TestTelemetry;
use servicetask::{
    task_fn, ErrorClass, ProcessInfo, RetryConfig, RunOptions, Runner, ServiceTask, TaskConfig, TaskContext, TaskError,
    TaskOutcome,
};
use servicetask_history::SqliteCheckpoint;

const N: u64 = 20_000;
/// Items from here on hang in the first run, so its cancel finds it there.
const HANG_FROM: u64 = 7_250;
const GROUP: usize = 500;
const CONCURRENCY: usize = 8;
const SCOPE: &str = "job-cancel/rows";

/// What a run returns: its attempt, the items it skipped, the items it ran.
type Counts = (u32, u64, u64);

/// What the test sees of the import: how often each item finished, how many first-run items
/// are hanging, and the keys the store held when a later run started.
#[derive(Default)]
struct Seen {
    runs: Vec<AtomicU8>,
    hanging: AtomicUsize,
    found: Mutex<Option<HashSet<String>>>,
}

/// The import: `0..n` as one checkpointed batch; the first run (`first` says which) hangs from
/// `HANG_FROM` on, a later run records what the store held when it began.
fn import(
    config: TaskConfig,
    store: Arc<dyn Checkpoint>,
    seen: Arc<Seen>,
    first: impl Fn(&TaskContext) -> bool + Send + Sync + 'static,
) -> impl ServiceTask<Input = u64, Output = Counts> {
    let first = Arc::new(first);
    task_fn(config, move |cx: TaskContext, n: u64| {
        let (store, seen, first) = (store.clone(), seen.clone(), first.clone());
        async move {
            let first = first(&cx);
            if !first {
                *seen.found.lock().unwrap() = Some(store.load(SCOPE).await?);
            }
            let summary = cx
                .batch(0..n)
                .name("rows")
                .concurrency(CONCURRENCY)
                .key(|i| format!("row-{i}"))
                .checkpoint(store)
                .checkpoint_every(GROUP)
                .run(|i| {
                    let seen = seen.clone();
                    async move {
                        if first && i >= HANG_FROM {
                            seen.hanging.fetch_add(1, Ordering::SeqCst);
                            std::future::pending::<()>().await;
                        }
                        seen.runs[i as usize].fetch_add(1, Ordering::SeqCst);
                        Ok::<_, TaskError>(())
                    }
                })
                .await?;
            Ok::<_, TaskError>((cx.attempt(), summary.progress.skipped, summary.durations.count))
        }
    })
}

fn seen() -> Arc<Seen> {
    Arc::new(Seen {
        runs: (0..N).map(|_| AtomicU8::new(0)).collect(),
        ..Seen::default()
    })
}

fn keyed() -> RunOptions {
    RunOptions {
        process: ProcessInfo {
            idempotency_key: Some("job-cancel".into()),
            ..ProcessInfo::default()
        },
        ..RunOptions::default()
    }
}

/// The outcome of the run after the cancel, the keys that run found, and how often each item
/// finished.
struct After {
    out: TaskOutcome<Counts>,
    found: HashSet<String>,
    runs: Vec<u8>,
}

impl After {
    fn of(out: TaskOutcome<Counts>, seen: &Seen) -> After {
        After {
            out,
            found: seen.found.lock().unwrap().take().expect("a later run started"),
            runs: seen.runs.iter().map(|r| r.load(Ordering::SeqCst)).collect(),
        }
    }
}

/// The first attempt is cut by its 2 s timeout (far past the moment it stalls); the runner's
/// retry is the next run.
async fn cut_by_the_attempt_timeout(store: Arc<dyn Checkpoint>) -> After {
    let t = TestTelemetry::new();
    let runner = Runner::builder().telemetry(t.telemetry()).build();
    let config = TaskConfig::builder("import")
        .timeout_attempt(Duration::from_secs(2))
        .retry(RetryConfig {
            max_attempts: 2,
            initial_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(1),
            retry_on: Some(vec![ErrorClass::Timeout]),
            ..RetryConfig::default()
        })
        .build();
    let seen = seen();
    let handle = runner
        .register(import(config, store, seen.clone(), |cx| cx.attempt() == 1))
        .unwrap();
    let out = handle.run_with(N, keyed()).await;
    After::of(out, &seen)
}

/// The first execution's tokio task is aborted once it has stalled; a new execution with the
/// same idempotency key is the next run.
async fn aborted(store: Arc<dyn Checkpoint>) -> After {
    let t = TestTelemetry::new();
    let runner = Runner::builder().telemetry(t.telemetry()).build();
    let seen = seen();
    let calls = Arc::new(AtomicUsize::new(0));
    let first = {
        let calls = calls.clone();
        move |_: &TaskContext| calls.fetch_add(1, Ordering::SeqCst) == 0
    };
    let handle = runner
        .register(import(
            TaskConfig::builder("import").build(),
            store,
            seen.clone(),
            first,
        ))
        .unwrap();
    let running = tokio::spawn({
        let handle = handle.clone();
        async move { handle.run_with(N, keyed()).await }
    });
    let start = Instant::now();
    while seen.hanging.load(Ordering::SeqCst) < CONCURRENCY {
        assert!(start.elapsed() < Duration::from_secs(60), "the first run never stalled");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    running.abort();
    assert!(running.await.unwrap_err().is_cancelled());
    let out = handle.run_with(N, keyed()).await;
    After::of(out, &seen)
}

/// Loads and saves through the inner store but cannot save without a runtime (the trait's
/// default `save_now`), as a store over a network client would.
struct AwaitOnly(MemoryCheckpoint);

impl Checkpoint for AwaitOnly {
    fn load<'a>(&'a self, scope: &'a str) -> BoxFuture<'a, Result<HashSet<String>, TaskError>> {
        self.0.load(scope)
    }
    fn save<'a>(&'a self, scope: &'a str, keys: &'a [String]) -> BoxFuture<'a, Result<(), TaskError>> {
        self.0.save(scope, keys)
    }
}

/// The checks common to every store and cancel; `exact` for a store with `save_now`.
fn assert_consistent(after: After, expected_attempt: u32, exact: bool) {
    let acked = after.found.len() as u64;
    for key in &after.found {
        let i: u64 = key.strip_prefix("row-").unwrap().parse().unwrap();
        assert!(i < HANG_FROM, "{key} acknowledged but it never finished");
    }
    if exact {
        // every item that finished before the cancel, and only those
        assert_eq!(acked, HANG_FROM, "keys acknowledged");
    } else {
        // whole groups, at most one group short of what finished
        assert_eq!(acked % GROUP as u64, 0, "{acked} keys: whole groups only");
        assert!(
            (HANG_FROM - GROUP as u64..=HANG_FROM).contains(&acked),
            "{acked} keys acknowledged"
        );
    }
    // the next run skipped exactly those and ran the rest
    match after.out {
        TaskOutcome::Complete((attempt, skipped, ran)) => {
            assert_eq!((attempt, skipped, ran), (expected_attempt, acked, N - acked))
        }
        other => panic!("{other:?}"),
    }
    assert!(after.runs.iter().all(|&r| r >= 1), "an item never finished");
    assert!(after.runs.iter().all(|&r| r <= 2));
    let twice = after.runs.iter().filter(|&&r| r == 2).count() as u64;
    assert_eq!(
        twice,
        HANG_FROM - acked,
        "only finished items the store lacked ran twice"
    );
}

#[tokio::test]
async fn a_timed_out_or_aborted_batch_leaves_a_consistent_memory_checkpoint() {
    let store = Arc::new(MemoryCheckpoint::new());
    assert_consistent(cut_by_the_attempt_timeout(store.clone()).await, 2, true);
    assert_eq!(store.done(SCOPE) as u64, N);
    let store = Arc::new(MemoryCheckpoint::new());
    assert_consistent(aborted(store.clone()).await, 1, true);
    assert_eq!(store.done(SCOPE) as u64, N);
}

#[tokio::test]
async fn a_timed_out_batch_leaves_a_consistent_sqlite_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checkpoint.db");
    let store = Arc::new(SqliteCheckpoint::open(&path).unwrap());
    assert_consistent(cut_by_the_attempt_timeout(store.clone()).await, 2, true);
    drop(store);
    // a new connection (a new process) reads the same: every key, a sound file
    let reopened = SqliteCheckpoint::open(&path).unwrap();
    assert_eq!(reopened.keys(SCOPE).unwrap().len() as u64, N);
    assert_eq!(reopened.integrity().unwrap(), "ok");
}

#[tokio::test]
async fn an_aborted_batch_leaves_a_consistent_sqlite_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteCheckpoint::open(&dir.path().join("checkpoint.db")).unwrap());
    assert_consistent(aborted(store.clone()).await, 1, true);
    assert_eq!(store.keys(SCOPE).unwrap().len() as u64, N);
}

#[tokio::test]
async fn a_store_that_cannot_save_on_drop_keeps_whole_groups() {
    let store = Arc::new(AwaitOnly(MemoryCheckpoint::new()));
    assert_consistent(cut_by_the_attempt_timeout(store.clone()).await, 2, false);
    let store = Arc::new(AwaitOnly(MemoryCheckpoint::new()));
    assert_consistent(aborted(store.clone()).await, 1, false);
    assert_eq!(store.0.done(SCOPE) as u64, N);
}
