//! Wait states: user, manual and receive tasks (and plain tasks when configured, as
//! SpiffWorkflow does) wait until completed through [`crate::Instance::complete_task`].

use crate::error::EngineError;
use crate::instance::Instance;
use crate::state::{Id, TokenState};
use servicetask_bpmn::{ElementKind, FlowElement};

impl Instance {
    pub(crate) fn enter_wait_task(&mut self, tid: Id, el: &FlowElement) -> Result<(), EngineError> {
        if el.kind == ElementKind::Task && !self.engine.inner.config.plain_tasks_wait {
            return self.complete_activity(tid);
        }
        if let Some(t) = self.tokens.get_mut(&tid) {
            t.state = TokenState::Waiting;
        }
        if el.kind == ElementKind::ReceiveTask {
            return self.take_pending_message(tid);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::run;
    use crate::RunOutcome;
    use serde_json::json;

    #[test]
    fn a_user_task_waits_until_completed() {
        let model = r#"<startEvent id="s"/><sequenceFlow id="a" sourceRef="s" targetRef="u"/><userTask id="u"/>"#;
        assert!(matches!(run(model, json!({}), 0).0, RunOutcome::Waiting { .. }));
        assert_eq!(run(model, json!({}), 1).0, RunOutcome::Completed);
    }
}
