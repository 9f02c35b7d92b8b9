//! Input path inspection before the task body runs.

mod support;

use servicetask_core::{semconv, ErrorClass, TrackedPath, TrackingConfig};
use servicetask_tracking::inspect_input_paths;
use support::{attr, events, temp_dir, Harness};

fn tp(field: &'static str, path: std::path::PathBuf, required: bool) -> TrackedPath {
    TrackedPath {
        field,
        path,
        required,
        sensitive: false,
    }
}

#[test]
fn existing_paths_are_recorded_with_size_mtime_and_mode() {
    let dir = temp_dir("inspect-ok");
    let file = dir.join("in.csv");
    std::fs::write(&file, b"a,b\n1,2\n").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
    }
    let h = Harness::new();
    let cx = h.context("inspect", TrackingConfig::default());
    inspect_input_paths(
        &cx,
        &[tp("input", file.clone(), true), tp("workdir", dir.clone(), true)],
    )
    .unwrap();
    let span = h.end_span(&cx);
    let ev = events(&span, semconv::event::INPUT_FILE);
    assert_eq!(ev.len(), 2);
    let a = &ev[0].attributes;
    assert_eq!(attr(a, semconv::FILE_PATH).unwrap().as_str(), file.to_string_lossy());
    assert_eq!(attr(a, semconv::SERVICETASK_INPUT_FIELD).unwrap().as_str(), "input");
    assert_eq!(
        attr(a, semconv::SERVICETASK_FILE_EXISTS),
        Some(&opentelemetry::Value::Bool(true))
    );
    assert_eq!(attr(a, semconv::FILE_SIZE), Some(&opentelemetry::Value::I64(8)));
    let modified = attr(a, semconv::FILE_MODIFIED).unwrap().as_str().into_owned();
    assert!(modified.ends_with('Z') && modified.len() == 20, "{modified}");
    #[cfg(unix)]
    assert_eq!(attr(a, semconv::FILE_MODE).unwrap().as_str(), "0640");
    // A directory has no file.size, and is not listed.
    assert!(attr(&ev[1].attributes, semconv::FILE_SIZE).is_none());
    assert_eq!(cx.stats().files().len(), 2);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_missing_required_path_fails_as_not_found_with_a_suggestion() {
    let dir = temp_dir("inspect-missing");
    let missing = dir.join("orders.csv");
    let h = Harness::new();
    let cx = h.context("inspect", TrackingConfig::default());
    let err = inspect_input_paths(&cx, &[tp("orders_file", missing.clone(), true)]).unwrap_err();
    assert_eq!(err.class(), ErrorClass::NotFound);
    let s = err.suggestion().unwrap();
    assert!(
        s.contains("orders_file") && s.contains(&*missing.to_string_lossy()),
        "{s}"
    );
    let span = h.end_span(&cx);
    let ev = events(&span, semconv::event::INPUT_FILE);
    assert_eq!(
        attr(&ev[0].attributes, semconv::SERVICETASK_FILE_EXISTS),
        Some(&opentelemetry::Value::Bool(false))
    );
    assert_eq!(
        attr(&ev[0].attributes, semconv::ERROR_TYPE).unwrap().as_str(),
        "not_found"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_missing_optional_path_is_recorded_and_not_an_error() {
    let h = Harness::new();
    let cx = h.context("inspect", TrackingConfig::default());
    inspect_input_paths(&cx, &[tp("cache", "/nonexistent/servicetask/cache".into(), false)]).unwrap();
    let span = h.end_span(&cx);
    assert_eq!(events(&span, semconv::event::INPUT_FILE).len(), 1);
}

#[cfg(unix)]
#[test]
fn a_required_symlink_loop_is_a_validation_error() {
    let dir = temp_dir("inspect-loop");
    std::os::unix::fs::symlink(dir.join("x"), dir.join("x")).unwrap();
    let cx = Harness::new().context("inspect", TrackingConfig::default());
    let err = inspect_input_paths(&cx, &[tp("input", dir.join("x"), true)]).unwrap_err();
    assert_eq!(err.class(), ErrorClass::Validation);
    assert!(err.suggestion().unwrap().contains("symbolic link loop"));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn with_files_off_required_paths_are_still_checked_but_nothing_is_recorded() {
    let h = Harness::new();
    let tracking = TrackingConfig {
        files: false,
        ..TrackingConfig::default()
    };
    let cx = h.context("inspect", tracking);
    let err = inspect_input_paths(&cx, &[tp("input", "/nonexistent/servicetask/in".into(), true)]).unwrap_err();
    assert_eq!(err.class(), ErrorClass::NotFound);
    assert!(events(&h.end_span(&cx), semconv::event::INPUT_FILE).is_empty());
}

#[test]
fn odd_modification_times_are_recorded_not_panicked_on() {
    let dir = temp_dir("inspect-mtime");
    let old = dir.join("old");
    std::fs::write(&old, b"x").unwrap();
    let f = std::fs::File::options().write(true).open(&old).unwrap();
    let t = std::time::UNIX_EPOCH - std::time::Duration::from_secs(10 * 365 * 86_400);
    if let Err(e) = f.set_modified(t) {
        // A file system that cannot hold times before 1970 (the file keeps its mtime).
        eprintln!("skipping the pre-1970 part: {e}");
    }
    drop(f);
    let h = Harness::new();
    let cx = h.context("inspect", TrackingConfig::default());
    inspect_input_paths(&cx, &[tp("input", old.clone(), true)]).unwrap();
    let span = h.end_span(&cx);
    let modified = attr(
        &events(&span, semconv::event::INPUT_FILE)[0].attributes,
        semconv::FILE_MODIFIED,
    )
    .unwrap()
    .as_str()
    .into_owned();
    let real = std::fs::metadata(&old).unwrap().modified().unwrap();
    if real < std::time::UNIX_EPOCH {
        assert!(modified.starts_with("1960-"), "{modified}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}
