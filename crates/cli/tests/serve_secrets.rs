//! Sensitive variables of live instances at rest in `servicetask serve`'s store (issue 10): a
//! real server process runs the `notify` example task (a sensitive token and a sensitive
//! credentials file path, both canaries) after a timer. While the instance waits, every byte of
//! the SQLite files (database, WAL, shared memory) or the text of a `pg_dump` of the
//! PostgreSQL database holds no canary. The node is killed with -9 during the timer and
//! restarted:
//! - with the same `SERVICETASK_STATE_KEY`: the task runs with the real values (it reads the
//!   credentials file at the sealed path) and the instance completes;
//! - without a key (values were only in the dead node's memory): an incident names the
//!   variables and the fix; supplying them again with Retry completes it;
//! - with another key: an incident says they cannot be decrypted.
//!
//! The servers' stdout and stderr (stderr says once which mode it is in, and holds every span,
//! printed by `OTEL_TRACES_EXPORTER=console` with its attributes) and every answer of
//! the API (instances, their list and history, the metrics, the console's task panels) are
//! scanned too. The PostgreSQL test needs `SERVICETASK_TEST_POSTGRES_URL` (`.ci/run` starts
//! one); without it, it is ignored.

mod serve_support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use serve_support::Client;

const TOKEN: &str = "CaNaRyS3rv3T0k3n";
const SECRET_DIR: &str = "vault-CaNaRyS3rv3D1r";
const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const OTHER_KEY: &str = "ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

/// start -> a 2 s timer -> notify (the sensitive task) -> approve (a user task) -> end
const PROCESS: &str = r#"<?xml version="1.0"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0">
  <process id="notify_later" isExecutable="true">
    <startEvent id="s"/>
    <sequenceFlow id="f0" sourceRef="s" targetRef="later"/>
    <intermediateCatchEvent id="later"><timerEventDefinition><timeDuration>PT2S</timeDuration></timerEventDefinition></intermediateCatchEvent>
    <sequenceFlow id="f1" sourceRef="later" targetRef="send"/>
    <serviceTask id="send"><extensionElements><zeebe:taskDefinition type="notify"/></extensionElements></serviceTask>
    <sequenceFlow id="f2" sourceRef="send" targetRef="approve"/>
    <userTask id="approve" name="Approve"/>
    <sequenceFlow id="f3" sourceRef="approve" targetRef="e"/>
    <endEvent id="e"/>
  </process>
</definitions>
"#;

/// Where the store is: a SQLite file, or a PostgreSQL database.
#[derive(Clone)]
enum Db {
    Sqlite(PathBuf),
    Postgres(String),
}

impl Db {
    fn arg(&self) -> PathBuf {
        match self {
            Db::Sqlite(p) => p.clone(),
            Db::Postgres(url) => PathBuf::from(url),
        }
    }

    /// Every byte the store holds at rest: the SQLite files, or a data dump of PostgreSQL.
    fn at_rest(&self) -> Vec<(String, Vec<u8>)> {
        match self {
            Db::Sqlite(path) => {
                let dir = path.parent().unwrap();
                let stem = path.file_name().unwrap().to_string_lossy().into_owned();
                let files: Vec<_> = std::fs::read_dir(dir)
                    .unwrap()
                    .map(|e| e.unwrap().path())
                    .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(&stem))
                    .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
                    .collect();
                assert!(!files.is_empty(), "no SQLite file at {}", path.display());
                files
            }
            Db::Postgres(url) => {
                let out = Command::new("pg_dump")
                    .args(["--data-only", "--no-owner", url])
                    .output()
                    .expect("run pg_dump");
                assert!(
                    out.status.success(),
                    "pg_dump: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                let text = String::from_utf8_lossy(&out.stdout).into_owned();
                assert!(text.contains("notify_later"), "the dump holds the instance: {text}");
                vec![("pg_dump".into(), out.stdout)]
            }
        }
    }
}

/// A running `servicetask serve` whose stdout and stderr are kept in files (every byte it
/// writes is scanned), killed when dropped.
struct Node {
    child: Child,
    base: String,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl Node {
    fn client(&self) -> Client {
        Client::new(&self.base, None)
    }

    /// SIGKILL, reaped; what it wrote.
    fn kill9(mut self) -> Vec<(String, Vec<u8>)> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.written()
    }

    /// SIGTERM and its exit status; what it wrote.
    fn terminate(mut self) -> (std::process::ExitStatus, Vec<(String, Vec<u8>)>) {
        let ok = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill")
            .success();
        assert!(ok, "kill -TERM {}", self.child.id());
        let status = self.child.wait().expect("wait");
        (status, self.written())
    }

    fn written(&self) -> Vec<(String, Vec<u8>)> {
        [&self.stdout, &self.stderr]
            .into_iter()
            .map(|p| (p.display().to_string(), std::fs::read(p).unwrap_or_default()))
            .collect()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(db: &Db, key: Option<&str>, dir: &Path, n: usize) -> Node {
    start_with(db, key, &[], dir, n)
}

/// [`start`] with `extra` arguments.
fn start_with(db: &Db, key: Option<&str>, extra: &[&std::ffi::OsStr], dir: &Path, n: usize) -> Node {
    let stdout = dir.join(format!("stdout-{n}.txt"));
    let stderr = dir.join(format!("stderr-{n}.txt"));
    let mut command = Command::new(env!("CARGO_BIN_EXE_servicetask"));
    command
        .args([
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--poll-ms",
            "20",
            "--lease-ms",
            "1500",
            "--database",
        ])
        .arg(db.arg())
        .args(extra)
        .current_dir(dir)
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        // its spans, one line each on stderr, are scanned with the rest
        .env("OTEL_TRACES_EXPORTER", "console")
        .env_remove("SERVICETASK_STATE_KEY")
        .env_remove("SERVICETASK_STATE_KEY_FILE");
    if let Some(k) = key {
        command.env("SERVICETASK_STATE_KEY", k);
    }
    let child = command
        .stdout(std::fs::File::create(&stdout).unwrap())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .expect("start servicetask serve");
    let mut node = Node {
        child,
        base: String::new(),
        stdout,
        stderr,
    };
    let since = Instant::now();
    loop {
        let out = read(&node.stdout);
        if let Some(line) = out.lines().next().filter(|_| out.contains('\n')) {
            node.base = line
                .strip_prefix("listening on ")
                .unwrap_or_else(|| panic!("unexpected first line {line:?}: {}", read(&node.stderr)))
                .to_string();
            return node;
        }
        if let Ok(Some(status)) = node.child.try_wait() {
            panic!("servicetask serve exited ({status}): {}", read(&node.stderr));
        }
        assert!(
            since.elapsed() < Duration::from_secs(60),
            "serve never listened: {}",
            read(&node.stderr)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn read(p: &Path) -> String {
    String::from_utf8_lossy(&std::fs::read(p).unwrap_or_default()).into_owned()
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

fn assert_no_canary(written: &[(String, Vec<u8>)], when: &str) {
    assert!(!written.is_empty(), "{when}: nothing to scan");
    for (what, bytes) in written {
        // the values, and the state keys themselves: no text shows a key
        for canary in [TOKEN, SECRET_DIR, KEY, OTHER_KEY] {
            assert!(!contains(bytes, canary), "{when}: {what} holds the canary {canary}");
        }
    }
}

/// Every byte written outside the process: the servers' stdout and stderr and the bodies of
/// the API's answers (kept as they come, scanned at the end).
#[derive(Default)]
struct Written(Vec<(String, Vec<u8>)>);

impl Written {
    fn answer(&mut self, what: &str, body: &Value) -> Value {
        self.0
            .push((format!("API answer to {what}"), body.to_string().into_bytes()));
        body.clone()
    }

    fn post(&mut self, c: &Client, path: &str, body: &Value) -> (u16, Value) {
        let (status, _, v) = c.post(path, body).unwrap();
        (status, self.answer(&format!("POST {path}"), &v))
    }

    fn wait_state(&mut self, c: &Client, id: &str, state: &str) -> Value {
        let path = format!("/v1/instances/{id}");
        let v = c.wait_until(&path, Duration::from_secs(60), |v| v["state"] == state);
        self.answer(&format!("GET {path}"), &v)
    }

    /// The answers of the read-only API over `id` and the node.
    fn read_api(&mut self, c: &Client, id: &str) {
        for path in [
            format!("/v1/instances/{id}"),
            "/v1/instances".to_string(),
            format!("/v1/instances/{id}/history"),
            "/v1/metrics".to_string(),
            "/metrics".to_string(),
            "/console/api/tasks".to_string(),
        ] {
            let (_, _, v) = c.get(&path).unwrap();
            self.answer(&format!("GET {path}"), &v);
        }
    }

    fn node(&mut self, bytes: Vec<(String, Vec<u8>)>) -> String {
        let stderr = bytes.last().map(|(_, b)| String::from_utf8_lossy(b).into_owned());
        self.0.extend(bytes);
        stderr.unwrap_or_default()
    }
}

/// The secrets the task needs: the token and the credentials file (in a canary folder).
fn secrets(dir: &Path) -> Value {
    let vault = dir.join(SECRET_DIR);
    std::fs::create_dir_all(&vault).unwrap();
    std::fs::write(vault.join("creds.txt"), "acme-account\n").unwrap();
    json!({"api_token": TOKEN, "credentials_file": vault.join("creds.txt")})
}

/// Starts an instance; checks the store at rest while it waits for its timer; kills the node
/// with -9; what it wrote on stderr.
fn start_and_kill(db: &Db, key: Option<&str>, dir: &Path, n: usize, w: &mut Written) -> (String, String) {
    let node = start(db, key, dir, n);
    let c = node.client();
    c.deploy("notify.bpmn", PROCESS);
    let mut variables = secrets(dir);
    variables["output_dir"] = json!(dir.join("out"));
    variables["message"] = json!("hello");
    let (status, v) = w.post(
        &c,
        "/v1/instances",
        &json!({"processId": "notify_later", "variables": variables}),
    );
    assert_eq!(status, 201, "{v}");
    assert_eq!(v["state"], "active", "waiting for its timer: {v}");
    assert_eq!(v["variables"]["api_token"], "[redacted]");
    let id = v["id"].as_str().unwrap().to_string();
    w.read_api(&c, &id);
    let at_rest = db.at_rest();
    if let Db::Sqlite(_) = db {
        // a live node writes to the WAL first: it is scanned too
        assert!(at_rest.iter().any(|(n, _)| n.ends_with("-wal")), "no WAL to scan");
    }
    assert_no_canary(&at_rest, "a live instance");
    let said = w.node(node.kill9());
    (id, said)
}

/// The outbox the task writes (the account read from the credentials file at the secret path).
fn notified(dir: &Path) -> Option<String> {
    std::fs::read_to_string(dir.join("out/outbox/notification.json")).ok()
}

fn scenarios(db: Db, dir: &Path) {
    let mut w = Written::default();

    // 1. with the shared key: a restart resumes with the real values
    let (id, said) = start_and_kill(&db, Some(KEY), dir, 1, &mut w);
    assert!(
        said.contains("stored encrypted") && said.contains("state key id"),
        "{said}"
    );
    let node = start(&db, Some(KEY), dir, 2);
    let c = node.client();
    w.wait_state(&c, &id, "waiting");
    let outbox = notified(dir).expect("the task ran");
    assert!(
        outbox.contains("acme-account"),
        "the task read the file at the real path: {outbox}"
    );
    assert_no_canary(&db.at_rest(), "after the task ran (the instance is live)");
    w.read_api(&c, &id);
    let (status, v) = w.post(&c, &format!("/v1/instances/{id}/tasks/approve/complete"), &json!({}));
    assert_eq!((status, v["state"].as_str()), (200, Some("completed")), "{v}");
    std::fs::remove_dir_all(dir.join("out")).unwrap();
    // one node at a time from here: a live node with the key would run the next instances
    let said = w.node(node.kill9());
    assert!(said.contains("notify"), "the task's span is on stderr, scanned: {said}");

    // 2. another key: a clear incident, no crash
    let (wrong, _) = start_and_kill(&db, Some(KEY), dir, 3, &mut w);
    let other = start(&db, Some(OTHER_KEY), dir, 4);
    let v = w.wait_state(&other.client(), &wrong, "incident");
    let message = v["incidents"][0]["message"].as_str().unwrap().to_string();
    assert!(message.contains("cannot be decrypted"), "{message}");
    assert!(
        message.contains("'api_token'") && message.contains("'credentials_file'"),
        "{message}"
    );
    assert!(notified(dir).is_none(), "the task did not run");
    w.node(other.kill9());

    // 3. no key: the values died with the node; the incident names them, Retry supplies them
    let (id, said) = start_and_kill(&db, None, dir, 5, &mut w);
    assert!(
        said.contains("NOT stored") && said.contains("SERVICETASK_STATE_KEY"),
        "{said}"
    );
    // nodes sharing PostgreSQL are warned that another node cannot run the job
    let warned = said.contains("WARNING") && said.contains("api_token") && said.contains("credentials_file");
    assert_eq!(warned, matches!(db, Db::Postgres(_)), "{said}");
    let node = start(&db, None, dir, 6);
    let c = node.client();
    let v = w.wait_state(&c, &id, "incident");
    let incident = &v["incidents"][0];
    assert_eq!(incident["errorClass"], "sensitive_value_unavailable", "{v}");
    let message = incident["message"].as_str().unwrap();
    for part in ["'api_token'", "'credentials_file'", "SERVICETASK_STATE_KEY", "retry"] {
        assert!(message.contains(part), "{message}");
    }
    assert_eq!(message.matches("Fix:").count(), 1, "one fix for both: {message}");
    let (status, v) = w.post(
        &c,
        &format!("/v1/instances/{id}/incidents/send/retry"),
        &json!({"variables": secrets(dir)}),
    );
    assert_eq!(status, 200, "{v}");
    w.wait_state(&c, &id, "waiting");
    assert!(notified(dir).unwrap().contains("acme-account"));
    assert_no_canary(&db.at_rest(), "after the retry (the instance is live)");
    w.read_api(&c, &id);
    let (status, bytes) = node.terminate();
    assert!(status.success(), "{status}");
    w.node(bytes);
    assert_eq!(w.0.iter().filter(|(n, _)| n.contains("stdout-")).count(), 6);
    assert_no_canary(&w.0, "the servers' stdout and stderr and the API's answers");
    assert_no_canary(&db.at_rest(), "at the end");
}

#[test]
fn sensitive_values_are_sealed_or_omitted_at_rest_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    scenarios(Db::Sqlite(dir.path().join("serve.db")), dir.path());
}

#[test]
#[ignore = "needs PostgreSQL: set SERVICETASK_TEST_POSTGRES_URL (run by .ci/run)"]
fn sensitive_values_are_sealed_or_omitted_at_rest_on_postgres() {
    let dir = tempfile::tempdir().unwrap();
    let url = serve_support::fresh_postgres_database("secrets");
    scenarios(Db::Postgres(url), dir.path());
}

#[test]
fn a_bad_state_key_stops_serve_with_an_error_that_does_not_echo_it() {
    let dir = tempfile::tempdir().unwrap();
    let bad = "CaNaRyKeyThatIsNotBase64!!";
    let key_file = dir.path().join("state.key");
    std::fs::write(&key_file, "c2hvcnQ=\n").unwrap();
    for (env, flag) in [(Some(bad), None), (None, Some(&key_file)), (Some(KEY), Some(&key_file))] {
        let mut command = Command::new(env!("CARGO_BIN_EXE_servicetask"));
        command
            .args(["serve", "--bind", "127.0.0.1:0", "--database"])
            .arg(dir.path().join("s.db"))
            .env_remove("SERVICETASK_STATE_KEY")
            .env_remove("SERVICETASK_STATE_KEY_FILE");
        if let Some(k) = env {
            command.env("SERVICETASK_STATE_KEY", k);
        }
        if let Some(f) = flag {
            command.arg("--state-key-file").arg(f);
        }
        let out = command.output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{err}");
        assert!(err.contains("state key"), "{err}");
        assert!(
            !err.contains(bad) && !err.contains("c2hvcnQ") && !err.contains(KEY),
            "{err}"
        );
        if env.is_none() {
            assert!(
                err.contains("state.key") && err.contains("5 bytes"),
                "the file is named: {err}"
            );
        }
    }
}

#[cfg(unix)]
#[test]
fn a_state_key_file_is_read_and_one_that_others_can_read_is_warned_about() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let db = Db::Sqlite(dir.path().join("serve.db"));
    let key_file = dir.path().join("state.key");
    std::fs::write(&key_file, format!("{KEY}\n")).unwrap();
    let id = servicetask_worker::StateKey::parse(KEY).unwrap().id().to_string();
    for (mode, warned) in [(0o644, true), (0o600, false)] {
        std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(mode)).unwrap();
        let args = [std::ffi::OsStr::new("--state-key-file"), key_file.as_os_str()];
        let node = start_with(&db, None, &args, dir.path(), mode as usize);
        let said = String::from_utf8_lossy(&node.kill9()[1].1).into_owned();
        assert!(
            said.contains("stored encrypted") && said.contains(&id),
            "{mode:o}: {said}"
        );
        assert_eq!(
            said.contains("WARNING") && said.contains("chmod 600"),
            warned,
            "{mode:o}: {said}"
        );
        assert!(!said.contains(KEY), "{said}");
    }
}
