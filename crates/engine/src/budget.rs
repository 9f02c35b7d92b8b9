//! The variable budget: a bound on the size of an instance's variables as a whole
//! ([`crate::EngineConfig::max_variable_bytes`], default 64 MiB).
//!
//! One evaluation is bounded by its own budget (`EvalLimits::max_bytes`), but a script that a
//! loop runs again may add that much at every run. The instance's variables (every scope's) are
//! measured where they grow: after a script ran, after a task's output was merged, after an
//! instance of a multi-instance activity ended (their outputs wait in its token), and before
//! data from outside is let in (start data, a task completed or an incident retried through the
//! API, a message or a signal sent to the instance: [`Instance::admit_incoming`]). Past the
//! budget, a growth inside the engine fails the instance at the element (file:line:column) and
//! data from outside is refused; both errors name the largest variables and their sizes, never
//! their values.
//!
//! Sizes are estimates of the stored JSON (strings and keys by their length, a few bytes per
//! number and per container), walked without recursion and without allocating a copy.

use std::borrow::Cow;
use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::engine::{CompiledDefs, Engine};
use crate::error::{EngineError, Location};
use crate::instance::{Instance, ProcIndex};
use crate::state::{Id, TokenState};

/// The default [`crate::EngineConfig::max_variable_bytes`]: 64 MiB.
pub const DEFAULT_MAX_VARIABLE_BYTES: u64 = 64 << 20;

/// How many of the largest variables an error names.
const NAMED: usize = 5;

/// Variables over the budget.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the instance's variables would take {} (over max_variable_bytes = {}); the largest: {}",
    human(*.bytes),
    human(*.limit),
    .largest.iter().map(|(n, b)| format!("{n} ({})", human(*b))).collect::<Vec<_>>().join(", ")
)]
pub struct OverBudget {
    /// Their estimated size.
    pub bytes: u64,
    /// The budget.
    pub limit: u64,
    /// The largest variables, by name and estimated size, largest first.
    pub largest: Vec<(String, u64)>,
}

/// Estimated bytes of `v` as stored.
pub fn value_bytes(v: &Value) -> u64 {
    let mut total = 0u64;
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        let own = match v {
            Value::String(s) => s.len() as u64 + 2,
            Value::Array(items) => {
                stack.extend(items.iter());
                2 + items.len() as u64
            }
            Value::Object(m) => {
                let keys: u64 = m.keys().map(|k| k.len() as u64 + 4).sum();
                stack.extend(m.values());
                2 + keys
            }
            _ => 8,
        };
        total = total.saturating_add(own);
    }
    total
}

/// Checks the variables of `maps` (and `incoming`, counted as added to them) against `limit`;
/// their estimated size when within it.
pub fn check<'a>(
    maps: impl IntoIterator<Item = &'a Map<String, Value>>,
    incoming: Option<&'a Map<String, Value>>,
    limit: u64,
) -> Result<u64, OverBudget> {
    let entries = maps
        .into_iter()
        .chain(incoming)
        .flat_map(|m| m.iter().map(|(k, v)| (Cow::Borrowed(k.as_str()), entry_bytes(k, v))));
    tally(entries, limit)
}

/// Estimated bytes of variable `name` holding `v`.
fn entry_bytes(name: &str, v: &Value) -> u64 {
    (name.len() as u64 + 4).saturating_add(value_bytes(v))
}

/// Sums `entries` (a name and its bytes) against `limit`.
fn tally<'a>(entries: impl Iterator<Item = (Cow<'a, str>, u64)>, limit: u64) -> Result<u64, OverBudget> {
    let mut total = 0u64;
    let mut all: Vec<(Cow<'a, str>, u64)> = Vec::new();
    for (k, b) in entries {
        total = total.saturating_add(b);
        all.push((k, b));
    }
    if total <= limit {
        return Ok(total);
    }
    all.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    // a name in several scopes is named once, with its largest size
    let mut named = std::collections::HashSet::new();
    let largest = all
        .into_iter()
        .filter(|(k, _)| named.insert(k.clone()))
        .take(NAMED)
        .map(|(k, b)| (k.into_owned(), b))
        .collect();
    Err(OverBudget {
        bytes: total,
        limit,
        largest,
    })
}

/// `b` bytes for people: `512 B`, `3.5 KiB`, `64.0 MiB`.
fn human(b: u64) -> String {
    match b {
        b if b < 1024 => format!("{b} B"),
        b if b < 1 << 20 => format!("{:.1} KiB", b as f64 / 1024.0),
        b if b < 1 << 30 => format!("{:.1} MiB", b as f64 / (1u64 << 20) as f64),
        b => format!("{:.1} GiB", b as f64 / (1u64 << 30) as f64),
    }
}

/// The error of variables over the budget at `element_id` of `p` (its file:line:column).
pub(crate) fn error_at(p: &ProcIndex, element_id: &str, what: &str, over: OverBudget) -> EngineError {
    error_in(p.location(element_id), what, over)
}

fn error_in(at: Box<Location>, what: &str, over: OverBudget) -> EngineError {
    EngineError::Expression {
        at,
        what: what.to_string(),
        message: over.to_string(),
        help: "keep large data out of process variables (store it and pass a reference), or raise max_variable_bytes ([engine] in servicetask.toml)".to_string(),
    }
}

/// Where a file is named without an element of it at hand (a collaboration's id).
fn file_at(file: &str, element_id: &str) -> Box<Location> {
    Box::new(Location {
        file: file.to_string(),
        position: servicetask_bpmn::Position { line: 1, column: 1 },
        element_id: element_id.to_string(),
    })
}

/// Start data over the budget is refused, naming the process.
pub(crate) fn admit_start(
    engine: &Engine,
    compiled: &CompiledDefs,
    process_id: &str,
    vars: &Map<String, Value>,
) -> Result<(), EngineError> {
    let limit = engine.inner.config.max_variable_bytes;
    let Err(over) = check(std::iter::empty(), Some(vars), limit) else {
        return Ok(());
    };
    let what = "its start variables";
    Err(match compiled.process(process_id) {
        Some(p) => error_at(p, process_id, what, over),
        None => error_in(file_at(&compiled.defs.file, process_id), what, over),
    })
}

/// What an instance knows of its variables' size between full counts: the last count, what
/// they may have grown by since (an estimate never below the truth: growth is counted where it
/// happens, a shrink is not), and each scope's size when it was last measured. Not saved: a
/// resumed instance counts everything at its first check.
///
/// A full count walks every variable, so it is made only when the estimate reaches the budget
/// (or after [`RECOUNT_EVERY`] checks): a multi-instance activity of 100,000 instances over a
/// large collection does not walk the collection 100,000 times.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    counted: Option<u64>,
    grown: u64,
    checks: u32,
    scopes: HashMap<Id, u64>,
}

/// Checks between two full counts at most.
const RECOUNT_EVERY: u32 = 1024;

impl Instance {
    fn variable_limit(&self) -> u64 {
        self.engine.inner.config.max_variable_bytes
    }

    /// Every variable and every waiting multi-instance output, counted, with `incoming`
    /// counted as added.
    fn count_all(&self, incoming: Option<&Map<String, Value>>) -> (u64, Result<u64, OverBudget>) {
        let vars = self
            .scopes
            .values()
            .map(|s| &s.vars)
            .flat_map(|m| m.iter().map(|(k, v)| (Cow::Borrowed(k.as_str()), entry_bytes(k, v))));
        // a multi-instance activity's outputs wait in its token until the last instance ends
        let outputs = self.tokens.values().filter_map(|t| match &t.state {
            TokenState::MiBody(mi) => Some((
                Cow::Owned(format!("the outputs of '{}'", t.element)),
                mi.outputs.iter().map(value_bytes).fold(0u64, u64::saturating_add),
            )),
            _ => None,
        });
        let incoming_bytes = incoming.map_or(0, map_bytes);
        let extra = incoming
            .into_iter()
            .flat_map(|m| m.iter().map(|(k, v)| (Cow::Borrowed(k.as_str()), entry_bytes(k, v))));
        let result = tally(vars.chain(outputs).chain(extra), self.variable_limit());
        let own = match &result {
            Ok(total) => total - incoming_bytes,
            Err(over) => over.bytes.saturating_sub(incoming_bytes),
        };
        (own, result)
    }

    /// The variables grew by at most `bytes` at `element_id`: an error naming the element when
    /// they are over the budget.
    pub(crate) fn variables_grew(&mut self, p: &ProcIndex, element_id: &str, bytes: u64) -> Result<(), EngineError> {
        let limit = self.variable_limit();
        let t = &mut self.tally;
        t.grown = t.grown.saturating_add(bytes);
        t.checks += 1;
        if t.checks < RECOUNT_EVERY && t.counted.is_some_and(|c| c.saturating_add(t.grown) <= limit) {
            return Ok(());
        }
        let (own, result) = self.count_all(None);
        let scopes = &self.scopes;
        let t = &mut self.tally;
        t.scopes.retain(|id, _| scopes.get(id).is_some());
        (t.counted, t.grown, t.checks) = (Some(own), 0, 0);
        result
            .map(|_| ())
            .map_err(|over| error_at(p, element_id, "its variables", over))
    }

    /// After variables changed at `element_id` by an amount not measured: counts them all; an
    /// error naming the element when they are over the budget. Where the changed scope is
    /// known, [`Instance::scope_changed`] costs less (it measures that scope alone).
    pub(crate) fn check_variable_budget(&mut self, p: &ProcIndex, element_id: &str) -> Result<(), EngineError> {
        self.tally.checks = RECOUNT_EVERY;
        self.variables_grew(p, element_id, 0)
    }

    /// The variables of `scope` changed at `element_id` (a script ran, a task's output was
    /// merged): measures that scope alone, and counts what it grew by since it was last
    /// measured.
    pub(crate) fn scope_changed(&mut self, p: &ProcIndex, element_id: &str, scope: Id) -> Result<(), EngineError> {
        let now = self.scopes.get(&scope).map_or(0, |s| map_bytes(&s.vars));
        let before = self.tally.scopes.insert(scope, now).unwrap_or(0);
        self.variables_grew(p, element_id, now.saturating_sub(before))
    }

    /// Before `incoming` (from outside) is set where token `tid` is: refused when it would
    /// take the variables over the budget (a key it replaces is counted twice: the check errs
    /// on the safe side).
    pub(crate) fn admit_variables(
        &mut self,
        tid: Id,
        incoming: &Map<String, Value>,
        what: &str,
    ) -> Result<(), EngineError> {
        let limit = self.variable_limit();
        let bytes = map_bytes(incoming);
        let t = &self.tally;
        let within = t
            .counted
            .is_some_and(|c| c.saturating_add(t.grown).saturating_add(bytes) <= limit);
        let over = if within {
            None
        } else {
            let (own, result) = self.count_all(Some(incoming));
            (self.tally.counted, self.tally.grown) = (Some(own), 0);
            result.err()
        };
        let Some(over) = over else {
            self.tally.grown = self.tally.grown.saturating_add(bytes);
            return Ok(());
        };
        let token = self.tokens.get(&tid);
        let p = token
            .and_then(|t| self.scopes.get(&t.scope))
            .and_then(|s| self.procs_get(&s.process_id))
            .or_else(|| self.procs_get(&self.process_id));
        let element = token.map_or(self.process_id.as_str(), |t| &t.element);
        Err(match p {
            Some(p) => error_at(&p, element, what, over),
            // a collaboration's instance whose token is gone: the file, without a position
            None => error_in(file_at(&self.defs.file, element), what, over),
        })
    }

    /// Before variables from outside that no token is named for (a message's or a signal's
    /// content) are delivered: refused when they would take the variables over the budget.
    pub fn admit_incoming(&mut self, incoming: &Map<String, Value>, what: &str) -> Result<(), EngineError> {
        self.admit_variables(Id::MAX, incoming, what)
    }
}

/// Estimated bytes of the variables `m`.
fn map_bytes(m: &Map<String, Value>) -> u64 {
    m.iter().map(|(k, v)| entry_bytes(k, v)).fold(0, u64::saturating_add)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sizes_follow_the_stored_text() {
        assert_eq!(value_bytes(&json!("abc")), 5);
        let big = json!({"log": "x".repeat(10_000), "n": [1, 2, 3]});
        let b = value_bytes(&big);
        assert!((10_000..10_100).contains(&b), "{b}");
        // deep nesting walks without recursion
        let mut deep = json!(1);
        for _ in 0..10_000 {
            deep = Value::Array(vec![deep]);
        }
        assert!(value_bytes(&deep) > 10_000);
        std::mem::forget(deep); // dropping it would recurse
    }

    #[test]
    fn over_the_budget_names_the_largest_variables_not_their_values() {
        let vars = json!({"log": "secret-".repeat(2_000), "small": 1, "list": vec!["y"; 300]});
        let m = vars.as_object().unwrap();
        assert!(check([m], None, 1 << 20).is_ok());
        let over = check([m], None, 10_000).unwrap_err();
        assert_eq!(over.largest[0].0, "log");
        assert_eq!(over.largest[1].0, "list");
        let text = over.to_string();
        assert!(text.contains("max_variable_bytes = 9.8 KiB"), "{text}");
        assert!(text.contains("log (13.7 KiB)"), "{text}");
        assert!(!text.contains("secret"), "{text}");
        let incoming = json!({"blob": "z".repeat(20_000)});
        let over = check([m], incoming.as_object(), 30_000).unwrap_err();
        assert_eq!(over.largest[0].0, "blob");
    }
}
