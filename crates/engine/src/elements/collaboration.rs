//! Collaborations (BPMN 2.0 §9): one instance runs the process of every pool side by side, and
//! their messages pass between them (`message_event`).
//!
//! A pool whose process starts with a message start event is instantiated by each message of
//! that name (§10.5.2: the message creates a new process instance), so its instances are the
//! conversations it was sent into: their data is their own, and the collaboration's
//! variables are those of the pools started with it (all pools' when every pool waits for a
//! message). A pool instance still waiting for the message that would start it has not begun:
//! it does not keep the collaboration running. A pool started by a cycle timer is likewise
//! one instance per firing; the instance waiting for the next firing does keep it running
//! (time will start it). Each pool instance that ends is recorded with
//! its process id ([`Instance::completed_pools`]), as the completion of one participant.

use crate::error::EngineError;
use crate::instance::Instance;
use crate::state::{Id, Scope, ScopeKind, TimerAction, TimerEntry, Token, TokenState};
use serde_json::Map;
use servicetask_bpmn::{ElementKind, EventDefinition, FlowElement, Process};

/// True when `p` is started by a message: each of its start events (at least one) at the
/// process level catches a message.
fn started_by_message(p: &Process) -> bool {
    let mut starts = p
        .children(None)
        .filter(|e| e.kind == ElementKind::StartEvent)
        .peekable();
    starts.peek().is_some() && starts.all(|e| matches!(e.event, Some(EventDefinition::Message { .. })))
}

impl Instance {
    /// True when this instance runs a collaboration (its pools' processes).
    pub(crate) fn runs_collaboration(&self) -> bool {
        self.defs.process(&self.process_id).is_none()
            && self.defs.collaborations.iter().any(|c| c.id == self.process_id)
    }

    /// The process of the pool instance `scope` is, when it is one (a collaboration's
    /// outermost process scope).
    pub(crate) fn pool_of(&self, scope: Id) -> Option<String> {
        let s = self.scopes.get(&scope)?;
        (self.runs_collaboration() && s.kind == ScopeKind::Process && s.parent.is_none()).then(|| s.process_id.clone())
    }

    /// True when `tok` waits at the message start event of a pool of the collaboration this
    /// instance runs: the pool is instantiated by each message of that name.
    pub(crate) fn is_pool_start(&self, tok: &Token) -> bool {
        if tok.state != TokenState::Waiting || self.pool_of(tok.scope).is_none() {
            return false;
        }
        let Some(scope) = self.scopes.get(&tok.scope) else {
            return false;
        };
        self.procs_get(&scope.process_id)
            .and_then(|p| p.element(&tok.element).cloned())
            .is_some_and(|el| {
                el.kind == ElementKind::StartEvent
                    && el.parent.is_none()
                    && matches!(el.event, Some(EventDefinition::Message { .. }))
            })
    }

    /// True when token `tid` is at a start event of a pool of the collaboration this instance
    /// runs (at the process level of the pool instance).
    pub(crate) fn starts_pool(&self, tid: Id, el: &FlowElement) -> bool {
        el.kind == ElementKind::StartEvent
            && el.parent.is_none()
            && self.tokens.get(&tid).is_some_and(|t| self.pool_of(t.scope).is_some())
    }

    /// The cycle timer start event of a pool fired for the pool instance `token` waits in:
    /// that instance starts, and when the cycle has a firing left a new instance of the pool
    /// waits for it, one interval after this one was due (each firing starts the process,
    /// §10.5.2, and the cadence is kept).
    pub(crate) fn pool_timer_fired(
        &mut self,
        token: Id,
        due_ms: u64,
        repeats_left: Option<u32>,
        interval_ms: u64,
    ) -> Result<(), EngineError> {
        let Some(tok) = self.tokens.get(&token).cloned() else {
            return Ok(());
        };
        let again = match repeats_left {
            Some(0) => None,
            Some(n) => Some(Some(n - 1)),
            None => Some(None),
        };
        if let (Some(repeats_left), Some(process_id)) = (again, self.pool_of(tok.scope)) {
            let next = self.new_scope(
                None,
                None,
                ScopeKind::Process,
                process_id.clone(),
                None,
                Map::new(),
                Vec::new(),
            );
            let waiting = self.new_token(next, tok.element.clone(), None, TokenState::Timer);
            let id = self.alloc_id();
            self.timers.push(TimerEntry {
                id,
                token: waiting,
                due_ms: due_ms.saturating_add(interval_ms.max(1)),
                action: TimerAction::PoolStart {
                    repeats_left,
                    interval_ms,
                },
            });
            if self.procs_get(&process_id).is_some_and(|p| p.has_event_subprocesses) {
                self.arm_event_subprocesses(next)?;
            }
        }
        self.complete_activity(token)
    }

    /// The scopes whose variables are the instance's: its process scope, or in a
    /// collaboration the pools started with it (see the module docs).
    pub(crate) fn data_scopes(&self) -> Vec<&Scope> {
        let roots: Vec<&Scope> = self
            .scopes
            .values()
            .filter(|s| s.kind == ScopeKind::Process && s.parent.is_none())
            .collect();
        if !self.runs_collaboration() {
            return roots;
        }
        let by_message = |s: &Scope| self.defs.process(&s.process_id).is_some_and(started_by_message);
        let started: Vec<&Scope> = roots.iter().copied().filter(|s| !by_message(s)).collect();
        if started.is_empty() {
            roots
        } else {
            started
        }
    }

    /// In a collaboration: the process of each pool instance that has ended, in the order
    /// they ended (a pool instantiated by several messages appears once per instance).
    pub fn completed_pools(&self) -> &[String] {
        &self.pools_done
    }
}

#[cfg(test)]
mod tests {
    use crate::{Engine, RunOutcome, StubHandler, VirtualClock};
    use serde_json::Map;
    use std::sync::Arc;

    /// A pool whose start event is a timer cycle R3/PT1M starts once per firing, keeping the
    /// cadence (three instances, each recorded as the pool's completion); the instance waiting
    /// for the next firing keeps the collaboration running, so all three run before it ends.
    #[test]
    fn a_pool_started_by_a_timer_cycle_runs_once_per_firing() {
        let xml = r#"<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="t">
            <collaboration id="c"><participant id="pa" processRef="tick"/><participant id="pb" processRef="main"/></collaboration>
            <process id="tick"><startEvent id="cycle"><timerEventDefinition><timeCycle>R3/PT1M</timeCycle></timerEventDefinition></startEvent>
              <sequenceFlow id="f1" sourceRef="cycle" targetRef="work"/><scriptTask id="work"><script>done = True</script></scriptTask>
              <sequenceFlow id="f2" sourceRef="work" targetRef="e"/><endEvent id="e"/></process>
            <process id="main"><startEvent id="s"/><sequenceFlow id="m1" sourceRef="s" targetRef="e2"/><endEvent id="e2"/></process>
            </definitions>"#;
        let (defs, diags) = servicetask_bpmn::parse("unit.bpmn", xml.as_bytes());
        assert!(diags.iter().all(|d| !d.is_error()), "{diags:?}");
        let clock = VirtualClock::new();
        let engine = Engine::builder(Arc::new(StubHandler))
            .clock(Arc::new(clock.clone()))
            .build();
        let mut inst = engine.start(&defs, "c", Map::new()).unwrap();
        let outcome = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
            .block_on(inst.run());
        assert_eq!(outcome, RunOutcome::Completed);
        let mut pools = inst.completed_pools().to_vec();
        pools.sort();
        assert_eq!(pools, ["main", "tick", "tick", "tick"]);
        let runs = inst.completed().iter().filter(|c| &*c.element_id == "work").count();
        assert_eq!(runs, 3);
        assert_eq!(crate::Clock::now(&clock), std::time::Duration::from_secs(180));
    }
}
