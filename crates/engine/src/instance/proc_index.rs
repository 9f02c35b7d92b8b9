//! A process indexed for execution: its elements and flows by id, where each element's token
//! goes when it leaves, the start elements of a scope, and its parsed expressions and scripts.

use crate::error::Location;
use foldhash::HashMap as NameMap;
use servicetask_bpmn::expr::{self, Expression};
use servicetask_bpmn::{BindingKind, TaskBinding};
use servicetask_bpmn::{Definitions, ElementKind, EventDefinition, FlowElement, Process, SequenceFlow};
use std::sync::{Arc, Mutex};

/// One process's elements and flows, indexed by id, built once per process of a
/// [`Definitions`] (the engine caches it) and shared by every instance.
pub(crate) struct ProcIndex {
    pub defs: Arc<Definitions>,
    pub idx: usize,
    /// The process id, shared by the records of every instance.
    pub process_id: Arc<str>,
    elements: NameMap<String, usize>,
    pub(super) flows: NameMap<String, usize>,
    /// The elements, shared so a step does not clone one.
    pub(super) els: Vec<Arc<FlowElement>>,
    /// Per element (same order): where its token goes when it leaves.
    pub(super) out: Vec<Outgoing>,
    /// Per element: its id, shared by the tokens and records that name it.
    pub(super) ids: Vec<Arc<str>>,
    /// Per element: its name, shared by the service calls that carry it.
    names: Vec<Option<Arc<str>>>,
    /// Per element: its service binding (the element id when it declares none).
    bindings: Vec<Arc<TaskBinding>>,
    /// Per flow: the id of its target element.
    pub(super) flow_targets: Vec<Arc<str>>,
    /// Per flow: the index of its target element, if it exists.
    pub(super) flow_target_index: Vec<Option<usize>>,
    /// Per flow: its id when its target joins several flows (a token records the flow it
    /// arrived by only where a join needs it).
    pub(super) flow_via: Vec<Option<Arc<str>>>,
    /// Per flow: true when it is a parallel join's loop flow (`elements::parallel_gateway`).
    pub loop_flow: Vec<bool>,
    /// The elements a process-level scope starts at.
    pub(super) root_starts: Vec<usize>,
    /// True when some element is an event subprocess (only then does a new scope look for
    /// one to arm).
    pub has_event_subprocesses: bool,
    /// Activities with a timer boundary event.
    timer_hosts: foldhash::HashSet<String>,
    /// Expressions and scripts parsed so far, by source text (parsed once, run many times).
    exprs: Mutex<NameMap<String, Arc<Expression>>>,
    scripts: Mutex<NameMap<String, Arc<expr::Script>>>,
    /// The budget its expressions and scripts are parsed and evaluated within.
    pub limits: expr::EvalLimits,
    /// The functions the host registered, callable from its expressions and scripts.
    pub functions: expr::Functions,
}

/// The outgoing flows of one element, resolved to flow indexes.
pub(super) struct Outgoing {
    /// Non-default outgoing flows that exist, in order.
    pub(super) flows: Vec<usize>,
    /// The default flow: `Some(None)` when it names a flow that does not exist.
    pub(super) default: Option<Option<usize>>,
}

impl ProcIndex {
    pub(crate) fn new(
        defs: Arc<Definitions>,
        idx: usize,
        limits: expr::EvalLimits,
        functions: expr::Functions,
    ) -> Self {
        let p = &defs.processes[idx];
        let elements: NameMap<String, usize> = p.elements.iter().enumerate().map(|(i, e)| (e.id.clone(), i)).collect();
        let flows: NameMap<String, usize> = p.flows.iter().enumerate().map(|(i, f)| (f.id.clone(), i)).collect();
        let els = p.elements.iter().cloned().map(Arc::new).collect();
        let out = p
            .elements
            .iter()
            .map(|el| Outgoing {
                flows: el
                    .outgoing
                    .iter()
                    .filter(|fid| Some(*fid) != el.default_flow.as_ref())
                    .filter_map(|fid| flows.get(fid.as_str()).copied())
                    .collect(),
                default: el.default_flow.as_ref().map(|d| flows.get(d.as_str()).copied()),
            })
            .collect();
        let ids: Vec<Arc<str>> = p.elements.iter().map(|e| Arc::from(e.id.as_str())).collect();
        let names = p.elements.iter().map(|e| e.name.as_deref().map(Arc::from)).collect();
        let bindings = p
            .elements
            .iter()
            .map(|e| {
                Arc::new(
                    e.binding
                        .clone()
                        .unwrap_or_else(|| TaskBinding::new(BindingKind::ElementId, e.id.clone())),
                )
            })
            .collect();
        let flow_ids: Vec<Arc<str>> = p.flows.iter().map(|f| Arc::from(f.id.as_str())).collect();
        // a flow into an element shares that element's id; a dangling target gets its own
        let flow_targets = p
            .flows
            .iter()
            .map(|f| match elements.get(f.target.as_str()) {
                Some(&i) => ids[i].clone(),
                None => Arc::from(f.target.as_str()),
            })
            .collect();
        let flow_via = p
            .flows
            .iter()
            .zip(&flow_ids)
            .map(|(f, id): (&SequenceFlow, &Arc<str>)| {
                let joins = elements
                    .get(f.target.as_str())
                    .is_some_and(|&i| p.elements[i].incoming.len() > 1);
                joins.then(|| id.clone())
            })
            .collect();
        let flow_target_index = p
            .flows
            .iter()
            .map(|f| elements.get(f.target.as_str()).copied())
            .collect();
        let root_starts = start_elements(p, None);
        let loop_flow = crate::elements::parallel_gateway::loop_flows(p);
        let has_event_subprocesses = p.elements.iter().any(|e| e.triggered_by_event);
        let timer_hosts = p
            .elements
            .iter()
            .filter(|e| matches!(e.event, Some(servicetask_bpmn::EventDefinition::Timer { .. })))
            .filter_map(|e| e.attached_to.clone())
            .collect();
        ProcIndex {
            process_id: Arc::from(p.id.as_str()),
            defs,
            idx,
            elements,
            flows,
            els,
            out,
            ids,
            names,
            bindings,
            flow_targets,
            flow_target_index,
            flow_via,
            loop_flow,
            root_starts,
            has_event_subprocesses,
            timer_hosts,
            exprs: Mutex::new(NameMap::default()),
            scripts: Mutex::new(NameMap::default()),
            limits,
            functions,
        }
    }

    pub fn process(&self) -> &Process {
        &self.defs.processes[self.idx]
    }

    /// The id, name and binding of element `i`, shared.
    pub fn call_site(&self, i: usize) -> (Arc<str>, Option<Arc<str>>, Arc<TaskBinding>) {
        (self.ids[i].clone(), self.names[i].clone(), self.bindings[i].clone())
    }

    /// The service binding of element `i` (its element id when it declares none).
    pub fn binding(&self, i: usize) -> &TaskBinding {
        &self.bindings[i]
    }

    pub fn element(&self, id: &str) -> Option<&FlowElement> {
        self.elements.get(id).map(|&i| &*self.els[i])
    }

    /// The index of element `id`.
    pub fn element_index(&self, id: &str) -> Option<usize> {
        self.elements.get(id).copied()
    }

    /// Element `i`.
    pub fn el(&self, i: usize) -> &FlowElement {
        &self.els[i]
    }

    /// True when activity `id` has a boundary event with a timer definition.
    pub fn has_timer_boundary(&self, id: &str) -> bool {
        !self.timer_hosts.is_empty() && self.timer_hosts.contains(id)
    }

    /// The index of flow `id`.
    pub fn flow_index(&self, id: &str) -> Option<usize> {
        self.flows.get(id).copied()
    }

    pub fn flow(&self, id: &str) -> Option<&SequenceFlow> {
        self.flows.get(id).map(|&i| &self.process().flows[i])
    }

    /// `src` parsed as an expression, parsed once per process.
    pub fn expression(&self, src: &str) -> Result<Arc<Expression>, expr::ExprError> {
        let mut cache = self.exprs.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(e) = cache.get(src) {
            return Ok(e.clone());
        }
        let e = Arc::new(Expression::parse_with(src, &self.limits)?);
        cache.insert(src.to_string(), e.clone());
        Ok(e)
    }

    /// `src` parsed as a script, parsed once per process.
    pub fn script(&self, src: &str) -> Result<Arc<expr::Script>, expr::ExprError> {
        let mut cache = self.scripts.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = cache.get(src) {
            return Ok(s.clone());
        }
        let s = Arc::new(expr::Script::parse_with(src, &self.limits)?);
        cache.insert(src.to_string(), s.clone());
        Ok(s)
    }

    pub fn location(&self, element_id: &str) -> Box<Location> {
        let position = self
            .element(element_id)
            .map(|e| e.position)
            .or_else(|| self.flow(element_id).map(|f| f.position))
            .unwrap_or(self.process().position);
        Box::new(Location {
            file: self.defs.file.clone(),
            position,
            element_id: element_id.to_string(),
        })
    }
}

/// The elements (indexes) a scope of `container` starts at: its none start events; else its
/// first start event that is not an event subprocess's; else every element without incoming
/// flows (boundary events, event subprocesses and link catches aside).
pub(super) fn start_elements(p: &Process, container: Option<&str>) -> Vec<usize> {
    let children = || {
        p.elements
            .iter()
            .enumerate()
            .filter(move |(_, e)| e.parent.as_deref() == container)
    };
    let starts: Vec<usize> = children()
        .filter(|(_, e)| e.kind == ElementKind::StartEvent && e.event.is_none())
        .map(|(i, _)| i)
        .collect();
    if !starts.is_empty() {
        return starts;
    }
    let starts: Vec<usize> = children()
        .filter(|(_, e)| e.kind == ElementKind::StartEvent && !e.triggered_by_event)
        .map(|(i, _)| i)
        .take(1)
        .collect();
    if !starts.is_empty() {
        return starts;
    }
    children()
        .filter(|(_, e)| {
            e.incoming.is_empty()
                && e.kind != ElementKind::BoundaryEvent
                && !e.triggered_by_event
                && !matches!(e.event, Some(EventDefinition::Link { .. }))
        })
        .map(|(i, _)| i)
        .collect()
}
