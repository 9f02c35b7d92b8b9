//! Timers of durable instances over a real SQLite file: firing commits only when a timer was
//! due (or the row's wake-up time was wrong and is put right), and instances whose timers keep
//! failing (their stored snapshot broken) back off instead of filling every round, so healthy
//! instances beside them keep firing.

use std::sync::Arc;
use std::time::{Duration, Instant};

use servicetask_store::{InstanceState, SqliteStore, Store};
use servicetask_worker::{Host, HostConfig, Metrics, StartRequest, TimerConfig, Worker, WorkerConfig};

/// start -> timer -> review (user task) -> end, the timer's duration given.
fn process(id: &str, timer: &str) -> String {
    format!(
        r#"<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"><process id="{id}" isExecutable="true">
  <startEvent id="s"/><sequenceFlow id="f1" sourceRef="s" targetRef="w"/>
  <intermediateCatchEvent id="w"><timerEventDefinition><timeDuration>{timer}</timeDuration></timerEventDefinition></intermediateCatchEvent>
  <sequenceFlow id="f2" sourceRef="w" targetRef="review"/>
  <userTask id="review"/><sequenceFlow id="f3" sourceRef="review" targetRef="e"/>
  <endEvent id="e"/></process></definitions>"#
    )
}

fn host(path: &std::path::Path) -> Arc<Host> {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(path).unwrap());
    Arc::new(Host::new(store, Arc::new(Metrics::new()), HostConfig::default()))
}

/// A host over a fresh file with `later` (a one-hour timer) and `soon` (a timer of `soon`)
/// deployed.
async fn setup(soon: &str) -> (tempfile::TempDir, std::path::PathBuf, Arc<Host>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let host = host(&path);
    for (id, timer) in [("later", "PT1H"), ("soon", soon)] {
        host.deploy(&format!("{id}.bpmn"), process(id, timer).as_bytes())
            .await
            .unwrap();
    }
    (dir, path, host)
}

async fn start(host: &Host, process_id: &str) -> String {
    host.start(StartRequest {
        process_id: process_id.into(),
        ..StartRequest::default()
    })
    .await
    .unwrap()
    .id
}

/// Runs `sql` on the store's file from a connection of its own.
fn sql(path: &std::path::Path, sql: &str) {
    let c = rusqlite::Connection::open(path).unwrap();
    c.busy_timeout(Duration::from_secs(5)).unwrap();
    c.execute_batch(sql).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn firing_timers_commits_only_when_a_timer_was_due() {
    let (_dir, path, host) = setup("PT0.2S").await;

    // nothing due: no commit, the revision and the history stay as they were
    let later = start(&host, "later").await;
    let before = host.store().instance(&later).await.unwrap().unwrap();
    let events = host.store().history(&later).await.unwrap().len();
    assert!(!host.fire_timers(&later).await.unwrap(), "nothing was due");
    let after = host.store().instance(&later).await.unwrap().unwrap();
    assert_eq!(after.revision, before.revision);
    assert_eq!(host.store().history(&later).await.unwrap().len(), events);
    let wake = before.wake_at_ms.expect("a wake-up time");
    let hour = wake - before.saved_at_ms;
    assert!(
        (3_599_000..=3_600_000).contains(&hour),
        "the wake-up is the timer's: {hour} ms"
    );

    // a wake-up time that is not the timer's (a row written otherwise) is put right once
    sql(
        &path,
        &format!("UPDATE instances SET wake_at_ms = 0 WHERE id = '{later}'"),
    );
    assert!(
        host.fire_timers(&later).await.unwrap(),
        "the stale wake-up is corrected"
    );
    let fixed = host.store().instance(&later).await.unwrap().unwrap();
    assert_eq!(fixed.state, InstanceState::Active, "the timer did not fire");
    assert!(
        fixed.wake_at_ms.unwrap() > servicetask_store::now_ms() + 3_500_000,
        "{fixed:?}"
    );
    assert!(
        !host.fire_timers(&later).await.unwrap(),
        "and then nothing is due again"
    );
    assert!(host
        .store()
        .due_instances(servicetask_store::now_ms(), 10)
        .await
        .unwrap()
        .is_empty());

    // a due timer fires and commits
    let soon = start(&host, "soon").await;
    assert!(!host.fire_timers(&soon).await.unwrap(), "not due yet");
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert!(host.fire_timers(&soon).await.unwrap());
    let v = host.instance(&soon).await.unwrap();
    assert_eq!(v.state, InstanceState::Waiting);
    assert_eq!(v.waiting_tasks[0].element_id, "review");
    assert_eq!(v.next_timer_at_ms, None, "no timer left");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthy_instances_fire_beside_64_whose_timers_keep_failing() {
    let (_dir, path, host) = setup("PT0.3S").await;
    // 64 instances due before any other, whose stored snapshot no longer loads: firing their
    // timers fails every time
    let mut broken = Vec::new();
    for _ in 0..64 {
        broken.push(start(&host, "later").await);
    }
    let ids = broken.iter().map(|id| format!("'{id}'")).collect::<Vec<_>>().join(",");
    sql(
        &path,
        &format!("UPDATE instances SET snapshot = '{{\"broken\": true}}', wake_at_ms = 0 WHERE id IN ({ids})"),
    );
    let mut healthy = Vec::new();
    for _ in 0..20 {
        healthy.push(start(&host, "soon").await);
    }
    let config = WorkerConfig {
        poll: Duration::from_millis(20),
        ..WorkerConfig::default()
    };
    let timers = TimerConfig {
        batch: 64,
        ..TimerConfig::default()
    };
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(
        Worker::new(host.clone(), Arc::new(servicetask_engine::StubHandler), config)
            .timers(timers)
            .run(stopped),
    );
    let began = Instant::now();
    for id in &healthy {
        loop {
            let v = host.instance(id).await.unwrap();
            if v.state == InstanceState::Waiting {
                break;
            }
            assert!(
                began.elapsed() < Duration::from_secs(10),
                "a healthy instance's timer never fired beside the failing ones: {v:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    // let the loop go on a while: the failing instances are tried with doubling waits, not on
    // every round (20 ms rounds for 2 s would be about 100 tries each)
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.send(true).unwrap();
    worker.await.unwrap();
    let failures = host.metrics().snapshot().timer_failures;
    let elapsed = began.elapsed().as_millis() as u64;
    // 20, 40, 80, ... ms: about log2(elapsed / 20) tries per instance
    let bound = 64 * (64 - (elapsed / 20).max(1).leading_zeros() as u64 + 1);
    assert!(
        (64..=bound).contains(&failures),
        "{failures} failed firings in {elapsed} ms (at most {bound} with back-off)"
    );
    for id in &broken {
        let row = host.store().instance(id).await.unwrap().unwrap();
        assert_eq!(row.revision, 1, "a broken instance is never committed over");
    }
}
