//! `batch_import`: the example of `cx.batch` under a durable job host. It processes rows
//! `0..items` as one batch named `rows` (concurrency 16 by default), with a durable SQLite
//! checkpoint, so an execution run again with the same idempotency key (`servicetask serve`
//! reruns a job whose process was killed) skips the rows already acknowledged. Each row it
//! really processes is appended as `row-N` to the `processed` file, when given: what the tests
//! of the durable service count to show which rows ran, and how often.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use servicetask::{service_task, ErrorClass, TaskContext, TaskError, TaskInput};
use servicetask_history::SqliteCheckpoint;

/// Input of `batch_import`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema, TaskInput)]
pub struct BatchImport {
    /// How many rows (`0..items`).
    pub items: u64,
    /// The SQLite file of the batch's checkpoint (created when missing).
    pub checkpoint: PathBuf,
    /// A file every processed row is appended to, one `row-N` line per run of the row.
    #[serde(default)]
    pub processed: Option<PathBuf>,
    /// Microseconds each row works (a sleep; the timer's granularity is a millisecond).
    #[serde(default)]
    pub item_micros: u64,
    /// Rows in flight at once (default 16).
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
}

fn default_concurrency() -> usize {
    16
}

/// Output of `batch_import`: the batch's counts.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
pub struct BatchImported {
    /// Rows done, those skipped included.
    pub done: u64,
    /// Rows that failed.
    pub failed: u64,
    /// Rows skipped because the checkpoint had them from an earlier run.
    pub skipped: u64,
    /// Rows this run processed.
    pub ran: u64,
}

/// One open store per checkpoint file for the whole process (a file opened twice would be
/// two connections writing one WAL for no gain).
fn checkpoint_store(path: &Path) -> Result<Arc<SqliteCheckpoint>, TaskError> {
    static OPEN: Mutex<Option<HashMap<PathBuf, Arc<SqliteCheckpoint>>>> = Mutex::new(None);
    let mut open = OPEN.lock().unwrap_or_else(|p| p.into_inner());
    let open = open.get_or_insert_with(HashMap::new);
    if let Some(store) = open.get(path) {
        return Ok(store.clone());
    }
    let store = SqliteCheckpoint::open(path)
        .map(Arc::new)
        .map_err(|e| TaskError::new(ErrorClass::Io, format!("opening the batch checkpoint: {e}")))?;
    open.insert(path.to_path_buf(), store.clone());
    Ok(store)
}

/// Processes the rows as one resumable batch; fails when a row fails (fail fast).
#[service_task(
    name = "batch_import",
    description = "Import rows as one resumable batch with progress and a durable checkpoint"
)]
pub async fn batch_import(cx: &TaskContext, input: BatchImport) -> Result<BatchImported, TaskError> {
    let store = checkpoint_store(&input.checkpoint)?;
    let processed = match &input.processed {
        // opened for appending: each row's line is one write, so lines never interleave, and
        // a line written is in the file even if the process is killed right after
        Some(path) => Some(Arc::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| TaskError::from(e).with_file(path.display().to_string()))?,
        )),
        None => None,
    };
    let pause = Duration::from_micros(input.item_micros);
    let summary = cx
        .batch(0..input.items)
        .name("rows")
        .concurrency(input.concurrency)
        .key(|row| format!("row-{row}"))
        .checkpoint(store)
        .run(|row| {
            let processed = processed.clone();
            async move {
                if !pause.is_zero() {
                    tokio::time::sleep(pause).await;
                }
                if let Some(file) = &processed {
                    (&**file).write_all(format!("row-{row}\n").as_bytes())?;
                }
                Ok::<_, TaskError>(())
            }
        })
        .await?;
    let p = summary.progress;
    Ok(BatchImported {
        done: p.done,
        failed: p.failed,
        skipped: p.skipped,
        ran: summary.durations.count,
    })
}
