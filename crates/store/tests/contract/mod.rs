//! The contract every `Store` backend keeps, as async checks run by `sqlite.rs` on a SQLite
//! file and by `postgres.rs` on a real PostgreSQL.

#![allow(dead_code)]

use std::sync::Arc;

use servicetask_store::{
    Acquire, InstanceQuery, InstanceState, JobLease, NewDeployment, NewHistoryEvent, NewInstance, NewJob, Store,
    StoreError, Transition, TransitionKind,
};

pub fn job(key: &str, token: u64) -> NewJob {
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

pub fn create(id: &str, jobs: Vec<NewJob>) -> Transition {
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

pub fn update(id: &str, rev: i64, state: InstanceState, jobs: Vec<NewJob>, lease: Option<JobLease>) -> Transition {
    Transition {
        kind: TransitionKind::Update { expected_revision: rev },
        state,
        jobs,
        completes_job: lease,
        history: vec![],
        ..create(id, vec![])
    }
}

pub async fn deploy(store: &dyn Store) {
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

pub fn acquire(owner: &str, now: i64) -> Acquire {
    Acquire {
        owner: owner.into(),
        max: 10,
        lease_ms: 1000,
        now_ms: now,
    }
}

pub async fn deployments_are_versioned_by_process_and_content(store: Arc<dyn Store>) {
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
}

pub async fn a_transition_needs_the_current_revision_and_the_live_lease(store: Arc<dyn Store>) {
    deploy(store.as_ref()).await;
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
}

pub async fn jobs_follow_the_transitions_and_keep_their_leases(store: Arc<dyn Store>) {
    deploy(store.as_ref()).await;
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
}

/// Transitions queued together are committed together, each on its own: one that conflicts
/// fails alone, the others stand.
pub async fn concurrent_transitions_commit_together_and_fail_alone(store: Arc<dyn Store>) {
    deploy(store.as_ref()).await;
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
}
