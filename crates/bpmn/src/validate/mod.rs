//! Validation: reference checks and expression checks over a parsed model, reporting every
//! problem. This module holds the entry points, the duplicate-id check and the expression and
//! function checks every element uses; [`process`] checks a process's references, flows and
//! elements, [`runnable`] what a run would fail on for static reasons (an end no start
//! reaches, an empty subprocess, a cardinality over the limits, a timer that cannot be read),
//! [`tree`] indexes a process's elements for them.

use crate::diagnostic::Diagnostic;
use crate::expr::{Dialect, Expression, Functions, Script};
use crate::limits::Limits;
use crate::model::*;
use crate::timer;
use std::collections::{HashMap, HashSet};

mod process;
mod runnable;
mod tree;

use tree::script_line_position;

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
    validate_in(defs, limits, &Functions::new())
}

/// Checks `defs` as [`validate_with`] does, where the host's registered `functions` are
/// functions of the expression language (a call of one is no error).
pub fn validate_in(defs: &Definitions, limits: &Limits, functions: &Functions) -> Vec<Diagnostic> {
    let mut v = Validator {
        file: &defs.file,
        diags: Vec::new(),
        limits,
        functions,
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
    /// The host's registered functions.
    functions: &'a Functions,
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
        for name in crate::functions::unknown_functions_in(src, self.functions) {
            self.error(
                pos,
                format!("{what} calls '{name}', which is not a function of the expression language"),
                "use the documented builtins (len, str, int, sum, ...), define it in the script with def, or compute the value in a service task",
            );
        }
    }
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
