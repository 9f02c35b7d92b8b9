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

mod builtins;
mod eval;
mod exec;
mod lexer;
mod limits;
mod ops;
mod parser;

use parser::{Parser, Stmt};
use serde_json::{Map, Value};

pub use builtins::{to_display_string, truthy};
pub use limits::{EvalLimits, MAX_DEPTH_CEILING};

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
    expr: parser::Expr,
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
            parser::Expr::Lit(v) => Some(v.clone()),
            parser::Expr::Neg(inner) => match &**inner {
                parser::Expr::Lit(v @ Value::Number(_)) => ops::negate(v).ok(),
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
        if self.expr.reads_variables() {
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
        let mut budget = limits::Budget::new(*limits);
        let mut env = eval::Env {
            layers,
            locals: Vec::new(),
            dialect: self.dialect,
            budget: &mut budget,
            depth: 0,
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

/// A parsed script: Python-style statements, one per line, with indented `if`/`elif`/`else`,
/// `for`, `while` blocks.
#[derive(Debug, Clone, PartialEq)]
pub struct Script {
    stmts: parser::Block,
    dialect: Dialect,
}

/// A logical line of a script: physical lines joined while a bracket is open or a line ends
/// with `\\`, as Python joins them; `no` is its first physical line.
struct Line<'a> {
    no: usize,
    indent: usize,
    text: std::borrow::Cow<'a, str>,
}

/// Brackets left open at the end of `text` (outside strings and comments).
fn open_brackets(text: &str) -> i64 {
    let mut depth = 0i64;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in text.chars() {
        match quote {
            Some(_) if escaped => escaped = false,
            Some(_) if c == '\\' => escaped = true,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => quote = Some(c),
            None if c == '#' => break,
            None if matches!(c, '(' | '[' | '{') => depth += 1,
            None if matches!(c, ')' | ']' | '}') => depth -= 1,
            None => {}
        }
    }
    depth
}

/// The logical lines of a script, without blank and comment lines.
fn logical_lines(text: &str) -> Vec<Line<'_>> {
    let mut out = Vec::new();
    // a logical line still open: its first line, indent, text so far and open brackets
    let mut pending: Option<(usize, usize, String, i64)> = None;
    for (i, l) in text.lines().enumerate() {
        let t = l.trim();
        let (no, indent, mut acc, depth) = match pending.take() {
            Some((no, indent, mut acc, depth)) => {
                acc.push('\n');
                acc.push_str(t);
                (no, indent, acc, depth + open_brackets(t))
            }
            None if t.is_empty() || t.starts_with('#') => continue,
            None => {
                let indent = l
                    .chars()
                    .take_while(|c| c.is_whitespace())
                    .map(|c| if c == '\t' { 8 } else { 1 })
                    .sum();
                if open_brackets(t) <= 0 && !t.ends_with('\\') {
                    out.push(Line {
                        no: i + 1,
                        indent,
                        text: std::borrow::Cow::Borrowed(t),
                    });
                    continue;
                }
                (i + 1, indent, t.to_string(), open_brackets(t))
            }
        };
        let continued = acc.ends_with('\\');
        if continued {
            acc.pop();
        }
        if depth > 0 || continued {
            pending = Some((no, indent, acc, depth));
        } else {
            out.push(Line {
                no,
                indent,
                text: std::borrow::Cow::Owned(acc),
            });
        }
    }
    // an unclosed bracket: the parser reports it
    if let Some((no, indent, acc, _)) = pending {
        out.push(Line {
            no,
            indent,
            text: std::borrow::Cow::Owned(acc),
        });
    }
    out
}

/// Index of the first ':' outside brackets and quotes.
fn top_level_colon(text: &str) -> Option<usize> {
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    for (i, c) in text.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => quote = Some(c),
            None if c == '(' || c == '[' || c == '{' => depth += 1,
            None if c == ')' || c == ']' || c == '}' => depth -= 1,
            None if c == ':' && depth == 0 => return Some(i),
            None => {}
        }
    }
    None
}

/// What script parsing needs to know: the dialect and the expression depth limit.
#[derive(Clone, Copy)]
struct Cx {
    dialect: Dialect,
    max_depth: usize,
}

fn line_err(no: usize, message: impl std::fmt::Display) -> ExprError {
    ExprError::new(format!("script line {no}: {message}"))
}

fn parse_expr_text(text: &str, cx: Cx, no: usize) -> Result<parser::Expr, ExprError> {
    let mut p = Parser::new(text, cx.dialect, cx.max_depth).map_err(|e| line_err(no, e.message))?;
    let e = p.expr(0).map_err(|e| line_err(no, e.message))?;
    p.expect_end().map_err(|e| line_err(no, e.message))?;
    Ok(e)
}

fn parse_simple(text: &str, cx: Cx, no: usize) -> Result<Stmt, ExprError> {
    match text {
        "pass" => return Ok(Stmt::Pass),
        "break" => return Ok(Stmt::Break),
        "continue" => return Ok(Stmt::Continue),
        _ => {}
    }
    let first_word = text
        .split(|c: char| !c.is_alphanumeric() && c != '_')
        .next()
        .unwrap_or("");
    if matches!(
        first_word,
        "def" | "import" | "from" | "class" | "try" | "with" | "return" | "lambda" | "raise"
    ) {
        return Err(line_err(
            no,
            format!("'{first_word}' is not supported; scripts take assignments, expressions, if/for/while blocks"),
        ));
    }
    let mut p = Parser::new(text, cx.dialect, cx.max_depth).map_err(|e| line_err(no, e.message))?;
    let s = p.statement().map_err(|e| line_err(no, e.message))?;
    p.expect_end().map_err(|e| line_err(no, e.message))?;
    Ok(s)
}

/// Splits a compound statement header `kw rest: body?` into (rest, inline body).
fn header<'t>(text: &'t str, kw: &str, no: usize) -> Result<(&'t str, &'t str), ExprError> {
    let rest = &text[kw.len()..];
    let colon =
        top_level_colon(rest).ok_or_else(|| line_err(no, format!("'{kw}' needs a ':' at the end of its line")))?;
    Ok((rest[..colon].trim(), rest[colon + 1..].trim()))
}

fn parse_block(
    lines: &[Line<'_>],
    i: &mut usize,
    indent: usize,
    cx: Cx,
    depth: usize,
) -> Result<parser::Block, ExprError> {
    if depth > 32 {
        return Err(line_err(lines.get(*i).map_or(0, |l| l.no), "blocks nested too deeply"));
    }
    let mut out = Vec::new();
    while *i < lines.len() {
        let line = &lines[*i];
        if line.indent < indent {
            break;
        }
        if line.indent > indent {
            return Err(line_err(line.no, "unexpected indent"));
        }
        let t: &str = &line.text;
        let no = line.no;
        let word = t.split(|c: char| !c.is_alphanumeric() && c != '_').next().unwrap_or("");
        match word {
            "if" | "while" | "for" => {
                let (head, inline) = header(t, word, no)?;
                *i += 1;
                let body = body_of(lines, i, indent, inline, cx, depth, no)?;
                let stmt = match word {
                    "if" => {
                        let mut branches = vec![(parse_expr_text(head, cx, no)?, body)];
                        let mut otherwise = Vec::new();
                        while *i < lines.len() && lines[*i].indent == indent {
                            let l = &lines[*i];
                            let w = l
                                .text
                                .split(|c: char| !c.is_alphanumeric() && c != '_')
                                .next()
                                .unwrap_or("");
                            if w == "elif" {
                                let (h, inl) = header(&l.text, "elif", l.no)?;
                                let cond = parse_expr_text(h, cx, l.no)?;
                                let lno = l.no;
                                *i += 1;
                                branches.push((cond, body_of(lines, i, indent, inl, cx, depth, lno)?));
                            } else if w == "else" {
                                let (_, inl) = header(&l.text, "else", l.no)?;
                                let lno = l.no;
                                *i += 1;
                                otherwise = body_of(lines, i, indent, inl, cx, depth, lno)?;
                                break;
                            } else {
                                break;
                            }
                        }
                        Stmt::If { branches, otherwise }
                    }
                    "while" => Stmt::While {
                        cond: parse_expr_text(head, cx, no)?,
                        body,
                    },
                    _ => {
                        let (names, iter) = head
                            .split_once(" in ")
                            .ok_or_else(|| line_err(no, "'for' needs 'in'"))?;
                        let vars: Vec<String> = names
                            .split(',')
                            .map(|n| n.trim().trim_matches(|c| c == '(' || c == ')').to_string())
                            .collect();
                        if vars
                            .iter()
                            .any(|v| v.is_empty() || !v.chars().all(|c| c.is_alphanumeric() || c == '_'))
                        {
                            return Err(line_err(no, format!("'for' needs variable names, not '{names}'")));
                        }
                        Stmt::For {
                            vars,
                            iter: parse_expr_text(iter, cx, no)?,
                            body,
                        }
                    }
                };
                out.push((no, stmt));
            }
            "elif" | "else" => return Err(line_err(no, format!("'{word}' without a matching 'if'"))),
            _ => {
                out.push((no, parse_simple(t, cx, no)?));
                *i += 1;
            }
        }
    }
    Ok(out)
}

fn body_of(
    lines: &[Line<'_>],
    i: &mut usize,
    indent: usize,
    inline: &str,
    cx: Cx,
    depth: usize,
    no: usize,
) -> Result<parser::Block, ExprError> {
    if !inline.is_empty() {
        return Ok(vec![(no, parse_simple(inline, cx, no)?)]);
    }
    match lines.get(*i) {
        Some(next) if next.indent > indent => {
            let inner = next.indent;
            parse_block(lines, i, inner, cx, depth + 1)
        }
        _ => Err(line_err(no, "expected an indented block")),
    }
}

impl Script {
    /// Parses a script; errors name the 1-based line of the script.
    pub fn parse(src: &str) -> Result<Self, ExprError> {
        Self::parse_with(src, &EvalLimits::default())
    }

    /// Parses a script whose expressions are no deeper than `limits.max_depth`.
    pub fn parse_with(src: &str, limits: &EvalLimits) -> Result<Self, ExprError> {
        let (dialect, text) = match src.trim_start().strip_prefix('=') {
            Some(rest) => (Dialect::Feel, rest),
            None => (Dialect::Python, src),
        };
        let lines = logical_lines(text);
        let base = lines.iter().map(|l| l.indent).min().unwrap_or(0);
        let mut i = 0;
        let cx = Cx {
            dialect,
            max_depth: limits.max_depth,
        };
        let stmts = parse_block(&lines, &mut i, base, cx, 0)?;
        if i < lines.len() {
            return Err(line_err(lines[i].no, "unexpected indentation"));
        }
        Ok(Script { stmts, dialect })
    }

    /// Runs the script, changing `vars` in place. On error, the statements before the failing
    /// one have taken effect.
    pub fn run(&self, vars: &mut Map<String, Value>) -> Result<(), ExprError> {
        self.run_layered(vars, &[])
    }

    /// Runs the script with reads seeing `local` then `below`, and writes going to `local`.
    pub fn run_layered(&self, local: &mut Map<String, Value>, below: &[&Map<String, Value>]) -> Result<(), ExprError> {
        self.run_with(local, below, &EvalLimits::default())
    }

    /// Runs the script as [`Script::run_layered`] does, within `limits`: one step and memory
    /// budget for the whole run.
    pub fn run_with(
        &self,
        local: &mut Map<String, Value>,
        below: &[&Map<String, Value>],
        limits: &EvalLimits,
    ) -> Result<(), ExprError> {
        let mut exec = exec::Exec {
            local,
            below,
            dialect: self.dialect,
            budget: limits::Budget::new(*limits),
        };
        exec.block(&self.stmts).map(|_| ())
    }
}

impl Script {
    /// The names of the functions the script calls (not methods), in source order, once each.
    pub fn called_functions(&self) -> Vec<String> {
        let mut out = Vec::new();
        parser::block_calls(&self.stmts, &mut |name| push_once(&mut out, name));
        out
    }
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

/// Parses and runs a script over `vars`.
pub fn run_script(src: &str, vars: &mut Map<String, Value>) -> Result<(), ExprError> {
    Script::parse(src)?.run(vars)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn python_conditions() {
        let v = vars(json!({"x": 2, "answer": "Yes", "error": true, "u": 1}));
        assert_eq!(evaluate("x > 1", &v).unwrap(), json!(true));
        assert_eq!(evaluate("answer == 'Yes'", &v).unwrap(), json!(true));
        assert_eq!(evaluate("True", &v).unwrap(), json!(true));
        assert_eq!(evaluate("error", &v).unwrap(), json!(true));
        assert_eq!(evaluate("x > 1 and not u < 0 or False", &v).unwrap(), json!(true));
        assert_eq!(evaluate("x * 2 + 1", &v).unwrap(), json!(5));
        assert_eq!(evaluate("x / 4", &v).unwrap(), json!(0.5));
        assert_eq!(evaluate("None", &v).unwrap(), Value::Null);
    }

    #[test]
    fn feel_conditions() {
        let v = vars(json!({"x": 2, "order": {"total": 10}}));
        assert_eq!(evaluate("=x > 1", &v).unwrap(), json!(true));
        assert_eq!(evaluate("= x = 2", &v).unwrap(), json!(true));
        assert_eq!(
            evaluate("=order.total >= 10 and missing = null", &v).unwrap(),
            json!(true)
        );
        assert_eq!(
            evaluate("=if x > 1 then \"big\" else \"small\"", &v).unwrap(),
            json!("big")
        );
        assert_eq!(evaluate("=not(x = 2)", &v).unwrap(), json!(false));
        assert_eq!(evaluate("=4 / 2", &v).unwrap(), json!(2));
    }

    #[test]
    fn juel_conditions() {
        let v = vars(json!({"ok": true}));
        assert_eq!(evaluate("${ok == true}", &v).unwrap(), json!(true));
        assert_eq!(evaluate("${missing}", &v).unwrap(), Value::Null);
    }

    #[test]
    fn undefined_python_name_is_a_clear_error() {
        let err = evaluate("y > 1", &Map::new()).unwrap_err();
        assert_eq!(err.to_string(), "name 'y' is not defined");
    }

    #[test]
    fn comparing_incompatible_types_is_an_error() {
        let v = vars(json!({"s": "a"}));
        assert!(evaluate("s > 1", &v).is_err());
    }

    #[test]
    fn scripts_assign_and_delete() {
        let mut v = vars(json!({"v": 0, "u": 1, "remove_me": 1, "input_data": [1, 2, 3]}));
        run_script(
            "v += 1\nu += v\nname = 'World'\ndel(remove_me)\nprint(name)\ninput_data = [ x + 1 for x in input_data ]\nd.k = 3",
            &mut v,
        )
        .unwrap();
        assert_eq!(
            Value::Object(v),
            json!({"v": 1, "u": 2, "name": "World", "input_data": [2, 3, 4], "d": {"k": 3}})
        );
    }

    #[test]
    fn script_errors_name_the_line() {
        let err = run_script("a = 1\nb = a +", &mut Map::new()).unwrap_err();
        assert!(err.to_string().starts_with("script line 2:"), "{err}");
        let err = run_script("import os", &mut Map::new()).unwrap_err();
        assert!(err.to_string().contains("not supported"), "{err}");
        let err = run_script("if x:\ny = 1", &mut Map::new()).unwrap_err();
        assert!(err.to_string().contains("expected an indented block"), "{err}");
    }

    #[test]
    fn layered_reads_fall_through_and_writes_stay_local() {
        let parent = vars(json!({"items": [1, 2], "total": 10, "o": {"a": 1}}));
        let mut local = vars(json!({"item": 2}));
        let script = Script::parse("total += item\no.b = 2\nx = len(items)").unwrap();
        script.run_layered(&mut local, &[&parent]).unwrap();
        assert_eq!(
            Value::Object(local.clone()),
            json!({"item": 2, "total": 12, "o": {"a": 1, "b": 2}, "x": 2})
        );
        assert_eq!(parent.get("total"), Some(&json!(10)));
        let e = Expression::parse("item + total").unwrap();
        assert_eq!(e.eval_layers(&[&local, &parent]).unwrap(), json!(14));
    }

    #[test]
    fn runaway_expressions_stop_with_an_error() {
        let e = evaluate("[[y for y in range(100000)] for x in range(100000)]", &Map::new()).unwrap_err();
        assert!(e.to_string().contains("over the limit max_"), "{e}");
        assert!(evaluate("'ab' * 100000000", &Map::new()).is_err());
    }

    #[test]
    fn python_blocks_methods_and_fstrings() {
        let mut v = vars(json!({"items": [1, 2, 3, 4], "d": {"a": 1}, "name": "Bob"}));
        run_script(
            "total = 0\nevens = []\nfor i in items:\n    if i % 2 == 0:\n        evens.append(i)\n    elif i == 3:\n        continue\n    else:\n        pass\n    total += i\nn = 0\nwhile n < 3: n += 1\nfor k, val in d.items():\n    d[k] = val * 10\ngreeting = f'Hi {name}, {total:.1f} {{ok}}'\nitems[0] = 9\nwait = timedelta(seconds=5, minutes=1)",
            &mut v,
        )
        .unwrap();
        assert_eq!(v.get("evens"), Some(&json!([2, 4])));
        assert_eq!(v.get("total"), Some(&json!(7)));
        assert_eq!(v.get("n"), Some(&json!(3)));
        assert_eq!(v.get("d"), Some(&json!({"a": 10})));
        assert_eq!(v.get("greeting"), Some(&json!("Hi Bob, 7.0 {ok}")));
        assert_eq!(v.get("items"), Some(&json!([9, 2, 3, 4])));
        assert_eq!(v.get("wait"), Some(&json!("PT65S")));
        let err = run_script("while True:\n    x = 1", &mut Map::new()).unwrap_err();
        assert!(err.to_string().contains("max_steps"), "{err}");
    }

    #[test]
    fn statements_continue_over_lines_as_in_python() {
        // implicit joining inside brackets (SpiffWorkflow's ScriptTest.bpmn), and a backslash
        let mut v = Map::new();
        run_script(
            "testvar2 = [{'x':1,'y':'a'},\n            {'x':2,'y':'b'},  # a comment\n             {'x':3,'y':'c'}]\nn = len(testvar2) + \\\n    1\nif n > 3:\n    ok = (n,\n          'yes')",
            &mut v,
        )
        .unwrap();
        assert_eq!(v.get("n"), Some(&json!(4)));
        assert_eq!(v.get("ok"), Some(&json!([4, "yes"])));
        assert_eq!(v.get("testvar2").and_then(|t| t[2]["y"].as_str()), Some("c"));
        let err = run_script("a = 1\nb = [1,\n  2", &mut Map::new()).unwrap_err();
        assert!(err.to_string().starts_with("script line 2:"), "{err}");
    }

    #[test]
    fn builtins() {
        let v = vars(json!({"xs": [3, 1, 2], "s": "abc"}));
        assert_eq!(evaluate("len(xs)", &v).unwrap(), json!(3));
        assert_eq!(evaluate("sum(xs)", &v).unwrap(), json!(6));
        assert_eq!(evaluate("min(xs)", &v).unwrap(), json!(1));
        assert_eq!(evaluate("max(4, 9)", &v).unwrap(), json!(9));
        assert_eq!(evaluate("str(1) + s", &v).unwrap(), json!("1abc"));
        assert_eq!(evaluate("int('42') + float('0.5')", &v).unwrap(), json!(42.5));
        assert_eq!(evaluate("=count(xs)", &v).unwrap(), json!(3));
        assert_eq!(evaluate("'b' in s", &v).unwrap(), json!(true));
        assert_eq!(evaluate("xs[-1]", &v).unwrap(), json!(2));
        assert_eq!(evaluate("=xs[1]", &v).unwrap(), json!(3));
    }
}
