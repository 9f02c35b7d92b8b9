//! Messages (BPMN 2.0 §10.5.4 message events, §10.3.3 send and receive tasks, §8.3.2
//! correlation, §9 collaborations).
//!
//! A message has a name and a content: the value of its sender's payload expression
//! (SpiffWorkflow `messagePayload`, Camunda `expression`; `{resultVariable: value}` when the
//! thrower names the catcher's variable, as Camunda does), else the sender's variables (not a
//! loop's counter, which belongs to the activity instance, §10.2.8). It is
//! caught by every waiting catch event, receive task, boundary event and event subprocess of
//! that name whose conversation it belongs to; when nobody listens it waits for the next
//! catcher. A catch stores the content in its message variable (SpiffWorkflow
//! `messageVariable`), else sets the content's variables in its scope.
//!
//! Correlation (§8.3.2, key-based): a `<correlationKey>` is made of correlation properties, and
//! each property says how to retrieve its value from each message that carries it. The values a
//! message yields are its keys. A scope (a process, subprocess or multi-instance instance) holds
//! the keys of its conversations, set by the first message it sends or catches of each; a later
//! message is caught there only when every key it yields equals the one held. A catch's
//! `processVariableCorrelation` (SpiffWorkflow, the spec's context-based correlation) gives the
//! value a property must have, computed from the catcher's variables.
//!
//! In a collaboration (`collaboration`), a message caught by the message start event of a pool
//! starts that pool instance and leaves another one waiting for the next message.

use super::signal_event::{boundaries, channel_key, message_name, Channel};
use crate::error::EngineError;
use crate::instance::{eval_in, Instance, ProcIndex};
use crate::state::{Id, ScopeKind, Token, TokenState};
use serde_json::{Map, Value};
use servicetask_bpmn::{ElementKind, EventDefinition, FlowElement};

/// The message name element `el` sends or waits for (receive and send tasks by their
/// `messageRef`, events by their message event definition).
fn message_of(p: &ProcIndex, el: &FlowElement) -> Option<String> {
    match el.kind {
        ElementKind::ReceiveTask | ElementKind::SendTask => el.message_ref.as_ref().map(|r| message_name(p, r)),
        _ => el.event.as_ref().and_then(|e| channel_key(p, e, Channel::Message)),
    }
}

/// True when `el` catches (rather than throws) its message.
fn catches(el: &FlowElement) -> bool {
    !matches!(
        el.kind,
        ElementKind::SendTask | ElementKind::IntermediateThrowEvent | ElementKind::EndEvent
    )
}

impl Instance {
    /// A send task with a `messageRef` and no service binding sends its message.
    pub(crate) fn enter_message_send_task(
        &mut self,
        tid: Id,
        p: &ProcIndex,
        el: &FlowElement,
    ) -> Result<(), EngineError> {
        let scope = self.tokens[&tid].scope;
        self.send_from(p, el, scope)?;
        if !self.tokens.contains_key(&tid) {
            return Ok(());
        }
        self.complete_activity(tid)
    }

    /// Throws the event of throw element `el` (an intermediate throw or end event) in `scope`:
    /// its message, or its other event definition.
    pub(crate) fn throw_event(&mut self, p: &ProcIndex, el: &FlowElement, scope: Id) -> Result<(), EngineError> {
        if matches!(el.event, Some(EventDefinition::Message { .. })) {
            return self.send_from(p, el, scope).map(|_| ());
        }
        self.throw_event_definition(p, el.event.as_ref(), scope)
    }

    /// Sends the message of `el` from `scope`: its content, its keys (held by the sender for
    /// the replies), delivered.
    fn send_from(&mut self, p: &ProcIndex, el: &FlowElement, scope: Id) -> Result<usize, EngineError> {
        let Some(name) = message_of(p, el) else { return Ok(0) };
        let value = match &el.message_payload {
            Some(expr) => self.eval(p, &el.id, "message payload", expr, scope)?,
            None => {
                // a loop's counter belongs to the activity instance (§10.2.8), not to its data
                let mut vars = self.vars_of(scope);
                vars.remove("loopCounter");
                Value::Object(vars)
            }
        };
        let content = match &el.message_variable {
            Some(var) => Value::Object(Map::from_iter([(var.clone(), value)])),
            None => value,
        };
        let keys = message_keys(p, &el.id, &name, &content)?;
        self.hold_keys(scope, &keys);
        self.deliver_message(&name, &content)
    }

    /// Delivers message `name` with `content` (see the module docs); returns how many caught it.
    pub(crate) fn deliver_message(&mut self, name: &str, content: &Value) -> Result<usize, EngineError> {
        let mut caught = 0;
        let ids: Vec<Id> = self.tokens.keys().copied().collect();
        for tid in ids {
            let Some((tok, p, el)) = self.listener(tid)? else {
                continue;
            };
            let listens = matches!(
                el.kind,
                ElementKind::IntermediateCatchEvent | ElementKind::StartEvent | ElementKind::ReceiveTask
            );
            if tok.state == TokenState::Waiting && listens && message_of(&p, &el).as_deref() == Some(name) {
                if self.catch_message(&p, &el, &tok, content)? {
                    caught += 1;
                }
                continue;
            }
            // boundary events of an active activity
            for b in boundaries(&p, &tok, &el, |b| message_of(&p, b).as_deref() == Some(name)) {
                if !self.tokens.contains_key(&tid) {
                    break;
                }
                let keys = message_keys(&p, &b.id, name, content)?;
                if !self.correlates(&p, &b, tok.scope, &keys)? {
                    continue;
                }
                self.hold_keys(tok.scope, &keys);
                self.store_message(tok.scope, &b, content);
                caught += 1;
                self.fire_boundary(tid, &b.id, b.cancel_activity)?;
            }
        }
        caught += self.deliver_to_event_subprocesses(Channel::Message, name)?;
        if caught == 0 && self.pending_messages.len() < 10_000 {
            // nobody listens yet: keep it for the next catcher
            self.pending_messages.push((name.to_string(), content.clone()));
        }
        Ok(caught)
    }

    /// The waiting catch `tok` (at `el`) takes the message when it belongs to its
    /// conversations; a pool's message start event first leaves another instance of its pool
    /// waiting for the next message.
    fn catch_message(
        &mut self,
        p: &ProcIndex,
        el: &FlowElement,
        tok: &Token,
        content: &Value,
    ) -> Result<bool, EngineError> {
        let name = message_of(p, el).unwrap_or_default();
        let keys = message_keys(p, &el.id, &name, content)?;
        if !self.correlates(p, el, tok.scope, &keys)? {
            return Ok(false);
        }
        if self.is_pool_start(tok) {
            let process_id = p.process().id.clone();
            let next = self.new_scope(None, None, ScopeKind::Process, process_id, None, Map::new(), Vec::new());
            self.new_token(next, el.id.as_str(), None, TokenState::Ready);
            if p.has_event_subprocesses {
                self.arm_event_subprocesses(next)?;
            }
        }
        self.hold_keys(tok.scope, &keys);
        self.store_message(tok.scope, el, content);
        self.complete_activity(tok.id)?;
        Ok(true)
    }

    /// A token just started waiting at a message catch: takes a buffered message for it (the
    /// first of its name that belongs to its conversations).
    pub(crate) fn take_pending_message(&mut self, tid: Id) -> Result<(), EngineError> {
        if self.pending_messages.is_empty() {
            return Ok(());
        }
        let Some(tok) = self.tokens.get(&tid).cloned() else {
            return Ok(());
        };
        let p = self.proc_of_scope(tok.scope)?;
        let Some(el) = p.element(&tok.element).cloned() else {
            return Ok(());
        };
        let Some(name) = message_of(&p, &el) else { return Ok(()) };
        for i in 0..self.pending_messages.len() {
            if self.pending_messages[i].0 != name {
                continue;
            }
            let keys = message_keys(&p, &el.id, &name, &self.pending_messages[i].1)?;
            if !self.correlates(&p, &el, tok.scope, &keys)? {
                continue;
            }
            let (_, content) = self.pending_messages.remove(i);
            return self.catch_message(&p, &el, &tok, &content).map(|_| ());
        }
        Ok(())
    }

    /// Delivers message `name` from outside (its content: `vars`); returns how many catchers
    /// took it. Its correlation keys come from `vars` by the retrieval expressions of the
    /// model; a message they cannot be retrieved from is refused and the instance is left as
    /// it was. Call [`Instance::run`] afterwards.
    pub fn send_message(&mut self, name: &str, vars: Map<String, Value>) -> Result<usize, EngineError> {
        self.ensure_running()?;
        let content = Value::Object(vars);
        // a model whose keys cannot be retrieved from this content refuses it before delivery
        let roots: Vec<Id> = self
            .scopes
            .values()
            .filter(|s| s.parent.is_none())
            .map(|s| s.id)
            .collect();
        for r in roots {
            let p = self.proc_of_scope(r)?;
            message_keys(&p, &p.process().id, name, &content)?;
        }
        let r = self.deliver_message(name, &content);
        match r {
            Ok(n) => Ok(n),
            Err(e) => {
                self.fail(e.clone());
                Err(e)
            }
        }
    }

    /// The scopes whose conversations `scope` shares: itself and the subprocess and
    /// multi-instance scopes around it, up to its process (or called process).
    fn conversation_scopes(&self, scope: Id) -> Vec<Id> {
        let mut out = Vec::new();
        let mut cur = Some(scope);
        while let Some(id) = cur {
            let Some(s) = self.scopes.get(&id) else { break };
            out.push(id);
            if matches!(s.kind, ScopeKind::Process | ScopeKind::CallActivity) {
                break;
            }
            cur = s.parent;
        }
        out
    }

    /// The value held for correlation key `key` by the conversations of `scope`, if any.
    fn held_key(&self, scope: Id, key: &str) -> Option<&Value> {
        self.conversation_scopes(scope)
            .into_iter()
            .find_map(|id| self.scopes.get(&id)?.correlations.get(key))
    }

    /// `scope` takes part in the conversations of `keys`: those not yet held around it are
    /// held by it from now on.
    fn hold_keys(&mut self, scope: Id, keys: &Map<String, Value>) {
        let new: Vec<(String, Value)> = keys
            .iter()
            .filter(|(k, _)| self.held_key(scope, k).is_none())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if let Some(s) = self.scopes.get_mut(&scope) {
            s.correlations.extend(new);
        }
    }

    /// True when a message yielding `keys` belongs to the conversations of catch `el` in
    /// `scope`: every key it yields that the scope holds is equal, and every property the catch
    /// correlates on process variables has the value the catch computes.
    fn correlates(
        &self,
        p: &ProcIndex,
        el: &FlowElement,
        scope: Id,
        keys: &Map<String, Value>,
    ) -> Result<bool, EngineError> {
        if keys
            .iter()
            .any(|(k, v)| self.held_key(scope, k).is_some_and(|held| held != v))
        {
            return Ok(false);
        }
        for (prop, expr) in &el.message_correlations {
            let yielded: Vec<&Value> = keys.values().filter_map(|v| v.get(prop)).collect();
            if yielded.is_empty() {
                continue; // the message does not carry this property
            }
            let what = format!("correlation of property '{prop}'");
            let want = self.eval(p, &el.id, &what, expr, scope)?;
            if yielded.iter().any(|v| **v != want) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Stores a caught message's content where catch `el` says (see the module docs).
    fn store_message(&mut self, scope: Id, el: &FlowElement, content: &Value) {
        let Some(vars) = self.vars_mut(scope) else { return };
        match (&el.message_variable, content) {
            (Some(var), _) if catches(el) => {
                vars.insert(var.clone(), content.clone());
            }
            (_, Value::Object(m)) => vars.extend(m.iter().map(|(k, v)| (k.clone(), v.clone()))),
            _ => {} // a bare value and nowhere to put it
        }
    }
}

/// The correlation keys message `name` with `content` yields (key name -> {property id:
/// value}), by the retrieval expressions the model gives that message; `element_id` names the
/// element errors are reported at.
fn message_keys(
    p: &ProcIndex,
    element_id: &str,
    name: &str,
    content: &Value,
) -> Result<Map<String, Value>, EngineError> {
    let defs = &p.defs;
    let mut keys = Map::new();
    if defs.correlation_keys.is_empty() {
        return Ok(keys);
    }
    let refs: Vec<&str> = defs
        .messages
        .iter()
        .filter(|m| m.name.as_deref() == Some(name) || m.id == name)
        .map(|m| m.id.as_str())
        .collect();
    let empty = Map::new();
    let vars = content.as_object().unwrap_or(&empty);
    for key in &defs.correlation_keys {
        let mut values = Map::new();
        for prop_id in &key.property_refs {
            let Some(prop) = defs.correlation_properties.iter().find(|c| &c.id == prop_id) else {
                continue;
            };
            let Some((_, expr)) = prop.retrievals.iter().find(|(m, _)| refs.contains(&m.as_str())) else {
                continue;
            };
            let what = format!("retrieval of correlation property '{prop_id}' from message '{name}'");
            values.insert(prop_id.clone(), eval_in(p, element_id, &what, expr, &[vars])?);
        }
        if !values.is_empty() {
            keys.insert(key.name.clone(), Value::Object(values));
        }
    }
    Ok(keys)
}
