//! Saving and resuming: an instance's snapshot (timers keep their remaining time), suspending a
//! segment of the instance span, and resuming a saved instance in the same trace.

use super::Instance;
use crate::engine::{CompiledDefs, Engine};
use crate::error::EngineError;
use crate::state::*;
use crate::telemetry;
use opentelemetry::trace::TraceContextExt;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

impl Instance {
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
            completed_pools: self.pools_done.clone(),
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
            pending_bytes: None,
            pending_throws: VecDeque::new(),
            tally: Default::default(),
            conditions: Default::default(),
            pools_done: snap.completed_pools,
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
}
