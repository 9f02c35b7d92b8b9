//! XML to model: reads BPMN 2.0 definitions with any namespace prefixes, keeping positions.

use crate::binding::{self, Ctx};
use crate::diagnostic::Diagnostic;
use crate::encoding;
use crate::expr::{self, Dialect};
use crate::limits::Limits;
use crate::line_index::LineIndex;
use crate::model::*;
use roxmltree::{Document, Node};

/// The BPMN 2.0 model namespace.
pub const BPMN_NS: &str = "http://www.omg.org/spec/BPMN/20100524/MODEL";

fn is_bpmn(node: Node) -> bool {
    node.is_element() && node.tag_name().namespace() == Some(BPMN_NS)
}

fn bpmn_children<'a, 'i>(node: Node<'a, 'i>, name: &'static str) -> impl Iterator<Item = Node<'a, 'i>> {
    node.children()
        .filter(move |c| is_bpmn(*c) && c.tag_name().name() == name)
}

fn text_of(node: Node) -> String {
    node.descendants()
        .filter(|n| n.is_text())
        .filter_map(|n| n.text())
        .collect()
}

fn child_text(node: Node, name: &'static str) -> Option<String> {
    bpmn_children(node, name)
        .next()
        .map(|c| text_of(c).trim().to_string())
        .filter(|s| !s.is_empty())
}

/// The text of a formal expression (`conditionExpression`, `loopCardinality`, ...) read in its
/// declared language (its own `expressionLanguage`, else the definitions'): FEEL gets the
/// leading `=` our evaluator knows it by; an expression declaring a language we do not
/// evaluate is recorded for `validate`, which names the language.
fn formal_expression(node: Node, what: impl FnOnce() -> String, cx: &mut Ctx<'_>) -> Option<String> {
    let text = text_of(node).trim().to_string();
    if text.is_empty() {
        return None;
    }
    let own = node.attribute("expressionLanguage");
    let Some(lang) = own.or(cx.language) else {
        return Some(text);
    };
    match (Dialect::from_language(lang), expr::foreign_language(lang)) {
        (Some(Dialect::Feel), _) if !text.starts_with('=') => Some(format!("={text}")),
        (Some(_), _) | (None, None) => Some(text),
        (None, Some(_)) if own.is_some() => {
            cx.foreign.push(ForeignExpression {
                what: what(),
                text: text.clone(),
                language: lang.to_string(),
                position: (cx.pos)(node),
            });
            Some(text)
        }
        // a definitions-level default we do not evaluate (Signavio writes XPath there by
        // default, whatever the expressions are): the expression is read by its form
        (None, Some(_)) => {
            cx.under_foreign_default += 1;
            Some(text)
        }
    }
}

/// Parses BPMN bytes. Parsing never fails: an unreadable file gives empty definitions and an
/// error diagnostic. Reference checks are done by [`crate::validate`], which [`crate::parse`] runs.
pub(crate) fn parse_only(file: &str, bytes: &[u8], limits: &Limits) -> (Definitions, Vec<Diagnostic>) {
    let mut defs = Definitions {
        file: file.to_string(),
        ..Definitions::default()
    };
    let mut diags = Vec::new();
    let text = match encoding::decode(bytes) {
        Ok(t) => t,
        Err(e) => {
            diags.push(Diagnostic::error(
                file,
                Position { line: 1, column: 1 },
                format!("cannot decode the file: {e}"),
                "save the file as UTF-8, or declare its real encoding (ISO-8859-1, windows-1252) in the XML prolog",
            ));
            return (defs, diags);
        }
    };
    let opts = roxmltree::ParsingOptions {
        allow_dtd: false,
        nodes_limit: limits.max_xml_nodes,
        ..Default::default()
    };
    let doc = match Document::parse_with_options(&text, opts) {
        Ok(d) => d,
        Err(e) => {
            let p = e.pos();
            diags.push(Diagnostic::error(
                file,
                Position {
                    line: p.row,
                    column: p.col,
                },
                format!("invalid XML: {e}"),
                xml_help(&e, &text),
            ));
            return (defs, diags);
        }
    };
    let lines = LineIndex::new(&text);
    let pos = |n: Node| lines.position(n.range().start);
    let root = doc.root_element();
    if root.tag_name().name() != "definitions" || root.tag_name().namespace() != Some(BPMN_NS) {
        diags.push(Diagnostic::error(
            file,
            pos(root),
            format!(
                "root element is '{}' in namespace '{}', not BPMN 2.0 'definitions'",
                root.tag_name().name(),
                root.tag_name().namespace().unwrap_or("")
            ),
            format!("the root must be <definitions xmlns=\"{BPMN_NS}\"> (any prefix)"),
        ));
        return (defs, diags);
    }
    diags.extend(crate::associations::check(file, root, &pos));
    defs.id = root.attribute("id").map(str::to_string);
    defs.expression_language = root.attribute("expressionLanguage").map(str::to_string);
    let mut under_foreign_default = 0;
    for child in root.children().filter(|c| is_bpmn(*c)) {
        let id = child.attribute("id").unwrap_or("").to_string();
        let name = child.attribute("name").map(str::to_string);
        match child.tag_name().name() {
            "process" => {
                let mut p = Process {
                    id: id.clone(),
                    name,
                    executable: child.attribute("isExecutable").is_none_or(|v| v == "true"),
                    position: pos(child),
                    elements: Vec::new(),
                    flows: Vec::new(),
                    data_objects: child
                        .descendants()
                        .filter(|n| is_bpmn(*n) && n.tag_name().name() == "dataObject")
                        .filter_map(|n| n.attribute("id").map(str::to_string))
                        .collect(),
                    io_specification: io_specification(child),
                };
                if id.is_empty() {
                    diags.push(Diagnostic::error(
                        file,
                        pos(child),
                        "process has no id",
                        "add id=\"...\" to the process",
                    ));
                }
                let mut cx = Ctx {
                    file,
                    pos: &pos,
                    diags: &mut diags,
                    language: defs.expression_language.as_deref(),
                    foreign: Vec::new(),
                    under_foreign_default: 0,
                    max_nesting: limits.max_nesting,
                };
                read_container(child, None, 0, &mut p, &mut cx);
                resolve_data_object_outputs(child, &mut p);
                under_foreign_default += cx.under_foreign_default;
                defs.foreign_expressions.append(&mut cx.foreign);
                link_flows(&mut p);
                defs.processes.push(p);
            }
            "collaboration" => {
                let participants = bpmn_children(child, "participant")
                    .map(|pn| Participant {
                        id: pn.attribute("id").unwrap_or("").to_string(),
                        name: pn.attribute("name").map(str::to_string),
                        process_ref: pn.attribute("processRef").map(str::to_string),
                        position: pos(pn),
                    })
                    .collect();
                for k in child
                    .descendants()
                    .filter(|n| is_bpmn(*n) && n.tag_name().name() == "correlationKey")
                {
                    defs.correlation_keys.push(CorrelationKey {
                        name: k.attribute("name").or(k.attribute("id")).unwrap_or("").to_string(),
                        property_refs: bpmn_children(k, "correlationPropertyRef")
                            .map(|r| text_of(r).trim().to_string())
                            .collect(),
                    });
                }
                defs.collaborations.push(Collaboration {
                    id,
                    participants,
                    message_flows: bpmn_children(child, "messageFlow").count(),
                    position: pos(child),
                });
            }
            "error" => {
                let (payload_expression, variable_name) = payload_extensions(child);
                defs.errors.push(ErrorDef {
                    id,
                    name,
                    code: child.attribute("errorCode").map(str::to_string),
                    payload_expression,
                    variable_name,
                    position: pos(child),
                });
            }
            "correlationProperty" => defs.correlation_properties.push(CorrelationProperty {
                id,
                name,
                // the expression is a <formalExpression> or, as bpmn-js writes it, a <messagePath>
                retrievals: bpmn_children(child, "correlationPropertyRetrievalExpression")
                    .map(|r| {
                        let expr = r.children().find(|c| c.is_element()).map(text_of).unwrap_or_default();
                        (
                            r.attribute("messageRef").unwrap_or("").to_string(),
                            expr.trim().to_string(),
                        )
                    })
                    .collect(),
                position: pos(child),
            }),
            "message" => defs.messages.push(MessageDef {
                id,
                name,
                payload_expression: None,
                variable_name: None,
                position: pos(child),
            }),
            "signal" => {
                let (payload_expression, variable_name) = payload_extensions(child);
                defs.signals.push(MessageDef {
                    id,
                    name,
                    payload_expression,
                    variable_name,
                    position: pos(child),
                })
            }
            "dataStore" => diags.push(data_store_error(file, pos(child), "data store", &id, name.as_deref())),
            _ => {}
        }
    }
    if let Some(lang) = defs
        .expression_language
        .as_deref()
        .filter(|_| under_foreign_default > 0)
    {
        diags.push(Diagnostic::warning(
            file,
            pos(root),
            format!(
                "the definitions declare expressionLanguage \"{lang}\" ({}), which servicetask does not evaluate; their {under_foreign_default} expression(s) without a language of their own are read by their form (Python-style, FEEL with a leading '=', JUEL ${{...}})",
                expr::foreign_language(lang).unwrap_or(lang)
            ),
            "remove expressionLanguage from <definitions>, or declare FEEL (https://www.omg.org/spec/DMN/20191111/FEEL/) or Python",
        ));
    }
    if defs.processes.is_empty() {
        diags.push(Diagnostic::error(
            file,
            pos(root),
            "the file defines no process",
            "add a <process id=\"...\"> with a start event",
        ));
    }
    (defs, diags)
}

fn xml_help(e: &roxmltree::Error, text: &str) -> String {
    let msg = e.to_string();
    let p = e.pos();
    let line = text.lines().nth(p.row.saturating_sub(1) as usize).unwrap_or("");
    let before: String = line.chars().take(p.col.saturating_sub(1) as usize).collect();
    let bare_lt = before.trim_end().ends_with('<') || before.ends_with("< ");
    if bare_lt || msg.contains("'<'") || msg.contains("unescaped") {
        "escape '<' as '&lt;' and '&' as '&amp;' in text and attributes, or wrap conditions in <![CDATA[ ... ]]>"
            .to_string()
    } else if msg.contains("namespace") || msg.contains("prefix") {
        "declare every namespace prefix used, e.g. xmlns:bpmn=\"http://www.omg.org/spec/BPMN/20100524/MODEL\""
            .to_string()
    } else {
        "fix the XML at this position; the file must be well-formed XML".to_string()
    }
}

/// Data stores (BPMN 2.0 §10.4.3) persist beyond an instance; servicetask has none, and a
/// task reading or writing one would silently get nothing, so the model is refused.
fn data_store_error(file: &str, at: Position, what: &str, id: &str, name: Option<&str>) -> Diagnostic {
    let named = name.map(|n| format!(" ('{n}')")).unwrap_or_default();
    Diagnostic::error(
        file,
        at,
        format!("{what} '{id}'{named}: servicetask has no data store implementation, so nothing could be read from or written to it"),
        "keep the data in process variables (or a data object), or read and write the store in a registered task",
    )
}

const IGNORED: &[&str] = &[
    "laneSet",
    "dataObject",
    "dataObjectReference",
    "dataStoreReference",
    "textAnnotation",
    "association",
    "documentation",
    "extensionElements",
    "ioSpecification",
    "property",
    "dataInputAssociation",
    "dataOutputAssociation",
    "incoming",
    "outgoing",
    "multiInstanceLoopCharacteristics",
    "standardLoopCharacteristics",
    "group",
    "category",
    "auditing",
    "monitoring",
];

/// Reads the flow elements and sequence flows directly inside `node`, which sits `depth`
/// containers below its process, and those of the containers inside it down to
/// `Limits::max_nesting` levels (deeper ones are reported, not read: the recursion stays bounded).
fn read_container(node: Node, parent: Option<&str>, depth: usize, p: &mut Process, cx: &mut Ctx<'_>) {
    for child in node.children().filter(|c| is_bpmn(*c)) {
        let tag = child.tag_name().name();
        let id = child.attribute("id").unwrap_or("").to_string();
        if tag == "sequenceFlow" {
            let cond = bpmn_children(child, "conditionExpression")
                .next()
                .and_then(|c| formal_expression(c, || format!("condition of sequence flow '{id}'"), cx));
            if id.is_empty() {
                cx.diags.push(Diagnostic::error(
                    cx.file,
                    (cx.pos)(child),
                    "sequence flow has no id",
                    "add id=\"...\"",
                ));
            }
            p.flows.push(SequenceFlow {
                id,
                name: child.attribute("name").map(str::to_string),
                source: child.attribute("sourceRef").unwrap_or("").to_string(),
                target: child.attribute("targetRef").unwrap_or("").to_string(),
                condition: cond,
                parent: parent.map(str::to_string),
                position: (cx.pos)(child),
            });
            continue;
        }
        let Some(kind) = ElementKind::from_tag(tag) else {
            if tag == "dataStoreReference" {
                let store = child.attribute("dataStoreRef").or(child.attribute("name"));
                cx.diags.push(data_store_error(
                    cx.file,
                    (cx.pos)(child),
                    "data store reference",
                    &id,
                    store,
                ));
            } else if !IGNORED.contains(&tag) {
                cx.diags.push(Diagnostic::warning(
                    cx.file,
                    (cx.pos)(child),
                    format!("unsupported element '{tag}' is ignored"),
                    "remove it, or model it with supported elements",
                ));
            }
            continue;
        };
        if id.is_empty() {
            cx.diags.push(Diagnostic::error(
                cx.file,
                (cx.pos)(child),
                format!("{tag} has no id"),
                "add id=\"...\"; every flow element needs a unique id",
            ));
        }
        let el = read_element(child, kind, id.clone(), parent, cx);
        p.elements.push(el);
        if kind.is_container() {
            if depth >= cx.max_nesting {
                cx.diags.push(Diagnostic::error(
                    cx.file,
                    (cx.pos)(child),
                    format!(
                        "{tag} '{id}' is nested more than {} levels deep; its contents are not read",
                        cx.max_nesting
                    ),
                    "flatten the model: move deeply nested subprocesses into processes of their own and call them with callActivity",
                ));
            } else {
                read_container(child, Some(&id), depth + 1, p, cx);
            }
        }
    }
}

fn read_element(node: Node, kind: ElementKind, id: String, parent: Option<&str>, cx: &mut Ctx<'_>) -> FlowElement {
    let mut el = FlowElement::new(id.clone(), kind, (cx.pos)(node));
    el.name = node.attribute("name").map(str::to_string);
    el.parent = parent.map(str::to_string);
    el.incoming = bpmn_children(node, "incoming")
        .map(|n| text_of(n).trim().to_string())
        .collect();
    el.outgoing = bpmn_children(node, "outgoing")
        .map(|n| text_of(n).trim().to_string())
        .collect();
    el.default_flow = node.attribute("default").map(str::to_string);
    el.attached_to = node.attribute("attachedToRef").map(str::to_string);
    el.cancel_activity = node.attribute("cancelActivity").is_none_or(|v| v != "false");
    if kind == ElementKind::StartEvent {
        // event subprocess start events: isInterrupting (default true)
        el.cancel_activity = node.attribute("isInterrupting").is_none_or(|v| v != "false");
    }
    el.called_element = node.attribute("calledElement").map(str::to_string);
    el.triggered_by_event = node.attribute("triggeredByEvent") == Some("true");
    el.message_ref = node.attribute("messageRef").map(str::to_string);
    el.event = node
        .children()
        .filter(|c| is_bpmn(*c))
        .find_map(|d| event_definition(d, cx));
    message_extensions(node, &mut el);
    el.io_specification = io_specification(node);
    el.data_object_outputs = data_object_outputs(node);
    if let Some(s) = bpmn_children(node, "script").next() {
        el.script = Some(ScriptDef {
            format: node.attribute("scriptFormat").map(str::to_string),
            text: text_of(s),
            position: (cx.pos)(s),
        });
    }
    el.loop_characteristics = loop_characteristics(node, &id, cx);
    let ext = binding::read(node, kind, &id, cx);
    el.binding = ext.binding;
    el.input_mappings = ext.input_mappings;
    el.output_mappings = ext.output_mappings;
    el.pre_script = ext.pre_script;
    el.post_script = ext.post_script;
    if el.called_element.is_none() {
        el.called_element = ext.called_element;
    }
    if el.script.is_none() {
        if let Some(s) = ext.zeebe_script {
            el.script = Some(ScriptDef {
                format: Some("feel".to_string()),
                text: s,
                position: el.position,
            });
        }
    }
    el
}

/// The `<ioSpecification>` directly inside `node` (an activity or a process), if any.
fn io_specification(node: Node) -> Option<IoSpecification> {
    let spec = bpmn_children(node, "ioSpecification").next()?;
    let ids = |tag: &'static str| -> Vec<String> {
        bpmn_children(spec, tag)
            .filter_map(|d| d.attribute("id").map(str::to_string))
            .collect()
    };
    Some(IoSpecification {
        inputs: ids("dataInput"),
        outputs: ids("dataOutput"),
    })
}

/// The targets of the `dataOutputAssociation`s of `node`, as written (resolved to data objects
/// by [`resolve_data_object_outputs`] once the process is read).
fn data_object_outputs(node: Node) -> Vec<String> {
    bpmn_children(node, "dataOutputAssociation")
        .filter_map(|a| {
            bpmn_children(a, "targetRef")
                .next()
                .map(|t| text_of(t).trim().to_string())
        })
        .collect()
}

/// Resolves the data output association targets of every element of process `p` (read from
/// `node`) to the data objects they write: a `dataObjectReference` names its `dataObjectRef`;
/// targets of other kinds (a data store, a property) are left out. One pass over the process.
fn resolve_data_object_outputs(node: Node, p: &mut Process) {
    if p.elements.iter().all(|e| e.data_object_outputs.is_empty()) {
        return;
    }
    let objects: std::collections::HashMap<&str, &str> = node
        .descendants()
        .filter(|n| is_bpmn(*n))
        .filter_map(|n| {
            let id = n.attribute("id")?;
            match n.tag_name().name() {
                "dataObject" => Some((id, id)),
                "dataObjectReference" => Some((id, n.attribute("dataObjectRef")?)),
                _ => None,
            }
        })
        .collect();
    for e in &mut p.elements {
        let targets = std::mem::take(&mut e.data_object_outputs);
        e.data_object_outputs = targets
            .iter()
            .filter_map(|t| objects.get(t.as_str()).map(|o| o.to_string()))
            .collect();
    }
}

/// What a message element's extensions say about its content and correlation: on a send or
/// receive task, or on its `messageEventDefinition` (SpiffWorkflow's messagePayload,
/// messageVariable and processVariableCorrelation; Camunda 7's expression and resultVariable).
fn message_extensions(node: Node, el: &mut FlowElement) {
    let definition = node
        .children()
        .find(|c| is_bpmn(*c) && c.tag_name().name() == "messageEventDefinition");
    if let Some(d) = definition {
        for a in d.attributes() {
            if binding::vendor(a.namespace()) == binding::Vendor::Camunda {
                match a.name() {
                    "expression" => el.message_payload = Some(a.value().to_string()),
                    "resultVariable" => el.message_variable = Some(a.value().to_string()),
                    _ => {}
                }
            }
        }
    }
    for holder in std::iter::once(node).chain(definition) {
        for ext in holder
            .children()
            .filter(|c| is_bpmn(*c) && c.tag_name().name() == "extensionElements")
        {
            for x in ext.children().filter(|c| c.is_element()) {
                if binding::vendor(x.tag_name().namespace()) != binding::Vendor::Spiff {
                    continue;
                }
                match x.tag_name().name() {
                    "messagePayload" => el.message_payload = Some(text_of(x).trim().to_string()),
                    "messageVariable" => el.message_variable = Some(text_of(x).trim().to_string()),
                    "processVariableCorrelation" => {
                        let part = |name: &str| {
                            x.children()
                                .find(|c| c.is_element() && c.tag_name().name() == name)
                                .map(|c| text_of(c).trim().to_string())
                        };
                        if let (Some(prop), Some(expr)) = (part("propertyId"), part("expression")) {
                            el.message_correlations.push((prop, expr));
                        }
                    }
                    _ => {}
                }
            }
        }
    }
}

/// SpiffWorkflow's payload of an `<error>` or `<signal>` root element (in its
/// extensionElements): the expression the thrower evaluates and the variable a catcher stores
/// the value in.
fn payload_extensions(node: Node) -> (Option<String>, Option<String>) {
    let (mut expression, mut variable) = (None, None);
    for x in node.descendants().filter(|n| n.is_element()) {
        match x.tag_name().name() {
            "payloadExpression" => expression = Some(text_of(x).trim().to_string()),
            "variableName" => variable = Some(text_of(x).trim().to_string()),
            _ => {}
        }
    }
    (expression, variable)
}

fn event_definition(d: Node, cx: &mut Ctx<'_>) -> Option<EventDefinition> {
    Some(match d.tag_name().name() {
        "errorEventDefinition" => EventDefinition::Error {
            error_ref: d.attribute("errorRef").map(str::to_string),
        },
        "terminateEventDefinition" => EventDefinition::Terminate,
        "timerEventDefinition" => {
            let found = ["timeDuration", "timeDate", "timeCycle"].iter().find_map(|t| {
                d.children()
                    .find(|c| is_bpmn(*c) && c.tag_name().name() == *t)
                    .map(|c| (*t, text_of(c).trim().to_string()))
            });
            match found {
                Some((t, expression)) => EventDefinition::Timer {
                    kind: match t {
                        "timeDuration" => TimerKind::Duration,
                        "timeDate" => TimerKind::Date,
                        _ => TimerKind::Cycle,
                    },
                    expression,
                },
                None => {
                    cx.diags.push(Diagnostic::error(
                        cx.file,
                        (cx.pos)(d),
                        "timer event definition has no timeDuration, timeDate or timeCycle",
                        "add <timeDuration>PT5S</timeDuration> (ISO-8601) inside the timerEventDefinition",
                    ));
                    EventDefinition::Timer {
                        kind: TimerKind::Duration,
                        expression: String::new(),
                    }
                }
            }
        }
        "messageEventDefinition" => EventDefinition::Message {
            message_ref: d.attribute("messageRef").map(str::to_string),
        },
        "signalEventDefinition" => EventDefinition::Signal {
            signal_ref: d.attribute("signalRef").map(str::to_string),
        },
        "escalationEventDefinition" => EventDefinition::Escalation {
            escalation_ref: d.attribute("escalationRef").map(str::to_string),
        },
        "conditionalEventDefinition" => EventDefinition::Conditional {
            condition: bpmn_children(d, "condition")
                .next()
                .and_then(|c| formal_expression(c, || "condition of a conditional event".to_string(), cx)),
        },
        "linkEventDefinition" => EventDefinition::Link {
            name: d.attribute("name").map(str::to_string),
        },
        "compensateEventDefinition" => EventDefinition::Compensate,
        "cancelEventDefinition" => EventDefinition::Cancel,
        _ => return None,
    })
}

fn loop_characteristics(node: Node, id: &str, cx: &mut Ctx<'_>) -> Option<LoopCharacteristics> {
    let mut formal = |n: Node, child: &'static str, what: &str| {
        bpmn_children(n, child)
            .next()
            .and_then(|c| formal_expression(c, || format!("{what} of '{id}'"), cx))
    };
    if let Some(m) = bpmn_children(node, "multiInstanceLoopCharacteristics").next() {
        let item_name = |n: Node| n.attribute("id").or_else(|| n.attribute("name")).map(str::to_string);
        let mut mi = MultiInstance {
            sequential: m.attribute("isSequential") == Some("true"),
            cardinality: formal(m, "loopCardinality", "loop cardinality"),
            input_collection: child_text(m, "loopDataInputRef"),
            input_element: bpmn_children(m, "inputDataItem").next().and_then(item_name),
            output_collection: child_text(m, "loopDataOutputRef"),
            output_element: bpmn_children(m, "outputDataItem").next().and_then(item_name),
            completion_condition: formal(m, "completionCondition", "completion condition"),
        };
        // Camunda 7 attributes
        for a in m.attributes() {
            if binding::vendor(a.namespace()) == binding::Vendor::Camunda {
                match a.name() {
                    "collection" => mi.input_collection = Some(a.value().to_string()),
                    "elementVariable" => mi.input_element = Some(a.value().to_string()),
                    _ => {}
                }
            }
        }
        // Zeebe extension
        for z in m
            .descendants()
            .filter(|n| n.is_element() && n.tag_name().name() == "loopCharacteristics")
        {
            if binding::vendor(z.tag_name().namespace()) != binding::Vendor::Zeebe {
                continue;
            }
            let get = |k: &str| z.attribute(k).map(str::to_string);
            mi.input_collection = get("inputCollection").or(mi.input_collection);
            mi.input_element = get("inputElement").or(mi.input_element);
            mi.output_collection = get("outputCollection").or(mi.output_collection);
            mi.output_element = get("outputElement").or(mi.output_element);
        }
        return Some(LoopCharacteristics::MultiInstance(mi));
    }
    if let Some(s) = bpmn_children(node, "standardLoopCharacteristics").next() {
        return Some(LoopCharacteristics::Standard {
            condition: formal(s, "loopCondition", "loop condition"),
            maximum: s.attribute("loopMaximum").and_then(|v| v.trim().parse().ok()),
            test_before: s.attribute("testBefore") == Some("true"),
        });
    }
    None
}

/// Completes `incoming`/`outgoing` of every element from the flows' source and target, each
/// flow listed once (a set of what is listed: a gateway with thousands of flows stays linear).
fn link_flows(p: &mut Process) {
    let mut index = std::collections::HashMap::new();
    for (i, e) in p.elements.iter().enumerate() {
        index.entry(e.id.clone()).or_insert(i);
    }
    let mut listed: std::collections::HashSet<(usize, bool, String)> = std::collections::HashSet::new();
    for (i, e) in p.elements.iter().enumerate() {
        listed.extend(e.outgoing.iter().map(|f| (i, true, f.clone())));
        listed.extend(e.incoming.iter().map(|f| (i, false, f.clone())));
    }
    for f in &p.flows {
        if let Some(&i) = index.get(&f.source) {
            if listed.insert((i, true, f.id.clone())) {
                p.elements[i].outgoing.push(f.id.clone());
            }
        }
        if let Some(&i) = index.get(&f.target) {
            if listed.insert((i, false, f.id.clone())) {
                p.elements[i].incoming.push(f.id.clone());
            }
        }
    }
}
