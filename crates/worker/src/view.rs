//! [`InstanceView`]: what the API shows of an instance, read from its row and snapshot, with
//! sensitive variables redacted.

use serde::Serialize;
use serde_json::{Map, Value};
use servicetask_engine::{InstanceSnapshot, ScopeKind, TokenState};
use servicetask_store::{InstanceRow, InstanceState};

/// An instance as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct InstanceView {
    /// Its id.
    pub id: String,
    /// The process started.
    pub process_id: String,
    /// The deployment it runs.
    pub deployment_id: String,
    /// The caller's key for it.
    pub business_key: Option<String>,
    /// Where it stands: `active`, `waiting`, `incident`, `completed`, `failed` or
    /// `cancelled`.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub state: InstanceState,
    /// Bumped by every committed change.
    pub revision: i64,
    /// Process-level variables (sensitive ones redacted).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub variables: Map<String, Value>,
    /// Where its tokens are.
    pub active_elements: Vec<ActiveElement>,
    /// Tasks waiting for the API.
    pub waiting_tasks: Vec<ActiveElement>,
    /// Open incidents.
    pub incidents: Vec<IncidentView>,
    /// Completed activities, in order (element ids).
    pub completed: Vec<String>,
    /// When its next timer is due (Unix ms).
    pub next_timer_at_ms: Option<i64>,
    /// W3C traceparent of its span.
    pub traceparent: Option<String>,
    /// When it was started (Unix ms).
    pub created_ms: i64,
}

/// A token's place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ActiveElement {
    /// The token (a key for completing a task).
    pub token_id: u64,
    /// The element.
    pub element_id: String,
    /// What it is doing: `job`, `waiting`, `timer`, `joining`, `scope`, `multi_instance`,
    /// `incident`, `moving`.
    pub state: &'static str,
}

/// An open incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct IncidentView {
    /// The token (a key for retry and resolve).
    pub token_id: u64,
    /// The element whose task failed.
    pub element_id: String,
    /// What went wrong.
    pub message: String,
    /// Its error class.
    pub error_class: String,
}

/// What the API shows in place of a sensitive value.
pub const REDACTED: &str = "[redacted]";

impl InstanceView {
    /// The view of `row`, with the variables named in `redact` hidden.
    pub fn from_row(row: &InstanceRow, redact: &[String]) -> Self {
        let snap: Option<InstanceSnapshot> = serde_json::from_str(&row.snapshot).ok();
        let mut variables = Map::new();
        let mut active = Vec::new();
        let mut incidents = Vec::new();
        let mut completed = Vec::new();
        let mut traceparent = None;
        if let Some(s) = snap {
            for scope in s.scopes.iter().filter(|s| s.kind == ScopeKind::Process) {
                variables.extend(scope.vars.clone());
            }
            if !row.state.is_final() {
                for t in &s.tokens {
                    let state = match &t.state {
                        TokenState::CallPending => "job",
                        TokenState::Waiting => "waiting",
                        TokenState::Timer => "timer",
                        TokenState::Joining => "joining",
                        TokenState::InScope(_) => "scope",
                        TokenState::MiBody(_) => "multi_instance",
                        TokenState::Incident { message, error_class } => {
                            incidents.push(IncidentView {
                                token_id: t.id,
                                element_id: t.element.to_string(),
                                message: message.clone(),
                                error_class: error_class.clone(),
                            });
                            "incident"
                        }
                        // about to enter its element, or passing through it
                        _ => "moving",
                    };
                    active.push(ActiveElement {
                        token_id: t.id,
                        element_id: t.element.to_string(),
                        state,
                    });
                }
            }
            completed = s.completed.iter().map(|c| c.element_id.to_string()).collect();
            traceparent = s.traceparent;
        }
        redact_vars(&mut variables, redact);
        let waiting_tasks = active.iter().filter(|a| a.state == "waiting").cloned().collect();
        InstanceView {
            id: row.id.clone(),
            process_id: row.process_id.clone(),
            deployment_id: row.deployment_id.clone(),
            business_key: row.business_key.clone(),
            state: row.state,
            revision: row.revision,
            variables,
            active_elements: active,
            waiting_tasks,
            incidents,
            completed,
            next_timer_at_ms: row.wake_at_ms,
            traceparent,
            created_ms: row.created_ms,
        }
    }
}

/// Replaces the values of the named variables, at any depth (inside objects and arrays), by
/// [`REDACTED`], through core's `redact_keys` (the one redaction walk the runner uses too).
pub fn redact_vars(vars: &mut Map<String, Value>, names: &[String]) {
    if names.is_empty() {
        return;
    }
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut value = Value::Object(std::mem::take(vars));
    servicetask_core::redact_keys(&mut value, &names);
    if let Value::Object(m) = value {
        *vars = m;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sensitive_variables_are_redacted_inside_arrays_too() {
        let mut vars =
            serde_json::json!({"creds": [{"password": "s1"}], "a": {"password": "s2"}, "password": "s3", "n": 1})
                .as_object()
                .cloned()
                .unwrap();
        redact_vars(&mut vars, &["password".to_string()]);
        let text = Value::Object(vars.clone()).to_string();
        for s in ["s1", "s2", "s3"] {
            assert!(!text.contains(s), "{text}");
        }
        assert_eq!(vars["creds"][0]["password"], REDACTED);
        assert_eq!(vars["n"], 1);
    }
}
