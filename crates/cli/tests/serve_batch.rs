//! `cx.batch` through a real `servicetask serve` (issue 17): an instance runs `batch_import`
//! (100,000 rows as one batch with a durable SQLite checkpoint; every row it processes is
//! appended to a file). The console's `/console/api/batches` reports the batch's progress,
//! which only moves forward; the server is killed with SIGKILL midway and started again; the
//! job's rerun skips exactly the rows the checkpoint acknowledged before the kill (counted on
//! the task's side, in the file), processes the rest, and the instance completes.

mod serve_support;

use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use serve_support::{Client, Server};
use servicetask_history::SqliteCheckpoint;

const ROWS: u64 = 100_000;
const TOKEN: &str = "batch-test-token";

/// start -> batch_import -> end.
const IMPORT: &str = r#"<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"><process id="import" isExecutable="true">
  <startEvent id="start"/><sequenceFlow id="f1" sourceRef="start" targetRef="rows"/>
  <serviceTask id="rows" implementation="batch_import"/><sequenceFlow id="f2" sourceRef="rows" targetRef="end"/>
  <endEvent id="end"/></process></definitions>"#;

/// The batch's row on the console, once it has reported.
fn batch_row(api: &Client) -> Option<Value> {
    let (status, _, v) = api.get("/console/api/batches").ok()?;
    assert_eq!(status, 200, "{v}");
    v["batches"]
        .as_array()?
        .iter()
        .find(|b| b["task"] == "batch_import" && b["batch"] == "rows")
        .cloned()
}

/// Polls the console's batches until `stop` holds of the row; every row seen, in order.
fn watch(api: &Client, within: Duration, stop: impl Fn(&Value) -> bool) -> Vec<Value> {
    let start = Instant::now();
    let mut seen: Vec<Value> = Vec::new();
    loop {
        if let Some(row) = batch_row(api) {
            if seen.last() != Some(&row) {
                seen.push(row.clone());
            }
            if stop(&row) {
                return seen;
            }
        }
        assert!(start.elapsed() < within, "the batch never got there: {seen:?}");
        std::thread::sleep(Duration::from_millis(40));
    }
}

fn number(row: &Value, field: &str) -> u64 {
    row[field].as_u64().unwrap_or_else(|| panic!("{field} in {row}"))
}

/// Progress that never goes back, of one batch of `ROWS`.
fn assert_in_order(seen: &[Value]) {
    for w in seen.windows(2) {
        assert!(
            number(&w[0], "done") <= number(&w[1], "done"),
            "progress went back: {} then {}",
            w[0],
            w[1]
        );
    }
    assert!(seen.iter().all(|r| r["total"] == ROWS), "{seen:?}");
}

/// The processed file's lines.
fn processed(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn a_batch_killed_midway_resumes_from_its_checkpoint_with_progress_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("serve.db");
    let checkpoint = dir.path().join("checkpoint.db");
    let rows_file = dir.path().join("processed.txt");
    let flags = ["--api-token", TOKEN, "--lease-ms", "2000"];
    let server = Server::start(&db, &flags);
    let api = server.client(Some(TOKEN));
    api.deploy("import.bpmn", IMPORT);
    let (status, _, v) = api
        .post(
            "/v1/instances",
            &json!({"processId": "import", "businessKey": "import-1", "variables": {
                "items": ROWS, "checkpoint": checkpoint, "processed": rows_file, "item_micros": 1000}}),
        )
        .unwrap();
    assert_eq!(status, 201, "{v}");
    let id = v["id"].as_str().unwrap().to_string();

    // the first run: watched until about a third is done, then the server is killed
    let before = watch(&api, Duration::from_secs(180), |r| number(r, "done") >= ROWS * 3 / 10);
    assert!(before.len() >= 3, "progress reported as it went: {before:?}");
    assert_in_order(&before);
    assert!(
        before.iter().any(|r| r["etaSeconds"].as_f64().is_some_and(|s| s > 0.0)),
        "a time left while running: {before:?}"
    );
    server.kill9();

    // what the kill left: whole groups of keys, each of a row that really ran
    let store = SqliteCheckpoint::open(&checkpoint).unwrap();
    assert_eq!(store.integrity().unwrap(), "ok");
    let scopes = store.scopes().unwrap();
    assert_eq!(scopes.len(), 1, "one batch, one scope: {scopes:?}");
    // the scope is the job's idempotency key (INSTANCE:TOKEN, the same when the job is rerun)
    // and the batch's name
    assert!(
        scopes[0].starts_with(&format!("{id}:")) && scopes[0].ends_with("/rows"),
        "{scopes:?}"
    );
    let acknowledged = store.keys(&scopes[0]).unwrap();
    drop(store);
    let ran_first: Vec<String> = processed(&rows_file);
    let ran_first_set: HashSet<&str> = ran_first.iter().map(String::as_str).collect();
    let acked = acknowledged.len() as u64;
    assert!(acked >= ROWS / 4 && acked % 1000 == 0, "{acked} keys acknowledged");
    assert!(
        acknowledged.iter().all(|k| ran_first_set.contains(k.as_str())),
        "a row was acknowledged that never ran"
    );
    // rows done but not yet acknowledged (less than a group) and those in flight run again
    let unacknowledged = ran_first.len() as u64 - acked;
    assert!(
        unacknowledged < 1000 + 16,
        "{unacknowledged} rows ran but were not acknowledged"
    );

    // the restarted server reruns the job (its lease ran out) with the same idempotency key
    let server = Server::start(&db, &flags);
    let api = server.client(Some(TOKEN));
    let after = watch(&api, Duration::from_secs(300), |r| r["finished"] == true);
    assert_in_order(&after);
    assert!(after.len() >= 3, "the rerun reported as it went: {after:?}");
    // the rerun skips the acknowledged rows first (they come first), then works on the rest
    assert!(
        after
            .iter()
            .all(|r| number(r, "skipped") <= acked && (number(r, "done") <= acked || number(r, "skipped") == acked)),
        "the rerun skipped what was acknowledged: {after:?}"
    );
    assert_eq!(number(after.last().unwrap(), "skipped"), acked);
    assert_eq!(number(after.last().unwrap(), "done"), ROWS);
    let done = api.wait_until(&format!("/v1/instances/{id}"), Duration::from_secs(60), |v| {
        v["state"] == "completed" || v["state"] == "failed" || v["state"] == "incident"
    });
    assert_eq!(done["state"], "completed", "{done}");
    let vars = &done["variables"];
    assert_eq!(
        (&vars["done"], &vars["skipped"]),
        (&json!(ROWS), &json!(acked)),
        "{vars}"
    );
    assert_eq!(vars["ran"], json!(ROWS - acked), "{vars}");

    // on the task's side: every row ran; the rerun ran exactly the rows not acknowledged
    let all = processed(&rows_file);
    let second = &all[ran_first.len()..];
    assert_eq!(second.len() as u64, ROWS - acked, "rows the rerun processed");
    assert!(
        second.iter().all(|r| !acknowledged.contains(r)),
        "an acknowledged row ran again"
    );
    let distinct: HashSet<&str> = all.iter().map(String::as_str).collect();
    assert_eq!(distinct.len() as u64, ROWS, "every row ran");
    eprintln!(
        "serve batch: {acked} rows acknowledged before the kill, {} ran then, {} ran after the restart ({unacknowledged} twice)",
        ran_first.len(),
        second.len()
    );
    server.terminate();
}
