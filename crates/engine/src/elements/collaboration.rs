//! Collaborations (BPMN 2.0 §9): one instance runs the process of every pool side by side, and
//! their messages pass between them (`message_event`).
//!
//! A pool whose process starts with a message start event is instantiated by each message of
//! that name (§10.5.2: the message creates a new process instance), so its instances are the
//! conversations it was sent into: their data is their own, and the collaboration's
//! variables are those of the pools started with it (all pools' when every pool waits for a
//! message). A pool instance still waiting for the message that would start it has not begun:
//! it does not keep the collaboration running. Each pool instance that ends is recorded with
//! its process id ([`Instance::completed_pools`]), as the completion of one participant.

use crate::instance::Instance;
use crate::state::{Id, Scope, ScopeKind, Token, TokenState};
use servicetask_bpmn::{ElementKind, EventDefinition, Process};

/// True when `p` is started by a message: each of its start events (at least one) at the
/// process level catches a message.
fn started_by_message(p: &Process) -> bool {
    let mut starts = p
        .children(None)
        .filter(|e| e.kind == ElementKind::StartEvent)
        .peekable();
    starts.peek().is_some() && starts.all(|e| matches!(e.event, Some(EventDefinition::Message { .. })))
}

impl Instance {
    /// True when this instance runs a collaboration (its pools' processes).
    pub(crate) fn runs_collaboration(&self) -> bool {
        self.defs.process(&self.process_id).is_none()
            && self.defs.collaborations.iter().any(|c| c.id == self.process_id)
    }

    /// The process of the pool instance `scope` is, when it is one (a collaboration's
    /// outermost process scope).
    pub(crate) fn pool_of(&self, scope: Id) -> Option<String> {
        let s = self.scopes.get(&scope)?;
        (self.runs_collaboration() && s.kind == ScopeKind::Process && s.parent.is_none()).then(|| s.process_id.clone())
    }

    /// True when `tok` waits at the message start event of a pool of the collaboration this
    /// instance runs: the pool is instantiated by each message of that name.
    pub(crate) fn is_pool_start(&self, tok: &Token) -> bool {
        if tok.state != TokenState::Waiting || self.pool_of(tok.scope).is_none() {
            return false;
        }
        let Some(scope) = self.scopes.get(&tok.scope) else {
            return false;
        };
        self.procs_get(&scope.process_id)
            .and_then(|p| p.element(&tok.element).cloned())
            .is_some_and(|el| {
                el.kind == ElementKind::StartEvent
                    && el.parent.is_none()
                    && matches!(el.event, Some(EventDefinition::Message { .. }))
            })
    }

    /// The scopes whose variables are the instance's: its process scope, or in a
    /// collaboration the pools started with it (see the module docs).
    pub(crate) fn data_scopes(&self) -> Vec<&Scope> {
        let roots: Vec<&Scope> = self
            .scopes
            .values()
            .filter(|s| s.kind == ScopeKind::Process && s.parent.is_none())
            .collect();
        if !self.runs_collaboration() {
            return roots;
        }
        let by_message = |s: &Scope| self.defs.process(&s.process_id).is_some_and(started_by_message);
        let started: Vec<&Scope> = roots.iter().copied().filter(|s| !by_message(s)).collect();
        if started.is_empty() {
            roots
        } else {
            started
        }
    }

    /// In a collaboration: the process of each pool instance that has ended, in the order
    /// they ended (a pool instantiated by several messages appears once per instance).
    pub fn completed_pools(&self) -> &[String] {
        &self.pools_done
    }
}
