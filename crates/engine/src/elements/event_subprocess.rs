//! Event subprocesses (`triggeredByEvent`): listen while their enclosing scope runs; an error,
//! signal, message or timer start event starts them, interrupting the scope's other work
//! (`isInterrupting`, the default) or running beside it.

use super::boundary_event::Thrown;
use super::signal_event::{channel_key, Channel};
use crate::error::EngineError;
use crate::instance::{Instance, ProcIndex};
use crate::state::{Id, ScopeKind, TimerAction, TokenState};
use serde_json::{Map, Value};
use servicetask_bpmn::{ElementKind, EventDefinition, FlowElement};

/// What may start an event subprocess.
pub(crate) enum Trigger<'a> {
    Error(&'a Thrown),
    Signal(&'a str),
    Message(&'a str),
    /// An escalation with its reference (`None`: unnamed).
    Escalation(Option<&'a str>),
}

impl Instance {
    /// The event subprocesses listening in `scope`, with their triggered start events.
    fn event_subprocesses(&mut self, scope: Id) -> Result<Vec<(FlowElement, FlowElement)>, EngineError> {
        let Some(s) = self.scopes.get(&scope) else {
            return Ok(Vec::new());
        };
        if matches!(s.kind, ScopeKind::MiChild { .. }) {
            return Ok(Vec::new());
        }
        let container = s.container.clone();
        let p = self.proc_of_scope(scope)?;
        let process = p.process();
        Ok(process
            .children(container.as_deref())
            .filter(|e| e.triggered_by_event && e.kind.is_container())
            .filter_map(|es| {
                process
                    .children(Some(&es.id))
                    .find(|c| c.kind == ElementKind::StartEvent && c.event.is_some())
                    .map(|start| (es.clone(), start.clone()))
            })
            .collect())
    }

    /// Arms the timer start events of the event subprocesses of a fresh scope.
    pub(crate) fn arm_event_subprocesses(&mut self, scope: Id) -> Result<(), EngineError> {
        let subs = self.event_subprocesses(scope)?;
        if subs.is_empty() {
            return Ok(());
        }
        let p = self.proc_of_scope(scope)?;
        for (es, start) in subs {
            if let Some(EventDefinition::Timer { kind, expression }) = &start.event {
                let (delay, _, _) = self.timer_delay(&p, &start, *kind, expression, scope)?;
                self.add_timer(
                    0,
                    delay,
                    TimerAction::EventSubprocess {
                        scope,
                        element: es.id.clone(),
                    },
                );
            }
        }
        Ok(())
    }

    /// Drops the event-subprocess timers of a scope that ends.
    pub(crate) fn disarm_scope_timers(&mut self, scope: Id) {
        self.timers
            .retain(|t| !matches!(&t.action, TimerAction::EventSubprocess { scope: s, .. } if *s == scope));
    }

    /// A timer start event fired.
    pub(crate) fn fire_event_subprocess(&mut self, scope: Id, element: &str) -> Result<(), EngineError> {
        let subs = self.event_subprocesses(scope)?;
        if let Some((es, start)) = subs.into_iter().find(|(es, _)| es.id == element) {
            self.start_event_subprocess(scope, &es, &start, Map::new())?;
        }
        Ok(())
    }

    /// Starts the event subprocess of `scope` that `trigger` matches, if any.
    pub(crate) fn trigger_event_subprocess(&mut self, scope: Id, trigger: &Trigger<'_>) -> Result<bool, EngineError> {
        let subs = self.event_subprocesses(scope)?;
        if subs.is_empty() {
            return Ok(false);
        }
        let p = self.proc_of_scope(scope)?;
        let mut chosen = None;
        match trigger {
            Trigger::Error(err) => {
                let mut catch_all = None;
                for (es, start) in &subs {
                    let Some(EventDefinition::Error { error_ref }) = &start.event else {
                        continue;
                    };
                    match error_ref {
                        None => {
                            catch_all.get_or_insert((es.clone(), start.clone()));
                        }
                        Some(r) => {
                            let def = p.defs.error(r);
                            let specific = err.error_ref.as_deref() == Some(r.as_str())
                                || def
                                    .is_some_and(|d| d.code.as_deref() == Some(err.code.as_str()) || d.id == err.code)
                                || (def.is_none() && r == &err.code);
                            if specific {
                                chosen = Some((es.clone(), start.clone()));
                                break;
                            }
                        }
                    }
                }
                chosen = chosen.or(catch_all);
            }
            Trigger::Escalation(code) => {
                let mut catch_all = None;
                for (es, start) in &subs {
                    let Some(EventDefinition::Escalation { escalation_ref }) = &start.event else {
                        continue;
                    };
                    match escalation_ref {
                        None => {
                            catch_all.get_or_insert((es.clone(), start.clone()));
                        }
                        Some(r) if Some(r.as_str()) == *code => {
                            chosen = Some((es.clone(), start.clone()));
                            break;
                        }
                        Some(_) => {}
                    }
                }
                chosen = chosen.or(catch_all);
            }
            Trigger::Signal(key) | Trigger::Message(key) => {
                let channel = if matches!(trigger, Trigger::Signal(_)) {
                    Channel::Signal
                } else {
                    Channel::Message
                };
                chosen = subs.into_iter().find(|(_, start)| {
                    start
                        .event
                        .as_ref()
                        .and_then(|e| channel_key(&p, e, channel))
                        .as_deref()
                        == Some(*key)
                });
            }
        }
        let Some((es, start)) = chosen else { return Ok(false) };
        let mut vars = Map::new();
        if let Trigger::Error(err) = trigger {
            vars.extend(err.variables.clone());
            let name = match &start.event {
                Some(EventDefinition::Error { error_ref: Some(r) }) => {
                    p.defs.error(r).and_then(|d| d.variable_name.clone())
                }
                _ => None,
            };
            if let (Some(n), Some(payload)) = (name, err.payload.clone()) {
                vars.insert(n, payload);
            }
        }
        self.start_event_subprocess(scope, &es, &start, vars)?;
        Ok(true)
    }

    fn start_event_subprocess(
        &mut self,
        scope: Id,
        es: &FlowElement,
        start: &FlowElement,
        vars: Map<String, Value>,
    ) -> Result<(), EngineError> {
        if start.cancel_activity {
            let tokens: Vec<Id> = self
                .tokens
                .values()
                .filter(|t| t.scope == scope)
                .map(|t| t.id)
                .collect();
            for t in tokens {
                self.cancel_token(t);
            }
            self.disarm_scope_timers(scope);
        }
        let process_id = self
            .scopes
            .get(&scope)
            .map(|s| s.process_id.clone())
            .unwrap_or_default();
        let mut child_vars = self.vars_of(scope);
        let keys = child_vars.keys().cloned().collect();
        child_vars.extend(vars);
        let owner = self.new_token(scope, es.id.as_str(), None, TokenState::Joining);
        let child = self.new_scope(
            Some(scope),
            Some(owner),
            ScopeKind::SubProcess,
            process_id,
            Some(es.id.clone()),
            child_vars,
            keys,
        );
        if let Some(t) = self.tokens.get_mut(&owner) {
            t.state = TokenState::InScope(child);
        }
        let p: std::sync::Arc<ProcIndex> = self.proc_of_scope(scope)?;
        if let Some(o) = &self.engine.inner.observer {
            o.on_element_started(&self.event(&p, es, false));
        }
        self.new_token(child, start.id.as_str(), None, TokenState::Ready);
        Ok(())
    }

    /// Signals and messages also start event subprocesses of every live scope.
    pub(crate) fn deliver_to_event_subprocesses(&mut self, channel: Channel, key: &str) -> Result<usize, EngineError> {
        let scopes: Vec<Id> = self.scopes.keys().copied().collect();
        let mut n = 0;
        for s in scopes {
            if !self.scopes.contains_key(&s) {
                continue;
            }
            let trigger = match channel {
                Channel::Signal => Trigger::Signal(key),
                Channel::Message => Trigger::Message(key),
            };
            if self.trigger_event_subprocess(s, &trigger)? {
                n += 1;
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::run;
    use crate::RunOutcome;
    use serde_json::json;

    #[test]
    fn an_error_event_subprocess_handles_an_error_end_event() {
        let (o, done, _) = run(
            r#"<startEvent id="s"/><sequenceFlow id="a" sourceRef="s" targetRef="boom"/><endEvent id="boom"><errorEventDefinition errorRef="err"/></endEvent>
            <subProcess id="es" triggeredByEvent="true"><startEvent id="es_start"><errorEventDefinition errorRef="err"/></startEvent>
            <sequenceFlow id="b" sourceRef="es_start" targetRef="es_end"/><endEvent id="es_end"/></subProcess>"#,
            json!({}),
            0,
        );
        assert_eq!(o, RunOutcome::Completed);
        assert_eq!(done, ["s", "boom", "es_start", "es_end", "es"]);
    }
}
