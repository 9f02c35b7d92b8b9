//! Finding a token's process and element: the processes an instance has indexed, and the slot a
//! token keeps so the hot path looks its element up once.

use super::{Instance, ProcIndex};
use crate::error::EngineError;
use crate::state::*;
use servicetask_bpmn::FlowElement;
use std::sync::Arc;

impl Instance {
    pub(crate) fn proc(&mut self, process_id: &str) -> Result<Arc<ProcIndex>, EngineError> {
        if let Some(p) = self.procs_get(process_id) {
            return Ok(p);
        }
        let p = self
            .engine
            .find_process(&self.compiled, process_id)
            .ok_or_else(|| EngineError::UnknownProcess {
                process_id: process_id.to_string(),
                at: None,
            })?;
        self.procs.push(p.clone());
        Ok(p)
    }

    /// The already-indexed process `id`, if any.
    pub(crate) fn procs_get(&self, id: &str) -> Option<Arc<ProcIndex>> {
        self.procs.iter().find(|p| p.process().id == id).cloned()
    }

    pub(crate) fn proc_of_scope(&mut self, scope: Id) -> Result<Arc<ProcIndex>, EngineError> {
        let s = self
            .scopes
            .get(&scope)
            .ok_or_else(|| EngineError::Store(format!("scope {scope} is missing")))?;
        if let Some(p) = self.procs_get(&s.process_id) {
            return Ok(p);
        }
        let pid = s.process_id.clone();
        self.proc(&pid)
    }

    /// The element a token is at, with its process.
    pub(crate) fn token_element(&mut self, tid: Id) -> Result<(Arc<ProcIndex>, Arc<FlowElement>), EngineError> {
        let (p, i) = self.token_element_at(tid)?;
        let el = p.els[i].clone();
        let p = self
            .procs
            .iter()
            .find(|q| std::ptr::eq(&***q, p))
            .cloned()
            .ok_or_else(|| EngineError::Store(format!("token {tid}: its process is gone")))?;
        Ok((p, el))
    }

    /// Process slot `slot` of this instance, borrowed independently of `self`.
    ///
    /// The hot path reads the process (immutable, shared) while it changes the instance's
    /// tokens; cloning the `Arc` for that costs two atomic operations per lookup, a measurable
    /// share of a step. The reference is sound because an instance never removes or replaces
    /// an entry of `procs` (it only pushes), and an `Arc`'s pointee never moves: whatever
    /// happens to `self` during one of its methods, the index stays alive and in place. The
    /// lifetime is the caller's to choose, so this stays private to the instance's methods and
    /// the reference must never be stored.
    pub(super) fn proc_at<'p>(&self, slot: usize) -> &'p ProcIndex {
        let p: *const ProcIndex = Arc::as_ptr(&self.procs[slot]);
        // SAFETY: see above: the `Arc` in `self.procs[slot]` lives as long as `self`, which
        // outlives the method that asked, and its pointee is never moved nor mutated.
        unsafe { &*p }
    }

    /// The process a token is in and the index of its element there (`p.el(i)`).
    pub(crate) fn token_element_at<'p>(&mut self, tid: Id) -> Result<(&'p ProcIndex, usize), EngineError> {
        let token = self
            .tokens
            .get(&tid)
            .ok_or_else(|| EngineError::Store(format!("token {tid} is missing")))?;
        // a token never changes scope or element: found once, kept on the token
        if let ElementSlot(Some((slot, i))) = token.slot {
            return Ok((self.proc_at(slot as usize), i as usize));
        }
        let scope = token.scope;
        let p = self.proc_of_scope(scope)?;
        let element = &self.tokens[&tid].element;
        let i = p.element_index(element).ok_or_else(|| {
            EngineError::Store(format!(
                "element '{element}' is missing from process '{}'",
                p.process().id
            ))
        })?;
        let slot = self
            .procs
            .iter()
            .position(|q| Arc::ptr_eq(q, &p))
            .ok_or_else(|| EngineError::Store(format!("process '{}' is not indexed", p.process().id)))?;
        if let Some(t) = self.tokens.get_mut(&tid) {
            t.slot = ElementSlot(Some((slot as u32, i as u32)));
        }
        Ok((self.proc_at(slot), i))
    }
}
