//! Sensitive values out of the text a job leaves: a task's failure or BPMN-error message is
//! stored (an incident, the history) and shown (the API), and a task may quote its input in it;
//! every value of a sensitive variable the job was given is cut out of that text first.

use serde_json::{Map, Value};
use servicetask_engine::ServiceResult;

use crate::view::REDACTED;

/// `result` with every value that `vars` holds under a name in `names` (at any depth)
/// replaced by [`REDACTED`] in its messages.
pub fn scrub_result(result: ServiceResult, vars: &Map<String, Value>, names: &[String]) -> ServiceResult {
    if names.is_empty() {
        return result;
    }
    let mut secrets = Vec::new();
    for (k, v) in vars {
        collect(k, v, names, false, &mut secrets);
    }
    if secrets.is_empty() {
        return result;
    }
    // longest first, so a secret that contains another is cut whole
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    let scrub = |m: String| secrets.iter().fold(m, |m, s| m.replace(s.as_str(), REDACTED));
    match result {
        ServiceResult::Failed {
            message,
            error_class,
            retries_left,
            retry_backoff,
        } => ServiceResult::Failed {
            message: scrub(message),
            error_class,
            retries_left,
            retry_backoff,
        },
        ServiceResult::BpmnError {
            code,
            message,
            variables,
        } => ServiceResult::BpmnError {
            code,
            message: scrub(message),
            variables,
        },
        done => done,
    }
}

/// The scalar values under `key` (when sensitive, or when inside a sensitive value) and under
/// the sensitive keys nested in it.
fn collect(key: &str, v: &Value, names: &[String], inside: bool, out: &mut Vec<String>) {
    let sensitive = inside || names.iter().any(|n| n == key);
    match v {
        Value::Object(m) => m.iter().for_each(|(k, v)| collect(k, v, names, sensitive, out)),
        Value::Array(items) => items.iter().for_each(|v| collect(key, v, names, sensitive, out)),
        Value::String(s) if sensitive && !s.is_empty() => out.push(s.clone()),
        Value::Number(n) if sensitive => out.push(n.to_string()),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_message_quoting_a_sensitive_input_is_scrubbed() {
        let vars = serde_json::json!({"user": "ann", "creds": {"password": "hunter2"}, "pin": [1234]});
        let names = vec!["password".to_string(), "pin".to_string()];
        let failed = ServiceResult::Failed {
            message: "login as ann with hunter2 and pin 1234 refused".into(),
            error_class: "auth".into(),
            retries_left: 0,
            retry_backoff: None,
        };
        let ServiceResult::Failed { message, .. } = scrub_result(failed, vars.as_object().unwrap(), &names) else {
            panic!("still a failure");
        };
        assert_eq!(message, "login as ann with [redacted] and pin [redacted] refused");
    }
}
