//! A canary planted through every way a sensitive value could leave the runner, then every
//! byte written is scanned: the exported telemetry (SDK in-memory exporters), the history's
//! SQLite files (with WAL and SHM), and the error reports a caller would print.
//!
//! The ways in: a wrong-typed sensitive field and a wrong-typed ordinary one (serde would
//! quote both values), a `#[task(path, sensitive)]` path that does not exist (error, help text,
//! input file event) and one that does and is read with `cx.fs()` (file events, per-file
//! totals, history file table), and a panic whose message holds the input.
//! The CLI's own canary (crates/cli/tests/canary.rs) adds stdout, stderr, OTLP and the state
//! database of a real process.

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::json;
use servicetask::testing::TestTelemetry;
use servicetask::{service_task, JsonOutcome, RunOptions, Runner, TaskContext, TaskError, TaskInput, TaskOutcome};
use servicetask_history::{HistoryWriter, SqliteStore, WriterConfig};

const CANARY: &str = "CaNaRy7f3a9";

#[derive(Debug, Clone, serde::Deserialize, serde::Serialize, schemars::JsonSchema, TaskInput)]
struct Payment {
    account: String,
    amount: u64,
    #[task(sensitive)]
    pin: u32,
    #[task(sensitive)]
    token: String,
    #[task(path, required, sensitive)]
    key_file: PathBuf,
    /// A sensitive directory: paths under it are redacted too.
    #[task(path, sensitive)]
    vault: PathBuf,
    #[serde(default)]
    explode: bool,
}

#[service_task(name = "pay")]
async fn pay(cx: &TaskContext, input: Payment) -> Result<u64, TaskError> {
    let key = cx.fs().read_to_string(&input.key_file).await?;
    // a file under the sensitive directory is redacted too (and its error)
    let missing = input.vault.join("absent").join("seal.bin");
    let _ = cx.fs().read(&missing).await;
    cx.fs().write(input.vault.join("receipt.txt"), b"paid").await?;
    if input.explode {
        panic!("cannot pay with token {} and key {key}", input.token);
    }
    Ok(input.amount + key.len() as u64)
}

fn vars(v: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    v.as_object().unwrap().clone()
}

fn report(out: &JsonOutcome) -> String {
    match out {
        TaskOutcome::Failure { error, .. } => format!("{}\n{error:?}", error.report()),
        other => format!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_planted_canary_never_leaves_through_telemetry_history_or_errors() {
    let dir = tempfile::tempdir().unwrap();
    let secret_dir = dir.path().join(format!("vault-{CANARY}"));
    std::fs::create_dir_all(&secret_dir).unwrap();
    let key_file = secret_dir.join(format!("{CANARY}.key"));
    std::fs::write(&key_file, "k3y").unwrap();
    let missing_key = secret_dir.join("absent.key");
    let history_dir = dir.path().join("history");
    std::fs::create_dir_all(&history_dir).unwrap();

    let t = TestTelemetry::new();
    let store = Arc::new(SqliteStore::open(history_dir.join("h.db")).unwrap());
    let writer = Arc::new(HistoryWriter::spawn(store, WriterConfig::default()).unwrap());
    let runner = Runner::builder()
        .telemetry(t.telemetry())
        .record_sink(writer.clone())
        .build();
    runner.register(PayTask).unwrap();
    assert_eq!(runner.sensitive_variables(), vec!["key_file", "pin", "token", "vault"]);

    let good = json!({"account": "acme", "amount": 5, "pin": 1234, "token": CANARY, "key_file": key_file, "vault": secret_dir});
    let with = |k: &str, v: serde_json::Value| {
        let mut o = good.clone();
        o[k] = v;
        vars(o)
    };
    let cases = [
        ("complete", vars(good.clone()), true),
        ("sensitive field of the wrong type", with("pin", json!(CANARY)), false),
        ("ordinary field of the wrong type", with("amount", json!(CANARY)), false),
        ("sensitive path missing", with("key_file", json!(missing_key)), false),
        ("panic holding the input", with("explode", json!(true)), false),
    ];
    let mut reports = String::new();
    for (what, variables, completes) in cases {
        let out = runner.run_json("pay", variables, RunOptions::default()).await.unwrap();
        assert_eq!(matches!(out, TaskOutcome::Complete(_)), completes, "{what}: {out:?}");
        reports.push_str(&report(&out));
    }
    writer.flush().unwrap();
    writer.shutdown();

    // the cases did reach the places scanned
    assert!(
        reports.contains("field `pin`: expected u32, found a string"),
        "{reports}"
    );
    assert!(
        reports.contains("field `amount`: expected u64, found a string"),
        "{reports}"
    );
    assert!(reports.contains("[redacted:key_file]"), "{reports}");
    assert!(reports.contains("task panicked: a panic with a message"), "{reports}");
    let telemetry = t.all_text();
    assert!(telemetry.contains("[redacted:key_file]"), "file events were recorded");
    assert!(
        telemetry.contains("[redacted:vault]"),
        "paths under a sensitive directory were recorded"
    );
    assert!(
        telemetry.contains("servicetask.input_file"),
        "input files were inspected"
    );

    assert!(
        !reports.contains(CANARY),
        "an error report leaked the canary:\n{reports}"
    );
    if let Some(at) = telemetry.find(CANARY) {
        let from = telemetry[..at].char_indices().rev().nth(300).map_or(0, |(i, _)| i);
        panic!(
            "telemetry leaked the canary: …{}",
            &telemetry[from..(at + 40).min(telemetry.len())]
        );
    }
    let mut history_bytes = 0;
    for entry in std::fs::read_dir(&history_dir).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        history_bytes += bytes.len();
        assert!(!contains(&bytes, CANARY.as_bytes()), "the history leaked the canary");
    }
    assert!(history_bytes > 0);
    let store = SqliteStore::open(history_dir.join("h.db")).unwrap();
    let files = store.file_paths().unwrap();
    assert!(files.iter().any(|p| p == "[redacted:key_file]"), "{files:?}");
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
