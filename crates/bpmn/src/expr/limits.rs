//! Resource limits of the expression language: one step budget and one memory budget per
//! evaluation (shared by every statement, loop and comprehension of a script), a nesting
//! depth for expression trees and values, and size caps checked before anything is allocated.

use super::ExprError;
use serde_json::Value;

/// The resources one evaluation (an expression, or a whole script run) may use.
///
/// Every limit ends the evaluation with an [`ExprError`] that names the limit, never with a
/// panic, an abort or an allocation past the budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EvalLimits {
    /// Steps one evaluation may take: one per node evaluated, per loop iteration, per item
    /// built or copied, per 128 bytes allocated, per 64 bytes walked. Shared by nested loops and
    /// comprehensions. Default 1 million: a runaway script is stopped within about 0.1 s
    /// (BENCHMARKS.md, "Expression budget"); an ordinary loop takes 5 to 10 steps per
    /// iteration, so loops of about 100,000 iterations fit.
    pub max_steps: u64,
    /// Estimated bytes one evaluation may hold: every string, list and object an expression
    /// builds or copies, plus what a script's variables grow by. Checked before allocating.
    /// Default 64 MiB.
    pub max_bytes: u64,
    /// Nesting depth of an expression tree (parentheses, operator chains, calls) and of the
    /// lists and objects an evaluation builds. Default 100 (a value nested deeper could not
    /// be stored: JSON readers stop at 128); at most [`MAX_DEPTH_CEILING`].
    pub max_depth: usize,
    /// Items in one list or object an evaluation builds (`range`, comprehensions, repetition,
    /// `split`, concatenation). Default 1 million.
    pub max_collection_len: usize,
    /// Bytes of one string an evaluation builds (concatenation, repetition, `join`, f-strings,
    /// `replace`). Default 10 MB.
    pub max_string_len: usize,
}

impl Default for EvalLimits {
    fn default() -> Self {
        EvalLimits {
            max_steps: 1_000_000,
            max_bytes: 64 << 20,
            max_depth: 100,
            max_collection_len: 1_000_000,
            max_string_len: 10_000_000,
        }
    }
}

/// The highest `max_depth` honoured: the parser and the evaluator grow their stack as they
/// recurse ([`grow_stack`]), but dropping, cloning or printing a tree recurses on the thread's
/// own stack, and 2,000 levels of that fit in a few hundred KiB.
pub const MAX_DEPTH_CEILING: usize = 2_000;

/// Runs `f` with at least 128 KiB of stack left, moving to a fresh 1 MiB segment when the
/// current one runs low (stacker, as rustc does for its recursive passes). The parser and the
/// evaluator call it at each level, so no configured depth overflows a 2 MiB thread.
pub(crate) fn grow_stack<R>(f: impl FnOnce() -> R) -> R {
    stacker::maybe_grow(128 * 1024, 1024 * 1024, f)
}

/// Bytes one value slot is counted as (the size of a `serde_json::Value`).
pub(crate) const SLOT: u64 = std::mem::size_of::<Value>() as u64;

/// Bytes an object is counted as beyond its entries: the allocation a `serde_json::Map` makes
/// for its first entry (a B-tree leaf of 11 keys and values, about 630 bytes; with
/// `preserve_order`, an index table and entry vector of about 300). Without it a list of
/// one-entry objects took 7 times its estimate (BENCHMARKS.md, "Expression budget").
pub(crate) const MAP: u64 = 640;

/// The error for a limit that was reached: names the limit, its value and how to raise it.
pub(crate) fn exceeded(limit: &str, value: impl std::fmt::Display, what: &str) -> ExprError {
    ExprError::new(format!(
        "{what}: over the limit {limit} = {value} (raise EvalLimits::{limit} if this is intended)"
    ))
}

/// Size of a value: estimated bytes, nesting depth and number of nodes.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Measure {
    pub bytes: u64,
    pub depth: usize,
    pub nodes: u64,
}

/// Measures a value without recursion (values handed in by a caller may be deep).
pub(crate) fn measure(v: &Value) -> Measure {
    let mut m = Measure::default();
    let mut stack = vec![(v, 1usize)];
    while let Some((v, d)) = stack.pop() {
        m.nodes += 1;
        m.depth = m.depth.max(d);
        m.bytes += SLOT;
        match v {
            Value::String(s) => m.bytes += s.len() as u64,
            Value::Array(a) => stack.extend(a.iter().map(|x| (x, d + 1))),
            Value::Object(o) => {
                m.bytes += MAP;
                for (k, x) in o {
                    m.bytes += k.len() as u64 + SLOT;
                    stack.push((x, d + 1));
                }
            }
            _ => {}
        }
    }
    m
}

/// What one evaluation has used so far, against its [`EvalLimits`].
#[derive(Debug)]
pub(crate) struct Budget {
    pub limits: EvalLimits,
    steps: u64,
    /// Bytes built by the expression being evaluated (released when a statement ends).
    temp: u64,
    /// What a script's variables have grown by (may be negative).
    held: i64,
    /// Calls of script-defined functions in progress (nested).
    calls: usize,
}

impl Budget {
    pub(crate) fn new(limits: EvalLimits) -> Self {
        Budget {
            limits,
            steps: 0,
            temp: 0,
            held: 0,
            calls: 0,
        }
    }

    /// Takes `n` steps.
    pub(crate) fn steps(&mut self, n: u64) -> Result<(), ExprError> {
        self.steps = self.steps.saturating_add(n);
        if self.steps > self.limits.max_steps {
            return Err(exceeded(
                "max_steps",
                self.limits.max_steps,
                "the evaluation does too much work",
            ));
        }
        Ok(())
    }

    /// Takes the steps for walking `bytes` bytes of a value that is not copied (a step per
    /// 64 bytes: walking UTF-8 costs about a nanosecond a byte).
    pub(crate) fn scan(&mut self, bytes: usize) -> Result<(), ExprError> {
        self.steps(bytes as u64 / 64)
    }

    fn used(&self) -> u64 {
        self.temp.saturating_add_signed(self.held)
    }

    /// Reserves `bytes` for a value about to be built (before allocating it).
    pub(crate) fn alloc(&mut self, bytes: u64) -> Result<(), ExprError> {
        if self.used().saturating_add(bytes) > self.limits.max_bytes {
            return Err(exceeded(
                "max_bytes",
                self.limits.max_bytes,
                "the evaluation would hold too much memory",
            ));
        }
        self.temp += bytes;
        self.steps(bytes / 128)
    }

    /// A statement ended: its temporaries are gone; its variables changed by `delta` bytes.
    pub(crate) fn settle(&mut self, delta: i64) -> Result<(), ExprError> {
        self.temp = 0;
        self.held = self.held.saturating_add(delta);
        if self.used() > self.limits.max_bytes {
            return Err(exceeded(
                "max_bytes",
                self.limits.max_bytes,
                "the script's variables would hold too much memory",
            ));
        }
        Ok(())
    }

    /// A call of a script-defined function starts: it may nest at most `max_depth` deep,
    /// and what the caller's expression has built so far is held while the call runs (its
    /// statements settle their own temporaries). Returns the bytes set aside.
    pub(crate) fn enter_call(&mut self) -> Result<u64, ExprError> {
        if self.calls >= self.limits.max_depth {
            return Err(exceeded(
                "max_depth",
                self.limits.max_depth,
                "functions call each other too deeply (recursion)",
            ));
        }
        self.steps(1)?;
        self.calls += 1;
        let saved = std::mem::take(&mut self.temp);
        self.held = self.held.saturating_add(i64::try_from(saved).unwrap_or(i64::MAX));
        Ok(saved)
    }

    /// A call ended: its frame's variables (`frame` bytes) are dropped and the caller's
    /// temporaries (`saved`, from [`Budget::enter_call`]) are its own again.
    pub(crate) fn leave_call(&mut self, saved: u64, frame: i64) {
        self.calls = self.calls.saturating_sub(1);
        self.held = self
            .held
            .saturating_sub(i64::try_from(saved).unwrap_or(i64::MAX))
            .saturating_sub(frame);
        self.temp = saved;
    }

    /// Checks a string of `len` bytes may be built, and reserves it.
    pub(crate) fn string(&mut self, len: u64) -> Result<(), ExprError> {
        self.grow_string(0, len)
    }

    /// Checks a string of `len` bytes may grow by `add` bytes, and reserves what it adds.
    pub(crate) fn grow_string(&mut self, len: u64, add: u64) -> Result<(), ExprError> {
        self.grow(("max_string_len", self.limits.max_string_len, "bytes"), len, add, 1)
    }

    /// Checks a list or object of `len` items may be built, and reserves its slots.
    pub(crate) fn collection(&mut self, len: u64) -> Result<(), ExprError> {
        self.grow_collection(0, len)
    }

    /// Checks a list or object of `len` items may grow by `add` items, and reserves them.
    pub(crate) fn grow_collection(&mut self, len: u64, add: u64) -> Result<(), ExprError> {
        self.grow(
            ("max_collection_len", self.limits.max_collection_len, "items"),
            len,
            add,
            SLOT,
        )
    }

    /// Checks `len + add` units are within `limit`, and reserves `add` units of `unit` bytes
    /// (plus the value's own slot when it is new).
    fn grow(&mut self, limit: (&str, usize, &str), len: u64, add: u64, unit: u64) -> Result<(), ExprError> {
        let (name, max, units) = limit;
        let total = len.saturating_add(add);
        if total > max as u64 {
            return Err(exceeded(name, max, &format!("a value of {total} {units}")));
        }
        self.alloc(add.saturating_mul(unit) + if len == 0 { SLOT } else { 0 })
    }

    /// Checks a value about to be stored is not nested deeper than `max_depth`.
    pub(crate) fn depth(&self, depth: usize) -> Result<(), ExprError> {
        if depth > self.limits.max_depth {
            return Err(exceeded(
                "max_depth",
                self.limits.max_depth,
                "a value nested too deeply",
            ));
        }
        Ok(())
    }

    /// Charges a copy of `v` (steps for its nodes, bytes for its size) and returns its measure.
    pub(crate) fn copy(&mut self, v: &Value) -> Result<Measure, ExprError> {
        let m = measure(v);
        self.steps(m.nodes)?;
        self.alloc(m.bytes)?;
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn measure_counts_nodes_depth_and_bytes() {
        let m = measure(&json!({"a": [1, "xy"]}));
        assert_eq!((m.nodes, m.depth), (4, 3));
        assert_eq!(m.bytes, 4 * SLOT + MAP + 1 + SLOT + 2);
    }

    #[test]
    fn budgets_name_the_limit() {
        let mut b = Budget::new(EvalLimits {
            max_bytes: 100,
            ..EvalLimits::default()
        });
        let e = b.alloc(101).unwrap_err();
        assert!(e.message.contains("max_bytes = 100"), "{e}");
        b.alloc(60).unwrap();
        b.settle(50).unwrap();
        assert!(b.settle(60).is_err());
    }
}
