//! Script statements from a line's tokens: assignments to a path or to a tuple of targets
//! (`a, (b, c) = 1, (2, 3)`), augmented assignments, `del`, `return`, `import` and
//! `from ... import`, bare expressions and expression lists (`1, 2` is a tuple, read as a
//! list), and the headers of `for` and `def`. Target parsing counts toward the parser's depth
//! like an expression, so nested parentheses cannot exhaust the stack.

use super::{describe, Parser};
use crate::expr::ast::{BinOp, Expr, Import, Seg, Stmt, Target};
use crate::expr::lexer::Tok;
use crate::expr::modules::Module;
use crate::expr::ExprError;
use serde_json::Value;

/// A parameter list of a `def`: names with their optional default.
pub(crate) type Params = Vec<(String, Option<Expr>)>;

impl Parser {
    fn error_here(&self, message: impl Into<String>) -> ExprError {
        ExprError::at(self.offset(), message.into())
    }

    fn name(&mut self, what: &str) -> Result<String, ExprError> {
        match self.peek().clone() {
            Tok::Ident(n) => {
                self.bump();
                Ok(n)
            }
            other => Err(self.error_here(format!("expected {what}, found {}", describe(&other)))),
        }
    }

    /// Parses one simple statement (a whole script line); `return` only `in_function`.
    pub(crate) fn statement(&mut self, in_function: bool) -> Result<Stmt, ExprError> {
        if self.is_kw("del") {
            return self.del();
        }
        if self.is_kw("return") {
            if !in_function {
                return Err(self.error_here("'return' outside a function"));
            }
            self.bump();
            let value = if self.at_end() { None } else { Some(self.expr_list()?) };
            return Ok(Stmt::Return(value));
        }
        if self.is_kw("import") {
            self.bump();
            return self.import();
        }
        if self.is_kw("from") {
            self.bump();
            return self.import_from();
        }
        let save = self.pos;
        if let Some(target) = self.target_list() {
            let op = match self.peek() {
                Tok::Op("=") => Some(None),
                Tok::Op("+=") => Some(Some(BinOp::Add)),
                Tok::Op("-=") => Some(Some(BinOp::Sub)),
                Tok::Op("*=") => Some(Some(BinOp::Mul)),
                Tok::Op("/=") => Some(Some(BinOp::Div)),
                Tok::Op("//=") => Some(Some(BinOp::FloorDiv)),
                Tok::Op("%=") => Some(Some(BinOp::Mod)),
                Tok::Op("**=") => Some(Some(BinOp::Pow)),
                _ => None,
            };
            if let Some(op) = op {
                if op.is_some() && matches!(target, Target::Tuple(_)) {
                    return Err(self.error_here("an augmented assignment takes one target, not a tuple"));
                }
                self.bump();
                let value = if op.is_some() { self.expr(0)? } else { self.expr_list()? };
                return Ok(Stmt::Assign { target, op, value });
            }
        }
        self.pos = save;
        Ok(Stmt::Expr(self.expr_list()?))
    }

    fn del(&mut self) -> Result<Stmt, ExprError> {
        self.bump();
        let paren = self.is_op("(");
        if paren {
            self.bump();
        }
        let mut names = Vec::new();
        loop {
            names.push(self.name("a variable name after 'del'")?);
            if self.is_op(",") {
                self.bump();
            } else {
                break;
            }
        }
        if paren {
            self.expect_op(")")?;
        }
        Ok(Stmt::Del(names))
    }

    /// An expression, or several separated by commas: a tuple, read as a list.
    pub(crate) fn expr_list(&mut self) -> Result<Expr, ExprError> {
        let first = self.expr(0)?;
        if !self.is_op(",") {
            return Ok(first);
        }
        let mut items = vec![first];
        while self.is_op(",") {
            self.bump();
            if self.at_end() || self.is_op(":") {
                break;
            }
            items.push(self.expr(0)?);
        }
        Ok(Expr::List(items))
    }

    /// Targets separated by commas (one without a comma is itself); `None` when the tokens
    /// are no target (the caller then reads an expression from the same place).
    pub(crate) fn target_list(&mut self) -> Option<Target> {
        let first = self.target()?;
        if !self.is_op(",") {
            return Some(first);
        }
        let mut items = vec![first];
        while self.is_op(",") {
            self.bump();
            if self.at_end() || self.is_op("=") || self.is_op(")") || self.is_op("]") || self.is_kw("in") {
                break;
            }
            items.push(self.target()?);
        }
        Some(Target::Tuple(items))
    }

    fn target(&mut self) -> Option<Target> {
        let entry = self.depth;
        let r = match self.deeper() {
            Ok(()) => self.target_inner(),
            Err(_) => None,
        };
        self.depth = entry;
        r
    }

    fn target_inner(&mut self) -> Option<Target> {
        match self.peek().clone() {
            Tok::Op(open @ ("(" | "[")) => {
                let close = if open == "(" { ")" } else { "]" };
                self.bump();
                let inner = self.target_list()?;
                if !self.is_op(close) {
                    return None;
                }
                self.bump();
                // `(a) = 1` binds a name; `[a] = xs` unpacks a one-item list
                Some(match inner {
                    Target::Path(p) if close == "]" => Target::Tuple(vec![Target::Path(p)]),
                    t => t,
                })
            }
            Tok::Ident(first) => {
                self.bump();
                let mut path = vec![Seg::Key(first)];
                loop {
                    if self.is_op(".") {
                        if let Tok::Ident(n) = self.peek_at(1).clone() {
                            self.bump();
                            self.bump();
                            path.push(Seg::Key(n));
                            continue;
                        }
                    } else if self.is_op("[") {
                        self.bump();
                        match self.expr(0) {
                            Ok(Expr::Lit(Value::String(s))) if self.is_op("]") => path.push(Seg::Key(s)),
                            Ok(e) if self.is_op("]") => path.push(Seg::Index(e)),
                            _ => return None,
                        }
                        self.bump();
                        continue;
                    }
                    break;
                }
                Some(Target::Path(path))
            }
            _ => None,
        }
    }

    /// The header of a `for` loop after the keyword: `targets in iterable`.
    pub(crate) fn for_header(&mut self) -> Result<(Target, Expr), ExprError> {
        let target = self
            .target_list()
            .ok_or_else(|| self.error_here("'for' needs variable names before 'in'"))?;
        self.expect_kw("in")?;
        let iter = self.expr_list()?;
        self.expect_end()?;
        Ok((target, iter))
    }

    /// The header of a `def` after the keyword: `name(a, b=1)`, with optional annotations.
    pub(crate) fn def_header(&mut self) -> Result<(String, Params), ExprError> {
        let name = self.name("a function name after 'def'")?;
        self.expect_op("(")?;
        let mut params: Params = Vec::new();
        while !self.is_op(")") {
            if self.is_op("*") || self.is_op("**") || self.is_op("/") {
                return Err(self.error_here("'*args', '**kwargs' and '/' parameters are not supported"));
            }
            let p = self.name("a parameter name")?;
            if params.iter().any(|(n, _)| *n == p) {
                return Err(self.error_here(format!("duplicate argument '{p}' in function definition")));
            }
            if self.is_op(":") {
                self.bump();
                self.expr(0)?; // an annotation: not checked, as in Python
            }
            let default = if self.is_op("=") {
                self.bump();
                Some(self.expr(0)?)
            } else {
                None
            };
            if default.is_none() && params.iter().any(|(_, d)| d.is_some()) {
                return Err(self.error_here("parameter without a default follows parameter with a default"));
            }
            params.push((p, default));
            if self.is_op(",") {
                self.bump();
            } else {
                break;
            }
        }
        self.expect_op(")")?;
        if self.is_op("-") && matches!(self.peek_at(1), Tok::Op(">")) {
            self.bump();
            self.bump();
            self.expr(0)?; // a return annotation
        }
        self.expect_end()?;
        Ok((name, params))
    }

    /// A dotted module name (`time`, `os.path`).
    fn module_name(&mut self) -> Result<String, ExprError> {
        let mut name = self.name("a module name")?;
        while self.is_op(".") {
            self.bump();
            name.push('.');
            name.push_str(&self.name("a module name after '.'")?);
        }
        Ok(name)
    }

    fn alias(&mut self, default: String) -> Result<String, ExprError> {
        if self.is_kw("as") {
            self.bump();
            return self.name("a name after 'as'");
        }
        Ok(default)
    }

    /// `import m [as n], ...` after the keyword.
    fn import(&mut self) -> Result<Stmt, ExprError> {
        let mut out = Vec::new();
        loop {
            let at = self.offset();
            let name = self.module_name()?;
            let module = Module::named(&name).map_err(|e| ExprError::at(at, e.message))?;
            if name.contains('.') {
                return Err(ExprError::at(at, format!("module '{name}' cannot be imported")));
            }
            let bound = self.alias(name)?;
            out.push(Import {
                module,
                member: None,
                bound,
            });
            if self.is_op(",") {
                self.bump();
            } else {
                break;
            }
        }
        self.expect_end()?;
        Ok(Stmt::Import(out))
    }

    /// `from m import a [as b], ...` (names optionally in parentheses) after `from`.
    fn import_from(&mut self) -> Result<Stmt, ExprError> {
        let at = self.offset();
        let name = self.module_name()?;
        let module = Module::named(&name).map_err(|e| ExprError::at(at, e.message))?;
        self.expect_kw("import")?;
        if self.is_op("*") {
            return Err(self.error_here(format!(
                "'from {name} import *' is not supported: import the names the script uses"
            )));
        }
        let paren = self.is_op("(");
        if paren {
            self.bump();
        }
        let mut out = Vec::new();
        loop {
            let at = self.offset();
            let member = self.name("a name to import")?;
            module.member(&member).map_err(|e| ExprError::at(at, e.message))?;
            let bound = self.alias(member.clone())?;
            out.push(Import {
                module,
                member: Some(member),
                bound,
            });
            if self.is_op(",") {
                self.bump();
                if paren && self.is_op(")") {
                    break;
                }
            } else {
                break;
            }
        }
        if paren {
            self.expect_op(")")?;
        }
        self.expect_end()?;
        Ok(Stmt::Import(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::Dialect;

    fn stmt(src: &str) -> Result<Stmt, ExprError> {
        let mut p = Parser::new(src, Dialect::Python, 100)?;
        let s = p.statement(true)?;
        p.expect_end()?;
        Ok(s)
    }

    #[test]
    fn assignments_take_paths_and_tuples() {
        let s = stmt("a.b += 2").unwrap();
        assert!(
            matches!(s, Stmt::Assign { target: Target::Path(ref p), op: Some(BinOp::Add), .. } if p == &[Seg::Key("a".to_string()), Seg::Key("b".to_string())])
        );
        let s = stmt("x, (y, z) = 1, (2, 3)").unwrap();
        let Stmt::Assign {
            target: Target::Tuple(t),
            value: Expr::List(v),
            op: None,
        } = s
        else {
            panic!("not a tuple assignment: {s:?}")
        };
        assert_eq!((t.len(), v.len()), (2, 2));
        assert!(matches!(t[1], Target::Tuple(_)));
        assert!(stmt("a, b += 1").is_err());
        // not targets: read as expressions
        assert!(matches!(stmt("[x for x in y]").unwrap(), Stmt::Expr(Expr::Comp { .. })));
        assert!(matches!(stmt("1, 2").unwrap(), Stmt::Expr(Expr::List(_))));
        assert!(matches!(stmt("x == 1").unwrap(), Stmt::Expr(Expr::Bin(..))));
    }

    #[test]
    fn imports_name_the_module_they_cannot_load() {
        assert!(matches!(stmt("import time").unwrap(), Stmt::Import(ref i) if i[0].bound == "time"));
        assert!(matches!(stmt("from time import time as now").unwrap(), Stmt::Import(ref i) if i[0].bound == "now"));
        let e = stmt("import os").unwrap_err();
        assert!(e.message.contains("module 'os' cannot be imported"), "{e}");
        let e = stmt("from subprocess import run").unwrap_err();
        assert!(e.message.contains("'subprocess'"), "{e}");
        assert!(stmt("from time import sleep").unwrap_err().message.contains("'sleep'"));
        assert!(stmt("from time import *").is_err());
    }

    #[test]
    fn deeply_nested_targets_are_an_error_not_a_stack_overflow() {
        let src = format!("{}a{} = 1", "(".repeat(50_000), ")".repeat(50_000));
        assert!(stmt(&src).is_err());
    }
}
