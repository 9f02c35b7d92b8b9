//! The tracking layer as a pipeline layer: attempts, memory fallback, access history, panics.

mod support;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use servicetask_core::layer::{AttemptResult, BoxFuture, Layer, Next};
use servicetask_core::{TaskContext, TaskError, TrackingConfig};
use servicetask_test_support::runtime::two_workers as rt;
use servicetask_tracking::{AccessPatternsConfig, TrackingLayer};
use support::{burn, load, run, temp_dir, FnInvoke, Harness};

const MS: u64 = 1_000_000;

#[test]
fn without_the_counting_allocator_memory_is_process_rss_labelled_process_wide() {
    let h = Harness::new();
    let config = TrackingConfig {
        process_rss: true,
        ..TrackingConfig::default()
    };
    let layer = Arc::new(TrackingLayer::new(&config));
    let cx = h.context("rss", config);
    rt().block_on(run(&layer, &cx, |_cx| async { Ok(()) })).unwrap();
    let s = cx.stats();
    assert!(s.mem_measured.load(Ordering::Relaxed));
    assert!(s.mem_process_wide.load(Ordering::Relaxed));
    #[cfg(target_os = "linux")]
    {
        assert!(load(&s.rss_start_bytes) > 0);
        assert!(load(&s.rss_end_bytes) > 0);
        assert!(load(&s.mem_peak) >= load(&s.rss_start_bytes).max(load(&s.rss_end_bytes)));
    }
}

/// A retry-like layer that runs the rest of the pipeline twice.
struct Twice;
impl Layer for Twice {
    fn call<'a>(&'a self, cx: &'a TaskContext, next: Next<'a>) -> BoxFuture<'a, AttemptResult> {
        Box::pin(async move {
            let _ = next.run(cx).await;
            cx.set_attempt(2);
            next.run(cx).await
        })
    }
}

#[test]
fn attempts_add_up_and_each_attempt_lands_once_in_the_access_history() {
    let dir = temp_dir("attempts");
    std::fs::write(dir.join("in"), b"0123456789").unwrap();
    let h = Harness::new();
    let tracking = TrackingLayer::new(&TrackingConfig::default());
    let history = tracking.access_history().clone();
    let layers: Vec<Arc<dyn Layer>> = vec![Arc::new(Twice), Arc::new(tracking)];
    let cx = h.context("twice", TrackingConfig::default());
    let p = dir.join("in");
    let body = FnInvoke(move |cx: TaskContext| {
        let p = p.clone();
        async move {
            burn(5 * MS);
            cx.fs().read(&p).await?;
            Ok::<(), TaskError>(())
        }
    });
    rt().block_on(Next::new(&layers, &body).run(&cx)).unwrap();
    assert!(load(&cx.stats().cpu_ns) >= 10 * MS);
    assert_eq!(load(&cx.stats().bytes_read), 20);
    let p = history.patterns("twice");
    assert_eq!(p.executions(), 2, "one entry per attempt, not the running total twice");
    let f = &p.files()[0];
    assert_eq!((f.read_ops, f.bytes_read, f.executions), (2, 20, 2));
    assert_eq!(p.frequent(&AccessPatternsConfig::default()).len(), 1);
    assert_eq!(p.read_heavy(&AccessPatternsConfig::default()).len(), 1);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_panicking_task_leaves_tracking_intact_for_the_next_executions() {
    let h = Harness::new();
    let layer = Arc::new(TrackingLayer::new(&TrackingConfig::default()));
    let rt = rt();
    let cx = h.context("panics", TrackingConfig::default());
    let l = layer.clone();
    let c = cx.clone();
    let joined = rt.block_on(async move {
        tokio::spawn(async move {
            run(&l, &c, |_cx| async {
                burn(MS);
                panic!("task bug");
            })
            .await
        })
        .await
    });
    assert!(joined.unwrap_err().is_panic());
    // The poll's bracket closed while unwinding: the panicking poll's CPU is counted.
    assert!(load(&cx.stats().cpu_ns) >= MS);
    let next = h.context("after", TrackingConfig::default());
    rt.block_on(run(&layer, &next, |_cx| async {
        burn(MS);
        Ok(())
    }))
    .unwrap();
    assert!(load(&next.stats().cpu_ns) >= MS);
}

#[test]
fn spawned_work_counts_only_when_tracked() {
    let h = Harness::new();
    let layer = Arc::new(TrackingLayer::new(&TrackingConfig::default()));
    let plain = h.context("plain", TrackingConfig::default());
    let tracked = h.context("tracked", TrackingConfig::default());
    let rt = rt();
    rt.block_on(run(&layer, &plain, |_cx| async {
        tokio::spawn(async { burn(20 * MS) }).await.unwrap();
        Ok(())
    }))
    .unwrap();
    rt.block_on(run(&layer, &tracked, |cx| async move {
        tokio::spawn(servicetask_tracking::track(&cx, async { burn(20 * MS) }))
            .await
            .unwrap();
        let c = cx.clone();
        tokio::task::spawn_blocking(move || servicetask_tracking::run_blocking(&c, || burn(20 * MS)))
            .await
            .unwrap();
        Ok(())
    }))
    .unwrap();
    assert!(load(&plain.stats().cpu_ns) < 5 * MS, "{}", load(&plain.stats().cpu_ns));
    assert!(
        load(&tracked.stats().cpu_ns) >= 40 * MS,
        "{}",
        load(&tracked.stats().cpu_ns)
    );
}

/// A timeout drops the attempt's future mid-way: what it consumed up to then is kept and its
/// books are closed (access history entry, end RSS).
#[test]
fn a_cancelled_attempt_keeps_what_it_consumed() {
    let dir = temp_dir("cancelled");
    std::fs::write(dir.join("in"), b"abc").unwrap();
    let h = Harness::new();
    let rss = TrackingConfig {
        process_rss: true,
        ..TrackingConfig::default()
    };
    let layer = Arc::new(TrackingLayer::new(&rss));
    let cx = h.context("slow", rss);
    let p = dir.join("in");
    let out = rt().block_on(async {
        let attempt = run(&layer, &cx, move |cx| {
            let p = p.clone();
            async move {
                cx.fs().read(&p).await?;
                loop {
                    burn(MS);
                    tokio::task::yield_now().await;
                }
            }
        });
        tokio::time::timeout(std::time::Duration::from_millis(50), attempt).await
    });
    assert!(out.is_err(), "timed out");
    assert!(load(&cx.stats().cpu_ns) >= MS);
    assert_eq!(layer.access_history().patterns("slow").executions(), 1);
    #[cfg(target_os = "linux")]
    assert!(load(&cx.stats().rss_end_bytes) > 0);
    std::fs::remove_dir_all(dir).unwrap();
}
