//! Escalation events: an escalation thrown (intermediate throw or end event) travels up to the
//! nearest escalation event subprocess or boundary event of an enclosing activity; a
//! non-interrupting catcher lets the thrower go on. An escalation nobody catches is dropped.

use super::event_subprocess::Trigger;
use crate::error::EngineError;
use crate::instance::Instance;
use crate::state::Id;
use servicetask_bpmn::EventDefinition;

impl Instance {
    /// Throws escalation `code` from a token in `scope`; true when something caught it.
    pub(crate) fn throw_escalation(&mut self, scope: Id, code: Option<&str>) -> Result<bool, EngineError> {
        let mut cur = scope;
        loop {
            if self.trigger_event_subprocess(cur, &Trigger::Escalation(code))? {
                return Ok(true);
            }
            let Some(mut owner) = self.scopes.get(&cur).and_then(|s| s.owner) else {
                return Ok(false);
            };
            // a multi-instance child's boundary events belong to its body
            while self.tokens.get(&owner).is_some_and(|t| t.mi_inner) {
                let Some(next) = self
                    .tokens
                    .get(&owner)
                    .and_then(|t| self.scopes.get(&t.scope))
                    .and_then(|s| s.owner)
                else {
                    return Ok(false);
                };
                owner = next;
            }
            let Some(tok) = self.tokens.get(&owner).cloned() else {
                return Ok(false);
            };
            let p = self.proc_of_scope(tok.scope)?;
            let mut specific = None;
            let mut catch_all = None;
            for b in p.process().boundary_events(&tok.element) {
                if let Some(EventDefinition::Escalation { escalation_ref }) = &b.event {
                    match escalation_ref {
                        None => {
                            catch_all.get_or_insert((b.id.clone(), b.cancel_activity));
                        }
                        Some(r) if Some(r.as_str()) == code => {
                            specific = Some((b.id.clone(), b.cancel_activity));
                            break;
                        }
                        Some(_) => {}
                    }
                }
            }
            if let Some((b, interrupting)) = specific.or(catch_all) {
                self.fire_boundary(owner, &b, interrupting)?;
                return Ok(true);
            }
            cur = tok.scope;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::run;
    use crate::RunOutcome;
    use serde_json::json;

    #[test]
    fn a_non_interrupting_escalation_boundary_lets_the_subprocess_go_on() {
        let (o, done, _) = run(
            r#"<startEvent id="s"/><sequenceFlow id="a" sourceRef="s" targetRef="sub"/>
            <subProcess id="sub"><startEvent id="ss"/><sequenceFlow id="b" sourceRef="ss" targetRef="esc"/>
              <intermediateThrowEvent id="esc"><escalationEventDefinition/></intermediateThrowEvent>
              <sequenceFlow id="c" sourceRef="esc" targetRef="se"/><endEvent id="se"/></subProcess>
            <boundaryEvent id="b_esc" attachedToRef="sub" cancelActivity="false"><escalationEventDefinition/></boundaryEvent>
            <sequenceFlow id="d" sourceRef="b_esc" targetRef="notified"/><endEvent id="notified"/>
            <sequenceFlow id="e" sourceRef="sub" targetRef="end"/><endEvent id="end"/>"#,
            json!({}),
            0,
        );
        assert_eq!(o, RunOutcome::Completed);
        for id in ["esc", "b_esc", "notified", "se", "sub", "end"] {
            assert!(done.contains(&id.to_string()), "{id} missing from {done:?}");
        }
    }

    #[test]
    fn an_interrupting_escalation_boundary_cancels_the_subprocess() {
        let (o, done, _) = run(
            r#"<startEvent id="s"/><sequenceFlow id="a" sourceRef="s" targetRef="sub"/>
            <subProcess id="sub"><startEvent id="ss"/><sequenceFlow id="b" sourceRef="ss" targetRef="esc"/>
              <endEvent id="esc"><escalationEventDefinition/></endEvent></subProcess>
            <boundaryEvent id="b_esc" attachedToRef="sub"><escalationEventDefinition/></boundaryEvent>
            <sequenceFlow id="d" sourceRef="b_esc" targetRef="escalated"/><endEvent id="escalated"/>
            <sequenceFlow id="e" sourceRef="sub" targetRef="end"/><endEvent id="end"/>"#,
            json!({}),
            0,
        );
        assert_eq!(o, RunOutcome::Completed);
        assert!(
            done.contains(&"escalated".to_string()) && !done.contains(&"end".to_string()),
            "{done:?}"
        );
    }
}
