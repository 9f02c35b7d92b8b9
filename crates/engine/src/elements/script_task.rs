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
