//! Standard loops (`standardLoopCharacteristics`) as BPMN 2.0 defines them (§10.2.8,
//! table 10.26): the activity runs as iterations (`<id> [child]`), each on the current
//! variables, its changes merged back. `loopCondition` is a "while" condition: the activity
//! loops as long as it holds. `testBefore` decides when it is evaluated: before each
//! iteration (a while loop: possibly no iteration at all), or after each (a do-while loop: the
//! first iteration always runs). `loopMaximum` caps the iterations. Without a condition the
//! loop runs `loopMaximum` times (once with neither).
//!
//! SpiffWorkflow 3 reads the condition as "loop until" (its `loop_complete` ends the loop when
//! the condition is true); this engine follows the specification (engine README, semantic
//! choices).

use crate::error::EngineError;
use crate::instance::{Instance, ProcIndex};
use crate::state::{Id, MiState, Scope, ScopeKind, TokenState};
use serde_json::{Map, Value};
use servicetask_bpmn::{expr, FlowElement, LoopCharacteristics};

/// Iterations allowed when a loop has no maximum and its condition never becomes true.
const HARD_LIMIT: usize = 100_000;

impl Instance {
    pub(crate) fn start_standard_loop(&mut self, tid: Id, p: &ProcIndex, el: &FlowElement) -> Result<(), EngineError> {
        self.arm_boundary_timers(tid, p, el)?;
        if let Some(s) = &el.pre_script {
            let scope = self.tokens[&tid].scope;
            self.run_script(p, &el.id, "pre-script", s, scope)?;
        }
        let state = MiState {
            items: Vec::new(),
            outputs: Vec::new(),
            started: 0,
            done: 0,
            sequential: true,
            keys: None,
        };
        if let Some(t) = self.tokens.get_mut(&tid) {
            t.state = TokenState::MiBody(Box::new(state));
        }
        self.next_iteration_or_finish(tid, p, el)
    }

    /// True when the loop is over after `done` iterations.
    fn loop_complete(&mut self, body: Id, p: &ProcIndex, el: &FlowElement, done: usize) -> Result<bool, EngineError> {
        let Some(LoopCharacteristics::Standard {
            condition,
            maximum,
            test_before,
        }) = &el.loop_characteristics
        else {
            return Ok(true);
        };
        if !test_before && done == 0 {
            return Ok(false);
        }
        if maximum.is_some_and(|m| done as u64 >= m) || done >= HARD_LIMIT {
            return Ok(true);
        }
        match condition {
            // "loop while": the loop is over once the condition is false
            Some(c) => {
                let scope = self.tokens[&body].scope;
                Ok(!expr::truthy(&self.eval(p, &el.id, "loop condition", c, scope)?))
            }
            // no condition: only the maximum ends it (a loop with neither runs once)
            None => Ok(maximum.is_none()),
        }
    }

    fn next_iteration_or_finish(&mut self, body: Id, p: &ProcIndex, el: &FlowElement) -> Result<(), EngineError> {
        let done = match self.tokens.get(&body).map(|t| &t.state) {
            Some(TokenState::MiBody(s)) => s.done,
            _ => return Ok(()),
        };
        if self.loop_complete(body, p, el, done)? {
            if let Some(t) = self.tokens.get_mut(&body) {
                t.state = TokenState::Ready;
            }
            return self.complete_activity(body);
        }
        let Some(scope) = self.tokens.get(&body).map(|t| t.scope) else {
            return Ok(());
        };
        let process_id = self
            .scopes
            .get(&scope)
            .map(|s| s.process_id.clone())
            .unwrap_or_default();
        let mut vars = Map::new();
        vars.insert("loopCounter".to_string(), Value::from(done as u64 + 1));
        let child = self.new_scope(
            Some(scope),
            Some(body),
            ScopeKind::MiChild { index: done },
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

    /// One iteration finished: merge its variables back, then loop or finish.
    pub(crate) fn loop_iteration_done(
        &mut self,
        body: Id,
        p: &ProcIndex,
        el: &FlowElement,
        child: &Scope,
    ) -> Result<(), EngineError> {
        let Some(scope) = self.tokens.get(&body).map(|t| t.scope) else {
            return Ok(());
        };
        if let Some(v) = self.vars_mut(scope) {
            for (k, val) in &child.vars {
                if k != "loopCounter" {
                    v.insert(k.clone(), val.clone());
                }
            }
        }
        if let Some(TokenState::MiBody(s)) = self.tokens.get_mut(&body).map(|t| &mut t.state) {
            s.done += 1;
            s.started += 1;
        }
        self.next_iteration_or_finish(body, p, el)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::run;
    use crate::RunOutcome;
    use serde_json::json;

    #[test]
    fn loops_while_the_condition_holds() {
        let (o, done, vars) = run(
            r#"<startEvent id="s"/><sequenceFlow id="a" sourceRef="s" targetRef="t"/>
            <scriptTask id="t"><standardLoopCharacteristics><loopCondition>n &lt; 2</loopCondition></standardLoopCharacteristics><script>n += 1</script></scriptTask>"#,
            json!({"n": 0}),
            0,
        );
        assert_eq!(o, RunOutcome::Completed);
        assert_eq!(done, ["s", "t [child]", "t [child]", "t"]);
        assert_eq!(vars.get("n"), Some(&json!(2)));
    }
}
