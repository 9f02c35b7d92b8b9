//! Signal and message events inside one instance: a throw (intermediate or end event) is
//! delivered to every waiting catch event and every active activity's boundary event with the
//! same signal name; [`crate::Instance::send_signal`] delivers from outside. Messages, which also
//! correlate, are `message_event`'s (this file names their channel and their names, and finds
//! the tokens an event may reach, for messages and conditions too).

use crate::error::EngineError;
use crate::instance::{Instance, ProcIndex};
use crate::state::{Id, Token, TokenState};
use serde_json::{Map, Value};
use servicetask_bpmn::{ElementKind, EventDefinition, FlowElement};
use std::sync::Arc;

/// A token an event may reach now, with its process and the element it is at.
pub(crate) type Listener = (Token, Arc<ProcIndex>, FlowElement);

impl Instance {
    /// Token `tid` as an event may reach it: `None` when it has ended meanwhile, is on its way
    /// into an element (ready) or is merging at a join.
    pub(crate) fn listener(&mut self, tid: Id) -> Result<Option<Listener>, EngineError> {
        let Some(tok) = self.tokens.get(&tid).cloned() else {
            return Ok(None);
        };
        if matches!(tok.state, TokenState::Ready | TokenState::Joining) {
            return Ok(None);
        }
        let p = self.proc_of_scope(tok.scope)?;
        let Some(el) = p.element(&tok.element).cloned() else {
            return Ok(None);
        };
        Ok(Some((tok, p, el)))
    }
}

/// The boundary events `pick` selects of the activity token `tok` is at (none for a token
/// inside a multi-instance activity: the activity's body token carries them).
pub(crate) fn boundaries(
    p: &ProcIndex,
    tok: &Token,
    el: &FlowElement,
    pick: impl Fn(&FlowElement) -> bool,
) -> Vec<FlowElement> {
    if !el.kind.is_activity() || tok.mi_inner {
        return Vec::new();
    }
    p.process()
        .boundary_events(&el.id)
        .filter(|b| pick(b))
        .cloned()
        .collect()
}

/// Signal or message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Channel {
    Signal,
    Message,
}

/// The name an event definition listens or throws on (the referenced definition's name, else
/// its id); `None` when the definition is of the other channel.
pub(crate) fn channel_key(p: &ProcIndex, ev: &EventDefinition, channel: Channel) -> Option<String> {
    match (ev, channel) {
        (EventDefinition::Signal { signal_ref }, Channel::Signal) => Some(match signal_ref {
            Some(r) => p
                .defs
                .signals
                .iter()
                .find(|s| &s.id == r)
                .and_then(|s| s.name.clone())
                .unwrap_or_else(|| r.clone()),
            None => String::new(),
        }),
        (EventDefinition::Message { message_ref }, Channel::Message) => Some(match message_ref {
            Some(r) => p
                .defs
                .messages
                .iter()
                .find(|m| &m.id == r)
                .and_then(|m| m.name.clone())
                .unwrap_or_else(|| r.clone()),
            None => String::new(),
        }),
        _ => None,
    }
}

/// The name of message `r` (its id when it has none).
pub(crate) fn message_name(p: &ProcIndex, r: &str) -> String {
    p.defs
        .messages
        .iter()
        .find(|m| m.id == r)
        .and_then(|m| m.name.clone())
        .unwrap_or_else(|| r.to_string())
}

impl Instance {
    /// Delivers a signal `key` to every catcher; returns how many caught it. (Messages, which
    /// also correlate, go through `message_event`.)
    pub(crate) fn deliver(
        &mut self,
        channel: Channel,
        key: &str,
        vars: &Map<String, Value>,
    ) -> Result<usize, EngineError> {
        let mut caught = 0;
        let ids: Vec<Id> = self.tokens.keys().copied().collect();
        for tid in ids {
            let Some((tok, p, el)) = self.listener(tid)? else {
                continue;
            };
            // a waiting catch event (or receive task)
            let listens = match (el.kind, channel) {
                // a start event waits only at a process's start, for its trigger
                (ElementKind::IntermediateCatchEvent | ElementKind::StartEvent, _) => {
                    el.event.as_ref().and_then(|e| channel_key(&p, e, channel))
                }
                (ElementKind::ReceiveTask, Channel::Message) => el.message_ref.as_ref().map(|r| message_name(&p, r)),
                _ => None,
            };
            if tok.state == TokenState::Waiting {
                if let Some(k) = listens {
                    if k == key {
                        if let Some(v) = self.vars_mut(tok.scope) {
                            v.extend(vars.clone());
                        }
                        caught += 1;
                        self.complete_activity(tid)?;
                        continue;
                    }
                }
            }
            // boundary events of an active activity
            let on_key =
                |b: &FlowElement| b.event.as_ref().and_then(|e| channel_key(&p, e, channel)).as_deref() == Some(key);
            for b in boundaries(&p, &tok, &el, on_key) {
                if !self.tokens.contains_key(&tid) {
                    break;
                }
                if let Some(v) = self.vars_mut(tok.scope) {
                    v.extend(vars.clone());
                }
                caught += 1;
                self.fire_boundary(tid, &b.id, b.cancel_activity)?;
            }
        }
        caught += self.deliver_to_event_subprocesses(channel, key)?;
        Ok(caught)
    }

    /// Throws the signal (or escalation) of a throw event, if it has one; messages are thrown by
    /// `message_event`.
    pub(crate) fn throw_event_definition(
        &mut self,
        p: &ProcIndex,
        ev: Option<&EventDefinition>,
        scope: Id,
    ) -> Result<(), EngineError> {
        let Some(ev) = ev else { return Ok(()) };
        if let EventDefinition::Escalation { escalation_ref } = ev {
            self.throw_escalation(scope, escalation_ref.as_deref())?;
            return Ok(());
        }
        if let Some(key) = channel_key(p, ev, Channel::Signal) {
            let payload = self.signal_payload(p, ev, scope)?;
            self.deliver(Channel::Signal, &key, &payload)?;
        }
        Ok(())
    }

    /// What a thrown signal carries to its catchers (SpiffWorkflow's signal payload): with a
    /// `variableName` on the `<signal>`, that variable set to its `payloadExpression`
    /// evaluated over the thrower's variables (null without one); else nothing.
    fn signal_payload(
        &self,
        p: &ProcIndex,
        ev: &EventDefinition,
        scope: Id,
    ) -> Result<Map<String, Value>, EngineError> {
        let EventDefinition::Signal { signal_ref: Some(r) } = ev else {
            return Ok(Map::new());
        };
        let Some(def) = p.defs.signals.iter().find(|s| &s.id == r) else {
            return Ok(Map::new());
        };
        let Some(variable) = def.variable_name.as_deref().filter(|v| !v.is_empty()) else {
            return Ok(Map::new());
        };
        let value = match def.payload_expression.as_deref().filter(|e| !e.is_empty()) {
            Some(src) => self.eval(p, &def.id, "signal payload", src, scope)?,
            None => Value::Null,
        };
        Ok(Map::from_iter([(variable.to_string(), value)]))
    }

    /// Delivers signal `name` (setting `vars` where it is caught); returns how many catchers
    /// fired. Call [`Instance::run`] afterwards.
    pub fn send_signal(&mut self, name: &str, vars: Map<String, Value>) -> Result<usize, EngineError> {
        self.admit_incoming(&vars, &format!("signal '{name}'"))?;
        let r = self.deliver(Channel::Signal, name, &vars);
        self.settle(r)
    }

    fn settle(&mut self, r: Result<usize, EngineError>) -> Result<usize, EngineError> {
        match r {
            Ok(n) => Ok(n),
            Err(e) => {
                self.fail(e.clone());
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::run;
    use crate::RunOutcome;
    use serde_json::json;

    #[test]
    fn a_signal_throw_completes_a_waiting_signal_catch() {
        let (o, done, _) = run(
            r#"<startEvent id="s"/><sequenceFlow id="a" sourceRef="s" targetRef="g"/><parallelGateway id="g"/>
            <sequenceFlow id="b" sourceRef="g" targetRef="c"/><sequenceFlow id="d" sourceRef="g" targetRef="t"/>
            <intermediateCatchEvent id="c"><signalEventDefinition signalRef="sig"/></intermediateCatchEvent>
            <intermediateThrowEvent id="t"><signalEventDefinition signalRef="sig"/></intermediateThrowEvent>"#,
            json!({}),
            0,
        );
        assert_eq!(o, RunOutcome::Completed);
        // the throw completes first; the catch completes when the signal reaches it
        assert_eq!(done, ["s", "g", "t", "c"]);
    }

    #[test]
    fn a_signal_carries_its_spiffworkflow_payload_into_the_catchers_variable() {
        let xml = r#"<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="t">
            <signal id="sig" name="go"><extensionElements>
              <spiffworkflow:payloadExpression>v * 2</spiffworkflow:payloadExpression>
              <spiffworkflow:variableName>result</spiffworkflow:variableName>
            </extensionElements></signal>
            <process id="p"><startEvent id="s"/><sequenceFlow id="a" sourceRef="s" targetRef="g"/><parallelGateway id="g"/>
            <sequenceFlow id="b" sourceRef="g" targetRef="c"/><sequenceFlow id="d" sourceRef="g" targetRef="t"/>
            <intermediateCatchEvent id="c"><signalEventDefinition signalRef="sig"/></intermediateCatchEvent>
            <intermediateThrowEvent id="t"><signalEventDefinition signalRef="sig"/></intermediateThrowEvent></process></definitions>"#;
        let (defs, diags) = servicetask_bpmn::parse("unit.bpmn", xml.as_bytes());
        assert!(diags.iter().all(|d| !d.is_error()), "{diags:?}");
        let engine = crate::Engine::builder(std::sync::Arc::new(crate::StubHandler)).build();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let vars = json!({"v": 21}).as_object().cloned().unwrap_or_default();
        let mut inst = engine.start(&defs, "p", vars).unwrap();
        assert_eq!(rt.block_on(inst.run()), RunOutcome::Completed);
        assert_eq!(inst.variables().get("result"), Some(&json!(42)));
    }
}
