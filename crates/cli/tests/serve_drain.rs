//! SIGTERM drains a real `servicetask serve`: it takes no new job (not even one whose timer
//! comes due during the drain), and a job still running when the grace period ends is
//! aborted and its lease given back, so the next server on the same database runs it at once
//! (not after the lease expires) and the process exits within the grace period.

mod serve_support;

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use serve_support::{workdir, Server};

/// start -> ledger_append -> end, after a timer of `timer` when given.
fn process(id: &str, timer: Option<&str>) -> String {
    let wait = match timer {
        Some(t) => format!(
            r#"<sequenceFlow id="f0" sourceRef="s" targetRef="w"/>
  <intermediateCatchEvent id="w"><timerEventDefinition><timeDuration>{t}</timeDuration></timerEventDefinition></intermediateCatchEvent>
  <sequenceFlow id="f1" sourceRef="w" targetRef="a"/>"#
        ),
        None => r#"<sequenceFlow id="f1" sourceRef="s" targetRef="a"/>"#.to_string(),
    };
    format!(
        r#"<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"><process id="{id}" isExecutable="true">
  <startEvent id="s"/>{wait}
  <serviceTask id="a" implementation="ledger_append"/><sequenceFlow id="f2" sourceRef="a" targetRef="e"/>
  <endEvent id="e"/></process></definitions>"#
    )
}

fn metrics(server: &Server) -> Value {
    let (status, _, body) = server.client(None).get("/v1/metrics").unwrap();
    assert_eq!(status, 200, "{body}");
    body
}

#[test]
fn sigterm_takes_no_new_job_and_releases_the_running_one_after_the_grace_period() {
    let (_dir, db, ledger) = workdir();
    // a lease far longer than the test: only a release lets another server run the job soon
    let flags = ["--grace-secs", "2", "--lease-ms", "120000"];
    let a = Server::start(&db, &flags);
    let api = a.client(None);
    api.deploy("now.bpmn", &process("now", None));
    api.deploy("later.bpmn", &process("later", Some("PT1.5S")));
    let vars = json!({"ledger": ledger, "delay_ms": 4000});
    let mut ids = Vec::new();
    for p in ["now", "later"] {
        let (s, _, v) = api
            .post("/v1/instances", &json!({"processId": p, "variables": vars}))
            .unwrap();
        assert_eq!(s, 201, "{v}");
        ids.push(v["id"].as_str().unwrap().to_string());
    }
    // the first job is running on A (its store figures are refreshed every second)
    let began = Instant::now();
    while metrics(&a)["store"]["leased_jobs"] != 1 {
        assert!(began.elapsed() < Duration::from_secs(10), "A never leased the job");
        std::thread::sleep(Duration::from_millis(50));
    }

    // SIGTERM: the running job (4 s) outlasts the grace period (2 s); the second instance's
    // timer comes due during the drain
    let term = Instant::now();
    let status = a.terminate();
    let took = term.elapsed();
    assert!(status.success(), "{status:?}");
    assert!(
        took < Duration::from_millis(2000 + 2500),
        "the drain ends with the grace period: exited after {took:?}"
    );
    assert!(
        !ledger.exists() || std::fs::read_to_string(&ledger).unwrap().is_empty(),
        "the aborted task never appended"
    );

    // B on the same file runs both jobs at once: the first was released (no take-over, no
    // 120 s wait) and A never took the second
    let b = Server::start(&db, &flags);
    let api = b.client(None);
    let restarted = Instant::now();
    for id in &ids {
        api.wait_until(&format!("/v1/instances/{id}"), Duration::from_secs(30), |v| {
            v["state"] == "completed"
        });
    }
    assert!(
        restarted.elapsed() < Duration::from_secs(20),
        "B ran the released job without waiting for its lease: {:?}",
        restarted.elapsed()
    );
    let m = metrics(&b);
    assert_eq!(m["takeovers"], 0, "released, not expired: {m}");
    assert_eq!(m["jobs_completed"], 2, "B completed both jobs: {m}");
    let written = std::fs::read_to_string(&ledger).unwrap();
    let mut keys: Vec<&str> = written.lines().collect();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), 2, "each task ran once, on B: {written}");
    assert_eq!(written.lines().count(), 2, "{written}");
    assert!(b.terminate().success());
}
