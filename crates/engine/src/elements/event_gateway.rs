//! Event-based gateways: tokens wait at every following catch event; the first to complete
//! wins and the others are withdrawn.

use crate::error::EngineError;
use crate::instance::{Instance, ProcIndex};
use crate::state::Id;
use servicetask_bpmn::FlowElement;

impl Instance {
    pub(crate) fn enter_event_gateway(&mut self, tid: Id, p: &ProcIndex, el: &FlowElement) -> Result<(), EngineError> {
        self.record_completed(tid)?;
        let outgoing = el.outgoing.clone();
        let before: Vec<Id> = self.tokens.keys().copied().collect();
        self.take_flows(tid, p, &outgoing)?;
        let group = tid;
        let new: Vec<Id> = self.tokens.keys().copied().filter(|k| !before.contains(k)).collect();
        for t in new {
            self.races.insert(t, group);
        }
        Ok(())
    }

    /// When a token of an event-gateway race completes its event, withdraws the others.
    pub(crate) fn settle_race(&mut self, tid: Id) {
        let Some(group) = self.races.remove(&tid) else { return };
        let losers: Vec<Id> = self
            .races
            .iter()
            .filter(|(_, g)| **g == group)
            .map(|(t, _)| *t)
            .collect();
        for l in losers {
            self.races.remove(&l);
            self.cancel_token(l);
        }
    }
}
