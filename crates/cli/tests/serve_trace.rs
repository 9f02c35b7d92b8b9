//! A job carries its instance's trace across nodes: node A starts an instance (its instance
//! span exported by A), node B fires its timer and runs its service task; the task span that B
//! exports is a child of A's instance span (same trace id, A's span as parent). Each node
//! exports OTLP/gRPC to a real receiver of its own, so where each span came from is known.
//!
//! On one SQLite file (two processes, one after the other), and on PostgreSQL (ignored
//! without `SERVICETASK_TEST_POSTGRES_URL`; `.ci/run` starts one).

mod serve_support;

use std::time::Duration;

use serde_json::json;
use serve_support::{workdir, Server};
use servicetask_test_support::otlp::TraceReceiver;

fn otel_env(endpoint: &str, node: &str) -> Vec<(&'static str, String)> {
    vec![
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.to_string()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc".into()),
        ("OTEL_SERVICE_NAME", format!("servicetask-{node}")),
        ("OTEL_BSP_SCHEDULE_DELAY", "200".into()),
    ]
}

const PROCESS: &str = r#"<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"><process id="traced" isExecutable="true">
  <startEvent id="s"/><sequenceFlow id="f1" sourceRef="s" targetRef="w"/>
  <intermediateCatchEvent id="w"><timerEventDefinition><timeDuration>PT2S</timeDuration></timerEventDefinition></intermediateCatchEvent>
  <sequenceFlow id="f2" sourceRef="w" targetRef="a"/>
  <serviceTask id="a" implementation="ledger_append"/><sequenceFlow id="f3" sourceRef="a" targetRef="e"/>
  <endEvent id="e"/></process></definitions>"#;

/// Node A starts the instance and stops before its timer is due; node B, on the same
/// database, fires the timer and runs the task.
fn the_task_on_b_is_a_child_of_the_instance_span_on_a(database: &std::path::Path, ledger: &std::path::Path) {
    let on_a = TraceReceiver::start();
    let on_b = TraceReceiver::start();

    let a = Server::start_with_env(database, &["--node-id", "a"], &otel_env(&on_a.endpoint, "a"));
    let api = a.client(None);
    api.deploy("traced.bpmn", PROCESS);
    let (s, _, started) = api
        .post(
            "/v1/instances",
            &json!({"processId": "traced", "variables": {"ledger": ledger}}),
        )
        .unwrap();
    assert_eq!(s, 201, "{started}");
    let id = started["id"].as_str().unwrap().to_string();
    let traceparent = started["traceparent"]
        .as_str()
        .expect("the instance has a trace")
        .to_string();
    // SIGTERM flushes A's spans; the timer (2 s) is not due yet, so A ran no job
    assert!(a.terminate().success());
    let a_spans = on_a.spans();
    let instance_span = a_spans
        .iter()
        .find(|s| s.name == "traced")
        .unwrap_or_else(|| panic!("A exported its instance span: {a_spans:?}"))
        .clone();
    assert_eq!(
        traceparent,
        format!("00-{}-{}-01", instance_span.trace_id, instance_span.span_id),
        "the instance's traceparent is its span on A"
    );
    assert!(
        a_spans.iter().all(|s| s.name != "ledger_append"),
        "A ran no task: {a_spans:?}"
    );

    let b = Server::start_with_env(database, &["--node-id", "b"], &otel_env(&on_b.endpoint, "b"));
    let v = b
        .client(None)
        .wait_until(&format!("/v1/instances/{id}"), Duration::from_secs(30), |v| {
            v["state"] == "completed"
        });
    assert_eq!(v["completed"], json!(["s", "w", "a", "e"]));
    assert!(b.terminate().success());
    let b_spans = on_b.wait_for(Duration::from_secs(10), |spans| {
        spans.iter().any(|s| s.name == "ledger_append")
    });
    let task = b_spans
        .iter()
        .find(|s| s.name == "ledger_append")
        .unwrap_or_else(|| panic!("B exported no task span: {b_spans:?}"));
    assert_eq!(
        task.trace_id, instance_span.trace_id,
        "the task is in the instance's trace"
    );
    assert_eq!(
        task.parent_span_id, instance_span.span_id,
        "the task span on B is a child of the instance span on A"
    );
    assert_eq!(std::fs::read_to_string(ledger).unwrap().lines().count(), 1);
}

#[test]
fn a_task_run_by_another_node_on_sqlite_joins_the_instance_trace() {
    let (_dir, db, ledger) = workdir();
    the_task_on_b_is_a_child_of_the_instance_span_on_a(&db, &ledger);
}

#[test]
#[ignore = "needs PostgreSQL: set SERVICETASK_TEST_POSTGRES_URL (run by .ci/run)"]
fn a_task_run_by_another_node_on_postgres_joins_the_instance_trace() {
    let (_dir, _, ledger) = workdir();
    let url = serve_support::fresh_postgres_database("trace");
    the_task_on_b_is_a_child_of_the_instance_span_on_a(std::path::Path::new(&url), &ledger);
}
