//! The runner applies `servicetask.toml` and `SERVICETASK__*` variables by default, and reports
//! a task the configuration names but no code registers. One test in its own binary (its own
//! process): it sets environment variables that every runner built meanwhile would read.

use servicetask::{task_fn, Runner, TaskConfig, TaskContext, TaskError, Telemetry};

fn noop(name: &str) -> impl servicetask::ServiceTask {
    task_fn(TaskConfig::named(name), |_cx: TaskContext, _: ()| async move {
        Ok::<_, TaskError>(())
    })
}

#[test]
fn the_file_and_the_variables_apply_by_default_and_unknown_tasks_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("my.toml");
    std::fs::write(
        &file,
        "[tasks.enrich_csv]\nretry.max_attempts = 4\n[tasks.enrich_cvs]\ntimeout.total = \"2s\"\n",
    )
    .unwrap();
    // this binary runs one test: no other thread reads the environment while it changes
    std::env::set_var("SERVICETASK_CONFIG", &file);
    std::env::set_var("SERVICETASK__TASKS__ENRICH_CSV__TIMEOUT__TOTAL", "3s");

    let runner = Runner::builder().telemetry(Telemetry::disabled()).build();
    let h = runner.register(noop("enrich_csv")).unwrap();
    assert_eq!(h.config().retry.max_attempts, 4, "the file applies");
    assert_eq!(
        h.config().timeout.total,
        Some(std::time::Duration::from_secs(3)),
        "the variable applies"
    );
    let err = runner.check_config().unwrap_err().to_string();
    assert!(
        err.contains("my.toml:3:8 [tasks.enrich_cvs]: unknown task 'enrich_cvs'; registered tasks: enrich_csv"),
        "{err}"
    );

    // The opt-out reads neither.
    let plain = Runner::builder()
        .telemetry(Telemetry::disabled())
        .code_config_only()
        .build();
    let h = plain.register(noop("enrich_csv")).unwrap();
    assert_eq!(h.config().retry.max_attempts, TaskConfig::named("x").retry.max_attempts);
    assert!(plain.check_config().is_ok());

    // A bad variable fails every registration, with all problems listed.
    std::env::set_var("SERVICETASK__DEFAULTS__RETRY__MAX_ATEMPTS", "2");
    std::env::set_var("SERVICETASK__TASKS__ENRICH_CSV__RETRY__MAX_ATTEMPTS", "abc");
    let runner = Runner::builder().telemetry(Telemetry::disabled()).build();
    let err = runner.register(noop("enrich_csv")).unwrap_err();
    assert_eq!(err.problems.len(), 2, "{err}");
    let text = err.to_string();
    assert!(
        text.contains("SERVICETASK__DEFAULTS__RETRY__MAX_ATEMPTS: retry.max_atempts: unknown key"),
        "{text}"
    );
    assert!(
        text.contains("SERVICETASK__TASKS__ENRICH_CSV__RETRY__MAX_ATTEMPTS: retry.max_attempts: invalid type"),
        "{text}"
    );
}
