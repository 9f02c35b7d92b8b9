//! The expression language of conditions, mappings and scripts.
//!
//! # Why hand-written
//!
//! BPMN files in the wild carry two expression styles that must both work: the Python-style
//! conditions and scripts of SpiffWorkflow files (`x > 1`, `answer == 'Yes'`, `True`,
//! `v += 1`, `[v + 1 for v in xs]`) and the FEEL-style expressions of Zeebe files (`=x > 1`,
//! `=a = b`, `=if x then y else z`). The maintained Rust crates we looked at each cover one
//! neither (`evalexpr` has no `and`/`or`/`not` words, no single-quoted strings and no
//! comprehensions; the FEEL crates are young and do not read Python), so this module is a small
//! Pratt parser (a few hundred lines, no dependencies) that reads both, chosen per expression.
//!
//! # The language
//!
//! | form | meaning |
//! |---|---|
//! | `=expr` | FEEL style: `=` is equality, unknown names are `null`, lists are 1-based |
//! | `${expr}` | JUEL style (Camunda 7): read like Python, unknown names are `null` |
//! | anything else | Python style: unknown names are an error, lists are 0-based |
//!
//! - literals: `1`, `2.5`, `'text'`, `"text"`, `True`/`true`, `False`/`false`, `None`/`null`,
//!   lists `[1, 2]`, objects `{'a': 1}` (FEEL: `{a: 1}`)
//! - variable paths: `order.items[0].price`, `data['key']`
//! - comparison: `==`, `!=`, `<`, `<=`, `>`, `>=`, `in`, `not in`, `is`, `is not` (FEEL: `=`)
//! - boolean logic: `and`, `or`, `not` (also `&&`, `||`, `!`, FEEL `not(x)`)
//! - arithmetic: `+`, `-`, `*`, `/`, `//`, `%`, `**`; `+` also joins strings and lists
//! - conditionals: `a if cond else b` (Python), `if cond then a else b` (FEEL)
//! - comprehensions: `[expr for v in list if cond]`
//! - functions: `len`/`count`, `str`/`string`, `int`, `float`/`number`, `bool`, `abs`,
//!   `round`, `sum`, `min`, `max`, `list`, `range`, `print` (no effect), `is_defined`;
//!   methods `d.get(k, default)`, `d.keys()`, `d.values()`, `s.upper()`, `s.lower()`,
//!   `s.strip()`, `s.startswith(p)`, `s.endswith(p)`
//! - scripts: one statement per line: `x = expr`, `x.y = expr`, `x += expr` (also `-=`, `*=`,
//!   `/=`, `//=`, `%=`, `**=`), `del(x)`, or a bare expression; `#` starts a comment
//!
//! Truthiness is Python's: `null`, `false`, `0`, `''`, `[]` and `{}` are false.

mod eval;
mod lexer;
mod parser;

use parser::{Parser, Stmt};
use serde_json::{Map, Value};

pub use eval::{to_display_string, truthy};

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
    /// Parses `src`, choosing the dialect from its form (see the module docs).
    pub fn parse(src: &str) -> Result<Self, ExprError> {
        let (dialect, text) = detect_dialect(src);
        if text.trim().is_empty() {
            return Err(ExprError::new("empty expression".to_string()));
        }
        let mut p = Parser::new(text, dialect)?;
        let expr = p.expr(0)?;
        p.expect_end()?;
        Ok(Expression { expr, dialect })
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
        let mut env = eval::Env {
            layers,
            locals: Vec::new(),
            cost: 0,
            dialect: self.dialect,
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

/// A parsed script: statements, one per line.
#[derive(Debug, Clone, PartialEq)]
pub struct Script {
    stmts: Vec<(usize, Stmt)>,
    dialect: Dialect,
}

impl Script {
    /// Parses a script; errors name the 1-based line of the script.
    pub fn parse(src: &str) -> Result<Self, ExprError> {
        let (dialect, text) = match src.trim_start().strip_prefix('=') {
            Some(rest) => (Dialect::Feel, rest),
            None => (Dialect::Python, src),
        };
        let mut stmts = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let trimmed = line.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let first_word = trimmed
                .split(|c: char| !c.is_alphanumeric() && c != '_')
                .next()
                .unwrap_or("");
            if matches!(
                first_word,
                "if" | "for" | "while" | "def" | "import" | "from" | "class" | "try" | "with" | "return"
            ) && dialect == Dialect::Python
            {
                return Err(ExprError::new(format!(
                    "script line {}: '{first_word}' blocks are not supported; use one assignment or expression per line",
                    i + 1
                )));
            }
            let parsed = Parser::new(trimmed, dialect).and_then(|mut p| {
                let s = p.statement()?;
                p.expect_end()?;
                Ok(s)
            });
            match parsed {
                Ok(s) => stmts.push((i + 1, s)),
                Err(e) => {
                    return Err(ExprError {
                        message: format!("script line {}: {}", i + 1, e.message),
                        offset: e.offset,
                    })
                }
            }
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
        for (line, s) in &self.stmts {
            eval::exec(s, local, below, self.dialect)
                .map_err(|e| ExprError::new(format!("script line {line}: {}", e.message)))?;
        }
        Ok(())
    }
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
        let err = run_script("if x:\n  y = 1", &mut Map::new()).unwrap_err();
        assert!(err.to_string().contains("not supported"), "{err}");
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
        assert!(e.to_string().contains("too much work"), "{e}");
        assert!(evaluate("'ab' * 100000000", &Map::new()).is_err());
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
