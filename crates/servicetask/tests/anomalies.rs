//! Streaming anomaly detection in the runner: an execution far slower than the task's history
//! gets a `servicetask.anomaly` span event, the anomalies counter, and a flagged record.

use std::sync::Arc;

use servicetask::testing::TestTelemetry;
use servicetask::{task_fn, Runner, TaskConfig, TaskContext, TaskError, TrackingConfig};
use servicetask_analytics::anomaly::DetectorConfig;
use servicetask_test_support::records::KeepRecords;

#[test]
fn a_planted_slow_execution_is_flagged_on_span_counter_and_record() {
    let t = TestTelemetry::new();
    let keep = Arc::new(KeepRecords::default());
    let runner = Runner::builder()
        .telemetry(t.telemetry())
        .record_sink(keep.clone())
        // No cooldown or debounce: a scheduling hiccup among the normal runs (this machine is
        // shared) must not mute the alarm for the planted execution.
        .anomaly_detection(DetectorConfig {
            cooldown: 0,
            debounce: 0,
            ..DetectorConfig::default()
        })
        .build();
    let quiet = TrackingConfig {
        cpu: false,
        memory: false,
        disk_io: false,
        ..TrackingConfig::default()
    };
    let h = runner
        .register(task_fn(
            TaskConfig::builder("steady").tracking(quiet).build(),
            |_cx: TaskContext, ms: u64| async move {
                // Real, blocking work of a known length: the detector sees wall-clock durations.
                if ms > 0 {
                    std::thread::sleep(std::time::Duration::from_millis(ms));
                }
                Ok::<_, TaskError>(ms)
            },
        ))
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        // The detector judges a value by its tail probability among the distances it has seen,
        // so it needs about a thousand executions of history before it can alarm at 0.999.
        for _ in 0..1500 {
            h.run(0).await;
        }
        h.run(250).await;
    });
    let records = keep.records();
    assert_eq!(records.len(), 1501);
    let last = records.last().unwrap();
    assert!(
        last.anomaly,
        "the 250 ms execution among microsecond ones must be flagged"
    );
    let flagged_normal = records[..1500].iter().filter(|r| r.anomaly).count();
    // Microsecond-level runs on a shared machine have real hiccups; without cooldown some are
    // flagged, but they stay rare.
    assert!(
        flagged_normal <= 75,
        "{flagged_normal} of 1500 normal executions flagged"
    );

    let spans = t.spans();
    let last_span = spans.iter().max_by_key(|s| s.start_time).unwrap();
    let event = last_span
        .events
        .events
        .iter()
        .find(|e| e.name == "servicetask.anomaly")
        .expect("anomaly event on the execution span");
    assert!(event
        .attributes
        .iter()
        .any(|kv| kv.key.as_str() == "servicetask.anomaly.metric" && kv.value.as_str() == "duration"));
    assert!(t.counter_total("servicetask.anomalies") >= 1.0);
}
