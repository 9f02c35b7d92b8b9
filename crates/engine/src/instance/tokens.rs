//! Token movement: creating tokens, recording an activity's completion, leaving an element
//! along its outgoing flows (conditions and default flow), ending and cancelling tokens.

use super::{Instance, ProcIndex};
use crate::error::EngineError;
use crate::state::*;
use servicetask_bpmn::expr;
use std::sync::Arc;

impl Instance {
    pub(crate) fn alloc_id(&mut self) -> Id {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    pub(crate) fn new_token(
        &mut self,
        scope: Id,
        element: impl Into<Arc<str>>,
        via: Option<Arc<str>>,
        state: TokenState,
    ) -> Id {
        let id = self.alloc_id();
        let ready = matches!(state, TokenState::Ready);
        self.tokens.insert(
            id,
            Token {
                id,
                scope,
                element: element.into(),
                via,
                state,
                mi_inner: false,
                loop_count: 0,
                attempts: 0,
                slot: ElementSlot::default(),
            },
        );
        if ready {
            self.ready.push_back(id);
        }
        id
    }

    pub(crate) fn record_completed(&mut self, tid: Id) -> Result<(), EngineError> {
        let (p, i) = self.token_element_at(tid)?;
        self.record_completed_at(tid, p, i);
        Ok(())
    }

    pub(super) fn record_completed_at(&mut self, tid: Id, p: &ProcIndex, i: usize) {
        let el = p.el(i);
        let mi_child = self.tokens.get(&tid).is_some_and(|t| t.mi_inner);
        let slot = self
            .tokens
            .get(&tid)
            .and_then(|t| t.slot.0)
            .map(|(slot, _)| slot)
            .or_else(|| self.procs.iter().position(|q| std::ptr::eq(&**q, p)).map(|s| s as u32));
        match slot {
            Some(slot) => self.completed_now.push((slot, i as u32, mi_child)),
            // (a token's process is always one of the instance's; should it not be, the record
            // is kept anyway, in order)
            None => {
                self.completed_before = self.completed().to_vec();
                self.completed_now.clear();
                self.completed_before.push(CompletedActivity {
                    element_id: p.ids[i].clone(),
                    process_id: p.process_id.clone(),
                    kind: el.kind,
                    mi_child,
                });
            }
        }
        if self.completed_view.get().is_some() {
            self.completed_view = std::sync::OnceLock::new();
        }
        if let Some(o) = &self.engine.inner.observer {
            o.on_element_completed(&self.event(p, el, mi_child));
        }
    }

    /// The token's element is done: record it, then loop, report to its multi-instance body,
    /// or leave along the outgoing flows.
    pub(crate) fn complete_activity(&mut self, tid: Id) -> Result<(), EngineError> {
        let (p, i) = self.token_element_at(tid)?;
        self.complete_activity_at(tid, p, i)
    }

    /// [`Instance::complete_activity`] for a caller that has the token's process and element.
    pub(crate) fn complete_activity_at(&mut self, tid: Id, p: &ProcIndex, i: usize) -> Result<(), EngineError> {
        self.record_completed_at(tid, p, i);
        self.disarm_timers(tid);
        self.settle_race(tid);
        let el = p.el(i);
        let mi_inner = self.tokens.get(&tid).is_some_and(|t| t.mi_inner);
        if mi_inner {
            return self.mi_child_done(tid);
        }
        if el.kind.is_activity() {
            let scope = self.tokens[&tid].scope;
            if let Some(s) = &el.post_script {
                self.run_script(p, &el.id, "post-script", s, scope)?;
            }
            self.check_data_outputs(p, el, scope)?;
        }
        self.leave_at(tid, p, i)
    }

    /// Moves a token along the outgoing flows of its element (conditions honoured, default
    /// flow when none holds); no outgoing flow ends the token.
    pub(super) fn leave_at(&mut self, tid: Id, p: &ProcIndex, ei: usize) -> Result<(), EngineError> {
        let scope = self.tokens[&tid].scope;
        let out = &p.out[ei];
        // the new tokens go in before the old one leaves (the same state either way, without
        // emptying the map in between); conditions read variables only, so each flow can be
        // taken as soon as its condition holds
        let mut taken = false;
        for &fi in &out.flows {
            let f = &p.process().flows[fi];
            let ok = match &f.condition {
                None => true,
                Some(c) => {
                    expr::truthy(&self.eval(p, &f.id, &format!("condition of sequence flow '{}'", f.id), c, scope)?)
                }
            };
            if ok {
                self.take_flow(scope, p, fi);
                taken = true;
            }
        }
        if !taken {
            if let Some(d) = out.default {
                // a default flow that does not exist ends the token without completing its scope
                if let Some(fi) = d {
                    self.take_flow(scope, p, fi);
                }
                taken = true;
            }
        }
        self.tokens.remove(&tid);
        if !taken {
            self.scope_check(scope)?;
        }
        Ok(())
    }

    /// A new token on flow `fi`, ready to enter its target.
    pub(super) fn take_flow(&mut self, scope: Id, p: &ProcIndex, fi: usize) {
        let tid = self.new_token(
            scope,
            p.flow_targets[fi].clone(),
            p.flow_via[fi].clone(),
            TokenState::Ready,
        );
        // the target is known: so is the new token's slot (same scope, same process)
        if let (Some(target), Some(slot)) = (
            p.flow_target_index[fi],
            self.procs.iter().position(|q| std::ptr::eq(&**q, p)),
        ) {
            if let Some(t) = self.tokens.get_mut(&tid) {
                t.slot = ElementSlot(Some((slot as u32, target as u32)));
            }
        }
    }

    /// Replaces token `tid` by one token on each of `flows`.
    pub(crate) fn take_flows(&mut self, tid: Id, p: &ProcIndex, flows: &[String]) -> Result<(), EngineError> {
        let scope = self
            .tokens
            .get(&tid)
            .map(|t| t.scope)
            .ok_or_else(|| EngineError::Store(format!("token {tid} is missing")))?;
        self.tokens.remove(&tid);
        for fid in flows {
            if let Some(&fi) = p.flows.get(fid.as_str()) {
                self.take_flow(scope, p, fi);
            }
        }
        if flows.is_empty() {
            self.scope_check(scope)?;
        }
        Ok(())
    }

    /// Ends token `tid` (no outgoing flow), then checks its scope.
    pub(crate) fn consume(&mut self, tid: Id) -> Result<(), EngineError> {
        if let Some(t) = self.tokens.remove(&tid) {
            self.disarm_timers(tid);
            self.scope_check(t.scope)?;
        }
        Ok(())
    }

    /// Removes a token and everything running under it (child scopes, timers), without
    /// checking its scope.
    pub(crate) fn cancel_token(&mut self, tid: Id) {
        let Some(t) = self.tokens.remove(&tid) else { return };
        self.disarm_timers(tid);
        self.races.remove(&tid);
        let children: Vec<Id> = self
            .scopes
            .values()
            .filter(|s| s.owner == Some(tid))
            .map(|s| s.id)
            .collect();
        for c in children {
            self.cancel_scope(c);
        }
        let _ = t;
    }
}
