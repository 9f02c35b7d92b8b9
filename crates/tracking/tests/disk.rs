//! Block I/O per execution (Linux: `ru_inblock`/`ru_oublock` of the threads that did the work).
#![cfg(target_os = "linux")]

mod support;

use std::os::fd::AsRawFd as _;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use servicetask_core::TrackingConfig;
use servicetask_test_support::runtime::two_workers as rt;
use servicetask_tracking::TrackingLayer;
use support::{load, run, temp_dir, Harness};

const MIB: u64 = 1024 * 1024;

/// Flushes `path` to storage and drops it from the page cache, so the next read hits the disk.
fn evict(path: &std::path::Path) {
    let f = std::fs::File::open(path).unwrap();
    f.sync_all().unwrap();
    // SAFETY: valid fd; advice only.
    let rc = unsafe { libc::posix_fadvise(f.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
    assert_eq!(rc, 0);
}

#[test]
fn writes_count_the_pages_the_execution_dirtied_and_reads_what_missed_the_cache() {
    let dir = temp_dir("disk");
    let h = Harness::new();
    let layer = Arc::new(TrackingLayer::new(&TrackingConfig::default()));
    let writer = h.context("writer", TrackingConfig::default());
    let idle = h.context("idle", TrackingConfig::default());
    let path = dir.join("data.bin");
    let rt = rt();
    let p = path.clone();
    rt.block_on(async {
        let a = run(&layer, &writer, move |cx| {
            let p = p.clone();
            async move { cx.fs().write(&p, vec![9u8; 8 * MIB as usize]).await }
        });
        let b = run(&layer, &idle, |_cx| async {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            Ok(())
        });
        let (a, b) = tokio::join!(a, b);
        a.unwrap();
        b.unwrap();
    });
    assert!(writer.stats().disk_measured.load(Ordering::Relaxed));
    let written = load(&writer.stats().disk_write_bytes);
    assert!(
        (8 * MIB..=9 * MIB).contains(&written),
        "8 MiB of dirtied pages expected, got {written}"
    );
    assert_eq!(load(&idle.stats().disk_write_bytes), 0);

    evict(&path);
    let reader = h.context("reader", TrackingConfig::default());
    let p = path.clone();
    rt.block_on(run(&layer, &reader, move |cx| {
        let p = p.clone();
        async move { cx.fs().read(&p).await.map(|_| ()) }
    }))
    .unwrap();
    let read = load(&reader.stats().disk_read_bytes);
    assert!(
        (8 * MIB..=9 * MIB).contains(&read),
        "8 MiB from storage expected, got {read}"
    );
    // Read again: now from the page cache, so no block I/O, but the same tracked bytes.
    let again = h.context("again", TrackingConfig::default());
    let p = path.clone();
    rt.block_on(run(&layer, &again, move |cx| {
        let p = p.clone();
        async move { cx.fs().read(&p).await.map(|_| ()) }
    }))
    .unwrap();
    assert!(load(&again.stats().disk_read_bytes) < MIB);
    assert_eq!(load(&again.stats().bytes_read), 8 * MIB);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn disk_switch_off_measures_nothing() {
    let dir = temp_dir("disk-off");
    let tracking = TrackingConfig {
        disk_io: false,
        ..TrackingConfig::default()
    };
    let layer = Arc::new(TrackingLayer::new(&tracking));
    let cx = Harness::new().context("off", tracking);
    let p = dir.join("f");
    rt().block_on(run(&layer, &cx, move |cx| {
        let p = p.clone();
        async move { cx.fs().write(&p, vec![1u8; MIB as usize]).await }
    }))
    .unwrap();
    assert!(!cx.stats().disk_measured.load(Ordering::Relaxed));
    assert_eq!(load(&cx.stats().disk_write_bytes), 0);
    std::fs::remove_dir_all(dir).unwrap();
}
