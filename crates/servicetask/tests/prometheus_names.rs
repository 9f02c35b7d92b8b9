//! The Prometheus scrape of an embedding program (`telemetry::prometheus`, the reader
//! `init_with_prometheus` installs) after the events a healthy `servicetask serve` workload does
//! not cause: a retry, a breaker opening and rejecting, memory tracking, an anomaly. Each series
//! is looked for under the name and labels `dashboards/servicetask.json` queries.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::trace::SdkTracerProvider;
use servicetask::telemetry::prometheus::Prometheus;
use servicetask::{
    task_fn, BreakerConfig, Jitter, RetryConfig, Runner, TaskConfig, TaskContext, TaskError, Telemetry, TrackingConfig,
};
use servicetask_analytics::anomaly::DetectorConfig;

/// The sample lines of `text` named `name` that carry every label of `labels`.
fn series<'a>(text: &'a str, name: &str, labels: &[&str]) -> Vec<&'a str> {
    text.lines()
        .filter(|l| l.strip_prefix(name).is_some_and(|rest| rest.starts_with('{')))
        .filter(|l| labels.iter().all(|k| l.contains(&format!("{k}=\""))))
        .collect()
}

#[test]
fn retries_breakers_rejections_memory_and_anomalies_are_scraped_under_the_dashboards_names() {
    let (scrape, reader) = Prometheus::new().unwrap();
    let meters = SdkMeterProvider::builder().with_reader(reader).build();
    let tracers = SdkTracerProvider::builder().build();
    let runner = Runner::builder()
        .telemetry(Telemetry::from_providers(&tracers, &meters))
        .anomaly_detection(DetectorConfig {
            cooldown: 0,
            debounce: 0,
            ..DetectorConfig::default()
        })
        .build();
    let quiet = TrackingConfig {
        cpu: false,
        memory: false,
        disk_io: false,
        ..TrackingConfig::default()
    };

    // fails its first attempt with a network error, then succeeds: one retry
    let calls = Arc::new(AtomicU32::new(0));
    let seen = calls.clone();
    let flaky = runner
        .register(task_fn(
            TaskConfig::builder("flaky")
                .retry(RetryConfig {
                    max_attempts: 2,
                    initial_delay: Duration::from_millis(1),
                    max_delay: Duration::from_millis(1),
                    jitter: Jitter::None,
                    ..RetryConfig::default()
                })
                .build(),
            move |_cx: TaskContext, _: ()| {
                let n = seen.fetch_add(1, Ordering::SeqCst);
                async move {
                    if n == 0 {
                        Err(TaskError::network("the peer reset the connection"))
                    } else {
                        Ok(())
                    }
                }
            },
        ))
        .unwrap();
    // always fails: the breaker opens after 2 calls and rejects the third; memory is tracked
    let guarded = runner
        .register(task_fn(
            TaskConfig::builder("guarded")
                .breaker(BreakerConfig {
                    minimum_calls: 2,
                    window_size: 2,
                    failure_rate_threshold: 50.0,
                    wait_in_open: Duration::from_secs(600),
                    ..BreakerConfig::default()
                })
                .tracking(TrackingConfig {
                    memory: true,
                    process_rss: true,
                    ..TrackingConfig::default()
                })
                .build(),
            |_cx: TaskContext, _: ()| async move { Err::<(), _>(TaskError::internal("always")) },
        ))
        .unwrap();
    // a planted slow execution among a history of quick ones: an anomaly
    let steady = runner
        .register(task_fn(
            TaskConfig::builder("steady").tracking(quiet).build(),
            |_cx: TaskContext, ms: u64| async move {
                if ms > 0 {
                    std::thread::sleep(Duration::from_millis(ms));
                }
                Ok::<_, TaskError>(())
            },
        ))
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        flaky.run(()).await;
        for _ in 0..3 {
            guarded.run(()).await;
        }
        for _ in 0..1500 {
            steady.run(0).await;
        }
        steady.run(250).await;
    });
    assert_eq!(calls.load(Ordering::SeqCst), 2, "one retry");

    let text = scrape.render();
    let expected: &[(&str, &[&str])] = &[
        ("servicetask_retries_total", &["servicetask_name", "error_type"]),
        (
            "servicetask_breaker_state_ratio",
            &["servicetask_breaker_name", "servicetask_breaker_state"],
        ),
        (
            "servicetask_rejections_total",
            &["servicetask_name", "servicetask_rejection_reason"],
        ),
        ("servicetask_memory_peak_bytes_sum", &["servicetask_name"]),
        ("servicetask_memory_peak_bytes_count", &["servicetask_name"]),
        (
            "servicetask_anomalies_total",
            &["servicetask_name", "servicetask_anomaly_metric"],
        ),
    ];
    for (name, labels) in expected {
        assert!(
            !series(&text, name, labels).is_empty(),
            "{name} with {labels:?} is not in the scrape:\n{text}"
        );
    }
    assert!(
        text.contains("servicetask_rejection_reason=\"breaker_open\""),
        "the open breaker rejected the third call:\n{text}"
    );
    // every name is also one the dashboard queries
    let dashboard = include_str!("../../../dashboards/servicetask.json");
    for (name, _) in expected {
        assert!(dashboard.contains(name), "the dashboard does not query {name}");
    }
}
