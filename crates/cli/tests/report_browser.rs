//! The report of the demo's history after 1 and after 50 runs of `servicetask demo`, rendered by
//! `servicetask report --html` and loaded in headless Chromium: the page loads, every chart it
//! draws has data, no console error; after one run each task is a table row, not an empty chart.

use std::path::Path;

use servicetask_report::browser;
use servicetask_test_support::output::{clean_command, run, stdout, text};

/// `servicetask ARGS`, which must succeed; its stdout.
fn servicetask(args: &[&str]) -> String {
    let out = run(clean_command(env!("CARGO_BIN_EXE_servicetask")).args(args));
    assert!(out.status.success(), "servicetask {args:?}: {}", text(&out));
    stdout(&out)
}

/// Writes the report page and checks it in Chromium; the page text for further checks.
fn report_checked(dir: &Path, name: &str) -> String {
    let db = dir.join("history.db");
    let page = dir.join(name);
    servicetask(&["report", "--db", db.to_str().unwrap(), "--html", page.to_str().unwrap()]);
    let html = std::fs::read_to_string(&page).unwrap();
    match browser::check_page(&page).unwrap() {
        Some(seen) => {
            assert_eq!(seen.rendered, seen.expected, "{name}: {seen:?}");
            assert_eq!(seen.with_data, seen.rendered, "{name}: a chart without data: {seen:?}");
            assert!(seen.console_errors.is_empty(), "{name}: {seen:?}");
        }
        None => assert!(
            !browser::chromium_required(),
            "SERVICETASK_REQUIRE_CHROMIUM=1 but chromium is not installed"
        ),
    }
    html
}

#[test]
fn demo_report_after_1_and_50_runs_renders_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let demo = |seed: u32| {
        servicetask(&[
            "demo",
            "--dir",
            d,
            "--files",
            "1",
            "--rows",
            "20",
            "--seed",
            &seed.to_string(),
        ])
    };
    demo(1);
    let one = report_checked(dir.path(), "after-1.html");
    // one run per task: the run is a table row and there is no chart of it
    assert!(one.contains("One run — too few to chart"), "{one}");
    assert!(!one.contains("-duration\" viewBox"), "a chart of one run");
    assert!(one.contains(r##"<a href="#task-0">"##), "no table of contents");
    for seed in 2..=50 {
        demo(seed);
    }
    let fifty = report_checked(dir.path(), "after-50.html");
    assert!(fifty.contains("50 runs:"), "tasks should have 50 runs each");
    assert!(
        fifty.contains("-duration\" viewBox") && fifty.contains("-cpu\" viewBox"),
        "charts missing"
    );
    assert!(!fifty.contains("too few to chart"));
}
