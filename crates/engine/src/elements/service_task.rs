//! Service, send and business-rule tasks: bound to a registered task through their
//! [`servicetask_bpmn::TaskBinding`] and executed through the [`crate::TaskHandler`]. Ready calls
//! of parallel branches run concurrently; their results apply in token order.
//!
//! Outcomes: complete -> output mapping (SpiffWorkflow: the result variable); BPMN error -> the
//! nearest matching error boundary; failure -> retried while retries are left (after the backoff,
//! on a timer), else an incident on the element, retryable through the API.

use crate::error::EngineError;
use crate::handler::{ServiceCall, ServiceFuture, ServiceResult};
use crate::instance::{eval_in, set_path, Instance, ProcIndex};
use crate::state::{Id, TimerAction, TokenState};
use serde_json::{Map, Value};
use servicetask_bpmn::expr::{detect_dialect, Dialect};
use servicetask_bpmn::{BindingKind, FlowElement, Mapping};
use std::collections::HashMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll};

impl Instance {
    pub(crate) fn enter_service_task(&mut self, tid: Id) -> Result<(), EngineError> {
        if let Some(t) = self.tokens.get_mut(&tid) {
            t.state = TokenState::CallPending;
        }
        Ok(())
    }

    fn build_call(&mut self, tid: Id) -> Result<ServiceCall, EngineError> {
        let (p, i) = self.token_element_at(tid)?;
        let el = p.el(i);
        let scope = self.tokens[&tid].scope;
        let (element_id, element_name, binding) = p.call_site(i);
        let variables = if binding.kind == BindingKind::SpiffOperator {
            let layers = self.layers(scope);
            let mut m = Map::new();
            for (name, src) in &binding.params {
                m.insert(
                    name.clone(),
                    eval_in(p, &el.id, &format!("parameter '{name}'"), src, &layers)?,
                );
            }
            m
        } else if !binding.input_mappings.is_empty() {
            let mut m = Map::new();
            apply_pairs(
                &mut m,
                eval_mappings(p, el, &binding.input_mappings, &self.layers(scope), "input mapping")?,
            );
            m
        } else {
            self.call_variables(tid, scope)
        };
        Ok(ServiceCall {
            element_id,
            element_name,
            binding,
            process_id: p.process_id.clone(),
            instance_id: self.id.clone(),
            variables,
            otel_context: self.call_context(),
            idempotency_key: None,
        })
    }

    /// True while a service call waits to be made (in-process) or run as a job (external).
    pub(crate) fn has_pending_calls(&self) -> bool {
        self.tokens.values().any(|t| t.state == TokenState::CallPending)
    }

    /// With [`crate::EngineConfig::external_jobs`]: the service calls ready to run as jobs, as
    /// (token id, call), in token order. A token id names one activation of its element: it
    /// stays the same across retries of the call, and no other activation reuses it. An input
    /// mapping that fails to evaluate fails the instance, as it does in-process.
    pub fn pending_jobs(&mut self) -> Result<Vec<(Id, ServiceCall)>, EngineError> {
        let ids: Vec<Id> = self
            .tokens
            .values()
            .filter(|t| t.state == TokenState::CallPending)
            .map(|t| t.id)
            .collect();
        let mut jobs = Vec::with_capacity(ids.len());
        for tid in ids {
            match self.build_call(tid) {
                Ok(call) => jobs.push((tid, call)),
                Err(e) => {
                    self.fail(e.clone());
                    return Err(e);
                }
            }
        }
        Ok(jobs)
    }

    /// With [`crate::EngineConfig::external_jobs`]: applies the result of the job of token
    /// `token_id` (one attempt: a failure with retries left is retried, after its backoff on a
    /// timer, else becomes an incident). Call [`Instance::run`] afterwards.
    pub fn complete_job(&mut self, token_id: Id, result: ServiceResult) -> Result<(), EngineError> {
        self.ensure_running()?;
        match self.tokens.get_mut(&token_id) {
            Some(t) if t.state == TokenState::CallPending => t.attempts = t.attempts.saturating_add(1),
            _ => return Err(EngineError::NoSuchTask(token_id.to_string())),
        }
        let r = self.apply_result(token_id, result);
        self.check_failed(r);
        Ok(())
    }

    /// Calls pending service tasks concurrently (at most `max_concurrent_calls` in flight) and
    /// applies each result as it arrives, moving the process on in between; new calls join the
    /// window as earlier ones finish. Timers keep firing meanwhile, and an interrupting boundary
    /// timer aborts the call it interrupts. Returns when no call is pending or in flight.
    pub(crate) async fn dispatch_calls(&mut self) -> Result<(), EngineError> {
        let max = self.engine.inner.config.max_concurrent_calls.max(1);
        let mut set = tokio::task::JoinSet::new();
        let mut by_task = HashMap::new();
        let mut in_flight: HashMap<Id, tokio::task::AbortHandle> = HashMap::new();
        // A call made while no other is in flight is awaited here, not spawned (the common
        // case: one branch calling one task at a time). It joins the set as soon as another
        // call becomes ready, so parallel branches still run concurrently.
        let mut lone: Option<(Id, ServiceFuture)> = None;
        loop {
            if self.status != crate::state::InstanceStatus::Running {
                set.abort_all();
                return Ok(());
            }
            let lone_id = lone.as_ref().map(|(tid, _)| *tid);
            let room = max.saturating_sub(in_flight.len() + usize::from(lone.is_some()));
            // one ready call is the common case: the rest is then empty, and allocates nothing
            let (first, rest) = {
                let mut ready = self
                    .tokens
                    .values()
                    .filter(|t| {
                        t.state == TokenState::CallPending && !in_flight.contains_key(&t.id) && Some(t.id) != lone_id
                    })
                    .map(|t| t.id)
                    .take(room);
                (ready.next(), ready.collect::<Vec<Id>>())
            };
            if let (Some(tid), true, true, None) = (first, rest.is_empty(), set.is_empty(), lone.as_ref()) {
                let call = self.build_call(tid)?;
                if let Some(t) = self.tokens.get_mut(&tid) {
                    t.attempts = t.attempts.saturating_add(1);
                }
                lone = Some((tid, self.call_handler(call)));
            } else if let Some(first) = first {
                if let Some((tid, fut)) = lone.take() {
                    let h = set.spawn(fut);
                    by_task.insert(h.id(), tid);
                    in_flight.insert(tid, h);
                }
                for tid in std::iter::once(first).chain(rest) {
                    let call = self.build_call(tid)?;
                    if let Some(t) = self.tokens.get_mut(&tid) {
                        t.attempts = t.attempts.saturating_add(1);
                    }
                    let h = set.spawn(self.call_handler(call));
                    by_task.insert(h.id(), tid);
                    in_flight.insert(tid, h);
                }
            }
            if let Some((tid, fut)) = lone.as_mut() {
                let tid = *tid;
                let res = match self.next_timer_wait() {
                    Some(timer) => tokio::select! {
                        r = CatchPanic(fut) => r,
                        _ = timer => {
                            self.fire_due_timers()?;
                            self.step_ready()?;
                            if !self.tokens.contains_key(&tid) {
                                lone = None; // its token is gone: abort the call
                            }
                            continue;
                        }
                    },
                    None => CatchPanic(fut).await,
                };
                lone = None;
                if self
                    .tokens
                    .get(&tid)
                    .is_some_and(|t| t.state == TokenState::CallPending)
                {
                    self.apply_result(tid, res)?;
                    self.step_ready()?;
                }
                continue;
            }
            if set.is_empty() {
                return Ok(());
            }
            let joined = match self.next_timer_wait() {
                Some(timer) => tokio::select! {
                    r = set.join_next_with_id() => r,
                    _ = timer => {
                        self.fire_due_timers()?;
                        self.step_ready()?;
                        in_flight.retain(|tid, h| {
                            let alive = self.tokens.contains_key(tid);
                            if !alive {
                                h.abort();
                            }
                            alive
                        });
                        continue;
                    }
                },
                None => set.join_next_with_id().await,
            };
            let Some(joined) = joined else { continue };
            let (tid, res) = match joined {
                Ok((task, res)) => match by_task.remove(&task) {
                    Some(tid) => (tid, res),
                    None => continue,
                },
                Err(e) => {
                    let Some(tid) = by_task.remove(&e.id()) else { continue };
                    let message = if e.is_panic() {
                        PANICKED.to_string()
                    } else {
                        format!("the task was cancelled: {e}")
                    };
                    let class = if e.is_panic() { "panic" } else { "cancelled" };
                    (
                        tid,
                        ServiceResult::Failed {
                            message,
                            error_class: class.to_string(),
                            retries_left: 0,
                            retry_backoff: None,
                        },
                    )
                }
            };
            if in_flight.remove(&tid).is_none() {
                continue; // aborted: its token is gone
            }
            if self
                .tokens
                .get(&tid)
                .is_some_and(|t| t.state == TokenState::CallPending)
            {
                self.apply_result(tid, res)?;
                self.step_ready()?;
            }
        }
    }

    fn apply_result(&mut self, tid: Id, res: ServiceResult) -> Result<(), EngineError> {
        let (p, i) = self.token_element_at(tid)?;
        let el = p.el(i);
        let scope = self.tokens[&tid].scope;
        let binding = p.binding(i);
        match res {
            ServiceResult::Complete(out) => {
                if binding.kind == BindingKind::SpiffOperator {
                    let name = binding
                        .result_variable
                        .clone()
                        .filter(|s| !s.is_empty())
                        .unwrap_or_else(|| format!("spiff__{}_result", el.id.replace('-', "_")));
                    if let Some(v) = self.vars_mut(scope) {
                        v.insert(name, Value::Object(out));
                    }
                } else if !binding.output_mappings.is_empty() {
                    // Zeebe: outputs see the task's local (input-mapped) variables and its result
                    let mut source = Map::new();
                    if !binding.input_mappings.is_empty() {
                        apply_pairs(
                            &mut source,
                            eval_mappings(p, el, &binding.input_mappings, &self.layers(scope), "input mapping")?,
                        );
                    }
                    source.extend(out);
                    let pairs = {
                        let mut layers = vec![&source];
                        layers.extend(self.layers(scope));
                        eval_mappings(p, el, &binding.output_mappings, &layers, "output mapping")?
                    };
                    if let Some(v) = self.vars_mut(scope) {
                        apply_pairs(v, pairs);
                    }
                } else if !out.is_empty() {
                    if let Some(v) = self.vars_mut(scope) {
                        v.extend(out);
                    }
                }
                self.scope_changed(p, &el.id, scope)?;
                self.complete_activity_at(tid, p, i)
            }
            ServiceResult::BpmnError {
                code,
                message,
                variables,
            } => {
                let thrown = super::Thrown {
                    code,
                    error_ref: None,
                    message,
                    payload: None,
                    variables,
                };
                self.throw_error(Some(tid), thrown, p.location(&el.id), false, None)
            }
            ServiceResult::Failed {
                message,
                error_class,
                retries_left,
                retry_backoff,
            } => {
                let attempts = self.tokens.get(&tid).map(|t| t.attempts).unwrap_or(0);
                if retries_left > 0 && attempts < self.engine.inner.config.max_attempts {
                    match retry_backoff {
                        Some(d) if !d.is_zero() => {
                            if let Some(t) = self.tokens.get_mut(&tid) {
                                t.state = TokenState::Timer;
                            }
                            self.add_timer(tid, d, TimerAction::Retry);
                        }
                        _ => {
                            if let Some(t) = self.tokens.get_mut(&tid) {
                                t.state = TokenState::CallPending;
                            }
                        }
                    }
                    return Ok(());
                }
                if let Some(t) = self.tokens.get_mut(&tid) {
                    t.state = TokenState::Incident {
                        message: message.clone(),
                        error_class: error_class.clone(),
                    };
                }
                if let Some(o) = &self.engine.inner.observer {
                    let inc = crate::state::Incident {
                        token_id: tid,
                        element_id: el.id.clone(),
                        process_id: p.process().id.clone(),
                        message,
                        error_class,
                    };
                    o.on_incident(&inc);
                }
                Ok(())
            }
        }
    }
}

impl Instance {
    /// Hands `call` to the task handler. A handler that panics before it returns its future
    /// fails that call like one whose future panics: an incident of class `panic`.
    fn call_handler(&self, call: ServiceCall) -> ServiceFuture {
        let handler = &self.engine.inner.handler;
        match std::panic::catch_unwind(AssertUnwindSafe(|| handler.call(call))) {
            Ok(fut) => fut,
            Err(_) => Box::pin(std::future::ready(panicked())),
        }
    }
}

/// The result of a call whose handler panicked.
fn panicked() -> ServiceResult {
    ServiceResult::Failed {
        message: PANICKED.to_string(),
        error_class: "panic".to_string(),
        retries_left: 0,
        retry_backoff: None,
    }
}

/// The failure message of a call whose handler panicked.
const PANICKED: &str = "the task handler panicked";

/// Polls a handler's future in place and turns a panic into the failure a spawned task's
/// panic gives (an incident with error class `panic`), as the spawned path does.
struct CatchPanic<'a>(&'a mut ServiceFuture);

impl Future for CatchPanic<'_> {
    type Output = ServiceResult;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<ServiceResult> {
        match std::panic::catch_unwind(AssertUnwindSafe(|| self.0.as_mut().poll(cx))) {
            Ok(p) => p,
            Err(_) => Poll::Ready(panicked()),
        }
    }
}

/// Evaluates source -> target mappings over variable layers: sources in FEEL (`=expr`) or JUEL
/// (`${expr}`) are evaluated; plain sources are static strings, as in Zeebe; an empty source
/// copies the variable named by the target.
pub(crate) fn eval_mappings(
    p: &ProcIndex,
    el: &FlowElement,
    mappings: &[Mapping],
    layers: &[&Map<String, Value>],
    what: &str,
) -> Result<Vec<(String, Value)>, EngineError> {
    let mut out = Vec::with_capacity(mappings.len());
    for m in mappings {
        let value = if m.source.trim().is_empty() {
            layers
                .iter()
                .find_map(|l| l.get(&m.target))
                .cloned()
                .unwrap_or(Value::Null)
        } else if detect_dialect(&m.source).0 == Dialect::Python {
            Value::String(m.source.clone())
        } else {
            eval_in(p, &el.id, what, &m.source, layers)?
        };
        out.push((m.target.clone(), value));
    }
    Ok(out)
}

/// Writes evaluated mappings at their (dotted) target paths.
pub(crate) fn apply_pairs(target: &mut Map<String, Value>, pairs: Vec<(String, Value)>) {
    for (t, v) in pairs {
        set_path(target, &t, v);
    }
}

impl Instance {
    /// The variables a task without input mappings is called with: everything it sees, except
    /// that a multi-instance child does not get the whole input collection again (only its item).
    fn call_variables(&self, tid: Id, scope: Id) -> Map<String, Value> {
        let mut vars = self.vars_of(scope);
        let mi_inner = self.tokens.get(&tid).is_some_and(|t| t.mi_inner);
        if mi_inner {
            if let Some(Ok((_, el))) = self.tokens.get(&tid).map(|t| {
                self.scopes
                    .get(&t.scope)
                    .and_then(|s| self.procs_get(&s.process_id))
                    .and_then(|p| p.element(&t.element).cloned().map(|e| (p, e)))
                    .ok_or(())
            }) {
                if let Some(servicetask_bpmn::LoopCharacteristics::MultiInstance(mi)) = &el.loop_characteristics {
                    if let Some(coll) = &mi.input_collection {
                        let name = coll.trim().trim_start_matches('=').trim();
                        if mi.input_element.as_deref() != Some(name) {
                            vars.remove(name);
                        }
                    }
                }
            }
        }
        vars
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::run;
    use crate::RunOutcome;
    use serde_json::json;

    #[test]
    fn a_plain_service_task_completes_through_the_stub() {
        let (o, done, _) = run(
            r#"<startEvent id="s"/><sequenceFlow id="a" sourceRef="s" targetRef="t"/><serviceTask id="t"/>"#,
            json!({}),
            0,
        );
        assert_eq!(o, RunOutcome::Completed);
        assert_eq!(done, ["s", "t"]);
    }

    /// A handler that panics, in its future or before it returns one, gives an incident of
    /// class `panic`, whether the call is awaited in place (one call) or spawned (parallel
    /// calls).
    #[test]
    fn a_panicking_handler_becomes_an_incident() {
        use crate::{Engine, ServiceCall, ServiceFuture};
        use std::sync::Arc;
        let in_future = |call: ServiceCall| -> ServiceFuture {
            Box::pin(async move {
                if call.element_id.starts_with("boom") {
                    panic!("boom");
                }
                crate::ServiceResult::Complete(Default::default())
            })
        };
        let before_future = |call: ServiceCall| -> ServiceFuture {
            if call.element_id.starts_with("boom") {
                panic!("boom");
            }
            Box::pin(async { crate::ServiceResult::Complete(Default::default()) })
        };
        let engines = [Engine::new(Arc::new(in_future)), Engine::new(Arc::new(before_future))];
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        for engine in &engines {
            panics_become_incidents(engine, &rt);
        }
    }

    /// With external jobs, a ready call waits for the host like a user task, a failure with
    /// retries left waits on a timer the host sees, and a timer never puts the instance to
    /// sleep: the host resumes it when the timer is due.
    #[test]
    fn external_jobs_wait_for_the_host_and_timers_return_to_it() {
        use crate::{Engine, EngineConfig, ServiceResult, StubHandler};
        use std::sync::Arc;
        use std::time::Duration;
        let xml = r#"<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"><process id="p">
            <startEvent id="s"/><sequenceFlow id="a" sourceRef="s" targetRef="t"/><serviceTask id="t"/>
            <sequenceFlow id="b" sourceRef="t" targetRef="w"/>
            <intermediateCatchEvent id="w"><timerEventDefinition><timeDuration>PT1H</timeDuration></timerEventDefinition></intermediateCatchEvent>
            <sequenceFlow id="c" sourceRef="w" targetRef="e"/><endEvent id="e"/></process></definitions>"#;
        let (defs, _) = servicetask_bpmn::parse("jobs.bpmn", xml.as_bytes());
        let engine = Engine::builder(Arc::new(StubHandler))
            .config(EngineConfig {
                external_jobs: true,
                ..EngineConfig::default()
            })
            .build();
        let deployed = engine.deploy(&defs).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let mut i = deployed.start("p", Default::default()).unwrap();
            let waiting = |o: RunOutcome| matches!(o, RunOutcome::Waiting { ref tasks, ref incidents, .. } if tasks.is_empty() && incidents.is_empty());
            assert!(waiting(i.run().await));
            let jobs = i.pending_jobs().unwrap();
            assert_eq!(jobs.len(), 1);
            let (token, call) = &jobs[0];
            assert_eq!(&*call.element_id, "t");
            let failed = ServiceResult::Failed {
                message: "down".into(),
                error_class: "network".into(),
                retries_left: 1,
                retry_backoff: Some(Duration::from_secs(5)),
            };
            i.complete_job(*token, failed).unwrap();
            let RunOutcome::Waiting { next_timer, .. } = i.run().await else { panic!() };
            assert_eq!(next_timer, Some(Duration::from_secs(5)));
            assert!(i.pending_jobs().unwrap().is_empty(), "the retry waits for its backoff");
            // the host persists the snapshot and resumes it once the backoff is due
            let mut snap = i.snapshot();
            for t in &mut snap.timers {
                t.due_ms = 0;
            }
            let mut i = deployed.resume(snap).unwrap();
            assert!(waiting(i.run().await));
            let jobs = i.pending_jobs().unwrap();
            assert_eq!(jobs[0].0, *token, "a retry keeps its activation's token");
            i.complete_job(*token, ServiceResult::Complete(Default::default())).unwrap();
            assert!(i.complete_job(*token, ServiceResult::Complete(Default::default())).is_err());
            let RunOutcome::Waiting { next_timer, .. } = i.run().await else { panic!() };
            assert_eq!(next_timer, Some(Duration::from_secs(3600)));
            let mut snap = i.snapshot();
            for t in &mut snap.timers {
                t.due_ms = 0;
            }
            let mut i = deployed.resume(snap).unwrap();
            assert_eq!(i.run().await, RunOutcome::Completed);
            let done: Vec<&str> = i.completed().iter().map(|c| &*c.element_id).collect();
            assert_eq!(done, ["s", "t", "w", "e"]);
        });
    }

    fn panics_become_incidents(engine: &crate::Engine, rt: &tokio::runtime::Runtime) {
        for (body, expected) in [
            (
                r#"<startEvent id="s"/><sequenceFlow id="a" sourceRef="s" targetRef="boom"/><serviceTask id="boom"/>"#,
                vec!["boom"],
            ),
            (
                r#"<startEvent id="s"/><sequenceFlow id="a" sourceRef="s" targetRef="g"/><parallelGateway id="g"/>
                <sequenceFlow id="b" sourceRef="g" targetRef="boom1"/><serviceTask id="boom1"/>
                <sequenceFlow id="c" sourceRef="g" targetRef="ok"/><serviceTask id="ok"/>
                <sequenceFlow id="d" sourceRef="g" targetRef="boom2"/><serviceTask id="boom2"/>"#,
                vec!["boom1", "boom2"],
            ),
        ] {
            let xml = format!(
                r#"<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"><process id="p">{body}</process></definitions>"#
            );
            let (defs, _) = servicetask_bpmn::parse("panic.bpmn", xml.as_bytes());
            let outcome = rt.block_on(async {
                let mut i = engine.start(&defs, "p", Default::default()).unwrap();
                i.run().await
            });
            let RunOutcome::Waiting { incidents, .. } = outcome else {
                panic!("unexpected {outcome:?}")
            };
            let mut got: Vec<&str> = incidents.iter().map(|i| i.element_id.as_str()).collect();
            got.sort();
            assert_eq!(got, expected);
            for i in &incidents {
                assert_eq!(i.error_class, "panic");
                assert_eq!(i.message, "the task handler panicked");
            }
        }
    }
}
