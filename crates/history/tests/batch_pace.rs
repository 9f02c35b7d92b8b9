//! A batch's time left from the task's history: with past runs of the batch in a real
//! [`SqliteBatchPace`] file registered through `batch::predict_from`, the first progress report
//! already predicts the time from their pace; without a history it is the run's own rate; and
//! every run's pace is recorded for the next.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use servicetask_core::batch::{predict_from, BatchProgress};
use servicetask_core::TaskContext;
use servicetask_history::SqliteBatchPace;

/// The process's one registered store, in a file under a temp dir kept for the process.
fn store() -> Arc<SqliteBatchPace> {
    static STORE: OnceLock<(tempfile::TempDir, Arc<SqliteBatchPace>)> = OnceLock::new();
    STORE
        .get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let store = Arc::new(SqliteBatchPace::open(&dir.path().join("pace.db")).unwrap());
            predict_from(store.clone());
            (dir, store)
        })
        .1
        .clone()
}

/// Runs 1,000 quick items of batch `rows` in `task`; returns the first progress report.
fn first_report(task: &str) -> BatchProgress {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let cx = TaskContext::detached(task);
    let first: Mutex<Option<BatchProgress>> = Mutex::new(None);
    rt.block_on(async {
        cx.batch(0..1000u32)
            .name("rows")
            .on_progress(|p| {
                first.lock().unwrap().get_or_insert_with(|| p.clone());
            })
            .run(|n| async move {
                std::hint::black_box(n);
                Ok::<(), servicetask_core::TaskError>(())
            })
            .await
            .unwrap();
    });
    first.into_inner().unwrap().expect("a progress report")
}

#[test]
fn past_runs_at_10_ms_an_item_predict_the_first_report() {
    let store = store();
    // three past runs of 1,000 items: 9, 10 and 30 s (median 10 ms an item)
    for secs in [9, 10, 30] {
        store
            .add("import-hist", "rows", 1000, Duration::from_secs(secs))
            .unwrap();
    }
    assert_eq!(
        store.median_per_item("import-hist", "rows").unwrap(),
        Some(Duration::from_millis(10))
    );
    let p = first_report("import-hist");
    assert_eq!((p.processed(), p.total), (10, Some(1000)));
    let eta = p.eta.expect("a time left").as_secs_f64();
    // 990 items left at the history's 10 ms (worth 100 items) blended with 10 quick items:
    // 990 * (100 * 10 ms + 10 * live) / 110, about 9 s; the run's own rate alone says well
    // under a second
    assert!((8.9..9.1).contains(&eta), "time left {eta} s");
    assert!(990.0 / p.rate < 1.0, "rate {}", p.rate);
    // the run itself was recorded: four runs now, median between 9 and 10 s a thousand items
    let median = store.median_per_item("import-hist", "rows").unwrap().unwrap();
    assert!(
        median > Duration::from_millis(9) && median < Duration::from_millis(10),
        "{median:?}"
    );
}

#[test]
fn without_history_the_time_left_is_the_run_rate() {
    store();
    let p = first_report("import-none");
    let eta = p.eta.expect("a time left").as_secs_f64();
    let at_rate = (1000 - p.processed()) as f64 / p.rate;
    assert!(
        (eta - at_rate).abs() <= at_rate * 1e-6,
        "time left {eta} s, at the rate {at_rate} s"
    );
    // and this first run is now the history of the next
    assert!(store().median_per_item("import-none", "rows").unwrap().is_some());
}
