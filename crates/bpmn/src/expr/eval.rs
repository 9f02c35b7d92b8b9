//! Evaluator of the expression language over `serde_json::Value` variables.

use super::parser::{BinOp, Block, Expr, FPart, Seg, Stmt};
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
            let mut vals = Vec::with_capacity(args.len());
            let mut kwargs = Vec::new();
            for a in args {
                match a {
                    Expr::Kw(k, v) => kwargs.push((k.clone(), eval(v, env)?)),
                    other => vals.push(eval(other, env)?),
                }
            }
            if kwargs.is_empty() {
                call(name, &vals)
            } else {
                call_kw(name, &vals, &kwargs)
            }
        }
        Expr::Kw(name, _) => Err(ExprError::new(format!("keyword argument '{name}=' outside a call"))),
        Expr::FString(parts) => {
            let mut out = String::new();
            for part in parts {
                match part {
                    FPart::Lit(l) => out.push_str(l),
                    FPart::Expr(e, spec) => {
                        let v = eval(e, env)?;
                        out.push_str(&format_spec(&v, spec.as_deref()));
                    }
                }
                if out.len() > MAX_STRING {
                    return Err(ExprError::new(format!("f-string longer than {MAX_STRING} bytes")));
                }
            }
            Ok(Value::String(out))
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

/// Formats a value for an f-string; `.Nf` and `d` specs are honoured, others ignored.
fn format_spec(v: &Value, spec: Option<&str>) -> String {
    let Some(spec) = spec else { return to_display_string(v) };
    if let Some(prec) = spec
        .strip_prefix('.')
        .and_then(|r| r.strip_suffix('f'))
        .and_then(|p| p.parse::<usize>().ok())
    {
        if let Some(f) = as_f64(v) {
            return format!("{f:.prec$}", prec = prec.min(30));
        }
    }
    if spec == "d" {
        if let Some(i) = as_i64(v) {
            return i.to_string();
        }
    }
    to_display_string(v)
}

/// Calls with keyword arguments: `timedelta(...)` (an ISO-8601 duration string, usable by
/// timers), `round(x, ndigits=n)`.
fn call_kw(name: &str, args: &[Value], kwargs: &[(String, Value)]) -> Result<Value, ExprError> {
    match name {
        "timedelta" => {
            let mut secs = 0f64;
            let units = [
                "days",
                "seconds",
                "microseconds",
                "milliseconds",
                "minutes",
                "hours",
                "weeks",
            ];
            for (i, a) in args.iter().enumerate() {
                let unit = units
                    .get(i)
                    .ok_or_else(|| ExprError::new("timedelta() takes at most 7 arguments".to_string()))?;
                secs += unit_secs(unit)
                    * as_f64(a).ok_or_else(|| ExprError::new("timedelta() needs numbers".to_string()))?;
            }
            for (k, v) in kwargs {
                if !units.contains(&k.as_str()) {
                    return Err(ExprError::new(format!(
                        "timedelta() got an unexpected keyword argument '{k}'"
                    )));
                }
                secs +=
                    unit_secs(k) * as_f64(v).ok_or_else(|| ExprError::new("timedelta() needs numbers".to_string()))?;
            }
            if !secs.is_finite() || secs < 0.0 {
                return Err(ExprError::new(
                    "timedelta() must be a non-negative, finite duration".to_string(),
                ));
            }
            Ok(Value::String(format!("PT{secs}S")))
        }
        "round" => {
            let mut all = args.to_vec();
            if let Some((_, d)) = kwargs.iter().find(|(k, _)| k == "ndigits") {
                all.push(d.clone());
            }
            call("round", &all)
        }
        other => Err(ExprError::new(format!("{other}() takes no keyword arguments"))),
    }
}

fn unit_secs(unit: &str) -> f64 {
    match unit {
        "days" => 86_400.0,
        "seconds" => 1.0,
        "microseconds" => 1e-6,
        "milliseconds" => 1e-3,
        "minutes" => 60.0,
        "hours" => 3_600.0,
        _ => 604_800.0,
    }
}

fn method(base: &Value, name: &str, args: &[Value]) -> Result<Value, ExprError> {
    match (base, name) {
        (Value::Object(o), "items") => Ok(Value::Array(
            o.iter()
                .map(|(k, v)| Value::Array(vec![Value::String(k.clone()), v.clone()]))
                .collect(),
        )),
        (Value::String(s), "split") => {
            let parts: Vec<Value> = match args {
                [] => s.split_whitespace().map(|p| Value::String(p.to_string())).collect(),
                [Value::String(sep)] if !sep.is_empty() => {
                    s.split(sep.as_str()).map(|p| Value::String(p.to_string())).collect()
                }
                _ => {
                    return Err(ExprError::new(
                        "split() takes an optional non-empty separator".to_string(),
                    ))
                }
            };
            Ok(Value::Array(parts))
        }
        (Value::String(sep), "join") => match args {
            [Value::Array(items)] => Ok(Value::String(
                items.iter().map(to_display_string).collect::<Vec<_>>().join(sep),
            )),
            _ => Err(ExprError::new("join() takes a list".to_string())),
        },
        (Value::String(s), "replace") => match args {
            [Value::String(a), Value::String(b)] => {
                let r = s.replace(a.as_str(), b);
                if r.len() > MAX_STRING {
                    return Err(ExprError::new(format!("string longer than {MAX_STRING} bytes")));
                }
                Ok(Value::String(r))
            }
            _ => Err(ExprError::new("replace() takes two strings".to_string())),
        },
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

/// How a block ended.
pub(crate) enum Flow {
    Normal,
    Break,
    Continue,
}

/// Loop iterations one script may run.
const MAX_ITERATIONS: u64 = 1_000_000;

/// A script run: reads see `local` then `below`; writes go to `local`.
pub(crate) struct Exec<'a, 'b> {
    pub local: &'a mut Map<String, Value>,
    pub below: &'a [&'b Map<String, Value>],
    pub dialect: Dialect,
    pub iterations: u64,
}

impl Exec<'_, '_> {
    fn eval(&self, e: &Expr) -> Result<Value, ExprError> {
        let layers: Vec<&Map<String, Value>> = std::iter::once(&*self.local)
            .chain(self.below.iter().copied())
            .collect();
        let mut env = Env {
            layers: &layers,
            locals: Vec::new(),
            dialect: self.dialect,
            cost: 0,
        };
        eval(e, &mut env)
    }

    fn lookup(&self, name: &str) -> Option<Value> {
        self.local
            .get(name)
            .or_else(|| self.below.iter().find_map(|l| l.get(name)))
            .cloned()
    }

    /// Runs a block; errors carry the script line of the failing statement.
    pub(crate) fn block(&mut self, stmts: &Block) -> Result<Flow, ExprError> {
        for (line, s) in stmts {
            let flow = self.stmt(s).map_err(|e| {
                if e.message.starts_with("script line ") {
                    e
                } else {
                    ExprError::new(format!("script line {line}: {}", e.message))
                }
            })?;
            if !matches!(flow, Flow::Normal) {
                return Ok(flow);
            }
        }
        Ok(Flow::Normal)
    }

    fn tick(&mut self) -> Result<(), ExprError> {
        self.iterations += 1;
        if self.iterations > MAX_ITERATIONS {
            return Err(ExprError::new(format!(
                "the script loops more than {MAX_ITERATIONS} times"
            )));
        }
        Ok(())
    }

    fn stmt(&mut self, stmt: &Stmt) -> Result<Flow, ExprError> {
        match stmt {
            Stmt::Pass => Ok(Flow::Normal),
            Stmt::Break => Ok(Flow::Break),
            Stmt::Continue => Ok(Flow::Continue),
            Stmt::If { branches, otherwise } => {
                for (cond, body) in branches {
                    if truthy(&self.eval(cond)?) {
                        return self.block(body);
                    }
                }
                self.block(otherwise)
            }
            Stmt::While { cond, body } => {
                while truthy(&self.eval(cond)?) {
                    self.tick()?;
                    if let Flow::Break = self.block(body)? {
                        break;
                    }
                }
                Ok(Flow::Normal)
            }
            Stmt::For { vars, iter, body } => {
                let items = match self.eval(iter)? {
                    Value::Array(a) => a,
                    Value::Object(o) => o.keys().map(|k| Value::String(k.clone())).collect(),
                    Value::String(s) => s.chars().map(|c| Value::String(c.to_string())).collect(),
                    other => return Err(ExprError::new(format!("cannot iterate over a {}", type_name(&other)))),
                };
                for item in items {
                    self.tick()?;
                    if vars.len() == 1 {
                        self.local.insert(vars[0].clone(), item);
                    } else {
                        let Value::Array(parts) = item else {
                            return Err(ExprError::new(format!(
                                "cannot unpack a {} into {} names",
                                type_name(&item),
                                vars.len()
                            )));
                        };
                        if parts.len() != vars.len() {
                            return Err(ExprError::new(format!(
                                "cannot unpack {} values into {} names",
                                parts.len(),
                                vars.len()
                            )));
                        }
                        for (n, v) in vars.iter().zip(parts) {
                            self.local.insert(n.clone(), v);
                        }
                    }
                    if let Flow::Break = self.block(body)? {
                        break;
                    }
                }
                Ok(Flow::Normal)
            }
            Stmt::Expr(Expr::Method(base, name, args)) if is_mutator(name) => {
                let Some(path) = expr_path(base) else {
                    let b = self.eval(base)?;
                    let vals = args.iter().map(|a| self.eval(a)).collect::<Result<Vec<_>, _>>()?;
                    method(&b, name, &vals)?;
                    return Ok(Flow::Normal);
                };
                let path = self.resolve(&path)?;
                let vals = args.iter().map(|a| self.eval(a)).collect::<Result<Vec<_>, _>>()?;
                let mut current = self.read(&path)?;
                mutate(&mut current, name, vals)?;
                self.write(&path, current)?;
                Ok(Flow::Normal)
            }
            Stmt::Expr(e) => {
                self.eval(e)?;
                Ok(Flow::Normal)
            }
            Stmt::Del(names) => {
                for n in names {
                    let below_has = self.below.iter().any(|l| l.contains_key(n));
                    if self.local.remove(n).is_none() && !below_has {
                        return Err(ExprError::new(format!("name '{n}' is not defined")));
                    }
                }
                Ok(Flow::Normal)
            }
            Stmt::Assign { target, op, value } => {
                let path = self.resolve(target)?;
                let rhs = self.eval(value)?;
                let new = match op {
                    None => rhs,
                    Some(op) => binary(*op, &self.read(&path)?, &rhs, self.dialect)?,
                };
                self.write(&path, new)?;
                Ok(Flow::Normal)
            }
        }
    }

    fn resolve(&self, target: &[Seg]) -> Result<Vec<Value>, ExprError> {
        target
            .iter()
            .map(|s| match s {
                Seg::Key(k) => Ok(Value::String(k.clone())),
                Seg::Index(e) => self.eval(e),
            })
            .collect()
    }

    fn read(&self, path: &[Value]) -> Result<Value, ExprError> {
        let Some((Value::String(first), rest)) = path.split_first() else {
            return Err(ExprError::new("empty assignment target".to_string()));
        };
        let mut cur = self
            .lookup(first)
            .ok_or_else(|| ExprError::new(format!("name '{first}' is not defined")))?;
        for seg in rest {
            cur = index(&cur, seg, self.dialect)?;
        }
        Ok(cur)
    }

    fn write(&mut self, path: &[Value], value: Value) -> Result<(), ExprError> {
        let Some((Value::String(first), rest)) = path.split_first() else {
            return Err(ExprError::new("empty assignment target".to_string()));
        };
        if rest.is_empty() {
            self.local.insert(first.clone(), value);
            return Ok(());
        }
        if !self.local.contains_key(first) {
            // a nested write into a variable of a lower layer starts from a copy of it
            let base = self
                .below
                .iter()
                .find_map(|l| l.get(first))
                .cloned()
                .unwrap_or_else(|| Value::Object(Map::new()));
            self.local.insert(first.clone(), base);
        }
        let mut cur = self
            .local
            .get_mut(first)
            .ok_or_else(|| ExprError::new(format!("name '{first}' is not defined")))?;
        for (i, seg) in rest.iter().enumerate() {
            let last = i + 1 == rest.len();
            cur = match (cur, seg) {
                (Value::Object(o), Value::String(k)) => {
                    if last {
                        o.insert(k.clone(), value);
                        return Ok(());
                    }
                    o.entry(k.clone()).or_insert_with(|| Value::Object(Map::new()))
                }
                (Value::Array(a), idx) => {
                    let Some(n) = as_i64(idx) else {
                        return Err(ExprError::new(format!(
                            "list index must be a number, not a {}",
                            type_name(idx)
                        )));
                    };
                    let len = a.len() as i64;
                    let at = if n < 0 { len + n } else { n };
                    if at < 0 || at >= len {
                        return Err(ExprError::new(format!(
                            "list assignment index {n} out of range (length {len})"
                        )));
                    }
                    let slot = &mut a[at as usize];
                    if last {
                        *slot = value;
                        return Ok(());
                    }
                    slot
                }
                (other, seg) => {
                    return Err(ExprError::new(format!(
                        "cannot set {} on a {}",
                        to_display_string(seg),
                        type_name(other)
                    )));
                }
            };
        }
        Ok(())
    }
}

fn is_mutator(name: &str) -> bool {
    matches!(
        name,
        "append" | "extend" | "insert" | "pop" | "remove" | "update" | "clear"
    )
}

/// The assignable path an expression names (`a`, `a.b`, `a['k']`, `a[i]`), if it is one.
fn expr_path(e: &Expr) -> Option<Vec<Seg>> {
    match e {
        Expr::Var(n) => Some(vec![Seg::Key(n.clone())]),
        Expr::Attr(b, n) => {
            let mut p = expr_path(b)?;
            p.push(Seg::Key(n.clone()));
            Some(p)
        }
        Expr::Index(b, i) => {
            let mut p = expr_path(b)?;
            p.push(Seg::Index((**i).clone()));
            Some(p)
        }
        _ => None,
    }
}

/// Applies a mutating list/dict method in place.
fn mutate(v: &mut Value, name: &str, args: Vec<Value>) -> Result<(), ExprError> {
    match (v, name) {
        (Value::Array(a), "append") => match <[Value; 1]>::try_from(args) {
            Ok([x]) => {
                a.push(x);
                Ok(())
            }
            Err(_) => Err(ExprError::new("append() takes exactly one argument".to_string())),
        },
        (Value::Array(a), "extend") => match <[Value; 1]>::try_from(args) {
            Ok([Value::Array(xs)]) => {
                a.extend(xs);
                Ok(())
            }
            _ => Err(ExprError::new("extend() takes a list".to_string())),
        },
        (Value::Array(a), "insert") => match <[Value; 2]>::try_from(args) {
            Ok([i, x]) => {
                let len = a.len() as i64;
                let n = as_i64(&i).unwrap_or(len);
                let at = if n < 0 { (len + n).max(0) } else { n.min(len) };
                a.insert(at as usize, x);
                Ok(())
            }
            Err(_) => Err(ExprError::new("insert() takes an index and a value".to_string())),
        },
        (Value::Array(a), "pop") => {
            if a.pop().is_none() {
                return Err(ExprError::new("pop from an empty list".to_string()));
            }
            Ok(())
        }
        (Value::Array(a), "remove") => match args.first() {
            Some(x) => match a.iter().position(|y| equal(x, y)) {
                Some(i) => {
                    a.remove(i);
                    Ok(())
                }
                None => Err(ExprError::new("list.remove(x): x not in list".to_string())),
            },
            None => Err(ExprError::new("remove() takes one argument".to_string())),
        },
        (Value::Array(a), "clear") => {
            a.clear();
            Ok(())
        }
        (Value::Object(o), "update") => match args.into_iter().next() {
            Some(Value::Object(other)) => {
                o.extend(other);
                Ok(())
            }
            _ => Err(ExprError::new("update() takes an object".to_string())),
        },
        (Value::Object(o), "pop") => match args.first() {
            Some(Value::String(k)) => {
                o.remove(k);
                Ok(())
            }
            _ => Err(ExprError::new("pop() takes a key".to_string())),
        },
        (Value::Object(o), "clear") => {
            o.clear();
            Ok(())
        }
        (other, name) => Err(ExprError::new(format!("a {} has no method '{name}'", type_name(other)))),
    }
}
