//! Checks of one process: containers and nesting, sequence flow ends, each element's
//! references (messages, errors, called processes, attached activities), gateways, events,
//! scripts and conditions.

use super::tree::Tree;
use super::*;

impl Validator<'_> {
    /// Reports elements inside an unknown container, more than [`MAX_NESTING`] containers
    /// deep, or whose containers contain each other (possible only in models built in code).
    pub(super) fn nesting(&mut self, p: &Process, elements: &HashMap<&str, &FlowElement>) {
        for e in &p.elements {
            let mut depth = 0;
            let mut parent = e.parent.as_deref();
            while let Some(id) = parent {
                let Some(container) = elements.get(id) else {
                    if depth == 0 {
                        self.error(
                            e.position,
                            format!(
                                "{} '{}' is inside '{id}', which is not an element of process '{}'",
                                e.kind.tag(),
                                e.id,
                                p.id
                            ),
                            "set parent to the id of a subprocess of the same process, or to none",
                        );
                    }
                    break;
                };
                depth += 1;
                if depth > self.limits.max_nesting {
                    self.error(
                        e.position,
                        format!(
                            "{} '{}' is nested more than {} subprocesses deep, or its subprocesses contain each other",
                            e.kind.tag(),
                            e.id,
                            self.limits.max_nesting
                        ),
                        "flatten the model: move deeply nested subprocesses into processes of their own and call them with callActivity",
                    );
                    break;
                }
                parent = container.parent.as_deref();
            }
        }
    }

    pub(super) fn process(&mut self, p: &Process) {
        let elements: HashMap<&str, &FlowElement> = p.elements.iter().map(|e| (e.id.as_str(), e)).collect();
        let flows: HashMap<&str, &SequenceFlow> = p.flows.iter().map(|f| (f.id.as_str(), f)).collect();
        let tree = Tree::new(p);
        // the containers with a start event that has a trigger (an event subprocess needs one)
        let triggered: HashSet<&str> = p
            .elements
            .iter()
            .filter(|c| c.kind == ElementKind::StartEvent && c.event.is_some())
            .filter_map(|c| c.parent.as_deref())
            .collect();
        self.nesting(p, &elements);
        for f in &p.flows {
            for (end, r) in [("source", &f.source), ("target", &f.target)] {
                let verb = if end == "source" { "starts at" } else { "targets" };
                match elements.get(r.as_str()) {
                    None if r.is_empty() => self.error(f.position, format!("sequence flow '{}' has no {end}Ref", f.id), format!("add {end}Ref=\"<element id>\"")),
                    None => self.error(
                        f.position,
                        format!("sequence flow '{}' {verb} unknown element '{r}'", f.id),
                        format!("point {end}Ref at an element of process '{}', or add the missing element", p.id),
                    ),
                    Some(e) if e.parent != f.parent => self.error(
                        f.position,
                        format!("sequence flow '{}' crosses a subprocess boundary to '{r}'", f.id),
                        "connect elements of the same (sub)process; leave a subprocess through its end event and its own outgoing flow",
                    ),
                    Some(_) => {}
                }
            }
            if let Some(c) = &f.condition {
                self.expression(f.position, &format!("condition of sequence flow '{}'", f.id), c);
            }
        }
        let mut starts_per_container: HashMap<Option<&str>, usize> = HashMap::new();
        for e in &p.elements {
            for (dir, list) in [("incoming", &e.incoming), ("outgoing", &e.outgoing)] {
                for fid in list {
                    match flows.get(fid.as_str()) {
                        None => self.error(
                            e.position,
                            format!(
                                "{} '{}' lists {dir} flow '{fid}', which does not exist",
                                e.kind.tag(),
                                e.id
                            ),
                            format!("remove <{dir}>{fid}</{dir}> or add the sequence flow '{fid}'"),
                        ),
                        Some(f) => {
                            let (end, want) = if dir == "incoming" {
                                ("targetRef", &f.target)
                            } else {
                                ("sourceRef", &f.source)
                            };
                            if want != &e.id {
                                self.error(
                                    e.position,
                                    format!(
                                        "{} '{}' lists {dir} flow '{fid}', but its {end} is '{want}'",
                                        e.kind.tag(),
                                        e.id
                                    ),
                                    format!("make the flow's {end} '{}' or remove the <{dir}> entry", e.id),
                                );
                            }
                        }
                    }
                }
            }
            if let Some(d) = &e.default_flow {
                match flows.get(d.as_str()) {
                    None => self.error(
                        e.position,
                        format!("default flow '{d}' of '{}' does not exist", e.id),
                        "set default to the id of one of its outgoing flows",
                    ),
                    Some(f) if f.source != e.id => self.error(
                        e.position,
                        format!(
                            "default flow '{d}' of '{}' does not leave it (it starts at '{}')",
                            e.id, f.source
                        ),
                        "set default to the id of one of its outgoing flows",
                    ),
                    Some(f) if f.condition.is_some() => self.warning(
                        f.position,
                        format!("default flow '{d}' has a condition, which is ignored"),
                        "remove the condition from the default flow",
                    ),
                    Some(_) => {}
                }
            }
            match e.kind {
                ElementKind::BoundaryEvent => match e.attached_to.as_deref() {
                    None => self.error(
                        e.position,
                        format!("boundary event '{}' has no attachedToRef", e.id),
                        "add attachedToRef=\"<activity id>\"",
                    ),
                    Some(a) => match elements.get(a) {
                        None => self.error(
                            e.position,
                            format!("boundary event '{}' is attached to unknown element '{a}'", e.id),
                            "set attachedToRef to the id of an activity",
                        ),
                        Some(t) if !t.kind.is_activity() => self.error(
                            e.position,
                            format!(
                                "boundary event '{}' is attached to {} '{a}', which is not an activity",
                                e.id,
                                t.kind.tag()
                            ),
                            "attach boundary events to tasks, subprocesses or call activities",
                        ),
                        Some(_) => {}
                    },
                },
                ElementKind::CallActivity => match e.called_element.as_deref() {
                    None | Some("") => self.error(
                        e.position,
                        format!("call activity '{}' has no calledElement", e.id),
                        "add calledElement=\"<process id>\"",
                    ),
                    // a process of another file: `missing_called_processes` checks it against
                    // the files the engine will have (servicetask_engine::validate_file)
                    Some(_) => {}
                },
                ElementKind::StartEvent if e.event.is_none() && !e.triggered_by_event => {
                    *starts_per_container.entry(e.parent.as_deref()).or_default() += 1;
                }
                ElementKind::ScriptTask => match &e.script {
                    Some(s) => {
                        if let Some((lang, name)) = s
                            .format
                            .as_deref()
                            .and_then(|f| crate::expr::foreign_language(f).map(|n| (f, n)))
                        {
                            self.error(
                                s.position,
                                format!(
                                    "script of '{}' is written in {} (scriptFormat=\"{lang}\"), which servicetask does not run",
                                    e.id, name
                                ),
                                "rewrite the script in Python-style statements (x = expr, if/for/while blocks) and set scriptFormat=\"python\", or make the task a service task",
                            );
                        } else if let Err(err) = Script::parse_with(&s.text, &self.limits.eval) {
                            let line_pos = script_line_position(s, &err.message);
                            self.error(line_pos, format!("script of '{}' cannot be parsed: {err}", e.id), "scripts take Python-style statements: x = expr, a, b = pair, x += expr, del(x), if/for/while blocks, def, import time, calls of the documented builtins");
                        }
                    }
                    None if e.binding.is_none() => self.warning(
                        e.position,
                        format!("script task '{}' has no script; it does nothing", e.id),
                        "add <script>...</script>",
                    ),
                    None => {}
                },
                _ => {}
            }
            if e.triggered_by_event && !triggered.contains(e.id.as_str()) {
                self.error(
                    e.position,
                    format!("event subprocess '{}' has no start event with a trigger", e.id),
                    "give it a start event with an error, signal, message or timer event definition",
                );
            }
            if let Some(m) = &e.message_ref {
                if !self.messages.contains(m.as_str()) {
                    self.error(
                        e.position,
                        format!("{} '{}' refers to unknown message '{m}'", e.kind.tag(), e.id),
                        format!("add <message id=\"{m}\" name=\"...\"/> to the definitions, or fix messageRef"),
                    );
                }
            }
            if let Some(EventDefinition::Error { error_ref: Some(r) }) = &e.event {
                if !self.errors.contains(r.as_str()) {
                    self.error(
                        e.position,
                        format!("{} '{}' refers to unknown error '{r}'", e.kind.tag(), e.id),
                        format!("add <error id=\"{r}\" errorCode=\"...\"/> to the definitions, or fix errorRef"),
                    );
                }
            }
            if let Some(EventDefinition::Timer { kind, expression }) = &e.event {
                self.timer(e, *kind, expression);
            }
            if let Some(b) = &e.binding {
                for (name, src) in &b.params {
                    self.expression(e.position, &format!("parameter '{name}' of '{}'", e.id), src);
                }
                for m in b.input_mappings.iter().chain(&b.output_mappings) {
                    // a plain source is a static value (Zeebe); only `=` and `${}` are evaluated
                    let evaluated = crate::expr::detect_dialect(&m.source).0 != Dialect::Python;
                    if !m.source.trim().is_empty() && evaluated {
                        self.expression(e.position, &format!("mapping source of '{}'", e.id), &m.source);
                    }
                }
            }
            for (what, s) in [("pre-script", &e.pre_script), ("post-script", &e.post_script)] {
                if let Some(s) = s {
                    if let Err(err) = Script::parse_with(s, &self.limits.eval) {
                        self.error(
                            e.position,
                            format!("{what} of '{}' cannot be parsed: {err}", e.id),
                            "scripts take Python-style statements (see the expression language docs)",
                        );
                    }
                }
            }
            if let Some(LoopCharacteristics::MultiInstance(mi)) = &e.loop_characteristics {
                if mi.cardinality.is_none() && mi.input_collection.is_none() {
                    self.error(
                        e.position,
                        format!(
                            "multi-instance '{}' has neither loopCardinality nor an input collection",
                            e.id
                        ),
                        "add <loopCardinality>3</loopCardinality> or <loopDataInputRef>items</loopDataInputRef>",
                    );
                }
                if mi.cardinality.is_some() && mi.input_collection.is_some() {
                    self.error(
                        e.position,
                        format!(
                            "multi-instance '{}' has both loopCardinality and an input collection: which one sets the number of instances is ambiguous",
                            e.id
                        ),
                        "keep one: <loopCardinality> for a count, or <loopDataInputRef> for one instance per item",
                    );
                }
                if let Some(c) = &mi.cardinality {
                    self.expression(e.position, &format!("loop cardinality of '{}'", e.id), c);
                    self.literal_cardinality(e, c);
                }
            }
            self.runnable(&tree, e);
            if e.kind == ElementKind::ExclusiveGateway && e.outgoing.len() > 1 {
                let unconditioned: Vec<&str> = e
                    .outgoing
                    .iter()
                    .filter(|f| Some(*f) != e.default_flow.as_ref())
                    .filter(|f| flows.get(f.as_str()).is_some_and(|f| f.condition.is_none()))
                    .map(String::as_str)
                    .collect();
                // BPMN 2.0 §13.3.2 picks the first flow whose condition holds, else the default:
                // a flow with neither has no defined meaning (SpiffWorkflow, Camunda and Zeebe
                // refuse such a model too)
                if !unconditioned.is_empty() {
                    self.error(
                        e.position,
                        format!("exclusive gateway '{}' has outgoing flows without a condition that are not its default: {}", e.id, unconditioned.join(", ")),
                        "add a conditionExpression to each, or make one of them the gateway's default flow (default=\"<flow id>\")",
                    );
                }
            }
        }
        for (container, n) in starts_per_container {
            if n > 1 {
                let pos = container
                    .and_then(|c| elements.get(c))
                    .map(|e| e.position)
                    .unwrap_or(p.position);
                self.warning(
                    pos,
                    format!(
                        "{} has {n} none start events; all of them start",
                        container.unwrap_or(&p.id)
                    ),
                    "keep one none start event per (sub)process",
                );
            }
        }
        let has_start = p.elements.iter().any(|e| {
            e.parent.is_none()
                && (e.kind == ElementKind::StartEvent
                    || (e.incoming.is_empty() && e.kind != ElementKind::BoundaryEvent))
        });
        if !p.elements.is_empty() && !has_start {
            self.error(
                p.position,
                format!("process '{}' has no start event", p.id),
                "add a <startEvent> connected to the first element",
            );
        } else if p.executable {
            self.start_for_end(p, &tree);
        }
    }
}
