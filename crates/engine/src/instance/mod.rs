//! A running process instance. The state and its construction live here; each concern in its own
//! submodule: the driving loop (`run`), token movement (`tokens`), scopes (`scopes`), variables
//! and expressions (`variables`), timers (`timers`), process and element lookup (`lookup`),
//! the public API (`api`), saving and resuming (`snapshot`), the process index (`proc_index`).
//! Element-specific behaviour lives in `elements/`, one file per element kind.

mod api;
mod lookup;
mod proc_index;
mod run;
mod scopes;
mod snapshot;
mod timers;
mod tokens;
mod variables;

pub(crate) use proc_index::ProcIndex;
pub(crate) use variables::{eval_in, merge_back, set_path};

use crate::engine::{CompiledDefs, Engine};
use crate::error::EngineError;
use crate::idmap::IdMap;
use crate::state::*;
use crate::telemetry;
use opentelemetry::trace::TraceContextExt;
use opentelemetry::Context;
use serde_json::{Map, Value};
use servicetask_bpmn::Definitions;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

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
    pub(crate) pending_messages: Vec<(String, Value)>,
    /// The estimated bytes of `pending_messages`, once counted.
    pub(crate) pending_bytes: Option<u64>,
    /// Throw events whose event is still to be delivered (`TokenState::Throwing` tokens), in
    /// the order they were reached.
    pub(crate) pending_throws: VecDeque<Id>,
    /// What it knows of its variables' size ([`crate::budget`]).
    pub(crate) tally: crate::budget::Tally,
    /// Conditional events: whether the model has any, which boundary conditions held.
    pub(crate) conditions: crate::elements::ConditionWatch,
    /// In a collaboration: the process of each pool instance that has ended, in order.
    pub(crate) pools_done: Vec<String>,
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
            pending_bytes: None,
            pending_throws: VecDeque::new(),
            tally: Default::default(),
            conditions: Default::default(),
            pools_done: Vec::new(),
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
}
