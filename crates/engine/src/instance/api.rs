//! The instance's public API: what it reports (status, variables, completed activities, waiting
//! tasks, incidents, its trace) and what a host does to it (complete a task, retry an incident).

use super::{Instance, InstanceState};
use crate::error::EngineError;
use crate::state::*;
use crate::telemetry;
use opentelemetry::trace::TraceContextExt;
use opentelemetry::Context;
use serde_json::{Map, Value};

impl Instance {
    /// The instance id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The id of the process started.
    pub fn process_id(&self) -> &str {
        &self.process_id
    }

    /// The W3C traceparent of the instance span (the trace every task span joins).
    pub fn traceparent(&self) -> Option<&str> {
        self.traceparent
            .get_or_init(|| telemetry::format_traceparent(self.otel.span().span_context()))
            .as_deref()
    }

    /// The OpenTelemetry context carrying the instance span.
    pub fn otel_context(&self) -> &Context {
        &self.otel
    }

    /// The context a service call runs under: the instance span's, or an empty one when that
    /// span carries no trace (no tracer provider is installed), which costs nothing to pass on.
    pub(crate) fn call_context(&self) -> Context {
        if self.otel.span().span_context().is_valid() {
            self.otel.clone()
        } else {
            Context::new()
        }
    }

    /// Where it stands.
    pub fn status(&self) -> &InstanceStatus {
        &self.status
    }

    /// The error that failed the instance, if it failed.
    pub fn error(&self) -> Option<&EngineError> {
        self.error.as_ref()
    }

    /// Completed activities, in order.
    pub fn completed(&self) -> &[CompletedActivity] {
        self.completed_view.get_or_init(|| {
            let mut all = self.completed_before.clone();
            all.extend(self.completed_now.iter().map(|&(slot, i, mi_child)| {
                let p = &self.procs[slot as usize];
                CompletedActivity {
                    element_id: p.ids[i as usize].clone(),
                    process_id: p.process_id.clone(),
                    kind: p.el(i as usize).kind,
                    mi_child,
                }
            }));
            all
        })
    }

    /// Process-level variables (of a collaboration: those of the pools started with it, merged
    /// in pool order; a pool instance a message started keeps its own).
    pub fn variables(&self) -> Map<String, Value> {
        let mut out = Map::new();
        for s in self.data_scopes() {
            out.extend(s.vars.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        out
    }

    /// Sets process-level variables (e.g. to fix the input of a failed task before a retry).
    pub fn set_variables(&mut self, vars: Map<String, Value>) {
        if let Some(root) = self.scopes.values_mut().find(|s| s.kind == ScopeKind::Process) {
            root.vars.extend(vars);
        }
    }

    /// A summary for reports.
    pub fn state(&self) -> InstanceState {
        InstanceState {
            status: self.status.clone(),
            completed: self.completed().to_vec(),
            variables: self.variables(),
            waiting: self.waiting_tasks(),
            incidents: self.incidents(),
        }
    }

    /// Tasks waiting to be completed through [`Instance::complete_task`].
    pub fn waiting_tasks(&self) -> Vec<WaitingTask> {
        self.tokens
            .values()
            .filter(|t| t.state == TokenState::Waiting)
            .filter_map(|t| {
                let scope = self.scopes.get(&t.scope)?;
                let p = self.procs_get(&scope.process_id)?;
                let el = p.element(&t.element)?;
                Some(WaitingTask {
                    token_id: t.id,
                    element_id: t.element.to_string(),
                    name: el.name.clone(),
                    kind: el.kind,
                    process_id: scope.process_id.clone(),
                    variables: scope.vars.clone(),
                })
            })
            .collect()
    }

    /// Open incidents.
    pub fn incidents(&self) -> Vec<Incident> {
        self.tokens
            .values()
            .filter_map(|t| match &t.state {
                TokenState::Incident { message, error_class } => Some(Incident {
                    token_id: t.id,
                    element_id: t.element.to_string(),
                    process_id: self
                        .scopes
                        .get(&t.scope)
                        .map(|s| s.process_id.clone())
                        .unwrap_or_default(),
                    message: message.clone(),
                    error_class: error_class.clone(),
                }),
                _ => None,
            })
            .collect()
    }

    pub(super) fn find_token(&self, key: &str, pred: impl Fn(&TokenState) -> bool) -> Option<Id> {
        if let Ok(n) = key.parse::<Id>() {
            if self.tokens.get(&n).is_some_and(|t| pred(&t.state)) {
                return Some(n);
            }
        }
        self.tokens
            .values()
            .find(|t| &*t.element == key && pred(&t.state))
            .map(|t| t.id)
    }

    /// Completes a waiting task (user, manual, receive task or catch event), found by token id
    /// or element id, setting `vars` in its scope. Call [`Instance::run`] afterwards.
    pub fn complete_task(&mut self, key: &str, vars: Map<String, Value>) -> Result<(), EngineError> {
        self.ensure_running()?;
        let tid = self
            .find_token(key, |s| *s == TokenState::Waiting)
            .ok_or_else(|| EngineError::NoSuchTask(key.to_string()))?;
        self.admit_variables(tid, &vars, "the variables it was completed with")?;
        let scope = self.tokens[&tid].scope;
        if let Some(s) = self.scopes.get_mut(&scope) {
            s.vars.extend(vars);
        }
        let r = self.complete_activity(tid);
        self.check_failed(r);
        Ok(())
    }

    /// Same as [`Instance::complete_task`], under the name the CLI's `complete` command uses.
    pub fn complete_user_task(&mut self, key: &str, vars: Map<String, Value>) -> Result<(), EngineError> {
        self.complete_task(key, vars)
    }

    /// Retries an incident (by token id or element id) after a fix, setting `vars` in its scope
    /// first. Call [`Instance::run`] afterwards.
    pub fn retry_incident(&mut self, key: &str, vars: Map<String, Value>) -> Result<(), EngineError> {
        self.ensure_running()?;
        let tid = self
            .find_token(key, |s| matches!(s, TokenState::Incident { .. }))
            .ok_or_else(|| EngineError::NoSuchIncident(key.to_string()))?;
        self.admit_variables(tid, &vars, "the variables of its retry")?;
        let scope = self.tokens[&tid].scope;
        if let Some(s) = self.scopes.get_mut(&scope) {
            s.vars.extend(vars);
        }
        if let Some(t) = self.tokens.get_mut(&tid) {
            t.state = TokenState::CallPending;
            t.attempts = 0;
        }
        Ok(())
    }

    pub(crate) fn ensure_running(&self) -> Result<(), EngineError> {
        match self.status {
            InstanceStatus::Running => Ok(()),
            _ => Err(EngineError::Finished(self.id.to_string())),
        }
    }
}
