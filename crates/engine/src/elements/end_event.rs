//! End events: none (the token ends), terminate (its scope ends), error (thrown to the nearest
//! matching error boundary event).

use crate::error::EngineError;
use crate::instance::{Instance, ProcIndex};
use crate::state::Id;
use servicetask_bpmn::{EventDefinition, FlowElement};

impl Instance {
    pub(crate) fn enter_end_event(&mut self, tid: Id, p: &ProcIndex, el: &FlowElement) -> Result<(), EngineError> {
        match &el.event {
            Some(EventDefinition::Terminate) => {
                self.record_completed(tid)?;
                let scope = self.tokens[&tid].scope;
                let others: Vec<Id> = self
                    .tokens
                    .values()
                    .filter(|t| t.scope == scope && t.id != tid)
                    .map(|t| t.id)
                    .collect();
                for o in others {
                    self.cancel_token(o);
                }
                self.consume(tid)
            }
            Some(EventDefinition::Error { error_ref }) => {
                self.record_completed(tid)?;
                let scope = self.tokens[&tid].scope;
                let (code, payload) = match error_ref.as_deref().and_then(|r| p.defs.error(r)) {
                    Some(def) => {
                        let code = def
                            .code
                            .clone()
                            .or_else(|| def.name.clone())
                            .unwrap_or_else(|| def.id.clone());
                        let payload = match &def.payload_expression {
                            Some(src) if !src.is_empty() => Some(self.eval(p, &el.id, "error payload", src, scope)?),
                            _ => None,
                        };
                        (code, payload)
                    }
                    None => (error_ref.clone().unwrap_or_default(), None),
                };
                let thrown = super::Thrown {
                    code,
                    error_ref: error_ref.clone(),
                    message: String::new(),
                    payload,
                    variables: Default::default(),
                };
                let owner = self.scopes.get(&scope).and_then(|s| s.owner);
                self.tokens.remove(&tid);
                self.throw_error(owner, thrown, p.location(&el.id), true, Some(scope))
            }
            _ => {
                self.record_completed(tid)?;
                let scope = self.tokens[&tid].scope;
                self.throw_event(p, el, scope)?;
                self.consume(tid)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::run;
    use crate::RunOutcome;
    use serde_json::json;

    #[test]
    fn terminate_ends_the_other_branch() {
        let (o, done, _) = run(
            r#"<startEvent id="s"/><sequenceFlow id="a" sourceRef="s" targetRef="g"/><parallelGateway id="g"/>
            <sequenceFlow id="b" sourceRef="g" targetRef="u"/><userTask id="u"/><sequenceFlow id="c" sourceRef="g" targetRef="t"/>
            <endEvent id="t"><terminateEventDefinition/></endEvent>"#,
            json!({}),
            0,
        );
        assert_eq!(o, RunOutcome::Completed);
        assert_eq!(done, ["s", "g", "t"]);
    }
}
