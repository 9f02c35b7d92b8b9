//! Canaries planted through the `servicetask` binary, then every byte the process wrote is
//! scanned: its stdout and stderr, the OTLP requests it sent to a real TCP receiver, and the
//! SQLite files it left (the history and the instance state database, with WAL and SHM).
//!
//! The `notify` example task has a sensitive token and a sensitive credentials file path. The
//! runs: one that completes the task and waits at a user task (the variables are printed and
//! the instance is saved), its completion, one whose token has the wrong type (serde would
//! quote it), and one whose credentials file is missing (the error names the path).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Output;
use std::sync::{Arc, Mutex};

use servicetask_test_support::output::{clean_command, run, stderr, stdout};

const TOKEN: &str = "CaNaRyS3cr3tT0k3n";
const NUMERIC_TOKEN: &str = "98765432123456789";
const SECRET_DIR: &str = "vault-CaNaRyD1r";

const PROCESS: &str = r#"<?xml version="1.0"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0">
  <process id="notify_then_approve" isExecutable="true">
    <startEvent id="s"/>
    <sequenceFlow id="f1" sourceRef="s" targetRef="send"/>
    <serviceTask id="send"><extensionElements><zeebe:taskDefinition type="notify"/></extensionElements></serviceTask>
    <sequenceFlow id="f2" sourceRef="send" targetRef="approve"/>
    <userTask id="approve" name="Approve"/>
    <sequenceFlow id="f3" sourceRef="approve" targetRef="e"/>
    <endEvent id="e"/>
  </process>
</definitions>
"#;

/// An OTLP/HTTP receiver that keeps every request body as raw bytes.
fn receiver() -> (String, Arc<Mutex<Vec<u8>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let keep = bodies.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let keep = keep.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut out = stream;
                loop {
                    let mut len = 0usize;
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    loop {
                        let mut h = String::new();
                        if reader.read_line(&mut h).unwrap_or(0) == 0 {
                            return;
                        }
                        if h.trim_end().is_empty() {
                            break;
                        }
                        if let Some((k, v)) = h.split_once(':') {
                            if k.eq_ignore_ascii_case("content-length") {
                                len = v.trim().parse().unwrap_or(0);
                            }
                        }
                    }
                    let mut body = vec![0u8; len];
                    if reader.read_exact(&mut body).is_err() {
                        return;
                    }
                    keep.lock().unwrap().extend_from_slice(&body);
                    let resp = "HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n";
                    if out.write_all(resp.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (endpoint, bodies)
}

fn servicetask(args: &[&str], cwd: &Path, endpoint: &str) -> Output {
    run(clean_command(env!("CARGO_BIN_EXE_servicetask"))
        .args(args)
        .current_dir(cwd)
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
        .env("OTEL_METRIC_EXPORT_INTERVAL", "100"))
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[test]
fn canaries_never_leave_the_process_in_output_telemetry_or_stores() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    std::fs::write(cwd.join("p.bpmn"), PROCESS).unwrap();
    let vault = cwd.join(SECRET_DIR);
    std::fs::create_dir_all(&vault).unwrap();
    std::fs::write(vault.join("creds.txt"), "acme-account\n").unwrap();
    let creds = format!("credentials_file={}", vault.join("creds.txt").display());
    let missing = format!("credentials_file={}", vault.join("absent.txt").display());
    let (endpoint, otlp) = receiver();
    let mut written: Vec<(String, Vec<u8>)> = Vec::new();
    let mut keep = |what: &str, out: &Output| {
        written.push((format!("{what}: stdout"), out.stdout.clone()));
        written.push((format!("{what}: stderr"), out.stderr.clone()));
    };
    let token = format!("api_token={TOKEN}");
    let base = [
        "--var",
        "output_dir=out",
        "--var",
        "message=hello",
        "--state",
        "state.db",
    ];

    // 1. the task runs with the secrets and the process waits at the user task
    let mut args = vec!["run", "p.bpmn", "--var", &token, "--var", &creds];
    args.extend(base);
    let out = servicetask(&args, cwd, &endpoint);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(3), "{text}\n{}", stderr(&out));
    assert!(text.contains("\"api_token\":\"[redacted]\""), "{text}");
    assert!(text.contains("\"credentials_file\":\"[redacted]\""), "{text}");
    assert!(
        text.contains("[redacted:credentials_file]"),
        "the file table names the field: {text}"
    );
    let instance = text
        .split("servicetask complete ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the waiting instance's id")
        .to_string();
    keep("run", &out);

    // 2. its completion (the saved state has no secret to resume with, and needs none)
    let out = servicetask(
        &["complete", &instance, "approve", "--state", "state.db"],
        cwd,
        &endpoint,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    keep("complete", &out);

    // 3. a token of the wrong type: the incident names the field and the type, not the value
    let numeric = format!("api_token={NUMERIC_TOKEN}");
    let mut args = vec!["run", "p.bpmn", "--var", &numeric, "--var", &creds];
    args.extend(base);
    let out = servicetask(&args, cwd, &endpoint);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("field `api_token`: expected a string, found an integer"),
        "{text}"
    );
    keep("wrong type", &out);

    // 4. a missing credentials file: the incident names the field, not the path
    let mut args = vec!["run", "p.bpmn", "--var", &token, "--var", &missing];
    args.extend(base);
    let out = servicetask(&args, cwd, &endpoint);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("[redacted:credentials_file]"), "{text}");
    keep("missing file", &out);

    // every file the runs left: history and state databases with their WAL and SHM
    for entry in std::fs::read_dir(cwd).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.contains(".db") {
            written.push((name, std::fs::read(&path).unwrap()));
        }
    }
    assert!(written.iter().any(|(n, _)| n.starts_with("servicetask-history.db")));
    assert!(written.iter().any(|(n, _)| n.starts_with("state.db")));
    let otlp = otlp.lock().unwrap().clone();
    assert!(contains(&otlp, "notify"), "the receiver got the task's spans");
    written.push(("OTLP requests".into(), otlp));

    for (what, bytes) in &written {
        for canary in [TOKEN, NUMERIC_TOKEN, SECRET_DIR] {
            assert!(!contains(bytes, canary), "{what} holds the canary {canary}");
        }
    }
}
