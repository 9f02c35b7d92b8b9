//! One vocabulary: every section written in `#[service_task(...)]`, the same keys in
//! `servicetask.toml`, in `SERVICETASK__` variables and through the builder give the same
//! configuration; the shorthands of older releases still mean what they meant; an input's
//! `#[task(min, max, non_empty)]` checks show in its JSON Schema.

use std::time::Duration;

use servicetask::{
    service_task, task_schema, BreakerConfig, BulkheadConfig, ConfigLoader, ErrorClass, Jitter, RetryMode, ServiceTask,
    TaskConfig, TaskContext, TaskError, TaskInput, TrackingConfig,
};

#[service_task(
    name = "guarded",
    breaker(
        failure_rate_threshold = 40,
        slow_call_rate_threshold = 90,
        slow_call_duration = "2s",
        minimum_calls = 5,
        window = "time_based",
        window_size = 30,
        permitted_calls_in_half_open = 2,
        wait_in_open = "10s",
        max_wait_in_half_open = "1m"
    )
)]
async fn guarded(_cx: &TaskContext, _input: ()) -> Result<(), TaskError> {
    Ok(())
}

#[test]
fn the_macro_and_the_file_share_their_breaker_keys() {
    let from_macro = GuardedTask.config();
    let toml = r#"[tasks.guarded.breaker]
failure_rate_threshold = 40
slow_call_rate_threshold = 90
slow_call_duration = "2s"
minimum_calls = 5
window = "time_based"
window_size = 30
permitted_calls_in_half_open = 2
wait_in_open = "10s"
max_wait_in_half_open = "1m"
"#;
    let from_file = ConfigLoader::default()
        .with_toml("servicetask.toml", toml)
        .unwrap()
        .resolve(&TaskConfig::named("guarded"))
        .unwrap();
    assert!(from_macro.breaker.is_some());
    assert_eq!(from_macro.breaker, from_file.breaker);
}

#[derive(Clone, serde::Deserialize, schemars::JsonSchema, TaskInput)]
struct Batch {
    #[task(non_empty)]
    name: String,
    #[task(non_empty)]
    items: Vec<String>,
    #[task(min = 1, max = 500)]
    size: u32,
    #[task(min = 0.5)]
    ratio: f64,
}

#[service_task(name = "batch")]
async fn batch(_cx: &TaskContext, _input: Batch) -> Result<(), TaskError> {
    Ok(())
}

#[test]
fn the_input_checks_show_in_the_json_schema() {
    let schema = task_schema(&BatchTask);
    let p = &schema["input"]["properties"];
    assert_eq!(p["name"]["minLength"], 1, "{schema:#}");
    assert_eq!(p["items"]["minItems"], 1, "{schema:#}");
    assert_eq!(p["size"]["minimum"], 1, "{schema:#}");
    assert_eq!(p["size"]["maximum"], 500, "{schema:#}");
    assert_eq!(p["ratio"]["minimum"], 0.5, "{schema:#}");
}

#[service_task(
    name = "everything",
    description = "every section",
    retry(
        max_attempts = 4,
        max_elapsed = "2m",
        initial_delay = "50ms",
        max_delay = "5s",
        multiplier = 1.5,
        jitter = "decorrelated",
        retry_on = ["timeout", "network", "bulkhead_full"],
        mode = "engine",
        budget(ratio = 0.25, window = "20s", min_per_second = 3)
    ),
    timeout(total = "30s", attempt = "5s"),
    bulkhead(max_concurrent = 7, max_wait = "100ms"),
    tracking(cpu = false, disk_io = false, max_file_events = 8),
    attributes(team = "data")
)]
async fn everything(_cx: &TaskContext, _input: ()) -> Result<(), TaskError> {
    Ok(())
}

const EVERYTHING_TOML: &str = r#"[tasks.everything]
description = "every section"
timeout = { total = "30s", attempt = "5s" }
bulkhead = { max_concurrent = 7, max_wait = "100ms" }
tracking = { cpu = false, disk_io = false, max_file_events = 8 }
attributes = { team = "data" }

[tasks.everything.retry]
max_attempts = 4
max_elapsed = "2m"
initial_delay = "50ms"
max_delay = "5s"
multiplier = 1.5
jitter = "decorrelated"
retry_on = ["timeout", "network", "bulkhead_full"]
mode = "engine"
budget = { ratio = 0.25, window = "20s", min_per_second = 3 }
"#;

/// Every key of every section, written four ways, is one configuration.
#[test]
fn the_macro_the_builder_the_file_and_the_variables_share_one_vocabulary() {
    let from_macro = EverythingTask.config();
    let from_file = ConfigLoader::default()
        .with_toml("servicetask.toml", EVERYTHING_TOML)
        .unwrap()
        .resolve(&TaskConfig::named("everything"))
        .unwrap();
    assert_eq!(from_macro, from_file);

    let from_builder = TaskConfig::builder("everything")
        .description("every section")
        .retry_max_attempts(4)
        .retry_max_elapsed(Duration::from_secs(120))
        .retry_initial_delay(Duration::from_millis(50))
        .retry_max_delay(Duration::from_secs(5))
        .retry_multiplier(1.5)
        .retry_jitter(Jitter::Decorrelated)
        .retry_on([ErrorClass::Timeout, ErrorClass::Network, ErrorClass::BulkheadFull])
        .retry_mode(RetryMode::Engine)
        .timeout_total(Duration::from_secs(30))
        .timeout_attempt(Duration::from_secs(5))
        .bulkhead(BulkheadConfig {
            max_concurrent: 7,
            max_wait: Duration::from_millis(100),
        })
        .tracking(TrackingConfig {
            cpu: false,
            disk_io: false,
            max_file_events: 8,
            ..TrackingConfig::default()
        })
        .attribute("team", "data")
        .build();
    let mut with_budget = from_builder.clone();
    with_budget.retry.budget = from_macro.retry.budget.clone();
    assert_eq!(with_budget, from_macro);
    assert_eq!(from_macro.retry.budget.as_ref().map(|b| b.min_per_second), Some(3));

    let vars = [
        ("RETRY__MAX_ATTEMPTS", "4"),
        ("RETRY__MAX_ELAPSED", "2m"),
        ("RETRY__INITIAL_DELAY", "50ms"),
        ("RETRY__MAX_DELAY", "5s"),
        ("RETRY__MULTIPLIER", "1.5"),
        ("RETRY__JITTER", "decorrelated"),
        ("RETRY__RETRY_ON", r#"["timeout","network","bulkhead_full"]"#),
        ("RETRY__MODE", "engine"),
        ("RETRY__BUDGET__RATIO", "0.25"),
        ("RETRY__BUDGET__WINDOW", "20s"),
        ("RETRY__BUDGET__MIN_PER_SECOND", "3"),
        ("TIMEOUT__TOTAL", "30s"),
        ("TIMEOUT__ATTEMPT", "5s"),
        ("BULKHEAD__MAX_CONCURRENT", "7"),
        ("BULKHEAD__MAX_WAIT", "100ms"),
        ("TRACKING__CPU", "false"),
        ("TRACKING__DISK_IO", "false"),
        ("TRACKING__MAX_FILE_EVENTS", "8"),
        ("ATTRIBUTES__TEAM", "data"),
    ]
    .map(|(k, v)| (format!("SERVICETASK__TASKS__EVERYTHING__{k}"), v.to_string()));
    let code = TaskConfig::builder("everything").description("every section").build();
    let from_env = ConfigLoader::default().with_env(vars).resolve(&code).unwrap();
    assert_eq!(from_env, from_macro);
}

/// A bare `bulkhead` and `breaker` are the sections with their defaults, as an empty table is.
#[service_task(name = "flags", breaker, bulkhead)]
async fn flags(_cx: &TaskContext, _input: ()) -> Result<(), TaskError> {
    Ok(())
}

#[test]
fn a_bare_section_is_its_defaults() {
    let c = FlagsTask.config();
    assert_eq!(c.breaker, Some(BreakerConfig::default()));
    assert_eq!(c.bulkhead, Some(BulkheadConfig::default()));
    let from_file = ConfigLoader::default()
        .with_toml("s.toml", "[tasks.flags.breaker]\n[tasks.flags.bulkhead]\n")
        .unwrap()
        .resolve(&TaskConfig::named("flags"))
        .unwrap();
    assert_eq!(c, from_file);
}

/// The shorthands of older releases compile with a deprecation warning (allowed here) and
/// mean what the new spelling means.
mod old_spellings {
    #![allow(deprecated)]

    use super::*;

    #[service_task(
        name = "old",
        retries = 3,
        timeout = "30s",
        attempt_timeout = "5s",
        backoff = "50ms",
        max_backoff = "5s",
        jitter = "none",
        retry_mode = "engine",
        bulkhead = 4
    )]
    async fn old(_cx: &TaskContext, _input: ()) -> Result<(), TaskError> {
        Ok(())
    }

    #[service_task(
        name = "old",
        retry(
            max_attempts = 4,
            initial_delay = "50ms",
            max_delay = "5s",
            jitter = "none",
            mode = "engine"
        ),
        timeout(total = "30s", attempt = "5s"),
        bulkhead(max_concurrent = 4)
    )]
    async fn new(_cx: &TaskContext, _input: ()) -> Result<(), TaskError> {
        Ok(())
    }

    #[test]
    fn old_shorthands_mean_the_new_keys() {
        assert_eq!(OldTask.config(), NewTask.config());
        let built = TaskConfig::builder("old")
            .retries(3)
            .timeout(Duration::from_secs(30))
            .attempt_timeout(Duration::from_secs(5))
            .build();
        let new = TaskConfig::builder("old")
            .retry_max_attempts(4)
            .timeout_total(Duration::from_secs(30))
            .timeout_attempt(Duration::from_secs(5))
            .build();
        assert_eq!(built, new);
    }
}
