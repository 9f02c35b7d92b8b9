//! Inclusive gateways: a split takes every outgoing flow whose condition holds, else the
//! default flow, else the process fails; a join fires once no other token of its scope can
//! still reach one of its incoming flows that holds no token (BPMN 2.0 §13.4.3), consuming
//! one token per flow that holds one.

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

    /// Fires the join `el` (where `tid` waits) when BPMN 2.0 §13.4.3 activates it: some
    /// incoming flow holds a token, and no other token of the scope can still reach an
    /// incoming flow that holds none (without passing the gateway). It consumes one token per
    /// incoming flow that has one (the first to arrive); a second token on the same flow
    /// stays and fires the join again later.
    pub(crate) fn try_fire_inclusive(&mut self, tid: Id, p: &ProcIndex, el: &FlowElement) -> Result<bool, EngineError> {
        let scope = self.tokens[&tid].scope;
        let mut waiting: Vec<(Id, Option<Arc<str>>)> = self
            .tokens
            .values()
            .filter(|t| t.scope == scope && *t.element == *el.id && t.state == TokenState::Joining)
            .map(|t| (t.id, t.via.clone()))
            .collect();
        waiting.sort_by_key(|(id, _)| *id);
        let mut filled: HashSet<Option<Arc<str>>> = HashSet::new();
        let mut picked = Vec::new();
        for (id, via) in &waiting {
            if filled.insert(via.clone()) {
                picked.push(*id);
            }
        }
        let empty_sources: HashSet<&str> = el
            .incoming
            .iter()
            .filter(|f| !filled.contains(&Some(Arc::from(f.as_str()))))
            .filter_map(|f| p.flow(f))
            .map(|f| f.source.as_str())
            // a flow out of the gateway back into it is reached only through the gateway
            .filter(|s| *s != el.id)
            .collect();
        let blocked = !empty_sources.is_empty()
            && self
                .tokens
                .values()
                .filter(|t| t.scope == scope && !waiting.iter().any(|(id, _)| *id == t.id))
                .any(|t| {
                    if *t.element == *el.id {
                        // on its way in along an incoming flow: it fills that flow if empty
                        !filled.contains(&t.via)
                    } else {
                        can_reach_any(p, &t.element, &empty_sources, &el.id)
                    }
                });
        if blocked {
            return Ok(false);
        }
        let Some(&keep) = picked.first() else {
            return Ok(false);
        };
        for t in picked.into_iter().skip(1) {
            self.tokens.remove(&t);
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

/// True when a token at `from` can reach one of `targets` along sequence flows (and
/// boundary events), never passing through `avoid` (the join itself).
pub(crate) fn can_reach_any(p: &ProcIndex, from: &str, targets: &HashSet<&str>, avoid: &str) -> bool {
    let mut seen = HashSet::new();
    let mut queue = VecDeque::from([from.to_string()]);
    while let Some(cur) = queue.pop_front() {
        if targets.contains(cur.as_str()) {
            return true;
        }
        if cur == avoid || !seen.insert(cur.clone()) {
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

    /// BPMN 2.0 §13.4.3: one token per incoming flow is consumed; a second token on the same
    /// flow fires the join again once nothing can reach its empty flows.
    #[test]
    fn two_tokens_on_one_flow_fire_the_join_twice() {
        let (o, done, _) = run(
            r#"<startEvent id="s"/><sequenceFlow id="a" sourceRef="s" targetRef="g"/><parallelGateway id="g"/>
            <sequenceFlow id="x1" sourceRef="g" targetRef="m"/><sequenceFlow id="x2" sourceRef="g" targetRef="m"/>
            <sequenceFlow id="l" sourceRef="g" targetRef="j"/><task id="m"/><sequenceFlow id="k" sourceRef="m" targetRef="j"/>
            <inclusiveGateway id="j"/><sequenceFlow id="i" sourceRef="j" targetRef="end"/><endEvent id="end"/>"#,
            json!({}),
            0,
        );
        assert_eq!(o, RunOutcome::Completed);
        let count = |id: &str| done.iter().filter(|d| *d == id).count();
        assert_eq!((count("m"), count("j"), count("end")), (2, 2, 2), "{done:?}");
    }

    /// A flow from the join back into itself can only be reached through the join: it does
    /// not hold the join back, nor does a token that can reach only flows already holding one.
    #[test]
    fn a_self_loop_and_a_filled_flow_do_not_hold_the_join_back() {
        let (o, done, _) = run(
            r#"<startEvent id="s"/><sequenceFlow id="a" sourceRef="s" targetRef="g"/><parallelGateway id="g"/>
            <sequenceFlow id="x1" sourceRef="g" targetRef="m"/><sequenceFlow id="x2" sourceRef="g" targetRef="u"/>
            <userTask id="u"/><sequenceFlow id="x3" sourceRef="u" targetRef="m"/>
            <task id="m"/><sequenceFlow id="k" sourceRef="m" targetRef="j"/>
            <inclusiveGateway id="j" default="i"/><sequenceFlow id="c" sourceRef="j" targetRef="j"><conditionExpression>False</conditionExpression></sequenceFlow>
            <sequenceFlow id="i" sourceRef="j" targetRef="end"/><endEvent id="end"/>"#,
            json!({}),
            1,
        );
        assert_eq!(o, RunOutcome::Completed);
        assert_eq!(done, ["s", "g", "m", "j", "end", "u", "m", "j", "end"]);
    }
}
