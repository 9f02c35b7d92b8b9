//! Operators over values: comparison, equality, indexing and checked arithmetic. Integer
//! arithmetic never wraps or panics: a result that does not fit in 64 bits is an error; sizes
//! of strings and lists are checked against the budget before they are built.

use super::ast::BinOp;
use super::limits::Budget;
use super::{Dialect, ExprError};
use serde_json::{Number, Value};
use std::cmp::Ordering;

pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "object",
    }
}

/// A finite float as a value.
pub(crate) fn num(f: f64) -> Result<Value, ExprError> {
    Number::from_f64(f)
        .map(Value::Number)
        .ok_or_else(|| ExprError::new("arithmetic produced a non-finite number".to_string()))
}

pub(crate) fn as_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        _ => None,
    }
}

pub(crate) fn as_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::Bool(b) => Some(i64::from(*b)),
        _ => None,
    }
}

/// A float converted to an integer, or an error when it is not finite or out of range.
pub(crate) fn f64_to_i64(f: f64, what: &str) -> Result<i64, ExprError> {
    // i64::MAX as f64 rounds up to 2^63, which is out of range
    if f.is_finite() && f >= i64::MIN as f64 && f < i64::MAX as f64 {
        Ok(f as i64)
    } else {
        Err(ExprError::new(format!("{what}: {f} does not fit in a 64-bit integer")))
    }
}

fn overflow(sym: &str, x: i64, y: i64) -> ExprError {
    ExprError::new(format!(
        "integer overflow: {x} {sym} {y} does not fit in a 64-bit integer"
    ))
}

/// Python's `//` on integers (rounds toward negative infinity).
pub(crate) fn floor_div(x: i64, y: i64) -> Result<i64, ExprError> {
    if y == 0 {
        return Err(ExprError::new("integer division by zero".to_string()));
    }
    let q = x.checked_div(y).ok_or_else(|| overflow("//", x, y))?;
    // q - 1 cannot overflow: a remainder exists only when |y| > 1 or q is not extreme
    Ok(if x % y != 0 && ((x < 0) != (y < 0)) { q - 1 } else { q })
}

/// Python's `%` on integers (the result has the divisor's sign).
pub(crate) fn floor_mod(x: i64, y: i64) -> Result<i64, ExprError> {
    if y == 0 {
        return Err(ExprError::new("integer modulo by zero".to_string()));
    }
    // i64::MIN % -1 overflows in Rust; mathematically it is 0
    let r = x.checked_rem(y).unwrap_or(0);
    // r and y have opposite signs here, so r + y cannot overflow
    Ok(if r != 0 && ((r < 0) != (y < 0)) { r + y } else { r })
}

/// The element `b[i]`, borrowed.
pub(crate) fn index_ref<'v>(b: &'v Value, i: &Value, dialect: Dialect) -> Result<&'v Value, ExprError> {
    match (b, i) {
        (Value::Array(a), _) => {
            let Some(n) = as_i64(i) else {
                return Err(ExprError::new(format!(
                    "list index must be a number, not a {}",
                    type_name(i)
                )));
            };
            let idx = list_position(n, a.len(), dialect)
                .ok_or_else(|| ExprError::new(format!("list index {n} out of range (length {})", a.len())))?;
            Ok(&a[idx])
        }
        (Value::Object(o), Value::String(k)) => o.get(k).ok_or_else(|| ExprError::new(format!("key '{k}' not found"))),
        _ => Err(ExprError::new(format!(
            "cannot index a {} with a {}",
            type_name(b),
            type_name(i)
        ))),
    }
}

/// The 0-based position of index `n` in a list of `len` items: FEEL lists are 1-based,
/// Python's 0-based; negative indexes count from the end in both.
pub(crate) fn list_position(n: i64, len: usize, dialect: Dialect) -> Option<usize> {
    let len = i64::try_from(len).ok()?;
    let n = if dialect == Dialect::Feel && n > 0 { n - 1 } else { n };
    let idx = if n < 0 { len.checked_add(n)? } else { n };
    (0..len).contains(&idx).then_some(idx as usize)
}

/// The character `s[i]`. Finding it walks the string from the nearer end up to it; the
/// bytes walked are charged (a string is UTF-8, so its characters have no fixed position).
pub(crate) fn char_at(s: &str, i: &Value, budget: &mut Budget) -> Result<Value, ExprError> {
    let Some(n) = as_i64(i) else {
        return Err(ExprError::new("string index must be a number".to_string()));
    };
    let (found, walked) = if n >= 0 {
        let found = nth_char(s, usize::try_from(n).unwrap_or(usize::MAX), false);
        (found, found.map_or(s.len(), |(at, _)| at))
    } else {
        let back = usize::try_from(n.unsigned_abs() - 1).unwrap_or(usize::MAX);
        let found = nth_char(s, back, true);
        (found, found.map_or(s.len(), |(at, _)| s.len() - at))
    };
    // the bytes walked, and the last chunk's, decoded one character at a time, once more
    budget.scan(walked)?;
    budget.steps(walked.min(NTH_CHUNK) as u64 / 8)?;
    found
        .map(|(_, c)| Value::String(c.to_string()))
        .ok_or_else(|| ExprError::new(format!("string index {n} out of range")))
}

/// Bytes of a string counted at a time by [`nth_char`].
const NTH_CHUNK: usize = 256;

/// The `n`th character of `s` (0-based; counted from the end when `from_end`) and its byte
/// offset. Whole chunks are counted with the standard library's character counter, which
/// reads a word at a time; only the chunk holding the character is decoded one by one.
fn nth_char(s: &str, n: usize, from_end: bool) -> Option<(usize, char)> {
    const CHUNK: usize = NTH_CHUNK;
    let mut left = n;
    let (mut lo, mut hi) = (0, s.len());
    while lo < hi {
        let (start, end) = if from_end {
            let mut start = hi.saturating_sub(CHUNK);
            while !s.is_char_boundary(start) {
                start -= 1;
            }
            (start, hi)
        } else {
            let mut end = (lo + CHUNK).min(s.len());
            while !s.is_char_boundary(end) {
                end += 1;
            }
            (lo, end)
        };
        let chunk = &s[start..end];
        let count = chunk.chars().count();
        if left < count {
            let found = if from_end {
                chunk.char_indices().rev().nth(left)
            } else {
                chunk.char_indices().nth(left)
            };
            return found.map(|(at, c)| (start + at, c));
        }
        left -= count;
        if from_end {
            hi = start;
        } else {
            lo = end;
        }
    }
    None
}

pub(crate) fn compare(l: &Value, r: &Value) -> Result<Ordering, ExprError> {
    match (l, r) {
        (Value::String(a), Value::String(b)) => Ok(a.cmp(b)),
        (Value::Array(a), Value::Array(b)) => {
            for (x, y) in a.iter().zip(b.iter()) {
                let o = compare(x, y)?;
                if o != Ordering::Equal {
                    return Ok(o);
                }
            }
            Ok(a.len().cmp(&b.len()))
        }
        (Value::Number(a), Value::Number(b)) if a.is_i64() && b.is_i64() => Ok(a.as_i64().cmp(&b.as_i64())),
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
        (Value::Number(a), Value::Number(b)) if a.is_i64() && b.is_i64() => a.as_i64() == b.as_i64(),
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (Value::Array(a), Value::Array(b)) => a.len() == b.len() && a.iter().zip(b).all(|(x, y)| equal(x, y)),
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len() && a.iter().all(|(k, x)| b.get(k).is_some_and(|y| equal(x, y)))
        }
        _ => l == r,
    }
}

fn contains(haystack: &Value, needle: &Value) -> Result<bool, ExprError> {
    Ok(match haystack {
        Value::Array(a) => a.iter().any(|x| equal(x, needle)),
        Value::Object(o) => match needle {
            Value::String(k) => o.contains_key(k),
            _ => false,
        },
        Value::String(s) => match needle {
            Value::String(sub) => s.contains(sub.as_str()),
            _ => {
                return Err(ExprError::new(format!(
                    "'in <string>' requires a string, not a {}",
                    type_name(needle)
                )))
            }
        },
        other => {
            return Err(ExprError::new(format!(
                "'in' needs a list, object or string, not a {}",
                type_name(other)
            )))
        }
    })
}

pub(crate) fn binary(
    op: BinOp,
    l: &Value,
    r: &Value,
    dialect: Dialect,
    budget: &mut Budget,
) -> Result<Value, ExprError> {
    match op {
        BinOp::Eq => Ok(Value::Bool(equal(l, r))),
        BinOp::Ne => Ok(Value::Bool(!equal(l, r))),
        BinOp::Lt => Ok(Value::Bool(compare(l, r)? == Ordering::Less)),
        BinOp::Le => Ok(Value::Bool(compare(l, r)? != Ordering::Greater)),
        BinOp::Gt => Ok(Value::Bool(compare(l, r)? == Ordering::Greater)),
        BinOp::Ge => Ok(Value::Bool(compare(l, r)? != Ordering::Less)),
        BinOp::In => contains(r, l).map(Value::Bool),
        BinOp::NotIn => contains(r, l).map(|b| Value::Bool(!b)),
        BinOp::Add => match (l, r) {
            (Value::String(a), Value::String(b)) => {
                budget.string(a.len() as u64 + b.len() as u64)?;
                let mut s = String::with_capacity(a.len() + b.len());
                s.push_str(a);
                s.push_str(b);
                Ok(Value::String(s))
            }
            (Value::String(_), other) | (other, Value::String(_)) if dialect == Dialect::Feel => Err(ExprError::new(
                format!("cannot add a string and a {}", type_name(other)),
            )),
            (Value::Array(a), Value::Array(b)) => {
                budget.collection(a.len() as u64 + b.len() as u64)?;
                for x in a.iter().chain(b) {
                    budget.copy(x)?;
                }
                Ok(Value::Array(a.iter().chain(b).cloned().collect()))
            }
            _ => arith(op, l, r, dialect),
        },
        BinOp::Mul => match (l, r) {
            (Value::String(s), Value::Number(_)) | (Value::Number(_), Value::String(s)) => {
                let n = repeat_count(if l.is_string() { r } else { l })?;
                budget.string((s.len() as u64).saturating_mul(n as u64))?;
                Ok(Value::String(s.repeat(n)))
            }
            (Value::Array(a), Value::Number(_)) | (Value::Number(_), Value::Array(a)) => {
                let n = repeat_count(if l.is_array() { r } else { l })?;
                budget.collection((a.len() as u64).saturating_mul(n as u64))?;
                for x in a {
                    let m = budget.copy(x)?;
                    // every copy is a clone of the item's nodes
                    budget.steps(m.nodes.saturating_mul(n as u64))?;
                    budget.alloc(m.bytes.saturating_mul(n as u64))?;
                }
                Ok(Value::Array(a.iter().cloned().cycle().take(a.len() * n).collect()))
            }
            _ => arith(op, l, r, dialect),
        },
        BinOp::Mod => match l {
            Value::String(format) if dialect == Dialect::Python => super::percent::format(format, r, budget),
            _ => arith(op, l, r, dialect),
        },
        _ => arith(op, l, r, dialect),
    }
}

/// How many times `s * n` repeats: a negative count is zero, as in Python.
fn repeat_count(n: &Value) -> Result<usize, ExprError> {
    let Some(n) = as_i64(n) else {
        return Err(ExprError::new("can only repeat by a whole number".to_string()));
    };
    Ok(usize::try_from(n.max(0)).unwrap_or(usize::MAX))
}

fn symbol(op: BinOp) -> &'static str {
    match op {
        BinOp::Add => "+",
        BinOp::Sub => "-",
        BinOp::Mul => "*",
        BinOp::Div => "/",
        BinOp::FloorDiv => "//",
        BinOp::Mod => "%",
        _ => "**",
    }
}

/// Numeric arithmetic: exact on integers (an error when a result leaves the 64-bit range),
/// floating point otherwise.
pub(crate) fn arith(op: BinOp, l: &Value, r: &Value, dialect: Dialect) -> Result<Value, ExprError> {
    let sym = symbol(op);
    let (Some(a), Some(b)) = (as_f64(l), as_f64(r)) else {
        return Err(ExprError::new(format!(
            "unsupported operand types for {sym}: {} and {}",
            type_name(l),
            type_name(r)
        )));
    };
    if let (Some(x), Some(y)) = (as_i64(l), as_i64(r)) {
        let int = || -> Result<Option<i64>, ExprError> {
            Ok(match op {
                BinOp::Add => Some(x.checked_add(y).ok_or_else(|| overflow(sym, x, y))?),
                BinOp::Sub => Some(x.checked_sub(y).ok_or_else(|| overflow(sym, x, y))?),
                BinOp::Mul => Some(x.checked_mul(y).ok_or_else(|| overflow(sym, x, y))?),
                BinOp::FloorDiv => Some(floor_div(x, y)?),
                BinOp::Mod => Some(floor_mod(x, y)?),
                BinOp::Pow if y >= 0 => {
                    let e = u32::try_from(y).map_err(|_| overflow(sym, x, y))?;
                    Some(x.checked_pow(e).ok_or_else(|| overflow(sym, x, y))?)
                }
                // true division and negative powers give floats, as in Python
                _ => None,
            })
        };
        match int() {
            Ok(Some(v)) => return Ok(Value::from(v)),
            Ok(None) => {}
            // FEEL numbers are decimals, not 64-bit integers: past the range, a float
            Err(_) if dialect == Dialect::Feel && y != 0 => {}
            Err(e) => return Err(e),
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

/// Negation, checked.
pub(crate) fn negate(v: &Value) -> Result<Value, ExprError> {
    if let Some(i) = as_i64(v) {
        return i
            .checked_neg()
            .map(Value::from)
            .ok_or_else(|| ExprError::new(format!("integer overflow: -({i}) does not fit in a 64-bit integer")));
    }
    match v {
        Value::Number(n) => num(-n.as_f64().unwrap_or(0.0)),
        _ => Err(ExprError::new(format!("cannot negate a {}", type_name(v)))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floor_division_and_modulo_follow_python() {
        assert_eq!(floor_div(7, -2).unwrap(), -4);
        assert_eq!(floor_mod(7, -2).unwrap(), -1);
        assert_eq!(floor_mod(-7, 2).unwrap(), 1);
        assert_eq!(floor_mod(i64::MIN, -1).unwrap(), 0);
        assert_eq!(floor_mod(i64::MAX - 1, i64::MAX).unwrap(), i64::MAX - 1);
        assert_eq!(floor_mod(i64::MIN, i64::MAX).unwrap(), i64::MAX - 1);
        assert!(floor_div(i64::MIN, -1).unwrap_err().message.contains("overflow"));
        assert_eq!(floor_div(i64::MIN, 1).unwrap(), i64::MIN);
    }

    #[test]
    fn float_to_int_is_checked() {
        assert_eq!(f64_to_i64(-9.2e18, "int()").unwrap(), -9_200_000_000_000_000_000);
        assert!(f64_to_i64(9.3e18, "int()").is_err());
        assert!(f64_to_i64(f64::NAN, "int()").is_err());
        assert!(f64_to_i64(i64::MAX as f64, "int()").is_err());
    }

    #[test]
    fn characters_are_found_from_either_end_across_chunks() {
        let s = format!("{}é{}", "a".repeat(5000), "ü".repeat(3000));
        let at = |i: i64| {
            let mut budget = Budget::new(super::super::EvalLimits::default());
            char_at(&s, &Value::from(i), &mut budget).ok()
        };
        assert_eq!(at(0), Some(Value::from("a")));
        assert_eq!(at(5000), Some(Value::from("é")));
        assert_eq!(at(5001), Some(Value::from("ü")));
        assert_eq!(at(8000), Some(Value::from("ü")));
        assert_eq!(at(8001), None);
        assert_eq!(at(-1), Some(Value::from("ü")));
        assert_eq!(at(-3001), Some(Value::from("é")));
        assert_eq!(at(-3002), Some(Value::from("a")));
        assert_eq!(at(-8001), Some(Value::from("a")));
        assert_eq!(at(-8002), None);
        assert_eq!(at(i64::MIN), None);
        assert_eq!(at(i64::MAX), None);
    }

    #[test]
    fn list_positions_never_overflow() {
        assert_eq!(list_position(i64::MIN, 3, Dialect::Python), None);
        assert_eq!(list_position(-1, 3, Dialect::Python), Some(2));
        assert_eq!(list_position(1, 3, Dialect::Feel), Some(0));
        assert_eq!(list_position(i64::MAX, 3, Dialect::Feel), None);
    }
}
