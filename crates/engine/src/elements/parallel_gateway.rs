//! Parallel gateways: a join waits for a token on every incoming flow, then one token leaves
//! on every outgoing flow.
//!
//! BPMN 2.0 §13.4.2: the gateway is activated when each incoming flow holds a token; it
//! consumes exactly one token per incoming flow, and extra tokens on a flow wait for the next
//! activation. A join that sits in a loop has two kinds of incoming flow: *entry flows*,
//! reachable from the scope's start without passing the join, and *loop flows*, whose source
//! can only be reached through the join itself (the way back round the loop). Before the
//! join first fires no token can be on a loop flow, and after the loop went round no token
//! can come by an entry flow again; waiting for both would deadlock every such model. So the
//! join waits for one token on each flow *of the kind the arriving token came by* (as
//! SpiffWorkflow does, which skips the inputs only reachable from the join's own
//! descendants). A join without loop flows is the plain rule; a flow that cannot receive a
//! token for any other reason (a branch an exclusive split did not take) still blocks the
//! join, and the instance reports it as stuck.

use crate::error::EngineError;
use crate::instance::{Instance, ProcIndex};
use crate::state::{Id, TokenState};
use servicetask_bpmn::{ElementKind, EventDefinition, FlowElement, Process};
use std::collections::{HashMap, VecDeque};

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
            // one waiting token per incoming flow of the arriving token's kind (entry or loop)
            let kind_of = |fid: &str| p.flow_index(fid).is_some_and(|fi| p.loop_flow[fi]);
            let arrived = self.tokens[&tid].via.as_deref().is_some_and(kind_of);
            let mut picked = Vec::new();
            for fid in el.incoming.iter().filter(|f| kind_of(f) == arrived) {
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
            // no incoming flow of the arriving token's kind (a token with no recorded flow at
            // a join whose flows are all loop flows): nothing to fire; the stuck check names it
            let Some(&keep) = picked.first() else {
                return Ok(());
            };
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

/// Per flow of `p`: true when it enters a parallel join and its source can only be reached
/// through that join (a loop flow, see the module doc).
///
/// The graph (successors, entry points) is built once, so each join costs one walk over it:
/// linear in the model per join, also for a gateway with thousands of flows.
pub(crate) fn loop_flows(p: &Process) -> Vec<bool> {
    let mut out = vec![false; p.flows.len()];
    let joins: Vec<usize> = p
        .elements
        .iter()
        .enumerate()
        .filter(|(_, e)| e.kind == ElementKind::ParallelGateway && e.incoming.len() >= 2)
        .map(|(i, _)| i)
        .collect();
    if joins.is_empty() {
        return out;
    }
    let graph = Graph::new(p);
    let mut flows_into: HashMap<&str, Vec<usize>> = HashMap::new();
    for (fi, f) in p.flows.iter().enumerate() {
        flows_into.entry(f.target.as_str()).or_default().push(fi);
    }
    for j in joins {
        let join = &p.elements[j];
        let reached = graph.reachable_avoiding(join.parent.as_deref(), j);
        for &fi in flows_into.get(join.id.as_str()).into_iter().flatten() {
            out[fi] = graph
                .index
                .get(p.flows[fi].source.as_str())
                .is_none_or(|&s| !reached[s]);
        }
    }
    out
}

/// The elements of a process as a graph: what follows each element along sequence flows,
/// boundary events and links, and where each container's paths begin.
struct Graph<'p> {
    index: HashMap<&'p str, usize>,
    successors: Vec<Vec<usize>>,
    /// Per container: its start events and elements without incoming flows (neither boundary
    /// events nor link catches), outside event subprocesses.
    entries: HashMap<Option<&'p str>, Vec<usize>>,
}

impl<'p> Graph<'p> {
    fn new(p: &'p Process) -> Self {
        let is_link_catch = |e: &FlowElement| {
            e.kind == ElementKind::IntermediateCatchEvent && matches!(e.event, Some(EventDefinition::Link { .. }))
        };
        let index: HashMap<&str, usize> = p.elements.iter().enumerate().map(|(i, e)| (e.id.as_str(), i)).collect();
        let mut successors = vec![Vec::new(); p.elements.len()];
        for f in &p.flows {
            if let (Some(&s), Some(&t)) = (index.get(f.source.as_str()), index.get(f.target.as_str())) {
                successors[s].push(t);
            }
        }
        let mut catches: HashMap<(Option<&str>, Option<&str>), Vec<usize>> = HashMap::new();
        let mut entries: HashMap<Option<&str>, Vec<usize>> = HashMap::new();
        for (i, e) in p.elements.iter().enumerate() {
            if let Some(&a) = e.attached_to.as_deref().and_then(|a| index.get(a)) {
                successors[a].push(i);
            }
            if let (true, Some(EventDefinition::Link { name })) = (is_link_catch(e), &e.event) {
                catches
                    .entry((e.parent.as_deref(), name.as_deref()))
                    .or_default()
                    .push(i);
            }
            let entry = e.kind == ElementKind::StartEvent
                || (e.incoming.is_empty() && e.kind != ElementKind::BoundaryEvent && !is_link_catch(e));
            if entry && !e.triggered_by_event {
                entries.entry(e.parent.as_deref()).or_default().push(i);
            }
        }
        for (i, e) in p.elements.iter().enumerate() {
            if let (ElementKind::IntermediateThrowEvent, Some(EventDefinition::Link { name })) = (e.kind, &e.event) {
                if let Some(c) = catches.get(&(e.parent.as_deref(), name.as_deref())) {
                    successors[i].extend(c);
                }
            }
        }
        Graph {
            index,
            successors,
            entries,
        }
    }

    /// The elements reachable from `container`'s entry points, never passing element `avoid`.
    fn reachable_avoiding(&self, container: Option<&str>, avoid: usize) -> Vec<bool> {
        let mut reached = vec![false; self.successors.len()];
        let mut queue: VecDeque<usize> = self.entries.get(&container).cloned().unwrap_or_default().into();
        while let Some(i) = queue.pop_front() {
            if i == avoid || reached[i] {
                continue;
            }
            reached[i] = true;
            queue.extend(self.successors[i].iter().copied().filter(|&n| !reached[n]));
        }
        reached
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

    /// A loop back into a join (which also splits): it fires on the entry flow the first time
    /// and on the loop flow after that, as SpiffWorkflow does.
    #[test]
    fn a_loop_back_into_a_join_fires_each_time_round() {
        let (o, done, vars) = run(
            r#"<startEvent id="s"/><sequenceFlow id="a" sourceRef="s" targetRef="j"/><parallelGateway id="j"/>
            <sequenceFlow id="b" sourceRef="j" targetRef="t1"/><sequenceFlow id="c" sourceRef="j" targetRef="t2"/>
            <scriptTask id="t1"><script>n += 1</script></scriptTask><task id="t2"/>
            <sequenceFlow id="d" sourceRef="t1" targetRef="k"/><sequenceFlow id="e" sourceRef="t2" targetRef="k"/>
            <parallelGateway id="k"/><sequenceFlow id="f" sourceRef="k" targetRef="x"/><exclusiveGateway id="x" default="h"/>
            <sequenceFlow id="g" sourceRef="x" targetRef="j"><conditionExpression>n &lt; 3</conditionExpression></sequenceFlow>
            <sequenceFlow id="h" sourceRef="x" targetRef="end"/><endEvent id="end"/>"#,
            json!({"n": 0}),
            0,
        );
        assert_eq!(o, RunOutcome::Completed);
        assert_eq!(vars.get("n"), Some(&json!(3)));
        assert_eq!(done.iter().filter(|d| *d == "j").count(), 3);
        assert_eq!(done.iter().filter(|d| *d == "k").count(), 3);
    }

    /// A branch that an exclusive split did not take still blocks a parallel join (the
    /// specification's deadlock, reported with the join's position).
    #[test]
    fn a_join_missing_a_branch_that_was_not_taken_is_stuck() {
        let (o, _, _) = run(
            r#"<startEvent id="s"/><sequenceFlow id="a" sourceRef="s" targetRef="x"/><exclusiveGateway id="x" default="b"/>
            <sequenceFlow id="b" sourceRef="x" targetRef="j"/><sequenceFlow id="c" sourceRef="x" targetRef="j"><conditionExpression>False</conditionExpression></sequenceFlow>
            <parallelGateway id="j"/><sequenceFlow id="d" sourceRef="j" targetRef="end"/><endEvent id="end"/>"#,
            json!({}),
            0,
        );
        let RunOutcome::Failed(e) = o else { panic!("{o:?}") };
        assert!(e.to_string().contains("waits at a join"), "{e}");
    }
}
