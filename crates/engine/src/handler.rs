//! The service-task seam: what the engine hands a task ([`ServiceCall`]), what it gets back
//! ([`ServiceResult`]), the [`TaskHandler`] trait, a [`StubHandler`] and a [`HandlerRegistry`].

use serde_json::{Map, Value};
use servicetask_bpmn::{BindingKind, TaskBinding};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// One execution of a service-like task, as handed to a [`TaskHandler`].
///
/// The ids, the name and the binding are shared with the engine's compiled process (`Arc`s):
/// building a call copies no string, and a handler keeps what it needs by cloning an `Arc`.
#[derive(Debug, Clone)]
pub struct ServiceCall {
    /// The BPMN element id.
    pub element_id: Arc<str>,
    /// The BPMN element name.
    pub element_name: Option<Arc<str>>,
    /// How the element is bound (task type, headers, mappings, operator parameters).
    pub binding: Arc<TaskBinding>,
    /// The process the element belongs to.
    pub process_id: Arc<str>,
    /// The process instance.
    pub instance_id: Arc<str>,
    /// Variables after input mapping; for SpiffWorkflow operators, the evaluated parameters.
    pub variables: Map<String, Value>,
    /// Carries the process-instance span: make the task span its child.
    pub otel_context: opentelemetry::Context,
    /// The same for every attempt of this activation of the element, and different for any
    /// other (set by a host that runs calls as durable jobs; `None` in-process), so a task can
    /// make a repeated side effect harmless.
    pub idempotency_key: Option<Arc<str>>,
}

/// What a task execution came to.
#[derive(Debug, Clone, PartialEq)]
pub enum ServiceResult {
    /// Done: output variables, merged through the output mapping.
    Complete(Map<String, Value>),
    /// A business error, thrown to the nearest matching error boundary event.
    BpmnError {
        /// The error code matched against `errorCode`.
        code: String,
        /// A message for people.
        message: String,
        /// Variables set where the error is caught.
        variables: Map<String, Value>,
    },
    /// A technical failure: retried while `retries_left > 0`, else an incident.
    Failed {
        /// What went wrong.
        message: String,
        /// A low-cardinality error class (`timeout`, `network`, ...).
        error_class: String,
        /// How many more attempts the engine may make.
        retries_left: u32,
        /// How long to wait before the next attempt.
        retry_backoff: Option<Duration>,
    },
}

/// The future a [`TaskHandler`] returns.
pub type ServiceFuture = Pin<Box<dyn Future<Output = ServiceResult> + Send + 'static>>;

/// Executes service tasks for the engine.
///
/// # Contract
///
/// - Return a `'static` future: clone what you need out of the [`ServiceCall`].
/// - Never panic to report an error: return [`ServiceResult::Failed`]. (A panic is caught by
///   the engine and becomes an incident, but loses the error class.)
/// - Parallel branches call the handler concurrently: it must be `Send + Sync`.
pub trait TaskHandler: Send + Sync + 'static {
    /// Starts one execution.
    fn call(&self, call: ServiceCall) -> ServiceFuture;
}

impl<F> TaskHandler for F
where
    F: Fn(ServiceCall) -> ServiceFuture + Send + Sync + 'static,
{
    fn call(&self, call: ServiceCall) -> ServiceFuture {
        self(call)
    }
}

/// Answers every call at once: `{"ok": true, "operation": <task type>}` for explicitly bound
/// tasks (SpiffWorkflow operators, Zeebe, Camunda, Flowable), no output for tasks bound only by
/// `implementation` or their element id. This is the stub of the conformance suite.
#[derive(Debug, Clone, Copy, Default)]
pub struct StubHandler;

impl StubHandler {
    /// The result the stub gives for `binding`.
    pub fn result_for(binding: &TaskBinding) -> Map<String, Value> {
        let mut out = Map::new();
        match binding.kind {
            BindingKind::ElementId | BindingKind::Implementation => {}
            _ => {
                out.insert("ok".to_string(), Value::Bool(true));
                out.insert("operation".to_string(), Value::String(binding.task_type.clone()));
            }
        }
        out
    }
}

impl TaskHandler for StubHandler {
    fn call(&self, call: ServiceCall) -> ServiceFuture {
        let out = Self::result_for(&call.binding);
        Box::pin(async move { ServiceResult::Complete(out) })
    }
}

/// Routes calls to handlers by task type, with an optional fallback.
#[derive(Clone, Default)]
pub struct HandlerRegistry {
    handlers: HashMap<String, Arc<dyn TaskHandler>>,
    fallback: Option<Arc<dyn TaskHandler>>,
}

impl std::fmt::Debug for HandlerRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut types: Vec<&String> = self.handlers.keys().collect();
        types.sort();
        f.debug_struct("HandlerRegistry")
            .field("types", &types)
            .field("fallback", &self.fallback.is_some())
            .finish()
    }
}

impl HandlerRegistry {
    /// Registers `handler` for `task_type` (replacing any earlier one).
    pub fn register(&mut self, task_type: impl Into<String>, handler: Arc<dyn TaskHandler>) -> &mut Self {
        self.handlers.insert(task_type.into(), handler);
        self
    }

    /// Sets the handler for task types with no registered handler.
    pub fn set_fallback(&mut self, handler: Arc<dyn TaskHandler>) -> &mut Self {
        self.fallback = Some(handler);
        self
    }

    /// True when `task_type` has a handler (the fallback does not count).
    pub fn contains(&self, task_type: &str) -> bool {
        self.handlers.contains_key(task_type)
    }

    /// Registered task types, sorted.
    pub fn task_types(&self) -> Vec<String> {
        let mut v: Vec<String> = self.handlers.keys().cloned().collect();
        v.sort();
        v
    }
}

impl TaskHandler for HandlerRegistry {
    fn call(&self, call: ServiceCall) -> ServiceFuture {
        let handler = self
            .handlers
            .get(&call.binding.task_type)
            .or(self.fallback.as_ref())
            .cloned();
        match handler {
            Some(h) => h.call(call),
            None => {
                let known = self.task_types().join(", ");
                let message = format!(
                    "no handler registered for task type '{}' (element '{}'); registered: [{known}]",
                    call.binding.task_type, call.element_id
                );
                Box::pin(async move {
                    ServiceResult::Failed {
                        message,
                        error_class: "not_found".to_string(),
                        retries_left: 0,
                        retry_backoff: None,
                    }
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(kind: BindingKind, ty: &str) -> ServiceCall {
        ServiceCall {
            element_id: "t".into(),
            element_name: None,
            binding: Arc::new(TaskBinding::new(kind, ty)),
            process_id: "p".into(),
            instance_id: "i".into(),
            variables: Map::new(),
            otel_context: opentelemetry::Context::new(),
            idempotency_key: None,
        }
    }

    fn block_on<F: Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn stub_answers_operators_and_not_plain_tasks() {
        let r = block_on(StubHandler.call(call(BindingKind::SpiffOperator, "weather/CurrentTemp")));
        assert_eq!(
            r,
            ServiceResult::Complete(
                serde_json::json!({"ok": true, "operation": "weather/CurrentTemp"})
                    .as_object()
                    .unwrap()
                    .clone()
            )
        );
        let r = block_on(StubHandler.call(call(BindingKind::ElementId, "Task_1")));
        assert_eq!(r, ServiceResult::Complete(Map::new()));
    }

    #[test]
    fn registry_routes_by_type_and_reports_missing_handlers() {
        let mut reg = HandlerRegistry::default();
        reg.register("a", Arc::new(StubHandler));
        assert!(matches!(
            block_on(reg.call(call(BindingKind::Zeebe, "a"))),
            ServiceResult::Complete(_)
        ));
        match block_on(reg.call(call(BindingKind::Zeebe, "b"))) {
            ServiceResult::Failed {
                message,
                error_class,
                retries_left,
                ..
            } => {
                assert!(message.contains("no handler registered for task type 'b'"));
                assert_eq!(error_class, "not_found");
                assert_eq!(retries_left, 0);
            }
            other => panic!("unexpected {other:?}"),
        }
        reg.set_fallback(Arc::new(StubHandler));
        assert!(matches!(
            block_on(reg.call(call(BindingKind::Zeebe, "b"))),
            ServiceResult::Complete(_)
        ));
    }
}
