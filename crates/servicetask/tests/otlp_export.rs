//! End to end: `telemetry::init()` from the standard environment variables exports OTLP over
//! HTTP/protobuf to a real receiver, which decodes the official messages. Spans and metrics
//! arrive with the right attributes and parent/child links.

mod support;

use std::time::Duration;

use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::Span;
use servicetask::{service_task, Runner, TaskContext, TaskError, TaskOutcome};

#[service_task(name = "export_me")]
async fn export_me(cx: &TaskContext, n: u32) -> Result<u32, TaskError> {
    cx.step("inner_step", async { Ok::<_, TaskError>(n * 2) }).await
}

fn attr(span: &Span, key: &str) -> Option<String> {
    span.attributes.iter().find(|kv| kv.key == key).and_then(|kv| {
        kv.value.as_ref().and_then(|v| match &v.value {
            Some(AnyValue::StringValue(s)) => Some(s.clone()),
            Some(AnyValue::IntValue(i)) => Some(i.to_string()),
            _ => None,
        })
    })
}

#[test]
fn spans_and_metrics_reach_a_real_otlp_receiver() {
    let receiver = support::Receiver::start();
    // This test binary has one test, so setting the process environment is race-free.
    std::env::set_var("OTEL_EXPORTER_OTLP_ENDPOINT", &receiver.endpoint);
    std::env::set_var("OTEL_SERVICE_NAME", "otlp-e2e");
    let guard = servicetask::telemetry::init().unwrap();
    assert_eq!(guard.target(), &servicetask::telemetry::ExportTarget::Otlp);

    let rt = servicetask_test_support::runtime::two_workers();
    rt.block_on(async {
        let runner = Runner::builder().telemetry(guard.telemetry()).build();
        let h = runner.register(ExportMeTask).unwrap();
        for i in 0..5 {
            assert!(matches!(h.run(i).await, TaskOutcome::Complete(v) if v == i * 2));
        }
    });
    guard.shutdown(Duration::from_secs(10));

    let r = receiver.received.lock().unwrap();
    assert!(r.bad_requests.is_empty(), "{:?}", r.bad_requests);
    let spans: Vec<&Span> = r
        .traces
        .iter()
        .flat_map(|t| &t.resource_spans)
        .flat_map(|rs| &rs.scope_spans)
        .flat_map(|ss| &ss.spans)
        .collect();
    let tasks: Vec<&&Span> = spans.iter().filter(|s| s.name == "export_me").collect();
    let steps: Vec<&&Span> = spans.iter().filter(|s| s.name == "inner_step").collect();
    assert_eq!(tasks.len(), 5);
    assert_eq!(steps.len(), 5);
    for step in steps {
        let parent = tasks
            .iter()
            .find(|t| t.span_id == step.parent_span_id)
            .expect("step parent is a task span");
        assert_eq!(parent.trace_id, step.trace_id);
    }
    for t in &tasks {
        assert_eq!(attr(t, "servicetask.name").as_deref(), Some("export_me"));
        assert_eq!(attr(t, "servicetask.outcome").as_deref(), Some("complete"));
    }
    let service = r.traces[0].resource_spans[0]
        .resource
        .as_ref()
        .unwrap()
        .attributes
        .iter()
        .find(|kv| kv.key == "service.name")
        .and_then(|kv| kv.value.clone())
        .and_then(|v| v.value);
    assert_eq!(service, Some(AnyValue::StringValue("otlp-e2e".into())));

    let metric_names: Vec<String> = r
        .metrics
        .iter()
        .flat_map(|m| &m.resource_metrics)
        .flat_map(|rm| &rm.scope_metrics)
        .flat_map(|sm| &sm.metrics)
        .map(|m| m.name.clone())
        .collect();
    for expected in [
        "servicetask.duration",
        "servicetask.executions",
        "servicetask.in_flight",
    ] {
        assert!(
            metric_names.iter().any(|n| n == expected),
            "missing {expected} in {metric_names:?}"
        );
    }
}
