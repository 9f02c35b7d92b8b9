//! Python's printf-style string formatting, `format % values` (`'refill count = %d' % n`,
//! `'%s: %.2f' % (name, x)`, `'%(a)s' % {'a': 1}`): the conversions `d i u s r f F x X o c %`
//! with the flags `- + 0 space`, a width and a precision. A list on the right is the tuple of
//! values when the format converts other than one value, or holds exactly one item; anything
//! else is the one value. Every piece is charged to the budget before it is built, so a huge
//! width is a limit error, not an allocation.

use super::builtins::display;
use super::limits::Budget;
use super::ops::{as_f64, as_i64, type_name};
use super::ExprError;
use serde_json::Value;

/// One conversion specifier: `%[(key)][flags][width][.precision]type`.
struct Spec {
    key: Option<String>,
    left: bool,
    plus: bool,
    space: bool,
    zero: bool,
    width: usize,
    precision: Option<usize>,
    kind: char,
}

fn err(message: impl Into<String>) -> ExprError {
    ExprError::new(message.into())
}

/// Reads the specifier after a `%` from `chars`; `None` at `%%`.
fn spec(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Result<Option<Spec>, ExprError> {
    let mut s = Spec {
        key: None,
        left: false,
        plus: false,
        space: false,
        zero: false,
        width: 0,
        precision: None,
        kind: ' ',
    };
    if chars.peek() == Some(&'%') {
        chars.next();
        return Ok(None);
    }
    if chars.peek() == Some(&'(') {
        chars.next();
        let mut key = String::new();
        loop {
            match chars.next() {
                Some(')') => break,
                Some(c) => key.push(c),
                None => return Err(err("incomplete format key")),
            }
        }
        s.key = Some(key);
    }
    while let Some(&c) = chars.peek() {
        match c {
            '-' => s.left = true,
            '+' => s.plus = true,
            ' ' => s.space = true,
            '0' => s.zero = true,
            '#' => {}
            _ => break,
        }
        chars.next();
    }
    let number = |chars: &mut std::iter::Peekable<std::str::Chars<'_>>| -> Result<usize, ExprError> {
        let mut n: usize = 0;
        while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
            chars.next();
            n = n
                .checked_mul(10)
                .and_then(|n| n.checked_add(d as usize))
                .ok_or_else(|| err("width or precision too big"))?;
        }
        Ok(n)
    };
    if chars.peek() == Some(&'*') {
        return Err(err("'*' widths are not supported in % formatting"));
    }
    s.width = number(chars)?;
    if chars.peek() == Some(&'.') {
        chars.next();
        s.precision = Some(number(chars)?);
    }
    s.kind = chars.next().ok_or_else(|| err("incomplete format"))?;
    Ok(Some(s))
}

/// The number of values `format` converts (a `%(key)` specifier counts as none).
fn positional_count(format: &str) -> Result<(usize, bool), ExprError> {
    let (mut n, mut keyed) = (0, false);
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '%' {
            match spec(&mut chars)? {
                Some(s) if s.key.is_some() => keyed = true,
                Some(_) => n += 1,
                None => {}
            }
        }
    }
    Ok((n, keyed))
}

fn integer(v: &Value, kind: char) -> Result<i64, ExprError> {
    match v {
        Value::Bool(b) => Ok(i64::from(*b)),
        _ => as_i64(v)
            .or_else(|| {
                as_f64(v)
                    .filter(|f| f.is_finite() && f.abs() < 9.2e18)
                    .map(|f| f.trunc() as i64)
            })
            .ok_or_else(|| {
                err(format!(
                    "%{kind} format: a real number is required, not {}",
                    type_name(v)
                ))
            }),
    }
}

fn real(v: &Value, kind: char) -> Result<f64, ExprError> {
    match v {
        Value::Bool(b) => Ok(f64::from(u8::from(*b))),
        _ => as_f64(v).ok_or_else(|| err(format!("must be real number, not {} (%{kind})", type_name(v)))),
    }
}

/// `repr` of a value: a string in quotes, anything else as displayed.
fn repr(v: &Value, budget: &mut Budget) -> Result<String, ExprError> {
    match v {
        Value::String(s) => {
            budget.string(s.len() as u64 + 2)?;
            Ok(format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'")))
        }
        other => display(other, budget),
    }
}

/// Converts one value by its specifier, padded to its width.
fn convert(s: &Spec, v: &Value, budget: &mut Budget) -> Result<String, ExprError> {
    let sign = |negative: bool| {
        if negative {
            "-"
        } else if s.plus {
            "+"
        } else if s.space {
            " "
        } else {
            ""
        }
    };
    let (prefix, body, numeric) = match s.kind {
        'd' | 'i' | 'u' => {
            let n = integer(v, s.kind)?;
            (sign(n < 0), n.unsigned_abs().to_string(), true)
        }
        'x' | 'X' | 'o' => {
            let n = integer(v, s.kind)?;
            let digits = match s.kind {
                'x' => format!("{:x}", n.unsigned_abs()),
                'X' => format!("{:X}", n.unsigned_abs()),
                _ => format!("{:o}", n.unsigned_abs()),
            };
            (sign(n < 0), digits, true)
        }
        'f' | 'F' => {
            let f = real(v, s.kind)?;
            let precision = s.precision.unwrap_or(6).min(100);
            let body = if f.is_finite() {
                format!("{:.precision$}", f.abs())
            } else if f.is_nan() {
                "nan".to_string()
            } else {
                "inf".to_string()
            };
            let body = if s.kind == 'F' { body.to_uppercase() } else { body };
            (sign(f.is_sign_negative() && !f.is_nan()), body, true)
        }
        's' | 'r' => {
            let text = if s.kind == 's' {
                display(v, budget)?
            } else {
                repr(v, budget)?
            };
            let text = match s.precision {
                Some(p) => text.chars().take(p).collect(),
                None => text,
            };
            ("", text, false)
        }
        'c' => {
            let c = match v {
                Value::String(t) if t.chars().count() == 1 => t.clone(),
                _ => {
                    let n = integer(v, 'c')?;
                    u32::try_from(n)
                        .ok()
                        .and_then(char::from_u32)
                        .ok_or_else(|| err("%c arg not in range(0x110000)"))?
                        .to_string()
                }
            };
            ("", c, false)
        }
        other => return Err(err(format!("unsupported format character '{other}'"))),
    };
    let len = prefix.chars().count() + body.chars().count();
    let pad = s.width.saturating_sub(len);
    budget.string((len + pad) as u64)?;
    let mut out = String::with_capacity(len + pad);
    if s.left {
        out.push_str(prefix);
        out.push_str(&body);
        out.extend(std::iter::repeat_n(' ', pad));
    } else if s.zero && numeric {
        out.push_str(prefix);
        out.extend(std::iter::repeat_n('0', pad));
        out.push_str(&body);
    } else {
        out.extend(std::iter::repeat_n(' ', pad));
        out.push_str(prefix);
        out.push_str(&body);
    }
    Ok(out)
}

/// `format % values`, as Python formats a string with `%`.
pub(crate) fn format(format: &str, values: &Value, budget: &mut Budget) -> Result<Value, ExprError> {
    let (count, keyed) = positional_count(format)?;
    let args: Vec<&Value> = match values {
        Value::Array(items) if count != 1 || items.len() == 1 => items.iter().collect(),
        Value::Object(_) if keyed => Vec::new(),
        one => vec![one],
    };
    let mut next = args.into_iter();
    let mut out = String::new();
    budget.string(format.len() as u64)?;
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        budget.steps(1)?;
        let Some(s) = spec(&mut chars)? else {
            out.push('%');
            continue;
        };
        let v = match &s.key {
            Some(k) => match values {
                Value::Object(o) => o.get(k).ok_or_else(|| err(format!("KeyError: '{k}'")))?,
                _ => return Err(err("format requires a mapping")),
            },
            None => next
                .next()
                .ok_or_else(|| err("not enough arguments for format string"))?,
        };
        out.push_str(&convert(&s, v, budget)?);
    }
    if next.next().is_some() {
        return Err(err("not all arguments converted during string formatting"));
    }
    Ok(Value::String(out))
}

#[cfg(test)]
mod tests {
    use super::format;
    use crate::expr::limits::Budget;
    use crate::expr::EvalLimits;
    use serde_json::{json, Value};

    fn f(fmt: &str, v: Value) -> Result<String, String> {
        let mut b = Budget::new(EvalLimits::default());
        format(fmt, &v, &mut b)
            .map(|v| v.as_str().unwrap_or_default().to_string())
            .map_err(|e| e.message)
    }

    #[test]
    fn formats_as_python_does() {
        assert_eq!(f("refill count = %d", json!(3)).unwrap(), "refill count = 3");
        assert_eq!(f("%s-%s", json!(["a", 1])).unwrap(), "a-1");
        assert_eq!(
            f("%5.2f|%-4d|%04d|%+d|%x|%%", json!([1.23456, 7, 42, 5, 255])).unwrap(),
            " 1.23|7   |0042|+5|ff|%"
        );
        assert_eq!(f("%(a)s and %(b)r", json!({"a": 1, "b": "x"})).unwrap(), "1 and 'x'");
        assert_eq!(f("%d", json!(2.9)).unwrap(), "2");
        assert_eq!(f("%.2s", json!("abc")).unwrap(), "ab");
        assert!(f("%d %d", json!([1])).unwrap_err().contains("not enough arguments"));
        assert!(f("%d %d", json!([1, 2, 3]))
            .unwrap_err()
            .contains("not all arguments converted"));
        assert!(f("%d", json!("x")).unwrap_err().contains("real number is required"));
        assert!(f("%q", json!(1)).unwrap_err().contains("unsupported format character"));
    }

    #[test]
    fn a_huge_width_is_a_limit_error() {
        let e = f("%999999999999d", json!(1)).unwrap_err();
        assert!(e.contains("max_bytes") || e.contains("EvalLimits"), "{e}");
    }
}
