//! The SQLite store on real files: migrations, deployments and versions, transitions guarded
//! by the revision and the lease token, job leases and take-overs, timers, history, stats.

use servicetask_store::{
    Acquire, InstanceQuery, InstanceState, JobLease, NewDeployment, NewHistoryEvent, NewInstance, NewJob, SqliteStore,
    Store, StoreError, Transition, TransitionKind,
};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn job(key: &str, token: u64) -> NewJob {
    NewJob {
        key: key.into(),
        token_id: token,
        element_id: format!("t{token}"),
        process_id: "p".into(),
        task_type: "noop".into(),
        binding: "{}".into(),
        variables: "{}".into(),
        traceparent: None,
    }
}

fn create(id: &str, jobs: Vec<NewJob>) -> Transition {
    Transition {
        instance_id: id.into(),
        kind: TransitionKind::Create(NewInstance {
            deployment_id: "d1".into(),
            process_id: "p".into(),
            business_key: Some(format!("bk-{id}")),
        }),
        state: InstanceState::Active,
        snapshot: "{}".into(),
        saved_at_ms: 0,
        wake_at_ms: None,
        jobs,
        completes_job: None,
        history: vec![NewHistoryEvent {
            kind: "started".into(),
            element_id: None,
            detail: None,
        }],
    }
}

fn update(id: &str, rev: i64, state: InstanceState, jobs: Vec<NewJob>, lease: Option<JobLease>) -> Transition {
    Transition {
        kind: TransitionKind::Update { expected_revision: rev },
        state,
        jobs,
        completes_job: lease,
        history: vec![],
        ..create(id, vec![])
    }
}

async fn deploy(store: &SqliteStore) {
    store
        .deploy(NewDeployment {
            file: "p.bpmn".into(),
            content: b"<definitions/>".to_vec(),
            hash: "d1".into(),
            process_ids: vec!["p".into()],
        })
        .await
        .unwrap();
}

fn acquire(owner: &str, now: i64) -> Acquire {
    Acquire {
        owner: owner.into(),
        max: 10,
        lease_ms: 1000,
        now_ms: now,
    }
}

#[test]
fn deployments_are_versioned_by_process_and_content() {
    let dir = tempfile::tempdir().unwrap();
    rt().block_on(async {
        let store = SqliteStore::open(&dir.path().join("s.db")).unwrap();
        let d = |hash: &str| NewDeployment {
            file: "p.bpmn".into(),
            content: hash.as_bytes().to_vec(),
            hash: hash.into(),
            process_ids: vec!["p".into()],
        };
        let a = store.deploy(d("a")).await.unwrap();
        let again = store.deploy(d("a")).await.unwrap();
        let b = store.deploy(d("b")).await.unwrap();
        assert_eq!(a, again, "the same content is the same deployment");
        assert_eq!(a.processes, [("p".to_string(), 1)]);
        assert_eq!(b.processes, [("p".to_string(), 2)]);
        assert_eq!(store.latest_deployment("p").await.unwrap().unwrap().id, "b");
        assert_eq!(store.deployments().await.unwrap().len(), 2);
        assert!(store.latest_deployment("q").await.unwrap().is_none());
    });
}

#[test]
fn a_transition_needs_the_current_revision_and_the_live_lease() {
    let dir = tempfile::tempdir().unwrap();
    rt().block_on(async {
        let store = SqliteStore::open(&dir.path().join("s.db")).unwrap();
        deploy(&store).await;
        assert_eq!(store.commit(create("i1", vec![job("i1:2", 2)])).await.unwrap(), 1);
        assert!(matches!(
            store.commit(create("i1", vec![])).await,
            Err(StoreError::Conflict(_))
        ));
        let leased = store.acquire_jobs(acquire("a", 100)).await.unwrap();
        assert_eq!(leased.len(), 1);
        assert!(!leased[0].taken_over);
        assert_eq!(leased[0].job.spec, job("i1:2", 2));
        assert!(
            store.acquire_jobs(acquire("b", 500)).await.unwrap().is_empty(),
            "the lease is live"
        );
        // the lease expires: another worker takes the job over with a new token
        let taken = store.acquire_jobs(acquire("b", 1200)).await.unwrap();
        assert_eq!(taken.len(), 1);
        assert!(taken[0].taken_over);
        assert_ne!(taken[0].lease_token, leased[0].lease_token);
        let late = JobLease {
            job_id: leased[0].job.id,
            lease_token: leased[0].lease_token.clone(),
        };
        let fresh = JobLease {
            job_id: taken[0].job.id,
            lease_token: taken[0].lease_token.clone(),
        };
        assert!(!store.heartbeat(late.job_id, &late.lease_token, 5000).await.unwrap());
        assert!(store.heartbeat(fresh.job_id, &fresh.lease_token, 5000).await.unwrap());
        // the late completion is rejected and changes nothing
        assert!(matches!(
            store
                .commit(update("i1", 1, InstanceState::Completed, vec![], Some(late)))
                .await,
            Err(StoreError::LeaseLost(_))
        ));
        let row = store.instance("i1").await.unwrap().unwrap();
        assert_eq!((row.revision, row.state), (1, InstanceState::Active));
        // a stale revision is a conflict, whatever the lease
        assert!(matches!(
            store
                .commit(update("i1", 0, InstanceState::Completed, vec![], Some(fresh.clone())))
                .await,
            Err(StoreError::Conflict(_))
        ));
        let rev = store
            .commit(update("i1", 1, InstanceState::Completed, vec![], Some(fresh.clone())))
            .await
            .unwrap();
        assert_eq!(rev, 2);
        // the completion happens once: the job is gone
        assert!(matches!(
            store
                .commit(update("i1", 2, InstanceState::Completed, vec![], Some(fresh)))
                .await,
            Err(StoreError::LeaseLost(_))
        ));
        let stats = store.stats(2000).await.unwrap();
        assert_eq!(stats.queue_depth, 0);
        assert_eq!(stats.instances, [(InstanceState::Completed, 1)]);
    });
}

#[test]
fn jobs_follow_the_transitions_and_keep_their_leases() {
    let dir = tempfile::tempdir().unwrap();
    rt().block_on(async {
        let store = SqliteStore::open(&dir.path().join("s.db")).unwrap();
        deploy(&store).await;
        store
            .commit(create("i1", vec![job("i1:2", 2), job("i1:3", 3)]))
            .await
            .unwrap();
        let leased = store
            .acquire_jobs(Acquire {
                max: 1,
                ..acquire("a", 100)
            })
            .await
            .unwrap();
        assert_eq!(leased[0].job.spec.key, "i1:2");
        // completing 2 keeps 3 and adds 4; the job of 3 keeps its row
        store
            .commit(update(
                "i1",
                1,
                InstanceState::Active,
                vec![job("i1:3", 3), job("i1:4", 4)],
                Some(JobLease {
                    job_id: leased[0].job.id,
                    lease_token: leased[0].lease_token.clone(),
                }),
            ))
            .await
            .unwrap();
        let rest = store.acquire_jobs(acquire("a", 100)).await.unwrap();
        let keys: Vec<&str> = rest.iter().map(|j| j.job.spec.key.as_str()).collect();
        assert_eq!(keys, ["i1:3", "i1:4"]);
        assert!(rest
            .iter()
            .all(|j| j.job.instance_id == "i1" && j.job.deployment_id == "d1"));
        // released jobs are due again at once
        assert!(store.release(rest[0].job.id, &rest[0].lease_token).await.unwrap());
        let again = store.acquire_jobs(acquire("b", 100)).await.unwrap();
        assert_eq!(again.len(), 1);
        assert!(!again[0].taken_over, "a released job is not a take-over");
        // cancelling drops every job of the instance
        store
            .commit(update("i1", 2, InstanceState::Cancelled, vec![], None))
            .await
            .unwrap();
        assert_eq!(store.stats(100).await.unwrap().queue_depth, 0);
    });
}

#[test]
fn timers_listings_history_and_a_reopened_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    rt().block_on(async {
        let store = SqliteStore::open(&path).unwrap();
        deploy(&store).await;
        for (id, wake) in [("a", Some(300)), ("b", Some(100)), ("c", None)] {
            let mut t = create(id, vec![]);
            t.wake_at_ms = wake;
            t.state = if wake.is_some() {
                InstanceState::Active
            } else {
                InstanceState::Waiting
            };
            store.commit(t).await.unwrap();
        }
        assert_eq!(store.due_instances(50, 10).await.unwrap(), Vec::<String>::new());
        assert_eq!(store.due_instances(1000, 10).await.unwrap(), ["b", "a"]);
        let waiting = store
            .instances(InstanceQuery {
                state: Some(InstanceState::Waiting),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(waiting.len(), 1);
        assert_eq!(waiting[0].id, "c");
        let by_key = store
            .instances(InstanceQuery {
                business_key: Some("bk-a".into()),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(by_key[0].id, "a");
        assert_eq!(store.history("a").await.unwrap()[0].event.kind, "started");
    });
    // everything is still there after reopening (migrations run once)
    rt().block_on(async {
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.instances(InstanceQuery::default()).await.unwrap().len(), 3);
        assert_eq!(store.deployments().await.unwrap().len(), 1);
    });
}

#[test]
fn a_newer_schema_is_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let err = SqliteStore::open(&path).unwrap_err();
    assert!(err.to_string().contains("version 99"), "{err}");
}

/// Transitions queued together are committed together, each on its own: one that conflicts
/// fails alone, the others stand.
#[test]
fn concurrent_transitions_commit_together_and_fail_alone() {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = std::sync::Arc::new(SqliteStore::open(&dir.path().join("s.db")).unwrap());
        deploy(&store).await;
        let mut tasks = Vec::new();
        for n in 0..50 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                store.commit(create(&format!("i{n}"), vec![])).await
            }));
        }
        // the same instance twice: exactly one of the two creations wins
        for _ in 0..2 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move { store.commit(create("twin", vec![])).await }));
        }
        let mut ok = 0;
        let mut conflicts = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(1) => ok += 1,
                Err(StoreError::Conflict(id)) => {
                    assert_eq!(id, "twin");
                    conflicts += 1
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!((ok, conflicts), (51, 1));
        assert_eq!(store.instances(InstanceQuery::default()).await.unwrap().len(), 51);
    });
}
