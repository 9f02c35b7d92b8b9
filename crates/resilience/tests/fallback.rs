//! Fallback: values and async functions chosen by error class, BPMN errors left to the
//! process model, and the span and metrics saying that a fallback answered, and why.

mod support;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use servicetask_core::layer::FallbackValue;
use servicetask_core::semconv::{self, event, metric};
use servicetask_core::{BreakerConfig, ErrorClass, TaskConfig, TaskError};
use servicetask_resilience::{layers, FallbackMatch, Resilience};
use support::{run, Otel, Script, Step};

fn answer(r: servicetask_core::layer::AttemptResult) -> serde_json::Value {
    r.expect("answered")
        .downcast::<FallbackValue>()
        .expect("a fallback value")
        .0
}

#[tokio::test]
async fn a_value_answers_for_its_class_and_the_span_says_why() {
    let otel = Otel::new();
    let res = Resilience::builder().telemetry(otel.telemetry.clone()).build();
    let config = TaskConfig::builder("quote")
        .fallback_value(ErrorClass::Network, json!({"price": null}))
        .build();
    let stack = layers(&config, &res);
    let task = Script::new([Step::Err(TaskError::network("unreachable"))]);
    let cx = otel.context("quote", None);
    assert_eq!(answer(run(&stack, &task, &cx).await), json!({"price": null}));
    assert!(cx.stats().fallback_used.load(Ordering::Relaxed));
    otel.end(&cx);
    let ev = otel.events_named(event::FALLBACK);
    assert_eq!(ev.len(), 1);
    assert_eq!(
        ev[0].attr(semconv::SERVICETASK_FALLBACK_REASON).as_deref(),
        Some("network")
    );
    assert_eq!(ev[0].attr(semconv::EXCEPTION_MESSAGE).as_deref(), Some("unreachable"));
    assert_eq!(
        otel.sum(
            metric::FALLBACKS,
            &[
                (semconv::SERVICETASK_NAME, "quote"),
                (semconv::SERVICETASK_FALLBACK_REASON, "network")
            ]
        ),
        1.0
    );
}

#[tokio::test]
async fn a_class_function_wins_over_a_wildcard_and_business_errors_pass_through() {
    let otel = Otel::new();
    let res = Resilience::builder()
        .telemetry(otel.telemetry.clone())
        .fallback_fn(
            "quote",
            FallbackMatch::Class(ErrorClass::Timeout),
            Arc::new(|cx, err| {
                Box::pin(async move {
                    Ok(FallbackValue(
                        json!({ "task": cx.task_name(), "class": err.class().as_str() }),
                    ))
                })
            }),
        )
        .build();
    let mut config = TaskConfig::named("quote");
    config.fallback.values.insert("*".into(), json!("cached")); // as `"*" = "cached"` in servicetask.toml
    let stack = layers(&config, &res);

    let timeout = Script::new([Step::Err(TaskError::timeout("slow"))]);
    let v = answer(run(&stack, &timeout, &otel.context("quote", None)).await);
    assert_eq!(v, json!({"task": "quote", "class": "timeout"}));

    let io = Script::new([Step::Err(TaskError::new(ErrorClass::Io, "disk"))]);
    assert_eq!(
        answer(run(&stack, &io, &otel.context("quote", None)).await),
        json!("cached")
    );

    let business = Script::new([Step::Err(TaskError::business("E7", "declined"))]);
    let e = run(&stack, &business, &otel.context("quote", None)).await.unwrap_err();
    assert_eq!(e.code(), Some("E7"), "the process model handles BPMN errors, not `*`");
}

#[tokio::test]
async fn a_failing_fallback_function_fails_the_execution_with_its_error() {
    let otel = Otel::new();
    let res = Resilience::builder()
        .telemetry(otel.telemetry.clone())
        .fallback_fn(
            "t",
            FallbackMatch::Any,
            Arc::new(|_cx, _err| Box::pin(async { Err(TaskError::internal("no cache either")) })),
        )
        .build();
    let stack = layers(&TaskConfig::named("t"), &res);
    let task = Script::new([Step::Err(TaskError::network("down"))]);
    let cx = otel.context("t", None);
    let e = run(&stack, &task, &cx).await.unwrap_err();
    assert_eq!((e.class(), e.message()), (ErrorClass::Internal, "no cache either"));
    assert!(!cx.stats().fallback_used.load(Ordering::Relaxed));
}

#[tokio::test]
async fn an_open_breaker_fails_to_the_fallback() {
    let otel = Otel::new();
    let res = Resilience::builder().telemetry(otel.telemetry.clone()).build();
    let config = TaskConfig::builder("t")
        .breaker(BreakerConfig {
            window_size: 1,
            minimum_calls: 1,
            wait_in_open: Duration::from_secs(60),
            ..BreakerConfig::default()
        })
        .fallback_value(ErrorClass::CircuitOpen, json!("degraded"))
        .build();
    let stack = layers(&config, &res);
    let task = Script::new([Step::Err(TaskError::network("down"))]);
    assert!(run(&stack, &task, &otel.context("t#1", None)).await.is_err());
    let cx = otel.context("t#2", None);
    assert_eq!(answer(run(&stack, &task, &cx).await), json!("degraded"));
    otel.end(&cx);
    assert_eq!(task.calls(), 1, "the open breaker kept the task from running");
    let ev = otel.events_named(event::FALLBACK);
    assert_eq!(
        ev[0].attr(semconv::SERVICETASK_FALLBACK_REASON).as_deref(),
        Some("circuit_open")
    );
}
