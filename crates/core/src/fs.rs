//! Tracked file operations: `cx.fs()` mirrors the common `tokio::fs` calls and records each
//! one (path, bytes, duration, outcome) as a span event with `file.*` attributes (capped per
//! span, the rest counted), in the execution's per-file totals and in the file I/O counter.
//!
//! Errors are classified `TaskError`s that name the path and say how to fix it.
//!
//! ```
//! use servicetask_core::TaskContext;
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let dir = std::env::temp_dir().join(format!("st-fs-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! let cx = TaskContext::detached("demo");
//! cx.fs().write(dir.join("a.txt"), b"hello").await.unwrap();
//! assert_eq!(cx.fs().read_to_string(dir.join("a.txt")).await.unwrap(), "hello");
//! assert_eq!(cx.stats().bytes_read.load(std::sync::atomic::Ordering::Relaxed), 5);
//! # std::fs::remove_dir_all(&dir).unwrap();
//! # });
//! ```

use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Instant;

use opentelemetry::KeyValue;

use crate::context::TaskContext;
use crate::error::{ErrorClass, TaskError};
use crate::record::FileAccessKind;
use crate::semconv;

/// File operations recorded against the current execution.
#[derive(Debug, Clone, Copy)]
pub struct TrackedFs<'a> {
    cx: &'a TaskContext,
}

impl<'a> TrackedFs<'a> {
    pub(crate) fn new(cx: &'a TaskContext) -> Self {
        TrackedFs { cx }
    }

    /// Reads a whole file.
    pub async fn read(&self, path: impl AsRef<Path>) -> Result<Vec<u8>, TaskError> {
        let path = path.as_ref();
        let start = Instant::now();
        let r = tokio::fs::read(path).await;
        let bytes = r.as_ref().map(|v| v.len() as u64).unwrap_or(0);
        self.finish(path, "read", FileAccessKind::Read, bytes, start, r)
    }

    /// Reads a whole file as UTF-8.
    pub async fn read_to_string(&self, path: impl AsRef<Path>) -> Result<String, TaskError> {
        let path = path.as_ref();
        let start = Instant::now();
        let r = tokio::fs::read_to_string(path).await;
        let bytes = r.as_ref().map(|v| v.len() as u64).unwrap_or(0);
        self.finish(path, "read", FileAccessKind::Read, bytes, start, r)
    }

    /// Writes a whole file, replacing it.
    pub async fn write(&self, path: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> Result<(), TaskError> {
        let path = path.as_ref();
        let contents = contents.as_ref();
        let start = Instant::now();
        let r = tokio::fs::write(path, contents).await;
        let bytes = if r.is_ok() { contents.len() as u64 } else { 0 };
        self.finish(path, "write", FileAccessKind::Write, bytes, start, r)
    }

    /// Creates a directory and its parents.
    pub async fn create_dir_all(&self, path: impl AsRef<Path>) -> Result<(), TaskError> {
        let path = path.as_ref();
        let start = Instant::now();
        let r = tokio::fs::create_dir_all(path).await;
        self.finish(path, "create_dir_all", FileAccessKind::Meta, 0, start, r)
    }

    /// Reads a file's metadata.
    pub async fn metadata(&self, path: impl AsRef<Path>) -> Result<std::fs::Metadata, TaskError> {
        let path = path.as_ref();
        let start = Instant::now();
        let r = tokio::fs::metadata(path).await;
        self.finish(path, "metadata", FileAccessKind::Meta, 0, start, r)
    }

    /// Records one finished operation and converts its error.
    fn finish<T>(
        &self,
        path: &Path,
        op: &'static str,
        kind: FileAccessKind,
        bytes: u64,
        start: Instant,
        result: std::io::Result<T>,
    ) -> Result<T, TaskError> {
        let elapsed = start.elapsed();
        let shown = path.to_string_lossy();
        if self.cx.tracking().files {
            record(self.cx, &shown, op, kind, bytes, elapsed, result.as_ref().err());
        }
        result.map_err(|e| file_error(e, &shown, op))
    }
}

/// Records a file operation on the span (capped), the totals and the counters.
pub(crate) fn record(
    cx: &TaskContext,
    path: &str,
    op: &'static str,
    kind: FileAccessKind,
    bytes: u64,
    elapsed: std::time::Duration,
    error: Option<&std::io::Error>,
) {
    let stats = cx.stats();
    stats.add_file(path, kind, bytes, None);
    let cap = cx.tracking().max_file_events;
    if stats.file_events.fetch_add(1, Ordering::Relaxed) < cap {
        let mut attrs = vec![
            KeyValue::new(semconv::FILE_PATH, path.to_string()),
            KeyValue::new(semconv::SERVICETASK_FILE_OPERATION, op),
            KeyValue::new(semconv::SERVICETASK_FILE_BYTES, bytes as i64),
            KeyValue::new(semconv::SERVICETASK_FILE_DURATION_US, elapsed.as_micros() as i64),
        ];
        if let Some(e) = error {
            attrs.push(KeyValue::new(
                semconv::ERROR_TYPE,
                TaskError::from(std::io::Error::from(e.kind())).class().as_str(),
            ));
        }
        cx.span().add_event(semconv::event::FILE, attrs);
    } else {
        stats.file_events_dropped.fetch_add(1, Ordering::Relaxed);
    }
    if bytes > 0 {
        let direction = if kind == FileAccessKind::Read { "read" } else { "write" };
        cx.telemetry().instruments().file_io.add(
            bytes,
            &[
                KeyValue::new(semconv::SERVICETASK_NAME, cx.task_name().to_string()),
                KeyValue::new(semconv::SERVICETASK_IO_DIRECTION, direction),
            ],
        );
    }
}

/// Converts an I/O error on `path` into a classified error that names the path.
pub fn file_error(e: std::io::Error, path: &str, op: &str) -> TaskError {
    let err = TaskError::from(e);
    let suggestion = match err.class() {
        ErrorClass::NotFound => format!("create '{path}' or pass the right path; nothing exists there"),
        ErrorClass::PermissionDenied => format!("give the worker's user access to '{path}' (check its mode and owner)"),
        _ => err.suggestion().unwrap_or_default().to_string(),
    };
    let msg = format!("{op} '{path}': {}", err.message());
    let class = err.class();
    let mut out = TaskError::new(class, msg).with_suggestion(suggestion).with_file(path);
    if let Some(src) = err.source_error() {
        out = out.with_source(IoSource(src.to_string()));
    }
    out
}

#[derive(Debug)]
struct IoSource(String);
impl std::fmt::Display for IoSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for IoSource {}
