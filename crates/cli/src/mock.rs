//! Mocked task types: answer a task type with chosen output, a BPMN error or a failure, so a
//! process's paths can be tried without the real task (`--mock TYPE=SPEC`, a scenario's
//! `[mocks]`, or [`crate::scenario::Scenario::mock`]).
//!
//! The one syntax, in flags and scenario files alike:
//!
//! | spec | the task answers |
//! |---|---|
//! | `{"in_stock": true}` (any JSON) | completes; an object's fields become variables, another value becomes `result` |
//! | `bpmn-error:CODE` or `bpmn-error:CODE:message` | throws BPMN error `CODE` to the boundary that catches it |
//! | `failure:CLASS` or `failure:CLASS:message` | fails with that error class and no retries: an incident |

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Map, Value};
use servicetask::ErrorClass;
use servicetask_engine::{ServiceCall, ServiceFuture, ServiceResult, TaskHandler};

/// What a mocked task type answers.
#[derive(Debug, Clone, PartialEq)]
pub enum Mock {
    /// Complete with these output variables.
    Output(Map<String, Value>),
    /// Throw a BPMN error.
    BpmnError {
        /// The error code boundary events match.
        code: String,
        /// A message for people.
        message: String,
    },
    /// Fail with this error class and no retries left.
    Failure {
        /// The error class (`network`, `timeout`, ...).
        class: ErrorClass,
        /// What went wrong.
        message: String,
    },
}

impl Mock {
    /// Completes with `output` (an object's fields, or `{"result": output}`).
    pub fn output(output: Value) -> Mock {
        Mock::Output(match output {
            Value::Object(m) => m,
            Value::Null => Map::new(),
            other => Map::from_iter([("result".to_string(), other)]),
        })
    }

    /// Throws BPMN error `code`.
    pub fn bpmn_error(code: impl Into<String>) -> Mock {
        let code = code.into();
        Mock::BpmnError {
            message: format!("mocked BPMN error {code}"),
            code,
        }
    }

    /// Fails with `class` and no retries.
    pub fn failure(class: ErrorClass) -> Mock {
        Mock::Failure {
            class,
            message: format!("mocked {class} failure"),
        }
    }

    /// Parses the spec syntax in the module docs.
    pub fn parse(spec: &str) -> Result<Mock, String> {
        let with_message = |rest: &str| -> (String, Option<String>) {
            match rest.split_once(':') {
                Some((a, m)) => (a.trim().to_string(), Some(m.to_string())),
                None => (rest.trim().to_string(), None),
            }
        };
        if let Some(rest) = spec.strip_prefix("bpmn-error:") {
            let (code, message) = with_message(rest);
            if code.is_empty() {
                return Err(format!("'{spec}': the BPMN error code is empty; write bpmn-error:CODE"));
            }
            let mut m = Mock::bpmn_error(code);
            if let (Mock::BpmnError { message: slot, .. }, Some(text)) = (&mut m, message) {
                *slot = text;
            }
            return Ok(m);
        }
        if let Some(rest) = spec.strip_prefix("failure:") {
            let (class, message) = with_message(rest);
            let Some(class) = ErrorClass::parse(&class) else {
                let names: Vec<&str> = ErrorClass::ALL.iter().map(|c| c.as_str()).collect();
                return Err(format!(
                    "'{spec}': '{class}' is not an error class; use one of: {}",
                    names.join(", ")
                ));
            };
            let mut m = Mock::failure(class);
            if let (Mock::Failure { message: slot, .. }, Some(text)) = (&mut m, message) {
                *slot = text;
            }
            return Ok(m);
        }
        serde_json::from_str::<Value>(spec).map(Mock::output).map_err(|e| {
            format!(
                "'{spec}': not JSON ({e}); write JSON output like {{\"ok\":true}}, bpmn-error:CODE or failure:CLASS"
            )
        })
    }

    fn result(&self) -> ServiceResult {
        match self {
            Mock::Output(vars) => ServiceResult::Complete(vars.clone()),
            Mock::BpmnError { code, message } => ServiceResult::BpmnError {
                code: code.clone(),
                message: message.clone(),
                variables: Map::new(),
            },
            Mock::Failure { class, message } => ServiceResult::Failed {
                message: message.clone(),
                error_class: class.as_str().to_string(),
                retries_left: 0,
                retry_backoff: None,
            },
        }
    }
}

/// Parses `TYPE=SPEC` (the `--mock` flag).
pub fn parse_flag(flag: &str) -> Result<(String, Mock), String> {
    let Some((task_type, spec)) = flag.split_once('=') else {
        return Err(format!(
            "--mock {flag}: write it as TYPE=SPEC, for example --mock check_stock='{{\"in_stock\":true}}' or --mock reserve=bpmn-error:OUT_OF_STOCK"
        ));
    };
    if task_type.trim().is_empty() {
        return Err(format!("--mock {flag}: the task type is empty"));
    }
    let mock = Mock::parse(spec).map_err(|e| format!("--mock {task_type}={e}"))?;
    Ok((task_type.trim().to_string(), mock))
}

/// Answers mocked task types itself and hands every other call to `inner`.
pub struct MockHandler {
    mocks: BTreeMap<String, Mock>,
    inner: Arc<dyn TaskHandler>,
}

impl MockHandler {
    /// Mocks `mocks` (by task type) in front of `inner`.
    pub fn new(mocks: BTreeMap<String, Mock>, inner: Arc<dyn TaskHandler>) -> Self {
        MockHandler { mocks, inner }
    }
}

impl TaskHandler for MockHandler {
    fn call(&self, call: ServiceCall) -> ServiceFuture {
        match self.mocks.get(call.binding.task_type.as_str()) {
            Some(mock) => Box::pin(std::future::ready(mock.result())),
            None => self.inner.call(call),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_to_outputs_errors_and_failures() {
        assert_eq!(
            Mock::parse(r#"{"a":1}"#).unwrap(),
            Mock::Output(Map::from_iter([("a".to_string(), Value::from(1))]))
        );
        assert_eq!(Mock::parse("7").unwrap(), Mock::output(Value::from(7)));
        assert!(matches!(Mock::parse("bpmn-error:LOW").unwrap(), Mock::BpmnError { code, .. } if code == "LOW"));
        assert!(
            matches!(Mock::parse("bpmn-error:LOW:too few rows").unwrap(), Mock::BpmnError { message, .. } if message == "too few rows")
        );
        assert!(
            matches!(Mock::parse("failure:network").unwrap(), Mock::Failure { class, .. } if class == ErrorClass::Network)
        );
        let e = Mock::parse("failure:flaky").unwrap_err();
        assert!(e.contains("not an error class") && e.contains("network"), "{e}");
        assert!(Mock::parse("bpmn-error:").is_err());
        assert!(Mock::parse("not json").unwrap_err().contains("bpmn-error:CODE"));
        assert_eq!(parse_flag("t=true").unwrap().0, "t");
        assert!(parse_flag("no-equals").is_err());
    }
}
