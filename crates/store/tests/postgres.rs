//! The PostgreSQL store on a real PostgreSQL: the backend contract (`contract/`), each check on
//! a database of its own, plus two nodes acquiring from one queue at once (`SKIP LOCKED`: no
//! job is leased twice). Needs `SERVICETASK_TEST_POSTGRES_URL` (`.ci/run` starts a PostgreSQL
//! 15 and runs these with `--ignored`; without the variable they fail, so they are ignored).

mod contract;

use std::collections::BTreeSet;
use std::sync::Arc;

use servicetask_store::{Acquire, PostgresStore, Store};
use servicetask_test_support::postgres::fresh_database;
use servicetask_test_support::runtime::two_workers;

fn on_postgres<F: std::future::Future<Output = ()>>(check: impl FnOnce(Arc<dyn Store>) -> F) {
    let url = fresh_database("st");
    two_workers().block_on(async {
        let store: Arc<dyn Store> = Arc::new(PostgresStore::connect(&url, 8).await.unwrap());
        check(store).await;
    });
}

#[test]
#[ignore = "needs PostgreSQL: set SERVICETASK_TEST_POSTGRES_URL (run by .ci/run)"]
fn deployments_are_versioned_by_process_and_content() {
    on_postgres(contract::deployments_are_versioned_by_process_and_content);
}

#[test]
#[ignore = "needs PostgreSQL: set SERVICETASK_TEST_POSTGRES_URL (run by .ci/run)"]
fn a_transition_needs_the_current_revision_and_the_live_lease() {
    on_postgres(contract::a_transition_needs_the_current_revision_and_the_live_lease);
}

#[test]
#[ignore = "needs PostgreSQL: set SERVICETASK_TEST_POSTGRES_URL (run by .ci/run)"]
fn jobs_follow_the_transitions_and_keep_their_leases() {
    on_postgres(contract::jobs_follow_the_transitions_and_keep_their_leases);
}

#[test]
#[ignore = "needs PostgreSQL: set SERVICETASK_TEST_POSTGRES_URL (run by .ci/run)"]
fn a_batch_of_mixed_outcomes_keeps_each_transition_alone() {
    on_postgres(contract::a_batch_of_mixed_outcomes_keeps_each_transition_alone);
}

#[test]
#[ignore = "needs PostgreSQL: set SERVICETASK_TEST_POSTGRES_URL (run by .ci/run)"]
fn concurrent_transitions_commit_together_and_fail_alone() {
    on_postgres(contract::concurrent_transitions_commit_together_and_fail_alone);
}

/// Two nodes (two pools) acquiring at once never lease one job twice, and a node migrating a
/// database already migrated changes nothing.
#[test]
#[ignore = "needs PostgreSQL: set SERVICETASK_TEST_POSTGRES_URL (run by .ci/run)"]
fn two_nodes_never_lease_one_job_twice() {
    let url = fresh_database("st");
    two_workers().block_on(async {
        let a: Arc<dyn Store> = Arc::new(PostgresStore::connect(&url, 4).await.unwrap());
        let b: Arc<dyn Store> = Arc::new(PostgresStore::connect(&url, 4).await.unwrap());
        contract::deploy(a.as_ref()).await;
        for n in 0..200u64 {
            let key = format!("i{n}:1");
            a.commit(contract::create(&format!("i{n}"), vec![contract::job(&key, 1)]))
                .await
                .unwrap();
        }
        let mut handles = Vec::new();
        for (node, store) in [("a", a.clone()), ("b", b.clone()), ("a2", a), ("b2", b)] {
            handles.push(tokio::spawn(async move {
                let mut got = Vec::new();
                loop {
                    let jobs = store
                        .acquire_jobs(Acquire {
                            owner: node.into(),
                            max: 7,
                            lease_ms: 60_000,
                            now_ms: servicetask_store::now_ms(),
                        })
                        .await
                        .unwrap();
                    if jobs.is_empty() {
                        return got;
                    }
                    got.extend(jobs.into_iter().map(|j| j.job.id));
                }
            }));
        }
        let mut all = Vec::new();
        for h in handles {
            all.extend(h.await.unwrap());
        }
        let distinct: BTreeSet<i64> = all.iter().copied().collect();
        assert_eq!(all.len(), 200, "every job leased once");
        assert_eq!(distinct.len(), 200);
    });
}
