//! The example user crate's own CLI, driven as a user drives it: a process with the user's
//! tasks, a mocked BPMN error path, a scenario file, the configuration file applying, and the
//! same scenarios as a Rust process test.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use servicetask_cli::mock::Mock;
use servicetask_cli::scenario::{Scenario, Status};
use servicetask_cli::Tasks;

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs the user's binary in `cwd` with a clean telemetry and configuration environment.
fn my_tasks(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_my-tasks"))
        .args(args)
        .current_dir(cwd)
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .env_remove("OTEL_TRACES_EXPORTER")
        .env_remove("SERVICETASK_CONFIG")
        .env_remove("SERVICETASK_HISTORY")
        .output()
        .expect("run my-tasks")
}

fn text(o: &Output) -> String {
    format!(
        "{}\n--- stderr ---\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn runs_the_process_with_the_users_tasks_and_prints_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let bpmn = crate_dir().join("processes/order.bpmn");
    let out = my_tasks(
        &["run", bpmn.to_str().unwrap(), "--var", "sku=A-1", "--var", "quantity=2"],
        dir.path(),
    );
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.contains("Path: start -> reserve -> ship -> shipped"), "{t}");
    assert!(t.contains("\"tracking\":\"T-A-1-2\""), "{t}");
    // the real task's BPMN error takes the boundary path
    let out = my_tasks(
        &["run", bpmn.to_str().unwrap(), "--var", "sku=Z-9", "--var", "quantity=1"],
        dir.path(),
    );
    assert!(
        text(&out).contains("Path: start -> no_stock -> apologise -> sorry"),
        "{}",
        text(&out)
    );
    // the history went where `report` looks by default
    assert!(dir.path().join("servicetask-history.db").exists());
    let out = my_tasks(&["report"], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("reserve_stock"), "{}", text(&out));
}

#[test]
fn a_mocked_bpmn_error_takes_the_boundary_path() {
    let dir = tempfile::tempdir().unwrap();
    let bpmn = crate_dir().join("processes/order.bpmn");
    let out = my_tasks(
        &[
            "run",
            bpmn.to_str().unwrap(),
            "--var",
            "sku=A-1",
            "--var",
            "quantity=1",
            "--mock",
            "reserve_stock=bpmn-error:OUT_OF_STOCK",
            "--history",
            "h/history.db",
        ],
        dir.path(),
    );
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.contains("Path: start -> no_stock -> apologise -> sorry"), "{t}");
    assert!(
        dir.path().join("h/history.db").exists(),
        "--history is where the records go"
    );
    // a mocked output and a mocked failure
    let out = my_tasks(
        &[
            "run",
            bpmn.to_str().unwrap(),
            "--mock",
            r#"reserve_stock={"reservation":"R-X"}"#,
            "--mock",
            "ship_order=failure:network",
        ],
        dir.path(),
    );
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "an incident: {t}");
    assert!(t.contains("incident on ship") && t.contains("[network]"), "{t}");
    assert!(t.contains("Path: start -> reserve"), "{t}");
    let out = my_tasks(
        &["run", bpmn.to_str().unwrap(), "--mock", "ship_order=failure:flaky"],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("not an error class"), "{}", text(&out));
}

#[test]
fn the_scenario_file_passes_and_a_wrong_expectation_fails_with_a_diff() {
    let dir = tempfile::tempdir().unwrap();
    let scenarios = crate_dir().join("tests/order.test.toml");
    let out = my_tasks(&["test", scenarios.to_str().unwrap()], dir.path());
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.contains("3 passed, 0 failed"), "{t}");

    let bad = dir.path().join("bad.test.toml");
    std::fs::write(
        &bad,
        format!(
            "process = {:?}\n[[scenario]]\nname = \"wrong\"\nvariables = {{ sku = \"A-1\", quantity = 1 }}\n[scenario.expect]\npath = [\"start\", \"reserve\", \"sorry\"]\nvariables = {{ tracking = \"nope\" }}\n",
            crate_dir().join("processes/order.bpmn")
        ),
    )
    .unwrap();
    let out = my_tasks(&["test", bad.to_str().unwrap()], dir.path());
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("FAILED"), "{t}");
    assert!(t.contains("expected: start -> reserve -> sorry"), "{t}");
    assert!(t.contains("actual:   start -> reserve -> ship -> shipped"), "{t}");
    assert!(
        t.contains("variables.tracking: expected \"nope\", got \"T-A-1-1\""),
        "{t}"
    );
}

#[test]
fn the_configuration_file_applies_and_a_misspelled_task_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        crate_dir().join("servicetask.toml"),
        dir.path().join("servicetask.toml"),
    )
    .unwrap();
    let out = my_tasks(&["tasks"], dir.path());
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    let ship = t
        .lines()
        .skip_while(|l| !l.starts_with("ship_order"))
        .nth(1)
        .unwrap_or("");
    assert!(ship.contains("attempts 5") && ship.contains("breaker on"), "{t}");

    std::fs::write(
        dir.path().join("servicetask.toml"),
        "[tasks.ship_ordr]\nretry.max_attempts = 5\n[tasks.reserve_stock]\nretry.max_atempts = 2\n",
    )
    .unwrap();
    let out = my_tasks(&["tasks"], dir.path());
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(
        t.contains("servicetask.toml:4:7 [tasks.reserve_stock]: retry.max_atempts: unknown key"),
        "{t}"
    );
    let out = my_tasks(&["schema"], dir.path());
    assert_eq!(out.status.code(), Some(2));

    std::fs::write(
        dir.path().join("servicetask.toml"),
        "[tasks.ship_ordr]\nretry.max_attempts = 5\n",
    )
    .unwrap();
    let out = my_tasks(&["tasks"], dir.path());
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(
        t.contains("servicetask.toml:1:8 [tasks.ship_ordr]: unknown task 'ship_ordr'; registered tasks: reserve_stock, ship_order"),
        "{t}"
    );
}

/// The same scenarios as a Rust process test.
#[tokio::test]
async fn scenarios_as_a_rust_api() {
    let tasks = Tasks::new().with(my_tasks::register);
    let bpmn = crate_dir().join("processes/order.bpmn");
    let seen = Scenario::new("out of stock")
        .var("sku", "A-1")
        .var("quantity", 2)
        .mock("reserve_stock", Mock::bpmn_error("OUT_OF_STOCK"))
        .expect_status(Status::Completed)
        .expect_path(["start", "no_stock", "apologise", "sorry"])
        .check(&bpmn, &tasks)
        .await
        .unwrap();
    assert!(!seen.path.contains(&"ship".to_string()));

    let err = Scenario::new("wrong")
        .var("sku", "A-1")
        .var("quantity", 2)
        .expect_variable("tracking", "T-0")
        .expect_incidents(["ship"])
        .check(&bpmn, &tasks)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("variables.tracking: expected \"T-0\", got \"T-A-1-2\""),
        "{err}"
    );
    assert!(err.contains("incidents: expected [ship], got []"), "{err}");
}

/// `[history] path` in servicetask.toml is where `run` writes and `report` reads.
#[test]
fn the_history_path_from_the_file_is_shared_by_run_and_report() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("servicetask.toml"),
        "[history]\npath = \"records/h.db\"\n",
    )
    .unwrap();
    let bpmn = crate_dir().join("processes/order.bpmn");
    let out = my_tasks(
        &["run", bpmn.to_str().unwrap(), "--var", "sku=A-1", "--var", "quantity=1"],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(dir.path().join("records/h.db").exists(), "{}", text(&out));
    assert!(!dir.path().join("servicetask-history.db").exists());
    let out = my_tasks(&["report"], dir.path());
    assert!(text(&out).contains("ship_order"), "{}", text(&out));
}
