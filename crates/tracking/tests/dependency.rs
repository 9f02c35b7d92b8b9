//! `cx.dependency(name).call(fut)`: client spans, outcomes and per-dependency counts.

mod support;

use opentelemetry::trace::{SpanKind, Status};
use servicetask_core::{semconv, ErrorClass, TaskError, TrackingConfig};
use support::{attr, Harness};

#[test]
fn each_call_is_a_client_span_under_the_task_span_and_is_counted() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let h = Harness::new();
    let cx = h.context("orders", TrackingConfig::default());
    rt.block_on(async {
        let v = cx
            .dependency("payments")
            .call(async { Ok::<_, TaskError>(1) })
            .await
            .unwrap();
        assert_eq!(v, 1);
        let e = cx
            .dependency("payments")
            .call(async { Err::<(), _>(TaskError::network("connection reset")) })
            .await
            .unwrap_err();
        assert_eq!(e.class(), ErrorClass::Network);
        cx.dependency("stock")
            .call(async { Ok::<_, TaskError>(()) })
            .await
            .unwrap();
    });
    let deps = cx.stats().dependencies();
    assert_eq!(deps.len(), 2);
    assert_eq!(
        (deps[0].name.as_str(), deps[0].calls, deps[0].failures),
        ("payments", 2, 1)
    );
    assert_eq!(
        (deps[1].name.as_str(), deps[1].calls, deps[1].failures),
        ("stock", 1, 0)
    );
    let spans = h.end(&cx);
    let task = spans.iter().find(|s| s.name == "orders").unwrap();
    let clients: Vec<_> = spans.iter().filter(|s| s.span_kind == SpanKind::Client).collect();
    assert_eq!(clients.len(), 3);
    for c in &clients {
        assert_eq!(c.parent_span_id, task.span_context.span_id());
        assert_eq!(attr(&c.attributes, semconv::PEER_SERVICE).unwrap().as_str(), c.name);
    }
    let failed: Vec<_> = clients
        .iter()
        .filter(|c| matches!(c.status, Status::Error { .. }))
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(
        attr(&failed[0].attributes, semconv::ERROR_TYPE).unwrap().as_str(),
        "network"
    );
}

#[test]
fn with_dependencies_off_calls_still_run_but_are_not_counted() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let h = Harness::new();
    let tracking = TrackingConfig {
        dependencies: false,
        ..TrackingConfig::default()
    };
    let cx = h.context("orders", tracking);
    let v = rt
        .block_on(cx.dependency("payments").call(async { Ok::<_, TaskError>(5) }))
        .unwrap();
    assert_eq!(v, 5);
    assert!(cx.stats().dependencies().is_empty());
}
