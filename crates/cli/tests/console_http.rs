//! The console's own endpoints on a real `servicetask serve`, over HTTP: the page and its
//! assets with their security headers, a deployment's diagram, the per-task panels computed
//! from the history serve writes, a duration predicted for an input size, and clear
//! problem+json answers naming the field at fault.

mod serve_support;

use std::time::Duration;

use serde_json::{json, Value};
use serve_support::{workdir, Server};

const PIPELINE: &str = include_str!("../processes/file_pipeline.bpmn");

fn header(base: &str, path: &str, name: &str) -> (u16, String) {
    let res = reqwest::blocking::get(format!("{base}{path}")).unwrap();
    let value = res
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    (res.status().as_u16(), value)
}

#[test]
fn the_console_endpoints_answer_from_the_store_and_the_history() {
    let (dir, db, _) = workdir();
    let history = dir.path().join("history.db");
    let server = Server::start(&db, &["--history", history.to_str().unwrap()]);
    let api = server.client(None);

    // the page (also from /), its script and style, with their security headers
    let (status, ct) = header(&server.base, "/", "content-type");
    assert_eq!((status, ct.as_str()), (200, "text/html; charset=utf-8"));
    let (_, csp) = header(&server.base, "/console/", "content-security-policy");
    assert!(
        csp.contains("script-src 'self'") && csp.contains("default-src 'none'"),
        "{csp}"
    );
    let (status, ct) = header(&server.base, "/console/console.js", "content-type");
    assert_eq!((status, ct.as_str()), (200, "text/javascript; charset=utf-8"));
    let (_, nosniff) = header(&server.base, "/console/console.css", "x-content-type-options");
    assert_eq!(nosniff, "nosniff");

    // five runs of generate_samples at three sizes: enough for a size model
    let d = api.deploy("file_pipeline.bpmn", PIPELINE);
    let deployment = d["id"].as_str().unwrap().to_string();
    for (i, rows) in [20, 40, 80, 40, 20].into_iter().enumerate() {
        let out = dir.path().join(format!("run-{i}"));
        let (status, _, v) = api
            .post(
                "/v1/instances",
                &json!({"processId": "file_pipeline", "variables": {"output_dir": out, "processed_dir": out.join("p"), "files": 1, "rows": rows}}),
            )
            .unwrap();
        assert_eq!(status, 201, "{v}");
        let path = format!("/v1/instances/{}", v["id"].as_str().unwrap());
        api.wait_until(&path, Duration::from_secs(60), |v| v["state"] == "completed");
    }

    let (status, _, v) = api
        .get(&format!("/console/api/diagram/{deployment}/file_pipeline"))
        .unwrap();
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["layout"], "auto");
    let svg = v["svg"].as_str().unwrap();
    for id in ["generate", "fork", "process_files", "quality_low", "publish", "end"] {
        assert!(svg.contains(&format!("data-element=\"{id}\"")), "{id} not drawn");
    }
    let (status, ct, v) = api.get("/console/api/diagram/nope/file_pipeline").unwrap();
    assert_eq!(
        (status, ct.as_str(), &v["field"]),
        (404, "application/problem+json", &json!("deployment"))
    );
    let (status, _, v) = api.get(&format!("/console/api/diagram/{deployment}/nope")).unwrap();
    assert_eq!((status, &v["field"]), (404, &json!("process")), "{v}");

    // the panels: the history is written in batches, so wait for all five runs
    let panels = api.wait_until("/console/api/tasks", Duration::from_secs(20), |v| {
        task(v, "generate_samples").is_some_and(|t| t["runs"] == 5)
    });
    assert_eq!(panels["message"], Value::Null);
    let t = task(&panels, "generate_samples").unwrap();
    assert_eq!((t["failures"].as_u64(), t["errorRate"].as_f64()), (Some(0), Some(0.0)));
    assert!(t["p99"].as_f64().unwrap() >= t["p50"].as_f64().unwrap());
    assert!(!t["buckets"].as_array().unwrap().is_empty());
    assert_eq!(t["predictable"], true, "{t}");
    for name in ["file_processing", "data_analysis", "quality_check", "publish_report"] {
        assert!(task(&panels, name).is_some(), "no panel of {name}");
    }

    let (status, _, p) = api
        .get("/console/api/tasks/generate_samples/predict?size=1000")
        .unwrap();
    assert_eq!(status, 200, "{p}");
    let (low, expected, high) = (
        p["low"].as_f64().unwrap(),
        p["expected"].as_f64().unwrap(),
        p["high"].as_f64().unwrap(),
    );
    assert!(expected > 0.0 && low <= expected && expected <= high, "{p}");
    for (query, field, status) in [("size=abc", "size", 400), ("", "size", 400), ("size=-1", "size", 400)] {
        let (s, _, v) = api
            .get(&format!("/console/api/tasks/generate_samples/predict?{query}"))
            .unwrap();
        assert_eq!((s, &v["field"]), (status, &json!(field)), "{query}: {v}");
    }
    let (s, _, v) = api.get("/console/api/tasks/nope/predict?size=1").unwrap();
    assert_eq!((s, &v["field"]), (404, &json!("task")), "{v}");
    // the batches panel's endpoint (these demo tasks run no `cx.batch`: an empty list)
    let (status, _, v) = api.get("/console/api/batches").unwrap();
    assert_eq!((status, &v["batches"]), (200, &json!([])), "{v}");
    drop(server);

    // without a history the page says how to get the panels
    let (_dir, db, _) = workdir();
    let server = Server::start(&db, &[]);
    let (status, _, v) = server.client(None).get("/console/api/tasks").unwrap();
    assert_eq!(status, 200);
    assert!(v["message"].as_str().unwrap().contains("--history"), "{v}");
}

fn task<'a>(panels: &'a Value, name: &str) -> Option<&'a Value> {
    panels["tasks"].as_array()?.iter().find(|t| t["name"] == name)
}
