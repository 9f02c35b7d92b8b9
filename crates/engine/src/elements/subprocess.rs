//! Embedded subprocesses: run their children in a child scope holding a copy of the variables;
//! on completion the changes (deletions too) are copied back, as SpiffWorkflow does. When a
//! boundary event interrupts the subprocess, its changes are dropped.

use crate::error::EngineError;
use crate::instance::Instance;
use crate::state::{Id, ScopeKind, TokenState};
use servicetask_bpmn::FlowElement;

impl Instance {
    pub(crate) fn enter_subprocess(&mut self, tid: Id, el: &FlowElement) -> Result<(), EngineError> {
        let scope = self.tokens[&tid].scope;
        let process_id = self
            .scopes
            .get(&scope)
            .map(|s| s.process_id.clone())
            .unwrap_or_default();
        let vars = self.vars_of(scope);
        let keys = vars.keys().cloned().collect();
        let child = self.new_scope(
            Some(scope),
            Some(tid),
            ScopeKind::SubProcess,
            process_id,
            Some(el.id.clone()),
            vars,
            keys,
        );
        if let Some(t) = self.tokens.get_mut(&tid) {
            t.state = TokenState::InScope(child);
        }
        self.start_scope(child)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::run;
    use crate::RunOutcome;
    use serde_json::json;

    #[test]
    fn a_subprocess_works_on_a_copy_copied_back() {
        let (o, done, vars) = run(
            r#"<startEvent id="s"/><sequenceFlow id="a" sourceRef="s" targetRef="sub"/>
            <subProcess id="sub"><startEvent id="ss"/><sequenceFlow id="b" sourceRef="ss" targetRef="t"/>
            <scriptTask id="t"><script>x += 1
del(gone)</script></scriptTask></subProcess>"#,
            json!({"x": 1, "gone": true}),
            0,
        );
        assert_eq!(o, RunOutcome::Completed);
        assert_eq!(done, ["s", "ss", "t", "sub"]);
        assert_eq!(serde_json::Value::Object(vars), json!({"x": 2}));
    }
}
