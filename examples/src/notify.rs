//! `notify`: sends a message with credentials, the example of sensitive input. The token and
//! the credentials file's path are `#[task(sensitive)]`: they never appear in spans, errors,
//! the history, the state database or the CLI's output (the path shows as
//! `[redacted:credentials_file]`).

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use servicetask::{service_task, TaskContext, TaskError, TaskInput};

/// Input of `notify`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema, TaskInput)]
pub struct Notify {
    /// Directory holding the `outbox/`.
    pub output_dir: PathBuf,
    /// The message.
    #[task(non_empty)]
    pub message: String,
    /// The API token.
    #[task(sensitive)]
    pub api_token: String,
    /// A file whose first line is the account the token belongs to (inspected before the task
    /// runs; it must exist).
    #[task(path, required, sensitive)]
    pub credentials_file: PathBuf,
}

/// Output of `notify`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
pub struct Notified {
    /// The notification file written to the outbox.
    pub notification_file: String,
}

/// Writes `outbox/notification.json` (the message and the account, never the token) after
/// reading the account from the credentials file.
#[service_task(name = "notify", description = "Send a notification with credentials")]
pub async fn notify(cx: &TaskContext, input: Notify) -> Result<Notified, TaskError> {
    let credentials = cx.fs().read_to_string(&input.credentials_file).await?;
    let account = credentials.lines().next().unwrap_or("").trim().to_string();
    if input.api_token.trim().is_empty() {
        return Err(TaskError::validation("api_token: must not be empty"));
    }
    let outbox = input.output_dir.join("outbox");
    cx.fs().create_dir_all(&outbox).await?;
    let target = outbox.join("notification.json");
    let body = serde_json::json!({"account": account, "message": input.message});
    cx.fs().write(&target, body.to_string()).await?;
    Ok(Notified {
        notification_file: target.display().to_string(),
    })
}
