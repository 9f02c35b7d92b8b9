//! The whole resilience stack around a task whose dependency fails, then recovers: retries
//! with backoff, the breaker opening, the fallback answering, the breaker probing and closing.
//! Time is tokio's paused clock, so the example runs instantly and prints the same every time.
//!
//! Run: `cargo run -p servicetask-resilience --example degrade`

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use serde_json::json;
use servicetask_core::layer::{AttemptResult, BoxFuture, FallbackValue, Invoke, Next, TaskValue};
use servicetask_core::{BreakerConfig, ErrorClass, Jitter, RetryConfig, TaskConfig, TaskContext, TaskError};
use servicetask_resilience::{layers, validate, Resilience};

/// A task whose dependency is down until `healthy` is set.
struct Quote {
    healthy: AtomicBool,
    calls: AtomicU32,
}

impl Invoke for Quote {
    fn invoke<'a>(&'a self, _cx: &'a TaskContext) -> BoxFuture<'a, AttemptResult> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let healthy = self.healthy.load(Ordering::SeqCst);
        Box::pin(async move {
            if healthy {
                Ok(Box::new(json!({"price": 101.5})) as TaskValue)
            } else {
                Err(TaskError::network("pricing service refused the connection"))
            }
        })
    }
}

fn show(v: TaskValue) -> String {
    match v.downcast::<serde_json::Value>() {
        Ok(j) => format!("answer {j}"),
        Err(v) => format!(
            "fallback {}",
            v.downcast::<FallbackValue>().map(|f| f.0).unwrap_or_default()
        ),
    }
}

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() {
    let config = TaskConfig::builder("quote")
        .retry(RetryConfig {
            max_attempts: 3,
            initial_delay: Duration::from_millis(200),
            jitter: Jitter::None,
            ..RetryConfig::default()
        })
        .timeout_attempt(Duration::from_secs(2))
        .breaker(BreakerConfig {
            window_size: 6,
            minimum_calls: 6,
            permitted_calls_in_half_open: 1,
            wait_in_open: Duration::from_secs(30),
            ..BreakerConfig::default()
        })
        .fallback_value(ErrorClass::CircuitOpen, json!({"price": null, "stale": true}))
        .build();
    validate(&config).expect("a valid configuration");
    let resilience = Resilience::default();
    let stack = layers(&config, &resilience);
    let task = Quote {
        healthy: AtomicBool::new(false),
        calls: AtomicU32::new(0),
    };
    let breaker = resilience.breaker("quote").expect("configured");
    for i in 1..=5 {
        if i == 5 {
            tokio::time::advance(Duration::from_secs(30)).await;
            task.healthy.store(true, Ordering::SeqCst);
        }
        let cx = TaskContext::detached("quote");
        let started = tokio::time::Instant::now();
        let out = Next::new(&stack, &task).run(&cx).await;
        let what = match out {
            Ok(v) => show(v),
            Err(e) => format!(
                "{e} (retries left {:?}, retry after {:?})",
                e.retries_left(),
                e.retry_after()
            ),
        };
        println!(
            "execution {i}: {what}; attempts {}, took {:?}, breaker {}",
            cx.attempt(),
            started.elapsed(),
            breaker.state()
        );
    }
    println!("the task ran {} times", task.calls.load(Ordering::SeqCst));
}
