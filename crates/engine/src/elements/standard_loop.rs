//! Standard loops (`standardLoopCharacteristics`): the activity runs again while
//! `loopCondition` holds, at most `loopMaximum` times; `testBefore` checks before each run.

use crate::error::EngineError;
use crate::instance::{Instance, ProcIndex};
use crate::state::{Id, TokenState};
use servicetask_bpmn::{expr, FlowElement, LoopCharacteristics};

/// Iterations allowed when a loop has neither a condition that turns false nor a maximum.
const HARD_LIMIT: u64 = 100_000;

impl Instance {
    /// With `testBefore`, false when the loop condition does not hold (the activity is skipped).
    pub(crate) fn loop_should_run(&mut self, tid: Id, p: &ProcIndex, el: &FlowElement) -> Result<bool, EngineError> {
        let Some(LoopCharacteristics::Standard {
            condition,
            maximum,
            test_before: true,
        }) = &el.loop_characteristics
        else {
            return Ok(true);
        };
        let count = self.tokens.get(&tid).map(|t| t.loop_count).unwrap_or(0);
        if maximum.is_some_and(|m| count >= m) || count >= HARD_LIMIT {
            return Ok(false);
        }
        match condition {
            Some(c) => {
                let scope = self.tokens[&tid].scope;
                Ok(expr::truthy(&self.eval(p, &el.id, "loop condition", c, scope)?))
            }
            None => Ok(true),
        }
    }

    /// After one run: true (and the token re-enters) when the loop goes on.
    pub(crate) fn loop_again(&mut self, tid: Id, p: &ProcIndex, el: &FlowElement) -> Result<bool, EngineError> {
        let Some(LoopCharacteristics::Standard {
            condition,
            maximum,
            test_before,
        }) = &el.loop_characteristics
        else {
            return Ok(false);
        };
        let count = {
            let Some(t) = self.tokens.get_mut(&tid) else {
                return Ok(false);
            };
            t.loop_count += 1;
            t.loop_count
        };
        if maximum.is_some_and(|m| count >= m) || count >= HARD_LIMIT {
            return Ok(false);
        }
        let again = if *test_before {
            true // checked on entry
        } else {
            match condition {
                Some(c) => {
                    let scope = self.tokens[&tid].scope;
                    expr::truthy(&self.eval(p, &el.id, "loop condition", c, scope)?)
                }
                None => maximum.is_some(),
            }
        };
        if again {
            if let Some(t) = self.tokens.get_mut(&tid) {
                t.state = TokenState::Ready;
            }
            self.ready.push_back(tid);
        }
        Ok(again)
    }
}
