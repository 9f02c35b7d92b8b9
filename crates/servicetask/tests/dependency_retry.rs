//! `[dependencies.NAME] retry` reaches the dependency's retry policy: the keys a call can use
//! are read, the per-execution ones are refused at their file:line:column, and the runner's
//! resilience gets the policy (`Dependency::call_retrying` retries through it).

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
fn retry_keys_are_read_and_per_execution_keys_refused() {
    let c = ConfigLoader::default()
        .with_toml(
            "s.toml",
            "[dependencies.payments]\nretry.max_attempts = 4\nretry.initial_delay = \"10ms\"\nretry.max_delay = \"2s\"\n",
        )
        .unwrap();
    let r = c.dependencies()["payments"].retry.as_ref().unwrap();
    assert_eq!(r.max_attempts, 4);
    assert_eq!(r.initial_delay, Duration::from_millis(10));
    assert_eq!(r.max_delay, Duration::from_secs(2));
    let err = ConfigLoader::default()
        .with_toml("s.toml", "[dependencies.payments]\nretry.mode = \"engine\"\n")
        .unwrap_err();
    let p = err.first();
    assert_eq!(p.key, "retry.mode");
    assert!(p.origin.starts_with("s.toml:2:"), "{}", p.origin);
    assert!(p.message.starts_with("unknown key"), "{}", p.message);
}

#[tokio::test(start_paused = true)]
async fn the_policy_retries_calls_to_the_dependency() {
    let c = ConfigLoader::default()
        .with_toml(
            "s.toml",
            "[dependencies.payments]\nretry = { max_attempts = 3, initial_delay = \"1s\", jitter = \"none\" }\n",
        )
        .unwrap();
    let mut b = Resilience::builder();
    for (name, d) in c.dependencies() {
        if let Some(r) = &d.retry {
            b = b.dependency_retry(name.clone(), r.clone());
        }
    }
    let policy: Arc<dyn DependencyPolicy> = Arc::new(b.build());
    let cx = TaskContext::new(ContextParts {
        task: Arc::from("pay"),
        otel: opentelemetry::Context::new(),
        telemetry: Telemetry::disabled(),
        process: ProcessInfo::default(),
        variables: serde_json::Map::new(),
        tracking: TrackingConfig::default(),
        dependencies: Some(policy),
    });
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
