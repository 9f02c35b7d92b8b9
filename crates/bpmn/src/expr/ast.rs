//! The syntax tree of the expression language: expressions ([`Expr`]) and script statements
//! ([`Stmt`]), with the read-only walks `validate` asks of them (does an expression read a
//! variable, which functions does it call).

use super::limits::grow_stack;
use serde_json::Value;

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    FloorDiv,
    Mod,
    Pow,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    NotIn,
}

/// Expression tree.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    Lit(Value),
    Var(String),
    Attr(Box<Expr>, String),
    Index(Box<Expr>, Box<Expr>),
    Neg(Box<Expr>),
    Not(Box<Expr>),
    Bin(BinOp, Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Call(String, Vec<Expr>),
    /// A keyword argument `name=value` (only inside call arguments).
    Kw(String, Box<Expr>),
    /// An f-string: literal parts and `{expr}` parts (with an optional format spec).
    FString(Vec<FPart>),
    Method(Box<Expr>, String, Vec<Expr>),
    List(Vec<Expr>),
    Dict(Vec<(Expr, Expr)>),
    Comp {
        elem: Box<Expr>,
        var: String,
        iter: Box<Expr>,
        cond: Option<Box<Expr>>,
    },
    IfElse {
        cond: Box<Expr>,
        then: Box<Expr>,
        otherwise: Box<Expr>,
    },
    /// FEEL range `[start..end]` (both ends included).
    Range {
        start: Box<Expr>,
        end: Box<Expr>,
    },
    /// FEEL `some v in iter satisfies cond` / `every v in iter satisfies cond`.
    Quantified {
        every: bool,
        var: String,
        iter: Box<Expr>,
        cond: Box<Expr>,
    },
}

impl Expr {
    /// True when the expression reads a variable (or the variables in scope): its value then
    /// depends on the run. A tree's height is bounded by the parser, so this recursion is too.
    pub(crate) fn reads_variables(&self) -> bool {
        grow_stack(|| self.reads_variables_here())
    }

    fn reads_variables_here(&self) -> bool {
        let any = |es: &[Expr]| es.iter().any(Expr::reads_variables);
        match self {
            Expr::Lit(_) => false,
            Expr::Var(_) => true,
            Expr::Call(name, args) => matches!(name.as_str(), "vars" | "globals" | "locals") || any(args),
            Expr::Attr(e, _) | Expr::Neg(e) | Expr::Not(e) | Expr::Kw(_, e) => e.reads_variables(),
            Expr::Index(a, b) | Expr::Bin(_, a, b) | Expr::And(a, b) | Expr::Or(a, b) => {
                a.reads_variables() || b.reads_variables()
            }
            Expr::Range { start, end } => start.reads_variables() || end.reads_variables(),
            Expr::Method(base, _, args) => base.reads_variables() || any(args),
            Expr::List(items) => any(items),
            Expr::Dict(entries) => entries.iter().any(|(k, v)| k.reads_variables() || v.reads_variables()),
            Expr::FString(parts) => parts
                .iter()
                .any(|p| matches!(p, FPart::Expr(e, _) if e.reads_variables())),
            Expr::IfElse { cond, then, otherwise } => {
                cond.reads_variables() || then.reads_variables() || otherwise.reads_variables()
            }
            // the loop variable is a read too: conservative, never wrong
            Expr::Comp { .. } | Expr::Quantified { .. } => true,
        }
    }
}

impl Expr {
    /// Calls `f` with the name of every function the expression calls (`len` in `len(xs)`;
    /// not methods), in source order. Bounded like [`Expr::reads_variables`].
    pub(crate) fn calls(&self, f: &mut dyn FnMut(&str)) {
        grow_stack(|| self.calls_here(f))
    }

    fn calls_here(&self, f: &mut dyn FnMut(&str)) {
        match self {
            Expr::Lit(_) | Expr::Var(_) => {}
            Expr::Call(name, args) => {
                f(name);
                args.iter().for_each(|a| a.calls(f));
            }
            Expr::Attr(e, _) | Expr::Neg(e) | Expr::Not(e) | Expr::Kw(_, e) => e.calls(f),
            Expr::Index(a, b) | Expr::Bin(_, a, b) | Expr::And(a, b) | Expr::Or(a, b) => {
                a.calls(f);
                b.calls(f);
            }
            Expr::Range { start, end } => {
                start.calls(f);
                end.calls(f);
            }
            Expr::Method(base, _, args) => {
                base.calls(f);
                args.iter().for_each(|a| a.calls(f));
            }
            Expr::List(items) => items.iter().for_each(|a| a.calls(f)),
            Expr::Dict(entries) => entries.iter().for_each(|(k, v)| {
                k.calls(f);
                v.calls(f);
            }),
            Expr::FString(parts) => parts.iter().for_each(|p| {
                if let FPart::Expr(e, _) = p {
                    e.calls(f);
                }
            }),
            Expr::IfElse { cond, then, otherwise } => {
                cond.calls(f);
                then.calls(f);
                otherwise.calls(f);
            }
            Expr::Comp { elem, iter, cond, .. } => {
                iter.calls(f);
                if let Some(c) = cond {
                    c.calls(f);
                }
                elem.calls(f);
            }
            Expr::Quantified { iter, cond, .. } => {
                iter.calls(f);
                cond.calls(f);
            }
        }
    }
}

/// Calls `f` with the name of every function a block's statements call, in order (a
/// function's own body included).
pub(crate) fn block_calls(block: &Block, f: &mut dyn FnMut(&str)) {
    for (_, stmt) in block {
        match stmt {
            Stmt::Assign { target, value, .. } => {
                target.calls(f);
                value.calls(f);
            }
            Stmt::If { branches, otherwise } => {
                for (cond, body) in branches {
                    cond.calls(f);
                    block_calls(body, f);
                }
                block_calls(otherwise, f);
            }
            Stmt::For { target, iter, body } => {
                target.calls(f);
                iter.calls(f);
                block_calls(body, f);
            }
            Stmt::While { cond, body } => {
                cond.calls(f);
                block_calls(body, f);
            }
            Stmt::Def(def) => {
                def.params
                    .iter()
                    .filter_map(|(_, d)| d.as_ref())
                    .for_each(|d| d.calls(f));
                block_calls(&def.body, f);
            }
            Stmt::Return(Some(e)) | Stmt::Expr(e) => e.calls(f),
            Stmt::Return(None) | Stmt::Pass | Stmt::Break | Stmt::Continue | Stmt::Del(_) | Stmt::Import(_) => {}
        }
    }
}

/// Calls `f` with every name a block binds to a function: `def` names and the names
/// `from module import name` binds (a call of one of them is no unknown function).
pub(crate) fn block_defines(block: &Block, f: &mut dyn FnMut(&str)) {
    for (_, stmt) in block {
        match stmt {
            Stmt::Def(def) => {
                f(&def.name);
                block_defines(&def.body, f);
            }
            Stmt::Import(imports) => imports.iter().for_each(|i| f(&i.bound)),
            Stmt::If { branches, otherwise } => {
                branches.iter().for_each(|(_, b)| block_defines(b, f));
                block_defines(otherwise, f);
            }
            Stmt::For { body, .. } | Stmt::While { body, .. } => block_defines(body, f),
            _ => {}
        }
    }
}

/// A part of an f-string.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum FPart {
    Lit(String),
    Expr(Expr, Option<String>),
}

/// A segment of an assignment target: `.name` / `['key']`, or `[expr]`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Seg {
    Key(String),
    Index(Expr),
}

/// A block of statements, each with its 1-based script line.
pub(crate) type Block = Vec<(usize, Stmt)>;

/// An assignment or loop target: a variable path, or a tuple of targets (`a, (b, c) = ...`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Target {
    Path(Vec<Seg>),
    Tuple(Vec<Target>),
}

impl Target {
    /// Calls `f` with the functions the target's subscripts call (`xs[f(1)] = ...`).
    fn calls(&self, f: &mut dyn FnMut(&str)) {
        match self {
            Target::Path(segs) => segs.iter().for_each(|s| {
                if let Seg::Index(e) = s {
                    e.calls(f);
                }
            }),
            Target::Tuple(items) => items.iter().for_each(|t| t.calls(f)),
        }
    }
}

/// A function a script defines: `def name(a, b=1): body`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FuncDef {
    pub name: String,
    /// Parameters in order, each with its default (evaluated when the `def` runs, as in Python).
    pub params: Vec<(String, Option<Expr>)>,
    pub body: Block,
}

/// One name an `import` binds: `import time` binds `time` to the module, `import time as t`
/// binds `t`, `from time import time` binds `time` to the module's function.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Import {
    pub module: super::modules::Module,
    /// The module's member, for `from module import member`.
    pub member: Option<String>,
    pub bound: String,
}

/// One statement of a script.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Stmt {
    /// `target = value` or `path op= value` (an augmented assignment takes a path only).
    Assign {
        target: Target,
        op: Option<BinOp>,
        value: Expr,
    },
    /// `if c: ... elif c: ... else: ...`
    If {
        branches: Vec<(Expr, Block)>,
        otherwise: Block,
    },
    /// `for target in iterable: ...`
    For { target: Target, iter: Expr, body: Block },
    /// `while c: ...`
    While { cond: Expr, body: Block },
    /// `def name(params): body`
    Def(std::sync::Arc<FuncDef>),
    /// `return [value]` (inside a function's body only).
    Return(Option<Expr>),
    /// `import m [as n], ...` / `from m import a [as b], ...`
    Import(Vec<Import>),
    /// `pass`
    Pass,
    /// `break`
    Break,
    /// `continue`
    Continue,
    /// `del(x)` / `del x`.
    Del(Vec<String>),
    /// A bare expression, evaluated for its effect (e.g. `print(x)`).
    Expr(Expr),
}
