//! Parallel gateways: a join waits for a token on every incoming flow, then one token leaves
//! on every outgoing flow.

use crate::error::EngineError;
use crate::instance::{Instance, ProcIndex};
use crate::state::{Id, TokenState};
use servicetask_bpmn::FlowElement;

impl Instance {
    pub(crate) fn enter_parallel_gateway(
        &mut self,
        tid: Id,
        p: &ProcIndex,
        el: &FlowElement,
    ) -> Result<(), EngineError> {
        if el.incoming.len() > 1 {
            let scope = self.tokens[&tid].scope;
            if let Some(t) = self.tokens.get_mut(&tid) {
                t.state = TokenState::Joining;
            }
            // one waiting token per incoming flow
            let mut picked = Vec::new();
            for fid in &el.incoming {
                let found = self.tokens.values().find(|t| {
                    t.scope == scope
                        && *t.element == *el.id
                        && t.state == TokenState::Joining
                        && t.via.as_deref() == Some(fid.as_str())
                        && !picked.contains(&t.id)
                });
                match found {
                    Some(t) => picked.push(t.id),
                    None => return Ok(()),
                }
            }
            let keep = picked[0];
            for t in picked.into_iter().skip(1) {
                self.tokens.remove(&t);
            }
            self.record_completed(keep)?;
            let outgoing = el.outgoing.clone();
            return self.take_flows(keep, p, &outgoing);
        }
        self.record_completed(tid)?;
        let outgoing = el.outgoing.clone();
        self.take_flows(tid, p, &outgoing)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::run;
    use crate::RunOutcome;
    use serde_json::json;

    #[test]
    fn join_fires_once_all_branches_arrive() {
        let (o, done, _) = run(
            r#"<startEvent id="s"/><sequenceFlow id="a" sourceRef="s" targetRef="g"/><parallelGateway id="g"/>
            <sequenceFlow id="b" sourceRef="g" targetRef="u"/><sequenceFlow id="c" sourceRef="g" targetRef="j"/>
            <userTask id="u"/><sequenceFlow id="d" sourceRef="u" targetRef="j"/><parallelGateway id="j"/>
            <sequenceFlow id="e" sourceRef="j" targetRef="end"/><endEvent id="end"/>"#,
            json!({}),
            1,
        );
        assert_eq!(o, RunOutcome::Completed);
        assert_eq!(done, ["s", "g", "u", "j", "end"]);
    }
}
