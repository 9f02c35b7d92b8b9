//! `ledger_append`: the example of an idempotency key. It appends one line, the execution's
//! `cx.idempotency_key()`, to a ledger file. Under `servicetask serve` a task runs at least
//! once (again after a crash that lost its completion) and the key is the same on every run,
//! so a reader of the ledger counts each key once; the crash test of the durable service
//! checks exactly that.

use std::io::Write as _;
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use servicetask::{service_task, TaskContext, TaskError, TaskInput};

/// Input of `ledger_append`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema, TaskInput)]
pub struct LedgerAppend {
    /// The ledger file (created when missing).
    pub ledger: PathBuf,
    /// Milliseconds to work before appending (a slow task, for tests of leases).
    #[serde(default)]
    pub delay_ms: u64,
}

/// Output of `ledger_append`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
pub struct LedgerEntry {
    /// The key appended.
    pub key: String,
}

/// Appends `<idempotency key>\n` to the ledger (one `write` of one line on a file opened for
/// appending, so concurrent appends never interleave). Without a key (a direct run, the
/// in-process engine) the key is the process instance and element.
#[service_task(
    name = "ledger_append",
    description = "Append this execution's idempotency key to a ledger file"
)]
pub async fn ledger_append(cx: &TaskContext, input: LedgerAppend) -> Result<LedgerEntry, TaskError> {
    let key = match cx.idempotency_key() {
        Some(k) => k.to_string(),
        None => format!(
            "{}:{}",
            cx.process().instance_id.as_deref().unwrap_or("-"),
            cx.process().element_id.as_deref().unwrap_or("-")
        ),
    };
    if input.delay_ms > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(input.delay_ms)).await;
    }
    let line = format!("{key}\n");
    let path = input.ledger.clone();
    tokio::task::spawn_blocking(move || {
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&path)?;
        f.write_all(line.as_bytes())?;
        f.sync_data()
    })
    .await
    .map_err(|e| TaskError::internal(format!("the ledger write stopped: {e}")))?
    .map_err(|e| TaskError::from(e).with_file(input.ledger.display().to_string()))?;
    Ok(LedgerEntry { key })
}
