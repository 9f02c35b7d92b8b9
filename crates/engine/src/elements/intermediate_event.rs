//! Intermediate events: timer catches wait on a timer; message, signal and conditional catches
//! wait for the API; link throws jump to the matching link catch; other throws pass through.

use crate::error::EngineError;
use crate::instance::{Instance, ProcIndex};
use crate::state::{Id, TimerAction, TokenState};
use servicetask_bpmn::{ElementKind, EventDefinition, FlowElement};

impl Instance {
    pub(crate) fn enter_catch_event(&mut self, tid: Id, p: &ProcIndex, el: &FlowElement) -> Result<(), EngineError> {
        match &el.event {
            Some(EventDefinition::Timer { kind, expression }) => {
                let scope = self.tokens[&tid].scope;
                let (delay, _, _) = self.timer_delay(p, el, *kind, expression, scope)?;
                if let Some(t) = self.tokens.get_mut(&tid) {
                    t.state = TokenState::Timer;
                }
                self.add_timer(tid, delay, TimerAction::Catch);
                Ok(())
            }
            Some(EventDefinition::Message { .. })
            | Some(EventDefinition::Signal { .. })
            | Some(EventDefinition::Conditional { .. }) => {
                if let Some(t) = self.tokens.get_mut(&tid) {
                    t.state = TokenState::Waiting;
                }
                self.take_pending_message(tid)
            }
            _ => self.complete_activity(tid),
        }
    }

    pub(crate) fn enter_throw_event(&mut self, tid: Id, p: &ProcIndex, el: &FlowElement) -> Result<(), EngineError> {
        if let Some(EventDefinition::Link { name }) = &el.event {
            let target = p
                .process()
                .children(el.parent.as_deref())
                .find(|c| {
                    c.kind == ElementKind::IntermediateCatchEvent
                        && matches!(&c.event, Some(EventDefinition::Link { name: n }) if n == name)
                })
                .map(|c| c.id.clone());
            let Some(target) = target else {
                return Err(EngineError::Unsupported {
                    at: p.location(&el.id),
                    what: format!("link throw event '{}' without a matching link catch event", el.id),
                    help: "add an intermediate catch event with a linkEventDefinition of the same name".to_string(),
                });
            };
            self.record_completed(tid)?;
            let scope = self.tokens[&tid].scope;
            self.tokens.remove(&tid);
            self.new_token(scope, target.as_str(), None, TokenState::Ready);
            return Ok(());
        }
        let scope = self.tokens[&tid].scope;
        self.throw_event_definition(p, el.event.as_ref(), scope)?;
        if !self.tokens.contains_key(&tid) {
            return Ok(()); // a boundary event it triggered interrupted its own scope
        }
        self.complete_activity(tid)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::run;
    use crate::RunOutcome;
    use serde_json::json;

    #[test]
    fn link_throw_jumps_to_its_catch() {
        let (o, done, _) = run(
            r#"<startEvent id="s"/><sequenceFlow id="a" sourceRef="s" targetRef="l"/>
            <intermediateThrowEvent id="l"><linkEventDefinition name="next"/></intermediateThrowEvent>
            <intermediateCatchEvent id="c"><linkEventDefinition name="next"/></intermediateCatchEvent>
            <sequenceFlow id="b" sourceRef="c" targetRef="end"/><endEvent id="end"/>"#,
            json!({}),
            0,
        );
        assert_eq!(o, RunOutcome::Completed);
        assert_eq!(done, ["s", "l", "c", "end"]);
    }
}

#[cfg(test)]
mod timer_start_tests {
    use super::super::test_support::run;
    use crate::RunOutcome;
    use serde_json::json;

    #[test]
    fn a_timer_start_event_waits_for_its_timer() {
        let (o, done, _) = run(
            r#"<startEvent id="s"><timerEventDefinition><timeDuration>PT2S</timeDuration></timerEventDefinition></startEvent>
            <sequenceFlow id="a" sourceRef="s" targetRef="end"/><endEvent id="end"/>"#,
            json!({}),
            0,
        );
        assert_eq!(
            o,
            RunOutcome::Completed,
            "run() sleeps (paused clock) until the start timer fires"
        );
        assert_eq!(done, ["s", "end"]);
    }
}
