//! Memory of `cx.batch` at scale, measured with the counting allocator installed in this test
//! binary (built only with `--features alloc-counter`): the execution's peak live bytes while
//! it runs a batch of 10,000 and of 100,000 items, one in a hundred failing under a tolerate
//! policy, stay under one bound that does not grow with the item count.

mod support;

use std::sync::Arc;

use servicetask_core::batch::FailurePolicy;
use servicetask_core::{TaskError, TrackingConfig};
use servicetask_tracking::{counting_allocator_installed, CountingAllocator, TrackingLayer};
use support::{load, run, Harness};

#[global_allocator]
static A: CountingAllocator = CountingAllocator::system();

const KIB: u64 = 1024;

/// Peak live bytes of one execution that runs a batch of `items` items (each allocating and
/// freeing a small row; every hundredth failing), traced, with metrics, 16 at a time.
fn batch_peak(items: u64) -> (u64, u64, u64) {
    let rt = servicetask_test_support::runtime::two_workers();
    let h = Harness::new();
    let layer = Arc::new(TrackingLayer::new(&TrackingConfig::default()));
    let cx = h.context("import", TrackingConfig::default());
    let counts = Arc::new(std::sync::Mutex::new((0u64, 0u64)));
    let seen = counts.clone();
    rt.block_on(run(&layer, &cx, move |cx| {
        let seen = seen.clone();
        async move {
            let summary = cx
                .batch(0..items)
                .name("rows")
                .concurrency(16)
                .failure_policy(FailurePolicy::Tolerate(items / 50))
                .run(|n| async move {
                    let row = format!("row {n}: {}", "x".repeat(64));
                    std::hint::black_box(&row);
                    tokio::task::yield_now().await;
                    if n % 100 == 7 {
                        Err(TaskError::validation(format!("row {n} is malformed")))
                    } else {
                        Ok(())
                    }
                })
                .await?;
            *seen.lock().unwrap() = (summary.progress.done, summary.progress.failed);
            Ok(())
        }
    }))
    .unwrap();
    let (done, failed) = *counts.lock().unwrap();
    let peak = load(&cx.stats().mem_peak);
    // the sampled item spans reached the exporter: the batch was traced, not skipped
    let spans = h.end(&cx);
    assert!(spans.iter().filter(|s| s.name == "batch item").count() >= 50);
    (peak, done, failed)
}

#[test]
fn a_100000_item_batch_peaks_no_higher_than_a_10000_item_one() {
    assert!(counting_allocator_installed());
    let (small, done, failed) = batch_peak(10_000);
    assert_eq!((done, failed), (9_900, 100));
    let (large, done, failed) = batch_peak(100_000);
    assert_eq!((done, failed), (99_000, 1_000));
    eprintln!("peak live bytes of the execution: 10,000 items {small} B, 100,000 items {large} B");
    // Per-item state would add at least 8 bytes an item: 720 KiB more at 100,000 items.
    assert!(
        large < small + 64 * KIB,
        "10,000 items: {small} B, 100,000 items: {large} B"
    );
    assert!(large < 1024 * KIB, "100,000 items peaked at {large} B");
}
