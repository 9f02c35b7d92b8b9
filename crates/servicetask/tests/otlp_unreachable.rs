//! An OTLP endpoint that refuses connections never blocks or fails a task: executions complete
//! at once, and shutdown returns within the export timeout.

use std::time::{Duration, Instant};

use servicetask::{task_fn, Runner, TaskConfig, TaskContext, TaskError, TaskOutcome};

#[test]
fn tasks_complete_when_the_endpoint_refuses_connections() {
    let port = servicetask_test_support::net::closed_port();
    // This test binary has one test, so setting the process environment is race-free.
    std::env::set_var("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://127.0.0.1:{port}"));
    std::env::set_var("OTEL_EXPORTER_OTLP_TIMEOUT", "1000");
    std::env::set_var("OTEL_BSP_SCHEDULE_DELAY", "10");
    let guard = servicetask::telemetry::init().unwrap();
    let export_timeout = Duration::from_millis(1000);

    let rt = servicetask_test_support::runtime::two_workers();
    let elapsed = rt.block_on(async {
        let runner = Runner::builder().telemetry(guard.telemetry()).build();
        let h = runner
            .register(task_fn(
                TaskConfig::named("offline"),
                |_cx: TaskContext, n: u64| async move { Ok::<_, TaskError>(n) },
            ))
            .unwrap();
        let start = Instant::now();
        for i in 0..3000u64 {
            assert!(matches!(h.run(i).await, TaskOutcome::Complete(v) if v == i));
        }
        start.elapsed()
    });
    // 3000 no-op executions while every export fails: none of them waited for an export.
    assert!(
        elapsed < export_timeout,
        "executions waited on the exporter: {elapsed:?}"
    );
    let start = Instant::now();
    guard.shutdown(Duration::from_secs(3));
    assert!(
        start.elapsed() < Duration::from_secs(8),
        "shutdown hung: {:?}",
        start.elapsed()
    );
}
