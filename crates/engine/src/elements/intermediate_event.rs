//! Intermediate events: timer catches wait on a timer; message, signal and conditional catches
//! wait for the API; link throws jump to the matching link catch; other throws pass through.

use crate::error::EngineError;
use crate::instance::{Instance, ProcIndex};
use crate::state::{Id, TimerAction, TokenState};
use servicetask_bpmn::{ElementKind, EventDefinition, FlowElement, TimerKind};

impl Instance {
    pub(crate) fn enter_catch_event(&mut self, tid: Id, p: &ProcIndex, el: &FlowElement) -> Result<(), EngineError> {
        match &el.event {
            Some(EventDefinition::Timer { kind, expression }) => {
                let scope = self.tokens[&tid].scope;
                let (delay, repeats, interval) = self.timer_delay(p, el, *kind, expression, scope)?;
                if let Some(t) = self.tokens.get_mut(&tid) {
                    t.state = TokenState::Timer;
                }
                // a cycle that starts a pool of a collaboration starts it again at each firing
                let action = if *kind == TimerKind::Cycle && self.starts_pool(tid, el) {
                    TimerAction::PoolStart {
                        repeats_left: repeats,
                        interval_ms: interval.as_millis().min(u128::from(u64::MAX / 2)) as u64,
                    }
                } else {
                    TimerAction::Catch
                };
                self.add_timer(tid, delay, action);
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
        if !matches!(
            el.event,
            Some(EventDefinition::Signal { .. } | EventDefinition::Message { .. })
        ) {
            // an escalation goes at once to its catcher up the scopes
            let scope = self.tokens[&tid].scope;
            self.throw_event(p, el, scope)?;
            if !self.tokens.contains_key(&tid) {
                return Ok(()); // a boundary event it triggered interrupted its own scope
            }
            return self.complete_activity(tid);
        }
        // a signal or message throw completes and its token moves on first; the event is delivered once the
        // moved tokens can go no further (so an interrupting event subprocess it starts loses
        // neither the throw nor what followed it, as in SpiffWorkflow). A holder token keeps
        // the scope open until then.
        let scope = self.tokens[&tid].scope;
        let holder = self.new_token(scope, el.id.as_str(), None, TokenState::Throwing);
        self.pending_throws.push_back(holder);
        self.complete_activity(tid)
    }

    /// Delivers the event of the throw that `holder` stands for, then ends the holder.
    pub(crate) fn deliver_thrown(&mut self, holder: Id) -> Result<(), EngineError> {
        if !self.tokens.contains_key(&holder) {
            return Ok(()); // its scope was cancelled meanwhile
        }
        let (p, el) = self.token_element(holder)?;
        let scope = self.tokens[&holder].scope;
        self.throw_event(&p, &el, scope)?;
        self.consume(holder)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::run;
    use crate::RunOutcome;
    use serde_json::json;

    /// A signal thrown in the scope of the interrupting event subprocess it starts: the throw
    /// and the end event after it complete, then the event subprocess runs.
    #[test]
    fn a_signal_thrown_into_its_own_event_subprocess_keeps_the_throw_and_what_follows() {
        let (o, done, vars) = run(
            r#"<startEvent id="s"/><sequenceFlow id="a" sourceRef="s" targetRef="throw"/>
            <intermediateThrowEvent id="throw"><signalEventDefinition signalRef="sig"/></intermediateThrowEvent>
            <sequenceFlow id="b" sourceRef="throw" targetRef="end"/><endEvent id="end"/>
            <subProcess id="handler" triggeredByEvent="true">
              <startEvent id="hs"><signalEventDefinition signalRef="sig"/></startEvent>
              <sequenceFlow id="c" sourceRef="hs" targetRef="work"/><scriptTask id="work"><script>handled = True</script></scriptTask>
              <sequenceFlow id="d" sourceRef="work" targetRef="he"/><endEvent id="he"/>
            </subProcess>"#,
            json!({}),
            0,
        );
        assert_eq!(o, RunOutcome::Completed);
        assert_eq!(done, ["s", "throw", "end", "hs", "work", "he", "handler"]);
        assert_eq!(vars.get("handled"), Some(&json!(true)));
    }

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
