//! CPU time per execution, right while executions share the threads of a multi-thread runtime.

mod support;

use std::sync::Arc;
use std::time::Duration;

use servicetask_core::TrackingConfig;
use servicetask_tracking::TrackingLayer;
use support::{burn, load, run, Harness};

const MS: u64 = 1_000_000;

/// Two executions that burn about 200 ms of CPU in 5 ms polls run beside two that sleep 200 ms,
/// on a 2-worker runtime: every poll may land on either thread, between the others' polls.
#[test]
fn burner_reports_its_cpu_within_15_percent_and_sleeper_beside_it_almost_none() {
    let rt = servicetask_test_support::runtime::two_workers();
    let h = Harness::new();
    let layer = Arc::new(TrackingLayer::new(&TrackingConfig::default()));
    let burned = Arc::new(std::sync::atomic::AtomicU64::new(0));
    rt.block_on(async {
        let mut handles = Vec::new();
        for i in 0..4 {
            let cx = h.context(if i % 2 == 0 { "burn" } else { "sleep" }, TrackingConfig::default());
            let layer = layer.clone();
            let burned = burned.clone();
            handles.push(tokio::spawn(async move {
                let is_burner = i % 2 == 0;
                let own = Arc::new(std::sync::atomic::AtomicU64::new(0));
                let own2 = own.clone();
                run(&layer, &cx, move |_cx| {
                    let own = own2.clone();
                    async move {
                        if is_burner {
                            // Measured against the burning code's own thread CPU, poll by poll.
                            while own.load(std::sync::atomic::Ordering::Relaxed) < 200 * MS {
                                let b = burn(5 * MS);
                                own.fetch_add(b, std::sync::atomic::Ordering::Relaxed);
                                tokio::task::yield_now().await;
                            }
                        } else {
                            tokio::time::sleep(Duration::from_millis(200)).await;
                        }
                        Ok(())
                    }
                })
                .await
                .unwrap();
                if is_burner {
                    burned.fetch_add(
                        own.load(std::sync::atomic::Ordering::Relaxed),
                        std::sync::atomic::Ordering::Relaxed,
                    );
                }
                (is_burner, own.load(std::sync::atomic::Ordering::Relaxed), cx)
            }));
        }
        for handle in handles {
            let (is_burner, own, cx) = handle.await.unwrap();
            let reported = load(&cx.stats().cpu_ns);
            eprintln!(
                "{}: reported {:.3} ms, burned (own thread clock) {:.3} ms",
                cx.task_name(),
                reported as f64 / MS as f64,
                own as f64 / MS as f64
            );
            assert!(cx.stats().cpu_measured.load(std::sync::atomic::Ordering::Relaxed));
            if is_burner {
                let lo = own as f64 * 0.85;
                let hi = own as f64 * 1.15;
                assert!(
                    (lo..=hi).contains(&(reported as f64)),
                    "burner reported {} ms for {} ms burned",
                    reported / MS,
                    own / MS
                );
            } else {
                assert!(reported < 5 * MS, "sleeper reported {reported} ns of CPU");
            }
        }
    });
    assert!(load(&burned) >= 400 * MS);
}

#[test]
fn cpu_switch_off_measures_nothing() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let h = Harness::new();
    let tracking = TrackingConfig {
        cpu: false,
        disk_io: false,
        memory: false,
        ..TrackingConfig::default()
    };
    let layer = Arc::new(TrackingLayer::new(&tracking));
    let cx = h.context("off", tracking);
    rt.block_on(run(&layer, &cx, |_cx| async {
        burn(2 * MS);
        Ok(())
    }))
    .unwrap();
    assert_eq!(load(&cx.stats().cpu_ns), 0);
    assert!(!cx.stats().cpu_measured.load(std::sync::atomic::Ordering::Relaxed));
    assert!(!cx.stats().mem_measured.load(std::sync::atomic::Ordering::Relaxed));
}

#[cfg(target_os = "linux")]
#[test]
fn user_system_split_adds_up_to_the_exact_total() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let h = Harness::new();
    let layer = Arc::new(TrackingLayer::new(&TrackingConfig::default()));
    let cx = h.context("split", TrackingConfig::default());
    rt.block_on(run(&layer, &cx, |_cx| async {
        burn(50 * MS); // many 4 ms ticks land in it
        Ok(())
    }))
    .unwrap();
    let (user, system) = servicetask_tracking::cpu_split(cx.stats()).expect("ticks were sampled");
    assert_eq!(user + system, load(&cx.stats().cpu_ns));
    assert!(
        user > system,
        "a pure computation is mostly user time: {user} vs {system}"
    );
}

#[test]
fn the_layer_records_cpu_on_the_span_attributes_helper() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let h = Harness::new();
    let config = TrackingConfig {
        process_rss: true,
        ..TrackingConfig::default()
    };
    let layer = Arc::new(TrackingLayer::new(&config));
    let cx = h.context("attrs", config);
    rt.block_on(run(&layer, &cx, |_cx| async {
        burn(MS);
        Ok(())
    }))
    .unwrap();
    let attrs = servicetask_tracking::span_attributes(&cx);
    let cpu = support::attr(&attrs, servicetask_core::semconv::SERVICETASK_CPU_TIME_NS).unwrap();
    assert!(matches!(cpu, opentelemetry::Value::I64(n) if *n >= MS as i64));
    assert_eq!(
        support::attr(&attrs, servicetask_core::semconv::SERVICETASK_MEMORY_SCOPE).map(|v| v.as_str().into_owned()),
        Some("process".to_string()),
        "no counting allocator in this test binary: memory is process RSS"
    );
    // Without process_rss (the default) and without the allocator, memory is not claimed.
    let cx = h.context("attrs-default", TrackingConfig::default());
    rt.block_on(run(&layer_default(), &cx, |_cx| async { Ok(()) })).unwrap();
    let attrs = servicetask_tracking::span_attributes(&cx);
    assert!(support::attr(&attrs, servicetask_core::semconv::SERVICETASK_MEMORY_SCOPE).is_none());
}

fn layer_default() -> Arc<TrackingLayer> {
    Arc::new(TrackingLayer::new(&TrackingConfig::default()))
}
