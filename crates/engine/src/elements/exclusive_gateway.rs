//! Exclusive gateways: a split takes the first outgoing flow whose condition holds (document
//! order), else the default flow, else the process fails with a clear error; a merge passes
//! every arriving token on.

use crate::error::EngineError;
use crate::instance::{Instance, ProcIndex};
use crate::state::Id;
use servicetask_bpmn::{expr, FlowElement};

impl Instance {
    pub(crate) fn enter_exclusive_gateway(
        &mut self,
        tid: Id,
        p: &ProcIndex,
        el: &FlowElement,
    ) -> Result<(), EngineError> {
        let scope = self.tokens[&tid].scope;
        let mut chosen = None;
        for fid in &el.outgoing {
            if Some(fid) == el.default_flow.as_ref() {
                continue;
            }
            let Some(f) = p.flow(fid) else { continue };
            let ok = match &f.condition {
                None => true,
                Some(c) => {
                    expr::truthy(&self.eval(p, &f.id, &format!("condition of sequence flow '{}'", f.id), c, scope)?)
                }
            };
            if ok {
                chosen = Some(f.id.clone());
                break;
            }
        }
        let chosen = chosen.or_else(|| el.default_flow.clone());
        match chosen {
            Some(f) => {
                self.record_completed(tid)?;
                self.take_flows(tid, p, &[f])
            }
            None if el.outgoing.is_empty() => {
                self.record_completed(tid)?;
                self.consume(tid)
            }
            None => Err(EngineError::NoPathTaken {
                at: p.location(&el.id),
                gateway: format!("exclusive gateway '{}'", el.id),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::run;
    use crate::RunOutcome;
    use serde_json::json;

    #[test]
    fn first_true_condition_then_default_then_error() {
        let model = r#"<startEvent id="s"/><sequenceFlow id="a" sourceRef="s" targetRef="g"/><exclusiveGateway id="g"/>
            <sequenceFlow id="b" sourceRef="g" targetRef="e1"><conditionExpression>x &gt; 1</conditionExpression></sequenceFlow>
            <sequenceFlow id="c" sourceRef="g" targetRef="e2"><conditionExpression>x &gt; 0</conditionExpression></sequenceFlow>
            <endEvent id="e1"/><endEvent id="e2"/>"#;
        assert_eq!(run(model, json!({"x": 5}), 0).1, ["s", "g", "e1"]);
        assert_eq!(run(model, json!({"x": 1}), 0).1, ["s", "g", "e2"]);
        let (o, _, _) = run(model, json!({"x": 0}), 0);
        assert!(
            matches!(o, RunOutcome::Failed(crate::EngineError::NoPathTaken { .. })),
            "{o:?}"
        );
    }
}
