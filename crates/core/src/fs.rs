//! Tracked file operations: `cx.fs()` mirrors the common `tokio::fs` calls and records each
//! one (path, bytes, duration, outcome) as a span event with `file.*` attributes on the
//! innermost active span of the execution (a step's span inside `cx.step`, else the execution
//! span; at most `max_file_events` per execution, the rest counted), in the execution's
//! per-file totals and in the file I/O counter.
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
//!
//! # What is recorded
//!
//! | operation | kind in the per-file totals | bytes |
//! |---|---|---|
//! | `read`, `read_to_string` | read | bytes actually read (`file.size` on the event: the size when opened) |
//! | `write`, `append` | write | bytes written |
//! | `copy` | read of the source and write of the target | bytes copied |
//! | `rename`, `remove`, `remove_dir_all`, `create_dir_all`, `metadata`, `read_dir` | meta | 0 |
//! | `open`, `create`, `open_with` ([`TrackedFile`]) | read and/or write, recorded when the file is dropped | bytes that went through the handle |
//!
//! A file that changes size while it is read is recorded faithfully: the event carries the size
//! seen at open (`file.size`) and the bytes really read (`servicetask.file.bytes`). Paths that are
//! not UTF-8 are recorded with each invalid byte escaped as `\xNN`, never replaced.
//!
//! # Where the work runs
//!
//! Whole-file operations run on tokio's blocking pool inside the execution's tracking bracket
//! (see [`set_blocking_hook`]): their CPU time, block I/O and allocations count for the
//! execution. The streaming [`TrackedFile`] counts its bytes exactly, but its reads and writes
//! run inside tokio's own blocking pool, outside that bracket.
//!
//! Nothing here follows a path it was not given: no operation walks directories except
//! `read_dir` (one level, not recursive) and `remove_dir_all` (which does not follow symlinks).

use std::borrow::Cow;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::OnceLock;
use std::task::{Context as PollContext, Poll};
use std::time::{Duration, Instant};

use opentelemetry::trace::TraceContextExt as _;
use opentelemetry::KeyValue;
use tokio::io::{AsyncRead, AsyncSeek, AsyncWrite, ReadBuf};

use crate::context::TaskContext;
use crate::error::{ErrorClass, TaskError};
use crate::record::FileAccessKind;
use crate::semconv;

/// Runs blocking work (the closure) on behalf of an execution. Installed once per process by
/// the tracking layer with [`set_blocking_hook`]; it must call the closure exactly once.
pub type BlockingHook = fn(&TaskContext, &mut dyn FnMut());

static BLOCKING_HOOK: OnceLock<BlockingHook> = OnceLock::new();

/// Installs the hook that brackets blocking file work done for an execution (the first call
/// wins; later calls are ignored). Without a hook the work simply runs.
pub fn set_blocking_hook(hook: BlockingHook) {
    let _ = BLOCKING_HOOK.set(hook);
}

/// Runs `f` on tokio's blocking pool, inside the execution's bracket when a hook is installed.
async fn run_blocking<T, F>(cx: &TaskContext, f: F) -> std::io::Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> std::io::Result<T> + Send + 'static,
{
    let cx = cx.clone();
    let joined = tokio::task::spawn_blocking(move || match BLOCKING_HOOK.get() {
        Some(hook) => {
            let mut f = Some(f);
            let mut out = None;
            hook(&cx, &mut || {
                if let Some(f) = f.take() {
                    out = Some(f());
                }
            });
            match (out, f) {
                (Some(out), _) => out,
                // A hook that did not call the closure: run it here rather than lose the work.
                (None, Some(f)) => f(),
                (None, None) => Err(std::io::Error::other("tracked file operation did not complete")),
            }
        }
        None => f(),
    })
    .await;
    joined.unwrap_or_else(|e| Err(std::io::Error::other(format!("tracked file operation panicked: {e}"))))
}

/// A path as recorded in telemetry: UTF-8 as is, each byte that is not UTF-8 escaped as `\xNN`.
pub fn display_path(path: &Path) -> Cow<'_, str> {
    if let Some(s) = path.to_str() {
        return Cow::Borrowed(s);
    }
    #[cfg(unix)]
    {
        use std::fmt::Write as _;
        use std::os::unix::ffi::OsStrExt as _;
        let mut out = String::new();
        for chunk in path.as_os_str().as_bytes().utf8_chunks() {
            out.push_str(chunk.valid());
            for b in chunk.invalid() {
                let _ = write!(out, "\\x{b:02X}");
            }
        }
        Cow::Owned(out)
    }
    #[cfg(not(unix))]
    {
        path.to_string_lossy()
    }
}

/// How a sensitive path is shown: the field it came from, never the path.
pub fn redacted_path(field: &str) -> String {
    format!("[redacted:{field}]")
}

/// File operations recorded against the current execution.
#[derive(Debug, Clone, Copy)]
pub struct TrackedFs<'a> {
    cx: &'a TaskContext,
}

/// What one finished operation moved.
struct Moved {
    kind: FileAccessKind,
    bytes: u64,
    file_size: Option<u64>,
}

impl Moved {
    const META: Moved = Moved {
        kind: FileAccessKind::Meta,
        bytes: 0,
        file_size: None,
    };
}

impl<'a> TrackedFs<'a> {
    pub(crate) fn new(cx: &'a TaskContext) -> Self {
        TrackedFs { cx }
    }

    /// Reads a whole file. The bytes recorded are the bytes read, even when the file changes
    /// size while it is read.
    pub async fn read(&self, path: impl AsRef<Path>) -> Result<Vec<u8>, TaskError> {
        let path = path.as_ref();
        let start = Instant::now();
        let owned = path.to_path_buf();
        let r = run_blocking(self.cx, move || read_counted(&owned)).await;
        let moved = match &r {
            Ok((data, size)) => Moved {
                kind: FileAccessKind::Read,
                bytes: data.len() as u64,
                file_size: *size,
            },
            Err(_) => Moved {
                kind: FileAccessKind::Read,
                bytes: 0,
                file_size: None,
            },
        };
        self.finish(path, "read", moved, start, r.map(|(data, _)| data))
    }

    /// Reads a whole file as UTF-8; content that is not UTF-8 is a `validation` error.
    pub async fn read_to_string(&self, path: impl AsRef<Path>) -> Result<String, TaskError> {
        let path = path.as_ref();
        let start = Instant::now();
        let owned = path.to_path_buf();
        let r = run_blocking(self.cx, move || read_counted(&owned)).await;
        let moved = Moved {
            kind: FileAccessKind::Read,
            bytes: r.as_ref().map(|(d, _)| d.len() as u64).unwrap_or(0),
            file_size: r.as_ref().ok().and_then(|(_, s)| *s),
        };
        let r = r.and_then(|(data, _)| {
            String::from_utf8(data).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
        });
        self.finish(path, "read", moved, start, r)
    }

    /// Writes a whole file, creating it or replacing its contents.
    pub async fn write(&self, path: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> Result<(), TaskError> {
        self.write_mode(path.as_ref(), contents.as_ref(), false).await
    }

    /// Appends to a file, creating it when it does not exist.
    pub async fn append(&self, path: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> Result<(), TaskError> {
        self.write_mode(path.as_ref(), contents.as_ref(), true).await
    }

    async fn write_mode(&self, path: &Path, contents: &[u8], append: bool) -> Result<(), TaskError> {
        let start = Instant::now();
        let owned = path.to_path_buf();
        let data = contents.to_vec();
        let len = data.len() as u64;
        let r = run_blocking(self.cx, move || {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .append(append)
                .truncate(!append)
                .open(&owned)?;
            f.write_all(&data)?;
            f.metadata().map(|m| m.len())
        })
        .await;
        let moved = Moved {
            kind: FileAccessKind::Write,
            bytes: if r.is_ok() { len } else { 0 },
            file_size: r.as_ref().ok().copied(),
        };
        let op = if append { "append" } else { "write" };
        self.finish(path, op, moved, start, r.map(|_| ()))
    }

    /// Copies a file; records a read of `from` and a write of `to`. Returns the bytes copied.
    pub async fn copy(&self, from: impl AsRef<Path>, to: impl AsRef<Path>) -> Result<u64, TaskError> {
        let (from, to) = (from.as_ref(), to.as_ref());
        let start = Instant::now();
        let (f, t) = (from.to_path_buf(), to.to_path_buf());
        let r = run_blocking(self.cx, move || std::fs::copy(f, t)).await;
        let bytes = r.as_ref().copied().unwrap_or(0);
        let elapsed = start.elapsed();
        if self.cx.tracking().files {
            let err = r.as_ref().err();
            record(
                self.cx,
                &self.cx.shown_path(from),
                "copy",
                FileAccessKind::Read,
                bytes,
                None,
                elapsed,
                err,
            );
            record(
                self.cx,
                &self.cx.shown_path(to),
                "copy",
                FileAccessKind::Write,
                bytes,
                Some(bytes),
                elapsed,
                err,
            );
        }
        r.map_err(|e| two_path_error(self.cx, e, from, to, "copy"))
    }

    /// Renames (moves) a file or directory; records a metadata operation on both paths.
    pub async fn rename(&self, from: impl AsRef<Path>, to: impl AsRef<Path>) -> Result<(), TaskError> {
        let (from, to) = (from.as_ref(), to.as_ref());
        let start = Instant::now();
        let (f, t) = (from.to_path_buf(), to.to_path_buf());
        let r = run_blocking(self.cx, move || std::fs::rename(f, t)).await;
        let elapsed = start.elapsed();
        if self.cx.tracking().files {
            let err = r.as_ref().err();
            record(
                self.cx,
                &self.cx.shown_path(from),
                "rename",
                FileAccessKind::Meta,
                0,
                None,
                elapsed,
                err,
            );
            record(
                self.cx,
                &self.cx.shown_path(to),
                "rename",
                FileAccessKind::Meta,
                0,
                None,
                elapsed,
                err,
            );
        }
        r.map_err(|e| two_path_error(self.cx, e, from, to, "rename"))
    }

    /// Removes a file (not a directory: use [`TrackedFs::remove_dir_all`]).
    pub async fn remove(&self, path: impl AsRef<Path>) -> Result<(), TaskError> {
        let path = path.as_ref();
        let start = Instant::now();
        let owned = path.to_path_buf();
        let r = run_blocking(self.cx, move || std::fs::remove_file(owned)).await;
        self.finish(path, "remove", Moved::META, start, r)
    }

    /// Removes a directory and everything in it (symlinks inside are removed, not followed).
    pub async fn remove_dir_all(&self, path: impl AsRef<Path>) -> Result<(), TaskError> {
        let path = path.as_ref();
        let start = Instant::now();
        let owned = path.to_path_buf();
        let r = run_blocking(self.cx, move || std::fs::remove_dir_all(owned)).await;
        self.finish(path, "remove_dir_all", Moved::META, start, r)
    }

    /// Creates a directory and its parents.
    pub async fn create_dir_all(&self, path: impl AsRef<Path>) -> Result<(), TaskError> {
        let path = path.as_ref();
        let start = Instant::now();
        let owned = path.to_path_buf();
        let r = run_blocking(self.cx, move || std::fs::create_dir_all(owned)).await;
        self.finish(path, "create_dir_all", Moved::META, start, r)
    }

    /// Reads a file's metadata (following a symlink at `path`).
    pub async fn metadata(&self, path: impl AsRef<Path>) -> Result<std::fs::Metadata, TaskError> {
        let path = path.as_ref();
        let start = Instant::now();
        let owned = path.to_path_buf();
        let r = run_blocking(self.cx, move || std::fs::metadata(owned)).await;
        let moved = Moved {
            file_size: r.as_ref().ok().filter(|m| m.is_file()).map(|m| m.len()),
            ..Moved::META
        };
        self.finish(path, "metadata", moved, start, r)
    }

    /// Lists a directory (one level, sorted by path). Entries are not followed or stat-ed.
    pub async fn read_dir(&self, path: impl AsRef<Path>) -> Result<Vec<PathBuf>, TaskError> {
        let path = path.as_ref();
        let start = Instant::now();
        let owned = path.to_path_buf();
        let r = run_blocking(self.cx, move || {
            let mut out = Vec::new();
            for entry in std::fs::read_dir(owned)? {
                out.push(entry?.path());
            }
            out.sort();
            Ok(out)
        })
        .await;
        self.finish(path, "read_dir", Moved::META, start, r)
    }

    /// Opens a file for reading, as a streaming [`TrackedFile`] that counts the bytes read.
    pub async fn open(&self, path: impl AsRef<Path>) -> Result<TrackedFile, TaskError> {
        let mut o = tokio::fs::OpenOptions::new();
        o.read(true);
        self.open_with(path, &o).await
    }

    /// Creates (or truncates) a file for writing, as a streaming [`TrackedFile`].
    pub async fn create(&self, path: impl AsRef<Path>) -> Result<TrackedFile, TaskError> {
        let mut o = tokio::fs::OpenOptions::new();
        o.write(true).create(true).truncate(true);
        self.open_with(path, &o).await
    }

    /// Opens a file with the given options, as a streaming [`TrackedFile`].
    pub async fn open_with(
        &self,
        path: impl AsRef<Path>,
        options: &tokio::fs::OpenOptions,
    ) -> Result<TrackedFile, TaskError> {
        let path = path.as_ref();
        let start = Instant::now();
        match options.open(path).await {
            Ok(file) => Ok(TrackedFile {
                file,
                cx: self.cx.clone(),
                path: self.cx.shown_path(path).into_owned(),
                opened: start,
                read: 0,
                written: 0,
            }),
            Err(e) => {
                let shown = self.cx.shown_path(path);
                if self.cx.tracking().files {
                    record(
                        self.cx,
                        &shown,
                        "open",
                        FileAccessKind::Meta,
                        0,
                        None,
                        start.elapsed(),
                        Some(&e),
                    );
                }
                Err(file_error(e, &shown, "open"))
            }
        }
    }

    /// Records one finished operation and converts its error.
    fn finish<T>(
        &self,
        path: &Path,
        op: &'static str,
        moved: Moved,
        start: Instant,
        result: std::io::Result<T>,
    ) -> Result<T, TaskError> {
        let elapsed = start.elapsed();
        let shown = self.cx.shown_path(path);
        if self.cx.tracking().files {
            let err = result.as_ref().err();
            record(
                self.cx,
                &shown,
                op,
                moved.kind,
                moved.bytes,
                moved.file_size,
                elapsed,
                err,
            );
        }
        result.map_err(|e| file_error(e, &shown, op))
    }
}

/// Reads a whole file on the calling thread; returns the data and the size seen at open.
fn read_counted(path: &Path) -> std::io::Result<(Vec<u8>, Option<u64>)> {
    let mut f = std::fs::File::open(path)?;
    let size = f.metadata().ok().map(|m| m.len());
    // Capacity from the size at open (capped: the file may shrink, or lie, as /proc files do).
    let cap = size.unwrap_or(0).min(1 << 30) as usize;
    let mut data = Vec::with_capacity(cap);
    f.read_to_end(&mut data)?;
    Ok((data, size))
}

/// A file opened through `cx.fs()`: an `AsyncRead + AsyncWrite + AsyncSeek` that counts the
/// bytes going through it and records them (one event per direction used) when dropped.
#[derive(Debug)]
pub struct TrackedFile {
    file: tokio::fs::File,
    cx: TaskContext,
    path: String,
    opened: Instant,
    read: u64,
    written: u64,
}

impl TrackedFile {
    /// Bytes read through this handle so far.
    pub fn bytes_read(&self) -> u64 {
        self.read
    }

    /// Bytes written through this handle so far.
    pub fn bytes_written(&self) -> u64 {
        self.written
    }

    /// The underlying tokio file (bytes moved through it directly are not counted).
    pub fn get_ref(&self) -> &tokio::fs::File {
        &self.file
    }
}

impl Drop for TrackedFile {
    fn drop(&mut self) {
        if !self.cx.tracking().files {
            return;
        }
        let elapsed = self.opened.elapsed();
        if self.written > 0 {
            record(
                &self.cx,
                &self.path,
                "write_stream",
                FileAccessKind::Write,
                self.written,
                None,
                elapsed,
                None,
            );
        }
        if self.read > 0 || self.written == 0 {
            record(
                &self.cx,
                &self.path,
                "read_stream",
                FileAccessKind::Read,
                self.read,
                None,
                elapsed,
                None,
            );
        }
    }
}

impl AsyncRead for TrackedFile {
    fn poll_read(self: Pin<&mut Self>, cx: &mut PollContext<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let r = Pin::new(&mut this.file).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = r {
            this.read += (buf.filled().len() - before) as u64;
        }
        r
    }
}

impl AsyncWrite for TrackedFile {
    fn poll_write(self: Pin<&mut Self>, cx: &mut PollContext<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.file).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = r {
            this.written += n as u64;
        }
        r
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut PollContext<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().file).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut PollContext<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().file).poll_shutdown(cx)
    }
}

impl AsyncSeek for TrackedFile {
    fn start_seek(self: Pin<&mut Self>, position: std::io::SeekFrom) -> std::io::Result<()> {
        Pin::new(&mut self.get_mut().file).start_seek(position)
    }

    fn poll_complete(self: Pin<&mut Self>, cx: &mut PollContext<'_>) -> Poll<std::io::Result<u64>> {
        Pin::new(&mut self.get_mut().file).poll_complete(cx)
    }
}

/// Records a file operation on the span (capped), the totals and the counters. Never fails.
#[allow(clippy::too_many_arguments)]
pub(crate) fn record(
    cx: &TaskContext,
    path: &str,
    op: &'static str,
    kind: FileAccessKind,
    bytes: u64,
    file_size: Option<u64>,
    elapsed: Duration,
    error: Option<&std::io::Error>,
) {
    let stats = cx.stats();
    stats.add_file(path, kind, bytes, file_size);
    let cap = cx.tracking().max_file_events;
    let admitted = stats
        .file_events
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| (n < cap).then_some(n + 1))
        .is_ok();
    // The innermost active span of this execution: a step's span inside `cx.step`, else the
    // execution span.
    let parent = if admitted { Some(cx.current_parent()) } else { None };
    if let Some(span) = parent.as_ref().map(|p| p.span()).filter(|s| s.is_recording()) {
        let mut attrs = vec![
            KeyValue::new(semconv::FILE_PATH, path.to_string()),
            KeyValue::new(semconv::SERVICETASK_FILE_OPERATION, op),
            KeyValue::new(semconv::SERVICETASK_FILE_BYTES, bytes as i64),
            KeyValue::new(semconv::SERVICETASK_FILE_DURATION_US, elapsed.as_micros() as i64),
        ];
        if let Some(size) = file_size {
            attrs.push(KeyValue::new(semconv::FILE_SIZE, size as i64));
        }
        if let Some(e) = error {
            attrs.push(KeyValue::new(semconv::ERROR_TYPE, classify(e).0.as_str()));
        }
        span.add_event(semconv::event::FILE, attrs);
    } else if !admitted {
        stats.file_events_dropped.fetch_add(1, Ordering::Relaxed);
    }
    if bytes > 0 && kind != FileAccessKind::Meta {
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

/// What went wrong with a path, beyond `std::io::ErrorKind`'s stable kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Problem {
    IsDirectory,
    NotDirectory,
    SymlinkLoop,
    InvalidUtf8,
    Other,
}

/// `ELOOP` ("too many levels of symbolic links") for the platforms we know.
#[cfg(any(target_os = "linux", target_os = "android"))]
const ELOOP: Option<i32> = Some(40);
#[cfg(any(target_os = "macos", target_os = "ios", target_os = "freebsd"))]
const ELOOP: Option<i32> = Some(62);
#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_os = "macos",
    target_os = "ios",
    target_os = "freebsd"
)))]
const ELOOP: Option<i32> = None;

/// The class of an I/O error on a path and the finer problem behind it.
fn classify(e: &std::io::Error) -> (ErrorClass, Problem) {
    use std::io::ErrorKind as K;
    let problem = match e.kind() {
        K::IsADirectory => Problem::IsDirectory,
        K::NotADirectory => Problem::NotDirectory,
        K::InvalidData => Problem::InvalidUtf8,
        _ if ELOOP.is_some() && e.raw_os_error() == ELOOP => Problem::SymlinkLoop,
        _ => Problem::Other,
    };
    let class = match problem {
        // The path names the wrong kind of thing: retrying cannot help; the input must change.
        Problem::IsDirectory | Problem::NotDirectory | Problem::SymlinkLoop => ErrorClass::Validation,
        Problem::InvalidUtf8 | Problem::Other => TaskError::from(std::io::Error::from(e.kind())).class(),
    };
    (class, problem)
}

/// Converts an I/O error on `path` into a classified error that names the path and says how
/// to fix it.
///
/// | cause | class |
/// |---|---|
/// | `ENOENT` | `not_found` |
/// | `EACCES`, `EPERM` | `permission_denied` |
/// | a directory where a file is expected (`EISDIR`), a file used as a directory (`ENOTDIR`), a symlink loop (`ELOOP`) | `validation` |
/// | content that is not UTF-8 (`read_to_string`) | `validation` |
/// | anything else | as `TaskError::from(io::Error)` (mostly `io`, retried) |
pub fn file_error(e: std::io::Error, path: &str, op: &str) -> TaskError {
    let (class, problem) = classify(&e);
    let suggestion = match (class, problem) {
        (_, Problem::IsDirectory) => {
            format!("'{path}' is a directory but a file was expected; pass the path of a file")
        }
        (_, Problem::NotDirectory) => {
            format!("a component of '{path}' is a file, not a directory; check the path")
        }
        (_, Problem::SymlinkLoop) => {
            format!("'{path}' goes through a symbolic link loop; fix the link so it points to a real file")
        }
        (_, Problem::InvalidUtf8) => {
            format!("'{path}' is not valid UTF-8 text; read it as bytes with cx.fs().read")
        }
        (ErrorClass::NotFound, _) => format!("create '{path}' or pass the right path; nothing exists there"),
        (ErrorClass::PermissionDenied, _) => {
            format!("give the worker's user access to '{path}' (check its mode, owner and attributes)")
        }
        _ => format!("{} (path '{path}')", class.default_suggestion()),
    };
    let msg = format!("{op} '{path}': {e}");
    TaskError::new(class, msg)
        .with_suggestion(suggestion)
        .with_file(path)
        .with_source(e)
}

/// An error of a two-path operation (copy, rename): names both paths.
fn two_path_error(cx: &TaskContext, e: std::io::Error, from: &Path, to: &Path, op: &str) -> TaskError {
    // A missing path is the target's (its directory) when the source is there.
    let blame_target = e.kind() == std::io::ErrorKind::NotFound && std::fs::symlink_metadata(from).is_ok();
    let (from, to) = (cx.shown_path(from), cx.shown_path(to));
    if blame_target {
        file_error(e, &to, &format!("{op} '{from}' to"))
            .with_suggestion(format!(
                "the directory of '{to}' does not exist; create it first (cx.fs().create_dir_all)"
            ))
            .with_file(from.into_owned())
    } else {
        file_error(e, &from, &format!("{op} to '{to}' from")).with_file(to.into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eacces_and_eperm_map_to_permission_denied_naming_the_path() {
        for errno in [13, 1] {
            let e = file_error(std::io::Error::from_raw_os_error(errno), "/data/in.csv", "read");
            assert_eq!(e.class(), ErrorClass::PermissionDenied, "errno {errno}");
            assert!(e.suggestion().unwrap().contains("/data/in.csv"));
            assert_eq!(e.context().files, vec!["/data/in.csv".to_string()]);
        }
    }

    #[test]
    fn wrong_kind_of_path_is_a_validation_error() {
        let e = file_error(std::io::Error::from(std::io::ErrorKind::IsADirectory), "/tmp", "read");
        assert_eq!(e.class(), ErrorClass::Validation);
        assert!(e.suggestion().unwrap().contains("is a directory"));
        #[cfg(target_os = "linux")]
        {
            let e = file_error(std::io::Error::from_raw_os_error(40), "/l", "read");
            assert_eq!(e.class(), ErrorClass::Validation);
            assert!(e.suggestion().unwrap().contains("symbolic link loop"));
        }
    }

    #[cfg(unix)]
    #[test]
    fn non_utf8_paths_are_escaped_not_replaced() {
        use std::os::unix::ffi::OsStrExt as _;
        let p = Path::new(std::ffi::OsStr::from_bytes(b"/tmp/caf\xE9.txt"));
        assert_eq!(display_path(p), "/tmp/caf\\xE9.txt");
        assert_eq!(display_path(Path::new("/tmp/café")), "/tmp/café");
    }
}
