//! Sensitive variables at rest, over a real SQLite file: a live instance keeps them (its jobs
//! need their input), an instance that has ended (completed or cancelled) keeps none in its
//! stored snapshot, and the API's view never shows them.

use std::sync::Arc;

use servicetask_store::{InstanceState, SqliteStore, Store};
use servicetask_worker::{Host, HostConfig, Metrics, StartRequest};

const PROCESS: &str = r#"<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"><process id="p" isExecutable="true">
  <startEvent id="s"/><sequenceFlow id="f1" sourceRef="s" targetRef="review"/>
  <userTask id="review"/><sequenceFlow id="f2" sourceRef="review" targetRef="e"/>
  <endEvent id="e"/></process></definitions>"#;

const SECRET: &str = "hunter2-at-rest";

async fn stored(host: &Host, id: &str) -> String {
    host.store().instance(id).await.unwrap().unwrap().snapshot
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ended_instance_keeps_no_sensitive_value_at_rest() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("s.db")).unwrap());
    let host = Host::new(
        store,
        Arc::new(Metrics::new()),
        HostConfig {
            redact: vec!["password".into()],
        },
    );
    host.deploy("p.bpmn", PROCESS.as_bytes()).await.unwrap();
    let mut ids = Vec::new();
    for _ in 0..2 {
        let mut variables = serde_json::Map::new();
        variables.insert("login".into(), serde_json::json!({"user": "ann", "password": SECRET}));
        let v = host
            .start(StartRequest {
                process_id: "p".into(),
                variables,
                ..StartRequest::default()
            })
            .await
            .unwrap();
        assert_eq!(v.variables["login"]["password"], "[redacted]");
        assert!(
            stored(&host, &v.id).await.contains(SECRET),
            "a live instance keeps its input for the jobs still to come"
        );
        ids.push(v.id);
    }
    let done = host.complete_task(&ids[0], "review", Default::default()).await.unwrap();
    assert_eq!(done.state, InstanceState::Completed);
    let cancelled = host.cancel(&ids[1]).await.unwrap();
    assert_eq!(cancelled.state, InstanceState::Cancelled);
    for id in &ids {
        let snapshot = stored(&host, id).await;
        assert!(!snapshot.contains(SECRET), "{snapshot}");
        let v = host.instance(id).await.unwrap();
        assert_eq!(v.variables["login"]["user"], "ann", "the rest is kept");
        assert_eq!(v.variables["login"]["password"], "[redacted]");
    }
}
