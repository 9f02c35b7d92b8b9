//! The host and worker over a real SQLite file: instances run their service tasks as leased
//! jobs, wait on a persisted timer and a user task, retry on persisted due times, survive a
//! new host on the same file, and reject a completion whose lease was taken over.

mod support;
use support as fixtures;

use std::sync::Arc;
use std::time::Duration;

use servicetask_engine::ServiceResult;
use servicetask_store::{Acquire, InstanceState, SqliteStore, Store};
use servicetask_worker::{Host, HostConfig, Metrics, StartRequest, Worker, WorkerConfig};

fn host(path: &std::path::Path) -> Arc<Host> {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(path).unwrap());
    Arc::new(Host::new(
        store,
        Arc::new(Metrics::new()),
        HostConfig {
            redact: vec!["password".into()],
            // every host on the file shares the key, as every node of a store does
            state_key: Some(servicetask_worker::StateKey::from_bytes(&[7; 32]).unwrap()),
        },
    ))
}

fn start_req(bk: &str) -> StartRequest {
    let mut variables = serde_json::Map::new();
    variables.insert("password".into(), "hunter2".into());
    StartRequest {
        process_id: "p".into(),
        business_key: Some(bk.into()),
        variables,
        ..StartRequest::default()
    }
}

async fn wait_for(host: &Host, id: &str, state: InstanceState) -> servicetask_worker::view::InstanceView {
    for _ in 0..400 {
        let v = host.instance(id).await.unwrap();
        if v.state == state {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!(
        "instance {id} never reached {state:?}: {:?}",
        host.instance(id).await.unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_run_jobs_wait_on_timers_and_user_tasks_and_complete_once() {
    let dir = tempfile::tempdir().unwrap();
    let host = host(&dir.path().join("s.db"));
    host.deploy("p.bpmn", fixtures::PROCESS.as_bytes()).await.unwrap();
    let handler = fixtures::recorder(1);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(
        Worker::new(
            host.clone(),
            handler.clone(),
            WorkerConfig {
                poll: Duration::from_millis(20),
                ..WorkerConfig::default()
            },
        )
        .run(stopped),
    );
    let mut ids = Vec::new();
    for n in 0..5 {
        let v = host.start(start_req(&format!("order-{n}"))).await.unwrap();
        assert_eq!(v.variables["password"], "[redacted]", "sensitive values never leave");
        ids.push(v.id);
    }
    for id in &ids {
        let v = wait_for(&host, id, InstanceState::Waiting).await;
        assert_eq!(v.waiting_tasks.len(), 1);
        assert_eq!(v.waiting_tasks[0].element_id, "review");
        let v = host.complete_task(id, "review", Default::default()).await.unwrap();
        assert_eq!(v.state, InstanceState::Completed);
        assert_eq!(v.completed, ["s", "a", "b", "w", "c", "review", "e"]);
        assert_eq!(v.variables["done_c"], true);
        let history = host.store().history(id).await.unwrap();
        let jobs: Vec<&str> = history
            .iter()
            .filter(|h| h.event.kind == "job_completed")
            .filter_map(|h| h.event.element_id.as_deref())
            .collect();
        // each task failed once (a persisted retry) and completed once
        assert_eq!(jobs, ["a", "a", "b", "b", "c", "c"]);
    }
    // every task ran twice under one key: the retry kept its idempotency key
    let keys = handler.keys.lock().unwrap().clone();
    assert_eq!(keys.len(), 5 * 3 * 2);
    for k in &keys {
        assert_eq!(keys.iter().filter(|x| *x == k).count(), 2, "{k}");
    }
    stop.send(true).unwrap();
    worker.await.unwrap();
    let stats = host.store().stats(servicetask_store::now_ms()).await.unwrap();
    assert_eq!(stats.queue_depth, 0);
    assert_eq!(stats.instances, [(InstanceState::Completed, 5)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overdue_timer_fires_at_once_for_a_new_host_on_the_same_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let id = {
        let host = host(&path);
        host.deploy("p.bpmn", fixtures::PROCESS.as_bytes()).await.unwrap();
        let v = host.start(start_req("x")).await.unwrap();
        // run the two jobs before the timer by hand, then "crash" (drop the host)
        for _ in 0..2 {
            let jobs = host
                .store()
                .acquire_jobs(Acquire {
                    owner: "n1".into(),
                    max: 10,
                    lease_ms: 10_000,
                    now_ms: servicetask_store::now_ms(),
                })
                .await
                .unwrap();
            assert_eq!(jobs.len(), 1);
            assert!(host
                .complete_job(&jobs[0], ServiceResult::Complete(Default::default()))
                .await
                .unwrap());
        }
        let v2 = host.instance(&v.id).await.unwrap();
        assert_eq!(v2.state, InstanceState::Active);
        assert!(v2.next_timer_at_ms.is_some());
        v.id
    };
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let host = host(&path);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(Worker::new(host.clone(), fixtures::recorder(0), WorkerConfig::default()).run(stopped));
    let v = wait_for(&host, &id, InstanceState::Waiting).await;
    assert_eq!(v.completed, ["s", "a", "b", "w", "c"]);
    stop.send(true).unwrap();
    worker.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_completion_after_a_take_over_is_rejected_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let host = host(&dir.path().join("s.db"));
    host.deploy("p.bpmn", fixtures::PROCESS.as_bytes()).await.unwrap();
    let v = host.start(start_req("x")).await.unwrap();
    let acquire = |owner: &str, now| Acquire {
        owner: owner.into(),
        max: 1,
        lease_ms: 100,
        now_ms: now,
    };
    let now = servicetask_store::now_ms();
    let first = host.store().acquire_jobs(acquire("a", now)).await.unwrap().remove(0);
    let second = host
        .store()
        .acquire_jobs(acquire("b", now + 200))
        .await
        .unwrap()
        .remove(0);
    assert!(second.taken_over);
    assert!(host
        .complete_job(&second, ServiceResult::Complete(Default::default()))
        .await
        .unwrap());
    assert!(!host
        .complete_job(&first, ServiceResult::Complete(Default::default()))
        .await
        .unwrap());
    let m = host.metrics().snapshot();
    assert_eq!((m.late_completions, m.jobs_completed), (1, 1));
    let v = host.instance(&v.id).await.unwrap();
    assert_eq!(v.completed, ["s", "a"], "the task's completion applied once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_name_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let host = host(&dir.path().join("s.db"));
    let err = host.deploy("bad.bpmn", b"<definitions").await.unwrap_err();
    assert!(matches!(err, servicetask_worker::HostError::InvalidBpmn(_)), "{err}");
    let err = host.start(start_req("x")).await.unwrap_err();
    assert!(
        matches!(err, servicetask_worker::HostError::NotFound { field: "processId", .. }),
        "{err}"
    );
    host.deploy("p.bpmn", fixtures::PROCESS.as_bytes()).await.unwrap();
    let v = host.start(start_req("x")).await.unwrap();
    let err = host.complete_task(&v.id, "nope", Default::default()).await.unwrap_err();
    assert!(
        matches!(err, servicetask_worker::HostError::NotFound { field: "taskKey", .. }),
        "{err}"
    );
    let c = host.cancel(&v.id).await.unwrap();
    assert_eq!(c.state, InstanceState::Cancelled);
    assert_eq!(
        host.store().stats(0).await.unwrap().queue_depth,
        0,
        "a cancelled instance has no jobs"
    );
    assert!(matches!(
        host.cancel(&v.id).await.unwrap_err(),
        servicetask_worker::HostError::Finished(_)
    ));
}
