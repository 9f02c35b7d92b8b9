//! `servicetask report --database postgres://...` end to end: two real `servicetask serve`
//! nodes over one PostgreSQL write their executions to its history, and the real binary reports
//! the whole fleet's executions from it; two nodes' history writers fill one history that the
//! report reads whole (terminal table, task filter, HTML page). Needs
//! `SERVICETASK_TEST_POSTGRES_URL` (`.ci/run` starts a PostgreSQL 15 and runs this with
//! `--ignored`; without the variable it fails, so it is ignored).

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use servicetask::record::{ExecutionRecord, OutcomeKind, RecordSink as _};
use servicetask_history::{HistoryWriter, PostgresStore, WriterConfig};
use servicetask_test_support::output::{clean_command, run, stderr, stdout};

mod serve_support;

fn fresh_database() -> String {
    serve_support::fresh_postgres_database("report")
}

/// The runs of `task` in a report's table.
fn runs_of(out: &str, task: &str) -> String {
    out.lines()
        .find(|l| l.split_whitespace().next() == Some(task))
        .unwrap_or_else(|| panic!("no row for {task}:\n{out}"))
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_string()
}

fn report(args: &[&str]) -> (i32, String, String) {
    let out = run(clean_command(env!("CARGO_BIN_EXE_servicetask"))
        .arg("report")
        .args(args));
    (out.status.code().unwrap_or(-1), stdout(&out), stderr(&out))
}

#[test]
#[ignore = "needs PostgreSQL: set SERVICETASK_TEST_POSTGRES_URL (run by .ci/run)"]
fn report_reads_the_whole_fleets_history_from_postgres() {
    let url = fresh_database();
    let (code, out, err) = report(&["--database", &url]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("no executions"), "{out}");

    // two nodes, each with its own writer, as two `servicetask serve` processes would have
    let t0 = 1_780_000_000 * 1_000_000_000i64;
    let nodes: Vec<HistoryWriter> = (0..2)
        .map(|_| {
            let store = Arc::new(PostgresStore::connect(&url).unwrap());
            HistoryWriter::spawn(store, WriterConfig::default()).unwrap()
        })
        .collect();
    for n in 0..600i64 {
        let (node, task) = if n % 3 == 0 { (0, "charge") } else { (1, "ship") };
        let mut r = ExecutionRecord::new(
            task,
            t0 + n * 1_000_000_000,
            2_000_000 + n as u64 * 1000,
            OutcomeKind::Complete,
        );
        if n % 10 == 0 {
            r.outcome = OutcomeKind::Failure;
            r.error_class = Some("io".into());
        }
        nodes[node].record(r);
    }
    for w in &nodes {
        w.flush().unwrap();
        w.health().unwrap();
    }

    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("fleet.html");
    let (code, out, err) = report(&["--database", &url, "--html", html.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("600 executions"), "{out}");
    assert_eq!(
        (runs_of(&out, "charge"), runs_of(&out, "ship")),
        ("200".into(), "400".into())
    );
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("charge") && page.contains("ship"));

    let (code, out, err) = report(&["--database", &url, "--task", "charge"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("200 executions") && !out.contains("ship"), "{out}");

    // a database that is not PostgreSQL, and one that cannot be reached: clear errors, and a
    // password in the URL is never echoed
    let (code, _, err) = report(&["--database", "servicetask.db"]);
    assert_eq!(code, 2);
    assert!(err.contains("postgres:// URL") && err.contains("--db"), "{err}");
    let (code, _, err) = report(&["--database", "postgres://app:hunter2@127.0.0.1:1/none"]);
    assert_eq!(code, 2);
    assert!(err.contains("PostgreSQL history") && !err.contains("hunter2"), "{err}");
}

/// Two `servicetask serve` nodes over one PostgreSQL record every task execution in its
/// history; the report reads both nodes' executions.
#[test]
#[ignore = "needs PostgreSQL: set SERVICETASK_TEST_POSTGRES_URL (run by .ci/run)"]
fn serve_on_postgres_writes_the_history_report_reads() {
    let url = fresh_database();
    let (_dir, _, ledger) = serve_support::workdir();
    let db = std::path::PathBuf::from(&url);
    let nodes = [
        serve_support::Server::start(&db, &["--node-id", "a"]),
        serve_support::Server::start(&db, &["--node-id", "b"]),
    ];
    let clients: Vec<_> = nodes.iter().map(|n| n.client(None)).collect();
    clients[0].deploy("three.bpmn", &serve_support::three_ledger_tasks("three"));
    let instances = 20;
    for n in 0..instances {
        let (s, _, body) = clients[n % 2]
            .post(
                "/v1/instances",
                &json!({"processId": "three", "variables": {"ledger": ledger}}),
            )
            .unwrap();
        assert_eq!(s, 201, "{body}");
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let done = clients[1].get("/v1/instances?state=completed").unwrap().2;
        if done.as_array().unwrap().len() == instances {
            break;
        }
        assert!(Instant::now() < deadline, "not all completed: {done}");
        std::thread::sleep(Duration::from_millis(100));
    }
    // SIGTERM drains and flushes each node's history writer
    for n in nodes {
        assert!(n.terminate().success());
    }
    let (code, out, err) = report(&["--database", &url]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(runs_of(&out, "ledger_append"), (3 * instances).to_string(), "{out}");
}
