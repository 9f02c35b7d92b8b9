//! Sensitive variables at rest, over a real SQLite file whose every byte (database and WAL) is
//! scanned: a live instance's snapshot and jobs hold them sealed under the state key, or not
//! at all without one; a new host on the file (a restart) with the key runs the task with the
//! real value; without the key, or with another key, the job's incident names the variable
//! and the fix, and supplying the value again with a retry completes it; an instance that
//! has ended keeps none, and the API's view never shows them.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Map, Value};
use servicetask_engine::{ServiceCall, ServiceFuture, ServiceResult, TaskHandler};
use servicetask_store::{InstanceState, SqliteStore, Store};
use servicetask_worker::view::InstanceView;
use servicetask_worker::{Host, HostConfig, Metrics, StartRequest, StateKey, Worker, WorkerConfig};

const PROCESS: &str = r#"<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"><process id="p" isExecutable="true">
  <startEvent id="s"/><sequenceFlow id="f1" sourceRef="s" targetRef="review"/>
  <userTask id="review"/><sequenceFlow id="f2" sourceRef="review" targetRef="e"/>
  <endEvent id="e"/></process></definitions>"#;

/// start -> login (a service task) -> review (a user task) -> end
const WITH_TASK: &str = r#"<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"><process id="t" isExecutable="true">
  <startEvent id="s"/><sequenceFlow id="f1" sourceRef="s" targetRef="login"/>
  <serviceTask id="login" implementation="login"/><sequenceFlow id="f2" sourceRef="login" targetRef="review"/>
  <userTask id="review"/><sequenceFlow id="f3" sourceRef="review" targetRef="e"/>
  <endEvent id="e"/></process></definitions>"#;

const SECRET: &str = "hunter2-at-rest";

fn host(path: &Path, key: Option<StateKey>) -> Arc<Host> {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(path).unwrap());
    Arc::new(Host::new(
        store,
        Arc::new(Metrics::new()),
        HostConfig {
            redact: vec!["password".into()],
            state_key: key,
        },
    ))
}

fn key(byte: u8) -> Option<StateKey> {
    Some(StateKey::from_bytes(&[byte; 32]).unwrap())
}

async fn stored(host: &Host, id: &str) -> String {
    host.store().instance(id).await.unwrap().unwrap().snapshot
}

/// Every byte of the SQLite files at `path` (database, WAL, shared memory).
fn files_hold(path: &Path, needle: &str) -> Vec<String> {
    let dir = path.parent().unwrap();
    let stem = path.file_name().unwrap().to_string_lossy().into_owned();
    let mut holding = Vec::new();
    let mut scanned = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with(&stem) {
            scanned += 1;
            let bytes = std::fs::read(&p).unwrap();
            if bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                holding.push(name);
            }
        }
    }
    assert!(scanned > 0, "no SQLite file at {}", path.display());
    holding
}

fn login(password: Value) -> StartRequest {
    let mut variables = Map::new();
    variables.insert("login".into(), json!({"user": "ann", "password": password}));
    StartRequest {
        process_id: "t".into(),
        variables,
        ..StartRequest::default()
    }
}

/// A `login` task that records the password it was given.
#[derive(Default)]
struct Seen(Mutex<Vec<Value>>);

impl TaskHandler for Seen {
    fn call(&self, call: ServiceCall) -> ServiceFuture {
        self.0.lock().unwrap().push(call.variables["login"]["password"].clone());
        Box::pin(async { ServiceResult::Complete(Map::new()) })
    }
}

/// Runs a worker over `host` until `id` is in `state`; the instance then.
async fn run_until(host: &Arc<Host>, handler: Arc<Seen>, id: &str, state: InstanceState) -> InstanceView {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let config = WorkerConfig {
        poll: Duration::from_millis(10),
        ..WorkerConfig::default()
    };
    let worker = tokio::spawn(Worker::new(host.clone(), handler, config).run(stopped));
    let mut v = host.instance(id).await.unwrap();
    for _ in 0..500 {
        v = host.instance(id).await.unwrap();
        if v.state == state {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.send(true).unwrap();
    worker.await.unwrap();
    assert_eq!(v.state, state, "{v:?}");
    v
}

/// Starts an instance of `t` on a host without a worker: its job waits in the store.
async fn started(path: &Path, key: Option<StateKey>) -> String {
    let h = host(path, key);
    h.deploy("t.bpmn", WITH_TASK.as_bytes()).await.unwrap();
    let v = h.start(login(SECRET.into())).await.unwrap();
    assert_eq!(v.state, InstanceState::Active);
    assert_eq!(v.variables["login"]["password"], "[redacted]");
    assert_eq!(h.store().stats(0).await.unwrap().queue_depth, 1, "its job is stored");
    assert_eq!(
        files_hold(path, SECRET),
        Vec::<String>::new(),
        "a live instance at rest"
    );
    assert_eq!(v.variables["login"]["user"], "ann", "the rest is kept");
    v.id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_shared_key_a_new_host_runs_the_task_with_the_real_value() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let id = started(&path, key(1)).await;
    assert!(stored(&host(&path, None), &id).await.contains("$servicetask.sealed"));

    // a restart: a new host with the same key
    let h = host(&path, key(1));
    let seen = Arc::new(Seen::default());
    run_until(&h, seen.clone(), &id, InstanceState::Waiting).await;
    assert_eq!(*seen.0.lock().unwrap(), [json!(SECRET)]);
    assert!(files_hold(&path, SECRET).is_empty());
    let done = h.complete_task(&id, "review", Map::new()).await.unwrap();
    assert_eq!(done.state, InstanceState::Completed);
    assert!(stored(&h, &id).await.contains("[redacted]"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_key_values_stay_in_memory_and_a_restart_raises_an_incident_naming_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    // the same host runs its own instance with the value it holds in memory
    let h = host(&path, None);
    h.deploy("t.bpmn", WITH_TASK.as_bytes()).await.unwrap();
    let v = h.start(login(json!({"pin": 1234, "phrase": SECRET}))).await.unwrap();
    assert!(files_hold(&path, SECRET).is_empty() && files_hold(&path, "1234").is_empty());
    assert!(stored(&h, &v.id).await.contains("$servicetask.omitted"));
    let seen = Arc::new(Seen::default());
    run_until(&h, seen.clone(), &v.id, InstanceState::Waiting).await;
    assert_eq!(*seen.0.lock().unwrap(), [json!({"pin": 1234, "phrase": SECRET})]);

    // a restart before the task ran: the value is gone, the incident says which and how
    let id = started(&path, None).await;
    let h = host(&path, None);
    let seen = Arc::new(Seen::default());
    let v = run_until(&h, seen.clone(), &id, InstanceState::Incident).await;
    assert!(
        seen.0.lock().unwrap().is_empty(),
        "the task never ran without its input"
    );
    let incident = &v.incidents[0];
    assert_eq!(incident.element_id, "login");
    assert_eq!(incident.error_class, "sensitive_value_unavailable");
    for part in [
        "'password'",
        "SERVICETASK_STATE_KEY",
        "supply 'password' again",
        "retry",
    ] {
        assert!(incident.message.contains(part), "{}", incident.message);
    }
    assert!(!incident.message.contains(SECRET));

    // the fix: the value again, with the retry
    let again = json!({"login": {"user": "ann", "password": "supplied-again"}});
    h.retry_incident(&id, "login", again.as_object().unwrap().clone())
        .await
        .unwrap();
    run_until(&h, seen.clone(), &id, InstanceState::Waiting).await;
    assert_eq!(*seen.0.lock().unwrap(), [json!("supplied-again")]);
    assert!(files_hold(&path, "supplied-again").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_key_or_no_key_for_a_sealed_value_is_an_incident_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    for (restart_key, says) in [(key(2), "cannot be decrypted"), (None, "this node has no state key")] {
        let id = started(&path, key(1)).await;
        let h = host(&path, restart_key);
        let seen = Arc::new(Seen::default());
        let v = run_until(&h, seen.clone(), &id, InstanceState::Incident).await;
        let message = &v.incidents[0].message;
        assert!(message.contains(says) && message.contains("'password'"), "{message}");
        assert!(
            message.contains(StateKey::from_bytes(&[1; 32]).unwrap().id()),
            "{message}"
        );
        assert!(seen.0.lock().unwrap().is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ended_instance_keeps_no_sensitive_value_at_rest() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let host = host(&path, key(3));
    host.deploy("p.bpmn", PROCESS.as_bytes()).await.unwrap();
    let mut ids = Vec::new();
    for _ in 0..2 {
        let mut variables = Map::new();
        variables.insert("login".into(), json!({"user": "ann", "password": SECRET}));
        let v = host
            .start(StartRequest {
                process_id: "p".into(),
                variables,
                ..StartRequest::default()
            })
            .await
            .unwrap();
        assert_eq!(v.variables["login"]["password"], "[redacted]");
        assert!(stored(&host, &v.id).await.contains("$servicetask.sealed"));
        ids.push(v.id);
    }
    let done = host.complete_task(&ids[0], "review", Map::new()).await.unwrap();
    assert_eq!(done.state, InstanceState::Completed);
    let cancelled = host.cancel(&ids[1]).await.unwrap();
    assert_eq!(cancelled.state, InstanceState::Cancelled);
    for id in &ids {
        let snapshot = stored(&host, id).await;
        assert!(
            !snapshot.contains(SECRET) && !snapshot.contains("$servicetask.sealed"),
            "{snapshot}"
        );
        let v = host.instance(id).await.unwrap();
        assert_eq!(v.variables["login"]["user"], "ann", "the rest is kept");
        assert_eq!(v.variables["login"]["password"], "[redacted]");
    }
    assert!(files_hold(&path, SECRET).is_empty());
}
