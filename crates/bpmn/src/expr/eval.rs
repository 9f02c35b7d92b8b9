//! Evaluator of expressions over `serde_json::Value` variables, within an [`EvalLimits`]
//! budget: every node takes a step, every value built or copied is charged before it is
//! allocated, and the recursion is bounded by the parser's depth limit (checked again here).
//!
//! [`EvalLimits`]: super::EvalLimits

use super::ast::{BinOp, Expr, FPart};
use super::builtins::{call, call_kw, format_spec, method, truthy};
use super::calls::{call_bound, Calls};
use super::limits::{exceeded, grow_stack, measure, Budget, MAP, SLOT};
use super::ops::{as_i64, binary, char_at, compare, equal, index_ref, negate, type_name};
use super::{Dialect, ExprError};
use serde_json::{Map, Value};
use std::borrow::Cow;

/// Variables visible to an evaluation: layers of variables (the first that has a name wins)
/// plus comprehension locals, and the budget the evaluation runs within.
pub(crate) struct Env<'a, 'b> {
    pub layers: &'a [&'a Map<String, Value>],
    pub locals: Vec<(String, Value)>,
    pub dialect: Dialect,
    pub budget: &'b mut Budget,
    /// Current recursion depth of the evaluator.
    pub depth: usize,
    /// The functions, modules and registered functions calls can reach.
    pub calls: Calls<'a>,
}

/// Looks `name` up in the comprehension locals, then the layers, borrowing it.
fn lookup_ref<'v>(
    locals: &'v [(String, Value)],
    layers: &'v [&'v Map<String, Value>],
    name: &str,
    dialect: Dialect,
) -> Result<Cow<'v, Value>, ExprError> {
    if let Some((_, v)) = locals.iter().rev().find(|(n, _)| n == name) {
        return Ok(Cow::Borrowed(v));
    }
    match layers.iter().find_map(|l| l.get(name)) {
        Some(v) => Ok(Cow::Borrowed(v)),
        None if dialect != Dialect::Python => Ok(Cow::Owned(Value::Null)),
        None => Err(ExprError::new(format!("name '{name}' is not defined"))),
    }
}

/// One step of a variable path: `.name` or `[index]` (the index already evaluated).
enum Step<'e> {
    Field(&'e str),
    Index(Value),
}

/// Field `name` of a value, with FEEL's rules: a missing field or a null base is null, and a
/// path over a list maps over its items.
fn field<'v>(
    base: Cow<'v, Value>,
    name: &str,
    dialect: Dialect,
    budget: &mut Budget,
) -> Result<Cow<'v, Value>, ExprError> {
    let feel = dialect == Dialect::Feel;
    match base {
        Cow::Borrowed(Value::Object(o)) => match o.get(name) {
            Some(v) => Ok(Cow::Borrowed(v)),
            None if feel => Ok(Cow::Owned(Value::Null)),
            None => Err(ExprError::new(format!("object has no field '{name}'"))),
        },
        Cow::Owned(Value::Object(mut o)) => match o.remove(name) {
            Some(v) => Ok(Cow::Owned(v)),
            None if feel => Ok(Cow::Owned(Value::Null)),
            None => Err(ExprError::new(format!("object has no field '{name}'"))),
        },
        b if feel && b.is_null() => Ok(Cow::Owned(Value::Null)),
        b if feel && b.is_array() => {
            let Value::Array(items) = b.as_ref() else {
                unreachable!("checked above")
            };
            budget.collection(items.len() as u64)?;
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                let v = field(Cow::Borrowed(item), name, dialect, budget)?;
                budget.copy(&v)?;
                out.push(v.into_owned());
            }
            Ok(Cow::Owned(Value::Array(out)))
        }
        other => Err(ExprError::new(format!(
            "cannot read field '{name}' of a {}",
            type_name(&other)
        ))),
    }
}

/// `base[i]`: a list item, an object key, or a string's character.
fn item<'v>(
    base: Cow<'v, Value>,
    i: &Value,
    dialect: Dialect,
    budget: &mut Budget,
) -> Result<Cow<'v, Value>, ExprError> {
    if let Value::String(s) = base.as_ref() {
        return char_at(s, i, budget).map(Cow::Owned);
    }
    match base {
        Cow::Borrowed(b) => index_ref(b, i, dialect).map(Cow::Borrowed),
        Cow::Owned(b) => index_ref(&b, i, dialect).map(|v| Cow::Owned(v.clone())),
    }
}

pub(crate) fn eval(e: &Expr, env: &mut Env<'_, '_>) -> Result<Value, ExprError> {
    env.budget.steps(1)?;
    // the parser bounds a tree's height; this guards trees built some other way
    if env.depth > env.budget.limits.max_depth.saturating_mul(4) {
        return Err(exceeded(
            "max_depth",
            env.budget.limits.max_depth,
            "the expression is nested too deeply",
        ));
    }
    env.depth += 1;
    let r = grow_stack(|| eval_node(e, env));
    env.depth -= 1;
    r
}

/// True for a variable path: `a`, `a.b`, `a[i]['k']`.
fn is_variable_path(mut e: &Expr) -> bool {
    loop {
        match e {
            Expr::Var(_) => return true,
            Expr::Attr(b, _) | Expr::Index(b, _) => e = b,
            _ => return false,
        }
    }
}

/// A variable path (see [`is_variable_path`]) read without copying what it passes through.
fn read_path(e: &Expr, env: &mut Env<'_, '_>) -> Result<Value, ExprError> {
    let mut steps = Vec::new();
    let mut cur = e;
    let name = loop {
        match cur {
            Expr::Var(n) => break n,
            Expr::Attr(b, n) => {
                steps.push((Some(n.as_str()), None));
                cur = b;
            }
            Expr::Index(b, i) => {
                steps.push((None, Some(&**i)));
                cur = b;
            }
            _ => return Err(ExprError::new("not a variable path".to_string())),
        }
    };
    let mut path = Vec::with_capacity(steps.len());
    for (f, i) in steps.into_iter().rev() {
        path.push(match (f, i) {
            (Some(f), _) => Step::Field(f),
            (None, Some(i)) => Step::Index(eval(i, env)?),
            (None, None) => unreachable!("a step is a field or an index"),
        });
    }
    let mut v = lookup_ref(&env.locals, env.layers, name, env.dialect)?;
    for step in &path {
        v = match step {
            Step::Field(f) => field(v, f, env.dialect, env.budget)?,
            Step::Index(i) => item(v, i, env.dialect, env.budget)?,
        };
    }
    env.budget.copy(&v)?;
    Ok(v.into_owned())
}

/// The variables in scope as one object (Python's `vars()` / `globals()`).
fn scope_object(env: &mut Env<'_, '_>) -> Result<Value, ExprError> {
    let mut m = Map::new();
    for layer in env.layers.iter().rev() {
        for (k, v) in layer.iter() {
            env.budget.copy(v)?;
            m.insert(k.clone(), v.clone());
        }
    }
    for (k, v) in &env.locals {
        env.budget.copy(v)?;
        m.insert(k.clone(), v.clone());
    }
    env.budget.collection(m.len() as u64)?;
    env.budget.alloc(MAP)?;
    Ok(Value::Object(m))
}

/// Checks a list or object about to be built from `items` is within the size and depth limits.
fn check_container<'v>(items: impl Iterator<Item = &'v Value>, budget: &mut Budget) -> Result<(), ExprError> {
    let mut len = 0u64;
    let mut depth = 0;
    for v in items {
        len += 1;
        let m = measure(v);
        budget.steps(m.nodes)?;
        depth = depth.max(m.depth);
    }
    budget.collection(len)?;
    budget.depth(depth + 1)
}

/// FEEL's three-valued logic: a non-boolean operand counts as null.
fn feel_bool(v: &Value) -> Option<bool> {
    v.as_bool()
}

fn eval_node(e: &Expr, env: &mut Env<'_, '_>) -> Result<Value, ExprError> {
    let feel = env.dialect == Dialect::Feel;
    match e {
        Expr::Lit(v) => Ok(v.clone()),
        Expr::Var(name) if env.calls.binding(name).is_some() && !is_variable(name, env) => Err(ExprError::new(
            format!("'{name}' is a function or module, not a value: call it"),
        )),
        Expr::Var(_) | Expr::Attr(..) | Expr::Index(..) if !feel && is_variable_path(e) => read_path(e, env),
        Expr::Var(name) => {
            let v = lookup_ref(&env.locals, env.layers, name, env.dialect)?;
            env.budget.copy(&v)?;
            Ok(v.into_owned())
        }
        Expr::Attr(base, name) => {
            let b = eval(base, env)?;
            field(Cow::Owned(b), name, env.dialect, env.budget).map(Cow::into_owned)
        }
        Expr::Index(base, idx) => {
            let b = eval(base, env)?;
            feel_index(b, idx, env)
        }
        Expr::Neg(inner) => {
            let v = eval(inner, env)?;
            match negate(&v) {
                Err(_) if feel && !v.is_number() => Ok(Value::Null),
                r => r,
            }
        }
        Expr::Not(inner) => {
            let v = eval(inner, env)?;
            if feel {
                return Ok(feel_bool(&v).map_or(Value::Null, |b| Value::Bool(!b)));
            }
            Ok(Value::Bool(!truthy(&v)))
        }
        Expr::And(l, r) | Expr::Or(l, r) => {
            let is_and = matches!(e, Expr::And(..));
            let lv = eval(l, env)?;
            if feel {
                // FEEL: false and x = false, true or x = true, else null unless both are booleans
                let a = feel_bool(&lv);
                if a == Some(!is_and) {
                    return Ok(Value::Bool(!is_and));
                }
                let b = feel_bool(&eval(r, env)?);
                return Ok(match (a, b) {
                    (_, Some(b)) if b != is_and => Value::Bool(!is_and),
                    (Some(_), Some(_)) => Value::Bool(is_and),
                    _ => Value::Null,
                });
            }
            if truthy(&lv) != is_and {
                return Ok(lv);
            }
            eval(r, env)
        }
        Expr::Bin(op @ (BinOp::In | BinOp::NotIn), l, r) if matches!(**r, Expr::Range { .. }) => {
            // membership in a range is a comparison with its ends, whatever its size
            let Expr::Range { start, end } = &**r else {
                unreachable!("matched above")
            };
            let (x, a, b) = (eval(l, env)?, eval(start, env)?, eval(end, env)?);
            let within = match (compare(&a, &x), compare(&x, &b)) {
                (Ok(lo), Ok(hi)) => lo.is_le() && hi.is_le(),
                _ if feel => return Ok(Value::Null),
                (Err(e), _) | (_, Err(e)) => return Err(e),
            };
            Ok(Value::Bool(within == (*op == BinOp::In)))
        }
        Expr::Bin(op, l, r) => {
            let lv = eval(l, env)?;
            let rv = eval(r, env)?;
            if feel {
                return feel_binary(*op, &lv, &rv, env);
            }
            binary(*op, &lv, &rv, env.dialect, env.budget)
        }
        Expr::IfElse { cond, then, otherwise } => {
            let c = eval(cond, env)?;
            // FEEL: only `true` takes the then branch
            let take = if feel { c == Value::Bool(true) } else { truthy(&c) };
            eval(if take { then } else { otherwise }, env)
        }
        Expr::List(items) => {
            let vals = items.iter().map(|i| eval(i, env)).collect::<Result<Vec<_>, _>>()?;
            check_container(vals.iter(), env.budget)?;
            Ok(Value::Array(vals))
        }
        Expr::Dict(entries) => {
            let mut m = Map::new();
            let bound = env.locals.len();
            let r = (|| {
                for (k, v) in entries {
                    let key = match eval(k, env)? {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    let value = eval(v, env)?;
                    if feel {
                        // a FEEL context entry sees the entries before it: {a: 1, b: a + 1}
                        env.locals.push((key.clone(), value.clone()));
                    }
                    m.insert(key, value);
                }
                Ok(())
            })();
            env.locals.truncate(bound);
            r?;
            check_container(m.values(), env.budget)?;
            env.budget.alloc(MAP)?;
            Ok(Value::Object(m))
        }
        Expr::Range { start, end } => {
            // a FEEL range literal, used as a list of whole numbers
            let (a, b) = (eval(start, env)?, eval(end, env)?);
            let (Some(a), Some(b)) = (as_i64(&a), as_i64(&b)) else {
                return Ok(Value::Null);
            };
            let args = if a <= b {
                [
                    Value::from(a),
                    b.checked_add(1).map_or(Value::Null, Value::from),
                    Value::from(1),
                ]
            } else {
                [
                    Value::from(a),
                    b.checked_sub(1).map_or(Value::Null, Value::from),
                    Value::from(-1),
                ]
            };
            call("range", &args, Dialect::Python, env.budget)
        }
        Expr::Comp { elem, var, iter, cond } => {
            let items = iteration_items(eval(iter, env)?, env.budget)?;
            let mut out = Vec::with_capacity(items.len());
            let mut depth = 0;
            for item in items {
                env.budget.steps(1)?;
                env.locals.push((var.clone(), item));
                let r = comp_item(elem, cond.as_deref(), env);
                env.locals.pop();
                if let Some(v) = r? {
                    env.budget.grow_collection(out.len() as u64, 1)?;
                    let m = measure(&v);
                    env.budget.steps(m.nodes)?;
                    depth = depth.max(m.depth);
                    env.budget.depth(depth + 1)?;
                    out.push(v);
                }
            }
            Ok(Value::Array(out))
        }
        Expr::Quantified { every, var, iter, cond } => {
            let items = match eval(iter, env)? {
                Value::Null => return Ok(Value::Null),
                v => iteration_items(v, env.budget)?,
            };
            let mut unknown = false;
            for item in items {
                env.budget.steps(1)?;
                env.locals.push((var.clone(), item));
                let r = eval(cond, env);
                env.locals.pop();
                match feel_bool(&r?) {
                    Some(b) if b != *every => return Ok(Value::Bool(b)),
                    Some(_) => {}
                    None => unknown = true,
                }
            }
            Ok(if unknown { Value::Null } else { Value::Bool(*every) })
        }
        Expr::Call(name, args) if args.is_empty() && matches!(name.as_str(), "vars" | "globals" | "locals") => {
            scope_object(env)
        }
        Expr::Call(name, args) => {
            let mut vals = Vec::with_capacity(args.len());
            let mut kwargs = Vec::new();
            for a in args {
                match a {
                    Expr::Kw(k, v) => kwargs.push((k.clone(), eval(v, env)?)),
                    other => vals.push(eval(other, env)?),
                }
            }
            let r = if env.calls.binding(name).is_some() || env.calls.host.contains(name) {
                call_bound(name, vals, kwargs, env)
                    .unwrap_or_else(|| Err(ExprError::new(format!("unknown function '{name}'"))))
            } else if kwargs.is_empty() {
                call(name, &vals, env.dialect, env.budget)
            } else {
                call_kw(name, &vals, &kwargs, env.dialect, env.budget)
            };
            match r {
                // FEEL: a built-in applied to arguments of the wrong type is null
                Err(e) if feel && !is_limit(&e) && !e.message.starts_with("unknown function") => Ok(Value::Null),
                r => r,
            }
        }
        Expr::Kw(name, _) => Err(ExprError::new(format!("keyword argument '{name}=' outside a call"))),
        Expr::FString(parts) => {
            let mut out = String::new();
            for part in parts {
                let piece = match part {
                    FPart::Lit(l) => Cow::Borrowed(l.as_str()),
                    FPart::Expr(e, spec) => {
                        let v = eval(e, env)?;
                        Cow::Owned(format_spec(&v, spec.as_deref(), env.budget)?)
                    }
                };
                env.budget.grow_string(out.len() as u64, piece.len() as u64)?;
                out.push_str(&piece);
            }
            Ok(Value::String(out))
        }
        Expr::Method(base, name, args) if module_of(base, env).is_some() => {
            let module = module_of(base, env).ok_or_else(|| ExprError::new("not a module".to_string()))?;
            let vals = args.iter().map(|a| eval(a, env)).collect::<Result<Vec<_>, _>>()?;
            module.call(name, &vals, env.budget)
        }
        Expr::Method(base, name, args) => {
            let b = eval(base, env)?;
            let vals = args.iter().map(|a| eval(a, env)).collect::<Result<Vec<_>, _>>()?;
            method(&b, name, &vals, env.budget)
        }
    }
}

/// The module `base` names, when it is a name an `import` bound (and no variable shadows).
fn module_of(base: &Expr, env: &Env<'_, '_>) -> Option<super::modules::Module> {
    match base {
        Expr::Var(n) => env.calls.module_named(n),
        _ => None,
    }
}

/// True when `name` is a variable in scope (a comprehension's, or one of the layers').
fn is_variable(name: &str, env: &Env<'_, '_>) -> bool {
    env.locals.iter().any(|(n, _)| n == name) || env.layers.iter().any(|l| l.contains_key(name))
}

/// True for the errors that report a resource limit (never turned into FEEL's null).
pub(crate) fn is_limit(e: &ExprError) -> bool {
    e.message.contains("(raise EvalLimits::")
}

fn comp_item(elem: &Expr, cond: Option<&Expr>, env: &mut Env<'_, '_>) -> Result<Option<Value>, ExprError> {
    if let Some(c) = cond {
        if !truthy(&eval(c, env)?) {
            return Ok(None);
        }
    }
    eval(elem, env).map(Some)
}

/// The items a `for` loop or comprehension walks: a list's items, an object's keys, a
/// string's characters (counted before they are built).
pub(crate) fn iteration_items(v: Value, budget: &mut Budget) -> Result<Vec<Value>, ExprError> {
    match v {
        Value::Array(a) => Ok(a),
        Value::Object(o) => {
            budget.collection(o.len() as u64)?;
            Ok(o.into_iter().map(|(k, _)| Value::String(k)).collect())
        }
        Value::String(s) => {
            let n = s.chars().count() as u64;
            budget.collection(n)?;
            budget.alloc(n * (SLOT + 4))?;
            Ok(s.chars().map(|c| Value::String(c.to_string())).collect())
        }
        other => Err(ExprError::new(format!("cannot iterate over a {}", type_name(&other)))),
    }
}

/// FEEL's `list[i]`: a number picks an item (1-based, null when out of range); anything else
/// filters the list, with `item` (and an object item's fields) in scope.
fn feel_index(base: Value, idx: &Expr, env: &mut Env<'_, '_>) -> Result<Value, ExprError> {
    let i = eval(idx, env)?;
    if env.dialect != Dialect::Feel {
        return item(Cow::Owned(base), &i, env.dialect, env.budget).map(Cow::into_owned);
    }
    match (&base, &i) {
        (Value::Array(_), Value::Number(_)) => Ok(item(Cow::Owned(base), &i, env.dialect, env.budget)
            .map(Cow::into_owned)
            .unwrap_or(Value::Null)),
        (Value::Array(a), _) => {
            let mut out = Vec::new();
            for x in a {
                env.budget.steps(1)?;
                let mut bound = vec![("item".to_string(), x.clone())];
                if let Value::Object(o) = x {
                    bound.extend(o.iter().map(|(k, v)| (k.clone(), v.clone())));
                }
                let n = bound.len();
                env.locals.extend(bound);
                let keep = eval(idx, env);
                env.locals.truncate(env.locals.len() - n);
                if keep? == Value::Bool(true) {
                    out.push(x.clone());
                }
            }
            Ok(Value::Array(out))
        }
        (Value::Object(o), Value::String(k)) => Ok(o.get(k).cloned().unwrap_or(Value::Null)),
        _ => Ok(Value::Null),
    }
}

/// FEEL operators: null propagates, and operands of the wrong type give null, not an error.
fn feel_binary(op: BinOp, l: &Value, r: &Value, env: &mut Env<'_, '_>) -> Result<Value, ExprError> {
    match op {
        BinOp::Eq | BinOp::Ne => {
            let eq = equal(l, r);
            Ok(Value::Bool(if op == BinOp::Eq { eq } else { !eq }))
        }
        BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
            let same_kind = matches!(
                (l, r),
                (Value::Number(_), Value::Number(_)) | (Value::String(_), Value::String(_))
            );
            if !same_kind {
                return Ok(Value::Null);
            }
            let o = compare(l, r)?;
            Ok(Value::Bool(match op {
                BinOp::Lt => o.is_lt(),
                BinOp::Le => o.is_le(),
                BinOp::Gt => o.is_gt(),
                _ => o.is_ge(),
            }))
        }
        _ if l.is_null() || r.is_null() => Ok(Value::Null),
        _ => match binary(op, l, r, Dialect::Feel, env.budget) {
            Err(e) if !is_limit(&e) => Ok(Value::Null),
            r => r,
        },
    }
}
