//! `servicetask report`: the execution history as tables with sparklines, and as an HTML page.
//!
//! The history is a file (`--db`), or a history in PostgreSQL that every node of a fleet writes
//! (`--database postgres://...`). It is streamed a chunk at a time into a `ReportBuilder`
//! (bounded memory, however many records: BENCHMARKS.md), then rendered by
//! `servicetask-report`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context as _};
use servicetask_analytics::report::{ReportBuilder, ReportOptions};
use servicetask_history::{is_postgres_url, open_database, HistoryStore, RecordQuery, SqliteStore};
use servicetask_report::{render_html, render_terminal};
use servicetask_server::redact_database_url;

use super::exit;
use crate::flags::ReportArgs;

/// Parses `--since`: an RFC 3339 time or an age like `30m`.
pub fn parse_since(text: &str, now: SystemTime) -> anyhow::Result<i64> {
    let t = match humantime::parse_duration(text) {
        Ok(age) => now.checked_sub(age).unwrap_or(UNIX_EPOCH),
        Err(_) => humantime::parse_rfc3339_weak(text).with_context(|| {
            format!("--since {text}: use an RFC 3339 time (2026-11-27T14:02:00Z) or an age (30m, 2h, 7d)")
        })?,
    };
    Ok(t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO).as_nanos() as i64)
}

/// The history `run` writes by default (see [`crate::session::history_path`]), else the demo's.
fn default_db() -> PathBuf {
    let here = crate::session::history_path(None);
    let demo = super::demo::default_dir().join("history.db");
    if !here.exists() && demo.exists() {
        demo
    } else {
        here
    }
}

/// Records read from the history at a time.
const READ_CHUNK: usize = 10_000;

/// The history the flags name, and how to call it in messages.
fn open(args: &ReportArgs) -> anyhow::Result<(Arc<dyn HistoryStore>, String)> {
    if let Some(url) = &args.database {
        // shown as `serve` shows its --database: one redaction for both
        let name = redact_database_url(url);
        if !is_postgres_url(url) {
            bail!("--database {name}: give a postgres:// URL (a history file is --db FILE.db)");
        }
        let store = open_database(url).context("opening the PostgreSQL history")?;
        return Ok((store, name));
    }
    let db = args.db.clone().unwrap_or_else(default_db);
    if !db.exists() {
        bail!(
            "no history at {}; run `servicetask demo` or `servicetask run FILE.bpmn` first, or pass --db (or set SERVICETASK_HISTORY)",
            db.display()
        );
    }
    let store = SqliteStore::open(&db).with_context(|| format!("opening {}", db.display()))?;
    Ok((Arc::new(store), db.display().to_string()))
}

/// Runs the command.
pub fn run(args: &ReportArgs) -> anyhow::Result<i32> {
    let (store, name) = open(args)?;
    let since = args
        .since
        .as_deref()
        .map(|s| parse_since(s, SystemTime::now()))
        .transpose()?;
    let query = RecordQuery {
        task: args.task.clone(),
        since_unix_ns: since,
        ..RecordQuery::default()
    };
    let options = ReportOptions {
        task: args.task.clone(),
        since_unix_ns: since,
        title: format!("servicetask report: {name}"),
        ..ReportOptions::default()
    };
    let mut builder = ReportBuilder::new(options);
    let read = store.for_each_record(&query, READ_CHUNK, &mut |r| builder.push(&r.record))?;
    if read == 0 {
        println!("no executions in {name} match");
        return Ok(exit::OK);
    }
    let data = builder.finish();
    print!("{}", render_terminal(&data));
    if let Some(path) = &args.html {
        std::fs::write(path, render_html(&data)).with_context(|| format!("writing {}", path.display()))?;
        println!("HTML report: {}", path.display());
    }
    Ok(exit::OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_accepts_ages_and_times() {
        let now = UNIX_EPOCH + Duration::from_secs(10_000);
        assert_eq!(parse_since("100s", now).unwrap(), 9_900 * 1_000_000_000);
        assert_eq!(parse_since("1970-01-01T00:00:10Z", now).unwrap(), 10 * 1_000_000_000);
        assert!(parse_since("yesterday-ish", now).is_err());
    }

    #[test]
    fn a_database_url_is_shown_as_serve_shows_it() {
        // report and serve name a --database through the server's one redaction: the same
        // text for the same URL, with no secret in it
        let url = "mysql://app:pw1@db.example:5432/fleet?sslmode=require&password=pw2#pw3";
        let args = ReportArgs {
            db: None,
            database: Some(url.into()),
            task: None,
            since: None,
            html: None,
        };
        let err = open(&args).err().expect("not a postgres:// URL").to_string();
        assert_eq!(
            err,
            format!(
                "--database {}: give a postgres:// URL (a history file is --db FILE.db)",
                redact_database_url(url)
            )
        );
        assert!(
            err.contains("mysql://app:***@db.example:5432/fleet?sslmode=require&password=***"),
            "{err}"
        );
        for secret in ["pw1", "pw2", "pw3"] {
            assert!(!err.contains(secret), "{err}");
        }
    }
}
