//! Call activities: run the called process (from the same file or the engine's library) in a
//! child scope. Without mappings the called process sees a copy of the variables and its
//! final variables are copied back (deletions too); with input/output mappings only those move.
//! A called process with an `<ioSpecification>` (BPMN 2.0 §10.4.3) takes in only its data
//! inputs and gives back only its data outputs; one the caller lacks, or the process does not
//! set, is an error naming it (`data_io`).

use super::data_io::missing;
use crate::error::EngineError;
use crate::instance::{merge_back, Instance, ProcIndex};
use crate::state::{Id, Scope, ScopeKind, TokenState};
use serde_json::Map;
use servicetask_bpmn::FlowElement;

impl Instance {
    pub(crate) fn enter_call_activity(&mut self, tid: Id, p: &ProcIndex, el: &FlowElement) -> Result<(), EngineError> {
        let called = el.called_element.clone().unwrap_or_default();
        let called = called.trim().trim_start_matches('=').trim().to_string();
        if self.proc(&called).is_err() {
            return Err(EngineError::UnknownProcess {
                process_id: called,
                at: Some(p.location(&el.id)),
            });
        }
        let scope = self.tokens[&tid].scope;
        let io = self.proc(&called)?.process().io_specification.clone();
        let vars = if let Some(io) = io.filter(|io| el.input_mappings.is_empty() && !io.inputs.is_empty()) {
            let all = self.vars_of(scope);
            let mut m = Map::new();
            for name in &io.inputs {
                let v = all
                    .get(name)
                    .ok_or_else(|| missing(p, &el.id, "data input", name, &called))?;
                m.insert(name.clone(), v.clone());
            }
            m
        } else if el.input_mappings.is_empty() {
            self.vars_of(scope)
        } else {
            let mut m = Map::new();
            let pairs =
                super::service_task::eval_mappings(p, el, &el.input_mappings, &self.layers(scope), "input mapping")?;
            super::service_task::apply_pairs(&mut m, pairs);
            m
        };
        let keys = vars.keys().cloned().collect();
        let child = self.new_scope(
            Some(scope),
            Some(tid),
            ScopeKind::CallActivity,
            called,
            None,
            vars,
            keys,
        );
        if let Some(t) = self.tokens.get_mut(&tid) {
            t.state = TokenState::InScope(child);
        }
        self.start_scope(child)
    }

    /// The called process of call activity `owner` ended: move its variables back.
    pub(crate) fn call_activity_done(&mut self, owner: Id, child: &Scope) -> Result<(), EngineError> {
        let (p, el) = self.token_element(owner)?;
        let Some(parent) = child.parent else { return Ok(()) };
        let io = self.proc(&child.process_id)?.process().io_specification.clone();
        if let Some(io) = io.filter(|io| el.output_mappings.is_empty() && !io.outputs.is_empty()) {
            let mut out = Map::new();
            for name in &io.outputs {
                let v = child
                    .vars
                    .get(name)
                    .ok_or_else(|| missing(&p, &el.id, "data output", name, &child.process_id))?;
                out.insert(name.clone(), v.clone());
            }
            if let Some(v) = self.vars_mut(parent) {
                v.extend(out);
            }
            return Ok(());
        }
        if el.output_mappings.is_empty() {
            if el.input_mappings.is_empty() {
                merge_back(self.vars_mut(parent), child);
            } else {
                let mut out = child.vars.clone();
                for k in &child.entry_keys {
                    out.remove(k);
                }
                if let Some(v) = self.vars_mut(parent) {
                    v.extend(out);
                }
            }
            return Ok(());
        }
        let pairs = super::service_task::eval_mappings(&p, &el, &el.output_mappings, &[&child.vars], "output mapping")?;
        if let Some(v) = self.vars_mut(parent) {
            super::service_task::apply_pairs(v, pairs);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::run_definitions;
    use crate::{Engine, StubHandler};
    use std::sync::Arc;

    #[test]
    fn an_unknown_called_process_is_refused_before_running_with_its_position() {
        let xml = r#"<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"><process id="p"><startEvent id="s"/><sequenceFlow id="a" sourceRef="s" targetRef="c"/><callActivity id="c" calledElement="nowhere"/></process></definitions>"#;
        let (defs, _) = servicetask_bpmn::parse("unit.bpmn", xml.as_bytes());
        let e = Engine::new(Arc::new(StubHandler))
            .start(&defs, "p", Default::default())
            .expect_err("a call of a process nobody defines");
        let text = e.to_string();
        assert!(text.contains("unit.bpmn:1:") && text.contains("'nowhere'"), "{text}");
    }

    /// A called process with an ioSpecification takes in only its data inputs and gives back
    /// only its data outputs (§10.4.3); an input the caller lacks is an error naming it.
    #[test]
    fn a_called_process_io_specification_moves_only_its_inputs_and_outputs() {
        let body = r#"<process id="p"><startEvent id="s"/><sequenceFlow id="a" sourceRef="s" targetRef="c"/>
              <callActivity id="c" calledElement="sub"/><sequenceFlow id="b" sourceRef="c" targetRef="e"/><endEvent id="e"/></process>
            <process id="sub"><ioSpecification><dataInput id="x"/><dataOutput id="y"/>
                <inputSet><dataInputRefs>x</dataInputRefs></inputSet><outputSet><dataOutputRefs>y</dataOutputRefs></outputSet></ioSpecification>
              <startEvent id="s2"/><sequenceFlow id="a2" sourceRef="s2" targetRef="w"/>
              <scriptTask id="w"><script>y = x * 2
seen = other
kept = False</script></scriptTask><sequenceFlow id="b2" sourceRef="w" targetRef="e2"/><endEvent id="e2"/></process>"#;
        // 'other' is not an input: the called process does not see it
        let (o, _) = run_definitions(body, serde_json::json!({"x": 2, "other": 1, "kept": true}));
        assert!(
            matches!(&o, crate::RunOutcome::Failed(e) if e.to_string().contains("other")),
            "{o:?}"
        );
        let body = body.replace("seen = other", "seen = 1");
        let (o, vars) = run_definitions(&body, serde_json::json!({"x": 2, "kept": true}));
        assert_eq!(o, crate::RunOutcome::Completed);
        assert_eq!(
            vars,
            serde_json::json!({"x": 2, "y": 4, "kept": true})
                .as_object()
                .cloned()
                .unwrap()
        );
        let (o, _) = run_definitions(&body, serde_json::json!({"kept": true}));
        assert!(
            matches!(&o, crate::RunOutcome::Failed(e) if e.to_string().contains("data input 'x'")),
            "{o:?}"
        );
    }
}
