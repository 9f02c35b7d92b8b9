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
        if self.races.is_empty() {
            return; // no event-based gateway is waiting (the common case): nothing to hash
        }
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

#[cfg(test)]
mod tests {
    use super::super::test_support::run;
    use crate::RunOutcome;
    use serde_json::json;

    #[test]
    fn the_timer_wins_when_no_message_comes() {
        let (o, done, _) = run(
            r#"<startEvent id="s"/><sequenceFlow id="a" sourceRef="s" targetRef="g"/><eventBasedGateway id="g"/>
            <sequenceFlow id="b" sourceRef="g" targetRef="m"/><sequenceFlow id="c" sourceRef="g" targetRef="t"/>
            <intermediateCatchEvent id="m"><messageEventDefinition/></intermediateCatchEvent>
            <intermediateCatchEvent id="t"><timerEventDefinition><timeDuration>PT1S</timeDuration></timerEventDefinition></intermediateCatchEvent>
            <sequenceFlow id="d" sourceRef="t" targetRef="end"/><endEvent id="end"/>"#,
            json!({}),
            0,
        );
        // both events wait; the timer is pending
        assert!(
            matches!(o, RunOutcome::Waiting { next_timer: Some(_), ref tasks, .. } if tasks.len() == 1 && tasks[0].element_id == "m"),
            "{o:?}"
        );
        assert_eq!(done, ["s", "g"]);
    }
}
