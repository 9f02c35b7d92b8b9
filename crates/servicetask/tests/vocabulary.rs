//! One vocabulary: a breaker written in `#[service_task(breaker(...))]` and the same keys in
//! `servicetask.toml` give the same configuration.

use servicetask::{service_task, ConfigLoader, ServiceTask, TaskConfig, TaskContext, TaskError};

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
