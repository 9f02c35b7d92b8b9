//! What the connector serves: the [`Commands`] seam (implemented over the runner by the CLI),
//! the call and outcome types crossing it, and the command list (`GET /v1/commands`) derived
//! from each task's input JSON Schema.
//!
//! The list follows the connector proxy's description of a command: `{"id", "parameters":
//! [{"id", "type", "required"}]}` where `type` is one of the proxy's words (`str`, `int`,
//! `bool`, else `any`). Each entry also carries the task's description and, per parameter, its
//! description, default, JSON Schema and whether it is sensitive: clients that know only the
//! proxy's keys ignore them.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use serde_json::{json, Map, Value};

/// The prefix of every command id: `servicetask/<task name>` (the proxy's `plugin/command`).
pub const COMMAND_PREFIX: &str = "servicetask/";

/// A registered task as the connector lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandSpec {
    /// The task name.
    pub name: String,
    /// What it does.
    pub description: Option<String>,
    /// The JSON Schema of its input (an object schema; others give no parameters).
    pub input_schema: Value,
    /// Input fields whose values are secrets.
    pub sensitive: Vec<String>,
}

/// One call of a command, as the connector received it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CommandCall {
    /// The parameters: the task's input.
    pub params: Map<String, Value>,
    /// The caller's task data (`spiff__task_data`): the task sees it as its process variables.
    pub task_data: Map<String, Value>,
    /// The W3C `traceparent` header: the task span continues that trace.
    pub traceparent: Option<String>,
    /// The same for every attempt of one task activation (`spiff__process_instance_id` and
    /// `spiff__task_id`), so a task can make a repeated side effect harmless.
    pub idempotency_key: Option<String>,
    /// The caller's process instance.
    pub instance_id: Option<String>,
    /// The caller's process (`spiff__process_id`, when the client sends it).
    pub process_id: Option<String>,
    /// The caller's BPMN element (`spiff__element_id`, when the client sends it).
    pub element_id: Option<String>,
}

/// What a call came to.
#[derive(Debug, Clone, PartialEq)]
pub enum CommandOutcome {
    /// Done: the output variables.
    Complete(Map<String, Value>),
    /// A BPMN error: the caller throws `code` to the error boundary that catches it.
    BpmnError {
        /// The BPMN error code.
        code: String,
        /// A message for people.
        message: String,
        /// Variables carried with the error.
        variables: Map<String, Value>,
    },
    /// A technical failure, after the task's own retries.
    Failed {
        /// What went wrong.
        message: String,
        /// The low-cardinality error class (`timeout`, `validation`, ...).
        error_class: String,
        /// How to recover.
        recovery_hint: Option<String>,
        /// Whether calling again may succeed.
        retryable: bool,
        /// The delay the failing side asked for.
        retry_after: Option<Duration>,
    },
}

/// The future of one call.
pub type CommandFuture = Pin<Box<dyn Future<Output = CommandOutcome> + Send + 'static>>;

/// The tasks a connector serves. Implementations keep no state between calls.
pub trait Commands: Send + Sync + 'static {
    /// Every command, in a stable order.
    fn describe(&self) -> Vec<CommandSpec>;
    /// Starts a call of task `name`; `None` when no task has that name.
    fn call(&self, name: &str, call: CommandCall) -> Option<CommandFuture>;
}

/// The `GET /v1/commands` body for `specs`.
pub fn command_list(specs: &[CommandSpec]) -> Value {
    Value::Array(specs.iter().map(describe_command).collect())
}

fn describe_command(spec: &CommandSpec) -> Value {
    let required: Vec<&str> = spec
        .input_schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let parameters: Vec<Value> = spec
        .input_schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|props| {
            props
                .iter()
                .map(|(id, schema)| {
                    let mut p = Map::new();
                    p.insert("id".into(), id.clone().into());
                    p.insert("type".into(), proxy_type(schema).into());
                    p.insert("required".into(), required.contains(&id.as_str()).into());
                    if let Some(d) = schema.get("description") {
                        p.insert("description".into(), d.clone());
                    }
                    if let Some(d) = schema.get("default") {
                        p.insert("default".into(), d.clone());
                    }
                    p.insert("sensitive".into(), spec.sensitive.iter().any(|s| s == id).into());
                    p.insert("schema".into(), schema.clone());
                    Value::Object(p)
                })
                .collect()
        })
        .unwrap_or_default();
    json!({
        "id": format!("{COMMAND_PREFIX}{}", spec.name),
        "description": spec.description,
        "parameters": parameters,
    })
}

/// The proxy's word for a property's type: `str`, `int` or `bool` for exactly that JSON type
/// (a `null` alongside it is allowed, as `Optional[str]` is `str` to the proxy), else `any`.
fn proxy_type(schema: &Value) -> &'static str {
    let types: Vec<&str> = match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).filter(|t| *t != "null").collect(),
        _ => Vec::new(),
    };
    match types.as_slice() {
        ["string"] => "str",
        ["integer"] => "int",
        ["boolean"] => "bool",
        _ => "any",
    }
}

/// The task name a `/v1/do/<operator>` path names: `servicetask/<name>` or the bare name.
pub fn task_name(operator: &str) -> &str {
    operator.strip_prefix(COMMAND_PREFIX).unwrap_or(operator)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> CommandSpec {
        CommandSpec {
            name: "notify".into(),
            description: Some("Send".into()),
            input_schema: json!({
                "type": "object",
                "properties": {
                    "message": {"type": "string", "description": "The message."},
                    "count": {"type": "integer", "default": 1},
                    "flag": {"type": ["boolean", "null"]},
                    "score": {"type": "number"},
                    "nested": {"$ref": "#/$defs/Nested"},
                    "api_token": {"type": "string"}
                },
                "required": ["message", "api_token"]
            }),
            sensitive: vec!["api_token".into()],
        }
    }

    #[test]
    fn parameters_come_from_the_input_schema() {
        let list = command_list(&[spec()]);
        let cmd = &list[0];
        assert_eq!(cmd["id"], "servicetask/notify");
        assert_eq!(cmd["description"], "Send");
        let params = cmd["parameters"].as_array().unwrap();
        let by_id = |id: &str| params.iter().find(|p| p["id"] == id).unwrap().clone();
        assert_eq!(by_id("message")["type"], "str");
        assert_eq!(by_id("message")["required"], true);
        assert_eq!(by_id("message")["description"], "The message.");
        assert_eq!(by_id("count")["type"], "int");
        assert_eq!(by_id("count")["required"], false);
        assert_eq!(by_id("count")["default"], 1);
        assert_eq!(by_id("flag")["type"], "bool");
        assert_eq!(by_id("score")["type"], "any");
        assert_eq!(by_id("nested")["type"], "any");
        assert_eq!(by_id("api_token")["sensitive"], true);
        assert_eq!(by_id("message")["sensitive"], false);
        assert_eq!(params.len(), 6);
    }

    #[test]
    fn a_non_object_input_has_no_parameters() {
        let mut s = spec();
        s.input_schema = json!({"type": "string"});
        assert_eq!(command_list(&[s])[0]["parameters"], json!([]));
    }

    #[test]
    fn operators_name_tasks_with_or_without_the_prefix() {
        assert_eq!(task_name("servicetask/quality_check"), "quality_check");
        assert_eq!(task_name("quality_check"), "quality_check");
    }
}
