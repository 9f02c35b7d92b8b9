//! Retry layer: exact delays on tokio's paused clock, Retry-After hints, max elapsed time,
//! the total deadline, BPMN semantics, engine hand-back, the retry budget, and telemetry.

mod support;

use std::time::Duration;

use servicetask_core::semconv::{self, event, metric};
use servicetask_core::{ErrorClass, Jitter, RetryBudgetConfig, RetryConfig, RetryMode, TaskConfig, TaskError};
use servicetask_resilience::{layers, Backoff, Resilience};
use support::{int, ms, run, value, Otel, Script, Step};
use tokio::time::Instant;

fn retry(max_attempts: u32, initial_ms: u64, jitter: Jitter) -> RetryConfig {
    RetryConfig {
        max_attempts,
        initial_delay: ms(initial_ms),
        max_delay: Duration::from_secs(60),
        multiplier: 2.0,
        jitter,
        ..RetryConfig::default()
    }
}

fn resilience(otel: &Otel) -> Resilience {
    Resilience::builder().telemetry(otel.telemetry.clone()).seed(42).build()
}

fn net() -> TaskError {
    TaskError::network("connection reset")
}

#[tokio::test(start_paused = true)]
async fn retries_after_exact_exponential_delays_and_reports_each_attempt() {
    let otel = Otel::new();
    let config = TaskConfig::builder("t").retry(retry(4, 100, Jitter::None)).build();
    let stack = layers(&config, &resilience(&otel));
    let task = Script::new([Step::Err(net()), Step::Err(net()), Step::Err(net()), Step::Ok(7)]);
    let cx = otel.context("t", None);
    let t0 = Instant::now();
    assert_eq!(value(run(&stack, &task, &cx).await), 7);
    assert_eq!(task.offsets(t0), [ms(0), ms(100), ms(300), ms(700)]);
    assert_eq!(cx.attempt(), 4);
    assert_eq!(cx.stats().attempts.load(std::sync::atomic::Ordering::Relaxed), 4);
    otel.end(&cx);

    let retries = otel.events_named(event::RETRY);
    let seen: Vec<(i64, i64, String)> = retries
        .iter()
        .map(|e| {
            (
                int(&e.attr(semconv::SERVICETASK_ATTEMPT)),
                int(&e.attr(semconv::SERVICETASK_RETRY_DELAY_MS)),
                e.attr(semconv::ERROR_TYPE).unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (1, 100, "network".into()),
            (2, 200, "network".into()),
            (3, 400, "network".into())
        ]
    );
    assert_eq!(
        otel.sum(
            metric::RETRIES,
            &[(semconv::SERVICETASK_NAME, "t"), (semconv::ERROR_TYPE, "network")]
        ),
        3.0
    );
}

#[tokio::test(start_paused = true)]
async fn full_jitter_delays_are_seeded_and_within_their_ceiling() {
    let mut runs = Vec::new();
    for _ in 0..2 {
        let otel = Otel::new();
        let config = TaskConfig::builder("t").retry(retry(5, 100, Jitter::Full)).build();
        let stack = layers(&config, &resilience(&otel));
        let task = Script::new([
            Step::Err(net()),
            Step::Err(net()),
            Step::Err(net()),
            Step::Err(net()),
            Step::Ok(1),
        ]);
        let cx = otel.context("t", None);
        let t0 = Instant::now();
        value(run(&stack, &task, &cx).await);
        let offsets = task.offsets(t0);
        let gaps: Vec<Duration> = offsets.windows(2).map(|w| w[1] - w[0]).collect();
        let b = Backoff::new(&config.retry);
        for (i, g) in gaps.iter().enumerate() {
            assert!(*g <= b.ceiling(i as u32 + 1), "retry {}: {g:?}", i + 1);
        }
        runs.push(gaps);
    }
    assert_eq!(runs[0], runs[1], "same seed, same delays");
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_hint_overrides_the_computed_delay() {
    let otel = Otel::new();
    let config = TaskConfig::builder("t").retry(retry(3, 100, Jitter::None)).build();
    let stack = layers(&config, &resilience(&otel));
    let limited = TaskError::rate_limited("429", Some(Duration::from_secs(7)));
    let task = Script::new([Step::Err(limited), Step::Ok(1)]);
    let cx = otel.context("t", None);
    let t0 = Instant::now();
    value(run(&stack, &task, &cx).await);
    assert_eq!(task.offsets(t0), [ms(0), ms(7_000)]);
}

#[tokio::test(start_paused = true)]
async fn business_errors_are_returned_untouched_and_never_retried() {
    let otel = Otel::new();
    let config = TaskConfig::builder("t").retry(retry(5, 100, Jitter::None)).build();
    let stack = layers(&config, &resilience(&otel));
    let task = Script::new([Step::Err(TaskError::business("NO_STOCK", "out of stock"))]);
    let cx = otel.context("t", None);
    let e = run(&stack, &task, &cx).await.unwrap_err();
    assert_eq!(
        (e.class(), e.code(), e.retries_left()),
        (ErrorClass::Business, Some("NO_STOCK"), None)
    );
    assert_eq!(task.calls(), 1);
    otel.end(&cx);
    assert!(otel.events_named(event::RETRY).is_empty());
}

#[tokio::test(start_paused = true)]
async fn non_retryable_classes_fail_at_once_with_no_retries_left() {
    let otel = Otel::new();
    let config = TaskConfig::builder("t").retry(retry(5, 100, Jitter::None)).build();
    let stack = layers(&config, &resilience(&otel));
    let task = Script::new([Step::Err(TaskError::validation("bad input"))]);
    let cx = otel.context("t", None);
    let e = run(&stack, &task, &cx).await.unwrap_err();
    assert_eq!((e.class(), e.retries_left()), (ErrorClass::Validation, Some(0)));
    assert_eq!(task.calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn exhausted_attempts_leave_no_retries() {
    let otel = Otel::new();
    let config = TaskConfig::builder("t").retry(retry(3, 10, Jitter::None)).build();
    let stack = layers(&config, &resilience(&otel));
    let task = Script::new([Step::Err(net())]);
    let cx = otel.context("t", None);
    let e = run(&stack, &task, &cx).await.unwrap_err();
    assert_eq!(
        (e.class(), e.retries_left(), e.context().attempt),
        (ErrorClass::Network, Some(0), Some(3))
    );
    assert_eq!(task.calls(), 3);
}

#[tokio::test(start_paused = true)]
async fn no_retry_starts_once_max_elapsed_would_pass() {
    let otel = Otel::new();
    let mut r = retry(10, 1_000, Jitter::None);
    r.max_elapsed = Some(Duration::from_millis(2_500));
    let config = TaskConfig::builder("t").retry(r).build();
    let stack = layers(&config, &resilience(&otel));
    let task = Script::new([Step::Err(net())]);
    let cx = otel.context("t", None);
    let t0 = Instant::now();
    let e = run(&stack, &task, &cx).await.unwrap_err();
    // 0 s, then 1 s later; the next delay (2 s) would end at 3 s > 2.5 s.
    assert_eq!(task.offsets(t0), [ms(0), ms(1_000)]);
    assert_eq!(e.retries_left(), Some(0));
    assert_eq!(Instant::now() - t0, ms(1_000), "gave up without sleeping");
}

#[tokio::test(start_paused = true)]
async fn a_delay_reaching_the_total_deadline_hands_the_failure_back_with_its_backoff() {
    let otel = Otel::new();
    let mut r = retry(10, 300, Jitter::None);
    r.multiplier = 1.0;
    let config = TaskConfig::builder("t")
        .retry(r)
        .timeout_total(Duration::from_secs(1))
        .build();
    let stack = layers(&config, &resilience(&otel));
    let task = Script::new([Step::Err(net())]);
    let cx = otel.context("t", None);
    let t0 = Instant::now();
    let e = run(&stack, &task, &cx).await.unwrap_err();
    assert_eq!(task.offsets(t0), [ms(0), ms(300), ms(600), ms(900)]);
    assert_eq!(Instant::now() - t0, ms(900), "no sleep past the deadline");
    assert_eq!(
        (e.class(), e.retries_left(), e.retry_after()),
        (ErrorClass::Network, Some(6), Some(ms(300)))
    );
    otel.end(&cx);
    let span = &otel.spans()[0];
    let left = span
        .attributes
        .iter()
        .find(|kv| kv.key.as_str() == semconv::SERVICETASK_RETRIES_LEFT);
    assert_eq!(left.map(|kv| kv.value.to_string()), Some("6".into()));
}

#[tokio::test(start_paused = true)]
async fn the_total_deadline_cancels_a_hung_attempt() {
    let otel = Otel::new();
    let config = TaskConfig::builder("t")
        .retry(retry(3, 100, Jitter::None))
        .timeout_total(Duration::from_secs(1))
        .build();
    let stack = layers(&config, &resilience(&otel));
    let task = Script::new([Step::Hang]);
    let cx = otel.context("t", None);
    let t0 = Instant::now();
    let e = run(&stack, &task, &cx).await.unwrap_err();
    assert_eq!(Instant::now() - t0, Duration::from_secs(1));
    assert_eq!(e.class(), ErrorClass::Timeout);
    assert_eq!(e.message(), "execution timed out after 1s");
    assert_eq!(e.retries_left(), Some(2), "the engine may still retry the execution");
    assert_eq!(
        task.dropped.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "the attempt's future was dropped"
    );
    assert_eq!(otel.sum(metric::TIMEOUTS, &[(semconv::SERVICETASK_NAME, "t")]), 1.0);
}

#[tokio::test(start_paused = true)]
async fn engine_mode_hands_back_at_once_with_retries_left_and_backoff() {
    let otel = Otel::new();
    let mut r = retry(5, 250, Jitter::None);
    r.mode = RetryMode::Engine;
    let config = TaskConfig::builder("t").retry(r).build();
    let stack = layers(&config, &resilience(&otel));
    let task = Script::new([Step::Err(net())]);
    let cx = otel.context("t", None);
    cx.set_attempt(2); // the engine's second try of this job
    let t0 = Instant::now();
    let e = run(&stack, &task, &cx).await.unwrap_err();
    assert_eq!(Instant::now(), t0, "no sleep");
    assert_eq!(task.calls(), 1);
    // The second retry's delay: 250 ms * 2^(2-1).
    assert_eq!((e.retries_left(), e.retry_after()), (Some(3), Some(ms(500))));
    otel.end(&cx);
    let ev = otel.events_named(event::RETRY);
    assert_eq!(ev.len(), 1);
    assert_eq!(int(&ev[0].attr(semconv::SERVICETASK_RETRIES_LEFT)), 3);
    assert_eq!(int(&ev[0].attr(semconv::SERVICETASK_RETRY_DELAY_MS)), 500);
    assert_eq!(
        otel.sum(metric::RETRIES, &[]),
        0.0,
        "the engine makes the retry, not us"
    );
}

#[tokio::test(start_paused = true)]
async fn rejections_are_handed_back_not_retried_in_a_loop() {
    let otel = Otel::new();
    let config = TaskConfig::builder("t").retry(retry(5, 10, Jitter::None)).build();
    let stack = layers(&config, &resilience(&otel));
    let open = TaskError::new(ErrorClass::CircuitOpen, "open").with_retry_after(Duration::from_secs(20));
    let task = Script::new([Step::Err(open)]);
    let cx = otel.context("t", None);
    let e = run(&stack, &task, &cx).await.unwrap_err();
    assert_eq!(task.calls(), 1);
    assert_eq!(
        (e.class(), e.retries_left(), e.retry_after()),
        (ErrorClass::CircuitOpen, Some(4), Some(Duration::from_secs(20)))
    );
}

#[tokio::test(start_paused = true)]
async fn a_spent_retry_budget_fails_with_budget_exhausted() {
    let otel = Otel::new();
    let mut r = retry(3, 10, Jitter::None);
    r.budget = Some(RetryBudgetConfig {
        ratio: 0.5,
        window: Duration::from_secs(10),
        min_per_second: 0,
    });
    let config = TaskConfig::builder("t").retry(r).build();
    let res = resilience(&otel);
    let stack = layers(&config, &res);
    // Execution 1: 1 call, allowance floor(0.5) = 0: the first retry is refused.
    let task = Script::new([Step::Err(net())]);
    let cx = otel.context("t", None);
    let e = run(&stack, &task, &cx).await.unwrap_err();
    assert_eq!(
        (e.class(), e.retries_left(), task.calls()),
        (ErrorClass::BudgetExhausted, Some(2), 1)
    );
    assert_eq!(
        e.message(),
        "retry budget exhausted after attempt 1: network: connection reset"
    );
    otel.end(&cx);
    // Execution 2: 2 calls in the window, allowance 1: one retry, then it succeeds.
    let task = Script::new([Step::Err(net()), Step::Ok(5)]);
    let cx2 = otel.context("t", None);
    assert_eq!(value(run(&stack, &task, &cx2).await), 5);
    otel.end(&cx2);
    let rejections = otel.events_named(event::REJECTION);
    assert_eq!(rejections.len(), 1);
    assert_eq!(
        rejections[0].attr(semconv::SERVICETASK_REJECTION_REASON).as_deref(),
        Some("budget_exhausted")
    );
    assert_eq!(
        otel.sum(
            metric::REJECTIONS,
            &[(semconv::SERVICETASK_REJECTION_REASON, "budget_exhausted")]
        ),
        1.0
    );
    // Layers built again for the same task share the budget.
    let again = layers(&config, &res);
    let task = Script::new([Step::Err(net())]);
    let e = run(&again, &task, &otel.context("t", None)).await.unwrap_err();
    assert_eq!(
        e.class(),
        ErrorClass::BudgetExhausted,
        "3 calls allow 1 retry, already spent"
    );
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    fn jitter() -> impl Strategy<Value = Jitter> {
        prop_oneof![Just(Jitter::Full), Just(Jitter::Decorrelated), Just(Jitter::None)]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        /// Whatever the policy, every sleep respects the backoff's bounds (up to the timer's
        /// 1 ms resolution), no attempt starts at or after the deadline, and the execution
        /// ends by the deadline.
        #[test]
        fn sleeps_stay_in_bounds_and_inside_the_deadline(
            max_attempts in 1u32..12,
            initial_ms in 1u64..500,
            cap_ms in 1u64..5_000,
            multiplier in 1.0f64..4.0,
            jitter in jitter(),
            total_ms in 1u64..10_000,
            seed in any::<u64>(),
        ) {
            let rt = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap();
            rt.block_on(async {
                let r = RetryConfig {
                    max_attempts,
                    initial_delay: ms(initial_ms),
                    max_delay: ms(cap_ms),
                    multiplier,
                    jitter,
                    ..RetryConfig::default()
                };
                let total = ms(total_ms);
                let (e, offsets, elapsed) = failing_until_the_deadline(&r, total, seed).await;
                let b = Backoff::new(&r);
                let mut previous = None;
                for (i, w) in offsets.windows(2).enumerate() {
                    let sleep = w[1] - w[0] - ms(3); // each attempt runs 3 ms
                    let (lo, hi) = b.bounds(i as u32 + 1, previous);
                    // tokio's timer rounds a sleep up to its next millisecond.
                    prop_assert!(lo <= sleep && sleep <= hi + ms(1), "retry {}: {sleep:?} not in [{lo:?}, {hi:?}]", i + 1);
                    previous = Some(sleep);
                }
                prop_assert!(offsets.iter().all(|o| *o < total), "an attempt started at the deadline");
                prop_assert!(elapsed <= total);
                prop_assert!(offsets.len() as u32 <= max_attempts);
                prop_assert!(e.retries_left().is_some());
                Ok(())
            })?;
        }
    }
}

#[tokio::test(start_paused = true)]
async fn in_engine_mode_the_budget_rations_the_engines_retries() {
    let otel = Otel::new();
    let mut r = retry(5, 100, Jitter::None);
    r.mode = RetryMode::Engine;
    let budget = RetryBudgetConfig {
        ratio: 1.0,
        window: Duration::from_secs(10),
        min_per_second: 0,
    };
    r.budget = Some(budget.clone());
    let config = TaskConfig::builder("t").retry(r).build();
    let res = resilience(&otel);
    let stack = layers(&config, &res);
    let task = Script::new([Step::Err(net())]);
    // A first attempt: one call, so one retry allowed; the engine gets it.
    let e = run(&stack, &task, &otel.context("t", None)).await.unwrap_err();
    assert_eq!((e.class(), e.retries_left()), (ErrorClass::Network, Some(4)));
    // The engine's retry of the same job is not a new call: no budget left for another.
    let cx = otel.context("t", None);
    cx.set_attempt(2);
    let e = run(&stack, &task, &cx).await.unwrap_err();
    assert_eq!(
        (e.class(), e.retries_left(), e.retry_after()),
        (ErrorClass::BudgetExhausted, Some(3), Some(ms(200)))
    );
    assert_eq!(res.task_budget("t", &budget).totals(), (1, 1));
}

/// A wait whose timer would round up past the total deadline ends at the deadline, and no
/// attempt starts there: the failure goes back to the engine with its retries left. (Found by
/// the property test above: 53 ms, then 60.1 ms rounded up to 61 ms, reached 120 ms exactly.)
#[tokio::test(start_paused = true)]
async fn a_wait_that_would_round_past_the_deadline_starts_no_attempt() {
    let r = RetryConfig {
        max_attempts: 3,
        initial_delay: ms(53),
        max_delay: ms(61),
        multiplier: 1.134_538_020_610_227_1,
        jitter: Jitter::None,
        ..RetryConfig::default()
    };
    let total = ms(120);
    let (e, offsets, elapsed) = failing_until_the_deadline(&r, total, 0).await;
    assert!(offsets.iter().all(|o| *o < total), "{offsets:?}");
    assert!(elapsed <= total);
    assert_eq!(offsets.len(), 2);
    assert_eq!(e.retries_left(), Some(1));
}

/// Runs a task whose every attempt fails after 3 ms under `retry` and a total deadline of
/// `total`: the error, when each attempt started (from the start), and the time it all took.
async fn failing_until_the_deadline(
    retry: &RetryConfig,
    total: Duration,
    seed: u64,
) -> (TaskError, Vec<Duration>, Duration) {
    let config = TaskConfig::builder("p")
        .retry(retry.clone())
        .timeout_total(total)
        .build();
    let res = Resilience::builder().seed(seed).build();
    let stack = layers(&config, &res);
    let task = Script::new([Step::After(ms(3), Box::new(Step::Err(net())))]);
    let cx = servicetask_core::TaskContext::detached("p");
    let t0 = Instant::now();
    let e = run(&stack, &task, &cx).await.unwrap_err();
    (e, task.offsets(t0), Instant::now() - t0)
}
