//! Shared by the tests of `servicetask serve`: a real server process (started, killed with -9,
//! stopped with SIGTERM or SIGSTOP; the process handling is `servicetask-test-support`'s
//! [`Listening`]), and a small JSON client over real HTTP.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use servicetask_test_support::output::clean_command;
use servicetask_test_support::process::Listening;

/// A running `servicetask serve`: a [`Listening`] process (its `child`, `base`, `pid()` and
/// `signal(..)` through `Deref`), killed when dropped.
pub struct Server(Listening);

impl Server {
    /// Starts `servicetask serve` on a free port over `database` with `extra` flags and waits
    /// until it listens.
    pub fn start(database: &Path, extra: &[&str]) -> Server {
        Server::start_with_env(database, extra, &[])
    }

    /// [`Server::start`] with environment variables set (`OTEL_*` for telemetry: without
    /// them a server exports nothing; none of the test's own `OTEL_*` or servicetask settings
    /// reach it).
    pub fn start_with_env(database: &Path, extra: &[&str], env: &[(&str, String)]) -> Server {
        let mut command = clean_command(env!("CARGO_BIN_EXE_servicetask"));
        command
            .args(["serve", "--bind", "127.0.0.1:0", "--database"])
            .arg(database)
            .args(["--poll-ms", "20"])
            .args(extra);
        for (k, v) in env {
            command.env(k, v);
        }
        Server(Listening::spawn(command))
    }

    /// Kills it with SIGKILL and reaps it.
    pub fn kill9(mut self) {
        self.0.kill9();
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(self) -> std::process::ExitStatus {
        self.0.terminate()
    }

    /// A client for it.
    pub fn client(&self, token: Option<&str>) -> Client {
        Client::new(&self.base, token)
    }
}

impl std::ops::Deref for Server {
    type Target = Listening;
    fn deref(&self) -> &Listening {
        &self.0
    }
}

impl std::ops::DerefMut for Server {
    fn deref_mut(&mut self) -> &mut Listening {
        &mut self.0
    }
}

/// A JSON client: every call returns the status and the body (JSON, or a string).
pub struct Client {
    http: reqwest::blocking::Client,
    base: String,
    token: Option<String>,
}

impl Client {
    /// A client of `base`, sending `token` when given.
    pub fn new(base: &str, token: Option<&str>) -> Client {
        Client {
            http: reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
            base: base.to_string(),
            token: token.map(str::to_string),
        }
    }

    fn send(&self, req: reqwest::blocking::RequestBuilder) -> Result<(u16, String, Value), reqwest::Error> {
        let req = match &self.token {
            Some(t) => req.bearer_auth(t),
            None => req,
        };
        let res = req.send()?;
        let status = res.status().as_u16();
        let ct = res
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let text = res.text()?;
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok((status, ct, body))
    }

    /// GET `path`.
    pub fn get(&self, path: &str) -> Result<(u16, String, Value), reqwest::Error> {
        self.send(self.http.get(format!("{}{path}", self.base)))
    }

    /// POST `body` as JSON to `path`.
    pub fn post(&self, path: &str, body: &Value) -> Result<(u16, String, Value), reqwest::Error> {
        self.send(self.http.post(format!("{}{path}", self.base)).json(body))
    }

    /// POST raw bytes with a content type.
    pub fn post_raw(&self, path: &str, ct: &str, body: Vec<u8>) -> Result<(u16, String, Value), reqwest::Error> {
        self.send(
            self.http
                .post(format!("{}{path}", self.base))
                .header("content-type", ct)
                .body(body),
        )
    }

    /// Deploys `xml` as `name`; panics unless it is created.
    pub fn deploy(&self, name: &str, xml: &str) -> Value {
        let (status, _, body) = self
            .post("/v1/deployments", &json!({"name": name, "xml": xml}))
            .unwrap();
        assert_eq!(status, 201, "{body}");
        body
    }

    /// Polls GET `path` until `done` holds of the body, for at most `within`.
    pub fn wait_until(&self, path: &str, within: Duration, done: impl Fn(&Value) -> bool) -> Value {
        let start = Instant::now();
        loop {
            if let Ok((200, _, body)) = self.get(path) {
                if done(&body) {
                    return body;
                }
                if start.elapsed() > within {
                    panic!("GET {path} never came to the expected state: {body}");
                }
            }
            assert!(start.elapsed() < within, "GET {path} never answered");
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}

/// The crash test's process: three `ledger_append` tasks, a timer of `timer`, a user task.
pub fn ledger_process(timer: &str) -> String {
    format!(
        r#"<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"><process id="ledger" isExecutable="true">
  <startEvent id="start"/><sequenceFlow id="f1" sourceRef="start" targetRef="a"/>
  <serviceTask id="a" implementation="ledger_append"/><sequenceFlow id="f2" sourceRef="a" targetRef="b"/>
  <serviceTask id="b" implementation="ledger_append"/><sequenceFlow id="f3" sourceRef="b" targetRef="wait"/>
  <intermediateCatchEvent id="wait"><timerEventDefinition><timeDuration>{timer}</timeDuration></timerEventDefinition></intermediateCatchEvent>
  <sequenceFlow id="f4" sourceRef="wait" targetRef="c"/>
  <serviceTask id="c" implementation="ledger_append"/><sequenceFlow id="f5" sourceRef="c" targetRef="review"/>
  <userTask id="review"/><sequenceFlow id="f6" sourceRef="review" targetRef="end"/>
  <endEvent id="end"/></process></definitions>"#
    )
}

/// The idempotency keys of the jobs an instance's `history` (`GET /v1/instances/{id}/history`)
/// says completed, in its order: what `ledger_append` writes to the ledger.
pub fn completed_job_keys(history: &[Value]) -> Vec<String> {
    history
        .iter()
        .filter(|h| h["kind"] == "job_completed")
        .map(|h| {
            let detail: Value =
                serde_json::from_str(h["detail"].as_str().expect("a job's detail")).expect("a job's detail is JSON");
            detail["key"].as_str().expect("a completed job's key").to_string()
        })
        .collect()
}

/// A process `process_id` of three `ledger_append` tasks in a row (`a`, `b`, `c`).
pub fn three_ledger_tasks(process_id: &str) -> String {
    format!(
        r#"<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"><process id="{process_id}" isExecutable="true">
  <startEvent id="start"/><sequenceFlow id="f1" sourceRef="start" targetRef="a"/>
  <serviceTask id="a" implementation="ledger_append"/><sequenceFlow id="f2" sourceRef="a" targetRef="b"/>
  <serviceTask id="b" implementation="ledger_append"/><sequenceFlow id="f3" sourceRef="b" targetRef="c"/>
  <serviceTask id="c" implementation="ledger_append"/><sequenceFlow id="f4" sourceRef="c" targetRef="end"/>
  <endEvent id="end"/></process></definitions>"#
    )
}

/// A fresh folder for one test's database and ledger.
pub fn workdir() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("serve.db");
    let ledger = dir.path().join("ledger.txt");
    (dir, db, ledger)
}

/// A new, empty database on the test PostgreSQL (`SERVICETASK_TEST_POSTGRES_URL`), named
/// `<prefix>_<random>`; its URL.
pub fn fresh_postgres_database(prefix: &str) -> String {
    servicetask_test_support::postgres::fresh_database(prefix)
}
