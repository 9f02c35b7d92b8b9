//! Vendor extensions: service-task bindings (Zeebe, Camunda 7, Flowable, SpiffWorkflow,
//! `implementation`), io mappings, scripts and multi-instance settings read from extension elements.

use crate::diagnostic::Diagnostic;
use crate::model::{BindingKind, ElementKind, Mapping, Position, TaskBinding};
use roxmltree::Node;
use std::collections::BTreeMap;

/// Which vendor a namespace URI belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Vendor {
    Zeebe,
    Camunda,
    Flowable,
    Spiff,
    Other,
}

pub(crate) fn vendor(ns: Option<&str>) -> Vendor {
    match ns {
        Some(ns) if ns.contains("camunda.org/schema/zeebe") => Vendor::Zeebe,
        Some(ns) if ns.contains("camunda.org/schema/1.0/bpmn") || ns.contains("camunda.org/schema/1.0") => {
            Vendor::Camunda
        }
        Some(ns) if ns.contains("flowable.org") || ns.contains("activiti.org") => Vendor::Flowable,
        Some(ns) if ns.contains("spiffworkflow.org") => Vendor::Spiff,
        _ => Vendor::Other,
    }
}

/// What the extension elements and vendor attributes of one element say.
#[derive(Debug, Default)]
pub(crate) struct Extensions {
    pub binding: Option<TaskBinding>,
    pub input_mappings: Vec<Mapping>,
    pub output_mappings: Vec<Mapping>,
    pub pre_script: Option<String>,
    pub post_script: Option<String>,
    /// Zeebe `zeebe:script expression resultVariable`, as a script line.
    pub zeebe_script: Option<String>,
    /// Zeebe `zeebe:calledElement processId`.
    pub called_element: Option<String>,
}

pub(crate) struct Ctx<'a> {
    pub file: &'a str,
    pub pos: &'a dyn Fn(Node) -> Position,
    pub diags: &'a mut Vec<Diagnostic>,
    /// The definitions' `expressionLanguage`, for expressions that declare none.
    pub language: Option<&'a str>,
    /// Expressions read in a language servicetask does not evaluate.
    pub foreign: Vec<crate::model::ForeignExpression>,
    /// Expressions read under a definitions-level language servicetask does not evaluate.
    pub under_foreign_default: usize,
    /// Containers read inside one another at most (deeper ones are reported, not read).
    pub max_nesting: usize,
}

fn attr_vendor<'a>(node: Node<'a, '_>, v: Vendor, name: &str) -> Option<&'a str> {
    node.attributes()
        .find(|a| a.name() == name && vendor(a.namespace()) == v)
        .map(|a| a.value())
}

fn ext_children<'a, 'i>(node: Node<'a, 'i>) -> impl Iterator<Item = Node<'a, 'i>> {
    node.children()
        .filter(|c| c.is_element() && c.tag_name().name() == "extensionElements")
        .flat_map(|e| e.children().filter(|c| c.is_element()))
}

fn text_of(node: Node) -> String {
    node.descendants()
        .filter(|n| n.is_text())
        .filter_map(|n| n.text())
        .collect::<String>()
}

/// Reads the vendor extensions of `node`, an element of `kind`.
pub(crate) fn read(node: Node, kind: ElementKind, id: &str, cx: &mut Ctx<'_>) -> Extensions {
    let mut ext = Extensions::default();
    let mut zeebe: Option<TaskBinding> = None;
    let mut spiff: Option<TaskBinding> = None;
    let mut headers = BTreeMap::new();
    for child in ext_children(node) {
        let v = vendor(child.tag_name().namespace());
        let name = child.tag_name().name();
        match (v, name) {
            (Vendor::Zeebe, "taskDefinition") => {
                let ty = child.attribute("type").unwrap_or("").trim().to_string();
                if ty.is_empty() {
                    cx.diags.push(Diagnostic::error(
                        cx.file,
                        (cx.pos)(child),
                        format!("zeebe:taskDefinition of '{id}' has no type"),
                        "add type=\"<task type>\" naming the registered task",
                    ));
                }
                let mut b = TaskBinding::new(BindingKind::Zeebe, ty);
                b.retries = child
                    .attribute("retries")
                    .and_then(|r| r.trim().trim_start_matches('=').parse().ok());
                zeebe = Some(b);
            }
            (Vendor::Zeebe, "taskHeaders") => {
                for h in child
                    .children()
                    .filter(|c| c.is_element() && c.tag_name().name() == "header")
                {
                    if let (Some(k), Some(val)) = (h.attribute("key"), h.attribute("value")) {
                        headers.insert(k.to_string(), val.to_string());
                    }
                }
            }
            (Vendor::Zeebe, "ioMapping") => {
                for m in child.children().filter(|c| c.is_element()) {
                    let source = m.attribute("source").unwrap_or("").to_string();
                    let target = m.attribute("target").unwrap_or("").to_string();
                    if target.is_empty() {
                        cx.diags.push(Diagnostic::error(
                            cx.file,
                            (cx.pos)(m),
                            format!("mapping of '{id}' has no target"),
                            "add target=\"<variable name>\"",
                        ));
                        continue;
                    }
                    let mapping = Mapping { source, target };
                    match m.tag_name().name() {
                        "input" => ext.input_mappings.push(mapping),
                        "output" => ext.output_mappings.push(mapping),
                        _ => {}
                    }
                }
            }
            (Vendor::Zeebe, "calledElement") => {
                ext.called_element = child
                    .attribute("processId")
                    .map(|s| s.trim_start_matches('=').trim().to_string());
            }
            (Vendor::Zeebe, "script") => {
                if let Some(expr) = child.attribute("expression") {
                    let target = child.attribute("resultVariable").unwrap_or("result");
                    let expr = expr.trim().trim_start_matches('=');
                    ext.zeebe_script = Some(format!("={target} = {expr}"));
                }
            }
            (Vendor::Camunda, "inputOutput") => {
                for m in child.children().filter(|c| c.is_element()) {
                    let Some(target) = m.attribute("name") else { continue };
                    let source = text_of(m).trim().to_string();
                    let mapping = Mapping {
                        source,
                        target: target.to_string(),
                    };
                    match m.tag_name().name() {
                        "inputParameter" => ext.input_mappings.push(mapping),
                        "outputParameter" => ext.output_mappings.push(mapping),
                        _ => {}
                    }
                }
            }
            (Vendor::Spiff, "serviceTaskOperator") => {
                let op = child.attribute("id").map(str::trim).unwrap_or("");
                if op.is_empty() {
                    let text = child
                        .children()
                        .filter(|c| c.is_text())
                        .filter_map(|c| c.text())
                        .collect::<String>();
                    let text = text.trim();
                    let help = if text.is_empty() {
                        "add id=\"<operator>\" naming the registered task, e.g. <spiffworkflow:serviceTaskOperator id=\"http/GetRequest\">".to_string()
                    } else {
                        format!("move the operator name out of the element text into an attribute: <spiffworkflow:serviceTaskOperator id=\"{text}\">")
                    };
                    cx.diags.push(Diagnostic::error(
                        cx.file,
                        (cx.pos)(child),
                        format!("spiffworkflow:serviceTaskOperator of '{id}' has no id attribute"),
                        help,
                    ));
                }
                let mut b = TaskBinding::new(BindingKind::SpiffOperator, op);
                b.result_variable = child.attribute("resultVariable").map(str::to_string);
                for p in child
                    .descendants()
                    .filter(|c| c.is_element() && c.tag_name().name() == "parameter")
                {
                    let Some(pid) = p.attribute("id").or_else(|| p.attribute("name")) else {
                        cx.diags.push(Diagnostic::error(
                            cx.file,
                            (cx.pos)(p),
                            format!("operator parameter of '{id}' has no id"),
                            "add id=\"<parameter name>\"",
                        ));
                        continue;
                    };
                    let value = match p.attribute("value") {
                        Some(v) => v.to_string(),
                        None => text_of(p).trim().to_string(),
                    };
                    b.params.insert(pid.to_string(), value);
                }
                if let Some(r) = child
                    .descendants()
                    .find(|c| c.is_element() && c.tag_name().name() == "retry")
                {
                    b.retries = r.attribute("retries").and_then(|s| s.trim().parse().ok());
                }
                spiff = Some(b);
            }
            (Vendor::Spiff, "preScript") => ext.pre_script = Some(text_of(child)),
            (Vendor::Spiff, "postScript") => ext.post_script = Some(text_of(child)),
            _ => {}
        }
    }
    if !(kind.is_service_like() || (kind == ElementKind::ScriptTask && zeebe.is_some())) {
        return ext;
    }
    if kind == ElementKind::BusinessRuleTask && zeebe.is_none() {
        decision(node, id, cx);
    }
    let binding = if let Some(mut b) = zeebe {
        b.headers = headers;
        b.input_mappings = std::mem::take(&mut ext.input_mappings);
        b.output_mappings = std::mem::take(&mut ext.output_mappings);
        b
    } else if attr_vendor(node, Vendor::Camunda, "type") == Some("external") {
        let topic = attr_vendor(node, Vendor::Camunda, "topic").unwrap_or("").to_string();
        if topic.is_empty() {
            cx.diags.push(Diagnostic::error(
                cx.file,
                (cx.pos)(node),
                format!("external task '{id}' has no camunda:topic"),
                "add camunda:topic=\"<task type>\"",
            ));
        }
        let mut b = TaskBinding::new(BindingKind::CamundaExternal, topic);
        b.input_mappings = std::mem::take(&mut ext.input_mappings);
        b.output_mappings = std::mem::take(&mut ext.output_mappings);
        b
    } else if let Some(topic) = attr_vendor(node, Vendor::Flowable, "topic") {
        TaskBinding::new(BindingKind::Flowable, topic.trim())
    } else if let Some(b) = spiff {
        b
    } else if let Some(imp) = node
        .attribute("implementation")
        .map(str::trim)
        .filter(|s| !s.is_empty() && !s.starts_with("##"))
    {
        TaskBinding::new(BindingKind::Implementation, imp)
    } else {
        TaskBinding::new(BindingKind::ElementId, id)
    };
    ext.binding = Some(binding);
    ext
}

/// A business rule task that names a DMN decision (`camunda:decisionRef`,
/// `zeebe:calledDecision decisionId`, `spiffworkflow:calledDecisionId`) is an error:
/// servicetask evaluates no DMN, and running it as a plain registered task would skip the
/// decision silently. (A Zeebe `taskDefinition` on the task binds it to a job worker instead.)
fn decision(node: Node, id: &str, cx: &mut Ctx<'_>) {
    let attr = attr_vendor(node, Vendor::Camunda, "decisionRef").map(|d| (node, d.to_string()));
    let child = ext_children(node).find_map(|c| match (vendor(c.tag_name().namespace()), c.tag_name().name()) {
        (Vendor::Zeebe, "calledDecision") => Some((c, c.attribute("decisionId").unwrap_or("").to_string())),
        (Vendor::Spiff, "calledDecisionId") => Some((c, text_of(c).trim().to_string())),
        _ => None,
    });
    if let Some((at, name)) = attr.or(child) {
        cx.diags.push(Diagnostic::error(
            cx.file,
            (cx.pos)(at),
            format!("business rule task '{id}' calls DMN decision '{name}', but servicetask does not evaluate DMN decisions"),
            "compute the decision in a registered task (zeebe:taskDefinition type=\"...\" or a serviceTask) or in a script task",
        ));
    }
}
