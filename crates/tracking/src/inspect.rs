//! Inspection of the input's path fields before the task body runs.

use std::sync::atomic::Ordering;

use opentelemetry::KeyValue;
use servicetask_core::fs::{file_error, redacted_path};
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
/// A `#[task(path, sensitive)]` path is recorded as `[redacted:FIELD]` in the event, the
/// per-file totals and the error.
///
/// Event attributes: `file.path`, `servicetask.input.field`, `servicetask.file.exists`, and for
/// an existing path `file.size` (files only), `file.modified` (RFC 3339, UTC), `file.mode`
/// (octal, Unix); for a path that could not be stat-ed, `error.type`.
pub fn inspect_input_paths(cx: &TaskContext, paths: &[TrackedPath]) -> Result<(), TaskError> {
    let events = cx.tracking().files;
    for p in paths {
        // a sensitive path is never recorded, only its field
        let shown = match p.sensitive {
            true => std::borrow::Cow::Owned(redacted_path(p.field)),
            false => cx.shown_path(&p.path),
        };
        let meta = std::fs::metadata(&p.path);
        if events {
            let stats = cx.stats();
            let size = meta.as_ref().ok().filter(|m| m.is_file()).map(|m| m.len());
            stats.add_file(&shown, FileAccessKind::Meta, 0, size);
            let cap = cx.tracking().max_file_events;
            let admitted = stats
                .file_events
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| (n < cap).then_some(n + 1))
                .is_ok();
            if !admitted {
                stats.file_events_dropped.fetch_add(1, Ordering::Relaxed);
            } else if cx.span().is_recording() {
                cx.span()
                    .add_event(semconv::event::INPUT_FILE, input_event(p, &shown, &meta));
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

/// The attributes of one `servicetask.input_file` event.
fn input_event(p: &TrackedPath, shown: &str, meta: &std::io::Result<std::fs::Metadata>) -> Vec<KeyValue> {
    let mut attrs = vec![
        KeyValue::new(semconv::FILE_PATH, shown.to_string()),
        KeyValue::new(semconv::SERVICETASK_INPUT_FIELD, p.field),
        KeyValue::new(semconv::SERVICETASK_FILE_EXISTS, meta.is_ok()),
    ];
    match meta {
        Ok(m) => {
            if m.is_file() {
                attrs.push(KeyValue::new(semconv::FILE_SIZE, m.len() as i64));
            }
            if let Ok(t) = m.modified() {
                attrs.push(KeyValue::new(semconv::FILE_MODIFIED, rfc3339(t)));
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
            let class = file_error(copy, shown, "stat").class();
            attrs.push(KeyValue::new(semconv::ERROR_TYPE, class.as_str()));
        }
    }
    attrs
}

/// A time as RFC 3339 in UTC to the second (`1969-07-20T20:17:40Z`), for any time a file
/// system can hold: before 1970 too, and past year 9999 as `+YYYYY-...`.
fn rfc3339(t: std::time::SystemTime) -> String {
    let secs: i128 = match t.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => i128::from(d.as_secs()),
        // Round toward minus infinity: 0.5 s before the epoch is 23:59:59 of the day before.
        Err(e) => {
            let d = e.duration();
            -i128::from(d.as_secs()) - i128::from(d.subsec_nanos() > 0)
        }
    };
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i128::from(month <= 2);
    let y = if (0..=9999).contains(&year) {
        format!("{year:04}")
    } else {
        format!("{year:+05}")
    };
    format!(
        "{y}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::rfc3339;

    #[test]
    fn formats_times_before_the_epoch_and_far_in_the_future() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "2000-02-29T00:00:00Z"
        );
        assert_eq!(
            rfc3339(UNIX_EPOCH - Duration::from_secs(14_182_940)),
            "1969-07-20T20:17:40Z"
        );
        assert_eq!(rfc3339(UNIX_EPOCH - Duration::from_millis(500)), "1969-12-31T23:59:59Z");
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(253_402_300_800)),
            "+10000-01-01T00:00:00Z"
        );
    }
}
