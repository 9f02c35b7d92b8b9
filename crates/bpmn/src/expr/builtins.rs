//! Built-in functions and methods of the expression language (`len`, `range`, `s.split()`,
//! FEEL's `string length`, ...). Each checks the size of what it builds against the budget
//! before building it.

use super::ast::BinOp;
use super::limits::{Budget, SLOT};
use super::ops::{arith, as_f64, as_i64, compare, equal, f64_to_i64, num, type_name};
use super::{Dialect, ExprError};
use serde_json::Value;
use std::borrow::Cow;

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

/// `str()` of a value, its size charged to the budget first (a list's text is at most a few
/// times its measured size).
pub(crate) fn display(v: &Value, budget: &mut Budget) -> Result<String, ExprError> {
    match v {
        Value::String(s) => budget.string(s.len() as u64)?,
        Value::Array(_) | Value::Object(_) => {
            let m = budget.copy(v)?;
            budget.string(m.bytes)?;
        }
        _ => {}
    }
    Ok(to_display_string(v))
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

fn iterable<'v>(name: &str, args: &'v [Value]) -> Result<Cow<'v, [Value]>, ExprError> {
    match args {
        [Value::Array(a)] => Ok(Cow::Borrowed(a.as_slice())),
        [] => Err(ExprError::new(format!("{name}() needs at least one argument"))),
        [single] if !matches!(single, Value::Array(_)) && name != "min" && name != "max" => Err(ExprError::new(
            format!("{name}() needs a list, not a {}", type_name(single)),
        )),
        many => Ok(Cow::Borrowed(many)),
    }
}

/// The integer value of `int(v)`.
fn to_int(v: &Value) -> Result<Value, ExprError> {
    match v {
        Value::String(s) => s
            .trim()
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| ExprError::new(format!("invalid literal for int(): '{s}'"))),
        v if v.is_i64() => Ok(v.clone()),
        v => match as_f64(v) {
            Some(f) => f64_to_i64(f.trunc(), "int()").map(Value::from),
            None => Err(ExprError::new(format!("int() of a {}", type_name(v)))),
        },
    }
}

/// `range(stop)`, `range(start, stop)`, `range(start, stop, step)`, sized before it is built.
fn range(args: &[Value], budget: &mut Budget) -> Result<Value, ExprError> {
    let ints = args
        .iter()
        .map(|a| as_i64(a).ok_or_else(|| ExprError::new(format!("range() needs integers, not a {}", type_name(a)))))
        .collect::<Result<Vec<i64>, _>>()?;
    let (start, stop, step) = match ints[..] {
        [stop] => (0, stop, 1),
        [start, stop] => (start, stop, 1),
        [start, stop, step] => (start, stop, step),
        _ => return Err(ExprError::new("range() takes 1 to 3 arguments".to_string())),
    };
    if step == 0 {
        return Err(ExprError::new("range() step must not be zero".to_string()));
    }
    let span = if step > 0 {
        i128::from(stop) - i128::from(start)
    } else {
        i128::from(start) - i128::from(stop)
    };
    let len = if span <= 0 {
        0
    } else {
        let s = i128::from(step).abs();
        (span + s - 1) / s
    };
    budget.collection(u64::try_from(len).unwrap_or(u64::MAX))?;
    let mut out = Vec::with_capacity(len as usize);
    let mut v = i128::from(start);
    for _ in 0..len {
        out.push(Value::from(v as i64));
        v += i128::from(step);
    }
    Ok(Value::Array(out))
}

/// Calls a built-in function with positional arguments.
pub(crate) fn call(name: &str, args: &[Value], dialect: Dialect, budget: &mut Budget) -> Result<Value, ExprError> {
    match name {
        "len" | "count" | "string length" => {
            arity(name, args, 1)?;
            let n = match &args[0] {
                Value::String(s) => s.chars().count(),
                Value::Array(a) => a.len(),
                Value::Object(o) => o.len(),
                Value::Null if dialect == Dialect::Feel => return Ok(Value::Null),
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
            display(&args[0], budget).map(Value::String)
        }
        "int" => {
            arity(name, args, 1)?;
            to_int(&args[0])
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
            match &args[0] {
                v if v.is_i64() => {
                    let i = v.as_i64().unwrap_or(0);
                    i.checked_abs().map(Value::from).ok_or_else(|| {
                        ExprError::new(format!("integer overflow: abs({i}) does not fit in a 64-bit integer"))
                    })
                }
                v => as_f64(v)
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
            if args[0].is_i64() && digits >= 0 {
                return Ok(args[0].clone());
            }
            let f = as_f64(&args[0]).ok_or_else(|| ExprError::new("round() needs a number".to_string()))?;
            if digits == 0 {
                f64_to_i64(f.round_ties_even(), "round()").map(Value::from)
            } else {
                let p = 10f64.powi(digits as i32);
                num((f * p).round_ties_even() / p)
            }
        }
        "floor" | "ceiling" => {
            arity(name, args, 1)?;
            let f = as_f64(&args[0]).ok_or_else(|| ExprError::new(format!("{name}() needs a number")))?;
            let r = if name == "floor" { f.floor() } else { f.ceil() };
            f64_to_i64(r, name).map(Value::from)
        }
        "sum" => {
            let items = iterable(name, args)?;
            let mut acc = Value::from(0);
            for v in items.iter() {
                acc = arith(BinOp::Add, &acc, v, dialect)?;
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
            [v @ Value::Array(_)] => {
                budget.copy(v)?;
                Ok(v.clone())
            }
            [Value::Object(o)] => keys(o, budget),
            _ => Err(ExprError::new("list() needs a list or an object".to_string())),
        },
        "range" => range(args, budget),
        "is_defined" | "is defined" => {
            arity(name, args, 1)?;
            Ok(Value::Bool(!args[0].is_null()))
        }
        "upper case" | "upper" | "lower case" | "lower" => {
            arity(name, args, 1)?;
            let s = display(&args[0], budget)?;
            // case mapping can grow a string (ß -> SS): at most three times
            budget.string(s.len() as u64 * 3)?;
            Ok(Value::String(if name.starts_with('u') {
                s.to_uppercase()
            } else {
                s.to_lowercase()
            }))
        }
        "contains" | "starts with" | "ends with" => match args {
            [Value::String(s), Value::String(p)] => Ok(Value::Bool(match name {
                "contains" => s.contains(p.as_str()),
                "starts with" => s.starts_with(p.as_str()),
                _ => s.ends_with(p.as_str()),
            })),
            _ if dialect == Dialect::Feel => Ok(Value::Null),
            _ => Err(ExprError::new(format!("{name}() takes two strings"))),
        },
        "substring" => feel_substring(args),
        "list contains" => match args {
            [Value::Array(a), x] => Ok(Value::Bool(a.iter().any(|y| equal(x, y)))),
            _ => Ok(Value::Null),
        },
        "append" => match args {
            [Value::Array(a), rest @ ..] => {
                budget.collection((a.len() + rest.len()) as u64)?;
                let mut out = a.clone();
                out.extend(rest.iter().cloned());
                Ok(Value::Array(out))
            }
            _ => Ok(Value::Null),
        },
        "concatenate" => {
            let mut out = Vec::new();
            for a in args {
                let Value::Array(a) = a else { return Ok(Value::Null) };
                budget.collection((out.len() + a.len()) as u64)?;
                out.extend(a.iter().cloned());
            }
            Ok(Value::Array(out))
        }
        "distinct values" => match args {
            [Value::Array(a)] => {
                let mut out: Vec<Value> = Vec::new();
                for x in a {
                    budget.steps(out.len() as u64)?;
                    if !out.iter().any(|y| equal(x, y)) {
                        out.push(x.clone());
                    }
                }
                Ok(Value::Array(out))
            }
            _ => Ok(Value::Null),
        },
        "get value" => match args {
            [Value::Object(o), Value::String(k)] => Ok(o.get(k).cloned().unwrap_or(Value::Null)),
            _ => Ok(Value::Null),
        },
        "vars" | "globals" | "locals" => Err(ExprError::new(format!(
            "{name}() is evaluated with the variables in scope; it takes no arguments"
        ))),
        other => Err(ExprError::new(format!("unknown function '{other}'"))),
    }
}

/// FEEL `substring(string, start position[, length])`: 1-based, negative from the end.
fn feel_substring(args: &[Value]) -> Result<Value, ExprError> {
    let (Some(Value::String(s)), Some(start)) = (args.first(), args.get(1).and_then(as_i64)) else {
        return Ok(Value::Null);
    };
    // positions are found by walking the string; no array of its characters is built
    let len = i64::try_from(s.chars().count()).unwrap_or(i64::MAX);
    let from = if start > 0 {
        start - 1
    } else {
        len.saturating_add(start)
    };
    if from < 0 || from > len {
        return Ok(Value::Null);
    }
    let take = match args.get(2) {
        Some(n) => match as_i64(n) {
            Some(n) if n >= 0 => n,
            _ => return Ok(Value::Null),
        },
        None => len - from,
    };
    let end = from.saturating_add(take).min(len);
    let byte = |k: i64| {
        s.char_indices()
            .nth(usize::try_from(k).unwrap_or(usize::MAX))
            .map_or(s.len(), |(at, _)| at)
    };
    Ok(Value::String(s[byte(from)..byte(end)].to_string()))
}

fn keys(o: &serde_json::Map<String, Value>, budget: &mut Budget) -> Result<Value, ExprError> {
    budget.collection(o.len() as u64)?;
    budget.alloc(o.keys().map(|k| k.len() as u64 + SLOT).sum())?;
    Ok(Value::Array(o.keys().map(|k| Value::String(k.clone())).collect()))
}

/// Formats a value for an f-string; `.Nf` and `d` specs are honoured, others ignored.
pub(crate) fn format_spec(v: &Value, spec: Option<&str>, budget: &mut Budget) -> Result<String, ExprError> {
    let Some(spec) = spec else { return display(v, budget) };
    if let Some(prec) = spec
        .strip_prefix('.')
        .and_then(|r| r.strip_suffix('f'))
        .and_then(|p| p.parse::<usize>().ok())
    {
        if let Some(f) = as_f64(v) {
            return Ok(format!("{f:.prec$}", prec = prec.min(30)));
        }
    }
    if spec == "d" {
        if let Some(i) = as_i64(v) {
            return Ok(i.to_string());
        }
    }
    display(v, budget)
}

/// True when `name` is a built-in function: called without arguments it does not answer
/// "unknown function", or it is one that takes keyword arguments only (`timedelta`).
pub(crate) fn is_function(name: &str) -> bool {
    let mut budget = Budget::new(super::EvalLimits::default());
    let known = |r: Result<Value, ExprError>, unknown: &str| match r {
        Ok(_) => true,
        Err(e) => !e.message.contains(unknown),
    };
    known(call(name, &[], Dialect::Python, &mut budget), "unknown function")
        || known(
            call_kw(
                name,
                &[],
                &[("_".to_string(), Value::Null)],
                Dialect::Python,
                &mut budget,
            ),
            "takes no keyword arguments",
        )
}

/// Calls with keyword arguments: `timedelta(...)` (an ISO-8601 duration string, usable by
/// timers), `round(x, ndigits=n)`.
pub(crate) fn call_kw(
    name: &str,
    args: &[Value],
    kwargs: &[(String, Value)],
    dialect: Dialect,
    budget: &mut Budget,
) -> Result<Value, ExprError> {
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
            call("round", &all, dialect, budget)
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

/// Splits `s` by `sep` (whitespace when `None`), counting the parts before building them.
fn split(s: &str, sep: Option<&str>, budget: &mut Budget) -> Result<Value, ExprError> {
    let n = match sep {
        None => s.split_whitespace().count(),
        Some(sep) => s.matches(sep).count() + 1,
    };
    budget.collection(n as u64)?;
    budget.alloc(s.len() as u64 + n as u64 * SLOT)?;
    let parts: Vec<Value> = match sep {
        None => s.split_whitespace().map(|p| Value::String(p.to_string())).collect(),
        Some(sep) => s.split(sep).map(|p| Value::String(p.to_string())).collect(),
    };
    Ok(Value::Array(parts))
}

fn join(sep: &str, items: &[Value], budget: &mut Budget) -> Result<Value, ExprError> {
    // the result's length is known before any piece is built
    let mut total = (sep.len() as u64).saturating_mul(items.len().saturating_sub(1) as u64);
    for item in items {
        total = total.saturating_add(match item {
            Value::String(s) => s.len() as u64,
            other => budget.copy(other)?.bytes,
        });
        if total > budget.limits.max_string_len as u64 {
            break;
        }
    }
    budget.string(total)?;
    Ok(Value::String(
        items.iter().map(to_display_string).collect::<Vec<_>>().join(sep),
    ))
}

fn replace(s: &str, from: &str, to: &str, budget: &mut Budget) -> Result<Value, ExprError> {
    let hits = if from.is_empty() {
        s.chars().count() + 1
    } else {
        s.matches(from).count()
    } as u64;
    let len =
        (s.len() as u64 - hits.saturating_mul(from.len() as u64)).saturating_add(hits.saturating_mul(to.len() as u64));
    budget.string(len)?;
    Ok(Value::String(s.replace(from, to)))
}

/// Calls a method that does not change its receiver.
pub(crate) fn method(base: &Value, name: &str, args: &[Value], budget: &mut Budget) -> Result<Value, ExprError> {
    match (base, name) {
        (Value::Object(o), "items") => {
            budget.collection(o.len() as u64)?;
            budget.copy(base)?;
            Ok(Value::Array(
                o.iter()
                    .map(|(k, v)| Value::Array(vec![Value::String(k.clone()), v.clone()]))
                    .collect(),
            ))
        }
        (Value::String(s), "split") => match args {
            [] => split(s, None, budget),
            [Value::String(sep)] if !sep.is_empty() => split(s, Some(sep), budget),
            _ => Err(ExprError::new(
                "split() takes an optional non-empty separator".to_string(),
            )),
        },
        (Value::String(sep), "join") => match args {
            [Value::Array(items)] => join(sep, items, budget),
            _ => Err(ExprError::new("join() takes a list".to_string())),
        },
        (Value::String(s), "replace") => match args {
            [Value::String(a), Value::String(b)] => replace(s, a, b, budget),
            _ => Err(ExprError::new("replace() takes two strings".to_string())),
        },
        (Value::Object(o), "get") => {
            let found = match args {
                [Value::String(k)] => o.get(k).unwrap_or(&Value::Null),
                [Value::String(k), d] => o.get(k).unwrap_or(d),
                _ => return Err(ExprError::new("get() takes a key and an optional default".to_string())),
            };
            budget.copy(found)?;
            Ok(found.clone())
        }
        (Value::Object(o), "keys") => keys(o, budget),
        (Value::Object(o), "values") => {
            budget.collection(o.len() as u64)?;
            budget.copy(base)?;
            Ok(Value::Array(o.values().cloned().collect()))
        }
        (Value::String(s), "upper" | "lower") => call(name, &[Value::String(s.clone())], Dialect::Python, budget),
        (Value::String(s), "strip") => Ok(Value::String(s.trim().to_string())),
        (Value::String(s), "startswith") => match args {
            [Value::String(p)] => Ok(Value::Bool(s.starts_with(p.as_str()))),
            _ => Err(ExprError::new("startswith() takes a string".to_string())),
        },
        (Value::String(s), "endswith") => match args {
            [Value::String(p)] => Ok(Value::Bool(s.ends_with(p.as_str()))),
            _ => Err(ExprError::new("endswith() takes a string".to_string())),
        },
        (Value::Array(_) | Value::Object(_), "append" | "extend" | "insert" | "pop" | "remove" | "update" | "clear") => {
            Err(ExprError::new(format!(
                "{name}() changes its {}: call it as a statement (xs.{name}(...)) or as the whole right side of an assignment (v = xs.{name}(...))",
                type_name(base)
            )))
        }
        _ => Err(ExprError::new(format!("a {} has no method '{name}'", type_name(base)))),
    }
}
