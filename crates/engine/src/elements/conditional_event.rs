//! Conditional events (BPMN 2.0 §10.5.4, "Conditional"): the event is triggered when its
//! condition becomes true. An intermediate conditional catch waits until its condition holds;
//! a conditional boundary event fires when its condition becomes true while its activity is
//! active (interrupting it, or not). Conditions are evaluated when the instance has done all
//! it can do (every step that may change data has been taken), so a condition that another
//! branch's work makes true triggers the event before the instance waits or ends.

use super::signal_event::boundaries;
use crate::error::EngineError;
use crate::instance::{eval_in, Instance, ProcIndex};
use crate::state::{Id, TokenState};
use serde_json::{Map, Value};
use servicetask_bpmn::{expr, ElementKind, EventDefinition, FlowElement};

/// The condition of a conditional event element.
fn condition_of(el: &FlowElement) -> Option<&str> {
    match &el.event {
        Some(EventDefinition::Conditional { condition }) => Some(condition.as_deref().unwrap_or("")),
        _ => None,
    }
}

impl Instance {
    /// Evaluates every waiting conditional catch and the conditional boundary events of every
    /// active activity; triggers those whose condition has become true. True when one fired.
    pub(crate) fn fire_conditions(&mut self) -> Result<bool, EngineError> {
        if !self.conditions.present(&self.defs) {
            return Ok(false);
        }
        let mut fired = false;
        let ids: Vec<Id> = self.tokens.keys().copied().collect();
        for tid in ids {
            let Some((tok, p, el)) = self.listener(tid)? else {
                continue;
            };
            if el.kind == ElementKind::IntermediateCatchEvent {
                if let (TokenState::Waiting, Some(cond)) = (&tok.state, condition_of(&el)) {
                    if self.holds(&p, &el.id, cond, tok.scope)? {
                        fired = true;
                        self.complete_activity(tid)?;
                    }
                }
                continue;
            }
            for b in boundaries(&p, &tok, &el, |b| condition_of(b).is_some()) {
                if !self.tokens.contains_key(&tid) {
                    break;
                }
                let holds = self.holds(&p, &b.id, condition_of(&b).unwrap_or(""), tok.scope)?;
                // it fires when the condition becomes true: once until it turns false again
                if self.conditions.turned_true(tid, &b.id, holds) {
                    fired = true;
                    self.fire_boundary(tid, &b.id, b.cancel_activity)?;
                }
            }
        }
        self.conditions.forget_ended(|t| self.tokens.contains_key(&t));
        Ok(fired)
    }

    /// The value of conditional event `element_id`'s condition in `scope`, as a boolean.
    fn holds(&self, p: &ProcIndex, element_id: &str, condition: &str, scope: Id) -> Result<bool, EngineError> {
        if condition.trim().is_empty() {
            return Err(EngineError::Unsupported {
                at: p.location(element_id),
                what: format!("conditional event '{element_id}' has no condition"),
                help: "add <condition>expression</condition> to its conditionalEventDefinition".to_string(),
            });
        }
        // a data object of the process exists from the start, holding no value until written
        // (BPMN 2.0 §10.4.1): a condition that reads it before then reads null, not an error
        let mut layers = self.layers(scope);
        let unset: Map<String, Value> = p
            .process()
            .data_objects
            .iter()
            .filter(|d| !layers.iter().any(|l| l.contains_key(d.as_str())))
            .map(|d| (d.clone(), Value::Null))
            .collect();
        layers.push(&unset);
        eval_in(p, element_id, "condition", condition, &layers).map(|v| expr::truthy(&v))
    }
}

/// What the instance knows of its conditional events: whether the model has any (asked once),
/// and which boundary conditions held when last evaluated (a boundary fires on the change).
#[derive(Debug, Default)]
pub(crate) struct ConditionWatch {
    present: Option<bool>,
    held: Vec<(Id, String)>,
}

impl ConditionWatch {
    /// True when any process of `defs` has a conditional event.
    fn present(&mut self, defs: &servicetask_bpmn::Definitions) -> bool {
        *self.present.get_or_insert_with(|| {
            defs.processes
                .iter()
                .flat_map(|p| &p.elements)
                .any(|e| condition_of(e).is_some())
        })
    }

    /// Records whether boundary `boundary` of activity token `token` holds now; true when it
    /// did not hold before.
    fn turned_true(&mut self, token: Id, boundary: &str, holds: bool) -> bool {
        let at = self.held.iter().position(|(t, b)| *t == token && b == boundary);
        match (holds, at) {
            (true, None) => {
                self.held.push((token, boundary.to_string()));
                true
            }
            (false, Some(i)) => {
                self.held.swap_remove(i);
                false
            }
            _ => false,
        }
    }

    /// Drops what it holds of tokens that have ended.
    fn forget_ended(&mut self, alive: impl Fn(Id) -> bool) {
        self.held.retain(|(t, _)| alive(*t));
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::run;
    use crate::RunOutcome;
    use serde_json::json;

    /// A conditional catch waits for another branch's script to make its condition true.
    #[test]
    fn a_conditional_catch_waits_until_another_branch_makes_it_true() {
        let (o, done, _) = run(
            r#"<startEvent id="s"/><sequenceFlow id="a" sourceRef="s" targetRef="g"/><parallelGateway id="g"/>
            <sequenceFlow id="b" sourceRef="g" targetRef="c"/><sequenceFlow id="d" sourceRef="g" targetRef="t"/>
            <intermediateCatchEvent id="c"><conditionalEventDefinition><condition>ready</condition></conditionalEventDefinition></intermediateCatchEvent>
            <task id="t"/><sequenceFlow id="e" sourceRef="t" targetRef="w"/>
            <scriptTask id="w"><script>ready = True</script></scriptTask>"#,
            json!({"ready": false}),
            1,
        );
        assert_eq!(o, RunOutcome::Completed);
        assert_eq!(done, ["s", "g", "t", "w", "c"]);
    }

    /// A condition already true when the catch is reached triggers it at once; a false one
    /// with nothing left to change it leaves the catch waiting.
    #[test]
    fn a_true_condition_triggers_at_once_and_a_false_one_waits() {
        let model = r#"<startEvent id="s"/><sequenceFlow id="a" sourceRef="s" targetRef="c"/>
            <intermediateCatchEvent id="c"><conditionalEventDefinition><condition>x &gt; 1</condition></conditionalEventDefinition></intermediateCatchEvent>
            <sequenceFlow id="b" sourceRef="c" targetRef="e"/><endEvent id="e"/>"#;
        let (o, done, _) = run(model, json!({"x": 2}), 0);
        assert_eq!(o, RunOutcome::Completed);
        assert_eq!(done, ["s", "c", "e"]);
        let (o, done, _) = run(model, json!({"x": 0}), 0);
        assert!(matches!(o, RunOutcome::Waiting { .. }), "{o:?}");
        assert_eq!(done, ["s"]);
    }

    /// A condition over a data object of the process that nothing has written yet reads null
    /// (the object exists, §10.4.1): the catch waits until a branch writes it; a name that is
    /// neither a variable nor a data object is still an error.
    #[test]
    fn an_unwritten_data_object_reads_null_in_a_condition() {
        let model = |name: &str| {
            format!(
                r#"<dataObject id="flag"/><startEvent id="s"/><sequenceFlow id="a" sourceRef="s" targetRef="g"/><parallelGateway id="g"/>
            <sequenceFlow id="b" sourceRef="g" targetRef="c"/><sequenceFlow id="d" sourceRef="g" targetRef="t"/>
            <intermediateCatchEvent id="c"><conditionalEventDefinition><condition>{name}</condition></conditionalEventDefinition></intermediateCatchEvent>
            <task id="t"/><sequenceFlow id="e" sourceRef="t" targetRef="w"/>
            <scriptTask id="w"><script>flag = True</script></scriptTask>"#
            )
        };
        let (o, done, _) = run(&model("flag"), json!({}), 1);
        assert_eq!(o, RunOutcome::Completed);
        assert_eq!(done, ["s", "g", "t", "w", "c"]);
        let (o, _, _) = run(&model("flg"), json!({}), 1);
        assert!(matches!(o, RunOutcome::Failed(_)), "{o:?}");
    }

    /// An interrupting conditional boundary event cancels its task when a parallel branch
    /// makes the condition true; a non-interrupting one fires once and lets the task go on.
    #[test]
    fn conditional_boundary_events_fire_when_their_condition_becomes_true() {
        let model = |interrupting: &str| {
            format!(
                r#"<startEvent id="s"/><sequenceFlow id="a" sourceRef="s" targetRef="g"/><parallelGateway id="g"/>
            <sequenceFlow id="b" sourceRef="g" targetRef="work"/><sequenceFlow id="d" sourceRef="g" targetRef="set"/>
            <userTask id="work"/><sequenceFlow id="w" sourceRef="work" targetRef="we"/><endEvent id="we"/>
            <boundaryEvent id="cond" attachedToRef="work" cancelActivity="{interrupting}"><conditionalEventDefinition><condition>flag</condition></conditionalEventDefinition></boundaryEvent>
            <sequenceFlow id="f" sourceRef="cond" targetRef="ce"/><endEvent id="ce"/>
            <scriptTask id="set"><script>flag = True</script></scriptTask><sequenceFlow id="h" sourceRef="set" targetRef="se"/><endEvent id="se"/>"#
            )
        };
        let (o, done, _) = run(&model("true"), json!({"flag": false}), 0);
        assert_eq!(o, RunOutcome::Completed);
        assert!(
            done.contains(&"cond".to_string()) && !done.contains(&"work".to_string()),
            "{done:?}"
        );
        let (o, done, _) = run(&model("false"), json!({"flag": false}), 1);
        assert_eq!(o, RunOutcome::Completed);
        assert_eq!(done.iter().filter(|d| *d == "cond").count(), 1, "{done:?}");
        assert!(done.contains(&"work".to_string()), "{done:?}");
    }
}
