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
use crate::budget;
use crate::error::EngineError;
use crate::instance::{eval_in, Instance, ProcIndex};
use crate::state::{Id, ScopeKind, Token, TokenState};
use serde_json::{Map, Value};
use servicetask_bpmn::{ElementKind, EventDefinition, FlowElement};

/// The most messages an instance keeps for catchers not waiting yet.
const MAX_BUFFERED: usize = 10_000;

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
        let caught = self.deliver_message(&name, &content)?;
        if caught == 0 {
            self.buffer_message((p, &el.id), &name, &content)?;
        }
        Ok(caught)
    }

    /// Delivers message `name` with `content` (see the module docs); returns how many caught it.
    fn deliver_message(&mut self, name: &str, content: &Value) -> Result<usize, EngineError> {
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
                self.store_message(&p, tok.scope, &b, content)?;
                caught += 1;
                self.fire_boundary(tid, &b.id, b.cancel_activity)?;
            }
        }
        caught += self.deliver_to_event_subprocesses(Channel::Message, name)?;
        Ok(caught)
    }

    /// Keeps message `name`, which nobody listens to yet, for the next catcher (message
    /// buffering). What is buffered is data the instance holds: at most [`MAX_BUFFERED`]
    /// messages, taking no more bytes than its variables may; past either the sender `from`
    /// fails, naming the message (a message is never dropped silently).
    fn buffer_message(&mut self, from: (&ProcIndex, &str), name: &str, content: &Value) -> Result<(), EngineError> {
        let (p, at) = from;
        if self.pending_messages.len() >= MAX_BUFFERED {
            return Err(EngineError::Unsupported {
                at: p.location(at),
                what: format!("sending message '{name}' while {MAX_BUFFERED} messages wait for a catcher"),
                help: "make sure each message sent has a catcher waiting for it (or one reached later)".to_string(),
            });
        }
        let bytes = budget::value_bytes(content);
        let held = self.pending_bytes().saturating_add(bytes);
        let limit = self.engine.inner.config.max_variable_bytes;
        if held > limit {
            let over = budget::OverBudget {
                bytes: held,
                limit,
                largest: vec![(
                    format!("{} messages nobody has caught", self.pending_messages.len() + 1),
                    held,
                )],
            };
            return Err(budget::error_at(p, at, &format!("message '{name}'"), over));
        }
        self.pending_messages.push((name.to_string(), content.clone()));
        self.pending_bytes = Some(held);
        Ok(())
    }

    /// The estimated bytes of the buffered messages (counted once, then kept up to date).
    fn pending_bytes(&mut self) -> u64 {
        let pending = &self.pending_messages;
        *self.pending_bytes.get_or_insert_with(|| {
            pending
                .iter()
                .map(|(_, v)| budget::value_bytes(v))
                .fold(0, u64::saturating_add)
        })
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
        self.store_message(p, tok.scope, el, content)?;
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
            let bytes = budget::value_bytes(&content);
            self.pending_bytes = self.pending_bytes.map(|b| b.saturating_sub(bytes));
            return self.catch_message(&p, &el, &tok, &content).map(|_| ());
        }
        Ok(())
    }

    /// Delivers message `name` from outside (its content: `vars`); returns how many catchers
    /// took it (0: it waits for the next catcher). It is refused, the instance left as it was,
    /// when it would take the variables over their budget, when its correlation keys (from
    /// `vars`, by the retrieval expressions of the model) cannot be retrieved, or when nobody
    /// takes it and no more messages can wait. Call [`Instance::run`] afterwards.
    pub fn send_message(&mut self, name: &str, vars: Map<String, Value>) -> Result<usize, EngineError> {
        self.ensure_running()?;
        self.admit_incoming(&vars, &format!("message '{name}'"))?;
        let content = Value::Object(vars);
        let roots: Vec<Id> = self
            .scopes
            .values()
            .filter(|s| s.parent.is_none())
            .map(|s| s.id)
            .collect();
        let mut first = None;
        for r in roots {
            let p = self.proc_of_scope(r)?;
            message_keys(&p, &p.process().id, name, &content)?;
            first.get_or_insert(p);
        }
        let Some(p) = first else { return Ok(0) };
        match self.deliver_message(name, &content) {
            Ok(0) => {
                let at = p.process().id.clone();
                self.buffer_message((&p, &at), name, &content).map(|_| 0)
            }
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

    /// Stores a caught message's content where catch `el` says (see the module docs); the
    /// variables it grows stay within the instance's budget.
    fn store_message(
        &mut self,
        p: &ProcIndex,
        scope: Id,
        el: &FlowElement,
        content: &Value,
    ) -> Result<(), EngineError> {
        let Some(vars) = self.vars_mut(scope) else {
            return Ok(());
        };
        match (&el.message_variable, content) {
            (Some(var), _) if catches(el) => {
                vars.insert(var.clone(), content.clone());
            }
            (_, Value::Object(m)) => vars.extend(m.iter().map(|(k, v)| (k.clone(), v.clone()))),
            _ => return Ok(()), // a bare value and nowhere to put it
        }
        self.check_variable_budget(p, &el.id)
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

#[cfg(test)]
mod tests {
    use crate::{Engine, EngineConfig, Instance, InstanceStatus, RunOutcome, StubHandler};
    use serde_json::{json, Map, Value};
    use std::sync::Arc;

    const SPIFF: &str = r#"xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core""#;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    /// Starts `process` of definitions `body` on an engine with `max_variable_bytes` and runs it
    /// until it waits or ends.
    fn start(body: &str, process: &str, vars: Value, max_variable_bytes: u64) -> (Instance, RunOutcome) {
        let xml = format!(r#"<definitions {SPIFF} id="t">{body}</definitions>"#);
        let (defs, diags) = servicetask_bpmn::parse("unit.bpmn", xml.as_bytes());
        assert!(diags.iter().all(|d| !d.is_error()), "{diags:?}");
        let engine = Engine::builder(Arc::new(StubHandler))
            .config(EngineConfig {
                max_variable_bytes,
                ..EngineConfig::default()
            })
            .build();
        let mut inst = engine.start(&defs, process, obj(vars)).unwrap();
        let outcome = block_on(inst.run());
        (inst, outcome)
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
            .block_on(f)
    }

    /// Each instance of a multi-instance subprocess sends 'ask' with its own id (its
    /// conversation's key, §8.3.2) and waits for 'answer': answers sent from outside reach the
    /// instance whose key they carry, whatever their order, and one no conversation holds waits.
    #[test]
    fn an_answer_reaches_the_conversation_its_correlation_key_names() {
        let body = r#"<collaboration id="c"><participant id="pp" processRef="p"/>
              <correlationKey name="k"><correlationPropertyRef>order</correlationPropertyRef></correlationKey></collaboration>
            <correlationProperty id="order">
              <correlationPropertyRetrievalExpression messageRef="m_ask"><formalExpression>id</formalExpression></correlationPropertyRetrievalExpression>
              <correlationPropertyRetrievalExpression messageRef="m_answer"><formalExpression>id</formalExpression></correlationPropertyRetrievalExpression>
            </correlationProperty>
            <message id="m_ask" name="ask"/><message id="m_answer" name="answer"/>
            <process id="p"><startEvent id="s"/><sequenceFlow id="f1" sourceRef="s" targetRef="each"/>
              <subProcess id="each">
                <multiInstanceLoopCharacteristics><loopDataInputRef>items</loopDataInputRef><loopDataOutputRef>results</loopDataOutputRef>
                  <inputDataItem id="n" name="n"/><outputDataItem id="got" name="got"/></multiInstanceLoopCharacteristics>
                <startEvent id="s2"/><sequenceFlow id="f2" sourceRef="s2" targetRef="ask"/>
                <intermediateThrowEvent id="ask"><messageEventDefinition messageRef="m_ask"><extensionElements>
                  <spiffworkflow:messagePayload>{'id': n}</spiffworkflow:messagePayload></extensionElements></messageEventDefinition></intermediateThrowEvent>
                <sequenceFlow id="f3" sourceRef="ask" targetRef="wait"/>
                <intermediateCatchEvent id="wait"><messageEventDefinition messageRef="m_answer"><extensionElements>
                  <spiffworkflow:messageVariable>got</spiffworkflow:messageVariable></extensionElements></messageEventDefinition></intermediateCatchEvent>
                <sequenceFlow id="f4" sourceRef="wait" targetRef="e2"/><endEvent id="e2"/>
              </subProcess>
              <sequenceFlow id="f5" sourceRef="each" targetRef="e"/><endEvent id="e"/></process>"#;
        let (mut inst, outcome) = start(body, "p", json!({"items": [1, 2]}), 1 << 20);
        assert!(matches!(outcome, RunOutcome::Waiting { .. }), "{outcome:?}");
        assert_eq!(inst.send_message("answer", obj(json!({"id": 3, "v": "c"}))).unwrap(), 0);
        assert_eq!(inst.send_message("answer", obj(json!({"id": 2, "v": "b"}))).unwrap(), 1);
        assert_eq!(inst.send_message("answer", obj(json!({"id": 1, "v": "a"}))).unwrap(), 1);
        assert_eq!(block_on(inst.run()), RunOutcome::Completed);
        assert_eq!(
            inst.variables().get("results"),
            Some(&json!([{"id": 1, "v": "a"}, {"id": 2, "v": "b"}]))
        );
    }

    /// A pool started by a message is one instance per message (§10.5.2): two orders start
    /// two, recorded as two completions of the pool; their data stays theirs (the
    /// collaboration's variables are the sending pool's), and the instance of the pool left
    /// waiting for a third order does not keep the collaboration running.
    #[test]
    fn a_pool_started_by_a_message_runs_once_per_message() {
        let body = r#"<collaboration id="c"><participant id="pa" processRef="shop"/><participant id="pb" processRef="bank"/></collaboration>
            <message id="m" name="order"/>
            <process id="shop"><startEvent id="s"/><sequenceFlow id="f1" sourceRef="s" targetRef="t1"/>
              <intermediateThrowEvent id="t1"><messageEventDefinition messageRef="m"/></intermediateThrowEvent>
              <sequenceFlow id="f2" sourceRef="t1" targetRef="t2"/>
              <intermediateThrowEvent id="t2"><messageEventDefinition messageRef="m"/></intermediateThrowEvent>
              <sequenceFlow id="f3" sourceRef="t2" targetRef="e"/><endEvent id="e"/></process>
            <process id="bank"><startEvent id="bs"><messageEventDefinition messageRef="m"/></startEvent>
              <sequenceFlow id="b1" sourceRef="bs" targetRef="book"/>
              <scriptTask id="book"><script>booked = True</script></scriptTask>
              <sequenceFlow id="b2" sourceRef="book" targetRef="be"/><endEvent id="be"/></process>"#;
        let (inst, outcome) = start(body, "c", json!({"shop_data": 1}), 1 << 20);
        assert_eq!(outcome, RunOutcome::Completed);
        let mut pools = inst.completed_pools().to_vec();
        pools.sort();
        assert_eq!(pools, ["bank", "bank", "shop"]);
        let done = inst.completed().iter().filter(|c| &*c.element_id == "book").count();
        assert_eq!(done, 2);
        assert_eq!(inst.variables(), obj(json!({"shop_data": 1})));
    }

    /// A message from outside is data the instance would hold: one over the variable budget
    /// is refused and the instance goes on; messages nobody catches are kept up to the budget
    /// and to MAX_BUFFERED, then refused (never dropped silently).
    #[test]
    fn messages_from_outside_and_buffered_ones_stay_within_bounds() {
        let body = r#"<message id="m" name="go"/><process id="p"><startEvent id="s"/><sequenceFlow id="f1" sourceRef="s" targetRef="w"/>
            <intermediateCatchEvent id="w"><messageEventDefinition messageRef="m"/></intermediateCatchEvent>
            <sequenceFlow id="f2" sourceRef="w" targetRef="e"/><endEvent id="e"/></process>"#;
        let (mut inst, _) = start(body, "p", json!({}), 4_000);
        let big = obj(json!({"blob": "x".repeat(5_000)}));
        let refused = inst.send_message("go", big).unwrap_err().to_string();
        assert!(refused.contains("message 'go'"), "{refused}");
        assert_eq!(*inst.status(), InstanceStatus::Running);
        // nobody waits for 'other': each is kept, until their bytes pass the budget
        let part = obj(json!({"blob": "y".repeat(1_000)}));
        let mut kept = 0;
        let err = loop {
            match inst.send_message("other", part.clone()) {
                Ok(0) => kept += 1,
                Ok(n) => panic!("caught by {n}"),
                Err(e) => break e.to_string(),
            }
            assert!(kept < 10, "the buffer grows past the budget");
        };
        assert!(kept >= 2 && err.contains("messages nobody has caught"), "{kept}: {err}");
        assert_eq!(*inst.status(), InstanceStatus::Running);
        assert_eq!(inst.send_message("go", Map::new()).unwrap(), 1);
        assert_eq!(block_on(inst.run()), RunOutcome::Completed);
        // small messages: at most MAX_BUFFERED wait
        let (mut inst, _) = start(body, "p", json!({}), 1 << 30);
        for _ in 0..super::MAX_BUFFERED {
            assert_eq!(inst.send_message("other", Map::new()).unwrap(), 0);
        }
        let err = inst.send_message("other", Map::new()).unwrap_err().to_string();
        assert!(err.contains("messages wait for a catcher"), "{err}");
    }
}
