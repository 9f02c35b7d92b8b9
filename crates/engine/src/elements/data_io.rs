//! Data inputs and outputs of activities (BPMN 2.0 §10.4): an activity with an
//! `<ioSpecification>` must have set each of its data outputs when it completes, and one with
//! `dataOutputAssociation`s to data objects (§10.4.5) each data object they write; otherwise it
//! fails naming the one missing. (A called process's ioSpecification is `call_activity`'s.)

use crate::error::EngineError;
use crate::instance::{Instance, ProcIndex};
use crate::state::Id;
use servicetask_bpmn::FlowElement;

impl Instance {
    /// Activity `el` completing in `scope`: each data output of its `<ioSpecification>`, and
    /// each data object its data output associations write, must have been set.
    pub(crate) fn check_data_outputs(&self, p: &ProcIndex, el: &FlowElement, scope: Id) -> Result<(), EngineError> {
        if el.io_specification.is_none() && el.data_object_outputs.is_empty() {
            return Ok(());
        }
        let layers = self.layers(scope);
        let unset = |name: &&String| !layers.iter().any(|l| l.contains_key(name.as_str()));
        if let Some(name) = el.io_specification.iter().flat_map(|io| &io.outputs).find(unset) {
            return Err(missing(p, &el.id, "data output", name, &el.id));
        }
        match el.data_object_outputs.iter().find(unset) {
            Some(name) => Err(missing(p, &el.id, "data object", name, &el.id)),
            None => Ok(()),
        }
    }
}

/// The error of a data input or output (`what`) `name` of `owner` that has no value.
pub(super) fn missing(p: &ProcIndex, element_id: &str, what: &str, name: &str, owner: &str) -> EngineError {
    EngineError::Expression {
        at: p.location(element_id),
        what: format!("{what} '{name}' of '{owner}'"),
        message: format!("'{name}' is not set"),
        help: format!("set '{name}' before the {what} is read (BPMN 2.0 §10.4.3: ioSpecification)"),
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::run_definitions;
    use crate::RunOutcome;
    use serde_json::json;

    /// A task whose data output, or whose data output association's data object, is not set
    /// when it completes fails naming it.
    #[test]
    fn a_task_must_set_its_data_outputs_and_the_data_objects_it_writes() {
        let task = |inner: &str| {
            format!(
                r#"<process id="p"><dataObject id="obj"/><dataObjectReference id="ref" dataObjectRef="obj"/>
                <startEvent id="s"/><sequenceFlow id="a" sourceRef="s" targetRef="t"/>
                <scriptTask id="t">{inner}<script>z = 1</script></scriptTask><sequenceFlow id="b" sourceRef="t" targetRef="e"/><endEvent id="e"/></process>"#
            )
        };
        let io = r#"<ioSpecification><dataOutput id="out"/><outputSet><dataOutputRefs>out</dataOutputRefs></outputSet></ioSpecification>"#;
        let (o, _) = run_definitions(&task(io), json!({}));
        assert!(
            matches!(&o, RunOutcome::Failed(e) if e.to_string().contains("data output 'out'")),
            "{o:?}"
        );
        let (o, _) = run_definitions(&task(io), json!({"out": 1}));
        assert_eq!(o, RunOutcome::Completed);
        let assoc = r#"<dataOutputAssociation><targetRef>ref</targetRef></dataOutputAssociation>"#;
        let (o, _) = run_definitions(&task(assoc), json!({}));
        assert!(
            matches!(&o, RunOutcome::Failed(e) if e.to_string().contains("data object 'obj'")),
            "{o:?}"
        );
        let (o, _) = run_definitions(&task(assoc), json!({"obj": "v"}));
        assert_eq!(o, RunOutcome::Completed);
    }
}
