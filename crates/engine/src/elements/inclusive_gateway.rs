//! Inclusive gateways: a split takes every outgoing flow whose condition holds, else the
//! default flow, else the process fails; a join fires once no other token of its scope can
//! still reach it (the standard upstream-reachability rule).

use crate::error::EngineError;
use crate::instance::{Instance, ProcIndex};
use crate::state::{Id, TokenState};
use servicetask_bpmn::{expr, FlowElement};
use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

impl Instance {
    pub(crate) fn enter_inclusive_gateway(
        &mut self,
        tid: Id,
        p: &ProcIndex,
        el: &FlowElement,
    ) -> Result<(), EngineError> {
        if el.incoming.len() > 1 {
            if let Some(t) = self.tokens.get_mut(&tid) {
                t.state = TokenState::Joining;
            }
            self.try_fire_inclusive(tid, p, el)?;
            return Ok(());
        }
        self.split_inclusive(tid, p, el)
    }

    /// Fires the join `el` (where `tid` waits) if no other token can still arrive.
    pub(crate) fn try_fire_inclusive(&mut self, tid: Id, p: &ProcIndex, el: &FlowElement) -> Result<bool, EngineError> {
        let scope = self.tokens[&tid].scope;
        let waiting: Vec<Id> = self
            .tokens
            .values()
            .filter(|t| t.scope == scope && *t.element == *el.id && t.state == TokenState::Joining)
            .map(|t| t.id)
            .collect();
        let others: Vec<Arc<str>> = self
            .tokens
            .values()
            .filter(|t| t.scope == scope && !waiting.contains(&t.id))
            .map(|t| t.element.clone())
            .collect();
        if others.iter().any(|from| can_reach(p, from, &el.id)) {
            return Ok(false);
        }
        let keep = waiting.iter().copied().min().unwrap_or(tid);
        for t in waiting {
            if t != keep {
                self.tokens.remove(&t);
            }
        }
        if let Some(t) = self.tokens.get_mut(&keep) {
            t.state = TokenState::Ready;
        }
        self.split_inclusive(keep, p, el)?;
        Ok(true)
    }

    fn split_inclusive(&mut self, tid: Id, p: &ProcIndex, el: &FlowElement) -> Result<(), EngineError> {
        let scope = self.tokens[&tid].scope;
        let mut taken = Vec::new();
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
                taken.push(f.id.clone());
            }
        }
        if taken.is_empty() {
            match &el.default_flow {
                Some(d) => taken.push(d.clone()),
                None if !el.outgoing.is_empty() => {
                    return Err(EngineError::NoPathTaken {
                        at: p.location(&el.id),
                        gateway: format!("inclusive gateway '{}'", el.id),
                    });
                }
                None => {}
            }
        }
        self.record_completed(tid)?;
        self.take_flows(tid, p, &taken)
    }
}

/// True when a token at `from` can reach `target` along sequence flows (and boundary events).
pub(crate) fn can_reach(p: &ProcIndex, from: &str, target: &str) -> bool {
    let mut seen = HashSet::new();
    let mut queue = VecDeque::from([from.to_string()]);
    while let Some(cur) = queue.pop_front() {
        if cur == target {
            return true;
        }
        if !seen.insert(cur.clone()) {
            continue;
        }
        let Some(el) = p.element(&cur) else { continue };
        for fid in &el.outgoing {
            if let Some(f) = p.flow(fid) {
                queue.push_back(f.target.clone());
            }
        }
        for b in p.process().boundary_events(&cur) {
            queue.push_back(b.id.clone());
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::super::test_support::run;
    use crate::RunOutcome;
    use serde_json::json;

    #[test]
    fn split_takes_every_true_condition_and_the_join_waits_for_them() {
        let (o, done, _) = run(
            r#"<startEvent id="s"/><sequenceFlow id="a" sourceRef="s" targetRef="g"/><inclusiveGateway id="g"/>
            <sequenceFlow id="b" sourceRef="g" targetRef="t1"><conditionExpression>True</conditionExpression></sequenceFlow>
            <sequenceFlow id="c" sourceRef="g" targetRef="t2"><conditionExpression>True</conditionExpression></sequenceFlow>
            <sequenceFlow id="d" sourceRef="g" targetRef="t3"><conditionExpression>False</conditionExpression></sequenceFlow>
            <task id="t1"/><task id="t2"/><task id="t3"/>
            <sequenceFlow id="e" sourceRef="t1" targetRef="j"/><sequenceFlow id="f" sourceRef="t2" targetRef="j"/><sequenceFlow id="h" sourceRef="t3" targetRef="j"/>
            <inclusiveGateway id="j"/><sequenceFlow id="i" sourceRef="j" targetRef="end"/><endEvent id="end"/>"#,
            json!({}),
            0,
        );
        assert_eq!(o, RunOutcome::Completed);
        assert_eq!(done, ["s", "g", "t1", "t2", "j", "end"]);
    }
}
