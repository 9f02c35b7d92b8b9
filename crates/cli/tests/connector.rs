//! The connector protocol SpiffArena calls service tasks with, over real HTTP against a real
//! `servicetask serve --connector` (and the full `servicetask serve`): the command list from the
//! tasks' input schemas, the version 2 answer, a BPMN error as the error code a boundary
//! catches, a failure's class and recovery hint, protocol errors naming the field, the token,
//! the caller's `traceparent` continued (the task span, seen by a real OTLP receiver, is its
//! child), the task's idempotency key from the caller's ids, a full server answering busy
//! without running the call, and SIGTERM letting a call in flight finish.

mod connector_support;

use std::time::Duration;

use connector_support::{ConnectorServer, Receiver};
use serde_json::{json, Value};

fn post(base: &str, path: &str, body: &Value, headers: &[(&str, &str)]) -> (u16, Value) {
    let mut req = reqwest::blocking::Client::new()
        .post(format!("{base}{path}"))
        .json(body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = req.send().expect("send");
    let status = res.status().as_u16();
    (status, res.json().unwrap_or(Value::Null))
}

fn get(base: &str, path: &str) -> (u16, Value) {
    let res = reqwest::blocking::get(format!("{base}{path}")).expect("send");
    let status = res.status().as_u16();
    (status, res.json().unwrap_or(Value::Null))
}

#[test]
fn every_task_is_a_command_with_parameters_from_its_input_schema() {
    let server = ConnectorServer::start(&[], None);
    let (status, list) = get(&server.base, "/v1/commands");
    assert_eq!(status, 200);
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    for task in ["quality_check", "notify", "data_analysis", "file_processing"] {
        assert!(ids.contains(&format!("servicetask/{task}").as_str()), "{ids:?}");
    }
    let check = list
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "servicetask/quality_check")
        .unwrap();
    assert_eq!(check["description"], "Gate on the data quality score");
    let param = |id: &str| {
        check["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(param("quality_score")["required"], true);
    assert_eq!(param("quality_score")["type"], "any");
    assert_eq!(param("quality_score")["schema"]["type"], "number");
    assert_eq!(param("outlier_count")["type"], "int");
    assert_eq!(param("min_quality")["required"], false);
    assert_eq!(get(&server.base, "/v1/auths"), (200, json!([])));
    assert_eq!(get(&server.base, "/liveness"), (200, json!({"ok": true})));
}

#[test]
fn a_call_answers_with_the_command_response_and_a_bpmn_error_with_its_code() {
    let server = ConnectorServer::start(&[], None);
    let (status, ok) = post(
        &server.base,
        "/v1/do/servicetask/quality_check",
        &json!({"quality_score": 1.0, "spiff__task_data": {"score": 1.0}, "spiff__task_id": "t1",
                "spiff__process_instance_id": 3, "spiff__callback_url": "http://127.0.0.1:1/cb"}),
        &[],
    );
    assert_eq!(status, 200, "{ok}");
    assert_eq!(ok["command_response_version"], 2);
    assert_eq!(
        ok["command_response"],
        json!({"body": {"quality_ok": true}, "mimetype": "application/json", "http_status": 200})
    );
    assert_eq!(ok["error"], Value::Null);
    // the bare task name is accepted too
    let (status, _) = post(
        &server.base,
        "/v1/do/quality_check",
        &json!({"quality_score": 1.0}),
        &[],
    );
    assert_eq!(status, 200);

    let (status, low) = post(
        &server.base,
        "/v1/do/servicetask/quality_check",
        &json!({"quality_score": 0.1}),
        &[],
    );
    assert_eq!(
        status, 200,
        "a BPMN error is the command's answer, as the proxy gives it: {low}"
    );
    assert_eq!(low["error"]["error_code"], "QUALITY_LOW");
    assert_eq!(low["error"]["error_class"], "business");
    assert_eq!(low["error"]["variables"], json!({"rejected_quality": 0.1}));
    assert_eq!(low["command_response"]["http_status"], 422);
}

#[test]
fn a_failure_carries_its_class_and_recovery_hint() {
    let server = ConnectorServer::start(&[], None);
    let (status, failed) = post(
        &server.base,
        "/v1/do/servicetask/quality_check",
        &json!({"quality_score": "secret-looking-value"}),
        &[],
    );
    assert_eq!(status, 400, "{failed}");
    let e = &failed["error"];
    assert_eq!(e["error_code"], "ServiceTaskValidationError");
    assert_eq!(e["error_class"], "validation");
    assert_eq!(e["retryable"], false);
    assert!(e["recovery_hint"].as_str().unwrap().contains("schema"), "{e}");
    assert!(
        e["message"].as_str().unwrap().contains("quality_score"),
        "names the field: {e}"
    );
    assert!(
        !failed.to_string().contains("secret-looking-value"),
        "never echoes a value: {failed}"
    );
}

#[test]
fn protocol_errors_are_clear_and_name_the_field() {
    let server = ConnectorServer::start(&["--body-limit", "256"], None);
    let (status, e) = post(&server.base, "/v1/do/servicetask/nope", &json!({}), &[]);
    assert_eq!(
        (status, e["error"]["error_code"].as_str()),
        (404, Some("command_not_found"))
    );
    let (status, e) = post(&server.base, "/v1/do/servicetask/quality_check", &json!([1]), &[]);
    assert_eq!((status, e["error"]["field"].as_str()), (400, Some("body")));
    let (status, e) = post(
        &server.base,
        "/v1/do/servicetask/quality_check",
        &json!({"spiff__task_data": 5}),
        &[],
    );
    assert_eq!(
        (status, e["error"]["field"].as_str()),
        (400, Some("spiff__task_data")),
        "{e}"
    );
    let res = reqwest::blocking::Client::new()
        .post(format!("{}/v1/do/servicetask/quality_check", server.base))
        .header("content-type", "text/plain")
        .body("quality_score=1")
        .send()
        .unwrap();
    assert_eq!(res.status().as_u16(), 415);
    let big = json!({"quality_score": 1.0, "pad": "x".repeat(1000)});
    let (status, e) = post(&server.base, "/v1/do/servicetask/quality_check", &big, &[]);
    assert_eq!(
        (status, e["error"]["error_code"].as_str()),
        (413, Some("body_too_large"))
    );
    let res = reqwest::blocking::Client::new()
        .post(format!("{}/v1/do/servicetask/quality_check", server.base))
        .header("content-type", "application/json")
        .body("{\"quality_score\": 0.9,")
        .send()
        .unwrap();
    assert_eq!(res.status().as_u16(), 400);
    let e: Value = res.json().unwrap();
    assert!(e["error"]["message"].as_str().unwrap().contains("line 1"), "{e}");
}

#[test]
fn the_traceparent_header_makes_the_task_span_a_child_of_the_caller() {
    let receiver = Receiver::start();
    let server = ConnectorServer::start(&[], Some(&receiver.endpoint));
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let parent = "00f067aa0ba902b7";
    let traceparent = format!("00-{trace_id}-{parent}-01");
    let (status, _) = post(
        &server.base,
        "/v1/do/servicetask/quality_check",
        &json!({"quality_score": 1.0}),
        &[("traceparent", &traceparent)],
    );
    assert_eq!(status, 200);
    let spans = receiver.wait_for(Duration::from_secs(10), |s| s.iter().any(|s| s.name == "quality_check"));
    let task = spans
        .iter()
        .find(|s| s.name == "quality_check")
        .unwrap_or_else(|| panic!("no task span exported: {spans:?}"));
    assert_eq!(task.trace_id, trace_id);
    assert_eq!(task.parent_span_id, parent);
    // a malformed header starts a trace of its own instead of failing the call
    let (status, _) = post(
        &server.base,
        "/v1/do/servicetask/quality_check",
        &json!({"quality_score": 1.0}),
        &[("traceparent", "garbage")],
    );
    assert_eq!(status, 200);
    assert!(server.terminate().success());
}

#[test]
fn the_full_server_serves_the_connector_beside_the_api_and_checks_its_token() {
    let dir = tempfile::tempdir().unwrap();
    let server = ConnectorServer::start_full(&dir.path().join("st.db"), &["--api-token", "tok-123"]);
    let (status, e) = get(&server.base, "/v1/commands");
    assert_eq!((status, e["error"]["error_code"].as_str()), (401, Some("unauthorized")));
    let list: Value = reqwest::blocking::Client::new()
        .get(format!("{}/v1/commands", server.base))
        .header("Spiff-Connector-Proxy-Api-Key", "tok-123")
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert!(list
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["id"] == "servicetask/quality_check"));
    assert_eq!(get(&server.base, "/liveness").0, 200, "liveness stays open");
    let body = json!({"quality_score": 1.0});
    let (status, e) = post(&server.base, "/v1/do/servicetask/quality_check", &body, &[]);
    assert_eq!((status, e["error"]["error_code"].as_str()), (401, Some("unauthorized")));
    assert!(!e.to_string().contains("tok-123"));
    let (status, _) = post(
        &server.base,
        "/v1/do/servicetask/quality_check",
        &body,
        &[("Spiff-Connector-Proxy-Api-Key", "tok-123")],
    );
    assert_eq!(status, 200, "SpiffArena's header carries the token");
    let (status, _) = post(
        &server.base,
        "/v1/do/servicetask/quality_check",
        &body,
        &[("Authorization", "Bearer tok-123")],
    );
    assert_eq!(status, 200);
    assert_eq!(get(&server.base, "/health").0, 200, "the API is still there");
    assert!(server.terminate().success());
}

#[test]
fn a_call_gets_its_idempotency_key_and_a_full_server_says_busy_without_running() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("ledger.txt");
    let ledger_s = ledger.to_str().unwrap().to_string();
    let server = ConnectorServer::start(&["--max-jobs", "1"], None);
    let base = server.base.clone();
    let slow_ledger = ledger_s.clone();
    let slow = std::thread::spawn(move || {
        post(
            &base,
            "/v1/do/servicetask/ledger_append",
            &json!({"ledger": slow_ledger, "delay_ms": 1500, "spiff__process_instance_id": "wf-1", "spiff__task_id": "task-9"}),
            &[],
        )
    });
    std::thread::sleep(Duration::from_millis(400));
    let (status, busy) = post(
        &server.base,
        "/v1/do/servicetask/ledger_append",
        &json!({"ledger": ledger_s, "spiff__task_id": "other"}),
        &[],
    );
    assert_eq!(
        (status, busy["error"]["error_code"].as_str()),
        (503, Some("connector_busy")),
        "{busy}"
    );
    let (status, done) = slow.join().unwrap();
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["command_response"]["body"]["key"], "wf-1/task-9");
    assert_eq!(
        std::fs::read_to_string(&ledger).unwrap(),
        "wf-1/task-9\n",
        "the busy call never ran"
    );
}

#[test]
fn sigterm_lets_a_call_in_flight_finish() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("ledger.txt");
    let server = ConnectorServer::start(&[], None);
    let base = server.base.clone();
    let ledger_s = ledger.to_str().unwrap().to_string();
    let call = std::thread::spawn(move || {
        post(
            &base,
            "/v1/do/servicetask/ledger_append",
            &json!({"ledger": ledger_s, "delay_ms": 1500, "spiff__task_id": "t-1"}),
            &[],
        )
    });
    std::thread::sleep(Duration::from_millis(400));
    let base = server.base.clone();
    let status = server.terminate();
    let (code, done) = call.join().unwrap();
    assert_eq!(code, 200, "the call in flight finished: {done}");
    assert!(status.success(), "{status:?}");
    assert_eq!(std::fs::read_to_string(&ledger).unwrap(), "t-1\n");
    assert!(reqwest::blocking::get(format!("{base}/liveness")).is_err(), "stopped");
}
