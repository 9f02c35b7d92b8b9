//! `servicetask report --database postgres://...` end to end: two nodes' history writers fill
//! one PostgreSQL history, and the real `servicetask` binary reports the whole fleet's
//! executions from it (terminal table, task filter, HTML page). Needs
//! `SERVICETASK_TEST_POSTGRES_URL` (`.ci/run` starts a PostgreSQL 15 and runs this with
//! `--ignored`; without the variable it fails, so it is ignored).

use std::process::Command;
use std::sync::Arc;

use servicetask::record::{ExecutionRecord, OutcomeKind, RecordSink as _};
use servicetask_history::{HistoryWriter, PostgresStore, WriterConfig};

const ENV: &str = "SERVICETASK_TEST_POSTGRES_URL";

/// A fresh database on the test server; its URL.
fn fresh_database() -> String {
    let url =
        std::env::var(ENV).unwrap_or_else(|_| panic!("{ENV} is not set: start a PostgreSQL (see .ci/postgres.sh)"));
    let name = format!("report_{}_{}", std::process::id(), rand::random::<u32>());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(conn);
        client.batch_execute(&format!("CREATE DATABASE {name}")).await.unwrap();
    });
    let base = url.rsplit_once('/').map_or(url.as_str(), |(b, _)| b);
    format!("{base}/{name}")
}

fn report(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_servicetask"))
        .arg("report")
        .args(args)
        .env_remove("SERVICETASK_HISTORY")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
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
    let row = |name: &str| {
        out.lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no row for {name}:\n{out}"))
            .split_whitespace()
            .nth(1)
            .unwrap()
            .to_string()
    };
    assert_eq!((row("charge"), row("ship")), ("200".to_string(), "400".to_string()));
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
