//! Memory per execution with the counting allocator installed in this test binary (built only
//! with `--features alloc-counter`).

mod support;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use servicetask_core::TrackingConfig;
use servicetask_tracking::{counting_allocator_installed, CountingAllocator, TrackingLayer};
use support::{load, run, temp_dir, Harness};

#[global_allocator]
static A: CountingAllocator = CountingAllocator::system();

const MIB: u64 = 1024 * 1024;

#[test]
fn a_64_mib_allocation_is_charged_to_its_execution_and_not_to_its_neighbour() {
    assert!(counting_allocator_installed());
    let rt = servicetask_test_support::runtime::two_workers();
    let h = Harness::new();
    let layer = Arc::new(TrackingLayer::new(&TrackingConfig::default()));
    let big = h.context("big", TrackingConfig::default());
    let small = h.context("small", TrackingConfig::default());
    rt.block_on(async {
        let a = run(&layer, &big, |_cx| async {
            let mut v: Vec<u8> = Vec::with_capacity(64 * MIB as usize);
            v.resize(64 * MIB as usize, 1);
            // Held across polls (and maybe threads) while the neighbour runs.
            for _ in 0..5 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            std::hint::black_box(&v);
            drop(v);
            Ok(())
        });
        let b = run(&layer, &small, |_cx| async {
            for i in 0..20 {
                let s = format!("small allocation {i}");
                std::hint::black_box(&s);
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            Ok(())
        });
        let (a, b) = tokio::join!(a, b);
        a.unwrap();
        b.unwrap();
    });
    let s = big.stats();
    assert!(s.mem_measured.load(Ordering::Relaxed));
    assert!(!s.mem_process_wide.load(Ordering::Relaxed));
    assert!(load(&s.mem_peak) >= 64 * MIB, "peak {}", load(&s.mem_peak));
    assert!(load(&s.mem_allocated) >= 64 * MIB);
    assert!(load(&s.mem_freed) >= 64 * MIB);
    let n = small.stats();
    assert!(load(&n.mem_peak) < MIB, "neighbour peak {}", load(&n.mem_peak));
    assert!(
        load(&n.mem_allocated) > 0,
        "the neighbour's own small allocations are seen"
    );
    let attrs = servicetask_tracking::span_attributes(&big);
    assert_eq!(
        support::attr(&attrs, servicetask_core::semconv::SERVICETASK_MEMORY_SCOPE).map(|v| v.as_str().into_owned()),
        Some("execution".to_string())
    );
}

/// The buffer of a whole-file read is allocated on the blocking pool, inside the execution's
/// bracket, and so is charged to it.
#[test]
fn blocking_file_reads_allocate_for_the_execution() {
    let dir = temp_dir("alloc-read");
    std::fs::write(dir.join("f"), vec![3u8; 8 * MIB as usize]).unwrap();
    let rt = servicetask_test_support::runtime::two_workers();
    let h = Harness::new();
    let layer = Arc::new(TrackingLayer::new(&TrackingConfig::default()));
    let cx = h.context("reader", TrackingConfig::default());
    let path = dir.join("f");
    rt.block_on(run(&layer, &cx, move |cx| {
        let path = path.clone();
        async move {
            let data = cx.fs().read(&path).await?;
            assert_eq!(data.len() as u64, 8 * MIB);
            Ok(())
        }
    }))
    .unwrap();
    assert!(
        load(&cx.stats().mem_peak) >= 8 * MIB,
        "peak {}",
        load(&cx.stats().mem_peak)
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn memory_switch_off_leaves_memory_unmeasured() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let tracking = TrackingConfig {
        memory: false,
        ..TrackingConfig::default()
    };
    let layer = Arc::new(TrackingLayer::new(&tracking));
    let cx = Harness::new().context("off", tracking);
    rt.block_on(run(&layer, &cx, |_cx| async {
        std::hint::black_box(vec![0u8; 1 << 20]);
        Ok(())
    }))
    .unwrap();
    assert!(!cx.stats().mem_measured.load(Ordering::Relaxed));
    assert_eq!(load(&cx.stats().mem_allocated), 0);
}
