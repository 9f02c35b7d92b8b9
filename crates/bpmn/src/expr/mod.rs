//! The expression language of conditions, mappings and scripts.
//!
//! # Why hand-written
//!
//! BPMN files in the wild carry two expression styles that must both work: the Python-style
//! conditions and scripts of SpiffWorkflow files (`x > 1`, `answer == 'Yes'`, `True`,
//! `v += 1`, `[v + 1 for v in xs]`) and the FEEL expressions of Zeebe files (`=x > 1`,
//! `=a = b`, `=some x in xs satisfies x > 2`). `evalexpr` has no `and`/`or`/`not` words, no
//! single-quoted strings and no comprehensions. For FEEL we tried dsntk (dsntk-feel-parser and
//! dsntk-feel-evaluator 0.3, which pass the DMN TCK): they build on our toolchain, but bring 142
//! crates (an HTTP client with rustls and aws-lc, the Intel decimal C library, chrono-tz), make
//! HTTP calls to evaluate FEEL external functions, have no step or memory budget, and abort the
//! process with a stack overflow on a 2,000-term sum (issue 10's crash class). So this module is
//! a small Pratt parser that reads all styles, chosen per expression, within [`EvalLimits`];
//! its FEEL tests take their cases from the DMN specification (ARCHITECTURE.md has the details).
//!
//! # The language
//!
//! | form | meaning |
//! |---|---|
//! | `=expr` | FEEL: `=` is equality, unknown names and wrong-typed operands are `null`, lists are 1-based |
//! | `${expr}` | JUEL style (Camunda 7): read like Python, unknown names are `null` |
//! | anything else | Python style: unknown names are an error, lists are 0-based |
//!
//! - literals: `1`, `2.5`, `'text'`, `"text"`, `True`/`true`, `False`/`false`, `None`/`null`,
//!   lists `[1, 2]`, objects `{'a': 1}` (FEEL: `{a: 1}`)
//! - variable paths: `order.items[0].price`, `data['key']`
//! - comparison: `==`, `!=`, `<`, `<=`, `>`, `>=`, `in`, `not in`, `is`, `is not` (FEEL: `=`)
//! - boolean logic: `and`, `or`, `not` (also `&&`, `||`, `!`, FEEL `not(x)`)
//! - arithmetic: `+`, `-`, `*`, `/`, `//`, `%`, `**`; `+` also joins strings and lists, `*`
//!   repeats them; integers are 64-bit and an overflow is an error (FEEL: a float)
//! - conditionals: `a if cond else b` (Python), `if cond then a else b` (FEEL)
//! - comprehensions: `[expr for v in list if cond]`
//! - FEEL: names with spaces (`order total > 100`), `some|every v in xs satisfies cond`,
//!   `for v in xs return expr`, ranges `[1..10]` (`x in [1..10]`), contexts whose entries see
//!   the ones before (`{a: 1, b: a + 1}`), paths over lists (`orders.id`), filters
//!   (`orders[total > 10]`), three-valued `and`/`or`, null propagation
//! - functions: `len`/`count`, `str`/`string`, `int`, `float`/`number`, `bool`, `abs`,
//!   `round`, `floor`, `ceiling`, `sum`, `min`, `max`, `list`, `range`, `print` (no effect),
//!   `is_defined`/`is defined`, `vars()`/`globals()` (the variables in scope, as in
//!   SpiffWorkflow), `timedelta(seconds=.., minutes=.., ...)` (an ISO-8601 duration string for
//!   timers); FEEL's `string length`, `substring`, `upper case`, `lower case`, `contains`,
//!   `starts with`, `ends with`, `list contains`, `append`, `concatenate`, `distinct values`,
//!   `get value`; methods `d.get(k, default)`, `d.keys()`, `d.values()`, `d.items()`,
//!   `s.upper()`, `s.lower()`, `s.strip()`, `s.split(sep)`, `sep.join(list)`,
//!   `s.replace(a, b)`, `s.startswith(p)`, `s.endswith(p)`
//! - f-strings: `f'Hello {name}, {total:.2f}'`
//! - scripts: Python-style statements, one per line: `x = expr`, `x.y = expr`, `x[i] = expr`,
//!   `x += expr` (also `-=`, `*=`, `/=`, `//=`, `%=`, `**=`), `del(x)`, a bare expression,
//!   `xs.append(v)` (also `extend`, `insert`, `pop`, `remove`, `update`, `clear`, with Python's
//!   arguments and errors; `v = xs.pop(0)`, `d.pop(k, default)` and `seen.append(q.pop())` take
//!   the item out, while a changing method deeper inside an expression is an error), and indented
//!   `if`/`elif`/`else`, `for a[, b] in ...`, `while` blocks with `break`, `continue`, `pass`;
//!   `#` starts a comment. `def`, `import`, `try`, `with`, `return` are not supported.
//!
//! Truthiness is Python's: `null`, `false`, `0`, `''`, `[]` and `{}` are false (a FEEL
//! condition holds only when it is `true`).
//!
//! # Limits
//!
//! Every evaluation runs within an [`EvalLimits`] (the engine's is
//! `EngineConfig::limits.eval`); a limit reached is an error that names it, never a panic, an
//! abort or an allocation past the budget. Defaults:
//!
//! | limit | default | what it bounds |
//! |---|---|---|
//! | `max_steps` | 1,000,000 | nodes evaluated, loop iterations, items built, copied, moved or compared, a step per 128 bytes allocated and per 64 bytes of a string walked: one budget for a whole script, nested loops and comprehensions included. A runaway script is stopped within about 0.1 s (15 to 80 ns a step in release builds); an ordinary loop takes 5 to 10 steps an iteration |
//! | `max_bytes` | 64 MiB | estimated bytes of what an expression builds, plus what a script's variables (loop variables and the items a `for` loop walks included) grow by; checked before allocating |
//! | `max_depth` | 100 (at most 2,000) | nesting of an expression tree (parentheses, calls, and each operator of a chain such as `1 + 1 + ...`) and of the values built; the parser and the evaluator grow their stack as they recurse, so any allowed depth runs on a 2 MiB thread |
//! | `max_collection_len` | 1,000,000 | items of one list or object built (`range`, comprehensions, `*`, `split`, `+`) |
//! | `max_string_len` | 10 MB | bytes of one string built (`+`, `*`, `join`, `replace`, f-strings) |
//!
//! Script blocks nest at most 32 deep. Arithmetic is checked: `i64::MIN // -1`, `-i64::MIN`,
//! `abs(i64::MIN)`, `2 ** 64`, `int(1e300)` are errors, `i64::MIN % -1` is 0 as in Python.

mod ast;
mod blocks;
mod builtins;
mod calls;
mod eval;
mod exec;
mod lexer;
mod limits;
mod modules;
mod ops;
mod parser;
mod percent;
mod registry;
mod script;

use parser::Parser;
use serde_json::{Map, Value};

pub use builtins::{to_display_string, truthy};
pub use limits::{EvalLimits, MAX_DEPTH_CEILING};
pub use registry::{Functions, HostFunction};
pub use script::{run_script, Script};

/// Which expression style a source text is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// SpiffWorkflow's Python-style expressions.
    Python,
    /// Zeebe's FEEL expressions (written with a leading `=`).
    Feel,
    /// Camunda 7's JUEL expressions (written as `${...}`), read like Python.
    Juel,
}

/// An expression that could not be parsed or evaluated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ExprError {
    /// What went wrong, a lowercase phrase.
    pub message: String,
    /// Byte offset in the source, when the error comes from parsing.
    pub offset: Option<usize>,
}

impl ExprError {
    pub(crate) fn new(message: String) -> Self {
        ExprError { message, offset: None }
    }

    pub(crate) fn at(offset: usize, message: String) -> Self {
        ExprError {
            message,
            offset: Some(offset),
        }
    }
}

/// A parsed expression, ready to be evaluated many times.
#[derive(Debug, Clone, PartialEq)]
pub struct Expression {
    expr: ast::Expr,
    dialect: Dialect,
}

impl Dialect {
    /// The dialect of a declared `expressionLanguage` or `scriptFormat`, or `None` for a
    /// language this crate does not evaluate (XPath, Groovy, JavaScript, ...).
    pub fn from_language(declared: &str) -> Option<Dialect> {
        let l = declared.trim().to_ascii_lowercase();
        if l.contains("feel") {
            Some(Dialect::Feel)
        } else if l.contains("python") || l == "py" {
            Some(Dialect::Python)
        } else if l.contains("juel") {
            Some(Dialect::Juel)
        } else {
            None
        }
    }
}

/// The name of a declared language servicetask knows and does not evaluate (XPath, Groovy,
/// JavaScript, ...), or `None` (one of ours, or an unknown name: SpiffWorkflow ignores the
/// declaration and reads Python, so an expression under it is read by its form).
pub fn foreign_language(declared: &str) -> Option<&'static str> {
    let l = declared.trim().to_ascii_lowercase();
    [
        ("xpath", "XPath"),
        ("xquery", "XQuery"),
        ("groovy", "Groovy"),
        ("javascript", "JavaScript"),
        ("ecmascript", "JavaScript"),
        ("nashorn", "JavaScript"),
        ("mvel", "MVEL"),
        ("spel", "SpEL"),
        ("ruby", "Ruby"),
        ("kotlin", "Kotlin"),
    ]
    .into_iter()
    .find(|(key, _)| l.contains(key))
    .map(|(_, name)| name)
    .or(matches!(l.as_str(), "js" | "text/js").then_some("JavaScript"))
}

/// Splits a source text into its dialect and the expression text proper.
pub fn detect_dialect(src: &str) -> (Dialect, &str) {
    let t = src.trim();
    if let Some(rest) = t.strip_prefix('=') {
        return (Dialect::Feel, rest);
    }
    if let Some(inner) = t
        .strip_prefix("${")
        .or_else(|| t.strip_prefix("#{"))
        .and_then(|r| r.strip_suffix('}'))
    {
        return (Dialect::Juel, inner);
    }
    (Dialect::Python, t)
}

impl Expression {
    /// Parses `src`, choosing the dialect from its form (see the module docs), within the
    /// default [`EvalLimits`].
    pub fn parse(src: &str) -> Result<Self, ExprError> {
        Self::parse_with(src, &EvalLimits::default())
    }

    /// Parses `src` with an expression tree no deeper than `limits.max_depth`.
    pub fn parse_with(src: &str, limits: &EvalLimits) -> Result<Self, ExprError> {
        let (dialect, text) = detect_dialect(src);
        if text.trim().is_empty() {
            return Err(ExprError::new("empty expression".to_string()));
        }
        let mut p = Parser::new(text, dialect, limits.max_depth)?;
        let expr = p.expr(0)?;
        p.expect_end()?;
        Ok(Expression { expr, dialect })
    }

    /// The value of a literal expression (`3`, `-1`, `2.5`, `'text'`), `None` for anything
    /// that reads variables or computes.
    pub fn literal(&self) -> Option<Value> {
        match &self.expr {
            ast::Expr::Lit(v) => Some(v.clone()),
            ast::Expr::Neg(inner) => match &**inner {
                ast::Expr::Lit(v @ Value::Number(_)) => ops::negate(v).ok(),
                _ => None,
            },
            _ => None,
        }
    }

    /// The error this expression ends in whatever the variables, if it reads none and fails
    /// (`2 ** 64`, `1 // 0`, `'a' * 100000000000`): a static error `validate` can report.
    /// Evaluated within `limits` and at most 100,000 steps; running out of steps is not
    /// reported (a run may have more).
    pub fn static_error(&self, limits: &EvalLimits) -> Option<ExprError> {
        // a function that is no builtin (a host's registered one, or one `validate` reports as
        // unknown on its own) is not called here: its result is not known before a run
        if self.expr.reads_variables() || self.called_functions().iter().any(|f| !is_function(f)) {
            return None;
        }
        let limits = EvalLimits {
            max_steps: limits.max_steps.min(100_000),
            ..*limits
        };
        match self.eval_with(&[], &limits) {
            Err(e) if !e.message.contains("EvalLimits::max_steps") => Some(e),
            _ => None,
        }
    }

    /// The names of the functions the expression calls (not methods), in source order, once
    /// each.
    pub fn called_functions(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.expr.calls(&mut |name| push_once(&mut out, name));
        out
    }

    /// The dialect this expression was read in.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Evaluates the expression over `vars`.
    pub fn eval(&self, vars: &Map<String, Value>) -> Result<Value, ExprError> {
        self.eval_layers(&[vars])
    }

    /// Evaluates the expression over layers of variables: a name is looked up in the first
    /// layer that has it (a multi-instance child's own variables, then its parent's).
    pub fn eval_layers(&self, layers: &[&Map<String, Value>]) -> Result<Value, ExprError> {
        self.eval_with(layers, &EvalLimits::default())
    }

    /// Evaluates the expression over layers of variables within `limits`.
    pub fn eval_with(&self, layers: &[&Map<String, Value>], limits: &EvalLimits) -> Result<Value, ExprError> {
        self.eval_in(layers, limits, &Functions::new())
    }

    /// Evaluates the expression as [`Expression::eval_with`] does, with the host's
    /// registered `functions` callable.
    pub fn eval_in(
        &self,
        layers: &[&Map<String, Value>],
        limits: &EvalLimits,
        functions: &Functions,
    ) -> Result<Value, ExprError> {
        let mut budget = limits::Budget::new(*limits);
        let mut env = eval::Env {
            layers,
            locals: Vec::new(),
            dialect: self.dialect,
            budget: &mut budget,
            depth: 0,
            calls: calls::Calls {
                host: functions,
                frame: None,
                module: None,
            },
        };
        eval::eval(&self.expr, &mut env)
    }
}

/// Parses and evaluates `src` over `vars` in one go.
pub fn evaluate(src: &str, vars: &Map<String, Value>) -> Result<Value, ExprError> {
    Expression::parse(src)?.eval(vars)
}

/// Parses and evaluates a condition; the result is its truthiness.
pub fn evaluate_condition(src: &str, vars: &Map<String, Value>) -> Result<bool, ExprError> {
    Ok(truthy(&evaluate(src, vars)?))
}

fn push_once(out: &mut Vec<String>, name: &str) {
    if !out.iter().any(|n| n == name) {
        out.push(name.to_string());
    }
}

/// True when the expression language has a function `name` (a builtin such as `len`, or
/// FEEL's `string length`).
pub fn is_function(name: &str) -> bool {
    builtins::is_function(name)
}

#[cfg(test)]
mod tests;
