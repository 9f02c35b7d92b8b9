//! `cx.batch(items)` read through the OpenTelemetry SDK's in-memory exporters: 100,000 items
//! with progress in order and a bounded number of spans, the partial-failure policies, failed
//! items retried under the task's retry policy, progress observers, and a batch dropped midway
//! whose retry skips the items already checkpointed, in memory and in a SQLite file. (A real
//! process killed with SIGKILL and run again: `examples/my-tasks/tests/batch_kill.rs`.)

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

use opentelemetry::Context;
use servicetask::batch::{Batch, BatchObserver, BatchProgress, Checkpoint, FailurePolicy, MemoryCheckpoint};
use servicetask::semconv::event::{BATCH_ITEM_FAILED, BATCH_PROGRESS};
use servicetask::testing::TestTelemetry;
use servicetask::{
    task_fn, ContextParts, ErrorClass, ProcessInfo, RunOptions, Runner, TaskConfig, TaskContext, TaskError,
    TaskOutcome, TrackingConfig,
};

const N: u64 = 100_000;

fn context(t: &TestTelemetry, idempotency_key: Option<&str>) -> TaskContext {
    TaskContext::new(ContextParts {
        task: "import".into(),
        otel: Context::new(),
        telemetry: t.telemetry(),
        process: ProcessInfo {
            idempotency_key: idempotency_key.map(Into::into),
            ..ProcessInfo::default()
        },
        variables: serde_json::Map::new(),
        tracking: TrackingConfig::default(),
        dependencies: None,
    })
}

fn int_attr(attrs: &[opentelemetry::KeyValue], key: &str) -> Option<i64> {
    attrs
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .and_then(|kv| match kv.value {
            opentelemetry::Value::I64(v) => Some(v),
            _ => None,
        })
}

#[tokio::test]
async fn hundred_thousand_items_report_progress_in_order_with_bounded_spans() {
    let t = TestTelemetry::new();
    let runner = Runner::builder().telemetry(t.telemetry()).build();
    let seen: Arc<Mutex<Vec<BatchProgress>>> = Arc::default();
    let seen_in_task = seen.clone();
    let task = task_fn(TaskConfig::named("import"), move |cx: TaskContext, n: u64| {
        let seen = seen_in_task.clone();
        async move {
            let summary = cx
                .batch(0..n)
                .name("rows")
                .concurrency(16)
                .failure_policy(FailurePolicy::Tolerate(1000))
                .on_progress(move |p| seen.lock().unwrap().push(p.clone()))
                .run(|i| async move {
                    if i % 1000 == 7 {
                        Err(TaskError::validation(format!("row {i} is malformed")))
                    } else {
                        Ok(())
                    }
                })
                .await?;
            Ok::<_, TaskError>((summary.progress.done, summary.progress.failed, summary.durations.count))
        }
    });
    let handle = runner.register(task).unwrap();
    let out = handle.run_with(N, RunOptions::default()).await;
    assert!(matches!(out, TaskOutcome::Complete((99_900, 100, N))), "{out:?}");

    // The callback: a report per hundredth and one at the end, never going backwards.
    let seen = seen.lock().unwrap();
    assert!((100..=102).contains(&seen.len()), "{} reports", seen.len());
    for w in seen.windows(2) {
        assert!(
            w[0].processed() <= w[1].processed() && w[0].failed <= w[1].failed,
            "{w:?}"
        );
    }
    let last = seen.last().unwrap();
    assert_eq!((last.done, last.failed, last.total), (99_900, 100, Some(N)));
    assert!(seen.iter().all(|p| p.rate > 0.0 || p.processed() == 0));
    assert!(seen[seen.len() / 2].eta.is_some(), "a known total gives a time left");

    // Spans: the execution, the batch, and a bounded sample of items, not 100,000.
    let spans = t.spans();
    let items = spans.iter().filter(|s| s.name == "batch item").count();
    assert!((1..=100).contains(&items), "{items} item spans");
    assert!(spans.len() <= 102, "{} spans", spans.len());
    let batch = t.span("batch rows");
    assert_eq!(batch.parent_span_id, t.span("import").span_context.span_id());
    let events: Vec<_> = batch.events.iter().filter(|e| e.name == BATCH_PROGRESS).collect();
    assert_eq!(events.len(), seen.len());
    let done: Vec<i64> = events
        .iter()
        .map(|e| int_attr(&e.attributes, "servicetask.batch.done").unwrap())
        .collect();
    assert!(done.windows(2).all(|w| w[0] <= w[1]), "progress events out of order");
    assert_eq!(*done.last().unwrap(), 99_900);
    let failed_events = batch.events.iter().filter(|e| e.name == BATCH_ITEM_FAILED).count();
    assert_eq!(failed_events, 20, "failed items are kept up to a cap");
    assert_eq!(
        int_attr(&batch.attributes, "servicetask.batch.item.count"),
        Some(N as i64)
    );

    // Metrics by outcome.
    let items = t.metric("servicetask.batch.items");
    let by = |o: &str| {
        items
            .iter()
            .filter(|p| p.attr("servicetask.outcome").as_deref() == Some(o))
            .map(|p| p.value)
            .sum::<f64>()
    };
    assert_eq!((by("success"), by("failure"), by("skipped")), (99_900.0, 100.0, 0.0));
    assert!(!t.metric("servicetask.batch.rate").is_empty());
}

#[tokio::test]
async fn small_batches_get_a_span_per_item() {
    let t = TestTelemetry::new();
    let cx = context(&t, None);
    let summary = cx
        .batch(0..50u32)
        .run(|_| async { Ok::<_, TaskError>(()) })
        .await
        .unwrap();
    assert_eq!(summary.progress.done, 50);
    assert_eq!(t.spans().iter().filter(|s| s.name == "batch item").count(), 50);
}

#[tokio::test]
async fn fail_fast_stops_at_the_first_failure_with_its_class() {
    let t = TestTelemetry::new();
    let cx = context(&t, None);
    let ran = AtomicU64::new(0);
    let err = cx
        .batch(0..N)
        .concurrency(4)
        .run(|i| {
            ran.fetch_add(1, Ordering::Relaxed);
            async move {
                match i {
                    500 => Err(TaskError::dependency("the ledger refused")),
                    _ => Ok(()),
                }
            }
        })
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Dependency);
    assert!(
        err.message().contains("item 500: the ledger refused"),
        "{}",
        err.message()
    );
    assert!(
        ran.load(Ordering::Relaxed) < 520,
        "the batch went on after failing fast"
    );
    assert_eq!(
        t.span("batch items").status,
        opentelemetry::trace::Status::error(err.message().to_string())
    );
}

#[tokio::test]
async fn a_fraction_is_tolerated_and_one_more_failure_is_not() {
    let t = TestTelemetry::new();
    let cx = context(&t, None);
    let fail_every_20th = |i: u64| async move {
        if i % 20 == 0 {
            Err(TaskError::validation("bad"))
        } else {
            Ok(())
        }
    };
    let ok = cx
        .batch(0..N)
        .failure_policy(FailurePolicy::TolerateFraction(0.05))
        .run(fail_every_20th)
        .await
        .unwrap();
    assert_eq!((ok.progress.done, ok.progress.failed), (95_000, 5_000));
    assert_eq!(ok.failures.len(), 20);

    let err = cx
        .batch(0..N)
        .failure_policy(FailurePolicy::TolerateFraction(0.01))
        .run(fail_every_20th)
        .await
        .unwrap_err();
    assert!(
        err.message().contains("1001 of 100000 items failed"),
        "{}",
        err.message()
    );

    let err = cx
        .batch(0..N)
        .failure_policy(FailurePolicy::Tolerate(3))
        .run(fail_every_20th)
        .await
        .unwrap_err();
    assert!(err.message().contains("4 of 100000 items failed"), "{}", err.message());
}

/// The resumable batch of the drop test, the same on both attempts.
fn rows<'a, C: Checkpoint>(cx: &'a TaskContext, store: &Arc<C>) -> Batch<'a, std::ops::Range<u64>> {
    cx.batch(0..N)
        .name("rows")
        .concurrency(8)
        .key(|i| format!("row-{i}"))
        .checkpoint(store.clone())
}

#[tokio::test]
async fn a_batch_dropped_midway_then_retried_skips_the_items_done() {
    let t = TestTelemetry::new();
    let store = Arc::new(MemoryCheckpoint::new());
    let runs: Arc<Vec<AtomicU8>> = Arc::new((0..N).map(|_| AtomicU8::new(0)).collect());

    // First attempt: items from 50,000 on never finish; when the first of them starts, the
    // execution is abandoned (its future dropped), as a cancelled or killed attempt would be.
    let first = context(&t, Some("job-7"));
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let stop_tx = Mutex::new(Some(stop_tx));
    let batch = rows(&first, &store).run(|i| {
        let runs = runs.clone();
        let stop = (i >= N / 2).then(|| stop_tx.lock().unwrap().take()).flatten();
        async move {
            if i >= N / 2 {
                if let Some(stop) = stop {
                    let _ = stop.send(());
                }
                std::future::pending::<()>().await;
            }
            runs[i as usize].fetch_add(1, Ordering::Relaxed);
            Ok::<_, TaskError>(())
        }
    });
    tokio::select! {
        r = batch => panic!("the batch finished: {r:?}"),
        _ = stop_rx => {}
    }
    // every item below N / 2 finished before the batch stalled on the hanging ones: the groups
    // saved and, from the dropped batch's destructor, the rest
    let acknowledged = store.done("job-7/rows") as u64;
    assert_eq!(acknowledged, N / 2, "keys acknowledged");

    // The retry (same idempotency key) skips exactly what was acknowledged.
    let second = context(&t, Some("job-7"));
    let ran_again = AtomicU64::new(0);
    let summary = rows(&second, &store)
        .run(|i| {
            let runs = runs.clone();
            if runs[i as usize].load(Ordering::Relaxed) > 0 {
                ran_again.fetch_add(1, Ordering::Relaxed);
            }
            async move {
                runs[i as usize].fetch_add(1, Ordering::Relaxed);
                Ok::<_, TaskError>(())
            }
        })
        .await
        .unwrap();
    assert_eq!(summary.progress.skipped, acknowledged);
    assert_eq!(summary.progress.done, N);
    assert_eq!(summary.durations.count, N - acknowledged);
    assert!(
        runs.iter().all(|r| r.load(Ordering::Relaxed) >= 1),
        "an item was never done"
    );
    // No item done before the drop runs twice.
    assert_eq!(ran_again.load(Ordering::Relaxed), 0, "items ran twice");
    assert_eq!(store.done("job-7/rows") as u64, N);

    // Another execution (another key) starts from nothing.
    let other = context(&t, Some("job-8"));
    let s = other
        .batch(0..10u64)
        .name("rows")
        .checkpoint(store.clone())
        .run(|_| async { Ok::<_, TaskError>(()) })
        .await
        .unwrap();
    assert_eq!(s.progress.skipped, 0);
}

#[tokio::test]
async fn the_runners_retry_of_a_failed_attempt_skips_the_items_checkpointed() {
    let t = TestTelemetry::new();
    let runner = Runner::builder().telemetry(t.telemetry()).build();
    let store = Arc::new(MemoryCheckpoint::new());
    let task_store = store.clone();
    let config = TaskConfig::builder("import")
        .retry(servicetask::RetryConfig {
            max_attempts: 3,
            initial_delay: std::time::Duration::from_millis(1),
            max_delay: std::time::Duration::from_millis(1),
            ..servicetask::RetryConfig::default()
        })
        .build();
    let task = task_fn(config, move |cx: TaskContext, n: u64| {
        let store = task_store.clone();
        async move {
            let attempt = cx.attempt();
            let summary = cx
                .batch(0..n)
                .checkpoint(store)
                .checkpoint_every(100)
                .run(|i| async move {
                    match (attempt, i) {
                        (1, 500) => Err(TaskError::network("connection reset")),
                        _ => Ok(()),
                    }
                })
                .await?;
            Ok::<_, TaskError>((attempt, summary.progress.skipped, summary.durations.count))
        }
    });
    let handle = runner.register(task).unwrap();
    let options = RunOptions {
        process: ProcessInfo {
            idempotency_key: Some("job-9".into()),
            ..ProcessInfo::default()
        },
        ..RunOptions::default()
    };
    let out = handle.run_with(1000, options).await;
    // Attempt 1 failed fast at item 500 after saving items 0..500; attempt 2 runs the rest.
    assert!(matches!(out, TaskOutcome::Complete((2, 500, 500))), "{out:?}");
    assert_eq!(store.done("job-9/items"), 1000);
}

/// Transient failures are tried again under the task's retry policy until they pass; a
/// failure whose class the policy does not retry, or that outlives its attempts, counts
/// against the failure policy once.
#[tokio::test]
async fn failed_items_are_retried_under_the_tasks_retry_policy() {
    let t = TestTelemetry::new();
    let cx = context(&t, None);
    let config = TaskConfig::builder("import")
        .retry_max_attempts(3)
        .retry_initial_delay(std::time::Duration::from_micros(100))
        .retry_max_delay(std::time::Duration::from_millis(1))
        .build();
    let attempts: Arc<Vec<AtomicU8>> = Arc::new((0..N).map(|_| AtomicU8::new(0)).collect());
    let summary = cx
        .batch(0..N)
        .concurrency(16)
        .retry(config.retry.clone())
        .failure_policy(FailurePolicy::Tolerate(200))
        .run(|i| {
            let attempt = attempts[i as usize].fetch_add(1, Ordering::Relaxed) + 1;
            async move {
                match i % 1000 {
                    // fails twice, then passes on the third and last attempt
                    1 if attempt < 3 => Err(TaskError::network("connection reset")),
                    // always fails: retried twice, then counted
                    2 => Err(TaskError::dependency("the ledger is down")),
                    // never retried
                    3 => Err(TaskError::validation("bad row")),
                    _ => Ok(()),
                }
            }
        })
        .await
        .unwrap();
    let p = &summary.progress;
    assert_eq!((p.done, p.failed), (N - 200, 200), "{p:?}");
    assert_eq!(p.retried, 100 * 2 + 100 * 2, "{p:?}");
    let runs = |rem: u64| {
        (0..N)
            .filter(|i| i % 1000 == rem)
            .map(|i| attempts[i as usize].load(Ordering::Relaxed))
            .collect::<std::collections::BTreeSet<_>>()
    };
    assert_eq!(runs(1), [3].into(), "three attempts each");
    assert_eq!(runs(2), [3].into(), "max_attempts is the cap");
    assert_eq!(runs(3), [1].into(), "validation errors are not retried");
    assert_eq!(runs(4), [1].into());
    assert_eq!(
        int_attr(&t.span("batch items").attributes, "servicetask.batch.retried"),
        Some(400)
    );
}

/// What the CLI's progress bar gets: every report of every batch, in order, ending at the total.
#[tokio::test]
async fn observers_receive_every_report_in_order() {
    #[derive(Default)]
    struct Seen(Mutex<Vec<(String, BatchProgress)>>);
    impl BatchObserver for Seen {
        fn on_batch_progress(&self, task: &str, batch: &str, progress: &BatchProgress) {
            if task == "observed" {
                self.0.lock().unwrap().push((batch.to_string(), progress.clone()));
            }
        }
    }
    let seen = Arc::new(Seen::default());
    servicetask::batch::observe(seen.clone());
    let t = TestTelemetry::new();
    let cx = TaskContext::new(ContextParts {
        task: "observed".into(),
        otel: Context::new(),
        telemetry: t.telemetry(),
        process: ProcessInfo::default(),
        variables: serde_json::Map::new(),
        tracking: TrackingConfig::default(),
        dependencies: None,
    });
    cx.batch(0..N)
        .name("lines")
        .run(|_| async { Ok::<_, TaskError>(()) })
        .await
        .unwrap();
    let seen = seen.0.lock().unwrap();
    assert!((100..=102).contains(&seen.len()), "{} reports", seen.len());
    assert!(seen.iter().all(|(b, _)| b == "lines"));
    assert!(seen.windows(2).all(|w| w[0].1.processed() <= w[1].1.processed()));
    assert_eq!(seen.last().unwrap().1.done, N);
}

/// The drop test against the durable store: the keys acknowledged before the drop are in the
/// file, and a new store on the same file (a new process) skips exactly those.
#[tokio::test]
async fn a_sqlite_checkpoint_resumes_a_dropped_batch_from_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checkpoint.db");
    let t = TestTelemetry::new();
    {
        let store = Arc::new(servicetask_history::SqliteCheckpoint::open(&path).unwrap());
        let first = context(&t, Some("job-11"));
        let batch = rows(&first, &store).run(|i| async move {
            if i >= 30_000 {
                std::future::pending::<()>().await;
            }
            Ok::<_, TaskError>(())
        });
        // the first 30,000 pass; the next eight hang: the attempt is abandoned
        let _ = tokio::time::timeout(std::time::Duration::from_millis(500), batch).await;
    }
    let store = Arc::new(servicetask_history::SqliteCheckpoint::open(&path).unwrap());
    let acknowledged = store.keys("job-11/rows").unwrap().len() as u64;
    assert_eq!(acknowledged, 30_000, "every row that finished was saved");
    let second = context(&t, Some("job-11"));
    let summary = rows(&second, &store)
        .run(|i| async move {
            assert!(i >= 30_000, "row {i} was done already");
            Ok::<_, TaskError>(())
        })
        .await
        .unwrap();
    assert_eq!((summary.progress.skipped, summary.progress.done), (30_000, N));
    assert_eq!(store.integrity().unwrap(), "ok");
}
