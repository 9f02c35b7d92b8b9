//! `[dependencies.NAME] retry` reaches the dependency's retry policy: the keys a call can use
//! are read (`max_elapsed` and `budget` included), `mode` (a hand-back to the engine) and bad
//! ranges are refused at their file:line:column, and the runner's resilience gets the policy
//! (`Dependency::call_retrying` retries through it, within `max_elapsed`).

#![cfg(feature = "resilience")]
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use servicetask::ConfigLoader;
use servicetask_core::{
    ContextParts, DependencyPolicy, ProcessInfo, TaskContext, TaskError, Telemetry, TrackingConfig,
};
use servicetask_resilience::Resilience;

#[test]
fn retry_keys_are_read_and_mode_and_bad_ranges_refused() {
    let c = ConfigLoader::default()
        .with_toml(
            "s.toml",
            "[dependencies.payments]\nretry.max_attempts = 4\nretry.initial_delay = \"10ms\"\nretry.max_delay = \"2s\"\n\
             retry.max_elapsed = \"30s\"\nretry.budget.ratio = 0.1\n",
        )
        .unwrap();
    let r = c.dependencies()["payments"].retry.as_ref().unwrap();
    assert_eq!(r.max_attempts, 4);
    assert_eq!(r.initial_delay, Duration::from_millis(10));
    assert_eq!(r.max_delay, Duration::from_secs(2));
    assert_eq!(r.max_elapsed, Some(Duration::from_secs(30)));
    // the budget's other keys keep their defaults
    let b = r.budget.as_ref().unwrap();
    assert_eq!((b.ratio, b.window), (0.1, Duration::from_secs(10)));
    let err = ConfigLoader::default()
        .with_toml(
            "s.toml",
            "[dependencies.payments]\nretry.max_attempts = 0\nretry.budget = { ratio = 2.0 }\n",
        )
        .unwrap_err();
    let lines: Vec<String> = err.problems.iter().map(ToString::to_string).collect();
    assert_eq!(lines.len(), 2, "{err}");
    assert!(
        lines[0].starts_with("s.toml:2:7 [dependencies.payments]: retry.max_attempts: 0 is not allowed"),
        "{err}"
    );
    assert!(
        lines[1].starts_with("s.toml:3:") && lines[1].contains("retry.budget.ratio: 2 is out of range"),
        "{err}"
    );
    let err = ConfigLoader::default()
        .with_toml("s.toml", "[dependencies.payments]\nretry.mode = \"engine\"\n")
        .unwrap_err();
    let p = err.first();
    assert_eq!(p.key, "retry.mode");
    assert!(p.origin.starts_with("s.toml:2:"), "{}", p.origin);
    assert!(p.message.starts_with("unknown key"), "{}", p.message);
}

/// An execution of task `pay` whose dependency calls follow the retry policies of `c`'s
/// `[dependencies]` tables, as the runner's resilience gets them.
fn context(c: &ConfigLoader) -> TaskContext {
    let mut b = Resilience::builder();
    for (name, d) in c.dependencies() {
        if let Some(r) = &d.retry {
            b = b.dependency_retry(name.clone(), r.clone());
        }
    }
    let policy: Arc<dyn DependencyPolicy> = Arc::new(b.build());
    TaskContext::new(ContextParts {
        task: Arc::from("pay"),
        otel: opentelemetry::Context::new(),
        telemetry: Telemetry::disabled(),
        process: ProcessInfo::default(),
        variables: serde_json::Map::new(),
        tracking: TrackingConfig::default(),
        dependencies: Some(policy),
    })
}

#[tokio::test(start_paused = true)]
async fn the_policy_retries_calls_to_the_dependency() {
    let c = ConfigLoader::default()
        .with_toml(
            "s.toml",
            "[dependencies.payments]\nretry = { max_attempts = 3, initial_delay = \"1s\", jitter = \"none\" }\n",
        )
        .unwrap();
    let cx = context(&c);
    let tries = AtomicU32::new(0);
    let start = tokio::time::Instant::now();
    let out = cx
        .dependency("payments")
        .call_retrying(
            |_| Default::default(),
            |n| {
                tries.fetch_add(1, Ordering::SeqCst);
                async move {
                    if n < 3 {
                        Err(TaskError::network("reset"))
                    } else {
                        Ok(n)
                    }
                }
            },
        )
        .await
        .unwrap();
    assert_eq!(out, 3);
    assert_eq!(tries.load(Ordering::SeqCst), 3);
    // 1 s then 2 s (no jitter, multiplier 2)
    assert_eq!(start.elapsed(), Duration::from_secs(3));
    assert_eq!(cx.stats().dependencies()[0].errors["network"], 2);
}

/// `retry.max_elapsed` from the file bounds a call's retries: a `Retry-After` asking for more
/// than is left ends the call at once, its error saying why and carrying the wait.
#[tokio::test(start_paused = true)]
async fn a_retry_after_past_max_elapsed_ends_the_call() {
    let c = ConfigLoader::default()
        .with_toml(
            "s.toml",
            "[dependencies.payments]\nretry = { max_attempts = 5, initial_delay = \"1s\", jitter = \"none\", max_elapsed = \"10s\" }\n",
        )
        .unwrap();
    let cx = context(&c);
    let tries = AtomicU32::new(0);
    let start = tokio::time::Instant::now();
    // 4 s asked after each failure: twice within the 10 s, the third would end at 12 s
    let err = cx
        .dependency("payments")
        .call_retrying(
            |_| Default::default(),
            |_| {
                tries.fetch_add(1, Ordering::SeqCst);
                async { Err::<(), _>(TaskError::rate_limited("busy", Some(Duration::from_secs(4)))) }
            },
        )
        .await
        .unwrap_err();
    assert_eq!(tries.load(Ordering::SeqCst), 3);
    assert_eq!(start.elapsed(), Duration::from_secs(8));
    assert_eq!(err.class(), servicetask_core::ErrorClass::RateLimited);
    assert_eq!(err.retry_after(), Some(Duration::from_secs(4)));
    let text = err.to_string();
    assert!(
        text.contains("busy") && text.contains("Retry-After") && text.contains("2s left of retry.max_elapsed (10s)"),
        "{text}"
    );
}
