//! Validation: reference checks and expression checks over a parsed model, reporting every problem.

use crate::diagnostic::Diagnostic;
use crate::expr::{Dialect, Expression, Script};
use crate::limits::Limits;
use crate::model::*;
use crate::timer;
use std::collections::{HashMap, HashSet};

/// How many subprocesses deep an element may sit. The parser reads no deeper and reports the
/// container where it stopped; the validator reports deeper (or circular) `parent` chains in
/// models built in code. Keeps every walk over the nesting short and the recursion bounded.
pub const MAX_NESTING: usize = 64;

/// Checks `defs` and returns every problem found (never stops at the first), against the
/// default [`Limits`].
pub fn validate(defs: &Definitions) -> Vec<Diagnostic> {
    validate_with(defs, &Limits::default())
}

/// Checks `defs` against `limits` (what the engine that will run them allows): expressions
/// nested deeper than the evaluation limit, literal multi-instance cardinalities above the
/// batch limit, and every check of [`validate`].
pub fn validate_with(defs: &Definitions, limits: &Limits) -> Vec<Diagnostic> {
    let mut v = Validator {
        file: &defs.file,
        diags: Vec::new(),
        limits,
        foreign: defs.foreign_expressions.iter().map(|f| f.text.as_str()).collect(),
        processes: defs.processes.iter().map(|p| p.id.as_str()).collect(),
        messages: defs.messages.iter().map(|m| m.id.as_str()).collect(),
        errors: defs.errors.iter().map(|e| e.id.as_str()).collect(),
    };
    let mut seen: HashMap<&str, Position> = HashMap::new();
    for p in &defs.processes {
        for (id, pos) in std::iter::once((p.id.as_str(), p.position))
            .chain(p.elements.iter().map(|e| (e.id.as_str(), e.position)))
            .chain(p.flows.iter().map(|f| (f.id.as_str(), f.position)))
        {
            if id.is_empty() {
                continue;
            }
            if let Some(first) = seen.get(id) {
                v.error(
                    pos,
                    format!("duplicate id '{id}' (first used at {}:{})", first.line, first.column),
                    "give every element, flow and process a unique id",
                );
            } else {
                seen.insert(id, pos);
            }
        }
    }
    v.foreign_expressions(defs);
    if let Some(first) = defs
        .processes
        .first()
        .filter(|_| defs.processes.iter().all(|p| !p.executable))
    {
        v.error(
            first.position,
            format!(
                "no process of the file is executable (process '{}' has isExecutable=\"false\")",
                first.id
            ),
            "set isExecutable=\"true\" on the process to run; a non-executable process only documents one (BPMN 2.0 §10.2)",
        );
    }
    for p in &defs.processes {
        v.process(p);
    }
    for c in &defs.collaborations {
        for part in &c.participants {
            if let Some(r) = &part.process_ref {
                if !v.processes.contains(r.as_str()) {
                    v.error(
                        part.position,
                        format!("participant '{}' refers to unknown process '{r}'", part.id),
                        "set processRef to the id of a process in this file",
                    );
                }
            }
        }
    }
    v.diags
}

struct Validator<'a> {
    file: &'a str,
    diags: Vec<Diagnostic>,
    limits: &'a Limits,
    /// Texts of the expressions written in a language we do not evaluate (reported once, by
    /// their language, not again as unreadable expressions).
    foreign: HashSet<&'a str>,
    /// Ids of the processes, messages and errors of the definitions (looked up per element).
    processes: HashSet<&'a str>,
    messages: HashSet<&'a str>,
    errors: HashSet<&'a str>,
}

impl Validator<'_> {
    fn error(&mut self, pos: Position, msg: impl Into<String>, help: impl Into<String>) {
        self.diags.push(Diagnostic::error(self.file, pos, msg, help));
    }

    fn warning(&mut self, pos: Position, msg: impl Into<String>, help: impl Into<String>) {
        self.diags.push(Diagnostic::warning(self.file, pos, msg, help));
    }

    fn expression(&mut self, pos: Position, what: &str, src: &str) {
        if self.foreign.contains(src.trim()) {
            return;
        }
        match Expression::parse_with(src, &self.limits.eval) {
            Ok(parsed) => {
                if let Some(e) = parsed.static_error(&self.limits.eval) {
                    self.error(
                        pos,
                        format!("{what} '{}' fails whatever the variables: {e}", src.trim()),
                        "fix the expression: it reads no variable, so every run would fail on it",
                    );
                }
                self.functions(pos, what, src);
            }
            Err(e) => self.error(
                pos,
                format!("{what} '{}' is not a valid expression: {e}", src.trim()),
                "write a Python-style expression (x > 1 and answer == 'Yes') or a FEEL one with a leading '=' (=x > 1)",
            ),
        }
    }

    /// Reports the functions `src` calls that the expression language lacks.
    fn functions(&mut self, pos: Position, what: &str, src: &str) {
        for name in crate::functions::unknown_functions(src) {
            self.error(
                pos,
                format!("{what} calls '{name}', which is not a function of the expression language"),
                "use the documented builtins (len, str, int, sum, ...), or compute the value in a service task",
            );
        }
    }

    /// Reports elements inside an unknown container, more than [`MAX_NESTING`] containers
    /// deep, or whose containers contain each other (possible only in models built in code).
    fn nesting(&mut self, p: &Process, elements: &HashMap<&str, &FlowElement>) {
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

    fn process(&mut self, p: &Process) {
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
                            self.error(line_pos, format!("script of '{}' cannot be parsed: {err}", e.id), "scripts take Python-style statements: x = expr, x += expr, del(x), if/for/while blocks, calls of the documented builtins");
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

    /// BPMN 2.0 §10.5.2: "if there is an End Event, then there MUST be at least one Start
    /// Event" (at each process level). Without one, where the process begins is a guess
    /// (SpiffWorkflow refuses the file: "No start event found").
    fn start_for_end(&mut self, p: &Process, tree: &Tree<'_>) {
        let mut levels: Vec<Option<&str>> = vec![None];
        levels.extend(
            p.elements
                .iter()
                .filter(|e| {
                    matches!(
                        e.kind,
                        ElementKind::SubProcess | ElementKind::Transaction | ElementKind::AdHocSubProcess
                    ) && !e.triggered_by_event
                })
                .map(|e| Some(e.id.as_str())),
        );
        for level in levels {
            let mut children = tree.children(level).peekable();
            if children.peek().is_none() {
                continue;
            }
            let (mut starts, mut end) = (0, None);
            for c in tree.children(level) {
                match c.kind {
                    ElementKind::StartEvent => starts += 1,
                    ElementKind::EndEvent => end = end.or(Some(c)),
                    _ => {}
                }
            }
            // an ad-hoc subprocess starts its activities without a start event
            let adhoc = level
                .and_then(|l| tree.element(l))
                .is_some_and(|c| c.kind == ElementKind::AdHocSubProcess);
            if let (0, Some(end), false) = (starts, end, adhoc) {
                self.error(
                    end.position,
                    format!(
                        "{} '{}' has an end event ('{}') but no start event",
                        if level.is_some() { "subprocess" } else { "process" },
                        level.unwrap_or(&p.id),
                        end.id
                    ),
                    "add a <startEvent> connected to the first activity (BPMN 2.0 §10.5.2: if there is an End Event, there must be at least one Start Event)",
                );
            }
        }
    }

    /// What the engine needs to run `e` that the structural checks above do not cover, so that
    /// a file `validate` accepts never fails a run for a static reason: a subprocess with
    /// something to start, a link throw with its catch, expressions of loops parsed.
    fn runnable<'p>(&mut self, p: &Tree<'p>, e: &'p FlowElement) {
        let is_subprocess = matches!(
            e.kind,
            ElementKind::SubProcess | ElementKind::Transaction | ElementKind::AdHocSubProcess
        );
        // the parser does not read the contents of a container nested deeper than
        // MAX_NESTING (and says so): it is not empty
        let depth = std::iter::successors(e.parent.as_deref(), |c| p.element(c).and_then(|x| x.parent.as_deref()))
            .take(self.limits.max_nesting + 1)
            .count();
        if is_subprocess && !e.triggered_by_event && depth < self.limits.max_nesting {
            let mut children = p.children(Some(&e.id)).peekable();
            if children.peek().is_none() {
                self.error(
                    e.position,
                    format!("{} '{}' is empty (a collapsed subprocess with nothing inside)", e.kind.tag(), e.id),
                    "model its content (a start event, the activities, an end event), or make it a task or a callActivity",
                );
            } else if !p.children(Some(&e.id)).any(can_start) {
                self.error(
                    e.position,
                    format!(
                        "{} '{}' has nothing to start: every element inside has an incoming flow",
                        e.kind.tag(),
                        e.id
                    ),
                    "add a <startEvent> inside it, connected to the first activity",
                );
            }
        }
        if let (ElementKind::IntermediateThrowEvent, Some(EventDefinition::Link { name })) = (e.kind, &e.event) {
            let caught = p.link_catches.contains(&(e.parent.as_deref(), name.as_deref()));
            if !caught {
                self.error(
                    e.position,
                    format!(
                        "link throw event '{}' has no link catch event named '{}' in the same (sub)process",
                        e.id,
                        name.as_deref().unwrap_or("")
                    ),
                    "add an intermediateCatchEvent with a linkEventDefinition of the same name",
                );
            }
        }
        match &e.event {
            Some(EventDefinition::Cancel) => {
                let in_transaction = match e.kind {
                    ElementKind::BoundaryEvent => e.attached_to.as_deref(),
                    _ => e.parent.as_deref(),
                }
                .and_then(|c| p.element(c))
                .is_some_and(|c| c.kind == ElementKind::Transaction);
                if !in_transaction {
                    self.error(
                        e.position,
                        format!("cancel event '{}' is not in (or on) a transaction", e.id),
                        "cancel end events belong inside a <transaction>, cancel boundary events on one (BPMN 2.0 §10.5.6); use a terminate or error end event elsewhere",
                    );
                } else {
                    self.error(
                        e.position,
                        format!(
                            "cancel event '{}': this engine does not run transaction cancellation yet",
                            e.id
                        ),
                        "use an error end event inside the subprocess and an error boundary event on it",
                    );
                }
            }
            Some(EventDefinition::Compensate) => self.error(
                e.position,
                format!(
                    "compensation event '{}': this engine does not run compensation yet",
                    e.id
                ),
                "undo the work explicitly: an error boundary event leading to the undoing activities",
            ),
            _ => {}
        }
        let scripts = [
            ("script", e.script.as_ref().map(|s| s.text.as_str())),
            ("pre-script", e.pre_script.as_deref()),
            ("post-script", e.post_script.as_deref()),
        ];
        for (what, src) in scripts {
            if let Some(src) = src.filter(|s| Script::parse_with(s, &self.limits.eval).is_ok()) {
                self.functions(e.position, &format!("{what} of '{}'", e.id), src);
            }
        }
        match &e.loop_characteristics {
            Some(LoopCharacteristics::Standard { condition: Some(c), .. }) => {
                self.expression(e.position, &format!("loop condition of '{}'", e.id), c)
            }
            Some(LoopCharacteristics::Standard {
                condition: None,
                maximum: None,
                ..
            }) => self.error(
                e.position,
                format!(
                    "standard loop of '{}' has neither loopCondition nor loopMaximum: nothing ends it",
                    e.id
                ),
                "add <loopCondition>count &lt; 3</loopCondition> (loop while true) or loopMaximum=\"3\"",
            ),
            Some(LoopCharacteristics::MultiInstance(mi)) => {
                for (what, src) in [
                    ("input collection", &mi.input_collection),
                    ("completion condition", &mi.completion_condition),
                ] {
                    if let Some(src) = src.as_deref().filter(|s| !s.trim().is_empty()) {
                        self.expression(e.position, &format!("{what} of '{}'", e.id), src);
                    }
                }
            }
            _ => {}
        }
    }

    /// A literal `loopCardinality` the engine would refuse (over `max_instances`, negative,
    /// fractional) is reported here rather than at run time.
    fn literal_cardinality(&mut self, e: &FlowElement, src: &str) {
        let Some(value) = Expression::parse_with(src, &self.limits.eval)
            .ok()
            .and_then(|x| x.literal())
        else {
            return;
        };
        if let Err(message) = self.limits.instance_count(&value) {
            self.error(
                e.position,
                format!("loop cardinality of '{}' is {}: {message}", e.id, src.trim()),
                "make loopCardinality a whole number within the engine's limits (EngineConfig::limits.max_instances), or split the batch",
            );
        }
    }

    /// Expressions in a language servicetask does not evaluate, each named with its language.
    fn foreign_expressions(&mut self, defs: &Definitions) {
        for f in &defs.foreign_expressions {
            self.error(
                f.position,
                format!(
                    "{} '{}' is written in {} (expressionLanguage=\"{}\"), which servicetask does not evaluate",
                    f.what,
                    f.text,
                    crate::expr::foreign_language(&f.language).unwrap_or(&f.language),
                    f.language
                ),
                "rewrite it in FEEL (=x > 1) or as a Python-style expression (x > 1) and remove expressionLanguage, or declare FEEL (https://www.omg.org/spec/DMN/20191111/FEEL/)",
            );
        }
    }

    fn timer(&mut self, e: &FlowElement, kind: TimerKind, text: &str) {
        let t = text.trim();
        if t.is_empty() {
            let tag = match kind {
                TimerKind::Duration => "timeDuration",
                TimerKind::Cycle => "timeCycle",
                TimerKind::Date => "timeDate",
            };
            self.error(
                e.position,
                format!("timer of '{}' is empty: it can never fire", e.id),
                format!("write a value in <{tag}>, such as PT5S (duration), R3/PT10S (cycle) or 2026-01-01T00:00:00Z (date)"),
            );
            return;
        }
        if t.starts_with('=') || t.starts_with("${") {
            self.expression(e.position, &format!("timer of '{}'", e.id), t);
            return;
        }
        let ok = match kind {
            TimerKind::Duration => timer::parse_duration(t).map(|_| ()),
            TimerKind::Cycle => timer::parse_cycle(t).map(|_| ()),
            TimerKind::Date => timer::parse_date(t).map(|_| ()),
        };
        if let Err(err) = ok {
            // maybe an expression that yields the text
            if Expression::parse_with(t, &self.limits.eval).is_err() {
                self.error(e.position, format!("timer of '{}': {err}", e.id), "write an ISO-8601 duration such as PT5S, a cycle such as R3/PT10S, or a date such as 2026-01-01T00:00:00Z");
            }
        }
    }
}

/// A process's elements by id and by container, built once per process so that checks made
/// per element look up instead of scanning (a model of 16,000 subprocesses stays linear).
struct Tree<'p> {
    by_id: HashMap<&'p str, &'p FlowElement>,
    by_container: HashMap<Option<&'p str>, Vec<&'p FlowElement>>,
    /// (container, link name) of every link catch event.
    link_catches: HashSet<(Option<&'p str>, Option<&'p str>)>,
}

impl<'p> Tree<'p> {
    fn new(p: &'p Process) -> Self {
        let mut by_container: HashMap<Option<&str>, Vec<&FlowElement>> = HashMap::new();
        for e in &p.elements {
            by_container.entry(e.parent.as_deref()).or_default().push(e);
        }
        let link_catches = p
            .elements
            .iter()
            .filter(|c| c.kind == ElementKind::IntermediateCatchEvent)
            .filter_map(|c| match &c.event {
                Some(EventDefinition::Link { name }) => Some((c.parent.as_deref(), name.as_deref())),
                _ => None,
            })
            .collect();
        Tree {
            by_id: p.elements.iter().rev().map(|e| (e.id.as_str(), e)).collect(),
            by_container,
            link_catches,
        }
    }

    /// The element with this id (the first, as [`Process::element`]).
    fn element(&self, id: &str) -> Option<&'p FlowElement> {
        self.by_id.get(id).copied()
    }

    /// The elements directly inside `container` (`None`: the process level).
    fn children(&self, container: Option<&'p str>) -> impl Iterator<Item = &'p FlowElement> + '_ {
        self.by_container.get(&container).into_iter().flatten().copied()
    }
}

/// True when the engine can start a (sub)process at `e`: a start event of any kind (not an
/// event subprocess's), else an element with no incoming flow (not a boundary event, an event
/// subprocess or a link catch), as the engine chooses its start elements.
fn can_start(e: &FlowElement) -> bool {
    if e.triggered_by_event {
        return false;
    }
    e.kind == ElementKind::StartEvent
        || (e.incoming.is_empty()
            && e.kind != ElementKind::BoundaryEvent
            && !matches!(e.event, Some(EventDefinition::Link { .. })))
}

/// Errors for the call activities of `defs` whose called process is neither in `defs` nor
/// one that `known` says exists elsewhere (the engine's library, the file's directory).
pub fn missing_called_processes(defs: &Definitions, known: impl Fn(&str) -> bool) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for p in &defs.processes {
        for e in p.elements.iter().filter(|e| e.kind == ElementKind::CallActivity) {
            let Some(c) = e.called_element.as_deref().filter(|c| !c.is_empty()) else {
                continue; // reported by the validator
            };
            if defs.process(c).is_none() && !known(c) {
                out.push(Diagnostic::error(
                    &defs.file,
                    e.position,
                    format!("call activity '{}' calls process '{c}', which is neither in this file nor in another BPMN file of its directory", e.id),
                    format!("add the BPMN file that defines process '{c}' next to this one, or fix calledElement"),
                ));
            }
        }
    }
    out
}

fn script_line_position(s: &ScriptDef, message: &str) -> Position {
    // messages start with "script line N:"; the script text starts right after the <script> tag
    let line = message
        .strip_prefix("script line ")
        .and_then(|r| r.split(':').next())
        .and_then(|n| n.parse::<u32>().ok())
        .unwrap_or(1);
    Position {
        line: s.position.line + line.saturating_sub(1),
        column: if line == 1 { s.position.column } else { 1 },
    }
}
