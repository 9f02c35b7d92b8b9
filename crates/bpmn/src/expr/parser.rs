//! Pratt parser of the expression language: tokens to an [`Expr`] tree, and a script line's
//! tokens to a statement.

use super::ast::{BinOp, Expr, FPart};
use super::lexer::{tokenize, Spanned, Tok};
use super::limits::{grow_stack, MAX_DEPTH_CEILING};
use super::{Dialect, ExprError};
use serde_json::Value;

mod statements;

/// Parser state. `depth` bounds the height of the tree being built: it counts nested calls of
/// [`Parser::expr`] *and* the operators a left-associative chain (`1 + 1 + ...`) has folded,
/// so neither the parser nor the evaluator, nor dropping the tree, can run out of stack.
pub(crate) struct Parser {
    toks: Vec<Spanned>,
    pos: usize,
    dialect: Dialect,
    depth: usize,
    max_depth: usize,
}

/// FEEL words that end a name with spaces (`order total` is one name, `x and y` is not).
const FEEL_KEYWORDS: &[&str] = &[
    "and",
    "or",
    "not",
    "in",
    "satisfies",
    "return",
    "then",
    "else",
    "if",
    "for",
    "some",
    "every",
    "between",
    "instance",
    "of",
    "true",
    "false",
    "null",
    "function",
];

impl Parser {
    pub(crate) fn new(src: &str, dialect: Dialect, max_depth: usize) -> Result<Self, ExprError> {
        Ok(Parser {
            toks: tokenize(src)?,
            pos: 0,
            dialect,
            depth: 0,
            max_depth: max_depth.min(MAX_DEPTH_CEILING),
        })
    }

    fn deeper(&mut self) -> Result<(), ExprError> {
        self.depth += 1;
        if self.depth > self.max_depth {
            return Err(ExprError::at(
                self.offset(),
                format!(
                    "expression nested too deeply: over the limit max_depth = {} (parentheses, calls and chained operators count; raise EvalLimits::max_depth if this is intended)",
                    self.max_depth
                ),
            ));
        }
        Ok(())
    }

    fn peek(&self) -> &Tok {
        self.toks.get(self.pos).map(|s| &s.tok).unwrap_or(&Tok::Eof)
    }

    fn peek_at(&self, n: usize) -> &Tok {
        self.toks.get(self.pos + n).map(|s| &s.tok).unwrap_or(&Tok::Eof)
    }

    fn offset(&self) -> usize {
        self.toks.get(self.pos).map(|s| s.offset).unwrap_or(0)
    }

    fn bump(&mut self) -> Tok {
        let t = self.peek().clone();
        if self.pos < self.toks.len() {
            self.pos += 1;
        }
        t
    }

    fn is_op(&self, op: &str) -> bool {
        matches!(self.peek(), Tok::Op(o) if *o == op)
    }

    fn is_kw(&self, kw: &str) -> bool {
        matches!(self.peek(), Tok::Ident(i) if i == kw)
    }

    fn expect_op(&mut self, op: &str) -> Result<(), ExprError> {
        if self.is_op(op) {
            self.bump();
            Ok(())
        } else {
            Err(ExprError::at(
                self.offset(),
                format!("expected '{op}', found {}", describe(self.peek())),
            ))
        }
    }

    fn expect_kw(&mut self, kw: &str) -> Result<(), ExprError> {
        if self.is_kw(kw) {
            self.bump();
            Ok(())
        } else {
            Err(ExprError::at(
                self.offset(),
                format!("expected '{kw}', found {}", describe(self.peek())),
            ))
        }
    }

    pub(crate) fn at_end(&self) -> bool {
        matches!(self.peek(), Tok::Eof)
    }

    pub(crate) fn expect_end(&self) -> Result<(), ExprError> {
        if self.at_end() {
            Ok(())
        } else {
            Err(ExprError::at(
                self.offset(),
                format!("unexpected {} after the end of the expression", describe(self.peek())),
            ))
        }
    }

    /// Parses an expression whose operators bind tighter than `min_bp`.
    pub(crate) fn expr(&mut self, min_bp: u8) -> Result<Expr, ExprError> {
        let entry = self.depth;
        let r = self.deeper().and_then(|()| grow_stack(|| self.expr_inner(min_bp)));
        self.depth = entry;
        r
    }

    fn expr_inner(&mut self, min_bp: u8) -> Result<Expr, ExprError> {
        let mut lhs = self.prefix()?;
        loop {
            // (left binding power, right binding power)
            let (op, lbp): (&str, u8) = match self.peek() {
                Tok::Ident(k) if k == "if" && self.dialect == Dialect::Python => ("if", 1),
                Tok::Ident(k) if k == "or" => ("or", 2),
                Tok::Op("||") => ("or", 2),
                Tok::Ident(k) if k == "and" => ("and", 3),
                Tok::Op("&&") => ("and", 3),
                Tok::Ident(k) if k == "in" => ("in", 5),
                Tok::Ident(k) if k == "not" && matches!(self.peek_at(1), Tok::Ident(n) if n == "in") => ("not in", 5),
                Tok::Ident(k) if k == "is" => ("is", 5),
                Tok::Op("==") => ("==", 5),
                Tok::Op("=") if self.dialect == Dialect::Feel => ("==", 5),
                Tok::Op("!=") => ("!=", 5),
                Tok::Op("<") => ("<", 5),
                Tok::Op("<=") => ("<=", 5),
                Tok::Op(">") => (">", 5),
                Tok::Op(">=") => (">=", 5),
                Tok::Op("+") => ("+", 6),
                Tok::Op("-") => ("-", 6),
                Tok::Op("*") => ("*", 7),
                Tok::Op("/") => ("/", 7),
                Tok::Op("//") => ("//", 7),
                Tok::Op("%") => ("%", 7),
                Tok::Op("**") => ("**", 9),
                Tok::Op("(") | Tok::Op("[") | Tok::Op(".") => ("postfix", 10),
                _ => break,
            };
            if lbp < min_bp {
                break;
            }
            // each operator folded into `lhs` makes the tree one level taller
            self.deeper()?;
            if op == "postfix" {
                lhs = self.postfix(lhs)?;
                continue;
            }
            self.bump();
            lhs = match op {
                "if" => {
                    let cond = self.expr(2)?;
                    self.expect_kw("else")?;
                    let otherwise = self.expr(1)?;
                    Expr::IfElse {
                        cond: Box::new(cond),
                        then: Box::new(lhs),
                        otherwise: Box::new(otherwise),
                    }
                }
                "or" => Expr::Or(Box::new(lhs), Box::new(self.expr(3)?)),
                "and" => Expr::And(Box::new(lhs), Box::new(self.expr(4)?)),
                "not in" => {
                    self.bump();
                    Expr::Bin(BinOp::NotIn, Box::new(lhs), Box::new(self.expr(6)?))
                }
                "is" => {
                    let negate = if self.is_kw("not") {
                        self.bump();
                        true
                    } else {
                        false
                    };
                    let rhs = self.expr(6)?;
                    let op = if negate { BinOp::Ne } else { BinOp::Eq };
                    Expr::Bin(op, Box::new(lhs), Box::new(rhs))
                }
                "**" => Expr::Bin(BinOp::Pow, Box::new(lhs), Box::new(self.expr(9)?)),
                other => {
                    let (bop, rbp) = match other {
                        "in" => (BinOp::In, 6),
                        "==" => (BinOp::Eq, 6),
                        "!=" => (BinOp::Ne, 6),
                        "<" => (BinOp::Lt, 6),
                        "<=" => (BinOp::Le, 6),
                        ">" => (BinOp::Gt, 6),
                        ">=" => (BinOp::Ge, 6),
                        "+" => (BinOp::Add, 7),
                        "-" => (BinOp::Sub, 7),
                        "*" => (BinOp::Mul, 8),
                        "/" => (BinOp::Div, 8),
                        "//" => (BinOp::FloorDiv, 8),
                        _ => (BinOp::Mod, 8),
                    };
                    Expr::Bin(bop, Box::new(lhs), Box::new(self.expr(rbp)?))
                }
            };
        }
        Ok(lhs)
    }

    fn postfix(&mut self, lhs: Expr) -> Result<Expr, ExprError> {
        match self.bump() {
            Tok::Op(".") => {
                let name = match self.bump() {
                    Tok::Ident(n) => n,
                    other => {
                        return Err(ExprError::at(
                            self.offset(),
                            format!("expected a name after '.', found {}", describe(&other)),
                        ))
                    }
                };
                if self.is_op("(") {
                    self.bump();
                    let args = self.args(")")?;
                    Ok(Expr::Method(Box::new(lhs), name, args))
                } else {
                    Ok(Expr::Attr(Box::new(lhs), name))
                }
            }
            Tok::Op("[") => {
                let idx = self.expr(0)?;
                self.expect_op("]")?;
                Ok(Expr::Index(Box::new(lhs), Box::new(idx)))
            }
            Tok::Op("(") => {
                let args = self.args(")")?;
                match lhs {
                    Expr::Var(name) => Ok(Expr::Call(name, args)),
                    _ => Err(ExprError::at(
                        self.offset(),
                        "only named functions can be called".to_string(),
                    )),
                }
            }
            other => Err(ExprError::at(self.offset(), format!("unexpected {}", describe(&other)))),
        }
    }

    fn args(&mut self, close: &str) -> Result<Vec<Expr>, ExprError> {
        let mut args = Vec::new();
        while !self.is_op(close) {
            if let (Tok::Ident(name), Tok::Op("=")) = (self.peek().clone(), self.peek_at(1).clone()) {
                self.bump();
                self.bump();
                args.push(Expr::Kw(name, Box::new(self.expr(0)?)));
            } else {
                args.push(self.expr(0)?);
            }
            if self.is_op(",") {
                self.bump();
            } else {
                break;
            }
        }
        self.expect_op(close)?;
        Ok(args)
    }

    fn prefix(&mut self) -> Result<Expr, ExprError> {
        let offset = self.offset();
        match self.bump() {
            Tok::Int(i) => Ok(Expr::Lit(Value::from(i))),
            Tok::Float(f) => Ok(Expr::Lit(
                serde_json::Number::from_f64(f)
                    .map(Value::Number)
                    .unwrap_or(Value::Null),
            )),
            Tok::Str(s) => Ok(Expr::Lit(Value::String(s))),
            Tok::FStr(raw) => self.fstring(&raw, offset),
            Tok::Op("-") => Ok(Expr::Neg(Box::new(self.expr(8)?))),
            Tok::Op("+") => self.expr(8),
            Tok::Op("!") => Ok(Expr::Not(Box::new(self.expr(4)?))),
            Tok::Op("(") => {
                let e = self.expr(0)?;
                if self.is_op(",") {
                    // tuple: treat as a list
                    let mut items = vec![e];
                    while self.is_op(",") {
                        self.bump();
                        if self.is_op(")") {
                            break;
                        }
                        items.push(self.expr(0)?);
                    }
                    self.expect_op(")")?;
                    return Ok(Expr::List(items));
                }
                self.expect_op(")")?;
                Ok(e)
            }
            Tok::Op("[") => {
                if self.is_op("]") {
                    self.bump();
                    return Ok(Expr::List(Vec::new()));
                }
                let first = self.expr(0)?;
                if self.is_op("..") {
                    self.bump();
                    let end = self.expr(0)?;
                    self.expect_op("]")?;
                    return Ok(Expr::Range {
                        start: Box::new(first),
                        end: Box::new(end),
                    });
                }
                if self.is_kw("for") {
                    self.bump();
                    let var = match self.bump() {
                        Tok::Ident(n) => n,
                        other => {
                            return Err(ExprError::at(
                                self.offset(),
                                format!("expected a loop variable after 'for', found {}", describe(&other)),
                            ))
                        }
                    };
                    self.expect_kw("in")?;
                    // parse above the `if` ternary and `in` operator so `if` filters stay ours
                    let iter = self.expr(6)?;
                    let cond = if self.is_kw("if") {
                        self.bump();
                        Some(Box::new(self.expr(2)?))
                    } else {
                        None
                    };
                    self.expect_op("]")?;
                    return Ok(Expr::Comp {
                        elem: Box::new(first),
                        var,
                        iter: Box::new(iter),
                        cond,
                    });
                }
                let mut items = vec![first];
                while self.is_op(",") {
                    self.bump();
                    if self.is_op("]") {
                        break;
                    }
                    items.push(self.expr(0)?);
                }
                self.expect_op("]")?;
                Ok(Expr::List(items))
            }
            Tok::Op("{") => {
                let mut entries = Vec::new();
                while !self.is_op("}") {
                    let key = match self.peek().clone() {
                        // FEEL contexts use bare names as keys
                        Tok::Ident(n) if self.dialect == Dialect::Feel && matches!(self.peek_at(1), Tok::Op(":")) => {
                            self.bump();
                            Expr::Lit(Value::String(n))
                        }
                        _ => self.expr(0)?,
                    };
                    self.expect_op(":")?;
                    let value = self.expr(0)?;
                    entries.push((key, value));
                    if self.is_op(",") {
                        self.bump();
                    } else {
                        break;
                    }
                }
                self.expect_op("}")?;
                Ok(Expr::Dict(entries))
            }
            Tok::Ident(name) => match name.as_str() {
                "True" | "true" => Ok(Expr::Lit(Value::Bool(true))),
                "False" | "false" => Ok(Expr::Lit(Value::Bool(false))),
                "None" | "null" => Ok(Expr::Lit(Value::Null)),
                "not" => {
                    if self.dialect == Dialect::Feel && self.is_op("(") {
                        self.bump();
                        let e = self.expr(0)?;
                        self.expect_op(")")?;
                        return Ok(Expr::Not(Box::new(e)));
                    }
                    Ok(Expr::Not(Box::new(self.expr(4)?)))
                }
                "some" | "every" | "for" if self.dialect == Dialect::Feel && matches!(self.peek(), Tok::Ident(_)) => {
                    self.feel_iteration(&name)
                }
                "if" if self.dialect == Dialect::Feel => {
                    let cond = self.expr(0)?;
                    self.expect_kw("then")?;
                    let then = self.expr(0)?;
                    self.expect_kw("else")?;
                    let otherwise = self.expr(0)?;
                    Ok(Expr::IfElse {
                        cond: Box::new(cond),
                        then: Box::new(then),
                        otherwise: Box::new(otherwise),
                    })
                }
                _ if self.dialect == Dialect::Feel => Ok(Expr::Var(self.feel_name(name))),
                _ => Ok(Expr::Var(name)),
            },
            other => Err(ExprError::at(offset, format!("unexpected {}", describe(&other)))),
        }
    }
}

impl Parser {
    /// A FEEL name may contain spaces: the words that follow it (up to an operator or a
    /// keyword) are part of it, so `order total > 10` reads the variable `order total` and
    /// `string length(s)` calls `string length`.
    fn feel_name(&mut self, first: String) -> String {
        let mut name = first;
        while let Tok::Ident(w) = self.peek() {
            if FEEL_KEYWORDS.contains(&w.as_str()) {
                break;
            }
            name.push(' ');
            name.push_str(w);
            self.bump();
        }
        name
    }

    /// FEEL `some|every v in xs satisfies cond` and `for v in xs return expr`.
    fn feel_iteration(&mut self, word: &str) -> Result<Expr, ExprError> {
        let var = match self.bump() {
            Tok::Ident(v) => v,
            other => {
                return Err(ExprError::at(
                    self.offset(),
                    format!("expected a name after '{word}', found {}", describe(&other)),
                ))
            }
        };
        self.expect_kw("in")?;
        let iter = Box::new(self.expr(6)?);
        if word == "for" {
            self.expect_kw("return")?;
            return Ok(Expr::Comp {
                elem: Box::new(self.expr(0)?),
                var,
                iter,
                cond: None,
            });
        }
        self.expect_kw("satisfies")?;
        Ok(Expr::Quantified {
            every: word == "every",
            var,
            iter,
            cond: Box::new(self.expr(0)?),
        })
    }

    fn fstring(&self, raw: &str, offset: usize) -> Result<Expr, ExprError> {
        let chars: Vec<char> = raw.chars().collect();
        let mut parts = Vec::new();
        let mut lit = String::new();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if c == '{' && chars.get(i + 1) == Some(&'{') {
                lit.push('{');
                i += 2;
                continue;
            }
            if c == '}' && chars.get(i + 1) == Some(&'}') {
                lit.push('}');
                i += 2;
                continue;
            }
            if c == '{' {
                let mut depth = 0;
                let mut j = i + 1;
                let mut quote: Option<char> = None;
                while j < chars.len() {
                    let d = chars[j];
                    match quote {
                        Some(q) if d == q => quote = None,
                        Some(_) => {}
                        None if d == '\'' || d == '"' => quote = Some(d),
                        None if d == '(' || d == '[' || d == '{' => depth += 1,
                        None if (d == ')' || d == ']' || d == '}') && depth > 0 => depth -= 1,
                        None if d == '}' => break,
                        None => {}
                    }
                    j += 1;
                }
                if j >= chars.len() {
                    return Err(ExprError::at(offset, "f-string: '{' was never closed".to_string()));
                }
                let inner: String = chars[i + 1..j].iter().collect();
                let (text, spec) = split_spec(&inner);
                let mut p = Parser::new(text, self.dialect, self.max_depth)?;
                p.depth = self.depth + 1;
                let e = p.expr(0)?;
                p.expect_end()?;
                if !lit.is_empty() {
                    parts.push(FPart::Lit(std::mem::take(&mut lit)));
                }
                parts.push(FPart::Expr(e, spec));
                i = j + 1;
                continue;
            }
            lit.push(c);
            i += 1;
        }
        if !lit.is_empty() {
            parts.push(FPart::Lit(lit));
        }
        Ok(Expr::FString(parts))
    }
}

/// Splits `expr:spec` at the first top-level ':' (outside brackets and quotes).
fn split_spec(inner: &str) -> (&str, Option<String>) {
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    for (i, c) in inner.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => quote = Some(c),
            None if c == '(' || c == '[' || c == '{' => depth += 1,
            None if c == ')' || c == ']' || c == '}' => depth -= 1,
            None if c == ':' && depth == 0 => return (&inner[..i], Some(inner[i + 1..].to_string())),
            None => {}
        }
    }
    (inner, None)
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Int(i) => format!("number {i}"),
        Tok::Float(f) => format!("number {f}"),
        Tok::Str(s) => format!("string '{s}'"),
        Tok::FStr(s) => format!("f-string '{s}'"),
        Tok::Ident(i) => format!("'{i}'"),
        Tok::Op(o) => format!("'{o}'"),
        Tok::Eof => "end of input".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(src: &str) -> Expr {
        let mut p = Parser::new(src, Dialect::Python, 100).unwrap();
        let e = p.expr(0).unwrap();
        p.expect_end().unwrap();
        e
    }

    #[test]
    fn precedence_of_arithmetic_and_comparison() {
        let e = parse("1 + 2 * 3 > 4 and not x");
        match e {
            Expr::And(l, r) => {
                assert!(matches!(*l, Expr::Bin(BinOp::Gt, _, _)));
                assert!(matches!(*r, Expr::Not(_)));
            }
            other => panic!("unexpected tree {other:?}"),
        }
    }

    #[test]
    fn list_comprehension_parses() {
        assert!(matches!(parse("[v + 1 for v in xs if v > 0]"), Expr::Comp { .. }));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let src = "(".repeat(10_000);
        let mut p = Parser::new(&src, Dialect::Python, 100).unwrap();
        assert!(p.expr(0).is_err());
    }
}
