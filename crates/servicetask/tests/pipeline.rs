//! The standard pipeline end to end: attributes in code become retries, timeouts, breakers and
//! fallbacks around the task, with their telemetry on the execution span.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use servicetask::testing::TestTelemetry;
use servicetask::{
    service_task, task_fn, ConfigLoader, ErrorClass, RetryMode, Runner, TaskConfig, TaskContext, TaskError, TaskOutcome,
};

static FLAKY_CALLS: AtomicU32 = AtomicU32::new(0);

#[service_task(name = "flaky", retry(max_attempts = 4, initial_delay = "10ms", max_delay = "50ms"))]
async fn flaky(_cx: &TaskContext, fail_times: u32) -> Result<u32, TaskError> {
    let n = FLAKY_CALLS.fetch_add(1, Ordering::SeqCst) + 1;
    if n <= fail_times {
        return Err(TaskError::network(format!("connection reset (call {n})")));
    }
    Ok(n)
}

#[tokio::test(start_paused = true)]
async fn declared_retries_absorb_transient_failures_and_show_on_the_span() {
    let t = TestTelemetry::new();
    let runner = Runner::builder().telemetry(t.telemetry()).build();
    let h = runner.register(FlakyTask).unwrap();
    let out = h.run(2).await;
    assert!(matches!(out, TaskOutcome::Complete(3)), "{out:?}");
    let span = t.span("flaky");
    let retries = span
        .events
        .events
        .iter()
        .filter(|e| e.name == "servicetask.retry")
        .count();
    assert_eq!(retries, 2, "one event per retried attempt");
    let attempts = span
        .attributes
        .iter()
        .find(|kv| kv.key.as_str() == "servicetask.attempts")
        .map(|kv| kv.value.to_string());
    assert_eq!(attempts.as_deref(), Some("3"));
    assert_eq!(t.counter_total("servicetask.retries"), 2.0);
}

#[tokio::test(start_paused = true)]
async fn validation_errors_are_not_retried() {
    let calls = Arc::new(AtomicU32::new(0));
    let c = calls.clone();
    let runner = Runner::builder().telemetry(servicetask::Telemetry::disabled()).build();
    let h = runner
        .register(task_fn(
            TaskConfig::builder("strict").retry_max_attempts(6).build(),
            move |_cx: TaskContext, _n: u32| {
                let c = c.clone();
                async move {
                    c.fetch_add(1, Ordering::SeqCst);
                    Err::<u32, _>(TaskError::validation("n: must be even"))
                }
            },
        ))
        .unwrap();
    let out = h.run(1).await;
    assert!(
        matches!(out, TaskOutcome::Failure { ref error, retries_left: 0, .. } if error.class() == ErrorClass::Validation)
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn engine_mode_hands_the_retry_back_with_retries_left_and_backoff() {
    let runner = Runner::builder().telemetry(servicetask::Telemetry::disabled()).build();
    let mut config = TaskConfig::builder("handback").retry_max_attempts(4).build();
    config.retry.mode = RetryMode::Engine;
    let h = runner
        .register(task_fn(config, |_cx: TaskContext, _n: u32| async {
            Err::<u32, _>(TaskError::network("refused"))
        }))
        .unwrap();
    let TaskOutcome::Failure {
        error,
        retries_left,
        retry_backoff,
    } = h.run(1).await
    else {
        panic!("expected a failure")
    };
    assert_eq!(error.class(), ErrorClass::Network);
    assert_eq!(retries_left, 3);
    assert!(retry_backoff.is_some());
}

#[tokio::test(start_paused = true)]
async fn attempt_timeout_cancels_and_the_fallback_answers() {
    let t = TestTelemetry::new();
    let runner = Runner::builder().telemetry(t.telemetry()).build();
    let config = TaskConfig::builder("slow")
        .timeout_attempt(Duration::from_millis(100))
        .fallback_value(ErrorClass::Timeout, serde_json::json!(-1))
        .build();
    let h = runner
        .register(task_fn(config, |_cx: TaskContext, _n: u32| async {
            tokio::time::sleep(Duration::from_secs(60)).await;
            Ok::<i64, TaskError>(1)
        }))
        .unwrap();
    let out = h.run(1).await;
    assert!(matches!(out, TaskOutcome::Complete(-1)), "{out:?}");
    let span = t.span("slow");
    assert!(span.events.events.iter().any(|e| e.name == "servicetask.fallback"));
    assert_eq!(t.counter_total("servicetask.timeouts"), 1.0);
    assert_eq!(t.counter_total("servicetask.fallbacks"), 1.0);
}

#[test]
fn configuration_file_overrides_code_and_bad_values_fail_registration() {
    let loader = ConfigLoader::default()
        .with_toml("servicetask.toml", "[tasks.flaky]\nretry.max_attempts = 7\n")
        .unwrap();
    let runner = Runner::builder()
        .telemetry(servicetask::Telemetry::disabled())
        .config(loader)
        .build();
    let h = runner.register(FlakyTask).unwrap();
    assert_eq!(h.config().retry.max_attempts, 7);

    let bad = ConfigLoader::default()
        .with_toml("servicetask.toml", "[tasks.flaky]\nretry.multiplier = 0.5\n")
        .unwrap();
    let runner = Runner::builder()
        .telemetry(servicetask::Telemetry::disabled())
        .config(bad)
        .build();
    let err = runner.register(FlakyTask).unwrap_err();
    assert_eq!(err.first().key, "retry.multiplier");
    assert_eq!(err.first().origin, "servicetask.toml:2:7 [tasks.flaky]");
}
