//! Data associations (BPMN 2.0 §10.4.1): every `sourceRef` and `targetRef` of a
//! `dataInputAssociation` or `dataOutputAssociation` must name an item-aware element of the
//! file (a data object or its reference, a data store reference, a property, a data input or
//! output). One that names nothing would move no data where the model says data moves, so it is
//! an error at the reference's line and column, as SpiffWorkflow refuses to load such a file
//! ("Cannot resolve dataOutputAssociation targetRef").

use crate::diagnostic::Diagnostic;
use crate::model::Position;
use roxmltree::Node;
use std::collections::HashSet;

/// The elements a data association may read from or write to.
const ITEM_AWARE: &[&str] = &[
    "dataObject",
    "dataObjectReference",
    "dataStore",
    "dataStoreReference",
    "property",
    "dataInput",
    "dataOutput",
];

fn is_bpmn(node: Node) -> bool {
    node.is_element() && node.tag_name().namespace() == Some(crate::parse::BPMN_NS)
}

/// Errors for the data associations under `root` whose ends name no item-aware element.
pub(crate) fn check(file: &str, root: Node, pos: &dyn Fn(Node) -> Position) -> Vec<Diagnostic> {
    let items: HashSet<&str> = root
        .descendants()
        .filter(|n| is_bpmn(*n) && ITEM_AWARE.contains(&n.tag_name().name()))
        .filter_map(|n| n.attribute("id"))
        .collect();
    let mut out = Vec::new();
    for assoc in root
        .descendants()
        .filter(|n| is_bpmn(*n) && matches!(n.tag_name().name(), "dataInputAssociation" | "dataOutputAssociation"))
    {
        let kind = assoc.tag_name().name();
        let owner = assoc
            .parent()
            .and_then(|p| p.attribute("id"))
            .map(|id| format!(" of '{id}'"))
            .unwrap_or_default();
        for end in assoc
            .children()
            .filter(|c| is_bpmn(*c) && matches!(c.tag_name().name(), "sourceRef" | "targetRef"))
        {
            let which = end.tag_name().name();
            let id = end.text().unwrap_or("").trim();
            if items.contains(id) {
                continue;
            }
            let (message, help) = if id.is_empty() {
                (
                    format!("{kind}{owner} has an empty {which}"),
                    "name a data object reference, data input or output, or property of this file".to_string(),
                )
            } else {
                (
                    format!("{kind}{owner}: {which} '{id}' names no data object, data input or output, or property of this file"),
                    format!("point {which} at the id of a dataObjectReference (add one, or fix the id '{id}')"),
                )
            };
            out.push(Diagnostic::error(file, pos(end), message, help));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    fn errors(xml: &str) -> Vec<String> {
        let (_, diags) = crate::parse("a.bpmn", xml.as_bytes());
        diags.iter().filter(|d| d.is_error()).map(ToString::to_string).collect()
    }

    #[test]
    fn an_association_to_nothing_is_an_error_at_its_reference() {
        let xml = r#"<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"><process id="p">
<dataObject id="obj"/><dataObjectReference id="ref" dataObjectRef="obj"/>
<startEvent id="s"/><sequenceFlow id="f1" sourceRef="s" targetRef="t"/>
<task id="t"><property id="prop"/>
<dataInputAssociation id="in"><sourceRef>ref</sourceRef><targetRef>prop</targetRef></dataInputAssociation>
<dataOutputAssociation id="out">
<targetRef>ghost</targetRef></dataOutputAssociation>
</task><sequenceFlow id="f2" sourceRef="t" targetRef="e"/><endEvent id="e"/></process></definitions>"#;
        let errs = errors(xml);
        assert_eq!(errs.len(), 1, "{errs:#?}");
        assert!(
            errs[0].starts_with("a.bpmn:7:1: error: dataOutputAssociation of 't': targetRef 'ghost' names no"),
            "{errs:#?}"
        );
        assert!(errors(&xml.replace("ghost", "ref")).is_empty());
        let empty = errors(&xml.replace("<targetRef>ghost</targetRef>", "<targetRef/>"));
        assert!(empty[0].contains("has an empty targetRef"), "{empty:#?}");
    }
}
