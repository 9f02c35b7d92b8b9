//! Script tasks: run their script (Python-style or FEEL statements, one per line) over the
//! scope's variables. A script task bound to a job type (`zeebe:taskDefinition`) is a service task.

use crate::error::EngineError;
use crate::instance::{Instance, ProcIndex};
use crate::state::Id;
use servicetask_bpmn::FlowElement;

impl Instance {
    pub(crate) fn enter_script_task(&mut self, tid: Id, p: &ProcIndex, el: &FlowElement) -> Result<(), EngineError> {
        if el.binding.is_some() && el.script.is_none() {
            return self.enter_service_task(tid);
        }
        if let Some(s) = &el.script {
            let scope = self.tokens[&tid].scope;
            self.run_script(p, &el.id, "script", &s.text, scope)?;
        }
        self.complete_activity(tid)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::run;
    use crate::RunOutcome;
    use serde_json::json;

    #[test]
    fn scripts_change_variables() {
        let (o, _, vars) = run(
            r#"<startEvent id="s"/><sequenceFlow id="a" sourceRef="s" targetRef="t"/>
            <scriptTask id="t"><script>y = x * 2
z = f"{y}!"</script></scriptTask>"#,
            json!({"x": 21}),
            0,
        );
        assert_eq!(o, RunOutcome::Completed);
        assert_eq!(vars.get("y"), Some(&json!(42)));
        assert_eq!(vars.get("z"), Some(&json!("42!")));
    }
}
