//! Scopes: creating one, starting its tokens (and arming its event subprocesses), completing it
//! when its last token ends (the process, a subprocess, a call activity), cancelling it.

use super::merge_back;
use super::proc_index::start_elements;
use super::Instance;
use crate::error::EngineError;
use crate::state::*;
use serde_json::{Map, Value};

impl Instance {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new_scope(
        &mut self,
        parent: Option<Id>,
        owner: Option<Id>,
        kind: ScopeKind,
        process_id: String,
        container: Option<String>,
        vars: Map<String, Value>,
        entry_keys: Vec<String>,
    ) -> Id {
        let id = self.alloc_id();
        self.scopes.insert(
            id,
            Scope {
                id,
                parent,
                owner,
                kind,
                process_id,
                container,
                vars,
                entry_keys,
                correlations: Map::new(),
            },
        );
        id
    }

    /// Starts tokens at the start elements of a fresh scope.
    pub(crate) fn start_scope(&mut self, scope: Id) -> Result<(), EngineError> {
        let p = self.proc_of_scope(scope)?;
        let container = self.scopes.get(&scope).and_then(|s| s.container.clone());
        let computed;
        let starts = match &container {
            None => &p.root_starts,
            Some(c) => {
                computed = start_elements(p.process(), Some(c));
                &computed
            }
        };
        if starts.is_empty() {
            return Err(EngineError::NoStart(
                container.unwrap_or_else(|| p.process().id.clone()),
            ));
        }
        for &i in starts {
            self.new_token(scope, p.ids[i].clone(), None, TokenState::Ready);
        }
        if p.has_event_subprocesses {
            self.arm_event_subprocesses(scope)?;
        }
        Ok(())
    }

    /// When a scope has no tokens left, it completes: the process ends, or the owner activity
    /// completes.
    pub(crate) fn scope_check(&mut self, scope: Id) -> Result<(), EngineError> {
        if self.tokens.values().any(|t| t.scope == scope) {
            return Ok(());
        }
        let Some(kind) = self.scopes.get(&scope).map(|s| s.kind.clone()) else {
            return Ok(());
        };
        self.disarm_scope_timers(scope);
        if kind == ScopeKind::Process {
            if let Some(pool) = self.pool_of(scope) {
                self.pools_done.push(pool);
            }
            // in a collaboration the instance ends when every pool has ended; a pool instance
            // still waiting for the message that would start it has not begun
            let all_done = !self.tokens.values().any(|t| {
                self.scopes
                    .get(&t.scope)
                    .is_some_and(|sc| sc.kind == ScopeKind::Process)
                    && !self.is_pool_start(t)
            });
            if all_done && self.status == InstanceStatus::Running {
                let idle: Vec<Id> = self.tokens.keys().copied().collect();
                for t in idle {
                    self.cancel_token(t);
                }
                self.status = InstanceStatus::Completed;
                self.timers.clear();
                self.end_span(None);
            }
            return Ok(());
        }
        let Some(s) = self.scopes.get(&scope).cloned() else {
            return Ok(());
        };
        match s.kind {
            ScopeKind::Process => Ok(()), // handled above
            ScopeKind::SubProcess => {
                self.scopes.remove(&scope);
                if let (Some(parent), Some(owner)) = (s.parent, s.owner) {
                    merge_back(self.vars_mut(parent), &s);
                    if let Some(t) = self.tokens.get_mut(&owner) {
                        t.state = TokenState::Ready; // transient; completion moves it on
                    }
                    return self.complete_activity(owner);
                }
                Ok(())
            }
            ScopeKind::CallActivity => {
                self.scopes.remove(&scope);
                if let (Some(_parent), Some(owner)) = (s.parent, s.owner) {
                    self.call_activity_done(owner, &s)?;
                    return self.complete_activity(owner);
                }
                Ok(())
            }
            ScopeKind::MiChild { .. } => Ok(()),
        }
    }

    pub(crate) fn cancel_scope(&mut self, scope: Id) {
        self.disarm_scope_timers(scope);
        let toks: Vec<Id> = self
            .tokens
            .values()
            .filter(|t| t.scope == scope)
            .map(|t| t.id)
            .collect();
        for t in toks {
            self.cancel_token(t);
        }
        self.scopes.remove(&scope);
    }
}
