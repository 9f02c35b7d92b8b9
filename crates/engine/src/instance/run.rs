//! The driving loop: [`Instance::run`] steps ready tokens, dispatches service calls, fires timers
//! and joins until the instance completes, fails or waits; entering an element dispatches to its
//! kind in `elements/`; a stuck instance and a failure end the instance span.

use super::{Instance, ProcIndex, RunOutcome};
use crate::error::EngineError;
use crate::observer::ElementEvent;
use crate::state::*;
use opentelemetry::trace::{Status, TraceContextExt};
use servicetask_bpmn::{ElementKind, EventDefinition, FlowElement, LoopCharacteristics};
use std::time::Duration;

impl Instance {
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
            match self.fire_conditions() {
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

    pub(super) fn stuck_error(&self) -> EngineError {
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

    pub(super) fn end_span(&self, error: Option<&str>) {
        let span = self.otel.span();
        if let Some(m) = error {
            span.set_status(Status::error(m.to_string()));
            span.set_attribute(opentelemetry::KeyValue::new("error.type", "bpmn_process_failed"));
        }
        span.end();
    }

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

    pub(super) fn step_ready_tokens(&mut self) -> Result<(), EngineError> {
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

    pub(super) fn try_joins(&mut self) -> Result<bool, EngineError> {
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
    pub(super) fn enter(&mut self, tid: Id) -> Result<(), EngineError> {
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
}
