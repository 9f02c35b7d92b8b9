//! Multi-instance activities, the engine's batch operation: parallel or sequential, by
//! cardinality or over a collection, each instance in its own scope with its item; outputs are
//! gathered in order into the output collection; progress goes to the observer.

use crate::error::EngineError;
use crate::instance::{Instance, ProcIndex};
use crate::state::{Id, MiState, ScopeKind, TokenState};
use serde_json::Value;
use servicetask_bpmn::expr;
use servicetask_bpmn::{FlowElement, LoopCharacteristics, MultiInstance};

impl Instance {
    pub(crate) fn start_multi_instance(
        &mut self,
        tid: Id,
        p: &ProcIndex,
        el: &FlowElement,
        mi: &MultiInstance,
    ) -> Result<(), EngineError> {
        let scope = self.tokens[&tid].scope;
        self.arm_boundary_timers(tid, p, el)?;
        if let Some(s) = &el.pre_script {
            self.run_script(p, &el.id, "pre-script", s, scope)?;
        }
        let limits = &self.engine.inner.config.limits;
        let too_many = |message: String| EngineError::Expression {
            at: p.location(&el.id),
            what: "multi-instance".to_string(),
            message,
            help: "split the batch, or raise EngineConfig::limits.max_instances".to_string(),
        };
        let mut keys = None;
        let items: Vec<Value> = if let Some(src) = &mi.input_collection {
            let items = match self.eval(p, &el.id, "input collection", src, scope)? {
                Value::Array(a) => a,
                Value::Object(o) => {
                    keys = Some(o.keys().cloned().collect());
                    o.into_iter().map(|(_, v)| v).collect()
                }
                // a number counts its instances, like a cardinality (checked before it is built)
                n @ Value::Number(_) => {
                    let count = limits.instance_count(&n).map_err(|message| EngineError::Expression {
                        at: p.location(&el.id),
                        what: format!("input collection '{src}'"),
                        message,
                        help: "make the input collection a list variable, or a whole number of instances".to_string(),
                    })?;
                    (0..count as u64).map(Value::from).collect()
                }
                Value::Null => Vec::new(),
                other => {
                    return Err(EngineError::Expression {
                        at: p.location(&el.id),
                        what: format!("input collection '{src}'"),
                        message: format!("expected a list, got {other}"),
                        help: "make the input collection a list variable".to_string(),
                    })
                }
            };
            limits.check_instances(items.len() as u64).map_err(too_many)?;
            items
        } else if let Some(src) = &mi.cardinality {
            let v = self.eval(p, &el.id, "loop cardinality", src, scope)?;
            // the count is checked before anything is allocated for it
            let n = limits.instance_count(&v).map_err(|message| EngineError::Expression {
                at: p.location(&el.id),
                what: format!("loop cardinality '{src}'"),
                message,
                help: "make loopCardinality a whole number within EngineConfig::limits.max_instances".to_string(),
            })?;
            (0..n as u64).map(Value::from).collect()
        } else {
            Vec::new()
        };
        let n = items.len();
        let state = MiState {
            outputs: vec![Value::Null; n],
            items,
            started: 0,
            done: 0,
            sequential: mi.sequential,
            keys,
        };
        if let Some(t) = self.tokens.get_mut(&tid) {
            t.state = TokenState::MiBody(Box::new(state));
        }
        if let Some(o) = &self.engine.inner.observer {
            o.on_batch_progress(&self.id, &el.id, 0, n);
        }
        if n == 0 {
            return self.finish_multi_instance(tid, p, el, mi);
        }
        let first = if mi.sequential { 1 } else { n };
        for _ in 0..first {
            self.spawn_mi_child(tid, el, mi)?;
        }
        Ok(())
    }

    fn spawn_mi_child(&mut self, body: Id, el: &FlowElement, mi: &MultiInstance) -> Result<(), EngineError> {
        let Some(tok) = self.tokens.get_mut(&body) else {
            return Ok(());
        };
        let scope = tok.scope;
        let (index, item) = match &mut tok.state {
            TokenState::MiBody(s) => {
                let i = s.started;
                s.started += 1;
                (i, s.items.get(i).cloned().unwrap_or(Value::Null))
            }
            _ => return Ok(()),
        };
        // the child holds only its item and counter; it reads the rest through its parent
        let (process_id, mut vars) = match self.scopes.get(&scope) {
            Some(s) => (s.process_id.clone(), serde_json::Map::new()),
            None => return Ok(()),
        };
        if let Some(name) = &mi.input_element {
            vars.insert(name.clone(), item);
        }
        vars.insert("loopCounter".to_string(), Value::from(index as u64 + 1));
        let child = self.new_scope(
            Some(scope),
            Some(body),
            ScopeKind::MiChild { index },
            process_id,
            None,
            vars,
            Vec::new(),
        );
        let t = self.new_token(child, el.id.as_str(), None, TokenState::Ready);
        if let Some(t) = self.tokens.get_mut(&t) {
            t.mi_inner = true;
        }
        Ok(())
    }

    /// One instance (token `tid`, in a multi-instance child scope) finished.
    pub(crate) fn mi_child_done(&mut self, tid: Id) -> Result<(), EngineError> {
        let Some(tok) = self.tokens.remove(&tid) else {
            return Ok(());
        };
        let Some(child) = self.scopes.get(&tok.scope).cloned() else {
            return Ok(());
        };
        let ScopeKind::MiChild { index } = child.kind else {
            return Ok(());
        };
        self.cancel_scope(child.id);
        let Some(body) = child.owner else { return Ok(()) };
        let (p, el) = self.token_element(body)?;
        if matches!(el.loop_characteristics, Some(LoopCharacteristics::Standard { .. })) {
            return self.loop_iteration_done(body, &p, &el, &child);
        }
        let Some(LoopCharacteristics::MultiInstance(mi)) = el.loop_characteristics.clone() else {
            return Ok(());
        };
        let body_scope = self.tokens[&body].scope;
        let output = match (&mi.output_element, &mi.output_collection) {
            // FEEL (Zeebe): an expression, null when it has no value
            (Some(src), _) if src.trim_start().starts_with('=') => {
                let mut layers = vec![&child.vars];
                layers.extend(self.layers(body_scope));
                p.expression(src)
                    .and_then(|e| e.eval_in(&layers, &p.limits, &p.functions))
                    .unwrap_or(Value::Null)
            }
            // a variable the instance must set (SpiffWorkflow: "Expected an output item")
            (Some(name), Some(_)) => {
                let name = name.trim();
                let found = child
                    .vars
                    .get(name)
                    .cloned()
                    .or_else(|| self.layers(body_scope).iter().find_map(|l| l.get(name).cloned()));
                found.ok_or_else(|| EngineError::Expression {
                    at: p.location(&el.id),
                    what: format!("output item '{name}'"),
                    message: format!("instance {} did not set '{name}'", index + 1),
                    help: format!("set '{name}' in each instance, or remove the outputDataItem"),
                })?
            }
            (Some(_), None) | (None, _) => {
                // no output collection: the instance's variables merge back (SpiffWorkflow),
                // except what belongs to the instance alone: its counter and its input and
                // output items (BPMN 2.0 §10.2.8: data items local to each instance)
                let local = |k: &str| {
                    k == "loopCounter"
                        || mi.input_element.as_deref().is_some_and(|n| n.trim() == k)
                        || mi.output_element.as_deref().is_some_and(|n| n.trim() == k)
                };
                if let Some(v) = self.vars_mut(body_scope) {
                    for (k, val) in &child.vars {
                        if !local(k) {
                            v.insert(k.clone(), val.clone());
                        }
                    }
                }
                Value::Null
            }
        };
        let output_bytes = crate::budget::value_bytes(&output);
        let (done, total, sequential) = match self.tokens.get_mut(&body).map(|t| &mut t.state) {
            Some(TokenState::MiBody(s)) => {
                if let Some(slot) = s.outputs.get_mut(index) {
                    *slot = output;
                }
                s.done += 1;
                (s.done, s.items.len(), s.sequential)
            }
            _ => return Ok(()),
        };
        // the outputs wait in the activity's token until the last instance ends
        self.variables_grew(&p, &el.id, output_bytes)?;
        if let Some(o) = &self.engine.inner.observer {
            o.on_batch_progress(&self.id, &el.id, done, total);
        }
        let complete_early = match &mi.completion_condition {
            Some(c) => {
                let mut vars = self.vars_of(self.tokens[&body].scope);
                vars.extend(child.vars.clone());
                vars.insert("nrOfCompletedInstances".to_string(), Value::from(done as u64));
                vars.insert("nrOfInstances".to_string(), Value::from(total as u64));
                expr::truthy(&crate::instance::eval_in(
                    &p,
                    &el.id,
                    "completion condition",
                    c,
                    &[&vars],
                )?)
            }
            None => false,
        };
        if done >= total || complete_early {
            let children: Vec<_> = self
                .scopes
                .values()
                .filter(|s| s.owner == Some(body))
                .map(|s| s.id)
                .collect();
            for c in children {
                self.cancel_scope(c);
            }
            return self.finish_multi_instance(body, &p, &el, &mi);
        }
        if sequential {
            self.spawn_mi_child(body, &el, &mi)?;
        }
        Ok(())
    }

    fn finish_multi_instance(
        &mut self,
        body: Id,
        p: &ProcIndex,
        el: &FlowElement,
        mi: &MultiInstance,
    ) -> Result<(), EngineError> {
        let scope = self.tokens[&body].scope;
        let (outputs, keys) = match self.tokens.get(&body).map(|t| &t.state) {
            Some(TokenState::MiBody(s)) => (s.outputs.clone(), s.keys.clone()),
            _ => (Vec::new(), None),
        };
        if let Some(name) = &mi.output_collection {
            let name = name.trim().trim_start_matches('=').trim().to_string();
            let collected = match keys {
                Some(keys) => Value::Object(keys.into_iter().zip(outputs).collect()),
                None => Value::Array(outputs),
            };
            if let Some(v) = self.vars_mut(scope) {
                v.insert(name, collected);
            }
        }
        let _ = p;
        // the body completes like any activity (its post-script runs there)
        if let Some(t) = self.tokens.get_mut(&body) {
            t.state = TokenState::Ready;
        }
        let _ = el;
        self.complete_activity(body)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::run;
    use crate::RunOutcome;
    use serde_json::json;

    #[test]
    fn cardinality_runs_n_children_then_the_body() {
        let (o, done, vars) = run(
            r#"<startEvent id="s"/><sequenceFlow id="a" sourceRef="s" targetRef="t"/>
            <scriptTask id="t"><multiInstanceLoopCharacteristics isSequential="true"><loopCardinality>3</loopCardinality>
            <loopDataOutputRef>out</loopDataOutputRef><inputDataItem id="i"/><outputDataItem id="o"/></multiInstanceLoopCharacteristics>
            <script>o = i * i</script></scriptTask>"#,
            json!({}),
            0,
        );
        assert_eq!(o, RunOutcome::Completed);
        assert_eq!(done, ["s", "t [child]", "t [child]", "t [child]", "t"]);
        assert_eq!(vars.get("out"), Some(&json!([0, 1, 4])));
    }

    /// After a multi-instance subprocess without an output collection, the instances'
    /// variables merge back, but the item variable stays theirs.
    #[test]
    fn the_item_variable_does_not_leak_into_the_parent() {
        let (o, _, vars) = run(
            r#"<startEvent id="s"/><sequenceFlow id="a" sourceRef="s" targetRef="sp"/>
            <subProcess id="sp"><multiInstanceLoopCharacteristics isSequential="true"><loopDataInputRef>xs</loopDataInputRef>
            <inputDataItem id="item"/></multiInstanceLoopCharacteristics>
            <startEvent id="is"/><sequenceFlow id="b" sourceRef="is" targetRef="t"/>
            <scriptTask id="t"><script>total = total + item</script></scriptTask></subProcess>"#,
            json!({"xs": [1, 2, 3], "total": 0}),
            0,
        );
        assert_eq!(o, RunOutcome::Completed);
        assert_eq!(vars.get("total"), Some(&json!(6)));
        assert!(!vars.contains_key("item"), "{vars:?}");
        assert!(!vars.contains_key("loopCounter"), "{vars:?}");
    }
}
