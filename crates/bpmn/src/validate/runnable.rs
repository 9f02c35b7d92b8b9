//! What a run would fail on for static reasons, reported by `validate` instead: an end event
//! no start reaches, a container that cannot start, a literal multi-instance cardinality over
//! the limits, an expression in a language servicetask does not evaluate, a timer that cannot
//! be read.

use super::tree::{can_start, Tree};
use super::*;

impl Validator<'_> {
    /// BPMN 2.0 §10.5.2: "if there is an End Event, then there MUST be at least one Start
    /// Event" (at each process level). Without one, where the process begins is a guess
    /// (SpiffWorkflow refuses the file: "No start event found").
    pub(super) fn start_for_end(&mut self, p: &Process, tree: &Tree<'_>) {
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
    pub(super) fn runnable<'p>(&mut self, p: &Tree<'p>, e: &'p FlowElement) {
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
    pub(super) fn literal_cardinality(&mut self, e: &FlowElement, src: &str) {
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
    pub(super) fn foreign_expressions(&mut self, defs: &Definitions) {
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

    pub(super) fn timer(&mut self, e: &FlowElement, kind: TimerKind, text: &str) {
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
