//! The SQLite store on real files: the backend contract (`contract/`), plus what only a file
//! has: reopening it, and a schema newer than the program.

mod contract;

use std::sync::Arc;

use contract::{create, deploy};
use servicetask_store::{InstanceQuery, InstanceState, SqliteStore, Store};
use servicetask_test_support::runtime::two_workers as rt;

/// Runs one contract check on a fresh SQLite file.
fn on_sqlite<F: std::future::Future<Output = ()>>(check: impl FnOnce(Arc<dyn Store>) -> F) {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("s.db")).unwrap());
    rt().block_on(check(store));
}

#[test]
fn deployments_are_versioned_by_process_and_content() {
    on_sqlite(contract::deployments_are_versioned_by_process_and_content);
}

#[test]
fn a_transition_needs_the_current_revision_and_the_live_lease() {
    on_sqlite(contract::a_transition_needs_the_current_revision_and_the_live_lease);
}

#[test]
fn jobs_follow_the_transitions_and_keep_their_leases() {
    on_sqlite(contract::jobs_follow_the_transitions_and_keep_their_leases);
}

#[test]
fn a_batch_of_mixed_outcomes_keeps_each_transition_alone() {
    on_sqlite(contract::a_batch_of_mixed_outcomes_keeps_each_transition_alone);
}

#[test]
fn concurrent_transitions_commit_together_and_fail_alone() {
    on_sqlite(contract::concurrent_transitions_commit_together_and_fail_alone);
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
