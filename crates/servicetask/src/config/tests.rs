//! The loader's layers, places and messages, checked on TOML texts and variables.

use super::*;
use std::time::Duration;

#[test]
fn layers_apply_in_order() {
    let toml = r#"
[defaults]
retry.max_attempts = 2
[tasks.resize]
retry.max_attempts = 3
[profiles.prod.tasks.resize]
retry.max_attempts = 4
"#;
    let code = TaskConfig::builder("resize").retry_max_attempts(10).build();
    let c = ConfigLoader::default()
        .with_toml("f.toml", toml)
        .unwrap()
        .resolve(&code)
        .unwrap();
    assert_eq!(c.retry.max_attempts, 3);
    let c = ConfigLoader::default()
        .with_profile("prod")
        .with_toml("f.toml", toml)
        .unwrap()
        .resolve(&code)
        .unwrap();
    assert_eq!(c.retry.max_attempts, 4);
    let c = ConfigLoader::default()
        .with_profile("prod")
        .with_toml("f.toml", toml)
        .unwrap()
        .with_env([("SERVICETASK__TASKS__RESIZE__RETRY__MAX_ATTEMPTS".into(), "6".into())])
        .resolve(&code)
        .unwrap();
    assert_eq!(c.retry.max_attempts, 6);
    // Another task only sees the defaults.
    let other = ConfigLoader::default()
        .with_toml("f.toml", toml)
        .unwrap()
        .resolve(&TaskConfig::named("other"))
        .unwrap();
    assert_eq!(other.retry.max_attempts, 2);
}

#[test]
fn dependency_sections_start_from_defaults_and_reject_typos() {
    let l = ConfigLoader::default()
        .with_toml(
            "s.toml",
            "[dependencies.payments]\nbreaker.minimum_calls = 5\nbulkhead.max_concurrent = 3\n",
        )
        .unwrap();
    let d = &l.dependencies()["payments"];
    let b = d.breaker.as_ref().unwrap();
    assert_eq!(b.minimum_calls, 5);
    assert_eq!(
        b.failure_rate_threshold,
        servicetask_core::BreakerConfig::default().failure_rate_threshold
    );
    assert_eq!(d.bulkhead.as_ref().unwrap().max_concurrent, 3);
    let err = ConfigLoader::default()
        .with_toml("s.toml", "[dependencies.payments]\nbreaker.minimum_cals = 5\n")
        .unwrap_err();
    assert_eq!(err.first().origin, "s.toml:2:9 [dependencies.payments]");
    assert!(err.to_string().contains("minimum_cals"), "{err}");
}

/// Several mistakes in one `[dependencies.X]` table: every one reported, each at its key.
#[test]
fn every_problem_in_a_dependency_table_is_reported() {
    let toml = "[dependencies.payments]\nbreaker.minimum_cals = 5\nbreaker.wait_in_open = \"soon\"\nbulkhead.max_concurrent = \"x\"\nretry.mode = \"engine\"\n\n[dependencies.ledger.breaker]\nfailure_rate_threshold = 150\nwindow_size = 0\n";
    let err = ConfigLoader::default().with_toml("s.toml", toml).unwrap_err();
    assert_problems(
        &err,
        &[
            "s.toml:8:1 [dependencies.ledger]: breaker.failure_rate_threshold: 150 is out of range",
            "s.toml:9:1 [dependencies.ledger]: breaker.window_size: must be at least 1",
            "s.toml:2:9 [dependencies.payments]: breaker.minimum_cals: unknown key; known here: ",
            "s.toml:3:9 [dependencies.payments]: breaker.wait_in_open: ",
            "s.toml:4:10 [dependencies.payments]: bulkhead.max_concurrent: invalid type",
            // a dependency's retry is per call: no hand-back to the engine
            "s.toml:5:7 [dependencies.payments]: retry.mode: unknown key; known here: budget, initial_delay, jitter",
        ],
    );
}

/// `err` holds one problem per line of `expect`, in order, each starting with its line.
fn assert_problems(err: &ConfigError, expect: &[&str]) {
    let lines: Vec<String> = err.problems.iter().map(ToString::to_string).collect();
    assert_eq!(lines.len(), expect.len(), "{err}");
    for (line, want) in lines.iter().zip(expect) {
        assert!(line.starts_with(want), "{line}\n  should start with\n{want}\n{err}");
    }
}

#[test]
fn code_values_survive_when_no_layer_sets_them() {
    let code = TaskConfig::builder("t").timeout_total(Duration::from_secs(7)).build();
    let c = ConfigLoader::default().resolve(&code).unwrap();
    assert_eq!(c, code);
}

#[test]
fn bad_value_names_origin_key_and_expectation() {
    // found when the file is read, before any task resolves
    let err = ConfigLoader::default()
        .with_toml("servicetask.toml", "[tasks.resize]\nretry.max_attempts = \"x\"\n")
        .unwrap_err();
    let s = err.to_string();
    assert!(
        s.starts_with("servicetask.toml:2:7 [tasks.resize]: retry.max_attempts: "),
        "{s}"
    );
    assert!(s.contains("expected u32"), "{s}");
}

#[test]
fn bad_env_duration_names_the_variable() {
    let err = ConfigLoader::default()
        .with_env([("SERVICETASK__DEFAULTS__TIMEOUT__TOTAL".into(), "soon".into())])
        .resolve(&TaskConfig::named("x"))
        .unwrap_err();
    assert_eq!(
        err.first().origin,
        "environment variable SERVICETASK__DEFAULTS__TIMEOUT__TOTAL"
    );
    assert_eq!(err.first().key, "timeout.total");
}

#[test]
fn out_of_range_values_are_rejected_with_the_allowed_range() {
    let err = ConfigLoader::default()
        .with_toml("s.toml", "[defaults]\nbreaker.failure_rate_threshold = 150\n")
        .unwrap()
        .resolve(&TaskConfig::named("x"))
        .unwrap_err();
    assert_eq!(err.first().key, "breaker.failure_rate_threshold");
    assert!(err.first().message.contains("0 to 100"), "{err}");
    assert_eq!(err.first().origin, "s.toml:2:9 [defaults]");
}

#[test]
fn unknown_sections_and_syntax_errors_are_explained() {
    let err = ConfigLoader::default().with_toml("s.toml", "[task.x]\n").unwrap_err();
    assert!(err.first().message.contains("unknown section"), "{err}");
    let err = ConfigLoader::default().with_toml("s.toml", "[defaults\n").unwrap_err();
    assert!(err.first().origin.starts_with("s.toml:1:"), "{err}");
}

/// The issue's case: two mistakes in one table, a misspelled task, and a variable for an
/// unknown task with a bad value: all reported at once, each where it is written.
#[test]
fn every_problem_is_reported_at_once_with_its_place() {
    let toml = "[tasks.enrich_csv]\nretry.max_atempts = 3\ntimeout.total = \"soon\"\n\n[tasks.enrich_cvs]\nretry.max_attempts = 2\n";
    let err = ConfigLoader::default().with_toml("servicetask.toml", toml).unwrap_err();
    let lines: Vec<String> = err.problems.iter().map(ToString::to_string).collect();
    assert_eq!(lines.len(), 2, "{err}");
    assert!(
        lines[0].starts_with("servicetask.toml:2:7 [tasks.enrich_csv]: retry.max_atempts: unknown key; known here:"),
        "{err}"
    );
    assert!(lines[0].contains("max_attempts"), "{err}");
    assert!(
        lines[1].starts_with("servicetask.toml:3:9 [tasks.enrich_csv]: timeout.total: "),
        "{err}"
    );
    assert!(err.to_string().starts_with("2 configuration problems:"), "{err}");

    let loader = ConfigLoader::default()
        .with_toml("servicetask.toml", "[tasks.enrich_cvs]\nretry.max_attempts = 2\n")
        .unwrap()
        .with_env([(
            "SERVICETASK__TASKS__X__RETRY__MAX_ATTEMPTS".to_string(),
            "abc".to_string(),
        )]);
    let err = loader.check_tasks(&["enrich_csv"]).unwrap_err();
    let text = err.to_string();
    assert_eq!(err.problems.len(), 3, "{text}");
    assert!(
        text.contains(
            "environment variable SERVICETASK__TASKS__X__RETRY__MAX_ATTEMPTS: retry.max_attempts: invalid type"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "servicetask.toml:1:8 [tasks.enrich_cvs]: unknown task 'enrich_cvs'; registered tasks: enrich_csv"
        ),
        "{text}"
    );
    assert!(
        text.contains("environment variable SERVICETASK__TASKS__X__RETRY__MAX_ATTEMPTS: unknown task 'x'"),
        "{text}"
    );
    assert!(ConfigLoader::default().check_tasks(&["a"]).is_ok());
}

/// `[history] path` is relative to the file; other keys, and a `[telemetry]` section (the
/// OTEL_* variables configure telemetry), are errors.
#[test]
fn the_history_section_applies_and_nothing_else_passes_unread() {
    let l = ConfigLoader::default()
        .with_toml("conf/s.toml", "[history]\npath = \"h/history.db\"\n")
        .unwrap();
    assert_eq!(l.history().path.as_deref(), Some(Path::new("conf/h/history.db")));
    let err = ConfigLoader::default()
        .with_toml("s.toml", "[history]\npth = \"x\"\n[telemetry]\nendpoint = \"x\"\n")
        .unwrap_err();
    assert_eq!(err.problems.len(), 2, "{err}");
    assert!(err.to_string().contains("OTEL_"), "{err}");
    assert!(err.to_string().contains("pth"), "{err}");
}

/// Profiles that are not selected are checked too: a typo in `prod` shows in development.
#[test]
fn unselected_profiles_are_checked() {
    let err = ConfigLoader::default()
        .with_toml("s.toml", "[profiles.prod.defaults]\nretry.max_attempt = 5\n")
        .unwrap_err();
    assert_eq!(err.first().key, "retry.max_attempt", "{err}");
}

/// `[profiles.NAME.http]` applies over `[http]` when its profile is selected: key by key,
/// `hosts` host by host; without the profile the file's table stands alone.
#[cfg(feature = "http")]
#[test]
fn a_profile_http_table_applies_over_the_file_one_key_at_a_time() {
    let toml = r#"
[http]
hosts = { "api.stripe.com" = "payments" }
timeout = "30s"
max_response_bytes = 4096

[profiles.prod.http]
hosts = { "inventory.internal:8443" = "inventory" }
timeout = "5s"

[profiles.dev.defaults]
retry.max_attempts = 1
"#;
    let plain = ConfigLoader::default().with_toml("s.toml", toml).unwrap();
    let h = plain.http().unwrap();
    assert_eq!(h.timeout, Duration::from_secs(30));
    assert_eq!(h.hosts.len(), 1);
    let prod = ConfigLoader::default()
        .with_profile("prod")
        .with_toml("s.toml", toml)
        .unwrap();
    let h = prod.http().unwrap();
    assert_eq!(h.timeout, Duration::from_secs(5));
    assert_eq!(h.max_response_bytes, 4096, "a key the profile leaves is the file's");
    assert_eq!(h.hosts["api.stripe.com"], "payments");
    assert_eq!(h.hosts["inventory.internal:8443"], "inventory");
    // a profile without an http table leaves the file's
    let dev = ConfigLoader::default()
        .with_profile("dev")
        .with_toml("s.toml", toml)
        .unwrap();
    assert_eq!(dev.http(), plain.http());
    // a profile's table alone, without [http] in the file
    let only = ConfigLoader::default()
        .with_profile("prod")
        .with_toml("s.toml", "[profiles.prod.http]\nconnect_timeout = \"2s\"\n")
        .unwrap();
    assert_eq!(only.http().unwrap().connect_timeout, Duration::from_secs(2));
    assert!(ConfigLoader::default()
        .with_toml("s.toml", "[profiles.prod.http]\nconnect_timeout = \"2s\"\n")
        .unwrap()
        .http()
        .is_none());
    // a relative ca_file is the file's neighbour, not the working folder's
    let err = ConfigLoader::default()
        .with_toml("conf/s.toml", "[profiles.prod.http]\nca_file = \"certs/ca.pem\"\n")
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("conf/s.toml:2:1 [profiles.prod.http]: ca_file: cannot read conf/certs/ca.pem"),
        "{err}"
    );
}

/// Every profile's `http` table is checked, selected or not, each problem at its
/// file:line:column under the profile's table; a profile section that does not exist lists
/// the ones that do.
#[cfg(feature = "http")]
#[test]
fn every_profile_http_table_is_checked_where_it_is_written() {
    let toml = "[http]\ntimeout = \"30s\"\n\n[profiles.prod.http]\ntimout = \"5s\"\nmax_response_bytes = 0\n\n[profiles.stage.http]\nconnect_timeout = \"soon\"\n\n[profiles.qa.dependencies]\nx = 1\n";
    let err = ConfigLoader::default().with_toml("s.toml", toml).unwrap_err();
    assert_problems(
        &err,
        &[
            "s.toml:11:14: profiles.qa.dependencies: unknown section of a profile; use one of: defaults, tasks, http",
            "s.toml:5:1 [profiles.prod.http]: timout: unknown key; known here: ",
            "s.toml:9:1 [profiles.stage.http]: connect_timeout: ",
        ],
    );
    // a value the settings refuse, found once the profile's keys are known
    let err = ConfigLoader::default()
        .with_toml(
            "s.toml",
            "[http]\ntimeout = \"30s\"\n[profiles.prod.http]\nmax_response_bytes = 0\n",
        )
        .unwrap_err();
    assert_eq!(err.problems.len(), 1, "{err}");
    assert!(
        err.to_string()
            .starts_with("s.toml:4:1 [profiles.prod.http]: max_response_bytes: 0 is not allowed"),
        "{err}"
    );
}

/// Built without the `http` feature, an `[http]` table (the file's or a profile's) is not
/// ignored: each says how to get the client it configures.
#[cfg(not(feature = "http"))]
#[test]
fn http_tables_without_the_client_say_how_to_get_it() {
    let err = ConfigLoader::default()
        .with_toml(
            "s.toml",
            "[http]\ntimeout = \"5s\"\n[profiles.prod.http]\ntimeout = \"1s\"\n",
        )
        .unwrap_err();
    assert_problems(
        &err,
        &[
            "s.toml:1:2: http: the HTTP client is not built in; enable servicetask's `http` feature",
            "s.toml:3:16: profiles.prod.http: the HTTP client is not built in",
        ],
    );
}
