//! A running process instance: the token loop, completion, scopes, cancellation, errors, timers.
//! Element-specific behaviour lives in `elements/`, one file per element kind.

use crate::engine::{CompiledDefs, Engine};
use crate::error::{EngineError, Location};
use crate::idmap::IdMap;
use crate::observer::ElementEvent;
use crate::state::*;
use crate::telemetry;
use foldhash::HashMap as NameMap;
use opentelemetry::trace::{Status, TraceContextExt};
use opentelemetry::Context;
use serde_json::{Map, Value};
use servicetask_bpmn::expr::{self, Expression};
use servicetask_bpmn::{BindingKind, TaskBinding};
use servicetask_bpmn::{
    Definitions, ElementKind, EventDefinition, FlowElement, LoopCharacteristics, Process, SequenceFlow,
};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One process's elements and flows, indexed by id, built once per process of a
/// [`Definitions`] (the engine caches it) and shared by every instance.
pub(crate) struct ProcIndex {
    pub defs: Arc<Definitions>,
    pub idx: usize,
    /// The process id, shared by the records of every instance.
    pub process_id: Arc<str>,
    elements: NameMap<String, usize>,
    flows: NameMap<String, usize>,
    /// The elements, shared so a step does not clone one.
    els: Vec<Arc<FlowElement>>,
    /// Per element (same order): where its token goes when it leaves.
    out: Vec<Outgoing>,
    /// Per element: its id, shared by the tokens and records that name it.
    ids: Vec<Arc<str>>,
    /// Per element: its name, shared by the service calls that carry it.
    names: Vec<Option<Arc<str>>>,
    /// Per element: its service binding (the element id when it declares none).
    bindings: Vec<Arc<TaskBinding>>,
    /// Per flow: the id of its target element.
    flow_targets: Vec<Arc<str>>,
    /// Per flow: the index of its target element, if it exists.
    flow_target_index: Vec<Option<usize>>,
    /// Per flow: its id when its target joins several flows (a token records the flow it
    /// arrived by only where a join needs it).
    flow_via: Vec<Option<Arc<str>>>,
    /// Per flow: true when it is a parallel join's loop flow (`elements::parallel_gateway`).
    pub loop_flow: Vec<bool>,
    /// The elements a process-level scope starts at.
    root_starts: Vec<usize>,
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
}

/// The outgoing flows of one element, resolved to flow indexes.
struct Outgoing {
    /// Non-default outgoing flows that exist, in order.
    flows: Vec<usize>,
    /// The default flow: `Some(None)` when it names a flow that does not exist.
    default: Option<Option<usize>>,
}

impl ProcIndex {
    pub(crate) fn new(defs: Arc<Definitions>, idx: usize, limits: expr::EvalLimits) -> Self {
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

/// What [`Instance::run`] came to.
#[derive(Debug, Clone, PartialEq)]
pub enum RunOutcome {
    /// The process reached its end.
    Completed,
    /// Nothing can move until the API acts: tasks wait to be completed, incidents to be
    /// retried, or timers to fire while tasks wait.
    Waiting {
        /// Tasks waiting for [`Instance::complete_task`].
        tasks: Vec<WaitingTask>,
        /// Incidents waiting for [`Instance::retry_incident`].
        incidents: Vec<Incident>,
        /// Time until the next timer fires, if any.
        next_timer: Option<Duration>,
    },
    /// The process failed.
    Failed(EngineError),
}

/// A summary of an instance for reports.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceState {
    /// Where it stands.
    pub status: InstanceStatus,
    /// Completed activities, in order.
    pub completed: Vec<CompletedActivity>,
    /// Process-level variables.
    pub variables: Map<String, Value>,
    /// Tasks waiting for the API.
    pub waiting: Vec<WaitingTask>,
    /// Open incidents.
    pub incidents: Vec<Incident>,
}

/// A process instance. Drive it with [`Instance::run`].
pub struct Instance {
    pub(crate) engine: Engine,
    pub(crate) defs: Arc<Definitions>,
    compiled: Arc<CompiledDefs>,
    /// The processes this instance has used (usually one: a linear scan beats hashing).
    procs: Vec<Arc<ProcIndex>>,
    pub(crate) id: Arc<str>,
    pub(crate) process_id: String,
    pub(crate) scopes: IdMap<Scope>,
    pub(crate) tokens: IdMap<Token>,
    pub(crate) timers: Vec<TimerEntry>,
    /// Completed activities: those of a saved instance this one resumes, then this segment's
    /// as (process slot, element index, multi-instance child), turned into records only when
    /// asked for (a step then shares no id, so it touches no reference count).
    completed_before: Vec<CompletedActivity>,
    completed_now: Vec<(u32, u32, bool)>,
    completed_view: std::sync::OnceLock<Vec<CompletedActivity>>,
    pub(crate) status: InstanceStatus,
    error: Option<EngineError>,
    next_id: Id,
    pub(crate) ready: VecDeque<Id>,
    /// The engine clock's time when this instance (segment) started: instance time is
    /// measured from it.
    clock_base: Duration,
    pub(crate) otel: Context,
    /// The instance span's W3C traceparent: formatted when first asked for (most instances
    /// are never saved), or the first segment's for a resumed instance.
    traceparent: std::sync::OnceLock<Option<String>>,
    steps: u64,
    /// Event-gateway races: token -> race group.
    pub(crate) races: HashMap<Id, Id>,
    /// Messages sent while nobody listened, delivered to the next catcher (message buffering).
    pub(crate) pending_messages: Vec<(String, Map<String, Value>)>,
    /// Throw events whose event is still to be delivered (`TokenState::Throwing` tokens), in
    /// the order they were reached.
    pub(crate) pending_throws: VecDeque<Id>,
}

impl std::fmt::Debug for Instance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instance")
            .field("id", &self.id)
            .field("process_id", &self.process_id)
            .field("status", &self.status)
            .finish()
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        // ends the instance span if it is still open (ending twice is a no-op)
        self.otel.span().end();
    }
}

static INSTANCE_COUNTER: AtomicU64 = AtomicU64::new(1);

fn new_instance_id() -> Arc<str> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let n = INSTANCE_COUNTER.fetch_add(1, Ordering::Relaxed);
    // 12 hex digits of the clock and 4 of the counter, written in place (one allocation)
    let value = ((nanos & 0xffff_ffff_ffff) << 16) | (n & 0xffff);
    let mut digits = [0u8; 16];
    for (i, d) in digits.iter_mut().enumerate() {
        *d = b"0123456789abcdef"[((value >> (60 - 4 * i)) & 0xf) as usize];
    }
    Arc::from(std::str::from_utf8(&digits).unwrap_or("0"))
}

impl Instance {
    pub(crate) fn start(
        engine: Engine,
        compiled: Arc<CompiledDefs>,
        process_id: &str,
        vars: Map<String, Value>,
    ) -> Result<Self, EngineError> {
        let id = new_instance_id();
        let parent = vars
            .get("traceparent")
            .and_then(Value::as_str)
            .and_then(telemetry::parse_traceparent);
        let process = compiled.process(process_id);
        let otel = telemetry::start_instance_span(
            engine.inner.tracer.as_ref(),
            process.map_or_else(|| Arc::from(process_id), |p| p.process_id.clone()),
            id.clone(),
            parent,
            false,
        );
        // most instances complete about as many activities as their process has elements
        let expected_steps = process.map_or(0, |p| p.els.len());
        let clock_base = engine.inner.clock.now();
        let mut inst = Instance {
            engine,
            defs: compiled.defs.clone(),
            compiled,
            procs: Vec::new(),
            id,
            process_id: process_id.to_string(),
            scopes: IdMap::default(),
            tokens: IdMap::default(),
            timers: Vec::new(),
            completed_before: Vec::new(),
            completed_now: Vec::with_capacity(expected_steps),
            completed_view: std::sync::OnceLock::new(),
            status: InstanceStatus::Running,
            error: None,
            next_id: 1,
            ready: VecDeque::new(),
            clock_base,
            otel,
            traceparent: std::sync::OnceLock::new(),
            steps: 0,
            races: HashMap::new(),
            pending_messages: Vec::new(),
            pending_throws: VecDeque::new(),
        };
        // a collaboration runs every pool's process side by side in one instance
        let roots: Vec<String> = match inst.defs.collaborations.iter().find(|c| c.id == process_id) {
            Some(c) if inst.defs.process(process_id).is_none() => c
                .participants
                .iter()
                .filter_map(|p| p.process_ref.clone())
                .filter(|r| inst.defs.process(r).is_some_and(|p| !p.elements.is_empty()))
                .collect(),
            _ => vec![process_id.to_string()],
        };
        let keys: Vec<String> = vars.keys().cloned().collect();
        let mut scopes = Vec::with_capacity(roots.len());
        let mut vars = Some(vars);
        let last = roots.len().saturating_sub(1);
        for (i, r) in roots.into_iter().enumerate() {
            // every pool starts with the same variables: the last one takes them
            let v = if i == last {
                vars.take().unwrap_or_default()
            } else {
                vars.clone().unwrap_or_default()
            };
            scopes.push(inst.new_scope(None, None, ScopeKind::Process, r, None, v, keys.clone()));
        }
        for root in scopes {
            if let Err(e) = inst.start_scope(root) {
                inst.end_span(Some(&e.to_string()));
                return Err(e);
            }
        }
        Ok(inst)
    }

    pub(crate) fn resume(
        engine: Engine,
        compiled: Arc<CompiledDefs>,
        snap: InstanceSnapshot,
    ) -> Result<Self, EngineError> {
        let parent = snap.traceparent.as_deref().and_then(telemetry::parse_traceparent);
        let otel = telemetry::start_instance_span(
            engine.inner.tracer.as_ref(),
            Arc::from(snap.process_id.as_str()),
            Arc::from(snap.instance_id.as_str()),
            parent,
            true,
        );
        let clock_base = engine.inner.clock.now();
        let mut inst = Instance {
            engine,
            defs: compiled.defs.clone(),
            compiled,
            procs: Vec::new(),
            id: Arc::from(snap.instance_id),
            process_id: snap.process_id,
            scopes: snap.scopes.into_iter().map(|s| (s.id, s)).collect(),
            // a snapshot resumed without a round trip through serde still carries the slots of
            // the instance it came from, whose process list may differ: find them again
            tokens: snap
                .tokens
                .into_iter()
                .map(|mut t| {
                    t.slot = ElementSlot::default();
                    (t.id, t)
                })
                .collect(),
            timers: snap.timers,
            completed_before: snap.completed,
            completed_now: Vec::new(),
            completed_view: std::sync::OnceLock::new(),
            status: snap.status,
            error: None,
            next_id: snap.next_id,
            ready: VecDeque::new(),
            clock_base,
            otel,
            traceparent: std::sync::OnceLock::from(snap.traceparent),
            steps: snap.steps,
            races: HashMap::new(),
            pending_messages: snap.pending_messages,
            pending_throws: VecDeque::new(),
        };
        // every scope's process must still exist
        let pids: Vec<String> = inst.scopes.values().map(|s| s.process_id.clone()).collect();
        for pid in pids {
            inst.proc(&pid)?;
        }
        inst.ready = inst
            .tokens
            .values()
            .filter(|t| matches!(t.state, TokenState::Ready))
            .map(|t| t.id)
            .collect();
        Ok(inst)
    }

    /// The instance id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The id of the process started.
    pub fn process_id(&self) -> &str {
        &self.process_id
    }

    /// The W3C traceparent of the instance span (the trace every task span joins).
    pub fn traceparent(&self) -> Option<&str> {
        self.traceparent
            .get_or_init(|| telemetry::format_traceparent(self.otel.span().span_context()))
            .as_deref()
    }

    /// The OpenTelemetry context carrying the instance span.
    pub fn otel_context(&self) -> &Context {
        &self.otel
    }

    /// The context a service call runs under: the instance span's, or an empty one when that
    /// span carries no trace (no tracer provider is installed), which costs nothing to pass on.
    pub(crate) fn call_context(&self) -> Context {
        if self.otel.span().span_context().is_valid() {
            self.otel.clone()
        } else {
            Context::new()
        }
    }

    /// Where it stands.
    pub fn status(&self) -> &InstanceStatus {
        &self.status
    }

    /// The error that failed the instance, if it failed.
    pub fn error(&self) -> Option<&EngineError> {
        self.error.as_ref()
    }

    /// Completed activities, in order.
    pub fn completed(&self) -> &[CompletedActivity] {
        self.completed_view.get_or_init(|| {
            let mut all = self.completed_before.clone();
            all.extend(self.completed_now.iter().map(|&(slot, i, mi_child)| {
                let p = &self.procs[slot as usize];
                CompletedActivity {
                    element_id: p.ids[i as usize].clone(),
                    process_id: p.process_id.clone(),
                    kind: p.el(i as usize).kind,
                    mi_child,
                }
            }));
            all
        })
    }

    /// Process-level variables.
    pub fn variables(&self) -> Map<String, Value> {
        // one process scope, or one per pool of a collaboration (merged in pool order)
        let mut out = Map::new();
        for s in self.scopes.values().filter(|s| s.kind == ScopeKind::Process) {
            out.extend(s.vars.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        out
    }

    /// Sets process-level variables (e.g. to fix the input of a failed task before a retry).
    pub fn set_variables(&mut self, vars: Map<String, Value>) {
        if let Some(root) = self.scopes.values_mut().find(|s| s.kind == ScopeKind::Process) {
            root.vars.extend(vars);
        }
    }

    /// A summary for reports.
    pub fn state(&self) -> InstanceState {
        InstanceState {
            status: self.status.clone(),
            completed: self.completed().to_vec(),
            variables: self.variables(),
            waiting: self.waiting_tasks(),
            incidents: self.incidents(),
        }
    }

    /// Tasks waiting to be completed through [`Instance::complete_task`].
    pub fn waiting_tasks(&self) -> Vec<WaitingTask> {
        self.tokens
            .values()
            .filter(|t| t.state == TokenState::Waiting)
            .filter_map(|t| {
                let scope = self.scopes.get(&t.scope)?;
                let p = self.procs_get(&scope.process_id)?;
                let el = p.element(&t.element)?;
                Some(WaitingTask {
                    token_id: t.id,
                    element_id: t.element.to_string(),
                    name: el.name.clone(),
                    kind: el.kind,
                    process_id: scope.process_id.clone(),
                    variables: scope.vars.clone(),
                })
            })
            .collect()
    }

    /// Open incidents.
    pub fn incidents(&self) -> Vec<Incident> {
        self.tokens
            .values()
            .filter_map(|t| match &t.state {
                TokenState::Incident { message, error_class } => Some(Incident {
                    token_id: t.id,
                    element_id: t.element.to_string(),
                    process_id: self
                        .scopes
                        .get(&t.scope)
                        .map(|s| s.process_id.clone())
                        .unwrap_or_default(),
                    message: message.clone(),
                    error_class: error_class.clone(),
                }),
                _ => None,
            })
            .collect()
    }

    fn find_token(&self, key: &str, pred: impl Fn(&TokenState) -> bool) -> Option<Id> {
        if let Ok(n) = key.parse::<Id>() {
            if self.tokens.get(&n).is_some_and(|t| pred(&t.state)) {
                return Some(n);
            }
        }
        self.tokens
            .values()
            .find(|t| &*t.element == key && pred(&t.state))
            .map(|t| t.id)
    }

    /// Completes a waiting task (user, manual, receive task or catch event), found by token id
    /// or element id, setting `vars` in its scope. Call [`Instance::run`] afterwards.
    pub fn complete_task(&mut self, key: &str, vars: Map<String, Value>) -> Result<(), EngineError> {
        self.ensure_running()?;
        let tid = self
            .find_token(key, |s| *s == TokenState::Waiting)
            .ok_or_else(|| EngineError::NoSuchTask(key.to_string()))?;
        let scope = self.tokens[&tid].scope;
        if let Some(s) = self.scopes.get_mut(&scope) {
            s.vars.extend(vars);
        }
        let r = self.complete_activity(tid);
        self.check_failed(r);
        Ok(())
    }

    /// Same as [`Instance::complete_task`], under the name the CLI's `complete` command uses.
    pub fn complete_user_task(&mut self, key: &str, vars: Map<String, Value>) -> Result<(), EngineError> {
        self.complete_task(key, vars)
    }

    /// Retries an incident (by token id or element id) after a fix, setting `vars` in its scope
    /// first. Call [`Instance::run`] afterwards.
    pub fn retry_incident(&mut self, key: &str, vars: Map<String, Value>) -> Result<(), EngineError> {
        self.ensure_running()?;
        let tid = self
            .find_token(key, |s| matches!(s, TokenState::Incident { .. }))
            .ok_or_else(|| EngineError::NoSuchIncident(key.to_string()))?;
        let scope = self.tokens[&tid].scope;
        if let Some(s) = self.scopes.get_mut(&scope) {
            s.vars.extend(vars);
        }
        if let Some(t) = self.tokens.get_mut(&tid) {
            t.state = TokenState::CallPending;
            t.attempts = 0;
        }
        Ok(())
    }

    pub(crate) fn ensure_running(&self) -> Result<(), EngineError> {
        match self.status {
            InstanceStatus::Running => Ok(()),
            _ => Err(EngineError::Finished(self.id.to_string())),
        }
    }

    /// A snapshot to save and resume later; timers keep their remaining time.
    pub fn snapshot(&self) -> InstanceSnapshot {
        let now = self.now_ms();
        InstanceSnapshot {
            instance_id: self.id.to_string(),
            process_id: self.process_id.clone(),
            file: self.defs.file.clone(),
            scopes: self.scopes.values().cloned().collect(),
            tokens: self.tokens.values().cloned().collect(),
            timers: self
                .timers
                .iter()
                .map(|t| TimerEntry {
                    due_ms: t.due_ms.saturating_sub(now),
                    ..t.clone()
                })
                .collect(),
            completed: self.completed().to_vec(),
            status: self.status.clone(),
            next_id: self.next_id,
            traceparent: self.traceparent().map(str::to_string),
            steps: self.steps,
            pending_messages: self.pending_messages.clone(),
        }
    }

    /// Saves the instance for later: returns its snapshot and ends this segment of the
    /// instance span (a resumed instance opens a new segment, a child of the first, in the same
    /// trace).
    pub fn suspend(self) -> InstanceSnapshot {
        let snap = self.snapshot();
        self.otel
            .span()
            .set_attribute(opentelemetry::KeyValue::new("bpmn.process.suspended", true));
        snap
    }

    /// Runs until the process completes, fails, or waits for the API. When only timers are
    /// pending it sleeps (tokio time) until they fire.
    pub async fn run(&mut self) -> RunOutcome {
        loop {
            match &self.status {
                InstanceStatus::Completed => return RunOutcome::Completed,
                InstanceStatus::Failed(m) => {
                    return RunOutcome::Failed(self.error.clone().unwrap_or_else(|| EngineError::Store(m.clone())))
                }
                InstanceStatus::Running => {}
            }
            let r = self.step_ready();
            if self.check_failed(r) {
                continue;
            }
            let external = self.engine.inner.config.external_jobs;
            if !external && self.has_pending_calls() {
                let r = self.dispatch_calls().await;
                self.check_failed(r);
                continue;
            }
            let r = self.fire_due_timers();
            match r {
                Ok(true) => continue,
                Ok(false) => {}
                Err(e) => {
                    self.fail(e);
                    continue;
                }
            }
            match self.try_joins() {
                Ok(true) => continue,
                Ok(false) => {}
                Err(e) => {
                    self.fail(e);
                    continue;
                }
            }
            if self.status != InstanceStatus::Running {
                continue;
            }
            let tasks = self.waiting_tasks();
            let incidents = self.incidents();
            let next = self.timers.iter().map(|t| t.due_ms).min();
            // with external jobs, ready calls and timers wait for the host
            let host_waits = external && (next.is_some() || self.has_pending_calls());
            if !tasks.is_empty() || !incidents.is_empty() || host_waits {
                let next_timer = next.map(|d| Duration::from_millis(d.saturating_sub(self.now_ms())));
                return RunOutcome::Waiting {
                    tasks,
                    incidents,
                    next_timer,
                };
            }
            if let Some(due) = next {
                // nothing else can happen before the timer: let the time pass
                let at = self.clock_base.saturating_add(Duration::from_millis(due));
                self.engine.inner.clock.idle_until(at).await;
                continue;
            }
            let e = self.stuck_error();
            self.fail(e);
        }
    }

    /// Runs, and while the instance waits (for people, messages or incidents) with a timer
    /// pending, lets the time pass to that timer and runs again: every timer the wait does not
    /// settle elapses, in due order. Meant for a [`crate::VirtualClock`] (on the wall clock it
    /// really waits). Stops after `max_timers` such waits, still waiting.
    pub async fn run_through_timers(&mut self, max_timers: usize) -> RunOutcome {
        let mut outcome = self.run().await;
        for _ in 0..max_timers {
            let RunOutcome::Waiting {
                next_timer: Some(d), ..
            } = &outcome
            else {
                break;
            };
            outcome = self.advance(*d).await;
        }
        outcome
    }

    /// Lets `d` pass on the engine's clock, then runs; timers due by then fire first.
    pub async fn advance(&mut self, d: Duration) -> RunOutcome {
        let clock = &self.engine.inner.clock;
        clock.idle_until(clock.now().saturating_add(d)).await;
        self.run().await
    }

    fn stuck_error(&self) -> EngineError {
        let details: Vec<String> = self
            .tokens
            .values()
            .map(|t| {
                let loc = self
                    .scopes
                    .get(&t.scope)
                    .and_then(|s| self.procs_get(&s.process_id))
                    .map(|p| p.location(&t.element).to_string())
                    .unwrap_or_else(|| t.element.to_string());
                let what = match &t.state {
                    TokenState::Joining => "waits at a join for a path that can no longer arrive",
                    TokenState::InScope(_) => "waits for its subprocess",
                    TokenState::MiBody(_) => "waits for its instances",
                    _ => "cannot move",
                };
                format!("{loc} {what}")
            })
            .collect();
        EngineError::Stuck {
            process_id: self.process_id.clone(),
            details: if details.is_empty() {
                "no token can move".to_string()
            } else {
                details.join("; ")
            },
        }
    }

    /// Returns true (and records the failure) when `r` is an error.
    pub(crate) fn check_failed(&mut self, r: Result<(), EngineError>) -> bool {
        match r {
            Ok(()) => false,
            Err(e) => {
                self.fail(e);
                true
            }
        }
    }

    pub(crate) fn fail(&mut self, e: EngineError) {
        if self.status == InstanceStatus::Running {
            let msg = e.to_string();
            self.status = InstanceStatus::Failed(msg.clone());
            self.error = Some(e);
            self.ready.clear();
            self.timers.clear();
            self.end_span(Some(&msg));
        }
    }

    fn end_span(&self, error: Option<&str>) {
        let span = self.otel.span();
        if let Some(m) = error {
            span.set_status(Status::error(m.to_string()));
            span.set_attribute(opentelemetry::KeyValue::new("error.type", "bpmn_process_failed"));
        }
        span.end();
    }

    /// A wait, on the engine's clock, for the earliest pending timer, if any.
    pub(crate) fn next_timer_wait(&self) -> Option<crate::clock::Wait> {
        let due = self.timers.iter().map(|t| t.due_ms).min()?;
        Some(
            self.engine
                .inner
                .clock
                .sleep_until(self.clock_base.saturating_add(Duration::from_millis(due))),
        )
    }

    /// Milliseconds since the instance (segment) started, on the engine's clock.
    pub(crate) fn now_ms(&self) -> u64 {
        self.engine
            .inner
            .clock
            .now()
            .saturating_sub(self.clock_base)
            .as_millis() as u64
    }

    // ----- structure -------------------------------------------------------------------

    pub(crate) fn alloc_id(&mut self) -> Id {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new_scope(
        &mut self,
        parent: Option<Id>,
        owner: Option<Id>,
        kind: ScopeKind,
        process_id: String,
        container: Option<String>,
        vars: Map<String, Value>,
        entry_keys: Vec<String>,
    ) -> Id {
        let id = self.alloc_id();
        self.scopes.insert(
            id,
            Scope {
                id,
                parent,
                owner,
                kind,
                process_id,
                container,
                vars,
                entry_keys,
            },
        );
        id
    }

    pub(crate) fn new_token(
        &mut self,
        scope: Id,
        element: impl Into<Arc<str>>,
        via: Option<Arc<str>>,
        state: TokenState,
    ) -> Id {
        let id = self.alloc_id();
        let ready = matches!(state, TokenState::Ready);
        self.tokens.insert(
            id,
            Token {
                id,
                scope,
                element: element.into(),
                via,
                state,
                mi_inner: false,
                loop_count: 0,
                attempts: 0,
                slot: ElementSlot::default(),
            },
        );
        if ready {
            self.ready.push_back(id);
        }
        id
    }

    pub(crate) fn proc(&mut self, process_id: &str) -> Result<Arc<ProcIndex>, EngineError> {
        if let Some(p) = self.procs_get(process_id) {
            return Ok(p);
        }
        let p = self
            .engine
            .find_process(&self.compiled, process_id)
            .ok_or_else(|| EngineError::UnknownProcess {
                process_id: process_id.to_string(),
                at: None,
            })?;
        self.procs.push(p.clone());
        Ok(p)
    }

    /// The already-indexed process `id`, if any.
    pub(crate) fn procs_get(&self, id: &str) -> Option<Arc<ProcIndex>> {
        self.procs.iter().find(|p| p.process().id == id).cloned()
    }

    pub(crate) fn proc_of_scope(&mut self, scope: Id) -> Result<Arc<ProcIndex>, EngineError> {
        let s = self
            .scopes
            .get(&scope)
            .ok_or_else(|| EngineError::Store(format!("scope {scope} is missing")))?;
        if let Some(p) = self.procs_get(&s.process_id) {
            return Ok(p);
        }
        let pid = s.process_id.clone();
        self.proc(&pid)
    }

    /// The element a token is at, with its process.
    pub(crate) fn token_element(&mut self, tid: Id) -> Result<(Arc<ProcIndex>, Arc<FlowElement>), EngineError> {
        let (p, i) = self.token_element_at(tid)?;
        let el = p.els[i].clone();
        let p = self
            .procs
            .iter()
            .find(|q| std::ptr::eq(&***q, p))
            .cloned()
            .ok_or_else(|| EngineError::Store(format!("token {tid}: its process is gone")))?;
        Ok((p, el))
    }

    /// Process slot `slot` of this instance, borrowed independently of `self`.
    ///
    /// The hot path reads the process (immutable, shared) while it changes the instance's
    /// tokens; cloning the `Arc` for that costs two atomic operations per lookup, a measurable
    /// share of a step. The reference is sound because an instance never removes or replaces
    /// an entry of `procs` (it only pushes), and an `Arc`'s pointee never moves: whatever
    /// happens to `self` during one of its methods, the index stays alive and in place. The
    /// lifetime is the caller's to choose, so this stays private to the instance's methods and
    /// the reference must never be stored.
    fn proc_at<'p>(&self, slot: usize) -> &'p ProcIndex {
        let p: *const ProcIndex = Arc::as_ptr(&self.procs[slot]);
        // SAFETY: see above: the `Arc` in `self.procs[slot]` lives as long as `self`, which
        // outlives the method that asked, and its pointee is never moved nor mutated.
        unsafe { &*p }
    }

    /// The process a token is in and the index of its element there (`p.el(i)`).
    pub(crate) fn token_element_at<'p>(&mut self, tid: Id) -> Result<(&'p ProcIndex, usize), EngineError> {
        let token = self
            .tokens
            .get(&tid)
            .ok_or_else(|| EngineError::Store(format!("token {tid} is missing")))?;
        // a token never changes scope or element: found once, kept on the token
        if let ElementSlot(Some((slot, i))) = token.slot {
            return Ok((self.proc_at(slot as usize), i as usize));
        }
        let scope = token.scope;
        let p = self.proc_of_scope(scope)?;
        let element = &self.tokens[&tid].element;
        let i = p.element_index(element).ok_or_else(|| {
            EngineError::Store(format!(
                "element '{element}' is missing from process '{}'",
                p.process().id
            ))
        })?;
        let slot = self
            .procs
            .iter()
            .position(|q| Arc::ptr_eq(q, &p))
            .ok_or_else(|| EngineError::Store(format!("process '{}' is not indexed", p.process().id)))?;
        if let Some(t) = self.tokens.get_mut(&tid) {
            t.slot = ElementSlot(Some((slot as u32, i as u32)));
        }
        Ok((self.proc_at(slot), i))
    }

    /// The variable layers `scope` sees: its own, then (for a multi-instance child, which holds
    /// only its item and counter) its parent's, and so on.
    pub(crate) fn layers(&self, scope: Id) -> Vec<&Map<String, Value>> {
        let mut out = Vec::new();
        let mut cur = Some(scope);
        while let Some(id) = cur {
            let Some(s) = self.scopes.get(&id) else { break };
            out.push(&s.vars);
            cur = if matches!(s.kind, ScopeKind::MiChild { .. }) {
                s.parent
            } else {
                None
            };
        }
        out
    }

    /// The variables `scope` sees, merged into one map (a copy).
    pub(crate) fn vars_of(&self, scope: Id) -> Map<String, Value> {
        match self.scopes.get(&scope) {
            None => return Map::new(),
            Some(s) if !matches!(s.kind, ScopeKind::MiChild { .. }) => return s.vars.clone(),
            Some(_) => {}
        }
        let layers = self.layers(scope);
        let mut merged = Map::new();
        for l in layers.iter().rev() {
            merged.extend(l.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        merged
    }

    pub(crate) fn vars_mut(&mut self, scope: Id) -> Option<&mut Map<String, Value>> {
        self.scopes.get_mut(&scope).map(|s| &mut s.vars)
    }

    /// Evaluates `src` over the variables of `scope`; errors name the element.
    pub(crate) fn eval(
        &self,
        p: &ProcIndex,
        element_id: &str,
        what: &str,
        src: &str,
        scope: Id,
    ) -> Result<Value, EngineError> {
        eval_in(p, element_id, what, src, &self.layers(scope))
    }

    /// Starts tokens at the start elements of a fresh scope.
    pub(crate) fn start_scope(&mut self, scope: Id) -> Result<(), EngineError> {
        let p = self.proc_of_scope(scope)?;
        let container = self.scopes.get(&scope).and_then(|s| s.container.clone());
        let computed;
        let starts = match &container {
            None => &p.root_starts,
            Some(c) => {
                computed = start_elements(p.process(), Some(c));
                &computed
            }
        };
        if starts.is_empty() {
            return Err(EngineError::NoStart(
                container.unwrap_or_else(|| p.process().id.clone()),
            ));
        }
        for &i in starts {
            self.new_token(scope, p.ids[i].clone(), None, TokenState::Ready);
        }
        if p.has_event_subprocesses {
            self.arm_event_subprocesses(scope)?;
        }
        Ok(())
    }

    // ----- the loop --------------------------------------------------------------------

    pub(crate) fn step_ready(&mut self) -> Result<(), EngineError> {
        loop {
            self.step_ready_tokens()?;
            // the tokens thrown events moved on have gone as far as they can: deliver
            let Some(holder) = self.pending_throws.pop_front() else {
                return Ok(());
            };
            if self.status == InstanceStatus::Running {
                self.deliver_thrown(holder)?;
            }
        }
    }

    fn step_ready_tokens(&mut self) -> Result<(), EngineError> {
        while let Some(tid) = self.ready.pop_front() {
            if self.status != InstanceStatus::Running {
                return Ok(());
            }
            if !self
                .tokens
                .get(&tid)
                .is_some_and(|t| matches!(t.state, TokenState::Ready))
            {
                continue;
            }
            self.steps += 1;
            if self.steps > self.engine.inner.config.max_steps {
                return Err(EngineError::StepLimit {
                    process_id: self.process_id.clone(),
                    limit: self.engine.inner.config.max_steps,
                });
            }
            if self.tokens.len() > self.engine.inner.config.max_tokens {
                return Err(EngineError::TokenLimit {
                    process_id: self.process_id.clone(),
                    element_id: self.tokens.get(&tid).map(|t| t.element.to_string()).unwrap_or_default(),
                    limit: self.engine.inner.config.max_tokens,
                });
            }
            self.enter(tid)?;
        }
        Ok(())
    }

    pub(crate) fn event(&self, p: &ProcIndex, el: &FlowElement, mi_child: bool) -> ElementEvent {
        ElementEvent {
            instance_id: self.id.to_string(),
            process_id: p.process().id.clone(),
            element_id: el.id.clone(),
            element_name: el.name.clone(),
            kind: el.kind,
            mi_child,
        }
    }

    /// A token enters its element.
    fn enter(&mut self, tid: Id) -> Result<(), EngineError> {
        let (p, i) = self.token_element_at(tid)?;
        let el = p.el(i);
        let mi_inner = self.tokens.get(&tid).is_some_and(|t| t.mi_inner);
        if let Some(o) = &self.engine.inner.observer {
            o.on_element_started(&self.event(p, el, mi_inner));
        }
        if el.kind.is_activity() && !mi_inner {
            if let Some(LoopCharacteristics::MultiInstance(mi)) = &el.loop_characteristics {
                return self.start_multi_instance(tid, p, el, mi);
            }
            if matches!(el.loop_characteristics, Some(LoopCharacteristics::Standard { .. })) {
                return self.start_standard_loop(tid, p, el);
            }
            self.arm_boundary_timers(tid, p, el)?;
            if let Some(s) = &el.pre_script {
                let scope = self.tokens[&tid].scope;
                self.run_script(p, &el.id, "pre-script", s, scope)?;
            }
        }
        use ElementKind::*;
        match el.kind {
            StartEvent => {
                // a timer, message, signal or conditional start event of a process waits for
                // its trigger (BPMN 2.0 §10.5.2: the trigger instantiates the process), as a
                // catch event does; the start events of event subprocesses have already been
                // triggered
                let in_event_subprocess = el
                    .parent
                    .as_deref()
                    .and_then(|c| p.element(c))
                    .is_some_and(|c| c.triggered_by_event);
                let waits = matches!(
                    el.event,
                    Some(
                        EventDefinition::Timer { .. }
                            | EventDefinition::Message { .. }
                            | EventDefinition::Signal { .. }
                            | EventDefinition::Conditional { .. }
                    )
                );
                if waits && !in_event_subprocess {
                    self.enter_catch_event(tid, p, el)
                } else {
                    self.complete_activity(tid)
                }
            }
            EndEvent => self.enter_end_event(tid, p, el),
            IntermediateCatchEvent => self.enter_catch_event(tid, p, el),
            IntermediateThrowEvent => self.enter_throw_event(tid, p, el),
            BoundaryEvent => self.complete_activity(tid),
            Task | UserTask | ManualTask | ReceiveTask => self.enter_wait_task(tid, el),
            ScriptTask => self.enter_script_task(tid, p, el),
            SendTask
                if el.message_ref.is_some()
                    && el
                        .binding
                        .as_ref()
                        .is_none_or(|b| b.kind == servicetask_bpmn::BindingKind::ElementId) =>
            {
                self.enter_message_send_task(tid, p, el)
            }
            ServiceTask | SendTask | BusinessRuleTask => self.enter_service_task(tid),
            ExclusiveGateway => self.enter_exclusive_gateway(tid, p, el),
            InclusiveGateway | ComplexGateway => self.enter_inclusive_gateway(tid, p, el),
            ParallelGateway => self.enter_parallel_gateway(tid, p, el),
            EventBasedGateway => self.enter_event_gateway(tid, p, el),
            SubProcess | Transaction | AdHocSubProcess => self.enter_subprocess(tid, el),
            CallActivity => self.enter_call_activity(tid, p, el),
            _ => Err(EngineError::Unsupported {
                at: p.location(&el.id),
                what: format!("element kind '{}'", el.kind.tag()),
                help: "replace it with a supported element".to_string(),
            }),
        }
    }

    pub(crate) fn run_script(
        &mut self,
        p: &ProcIndex,
        element_id: &str,
        what: &str,
        src: &str,
        scope: Id,
    ) -> Result<(), EngineError> {
        let mut local = match self.vars_mut(scope) {
            Some(v) => std::mem::take(v),
            None => Map::new(),
        };
        let result = {
            let layers = self.layers(scope);
            let below = layers.get(1..).unwrap_or(&[]);
            p.script(src).and_then(|s| s.run_with(&mut local, below, &p.limits))
        };
        if let Some(v) = self.vars_mut(scope) {
            *v = local;
        }
        result.map_err(|e| EngineError::Expression {
            at: p.location(element_id),
            what: what.to_string(),
            message: e.message,
            help: "scripts take Python-style statements: x = expr, x += expr, del(x), if/for/while blocks, calls of the documented builtins; every name must be a variable".to_string(),
        })
    }

    pub(crate) fn record_completed(&mut self, tid: Id) -> Result<(), EngineError> {
        let (p, i) = self.token_element_at(tid)?;
        self.record_completed_at(tid, p, i);
        Ok(())
    }

    fn record_completed_at(&mut self, tid: Id, p: &ProcIndex, i: usize) {
        let el = p.el(i);
        let mi_child = self.tokens.get(&tid).is_some_and(|t| t.mi_inner);
        let slot = self
            .tokens
            .get(&tid)
            .and_then(|t| t.slot.0)
            .map(|(slot, _)| slot)
            .or_else(|| self.procs.iter().position(|q| std::ptr::eq(&**q, p)).map(|s| s as u32));
        match slot {
            Some(slot) => self.completed_now.push((slot, i as u32, mi_child)),
            // (a token's process is always one of the instance's; should it not be, the record
            // is kept anyway, in order)
            None => {
                self.completed_before = self.completed().to_vec();
                self.completed_now.clear();
                self.completed_before.push(CompletedActivity {
                    element_id: p.ids[i].clone(),
                    process_id: p.process_id.clone(),
                    kind: el.kind,
                    mi_child,
                });
            }
        }
        if self.completed_view.get().is_some() {
            self.completed_view = std::sync::OnceLock::new();
        }
        if let Some(o) = &self.engine.inner.observer {
            o.on_element_completed(&self.event(p, el, mi_child));
        }
    }

    /// The token's element is done: record it, then loop, report to its multi-instance body,
    /// or leave along the outgoing flows.
    pub(crate) fn complete_activity(&mut self, tid: Id) -> Result<(), EngineError> {
        let (p, i) = self.token_element_at(tid)?;
        self.complete_activity_at(tid, p, i)
    }

    /// [`Instance::complete_activity`] for a caller that has the token's process and element.
    pub(crate) fn complete_activity_at(&mut self, tid: Id, p: &ProcIndex, i: usize) -> Result<(), EngineError> {
        self.record_completed_at(tid, p, i);
        self.disarm_timers(tid);
        self.settle_race(tid);
        let el = p.el(i);
        let mi_inner = self.tokens.get(&tid).is_some_and(|t| t.mi_inner);
        if mi_inner {
            return self.mi_child_done(tid);
        }
        if el.kind.is_activity() {
            if let Some(s) = &el.post_script {
                let scope = self.tokens[&tid].scope;
                self.run_script(p, &el.id, "post-script", s, scope)?;
            }
        }
        self.leave_at(tid, p, i)
    }

    /// Moves a token along the outgoing flows of its element (conditions honoured, default
    /// flow when none holds); no outgoing flow ends the token.
    fn leave_at(&mut self, tid: Id, p: &ProcIndex, ei: usize) -> Result<(), EngineError> {
        let scope = self.tokens[&tid].scope;
        let out = &p.out[ei];
        // the new tokens go in before the old one leaves (the same state either way, without
        // emptying the map in between); conditions read variables only, so each flow can be
        // taken as soon as its condition holds
        let mut taken = false;
        for &fi in &out.flows {
            let f = &p.process().flows[fi];
            let ok = match &f.condition {
                None => true,
                Some(c) => {
                    expr::truthy(&self.eval(p, &f.id, &format!("condition of sequence flow '{}'", f.id), c, scope)?)
                }
            };
            if ok {
                self.take_flow(scope, p, fi);
                taken = true;
            }
        }
        if !taken {
            if let Some(d) = out.default {
                // a default flow that does not exist ends the token without completing its scope
                if let Some(fi) = d {
                    self.take_flow(scope, p, fi);
                }
                taken = true;
            }
        }
        self.tokens.remove(&tid);
        if !taken {
            self.scope_check(scope)?;
        }
        Ok(())
    }

    /// A new token on flow `fi`, ready to enter its target.
    fn take_flow(&mut self, scope: Id, p: &ProcIndex, fi: usize) {
        let tid = self.new_token(
            scope,
            p.flow_targets[fi].clone(),
            p.flow_via[fi].clone(),
            TokenState::Ready,
        );
        // the target is known: so is the new token's slot (same scope, same process)
        if let (Some(target), Some(slot)) = (
            p.flow_target_index[fi],
            self.procs.iter().position(|q| std::ptr::eq(&**q, p)),
        ) {
            if let Some(t) = self.tokens.get_mut(&tid) {
                t.slot = ElementSlot(Some((slot as u32, target as u32)));
            }
        }
    }

    /// Replaces token `tid` by one token on each of `flows`.
    pub(crate) fn take_flows(&mut self, tid: Id, p: &ProcIndex, flows: &[String]) -> Result<(), EngineError> {
        let scope = self
            .tokens
            .get(&tid)
            .map(|t| t.scope)
            .ok_or_else(|| EngineError::Store(format!("token {tid} is missing")))?;
        self.tokens.remove(&tid);
        for fid in flows {
            if let Some(&fi) = p.flows.get(fid.as_str()) {
                self.take_flow(scope, p, fi);
            }
        }
        if flows.is_empty() {
            self.scope_check(scope)?;
        }
        Ok(())
    }

    /// Ends token `tid` (no outgoing flow), then checks its scope.
    pub(crate) fn consume(&mut self, tid: Id) -> Result<(), EngineError> {
        if let Some(t) = self.tokens.remove(&tid) {
            self.disarm_timers(tid);
            self.scope_check(t.scope)?;
        }
        Ok(())
    }

    /// When a scope has no tokens left, it completes: the process ends, or the owner activity
    /// completes.
    pub(crate) fn scope_check(&mut self, scope: Id) -> Result<(), EngineError> {
        if self.tokens.values().any(|t| t.scope == scope) {
            return Ok(());
        }
        let Some(kind) = self.scopes.get(&scope).map(|s| s.kind.clone()) else {
            return Ok(());
        };
        self.disarm_scope_timers(scope);
        if kind == ScopeKind::Process {
            // in a collaboration the instance ends when every pool has ended
            let all_done = !self.tokens.values().any(|t| {
                self.scopes
                    .get(&t.scope)
                    .is_some_and(|sc| sc.kind == ScopeKind::Process)
            });
            if all_done && self.status == InstanceStatus::Running {
                self.status = InstanceStatus::Completed;
                self.timers.clear();
                self.end_span(None);
            }
            return Ok(());
        }
        let Some(s) = self.scopes.get(&scope).cloned() else {
            return Ok(());
        };
        match s.kind {
            ScopeKind::Process => Ok(()), // handled above
            ScopeKind::SubProcess => {
                self.scopes.remove(&scope);
                if let (Some(parent), Some(owner)) = (s.parent, s.owner) {
                    merge_back(self.vars_mut(parent), &s);
                    if let Some(t) = self.tokens.get_mut(&owner) {
                        t.state = TokenState::Ready; // transient; completion moves it on
                    }
                    return self.complete_activity(owner);
                }
                Ok(())
            }
            ScopeKind::CallActivity => {
                self.scopes.remove(&scope);
                if let (Some(_parent), Some(owner)) = (s.parent, s.owner) {
                    self.call_activity_done(owner, &s)?;
                    return self.complete_activity(owner);
                }
                Ok(())
            }
            ScopeKind::MiChild { .. } => Ok(()),
        }
    }

    /// Removes a token and everything running under it (child scopes, timers), without
    /// checking its scope.
    pub(crate) fn cancel_token(&mut self, tid: Id) {
        let Some(t) = self.tokens.remove(&tid) else { return };
        self.disarm_timers(tid);
        self.races.remove(&tid);
        let children: Vec<Id> = self
            .scopes
            .values()
            .filter(|s| s.owner == Some(tid))
            .map(|s| s.id)
            .collect();
        for c in children {
            self.cancel_scope(c);
        }
        let _ = t;
    }

    pub(crate) fn cancel_scope(&mut self, scope: Id) {
        self.disarm_scope_timers(scope);
        let toks: Vec<Id> = self
            .tokens
            .values()
            .filter(|t| t.scope == scope)
            .map(|t| t.id)
            .collect();
        for t in toks {
            self.cancel_token(t);
        }
        self.scopes.remove(&scope);
    }

    // ----- timers ----------------------------------------------------------------------

    pub(crate) fn add_timer(&mut self, token: Id, after: Duration, action: TimerAction) {
        let id = self.alloc_id();
        let due_ms = self
            .now_ms()
            .saturating_add(after.as_millis().min(u128::from(u64::MAX / 2)) as u64);
        self.timers.push(TimerEntry {
            id,
            token,
            due_ms,
            action,
        });
    }

    pub(crate) fn disarm_timers(&mut self, token: Id) {
        self.timers.retain(|t| t.token != token);
    }

    /// Fires every timer that is due, earliest first. Returns true if any fired.
    pub(crate) fn fire_due_timers(&mut self) -> Result<bool, EngineError> {
        if self.timers.is_empty() {
            return Ok(false);
        }
        let now = self.now_ms();
        let mut due: Vec<TimerEntry> = self.timers.iter().filter(|t| t.due_ms <= now).cloned().collect();
        if due.is_empty() {
            return Ok(false);
        }
        due.sort_by_key(|t| (t.due_ms, t.id));
        for t in due {
            if !self.timers.iter().any(|x| x.id == t.id) {
                continue; // disarmed by an earlier one
            }
            self.timers.retain(|x| x.id != t.id);
            if let TimerAction::EventSubprocess { scope, element } = &t.action {
                if self.scopes.contains_key(scope) {
                    self.fire_event_subprocess(*scope, element)?;
                }
                continue;
            }
            if !self.tokens.contains_key(&t.token) {
                continue;
            }
            match &t.action {
                TimerAction::Catch => self.complete_activity(t.token)?,
                TimerAction::EventSubprocess { .. } => {}
                TimerAction::Retry => {
                    if let Some(tok) = self.tokens.get_mut(&t.token) {
                        tok.state = TokenState::CallPending;
                    }
                }
                TimerAction::Boundary {
                    boundary,
                    interrupting,
                    repeats_left,
                    interval_ms,
                } => {
                    self.fire_boundary(t.token, boundary, *interrupting)?;
                    if !interrupting {
                        let again = match repeats_left {
                            Some(0) => None,
                            Some(n) => Some(Some(n - 1)),
                            None => Some(None),
                        };
                        if let Some(r) = again {
                            // cycles keep their cadence: the next firing is one interval
                            // after the previous due time, not after the moment it ran
                            let id = self.alloc_id();
                            self.timers.push(TimerEntry {
                                id,
                                token: t.token,
                                due_ms: t.due_ms.saturating_add((*interval_ms).max(1)),
                                action: TimerAction::Boundary {
                                    boundary: boundary.clone(),
                                    interrupting: false,
                                    repeats_left: r,
                                    interval_ms: *interval_ms,
                                },
                            });
                        }
                    }
                }
            }
        }
        Ok(true)
    }

    fn try_joins(&mut self) -> Result<bool, EngineError> {
        let joining: Vec<Id> = self
            .tokens
            .values()
            .filter(|t| t.state == TokenState::Joining)
            .map(|t| t.id)
            .collect();
        for tid in joining {
            if !self.tokens.contains_key(&tid) {
                continue;
            }
            let (p, el) = self.token_element(tid)?;
            if matches!(el.kind, ElementKind::InclusiveGateway | ElementKind::ComplexGateway)
                && self.try_fire_inclusive(tid, &p, &el)?
            {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// The elements (indexes) a scope of `container` starts at: its none start events; else its
/// first start event that is not an event subprocess's; else every element without incoming
/// flows (boundary events, event subprocesses and link catches aside).
fn start_elements(p: &Process, container: Option<&str>) -> Vec<usize> {
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

/// Evaluates `src` over variable layers within the engine's limits; errors name the element
/// and its position.
pub(crate) fn eval_in(
    p: &ProcIndex,
    element_id: &str,
    what: &str,
    src: &str,
    layers: &[&Map<String, Value>],
) -> Result<Value, EngineError> {
    p.expression(src)
        .and_then(|e| e.eval_with(layers, &p.limits))
        .map_err(|e| EngineError::Expression {
            at: p.location(element_id),
            what: format!("{what} '{}'", src.trim()),
            message: e.message,
            help: "use Python-style (x > 1, answer == 'Yes') or FEEL (=x > 1) expressions over defined variables"
                .to_string(),
        })
}

/// Copies a finished scope's variables back to its parent, deletions included.
pub(crate) fn merge_back(parent: Option<&mut Map<String, Value>>, child: &Scope) {
    let Some(parent) = parent else { return };
    for k in &child.entry_keys {
        if !child.vars.contains_key(k) {
            parent.remove(k);
        }
    }
    for (k, v) in &child.vars {
        parent.insert(k.clone(), v.clone());
    }
}

/// Writes `value` at a dotted variable path.
pub(crate) fn set_path(vars: &mut Map<String, Value>, path: &str, value: Value) {
    let mut parts = path.split('.').peekable();
    let mut cur = vars;
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            cur.insert(part.to_string(), value);
            return;
        }
        let entry = cur.entry(part.to_string()).or_insert_with(|| Value::Object(Map::new()));
        if !entry.is_object() {
            *entry = Value::Object(Map::new());
        }
        match entry {
            Value::Object(m) => cur = m,
            _ => return,
        }
    }
}
