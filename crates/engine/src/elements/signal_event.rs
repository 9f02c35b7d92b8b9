//! Signal and message events inside one instance: a throw (intermediate or end event) is
//! delivered to every waiting catch event and every active activity's boundary event with the
//! same signal/message name; [`crate::Instance::send_signal`] and
//! [`crate::Instance::send_message`] deliver from outside.

use crate::error::EngineError;
use crate::instance::{Instance, ProcIndex};
use crate::state::{Id, TokenState};
use serde_json::{Map, Value};
use servicetask_bpmn::{ElementKind, EventDefinition};

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
    /// A send task with a `messageRef` and no service binding sends its message.
    pub(crate) fn enter_message_send_task(
        &mut self,
        tid: Id,
        p: &ProcIndex,
        el: &servicetask_bpmn::FlowElement,
    ) -> Result<(), EngineError> {
        if let Some(r) = &el.message_ref {
            let key = message_name(p, r);
            self.deliver(Channel::Message, &key, &Map::new())?;
        }
        if !self.tokens.contains_key(&tid) {
            return Ok(());
        }
        self.complete_activity(tid)
    }

    /// Delivers a signal or message `key` to every catcher; returns how many caught it.
    pub(crate) fn deliver(
        &mut self,
        channel: Channel,
        key: &str,
        vars: &Map<String, Value>,
    ) -> Result<usize, EngineError> {
        let mut caught = 0;
        let ids: Vec<Id> = self.tokens.keys().copied().collect();
        for tid in ids {
            let Some(tok) = self.tokens.get(&tid).cloned() else {
                continue;
            };
            if matches!(tok.state, TokenState::Ready | TokenState::Joining) {
                continue;
            }
            let p = self.proc_of_scope(tok.scope)?;
            let Some(el) = p.element(&tok.element).cloned() else {
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
            if !el.kind.is_activity() || tok.mi_inner {
                continue;
            }
            let boundaries: Vec<(String, bool)> = p
                .process()
                .boundary_events(&el.id)
                .filter(|b| b.event.as_ref().and_then(|e| channel_key(&p, e, channel)).as_deref() == Some(key))
                .map(|b| (b.id.clone(), b.cancel_activity))
                .collect();
            for (b, interrupting) in boundaries {
                if !self.tokens.contains_key(&tid) {
                    break;
                }
                if let Some(v) = self.vars_mut(tok.scope) {
                    v.extend(vars.clone());
                }
                caught += 1;
                self.fire_boundary(tid, &b, interrupting)?;
            }
        }
        caught += self.deliver_to_event_subprocesses(channel, key)?;
        if caught == 0 && channel == Channel::Message && self.pending_messages.len() < 10_000 {
            // nobody listens yet: keep it for the next catcher
            self.pending_messages.push((key.to_string(), vars.clone()));
        }
        Ok(caught)
    }

    /// A token just started waiting at a message catch: takes a buffered message for it.
    pub(crate) fn take_pending_message(&mut self, tid: Id) -> Result<(), EngineError> {
        if self.pending_messages.is_empty() {
            return Ok(());
        }
        let Some(tok) = self.tokens.get(&tid).cloned() else {
            return Ok(());
        };
        let p = self.proc_of_scope(tok.scope)?;
        let Some(el) = p.element(&tok.element) else {
            return Ok(());
        };
        let key = match el.kind {
            ElementKind::ReceiveTask => el.message_ref.as_ref().map(|r| message_name(&p, r)),
            _ => el.event.as_ref().and_then(|e| channel_key(&p, e, Channel::Message)),
        };
        let Some(key) = key else { return Ok(()) };
        let Some(i) = self.pending_messages.iter().position(|(k, _)| *k == key) else {
            return Ok(());
        };
        let (_, vars) = self.pending_messages.remove(i);
        if let Some(v) = self.vars_mut(tok.scope) {
            v.extend(vars);
        }
        self.complete_activity(tid)
    }

    /// Throws the signal/message of a throw event, if it has one.
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
        for channel in [Channel::Signal, Channel::Message] {
            if let Some(key) = channel_key(p, ev, channel) {
                self.deliver(channel, &key, &Map::new())?;
            }
        }
        Ok(())
    }

    /// Delivers signal `name` (setting `vars` where it is caught); returns how many catchers
    /// fired. Call [`Instance::run`] afterwards.
    pub fn send_signal(&mut self, name: &str, vars: Map<String, Value>) -> Result<usize, EngineError> {
        let r = self.deliver(Channel::Signal, name, &vars);
        self.settle(r)
    }

    /// Delivers message `name` (setting `vars` where it is caught); returns how many catchers
    /// fired. Call [`Instance::run`] afterwards.
    pub fn send_message(&mut self, name: &str, vars: Map<String, Value>) -> Result<usize, EngineError> {
        let r = self.deliver(Channel::Message, name, &vars);
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
}
