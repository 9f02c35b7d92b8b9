//! Per-attempt timeouts on tokio's paused clock: cancellation, classification, counting,
//! and their interplay with retries.

mod support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use servicetask_core::semconv::{self, event, metric};
use servicetask_core::{ErrorClass, Jitter, RetryConfig, TaskConfig};
use servicetask_resilience::{layers, Resilience, TimeoutError};
use support::{ms, run, value, Otel, Script, Step};
use tokio::time::Instant;

fn resilience(otel: &Otel) -> Resilience {
    Resilience::builder().telemetry(otel.telemetry.clone()).build()
}

#[tokio::test(start_paused = true)]
async fn a_slow_attempt_is_cancelled_at_the_limit_and_counted() {
    let otel = Otel::new();
    let config = TaskConfig::builder("t").timeout_attempt(ms(100)).build();
    let stack = layers(&config, &resilience(&otel));
    let task = Script::new([Step::After(Duration::from_secs(1), Box::new(Step::Ok(1)))]);
    let cx = otel.context("t", None);
    let t0 = Instant::now();
    let e = run(&stack, &task, &cx).await.unwrap_err();
    assert_eq!(Instant::now() - t0, ms(100));
    assert_eq!(e.class(), ErrorClass::Timeout);
    assert_eq!(e.message(), "attempt timed out after 100ms");
    let source = e.source_error().unwrap().downcast_ref::<TimeoutError>().unwrap();
    assert_eq!(source.after(), ms(100));
    assert_eq!(
        task.dropped.load(Ordering::SeqCst),
        1,
        "the attempt's future was dropped"
    );
    assert_eq!(otel.sum(metric::TIMEOUTS, &[(semconv::SERVICETASK_NAME, "t")]), 1.0);
}

#[tokio::test(start_paused = true)]
async fn a_fast_attempt_passes_untouched() {
    let otel = Otel::new();
    let config = TaskConfig::builder("t").timeout_attempt(ms(100)).build();
    let stack = layers(&config, &resilience(&otel));
    let task = Script::new([Step::After(ms(99), Box::new(Step::Ok(3)))]);
    let cx = otel.context("t", None);
    assert_eq!(value(run(&stack, &task, &cx).await), 3);
    assert_eq!(otel.sum(metric::TIMEOUTS, &[]), 0.0);
}

#[tokio::test(start_paused = true)]
async fn timed_out_attempts_are_retried_with_the_timeout_class() {
    let otel = Otel::new();
    let config = TaskConfig::builder("t")
        .retry(RetryConfig {
            max_attempts: 3,
            initial_delay: ms(50),
            multiplier: 1.0,
            jitter: Jitter::None,
            ..RetryConfig::default()
        })
        .timeout_attempt(ms(100))
        .build();
    let stack = layers(&config, &resilience(&otel));
    let task = Script::new([Step::Hang, Step::Hang, Step::After(ms(10), Box::new(Step::Ok(9)))]);
    let cx = otel.context("t", None);
    let t0 = Instant::now();
    assert_eq!(value(run(&stack, &task, &cx).await), 9);
    // 100 (timeout) + 50 + 100 (timeout) + 50 + 10.
    assert_eq!(Instant::now() - t0, ms(310));
    assert_eq!(task.offsets(t0), [ms(0), ms(150), ms(300)]);
    otel.end(&cx);
    let types: Vec<_> = otel
        .events_named(event::RETRY)
        .iter()
        .map(|e| e.attr(semconv::ERROR_TYPE).unwrap())
        .collect();
    assert_eq!(types, ["timeout", "timeout"]);
    assert_eq!(otel.sum(metric::TIMEOUTS, &[]), 2.0);
    assert_eq!(task.dropped.load(Ordering::SeqCst), 2);
}
