//! The runner's registered tasks as the connector's commands (`servicetask serve`, `serve
//! --connector`): each task's schema describes its command, a call runs it once through the
//! runner (telemetry, retries, timeouts) and its outcome is handed back as the connector's.

use std::sync::Arc;

use servicetask::{ProcessInfo, RunOptions, Runner, TaskOutcome};
use servicetask_server::connector::{CommandCall, CommandFuture, CommandOutcome, CommandSpec, Commands};

/// Every task registered on a runner.
#[derive(Debug, Clone)]
pub struct RunnerCommands(pub Runner);

impl Commands for RunnerCommands {
    fn describe(&self) -> Vec<CommandSpec> {
        self.0
            .task_names()
            .into_iter()
            .filter_map(|name| {
                let task = self.0.task(&name)?;
                let schema = task.schema();
                Some(CommandSpec {
                    description: task.config().description.clone(),
                    input_schema: schema.get("input").cloned().unwrap_or_default(),
                    sensitive: task.sensitive_fields().iter().map(|s| s.to_string()).collect(),
                    name,
                })
            })
            .collect()
    }

    fn call(&self, name: &str, call: CommandCall) -> Option<CommandFuture> {
        let task = self.0.task(name)?;
        let options = RunOptions {
            parent: None,
            traceparent: call.traceparent,
            process: ProcessInfo {
                process_id: call.process_id.map(Arc::from),
                instance_id: call.instance_id.map(Arc::from),
                element_id: call.element_id.map(Arc::from),
                element_type: Some(std::borrow::Cow::Borrowed("serviceTask")),
                idempotency_key: call.idempotency_key.map(Arc::from),
            },
            // the caller's task data are the task's process variables (`cx.variables()`)
            variables: call.task_data,
        };
        Some(Box::pin(async move {
            match task.run_json(call.params, options).await {
                TaskOutcome::Complete(output) => CommandOutcome::Complete(output),
                TaskOutcome::BpmnError {
                    code,
                    message,
                    variables,
                } => CommandOutcome::BpmnError {
                    code,
                    message,
                    variables,
                },
                TaskOutcome::Failure { error, .. } => CommandOutcome::Failed {
                    message: error.report(),
                    error_class: error.class().as_str().to_string(),
                    recovery_hint: error.suggestion().map(str::to_string),
                    retryable: error.class().is_retryable(),
                    retry_after: error.retry_after(),
                },
            }
        }))
    }
}
