//! The attributes' vocabulary: a breaker written in `#[service_task(breaker(...))]` and the same
//! keys in `servicetask.toml` give the same configuration; an input's `#[task(min, max,
//! non_empty)]` checks show in its JSON Schema.

use servicetask::{
    service_task, task_schema, ConfigLoader, ServiceTask, TaskConfig, TaskContext, TaskError, TaskInput,
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
