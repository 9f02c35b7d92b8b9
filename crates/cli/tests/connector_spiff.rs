//! End to end with the real thing: SpiffWorkflow 3.2.0 runs a BPMN process whose
//! `spiffworkflow:serviceTaskOperator` task is answered by two real `servicetask serve
//! --connector` processes through `servicetask_spiff.ServiceTaskScriptEngine` (python/), one of
//! them killed with SIGKILL mid-run; a real OTLP/gRPC receiver gets the spans of both sides.
//!
//! Ignored: it needs the Python venv that `scripts/connector-e2e.sh` makes and names in
//! `SERVICETASK_CONNECTOR_PYTHON` (the script runs this test).

mod connector_support;

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use connector_support::{ConnectorServer, Receiver};
use serde_json::Value;

const RUNS: usize = 40;
/// The driver's progress count at which one server is killed.
const KILL_AT: usize = 12;

#[test]
#[ignore = "needs the SpiffWorkflow venv of scripts/connector-e2e.sh (SERVICETASK_CONNECTOR_PYTHON)"]
fn spiffworkflow_runs_on_two_servers_while_one_is_killed() {
    let python = std::env::var("SERVICETASK_CONNECTOR_PYTHON")
        .expect("SERVICETASK_CONNECTOR_PYTHON: the venv python of scripts/connector-e2e.sh");
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let receiver = Receiver::start();
    let mut a = ConnectorServer::start(&[], Some(&receiver.endpoint));
    let b = ConnectorServer::start(&[], Some(&receiver.endpoint));

    let mut driver = Command::new(&python)
        .arg(repo.join("python/tests/e2e_driver.py"))
        .args(["--urls", &format!("{},{}", a.base, b.base)])
        .args(["--otlp", &receiver.endpoint])
        .args(["--runs", &RUNS.to_string(), "--threads", "4"])
        .env_remove("OTEL_SDK_DISABLED")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the SpiffWorkflow driver");
    let mut result = None;
    let mut killed = false;
    for line in BufReader::new(driver.stdout.take().unwrap()).lines() {
        let line = line.expect("driver output");
        if let Some(n) = line.strip_prefix("progress ") {
            if !killed && n.parse::<usize>().unwrap_or(0) >= KILL_AT {
                a.kill9();
                killed = true;
            }
        } else if let Some(json) = line.strip_prefix("result ") {
            result = Some(serde_json::from_str::<Value>(json).expect("driver result JSON"));
        }
    }
    assert!(driver.wait().unwrap().success(), "the driver failed");
    assert!(killed, "the server was killed mid-run");
    let result = result.expect("the driver printed its result");
    let runs = result["runs"].as_array().unwrap();
    assert_eq!(runs.len(), RUNS);

    // every call answered: each run completed on the path its score asks for
    let mut served: HashMap<String, usize> = HashMap::new();
    for run in runs {
        assert_eq!(run["error"], Value::Null, "{run}");
        assert_eq!(run["completed"], true, "{run}");
        *served
            .entry(run["server"].as_str().unwrap_or("").to_string())
            .or_default() += 1;
        if run["score"].as_f64() == Some(0.9) {
            assert_eq!(run["outcome"], "passed", "{run}");
            assert_eq!(
                run["verdict"]["body"]["quality_ok"], true,
                "the output is in task data: {run}"
            );
            assert_eq!(run["verdict"]["http_status"], 200);
        } else {
            assert_eq!(run["outcome"], "rejected", "the error boundary caught it: {run}");
            assert_eq!(run["low_error"]["error_code"], "QUALITY_LOW", "{run}");
            assert_eq!(run["low_error"]["variables"]["rejected_quality"], 0.1, "{run}");
        }
    }
    assert!(
        served.get(&a.base).copied().unwrap_or(0) > 0,
        "the first server answered before it died: {served:?}"
    );
    assert!(served.get(&b.base).copied().unwrap_or(0) > 0, "{served:?}");

    // one trace per run, the same on both sides: the task span is a child of the caller's span
    let run_traces: HashSet<&str> = runs.iter().map(|r| r["trace_id"].as_str().unwrap()).collect();
    let spans = receiver.wait_for(Duration::from_secs(15), |s| {
        let clients = s.iter().filter(|s| s.name.starts_with("call_service ")).count();
        let tasks = s.iter().filter(|s| s.name == "quality_check").count();
        clients >= RUNS && tasks >= served.get(&b.base).copied().unwrap_or(0)
    });
    let clients: HashMap<&str, &connector_support::SpanSeen> = spans
        .iter()
        .filter(|s| s.service == "spiffworkflow-e2e" && s.name == "call_service servicetask/quality_check")
        .map(|s| (s.span_id.as_str(), s))
        .collect();
    assert_eq!(clients.len(), RUNS, "one client span per run reached the receiver");
    for c in clients.values() {
        assert!(run_traces.contains(c.trace_id.as_str()), "{c:?}");
    }
    let tasks: Vec<_> = spans.iter().filter(|s| s.name == "quality_check").collect();
    // the killed server may die with spans not yet exported; the live one's all arrive
    assert!(
        tasks.len() >= served[&b.base],
        "{} task spans for {served:?}",
        tasks.len()
    );
    for t in &tasks {
        let parent = clients
            .get(t.parent_span_id.as_str())
            .unwrap_or_else(|| panic!("task span {t:?} is not the child of a SpiffWorkflow call span"));
        assert_eq!(t.trace_id, parent.trace_id);
        assert!(run_traces.contains(t.trace_id.as_str()));
    }
    assert!(b.terminate().success());
}
