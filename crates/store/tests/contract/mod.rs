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

/// A batch mixing every outcome keeps each transition alone: a completion with the live lease
/// stands, one whose lease was taken over is refused and leaves the job with its new holder,
/// two changes from one revision give one winner, a creation the database refuses (an unknown
/// deployment) fails without taking the others with it, and a creation carrying a lost lease
/// leaves no instance behind.
pub async fn a_batch_of_mixed_outcomes_keeps_each_transition_alone(store: Arc<dyn Store>) {
    deploy(store.as_ref()).await;
    store.commit(create("a", vec![job("a:1", 1)])).await.unwrap();
    store.commit(create("b", vec![job("b:1", 1)])).await.unwrap();
    store.commit(create("c", vec![])).await.unwrap();
    let first = store.acquire_jobs(acquire("x", 100)).await.unwrap();
    assert_eq!(first.len(), 2);
    let lease_of = |jobs: &[servicetask_store::LeasedJob], key: &str| {
        let j = jobs.iter().find(|j| j.job.spec.key == key).unwrap();
        JobLease {
            job_id: j.job.id,
            lease_token: j.lease_token.clone(),
        }
    };
    let (a_lease, b_stale) = (lease_of(&first, "a:1"), lease_of(&first, "b:1"));
    // a's lease is extended; b's expires and node y takes that job over
    assert!(store
        .heartbeat(a_lease.job_id, &a_lease.lease_token, 10_000)
        .await
        .unwrap());
    let taken = store.acquire_jobs(acquire("y", 5000)).await.unwrap();
    assert_eq!(taken.len(), 1);
    assert!(taken[0].taken_over);
    let b_live = lease_of(&taken, "b:1");

    let mut orphan = create("orphan", vec![]);
    if let TransitionKind::Create(n) = &mut orphan.kind {
        n.deployment_id = "no-such-deployment".into();
    }
    let mut stale_create = create("y", vec![]);
    stale_create.completes_job = Some(b_stale.clone());
    let batch = vec![
        ("a", update("a", 1, InstanceState::Completed, vec![], Some(a_lease))),
        ("b", update("b", 1, InstanceState::Completed, vec![], Some(b_stale))),
        ("c1", update("c", 1, InstanceState::Completed, vec![], None)),
        ("c2", update("c", 1, InstanceState::Cancelled, vec![], None)),
        ("orphan", orphan),
        ("y", stale_create),
        ("z", create("z", vec![job("z:1", 1)])),
    ];
    let tasks: Vec<_> = batch
        .into_iter()
        .map(|(name, t)| {
            let store = store.clone();
            (name, tokio::spawn(async move { store.commit(t).await }))
        })
        .collect();
    let mut outcomes = std::collections::BTreeMap::new();
    for (name, task) in tasks {
        outcomes.insert(name, task.await.unwrap());
    }
    assert!(matches!(outcomes["a"], Ok(2)), "{:?}", outcomes["a"]);
    assert!(
        matches!(outcomes["b"], Err(StoreError::LeaseLost(_))),
        "{:?}",
        outcomes["b"]
    );
    let c_wins = [&outcomes["c1"], &outcomes["c2"]]
        .iter()
        .filter(|o| matches!(o, Ok(2)))
        .count();
    let c_conflicts = [&outcomes["c1"], &outcomes["c2"]]
        .iter()
        .filter(|o| matches!(o, Err(StoreError::Conflict(_))))
        .count();
    assert_eq!((c_wins, c_conflicts), (1, 1), "{outcomes:?}");
    assert!(
        matches!(outcomes["orphan"], Err(StoreError::Database(_))),
        "{:?}",
        outcomes["orphan"]
    );
    assert!(
        matches!(outcomes["y"], Err(StoreError::LeaseLost(_))),
        "{:?}",
        outcomes["y"]
    );
    assert!(matches!(outcomes["z"], Ok(1)), "{:?}", outcomes["z"]);

    assert!(store.instance("orphan").await.unwrap().is_none());
    assert!(
        store.instance("y").await.unwrap().is_none(),
        "a refused creation leaves no row"
    );
    assert_eq!(store.instance("b").await.unwrap().unwrap().revision, 1);
    assert_eq!(store.instance("c").await.unwrap().unwrap().revision, 2);
    let z = store.instance("z").await.unwrap().unwrap();
    assert_eq!((z.revision, z.business_key.as_deref()), (1, Some("bk-z")));
    assert_eq!(store.history("z").await.unwrap()[0].event.kind, "started");
    // b's job stays with its new holder, whose completion still counts
    assert_eq!(
        store
            .commit(update("b", 1, InstanceState::Completed, vec![], Some(b_live)))
            .await
            .unwrap(),
        2
    );
    let left: Vec<String> = store
        .acquire_jobs(acquire("w", 1_000_000))
        .await
        .unwrap()
        .into_iter()
        .map(|j| j.job.spec.key)
        .collect();
    assert!(
        left.contains(&"z:1".to_string()) && !left.contains(&"b:1".to_string()),
        "{left:?}"
    );
}
