//! Inspection of the input's path fields before the task body runs.

use std::sync::atomic::Ordering;

use opentelemetry::KeyValue;
use servicetask_core::fs::{display_path, file_error};
use servicetask_core::record::FileAccessKind;
use servicetask_core::{semconv, TaskContext, TaskError, TrackedPath};

/// Stats each input path (exists, size, modified time, permissions) and records it as a
/// `servicetask.input_file` span event; fails before the task body runs when a path the input
/// declares `required` cannot be stat-ed (`not_found` for a missing file, with a suggestion
/// naming the field and the path).
///
/// Only the named paths are touched: each is stat-ed once (a symlink at the path is followed
/// to what it names; directories are not listed). With `tracking.files` off no event is
/// recorded, but required paths are still checked. Events count toward `max_file_events`.
///
/// Event attributes: `file.path`, `servicetask.input.field`, `servicetask.file.exists`, and for
/// an existing path `file.size` (files only), `file.modified` (RFC 3339, UTC), `file.mode`
/// (octal, Unix); for a path that could not be stat-ed, `error.type`.
// `TaskError` is the project-wide error type; its size is core's decision.
#[allow(clippy::result_large_err)]
pub fn inspect_input_paths(cx: &TaskContext, paths: &[TrackedPath]) -> Result<(), TaskError> {
    let events = cx.tracking().files;
    for p in paths {
        let shown = display_path(&p.path);
        let meta = std::fs::metadata(&p.path);
        if events {
            let mut attrs = vec![
                KeyValue::new(semconv::FILE_PATH, shown.to_string()),
                KeyValue::new(semconv::SERVICETASK_INPUT_FIELD, p.field),
                KeyValue::new(semconv::SERVICETASK_FILE_EXISTS, meta.is_ok()),
            ];
            let mut size = None;
            match &meta {
                Ok(m) => {
                    if m.is_file() {
                        size = Some(m.len());
                        attrs.push(KeyValue::new(semconv::FILE_SIZE, m.len() as i64));
                    }
                    if let Ok(t) = m.modified() {
                        attrs.push(KeyValue::new(
                            semconv::FILE_MODIFIED,
                            humantime::format_rfc3339_seconds(t).to_string(),
                        ));
                    }
                    #[cfg(unix)]
                    {
                        use std::os::unix::fs::PermissionsExt as _;
                        let mode = m.permissions().mode() & 0o7777;
                        attrs.push(KeyValue::new(semconv::FILE_MODE, format!("{mode:04o}")));
                    }
                }
                Err(e) => {
                    let copy = match e.raw_os_error() {
                        Some(code) => std::io::Error::from_raw_os_error(code),
                        None => std::io::Error::from(e.kind()),
                    };
                    let class = file_error(copy, &shown, "stat").class();
                    attrs.push(KeyValue::new(semconv::ERROR_TYPE, class.as_str()));
                }
            }
            let stats = cx.stats();
            stats.add_file(&shown, FileAccessKind::Meta, 0, size);
            let cap = cx.tracking().max_file_events;
            let admitted = stats
                .file_events
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| (n < cap).then_some(n + 1))
                .is_ok();
            if admitted {
                cx.span().add_event(semconv::event::INPUT_FILE, attrs);
            } else {
                stats.file_events_dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
        if let (Err(e), true) = (meta, p.required) {
            let err = file_error(e, &shown, "inspect input");
            let hint = err.suggestion().unwrap_or_default().to_string();
            return Err(err.with_suggestion(format!("input field '{}': {hint}", p.field)));
        }
    }
    Ok(())
}
