//! `Resilience` as the context's dependency policy: per-dependency bulkheads and breakers,
//! shared by every execution, and the default guards for unnamed dependencies.

mod support;

use std::sync::Arc;
use std::time::Duration;

use servicetask_core::semconv::{self, event, metric};
use servicetask_core::{BreakerConfig, BulkheadConfig, DependencyPolicy, ErrorClass, TaskError};
use servicetask_resilience::{BreakerState, DependencyConfig, Resilience};
use support::Otel;

#[tokio::test(start_paused = true)]
async fn a_full_dependency_bulkhead_rejects_after_its_bounded_wait_and_spares_the_breaker() {
    let otel = Otel::new();
    let res = Arc::new(
        Resilience::builder()
            .telemetry(otel.telemetry.clone())
            .dependency(
                "payments",
                DependencyConfig {
                    breaker: Some(BreakerConfig {
                        window_size: 1,
                        minimum_calls: 1,
                        permitted_calls_in_half_open: 1,
                        ..BreakerConfig::default()
                    }),
                    bulkhead: Some(BulkheadConfig {
                        max_concurrent: 1,
                        max_wait: Duration::from_secs(5),
                    }),
                },
            )
            .build(),
    );
    let policy = res.clone() as Arc<dyn DependencyPolicy>;
    let cx1 = otel.context("pay#1", Some(policy.clone()));
    let cx2 = otel.context("pay#2", Some(policy));
    let (release, held) = tokio::sync::oneshot::channel::<()>();
    let first = cx1.dependency("payments").call(async move {
        held.await.ok();
        Ok::<_, TaskError>(1)
    });
    let second = async {
        tokio::task::yield_now().await; // let the first call take the slot
        let asked = tokio::time::Instant::now();
        let e = cx2
            .dependency("payments")
            .call(async { Ok::<_, TaskError>(2) })
            .await
            .unwrap_err();
        // It waited exactly the bulkhead's max_wait before giving up.
        assert_eq!(asked.elapsed(), Duration::from_secs(5));
        release.send(()).unwrap();
        e
    };
    let (a, e) = tokio::join!(first, second);
    assert_eq!(a.unwrap(), 1);
    assert_eq!(e.class(), ErrorClass::BulkheadFull);
    otel.end(&cx2);
    let rej = otel.events_named(event::REJECTION);
    assert_eq!(rej.len(), 1);
    assert_eq!(
        rej[0].attr(semconv::SERVICETASK_REJECTION_REASON).as_deref(),
        Some("bulkhead_full")
    );
    assert_eq!(
        otel.sum(
            metric::REJECTIONS,
            &[(semconv::SERVICETASK_REJECTION_REASON, "bulkhead_full")]
        ),
        1.0
    );
    let b = res.breaker("dependency:payments").unwrap();
    assert_eq!(b.state(), BreakerState::Closed);
    assert_eq!((b.window_totals().calls, b.window_totals().failures), (1, 0));
    assert_eq!(res.bulkhead("dependency:payments").unwrap().available(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_dependency_call_waits_for_a_slot_that_frees_within_max_wait() {
    let otel = Otel::new();
    let res = Arc::new(
        Resilience::builder()
            .telemetry(otel.telemetry.clone())
            .dependency(
                "ledger",
                DependencyConfig {
                    breaker: None,
                    bulkhead: Some(BulkheadConfig {
                        max_concurrent: 1,
                        max_wait: Duration::from_secs(2),
                    }),
                },
            )
            .build(),
    );
    let policy = res.clone() as Arc<dyn DependencyPolicy>;
    let cx1 = otel.context("ledger#1", Some(policy.clone()));
    let cx2 = otel.context("ledger#2", Some(policy));
    let first = cx1.dependency("ledger").call(async {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        Ok::<_, TaskError>(1)
    });
    let second = async {
        tokio::task::yield_now().await;
        let asked = tokio::time::Instant::now();
        let v = cx2.dependency("ledger").call(async { Ok::<_, TaskError>(2) }).await;
        (v, asked.elapsed())
    };
    let (a, (b, waited)) = tokio::join!(first, second);
    assert_eq!(a.unwrap(), 1);
    assert_eq!(b.unwrap(), 2, "the second call got the slot the first one freed");
    assert_eq!(waited, Duration::from_millis(1500));
    assert!(otel.events_named(event::REJECTION).is_empty());
}

#[tokio::test]
async fn unnamed_dependencies_get_their_own_default_breaker() {
    let otel = Otel::new();
    let res = Arc::new(
        Resilience::builder()
            .telemetry(otel.telemetry.clone())
            .default_dependency(DependencyConfig {
                breaker: Some(BreakerConfig {
                    window_size: 2,
                    minimum_calls: 2,
                    ..BreakerConfig::default()
                }),
                bulkhead: None,
            })
            .build(),
    );
    let cx = otel.context("t", Some(res.clone() as Arc<dyn DependencyPolicy>));
    for _ in 0..2 {
        let _ = cx
            .dependency("geo")
            .call(async { Err::<(), _>(TaskError::network("down")) })
            .await;
    }
    let e = cx
        .dependency("geo")
        .call(async { Ok::<_, TaskError>(()) })
        .await
        .unwrap_err();
    assert_eq!(e.class(), ErrorClass::CircuitOpen);
    // The real (tokio) clock runs here: the wait left is a hair under the full minute.
    let wait = e.retry_after().unwrap();
    assert!(
        wait <= BreakerConfig::default().wait_in_open && wait > Duration::from_secs(59),
        "{wait:?}"
    );
    assert_eq!(res.breaker("dependency:geo").unwrap().state(), BreakerState::Open);
    cx.dependency("maps")
        .call(async { Ok::<_, TaskError>(()) })
        .await
        .unwrap();
    assert_eq!(
        res.breaker("dependency:maps").unwrap().state(),
        BreakerState::Closed,
        "one breaker per name"
    );
}

#[tokio::test]
async fn without_guards_calls_pass_through() {
    let res = Arc::new(Resilience::default());
    let otel = Otel::new();
    let cx = otel.context("t", Some(res as Arc<dyn DependencyPolicy>));
    assert_eq!(
        cx.dependency("x").call(async { Ok::<_, TaskError>(5) }).await.unwrap(),
        5
    );
}
