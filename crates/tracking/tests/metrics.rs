//! The metrics tracking records: CPU time, file bytes, peak memory.

mod support;

use std::sync::Arc;

use servicetask_core::{semconv, TrackingConfig};
use servicetask_tracking::{record_execution_metrics, TrackingLayer};
use support::{attr, burn, run, temp_dir, Harness};

#[test]
fn cpu_file_io_and_memory_reach_their_instruments() {
    let dir = temp_dir("metrics");
    std::fs::write(dir.join("in"), vec![0u8; 1000]).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let h = Harness::new();
    // Process RSS on, so memory is measured even without the counting allocator.
    let config = TrackingConfig {
        process_rss: true,
        ..TrackingConfig::default()
    };
    let layer = Arc::new(TrackingLayer::new(&config));
    let cx = h.context("m", config);
    let d = dir.clone();
    rt.block_on(run(&layer, &cx, move |cx| {
        let d = d.clone();
        async move {
            burn(2_000_000);
            cx.fs().read(d.join("in")).await?;
            cx.fs().write(d.join("out"), b"12345").await?;
            Ok(())
        }
    }))
    .unwrap();
    record_execution_metrics(&cx);

    let cpu = h.metric(semconv::metric::CPU_TIME);
    assert_eq!(cpu.len(), 1);
    assert_eq!(attr(&cpu[0].0, semconv::SERVICETASK_NAME).unwrap().as_str(), "m");
    assert!(cpu[0].1 >= 0.002, "{cpu:?}");

    let mut io: Vec<(String, f64)> = h
        .metric(semconv::metric::FILE_IO)
        .into_iter()
        .map(|(a, v)| {
            (
                attr(&a, semconv::SERVICETASK_IO_DIRECTION)
                    .unwrap()
                    .as_str()
                    .into_owned(),
                v,
            )
        })
        .collect();
    io.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(io, vec![("read".to_string(), 1000.0), ("write".to_string(), 5.0)]);

    let mem = h.metric(semconv::metric::MEMORY_PEAK);
    assert_eq!(mem.len(), 1);
    assert_eq!(
        attr(&mem[0].0, semconv::SERVICETASK_MEMORY_SCOPE).unwrap().as_str(),
        "process"
    );
    assert!(mem[0].1 > 0.0);
    std::fs::remove_dir_all(dir).unwrap();
}
