//! Sensitive values out of what is stored: a task's failure or BPMN-error message is stored
//! (an incident, the history) and shown (the API), and a task may quote its input in it, so
//! every value of a sensitive variable the job was given is cut out of that text first; and
//! the snapshot of an instance that has ended (completed, failed, cancelled) keeps no
//! sensitive variable, since no job will need it again.

use serde_json::{Map, Value};
use servicetask_engine::{InstanceSnapshot, ServiceResult, TokenState};

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

/// Replaces every sensitive variable of `snap` (scope variables, multi-instance items and
/// outputs, undelivered message payloads, at any depth) by [`REDACTED`].
pub fn redact_snapshot(snap: &mut InstanceSnapshot, names: &[String]) {
    if names.is_empty() {
        return;
    }
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let redact_map = |vars: &mut Map<String, Value>| {
        let mut v = Value::Object(std::mem::take(vars));
        servicetask_core::redact_keys(&mut v, &names);
        if let Value::Object(m) = v {
            *vars = m;
        }
    };
    for scope in &mut snap.scopes {
        redact_map(&mut scope.vars);
    }
    for token in &mut snap.tokens {
        if let TokenState::MiBody(mi) = &mut token.state {
            mi.items
                .iter_mut()
                .chain(mi.outputs.iter_mut())
                .for_each(|v| servicetask_core::redact_keys(v, &names));
        }
    }
    for (_, payload) in &mut snap.pending_messages {
        payload.with_value(&mut |v| servicetask_core::redact_keys(v, &names));
    }
}

/// A message payload in a snapshot, seen as one JSON value (a map of variables, or any value
/// a message may carry).
pub(crate) trait Payload {
    /// Calls `f` on the payload as a value.
    fn with_value(&mut self, f: &mut dyn FnMut(&mut Value));
}

impl Payload for Value {
    fn with_value(&mut self, f: &mut dyn FnMut(&mut Value)) {
        f(self)
    }
}

impl Payload for Map<String, Value> {
    fn with_value(&mut self, f: &mut dyn FnMut(&mut Value)) {
        let mut v = Value::Object(std::mem::take(self));
        f(&mut v);
        if let Value::Object(m) = v {
            *self = m;
        }
    }
}

/// A stored snapshot (JSON) with its sensitive variables redacted; as it was when it does not
/// read as a snapshot (it is kept, not lost).
pub fn redact_stored(snapshot: &str, names: &[String]) -> String {
    if names.is_empty() {
        return snapshot.to_string();
    }
    match serde_json::from_str::<InstanceSnapshot>(snapshot) {
        Ok(mut snap) => {
            redact_snapshot(&mut snap, names);
            serde_json::to_string(&snap).unwrap_or_else(|_| snapshot.to_string())
        }
        Err(_) => snapshot.to_string(),
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
