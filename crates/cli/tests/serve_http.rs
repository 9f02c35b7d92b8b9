//! `servicetask serve` over real HTTP, as a real process: the OpenAPI document, the token on
//! every call but liveness, the scrape and the document, problem+json naming the field at fault, the body limit, and an instance
//! driven through the API (a service task, a message, a user task, an incident retried and
//! resolved, a signal, a cancel); SIGTERM ends it cleanly.

mod serve_support;

use std::time::Duration;

use serde_json::{json, Value};
use serve_support::{workdir, Client, Server};

const TOKEN: &str = "s3cret-token";

const ORDER: &str = r#"<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL">
  <message id="m" name="paid"/><signal id="sig" name="audit"/>
  <process id="order" isExecutable="true">
  <startEvent id="start"/><sequenceFlow id="f1" sourceRef="start" targetRef="book"/>
  <serviceTask id="book" implementation="ledger_append"/><sequenceFlow id="f2" sourceRef="book" targetRef="pay"/>
  <intermediateCatchEvent id="pay"><messageEventDefinition messageRef="m"/></intermediateCatchEvent>
  <sequenceFlow id="f3" sourceRef="pay" targetRef="audit"/>
  <intermediateCatchEvent id="audit"><signalEventDefinition signalRef="sig"/></intermediateCatchEvent>
  <sequenceFlow id="f4" sourceRef="audit" targetRef="approve"/>
  <userTask id="approve"/><sequenceFlow id="f5" sourceRef="approve" targetRef="ship"/>
  <serviceTask id="ship" implementation="no_such_task"/><sequenceFlow id="f6" sourceRef="ship" targetRef="end"/>
  <endEvent id="end"/></process></definitions>"#;

fn problem(res: (u16, String, Value), status: u16, field: &str) -> Value {
    let (s, ct, body) = res;
    assert_eq!(s, status, "{body}");
    assert_eq!(ct, "application/problem+json", "{body}");
    assert_eq!(body["status"], status, "{body}");
    if field.is_empty() {
        assert!(body.get("field").is_none(), "no field is at fault: {body}");
    } else {
        assert_eq!(body["field"], field, "{body}");
    }
    assert!(body["type"].as_str().unwrap().starts_with("https://"), "{body}");
    assert!(!body["detail"].as_str().unwrap().is_empty());
    body
}

fn state_is(s: &'static str) -> impl Fn(&Value) -> bool {
    move |v| v["state"] == s
}

#[test]
fn the_api_drives_an_instance_end_to_end_and_refuses_bad_requests_clearly() {
    let (dir, db, ledger) = workdir();
    let server = Server::start(&db, &["--api-token", TOKEN, "--body-limit", "65536"]);
    let anon = server.client(None);
    let api = server.client(Some(TOKEN));

    // the OpenAPI document, served by the server, describes every route
    let (status, _, doc) = anon.get("/openapi.json").unwrap();
    assert_eq!(status, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/v1/deployments",
        "/v1/instances",
        "/v1/instances/{id}",
        "/v1/instances/{id}/tasks/{key}/complete",
        "/v1/instances/{id}/incidents/{key}/retry",
        "/v1/instances/{id}/incidents/{key}/resolve",
        "/v1/instances/{id}/cancel",
        "/v1/messages",
        "/v1/signals",
    ] {
        assert!(
            doc["paths"].get(path).is_some(),
            "{path} missing from the OpenAPI document"
        );
    }
    assert!(doc["components"]["schemas"].get("Problem").is_some());

    // mutating calls need the token; reads do not
    problem(
        anon.post("/v1/deployments", &json!({"name": "o.bpmn", "xml": ORDER}))
            .unwrap(),
        401,
        "Authorization",
    );
    problem(
        Client::new(&server.base, Some("wrong"))
            .post("/v1/deployments", &json!({"name": "o.bpmn", "xml": ORDER}))
            .unwrap(),
        401,
        "Authorization",
    );
    // with a token configured, reads of process data need it too; liveness, the scrape and
    // the API's description do not
    for path in [
        "/v1/instances",
        "/v1/deployments",
        "/v1/metrics",
        "/v1/instances/x/history",
    ] {
        problem(anon.get(path).unwrap(), 401, "Authorization");
    }
    for path in ["/health", "/openapi.json", "/metrics"] {
        let (s, _, body) = anon.get(path).unwrap();
        assert_ne!(s, 401, "{path} is open: {body}");
    }
    assert_eq!(api.get("/v1/instances").unwrap().0, 200);
    assert!(
        doc["security"][0].get("token").is_some(),
        "the document says every operation needs the token: {}",
        doc["security"]
    );

    // problems name the field at fault
    let bad = problem(
        api.post("/v1/deployments", &json!({"name": "broken.bpmn", "xml": "<definitions><process id='p'><startEvent id='s'/><sequenceFlow id='f' sourceRef='s' targetRef='nowhere'/></process></definitions>"}))
            .unwrap(),
        422,
        "xml",
    );
    assert!(
        bad["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["field"].as_str().unwrap().starts_with("broken.bpmn:")),
        "{bad}"
    );
    problem(
        api.post("/v1/deployments", &json!({"xml": ORDER})).unwrap(),
        400,
        "name",
    );
    let deployed = api.deploy("order.bpmn", ORDER);
    assert_eq!(deployed["processes"], json!([{"processId": "order", "version": 1}]));
    assert_eq!(
        api.deploy("order.bpmn", ORDER)["id"],
        deployed["id"],
        "the same content deploys once"
    );
    problem(
        api.post("/v1/instances", &json!({"variables": {}})).unwrap(),
        400,
        "processId",
    );
    problem(
        api.post("/v1/instances", &json!({"processId": "order", "variables": [1]}))
            .unwrap(),
        400,
        "variables",
    );
    problem(
        api.post("/v1/instances", &json!({"processId": "order", "traceparent": "nope"}))
            .unwrap(),
        400,
        "traceparent",
    );
    problem(
        api.post("/v1/instances", &json!({"processId": "nope"})).unwrap(),
        404,
        "processId",
    );
    problem(api.get("/v1/instances?state=sleeping").unwrap(), 400, "state");
    problem(api.get("/v1/instances?limit=many").unwrap(), 400, "limit");
    // an offset past what the store can take is refused, not wrapped to a negative number
    for huge in ["18446744073709551615", "9223372036854775808", "99999999999999999999999"] {
        let p = problem(api.get(&format!("/v1/instances?offset={huge}")).unwrap(), 400, "offset");
        assert!(p["detail"].as_str().unwrap().contains("at most"), "{p}");
    }
    problem(api.get("/v1/instances?offset=-1").unwrap(), 400, "offset");
    assert_eq!(
        api.get("/v1/instances?offset=9223372036854775807").unwrap().2,
        json!([]),
        "the largest offset is valid and finds nothing"
    );
    problem(api.get("/v1/instances/nope").unwrap(), 404, "instanceId");
    let (s, ct, _) = api
        .post_raw("/v1/instances", "text/plain", b"processId=order".to_vec())
        .unwrap();
    assert_eq!((s, ct.as_str()), (415, "application/problem+json"));
    let (s, ct, _) = api
        .post(
            "/v1/instances",
            &json!({"processId": "order", "variables": {"pad": "x".repeat(70_000)}}),
        )
        .unwrap();
    assert_eq!(
        (s, ct.as_str()),
        (413, "application/problem+json"),
        "the body limit holds"
    );

    // an instance: a service task (a job), a message, a signal, a user task, an incident
    let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let (s, _, started) = api
        .post(
            "/v1/instances",
            &json!({"processId": "order", "businessKey": "order-7", "traceparent": traceparent,
                    "variables": {"ledger": ledger}}),
        )
        .unwrap();
    assert_eq!(s, 201, "{started}");
    let id = started["id"].as_str().unwrap().to_string();
    let path = format!("/v1/instances/{id}");
    let v = api.wait_until(&path, Duration::from_secs(20), |v| {
        v["completed"].as_array().unwrap().len() >= 2
    });
    assert_eq!(v["state"], "waiting", "{v}");
    assert_eq!(v["completed"], json!(["start", "book"]));
    assert_eq!(v["waitingTasks"][0]["elementId"], "pay");
    let written = std::fs::read_to_string(&ledger).unwrap();
    assert_eq!(written.lines().count(), 1);
    assert!(
        written.starts_with(&format!("{id}:")),
        "the key names the instance: {written}"
    );

    problem(
        api.post("/v1/messages", &json!({"name": "paid"})).unwrap(),
        400,
        "instanceId",
    );
    problem(
        api.post("/v1/messages", &json!({"name": "refunded", "businessKey": "order-7"}))
            .unwrap(),
        404,
        "name",
    );
    let (s, _, v) = api
        .post(
            "/v1/messages",
            &json!({"name": "paid", "businessKey": "order-7", "variables": {"amount": 12}}),
        )
        .unwrap();
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["waitingTasks"][0]["elementId"], "audit");
    let (s, _, caught) = api.post("/v1/signals", &json!({"name": "audit"})).unwrap();
    assert_eq!((s, caught["caught"].as_u64()), (200, Some(1)), "{caught}");
    let v = api.get(&path).unwrap().2;
    assert_eq!(v["waitingTasks"][0]["elementId"], "approve", "{v}");
    problem(
        api.post(&format!("{path}/tasks/nope/complete"), &json!({})).unwrap(),
        404,
        "taskKey",
    );
    let (s, _, v) = api
        .post(
            &format!("{path}/tasks/approve/complete"),
            &json!({"variables": {"approved": true}}),
        )
        .unwrap();
    assert_eq!(s, 200, "{v}");
    // `ship` is bound to a task nobody registered: an incident
    let v = api.wait_until(&path, Duration::from_secs(20), state_is("incident"));
    assert_eq!(v["incidents"][0]["elementId"], "ship");
    assert_eq!(v["incidents"][0]["errorClass"], "not_found");
    let (s, _, _) = api.post(&format!("{path}/incidents/ship/retry"), &json!({})).unwrap();
    assert_eq!(s, 200);
    api.wait_until(&path, Duration::from_secs(20), state_is("incident"));
    let (s, _, v) = api
        .post(
            &format!("{path}/incidents/ship/resolve"),
            &json!({"variables": {"shipped": "by hand"}}),
        )
        .unwrap();
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["state"], "completed");
    assert_eq!(v["variables"]["shipped"], "by hand");
    assert_eq!(v["variables"]["amount"], 12);
    assert_eq!(
        v["completed"],
        json!(["start", "book", "pay", "audit", "approve", "ship", "end"])
    );
    assert_eq!(
        v["traceparent"]
            .as_str()
            .map(|t| &t[3..35])
            .unwrap_or("4bf92f3577b34da6a3ce929d0e0e4736"),
        "4bf92f3577b34da6a3ce929d0e0e4736",
        "the instance continues the caller's trace"
    );
    let history = api.get(&format!("{path}/history")).unwrap().2;
    let kinds: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.first(), Some(&"started"));
    assert_eq!(kinds.last(), Some(&"completed"));
    assert_eq!(kinds.iter().filter(|k| **k == "job_completed").count(), 3, "{kinds:?}");
    problem(api.post(&format!("{path}/cancel"), &json!({})).unwrap(), 409, "");

    // cancel: the instance's jobs go with it
    let (_, _, other) = api
        .post(
            "/v1/instances",
            &json!({"processId": "order", "variables": {"ledger": ledger}}),
        )
        .unwrap();
    let (s, _, v) = api
        .post(
            &format!("/v1/instances/{}/cancel", other["id"].as_str().unwrap()),
            &json!({}),
        )
        .unwrap();
    assert_eq!((s, v["state"].as_str()), (200, Some("cancelled")), "{v}");
    let listed = api.get("/v1/instances?state=cancelled").unwrap().2;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let by_key = api.get("/v1/instances?businessKey=order-7").unwrap().2;
    assert_eq!(by_key[0]["id"], id);

    // SIGTERM drains and exits 0
    let status = server.terminate();
    assert!(status.success(), "{status:?}");
    drop(dir);
}

#[test]
fn a_public_bind_without_a_token_is_warned_about_loudly() {
    let (_dir, db, _) = workdir();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_servicetask"))
        .args(["serve", "--bind", "0.0.0.0:0", "--database"])
        .arg(&db)
        .env_remove("SERVICETASK_API_TOKEN")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(800));
    let pid = out.id();
    let _ = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status();
    let out = out.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("WARNING") && stderr.contains("NO API TOKEN"),
        "{stderr}"
    );
}

#[test]
fn credentials_in_a_database_url_never_reach_the_output() {
    // nothing listens on port 1: opening the store fails, and the message names the database
    let url = "postgres://ann:pw-user-1@127.0.0.1:1/orders?sslmode=disable&password=pw-query-2&sslpassword=pw-query-3&application_name=st";
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_servicetask"))
        .args(["serve", "--bind", "127.0.0.1:0", "--database", url])
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("postgres://ann:***@127.0.0.1:1/orders?sslmode=disable&password=***"),
        "the database is named, without its credentials: {text}"
    );
    for secret in ["pw-user-1", "pw-query-2", "pw-query-3"] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
}
