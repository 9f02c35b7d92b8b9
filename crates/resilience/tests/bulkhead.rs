//! Bulkhead: bounded concurrency with a bounded wait, on tokio's paused clock; its rejection
//! is its own class and never trips the breaker.

mod support;

use std::sync::Arc;
use std::time::Duration;

use servicetask_core::semconv::{self, event, metric};
use servicetask_core::{BreakerConfig, BulkheadConfig, ErrorClass, TaskConfig};
use servicetask_resilience::{layers, BreakerState, Resilience};
use support::{ms, run, value, Otel, Script, Step};
use tokio::time::Instant;

fn setup(otel: &Otel, max_wait: Duration) -> (Resilience, TaskConfig) {
    let res = Resilience::builder().telemetry(otel.telemetry.clone()).build();
    let config = TaskConfig::builder("b")
        .bulkhead(BulkheadConfig {
            max_concurrent: 2,
            max_wait,
        })
        .breaker(BreakerConfig {
            window_size: 1,
            minimum_calls: 1,
            ..BreakerConfig::default()
        })
        .build();
    (res, config)
}

#[tokio::test(start_paused = true)]
async fn a_third_concurrent_execution_is_rejected_after_the_wait() {
    let otel = Arc::new(Otel::new());
    let (res, config) = setup(&otel, ms(100));
    let stack = Arc::new(layers(&config, &res));
    let task = Arc::new(Script::new([Step::After(
        Duration::from_secs(1),
        Box::new(Step::Ok(1)),
    )]));
    let t0 = Instant::now();
    let mut running = Vec::new();
    for i in 0..2 {
        let (stack, task, otel) = (stack.clone(), task.clone(), otel.clone());
        running.push(tokio::spawn(async move {
            let cx = otel.context(&format!("b#{i}"), None);
            value(run(&stack, &*task, &cx).await)
        }));
    }
    tokio::task::yield_now().await;
    assert_eq!(res.bulkhead("b").unwrap().available(), 0);
    let cx = otel.context("b#third", None);
    let e = run(&stack, &*task, &cx).await.unwrap_err();
    otel.end(&cx);
    assert_eq!(Instant::now() - t0, ms(100), "rejected when the wait ran out");
    assert_eq!(e.class(), ErrorClass::BulkheadFull);
    assert_eq!(e.message(), "bulkhead 'b' is full (2 running; waited 100ms)");
    assert_eq!(task.calls(), 2);
    for r in running {
        assert_eq!(r.await.unwrap(), 1);
    }
    let rej = otel.events_named(event::REJECTION);
    assert_eq!(rej.len(), 1);
    assert_eq!(rej[0].span, "b#third");
    assert_eq!(
        rej[0].attr(semconv::SERVICETASK_REJECTION_REASON).as_deref(),
        Some("bulkhead_full")
    );
    assert_eq!(
        otel.sum(
            metric::REJECTIONS,
            &[
                (semconv::SERVICETASK_NAME, "b"),
                (semconv::SERVICETASK_REJECTION_REASON, "bulkhead_full")
            ]
        ),
        1.0
    );
    // The breaker (window of one call, 50%) saw two successes and no failure.
    let b = res.breaker("b").unwrap();
    assert_eq!(b.state(), BreakerState::Closed);
    assert_eq!(b.window_totals().failures, 0);
    assert_eq!(res.bulkhead("b").unwrap().available(), 2, "slots are given back");
}

#[tokio::test(start_paused = true)]
async fn a_waiting_execution_gets_the_slot_freed_within_its_wait() {
    let otel = Arc::new(Otel::new());
    let (res, config) = setup(&otel, ms(500));
    let stack = Arc::new(layers(&config, &res));
    let task = Arc::new(Script::new([
        Step::After(ms(300), Box::new(Step::Ok(1))),
        Step::After(ms(1_000), Box::new(Step::Ok(2))),
        Step::Ok(3),
    ]));
    let t0 = Instant::now();
    let mut running = Vec::new();
    for i in 0..2 {
        let (stack, task, otel) = (stack.clone(), task.clone(), otel.clone());
        running.push(tokio::spawn(async move {
            let cx = otel.context(&format!("b#{i}"), None);
            value(run(&stack, &*task, &cx).await)
        }));
    }
    tokio::task::yield_now().await;
    let cx = otel.context("b#third", None);
    assert_eq!(value(run(&stack, &*task, &cx).await), 3);
    assert_eq!(Instant::now() - t0, ms(300), "ran as soon as the first slot freed");
    assert_eq!(task.offsets(t0), [ms(0), ms(0), ms(300)]);
    for r in running {
        r.await.unwrap();
    }
    assert_eq!(otel.sum(metric::REJECTIONS, &[]), 0.0);
}
