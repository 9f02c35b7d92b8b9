//! The crash test of `servicetask serve` on SQLite (issue 13): a real server process runs many
//! instances of a process with three service tasks (each appends its idempotency key to a
//! ledger file), a timer and a user task completed through the API, and is killed with -9 at
//! ten random moments and restarted each time. Every instance completes; every task's side
//! effect happened at least once; every instance's state shows each task completed exactly
//! once (its completed path, and one committed job completion per task in its history).
//!
//! `SERVICETASK_CRASH_INSTANCES` sets the instance count (the suite runs 150, about 10 s; the
//! issue's full figure is `SERVICETASK_CRASH_INSTANCES=2000 cargo test -p servicetask-cli --test
//! serve_crash -- --nocapture`, about 40 s in a debug build); `SERVICETASK_CRASH_SEED` fixes the
//! kill moments.

mod serve_support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use serve_support::{ledger_process, workdir, Client, Server};

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The current server's address, swapped at every restart.
type Base = Arc<Mutex<String>>;

fn client(base: &Base) -> Client {
    Client::new(&base.lock().unwrap(), None)
}

/// Calls `f` until it answers (the server may be down, restarting, or killed mid-request).
fn retry<T>(base: &Base, what: &str, f: impl Fn(&Client) -> Result<T, String>) -> T {
    let start = Instant::now();
    loop {
        match f(&client(base)) {
            Ok(v) => return v,
            Err(e) => {
                assert!(start.elapsed() < Duration::from_secs(300), "{what}: gave up: {e}");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

/// Lists every instance (paged), as id -> view.
fn all_instances(base: &Base, query: &str) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    let mut offset = 0;
    loop {
        let page: Vec<Value> = retry(base, "list", |c| {
            match c.get(&format!("/v1/instances?limit=1000&offset={offset}{query}")) {
                Ok((200, _, Value::Array(v))) => Ok(v),
                other => Err(format!("{other:?}")),
            }
        });
        let n = page.len();
        for v in page {
            out.insert(v["id"].as_str().unwrap().to_string(), v);
        }
        if n < 1000 {
            return out;
        }
        offset += n;
    }
}

#[test]
fn killed_with_sigkill_ten_times_every_instance_completes_and_each_task_commits_once() {
    let instances = env_number("SERVICETASK_CRASH_INSTANCES", 150) as usize;
    let seed = env_number("SERVICETASK_CRASH_SEED", rand::random::<u32>() as u64);
    eprintln!("crash test: {instances} instances, seed {seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let (_dir, db, ledger) = workdir();
    let mut server = Some(Server::start(&db, &["--lease-ms", "3000"]));
    let base: Base = Arc::new(Mutex::new(server.as_ref().unwrap().base.clone()));
    client(&base).deploy("ledger.bpmn", &ledger_process("PT1S"));

    let done = Arc::new(AtomicBool::new(false));
    // starts every instance once: a start whose answer was lost is looked up by business key
    // before it is tried again
    let starter = {
        let (base, ledger) = (base.clone(), ledger.clone());
        std::thread::spawn(move || {
            for n in 0..instances {
                let key = format!("order-{n}");
                let tried = std::cell::Cell::new(false);
                retry(&base, "start", |c| {
                    // a start whose answer was lost may have committed: look before trying again
                    if tried.replace(true) {
                        match c.get(&format!("/v1/instances?businessKey={key}")) {
                            Ok((200, _, Value::Array(v))) if !v.is_empty() => return Ok(()),
                            Ok((200, _, _)) => {}
                            other => return Err(format!("{other:?}")),
                        }
                    }
                    match c.post(
                        "/v1/instances",
                        &json!({"processId": "ledger", "businessKey": key, "variables": {"ledger": ledger}}),
                    ) {
                        Ok((201, _, _)) => Ok(()),
                        other => Err(format!("{other:?}")),
                    }
                });
            }
        })
    };
    // completes user tasks as they come
    let completer = {
        let (base, done) = (base.clone(), done.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                let waiting = all_instances(&base, "&state=waiting");
                for id in waiting.keys() {
                    let _ = client(&base).post(&format!("/v1/instances/{id}/tasks/review/complete"), &json!({}));
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    // ten kills at random moments, each followed by a restart
    for k in 0..10 {
        std::thread::sleep(Duration::from_millis(rng.random_range(200..1500)));
        server.take().unwrap().kill9();
        let next = Server::start(&db, &["--lease-ms", "3000"]);
        eprintln!("crash test: kill {} done, restarted on {}", k + 1, next.base);
        *base.lock().unwrap() = next.base.clone();
        server = Some(next);
    }
    starter.join().unwrap();
    // every instance completes
    let start = Instant::now();
    loop {
        let all = all_instances(&base, "");
        let completed = all.values().filter(|v| v["state"] == "completed").count();
        if all.len() == instances && completed == instances {
            break;
        }
        let stuck: Vec<&Value> = all
            .values()
            .filter(|v| v["state"] == "failed" || v["state"] == "incident")
            .collect();
        assert!(stuck.is_empty(), "instances failed: {stuck:?}");
        assert!(
            start.elapsed() < Duration::from_secs(600),
            "{completed} of {instances} completed ({} started)",
            all.len()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    done.store(true, Ordering::Relaxed);
    completer.join().unwrap();

    let all = all_instances(&base, "");
    assert_eq!(all.len(), instances, "each instance started once");
    let written = std::fs::read_to_string(&ledger).unwrap();
    let appended: BTreeSet<&str> = written.lines().collect();
    let mut repeated = 0;
    for (id, v) in &all {
        // exactly-once state change: each task completed once in the instance's state
        assert_eq!(
            v["completed"],
            json!(["start", "a", "b", "wait", "c", "review", "end"]),
            "instance {id}"
        );
        let history = retry(&base, "history", |c| {
            match c.get(&format!("/v1/instances/{id}/history")) {
                Ok((200, _, Value::Array(h))) => Ok(h),
                other => Err(format!("{other:?}")),
            }
        });
        let keys = serve_support::completed_job_keys(&history);
        assert_eq!(
            keys.len(),
            3,
            "instance {id}: one committed completion per task: {keys:?}"
        );
        assert_eq!(keys.iter().collect::<BTreeSet<_>>().len(), 3, "{keys:?}");
        for key in &keys {
            // at-least-once execution: the side effect of every committed task happened
            assert!(
                appended.contains(key.as_str()),
                "instance {id}: {key} never reached the ledger"
            );
            repeated += written.lines().filter(|l| l == key).count() - 1;
        }
    }
    assert_eq!(
        appended.len(),
        instances * 3,
        "no side effect for a task that never committed"
    );
    eprintln!(
        "crash test: {instances} instances completed across 10 kills; {} ledger lines, {repeated} repeated executions",
        written.lines().count()
    );
    server.take().unwrap().terminate();
}
