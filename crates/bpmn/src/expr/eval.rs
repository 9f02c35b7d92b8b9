//! Evaluator of the expression language over `serde_json::Value` variables.

use super::parser::{BinOp, Expr, Stmt};
use super::{Dialect, ExprError};
use serde_json::{Map, Number, Value};

/// Variables visible to an evaluation: layers of variables (the first that has a name wins)
/// plus comprehension locals.
pub(crate) struct Env<'a> {
    pub layers: &'a [&'a Map<String, Value>],
    pub locals: Vec<(String, Value)>,
    pub dialect: Dialect,
    /// Work done so far (nodes evaluated plus sizes of lists and strings built).
    pub cost: u64,
}

/// Work one evaluation may do before it is stopped: expressions never hang.
const COST_LIMIT: u64 = 20_000_000;

/// Longest string an expression may build.
const MAX_STRING: usize = 10_000_000;

impl Env<'_> {
    fn lookup(&self, name: &str) -> Result<Value, ExprError> {
        if let Some((_, v)) = self.locals.iter().rev().find(|(n, _)| n == name) {
            return Ok(v.clone());
        }
        match self.layers.iter().find_map(|l| l.get(name)) {
            Some(v) => Ok(v.clone()),
            None if self.dialect != Dialect::Python => Ok(Value::Null),
            None => Err(ExprError::new(format!("name '{name}' is not defined"))),
        }
    }
}

/// Python truthiness of a value.
pub fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "object",
    }
}

fn num(f: f64) -> Result<Value, ExprError> {
    Number::from_f64(f)
        .map(Value::Number)
        .ok_or_else(|| ExprError::new("arithmetic produced a non-finite number".to_string()))
}

fn as_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        _ => None,
    }
}

fn as_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::Bool(b) => Some(i64::from(*b)),
        _ => None,
    }
}

pub(crate) fn eval(e: &Expr, env: &mut Env<'_>) -> Result<Value, ExprError> {
    env.cost += 1;
    let v = eval_node(e, env)?;
    env.cost += match &v {
        Value::Array(a) => a.len() as u64,
        Value::String(s) => (s.len() / 64) as u64,
        Value::Object(o) => o.len() as u64,
        _ => 0,
    };
    if env.cost > COST_LIMIT {
        return Err(ExprError::new(
            "the expression does too much work (over 20 million steps)".to_string(),
        ));
    }
    Ok(v)
}

fn eval_node(e: &Expr, env: &mut Env<'_>) -> Result<Value, ExprError> {
    match e {
        Expr::Lit(v) => Ok(v.clone()),
        Expr::Var(name) => env.lookup(name),
        Expr::Attr(base, name) => {
            let b = eval(base, env)?;
            match b {
                Value::Object(o) => match o.get(name) {
                    Some(v) => Ok(v.clone()),
                    None if env.dialect == Dialect::Feel => Ok(Value::Null),
                    None => Err(ExprError::new(format!("object has no field '{name}'"))),
                },
                Value::Null if env.dialect == Dialect::Feel => Ok(Value::Null),
                other => Err(ExprError::new(format!(
                    "cannot read field '{name}' of a {}",
                    type_name(&other)
                ))),
            }
        }
        Expr::Index(base, idx) => {
            let b = eval(base, env)?;
            let i = eval(idx, env)?;
            index(&b, &i, env.dialect)
        }
        Expr::Neg(inner) => {
            let v = eval(inner, env)?;
            if let Some(i) = as_i64(&v) {
                if let Some(n) = i.checked_neg() {
                    return Ok(Value::from(n));
                }
            }
            match as_f64(&v) {
                Some(f) => num(-f),
                None => Err(ExprError::new(format!("cannot negate a {}", type_name(&v)))),
            }
        }
        Expr::Not(inner) => Ok(Value::Bool(!truthy(&eval(inner, env)?))),
        Expr::And(l, r) => {
            let lv = eval(l, env)?;
            if !truthy(&lv) {
                return Ok(if env.dialect == Dialect::Feel {
                    Value::Bool(false)
                } else {
                    lv
                });
            }
            let rv = eval(r, env)?;
            Ok(if env.dialect == Dialect::Feel {
                Value::Bool(truthy(&rv))
            } else {
                rv
            })
        }
        Expr::Or(l, r) => {
            let lv = eval(l, env)?;
            if truthy(&lv) {
                return Ok(if env.dialect == Dialect::Feel {
                    Value::Bool(true)
                } else {
                    lv
                });
            }
            let rv = eval(r, env)?;
            Ok(if env.dialect == Dialect::Feel {
                Value::Bool(truthy(&rv))
            } else {
                rv
            })
        }
        Expr::Bin(op, l, r) => {
            let lv = eval(l, env)?;
            let rv = eval(r, env)?;
            binary(*op, &lv, &rv, env.dialect)
        }
        Expr::IfElse { cond, then, otherwise } => {
            if truthy(&eval(cond, env)?) {
                eval(then, env)
            } else {
                eval(otherwise, env)
            }
        }
        Expr::List(items) => Ok(Value::Array(
            items.iter().map(|i| eval(i, env)).collect::<Result<_, _>>()?,
        )),
        Expr::Dict(entries) => {
            let mut m = Map::new();
            for (k, v) in entries {
                let key = match eval(k, env)? {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                m.insert(key, eval(v, env)?);
            }
            Ok(Value::Object(m))
        }
        Expr::Comp { elem, var, iter, cond } => {
            let items = match eval(iter, env)? {
                Value::Array(a) => a,
                Value::Object(o) => o.keys().map(|k| Value::String(k.clone())).collect(),
                Value::String(s) => s.chars().map(|c| Value::String(c.to_string())).collect(),
                other => return Err(ExprError::new(format!("cannot iterate over a {}", type_name(&other)))),
            };
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                env.locals.push((var.clone(), item));
                let keep = match cond {
                    Some(c) => eval(c, env).map(|v| truthy(&v)),
                    None => Ok(true),
                };
                let r = match keep {
                    Ok(true) => eval(elem, env).map(Some),
                    Ok(false) => Ok(None),
                    Err(e) => Err(e),
                };
                env.locals.pop();
                if let Some(v) = r? {
                    out.push(v);
                }
            }
            Ok(Value::Array(out))
        }
        Expr::Call(name, args) => {
            let vals = args.iter().map(|a| eval(a, env)).collect::<Result<Vec<_>, _>>()?;
            call(name, &vals)
        }
        Expr::Method(base, name, args) => {
            let b = eval(base, env)?;
            let vals = args.iter().map(|a| eval(a, env)).collect::<Result<Vec<_>, _>>()?;
            method(&b, name, &vals)
        }
    }
}

fn index(b: &Value, i: &Value, dialect: Dialect) -> Result<Value, ExprError> {
    match (b, i) {
        (Value::Array(a), _) => {
            let Some(mut n) = as_i64(i) else {
                return Err(ExprError::new(format!(
                    "list index must be a number, not a {}",
                    type_name(i)
                )));
            };
            // FEEL lists are 1-based; Python lists are 0-based with negative indexes from the end
            if dialect == Dialect::Feel && n > 0 {
                n -= 1;
            }
            let len = a.len() as i64;
            let idx = if n < 0 { len + n } else { n };
            if idx < 0 || idx >= len {
                return Err(ExprError::new(format!("list index {n} out of range (length {len})")));
            }
            Ok(a[idx as usize].clone())
        }
        (Value::Object(o), Value::String(k)) => match o.get(k) {
            Some(v) => Ok(v.clone()),
            None => Err(ExprError::new(format!("key '{k}' not found"))),
        },
        (Value::String(s), _) => {
            let Some(n) = as_i64(i) else {
                return Err(ExprError::new("string index must be a number".to_string()));
            };
            let chars: Vec<char> = s.chars().collect();
            let len = chars.len() as i64;
            let idx = if n < 0 { len + n } else { n };
            if idx < 0 || idx >= len {
                return Err(ExprError::new(format!("string index {n} out of range")));
            }
            Ok(Value::String(chars[idx as usize].to_string()))
        }
        _ => Err(ExprError::new(format!(
            "cannot index a {} with a {}",
            type_name(b),
            type_name(i)
        ))),
    }
}

fn compare(l: &Value, r: &Value) -> Result<std::cmp::Ordering, ExprError> {
    match (l, r) {
        (Value::String(a), Value::String(b)) => Ok(a.cmp(b)),
        (Value::Array(a), Value::Array(b)) => {
            for (x, y) in a.iter().zip(b.iter()) {
                let o = compare(x, y)?;
                if o != std::cmp::Ordering::Equal {
                    return Ok(o);
                }
            }
            Ok(a.len().cmp(&b.len()))
        }
        _ => match (as_f64(l), as_f64(r)) {
            (Some(a), Some(b)) => a
                .partial_cmp(&b)
                .ok_or_else(|| ExprError::new("cannot compare NaN".to_string())),
            _ => Err(ExprError::new(format!(
                "cannot compare a {} with a {}",
                type_name(l),
                type_name(r)
            ))),
        },
    }
}

/// Equality with numeric coercion between integers and floats.
pub(crate) fn equal(l: &Value, r: &Value) -> bool {
    match (l, r) {
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (Value::Array(a), Value::Array(b)) => a.len() == b.len() && a.iter().zip(b).all(|(x, y)| equal(x, y)),
        _ => l == r,
    }
}

pub(crate) fn binary(op: BinOp, l: &Value, r: &Value, dialect: Dialect) -> Result<Value, ExprError> {
    use std::cmp::Ordering::*;
    match op {
        BinOp::Eq => Ok(Value::Bool(equal(l, r))),
        BinOp::Ne => Ok(Value::Bool(!equal(l, r))),
        BinOp::Lt => Ok(Value::Bool(compare(l, r)? == Less)),
        BinOp::Le => Ok(Value::Bool(compare(l, r)? != Greater)),
        BinOp::Gt => Ok(Value::Bool(compare(l, r)? == Greater)),
        BinOp::Ge => Ok(Value::Bool(compare(l, r)? != Less)),
        BinOp::In | BinOp::NotIn => {
            let found = match r {
                Value::Array(a) => a.iter().any(|x| equal(x, l)),
                Value::Object(o) => match l {
                    Value::String(k) => o.contains_key(k),
                    _ => false,
                },
                Value::String(s) => match l {
                    Value::String(sub) => s.contains(sub.as_str()),
                    _ => {
                        return Err(ExprError::new(format!(
                            "'in <string>' requires a string, not a {}",
                            type_name(l)
                        )))
                    }
                },
                other => {
                    return Err(ExprError::new(format!(
                        "'in' needs a list, object or string, not a {}",
                        type_name(other)
                    )))
                }
            };
            Ok(Value::Bool(if op == BinOp::In { found } else { !found }))
        }
        BinOp::Add => match (l, r) {
            (Value::String(a), Value::String(b)) => Ok(Value::String(format!("{a}{b}"))),
            (Value::String(a), other) | (other, Value::String(a)) if dialect == Dialect::Feel && !other.is_null() => {
                // FEEL string concatenation with a non-string is an error; be explicit
                let _ = a;
                Err(ExprError::new(format!(
                    "cannot add a string and a {}",
                    type_name(other)
                )))
            }
            (Value::Array(a), Value::Array(b)) => Ok(Value::Array(a.iter().chain(b).cloned().collect())),
            _ => arith(op, l, r, dialect),
        },
        _ => arith(op, l, r, dialect),
    }
}

fn arith(op: BinOp, l: &Value, r: &Value, dialect: Dialect) -> Result<Value, ExprError> {
    if let (Value::String(s), Some(n)) = (l, as_i64(r)) {
        if op == BinOp::Mul && r.is_number() {
            let n = n.max(0) as usize;
            if s.len().saturating_mul(n) > MAX_STRING {
                return Err(ExprError::new(format!(
                    "string repetition longer than {MAX_STRING} bytes"
                )));
            }
            return Ok(Value::String(s.repeat(n)));
        }
    }
    let sym = match op {
        BinOp::Add => "+",
        BinOp::Sub => "-",
        BinOp::Mul => "*",
        BinOp::Div => "/",
        BinOp::FloorDiv => "//",
        BinOp::Mod => "%",
        _ => "**",
    };
    let (Some(a), Some(b)) = (as_f64(l), as_f64(r)) else {
        return Err(ExprError::new(format!(
            "unsupported operand types for {sym}: {} and {}",
            type_name(l),
            type_name(r)
        )));
    };
    if let (Some(x), Some(y)) = (as_i64(l), as_i64(r)) {
        let int = match op {
            BinOp::Add => x.checked_add(y),
            BinOp::Sub => x.checked_sub(y),
            BinOp::Mul => x.checked_mul(y),
            BinOp::FloorDiv if y != 0 => Some(x.div_euclid(y) - if (x.rem_euclid(y) != 0) && y < 0 { 1 } else { 0 }),
            BinOp::Mod if y != 0 => Some(((x % y) + y) % y),
            BinOp::Pow if (0..=63).contains(&y) => x.checked_pow(y as u32),
            _ => None,
        };
        if let Some(v) = int {
            return Ok(Value::from(v));
        }
    }
    let v = match op {
        BinOp::Add => a + b,
        BinOp::Sub => a - b,
        BinOp::Mul => a * b,
        BinOp::Div | BinOp::FloorDiv | BinOp::Mod if b == 0.0 => {
            return Err(ExprError::new("division by zero".to_string()))
        }
        BinOp::Div => a / b,
        BinOp::FloorDiv => (a / b).floor(),
        BinOp::Mod => a - b * (a / b).floor(),
        _ => a.powf(b),
    };
    if dialect == Dialect::Feel && v.fract() == 0.0 && v.abs() < 9.0e15 {
        return Ok(Value::from(v as i64));
    }
    num(v)
}

/// Python's `str()` of a value.
pub fn to_display_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "None".to_string(),
        Value::Bool(true) => "True".to_string(),
        Value::Bool(false) => "False".to_string(),
        other => other.to_string(),
    }
}

fn arity(name: &str, args: &[Value], n: usize) -> Result<(), ExprError> {
    if args.len() == n {
        Ok(())
    } else {
        Err(ExprError::new(format!(
            "{name}() takes {n} argument(s), {} given",
            args.len()
        )))
    }
}

fn iterable<'v>(name: &str, args: &'v [Value]) -> Result<std::borrow::Cow<'v, [Value]>, ExprError> {
    match args {
        [Value::Array(a)] => Ok(std::borrow::Cow::Borrowed(a.as_slice())),
        [] => Err(ExprError::new(format!("{name}() needs at least one argument"))),
        [single] if !matches!(single, Value::Array(_)) && name != "min" && name != "max" => Err(ExprError::new(
            format!("{name}() needs a list, not a {}", type_name(single)),
        )),
        many => Ok(std::borrow::Cow::Borrowed(many)),
    }
}

fn call(name: &str, args: &[Value]) -> Result<Value, ExprError> {
    match name {
        "len" | "count" => {
            arity(name, args, 1)?;
            let n = match &args[0] {
                Value::String(s) => s.chars().count(),
                Value::Array(a) => a.len(),
                Value::Object(o) => o.len(),
                other => {
                    return Err(ExprError::new(format!(
                        "{name}() of a {} is undefined",
                        type_name(other)
                    )))
                }
            };
            Ok(Value::from(n as u64))
        }
        "str" | "string" => {
            arity(name, args, 1)?;
            Ok(Value::String(to_display_string(&args[0])))
        }
        "int" => {
            arity(name, args, 1)?;
            match &args[0] {
                Value::String(s) => s
                    .trim()
                    .parse::<i64>()
                    .map(Value::from)
                    .map_err(|_| ExprError::new(format!("invalid literal for int(): '{s}'"))),
                v => as_f64(v)
                    .map(|f| Value::from(f.trunc() as i64))
                    .ok_or_else(|| ExprError::new(format!("int() of a {}", type_name(v)))),
            }
        }
        "float" | "number" => {
            arity(name, args, 1)?;
            match &args[0] {
                Value::String(s) => s
                    .trim()
                    .parse::<f64>()
                    .map_err(|_| ExprError::new(format!("could not convert string to float: '{s}'")))
                    .and_then(num),
                v => as_f64(v)
                    .map(num)
                    .unwrap_or_else(|| Err(ExprError::new(format!("float() of a {}", type_name(v))))),
            }
        }
        "bool" => {
            arity(name, args, 1)?;
            Ok(Value::Bool(truthy(&args[0])))
        }
        "abs" => {
            arity(name, args, 1)?;
            match as_i64(&args[0]) {
                Some(i) if args[0].is_i64() || args[0].is_u64() => Ok(Value::from(i.saturating_abs())),
                _ => as_f64(&args[0])
                    .map(|f| num(f.abs()))
                    .unwrap_or_else(|| Err(ExprError::new("abs() needs a number".to_string()))),
            }
        }
        "round" => {
            let digits = match args {
                [_] => 0,
                [_, d] => as_i64(d).unwrap_or(0).clamp(-15, 15),
                _ => return Err(ExprError::new("round() takes 1 or 2 arguments".to_string())),
            };
            let f = as_f64(&args[0]).ok_or_else(|| ExprError::new("round() needs a number".to_string()))?;
            if digits == 0 {
                Ok(Value::from(f.round_ties_even() as i64))
            } else {
                let p = 10f64.powi(digits as i32);
                num((f * p).round_ties_even() / p)
            }
        }
        "sum" => {
            let items = iterable(name, args)?;
            let mut acc = Value::from(0);
            for v in items.iter() {
                acc = arith(BinOp::Add, &acc, v, Dialect::Python)?;
            }
            Ok(acc)
        }
        "min" | "max" => {
            let items = iterable(name, args)?;
            let mut best: Option<&Value> = None;
            for v in items.iter() {
                best = Some(match best {
                    None => v,
                    Some(b) => {
                        let o = compare(v, b)?;
                        let better = if name == "min" {
                            o == std::cmp::Ordering::Less
                        } else {
                            o == std::cmp::Ordering::Greater
                        };
                        if better {
                            v
                        } else {
                            b
                        }
                    }
                });
            }
            best.cloned()
                .ok_or_else(|| ExprError::new(format!("{name}() of an empty list")))
        }
        "print" => Ok(Value::Null),
        "list" => match args {
            [] => Ok(Value::Array(Vec::new())),
            [Value::Array(a)] => Ok(Value::Array(a.clone())),
            [Value::Object(o)] => Ok(Value::Array(o.keys().map(|k| Value::String(k.clone())).collect())),
            _ => Err(ExprError::new("list() needs a list or an object".to_string())),
        },
        "range" => {
            let (start, stop) = match args {
                [n] => (0, as_i64(n).unwrap_or(0)),
                [a, b] => (as_i64(a).unwrap_or(0), as_i64(b).unwrap_or(0)),
                _ => return Err(ExprError::new("range() takes 1 or 2 arguments".to_string())),
            };
            if stop.saturating_sub(start) > 1_000_000 {
                return Err(ExprError::new("range() too large".to_string()));
            }
            Ok(Value::Array((start..stop).map(Value::from).collect()))
        }
        "is_defined" => {
            arity(name, args, 1)?;
            Ok(Value::Bool(!args[0].is_null()))
        }
        "upper case" | "upper" => {
            arity(name, args, 1)?;
            Ok(Value::String(to_display_string(&args[0]).to_uppercase()))
        }
        "lower" => {
            arity(name, args, 1)?;
            Ok(Value::String(to_display_string(&args[0]).to_lowercase()))
        }
        other => Err(ExprError::new(format!("unknown function '{other}'"))),
    }
}

fn method(base: &Value, name: &str, args: &[Value]) -> Result<Value, ExprError> {
    match (base, name) {
        (Value::Object(o), "get") => match args {
            [Value::String(k)] => Ok(o.get(k).cloned().unwrap_or(Value::Null)),
            [Value::String(k), d] => Ok(o.get(k).cloned().unwrap_or_else(|| d.clone())),
            _ => Err(ExprError::new("get() takes a key and an optional default".to_string())),
        },
        (Value::Object(o), "keys") => Ok(Value::Array(o.keys().map(|k| Value::String(k.clone())).collect())),
        (Value::Object(o), "values") => Ok(Value::Array(o.values().cloned().collect())),
        (Value::String(s), "upper") => Ok(Value::String(s.to_uppercase())),
        (Value::String(s), "lower") => Ok(Value::String(s.to_lowercase())),
        (Value::String(s), "strip") => Ok(Value::String(s.trim().to_string())),
        (Value::String(s), "startswith") => match args {
            [Value::String(p)] => Ok(Value::Bool(s.starts_with(p.as_str()))),
            _ => Err(ExprError::new("startswith() takes a string".to_string())),
        },
        (Value::String(s), "endswith") => match args {
            [Value::String(p)] => Ok(Value::Bool(s.ends_with(p.as_str()))),
            _ => Err(ExprError::new("endswith() takes a string".to_string())),
        },
        _ => Err(ExprError::new(format!("a {} has no method '{name}'", type_name(base)))),
    }
}

/// Runs one statement: reads see `local` then `below`; writes go to `local`.
pub(crate) fn exec(
    stmt: &Stmt,
    local: &mut Map<String, Value>,
    below: &[&Map<String, Value>],
    dialect: Dialect,
) -> Result<(), ExprError> {
    match stmt {
        Stmt::Expr(e) => {
            let layers: Vec<&Map<String, Value>> = std::iter::once(&*local).chain(below.iter().copied()).collect();
            let mut env = Env {
                layers: &layers,
                locals: Vec::new(),
                cost: 0,
                dialect,
            };
            eval(e, &mut env)?;
            Ok(())
        }
        Stmt::Del(names) => {
            for n in names {
                let below_has = below.iter().any(|l| l.contains_key(n));
                if local.remove(n).is_none() && !below_has {
                    return Err(ExprError::new(format!("name '{n}' is not defined")));
                }
            }
            Ok(())
        }
        Stmt::Assign { target, op, value } => {
            let new = {
                let layers: Vec<&Map<String, Value>> = std::iter::once(&*local).chain(below.iter().copied()).collect();
                let mut env = Env {
                    layers: &layers,
                    locals: Vec::new(),
                    cost: 0,
                    dialect,
                };
                let rhs = eval(value, &mut env)?;
                match op {
                    None => rhs,
                    Some(op) => {
                        let current = read_path(&layers, target)?;
                        binary(*op, &current, &rhs, dialect)?
                    }
                }
            };
            if target.len() > 1 && !local.contains_key(&target[0]) {
                // a nested write into a variable of a lower layer starts from a copy of it
                if let Some(v) = below.iter().find_map(|l| l.get(&target[0])) {
                    local.insert(target[0].clone(), v.clone());
                }
            }
            write_path(local, target, new)
        }
    }
}

fn read_path(layers: &[&Map<String, Value>], path: &[String]) -> Result<Value, ExprError> {
    let Some((first, rest)) = path.split_first() else {
        return Err(ExprError::new("empty assignment target".to_string()));
    };
    let mut cur = layers
        .iter()
        .find_map(|l| l.get(first))
        .ok_or_else(|| ExprError::new(format!("name '{first}' is not defined")))?;
    for seg in rest {
        cur = cur
            .get(seg)
            .ok_or_else(|| ExprError::new(format!("field '{seg}' is not defined")))?;
    }
    Ok(cur.clone())
}

fn write_path(vars: &mut Map<String, Value>, path: &[String], value: Value) -> Result<(), ExprError> {
    let Some((first, rest)) = path.split_first() else {
        return Err(ExprError::new("empty assignment target".to_string()));
    };
    if rest.is_empty() {
        vars.insert(first.clone(), value);
        return Ok(());
    }
    let mut cur = vars.entry(first.clone()).or_insert_with(|| Value::Object(Map::new()));
    for (i, seg) in rest.iter().enumerate() {
        let Value::Object(o) = cur else {
            return Err(ExprError::new(format!(
                "cannot set field '{seg}' on a {}",
                type_name(cur)
            )));
        };
        if i + 1 == rest.len() {
            o.insert(seg.clone(), value);
            return Ok(());
        }
        cur = o.entry(seg.clone()).or_insert_with(|| Value::Object(Map::new()));
    }
    Ok(())
}
