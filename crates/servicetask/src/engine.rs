//! Runs the BPMN engine's service tasks through the runner, so every service task in a process
//! gets the full instrumentation and resilience. (Cargo feature `engine`.)
//!
//! [`RunnerHandler`] implements the engine's `TaskHandler`: the element's binding (Zeebe task
//! type, Camunda topic, SpiffWorkflow operator, `implementation`, else the element id) names a
//! registered task; the call's variables become its input; the task span is a child of the
//! process-instance span. Outcomes map one to one: complete -> output variables, BPMN error ->
//! thrown to the boundary, failure -> retried by the engine while retries are left, then an
//! incident.
//!
//! At its first call the handler checks the runner's configuration against the registered
//! tasks ([`Runner::check_config`]): when `servicetask.toml` or a variable configures a task no
//! code registered (a misspelling), every service call fails with that report (an incident)
//! instead of running with a configuration that silently does not apply.
//!
//! ```
//! use std::sync::Arc;
//! use servicetask::engine::RunnerHandler;
//! use servicetask::{task_fn, Runner, TaskConfig, TaskContext, TaskError};
//! use servicetask_engine::{Engine, RunOutcome};
//! let xml = br#"<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL">
//!   <process id="p"><startEvent id="s"/><sequenceFlow id="f1" sourceRef="s" targetRef="t"/>
//!   <serviceTask id="t" implementation="double"/><sequenceFlow id="f2" sourceRef="t" targetRef="e"/>
//!   <endEvent id="e"/></process></definitions>"#;
//! let (defs, _) = servicetask_bpmn::parse("double.bpmn", xml);
//! let runner = Runner::builder().telemetry(servicetask::Telemetry::disabled()).build();
//! runner.register(task_fn(TaskConfig::named("double"), |_cx: TaskContext, x: serde_json::Map<String, serde_json::Value>| async move {
//!     let n = x.get("n").and_then(|v| v.as_i64()).unwrap_or(0);
//!     Ok::<_, TaskError>(serde_json::json!({ "n": n * 2 }))
//! })).unwrap();
//! let engine = Engine::new(Arc::new(RunnerHandler::new(runner)));
//! let deployed = engine.deploy(&defs).unwrap(); // validated and compiled once
//! let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
//! rt.block_on(async {
//!     let mut vars = serde_json::Map::new();
//!     vars.insert("n".into(), 21.into());
//!     let mut i = deployed.start("p", vars).unwrap();
//!     assert_eq!(i.run().await, RunOutcome::Completed);
//!     assert_eq!(i.variables()["n"], 42);
//! });
//! ```

use opentelemetry::trace::TraceContextExt as _;
use servicetask_core::{ProcessInfo, TaskOutcome};
use servicetask_engine::{ServiceCall, ServiceFuture, ServiceResult, StubHandler, TaskHandler};

use crate::{JsonOutcome, RunOptions, Runner};

/// The words an incident for a task type no runner task answers carries (tools recognise it).
pub const UNKNOWN_TASK: &str = "no task of that name is registered";

/// What to do with a binding no registered task answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UnknownTasks {
    /// Fail with `not_found` and no retries: an incident that names the missing task.
    #[default]
    Fail,
    /// Answer like the conformance stub: `{"ok": true, "operation": <type>}` (or nothing).
    Stub,
}

/// The engine's `TaskHandler`, backed by a [`Runner`].
#[derive(Debug, Clone)]
pub struct RunnerHandler {
    runner: Runner,
    unknown: UnknownTasks,
    /// The configuration check, done at the first call: `Some(report)` when it failed.
    config_problem: std::sync::Arc<std::sync::OnceLock<Option<String>>>,
}

impl RunnerHandler {
    /// Runs bound tasks on `runner`; unknown bindings fail.
    pub fn new(runner: Runner) -> Self {
        RunnerHandler {
            runner,
            unknown: UnknownTasks::Fail,
            config_problem: Default::default(),
        }
    }

    /// Chooses what happens to unknown bindings.
    pub fn unknown_tasks(mut self, unknown: UnknownTasks) -> Self {
        self.unknown = unknown;
        self
    }

    fn unknown(&self, call: &ServiceCall) -> ServiceResult {
        match self.unknown {
            UnknownTasks::Stub => ServiceResult::Complete(StubHandler::result_for(&call.binding)),
            UnknownTasks::Fail => ServiceResult::Failed {
                message: format!(
                    "element '{}' is bound to task type '{}', but {UNKNOWN_TASK} (registered: {}); register it on the runner (servicetask_cli::Cli::new().tasks(..) for a CLI of your own)",
                    call.element_id,
                    call.binding.task_type,
                    self.runner.task_names().join(", ")
                ),
                error_class: "not_found".into(),
                retries_left: 0,
                retry_backoff: None,
            },
        }
    }
}

impl TaskHandler for RunnerHandler {
    fn call(&self, call: ServiceCall) -> ServiceFuture {
        let problem = self
            .config_problem
            .get_or_init(|| self.runner.check_config().err().map(|e| e.to_string()));
        if let Some(report) = problem {
            return Box::pin(std::future::ready(ServiceResult::Failed {
                message: format!("the configuration does not apply: {report}"),
                error_class: "validation".into(),
                retries_left: 0,
                retry_backoff: None,
            }));
        }
        let Some(task) = self.runner.task(&call.binding.task_type) else {
            return Box::pin(std::future::ready(self.unknown(&call)));
        };
        let options = RunOptions {
            // an instance without a recording span passes an empty context: the task then
            // runs in whatever context is current where the engine polls it
            parent: call
                .otel_context
                .span()
                .span_context()
                .is_valid()
                .then_some(call.otel_context),
            traceparent: None,
            process: ProcessInfo {
                process_id: Some(call.process_id),
                instance_id: Some(call.instance_id),
                element_id: Some(call.element_id),
                element_type: Some(std::borrow::Cow::Borrowed("serviceTask")),
                idempotency_key: call.idempotency_key,
            },
            variables: serde_json::Map::new(),
        };
        // the task reads its input from the variables, then keeps them as `cx.variables()`
        task.run_for_engine(call.variables, options)
    }
}

/// The engine's view of a task outcome: complete -> output variables, BPMN error -> thrown,
/// failure -> retried by the engine while retries are left, then an incident.
pub(crate) fn service_result(outcome: JsonOutcome) -> ServiceResult {
    match outcome {
        TaskOutcome::Complete(vars) => ServiceResult::Complete(vars),
        TaskOutcome::BpmnError {
            code,
            message,
            variables,
        } => ServiceResult::BpmnError {
            code,
            message,
            variables,
        },
        TaskOutcome::Failure {
            error,
            retries_left,
            retry_backoff,
        } => ServiceResult::Failed {
            message: error.report(),
            error_class: error.class().as_str().to_string(),
            retries_left,
            retry_backoff,
        },
    }
}
