//! Tokenizer of the expression language: turns source text into tokens with byte offsets.

use super::ExprError;

/// One token of an expression.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    Int(i64),
    Float(f64),
    Str(String),
    /// An f-string's raw text (parts are parsed by the parser).
    FStr(String),
    Ident(String),
    /// Operator or punctuation, such as `==`, `(`, `+=`.
    Op(&'static str),
    Eof,
}

/// A token and the byte offset where it starts.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Spanned {
    pub tok: Tok,
    pub offset: usize,
}

const OPS: &[&str] = &[
    "**=", "//=", "==", "!=", "<=", ">=", "&&", "||", "+=", "-=", "*=", "/=", "%=", "**", "//", "(", ")", "[", "]",
    "{", "}", ",", ":", "..", ".", "+", "-", "*", "/", "%", "<", ">", "=", "!",
];

/// A number literal read as a float: it must be finite (`1e999` is an error, not infinity).
fn float_literal(text: &str, start: usize) -> Result<f64, ExprError> {
    match text.parse::<f64>() {
        Ok(f) if f.is_finite() => Ok(f),
        Ok(_) => Err(ExprError::at(start, format!("number '{text}' is too large"))),
        Err(_) => Err(ExprError::at(start, format!("invalid number '{text}'"))),
    }
}

/// Splits `src` into tokens; the last token is always `Tok::Eof`.
pub(crate) fn tokenize(src: &str) -> Result<Vec<Spanned>, ExprError> {
    let bytes = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if c == b'#' {
            // comment to end of line
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        let start = i;
        if c.is_ascii_digit() || (c == b'.' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit)) {
            let mut is_float = false;
            while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'_') {
                i += 1;
            }
            if i < bytes.len() && bytes[i] == b'.' && bytes.get(i + 1).is_none_or(|b| b.is_ascii_digit()) {
                is_float = true;
                i += 1;
                while i < bytes.len() && bytes[i].is_ascii_digit() {
                    i += 1;
                }
            }
            if i < bytes.len() && (bytes[i] == b'e' || bytes[i] == b'E') {
                let mut j = i + 1;
                if j < bytes.len() && (bytes[j] == b'+' || bytes[j] == b'-') {
                    j += 1;
                }
                if j < bytes.len() && bytes[j].is_ascii_digit() {
                    is_float = true;
                    i = j;
                    while i < bytes.len() && bytes[i].is_ascii_digit() {
                        i += 1;
                    }
                }
            }
            let text: String = src[start..i].chars().filter(|c| *c != '_').collect();
            let tok = if is_float {
                Tok::Float(float_literal(&text, start)?)
            } else {
                match text.parse::<i64>() {
                    Ok(v) => Tok::Int(v),
                    Err(_) => Tok::Float(float_literal(&text, start)?),
                }
            };
            out.push(Spanned { tok, offset: start });
            continue;
        }
        if c == b'\'' || c == b'"' {
            let quote = c;
            i += 1;
            let mut s = String::new();
            let mut closed = false;
            while i < bytes.len() {
                let ch = src[i..].chars().next().unwrap_or('\0');
                let b = bytes[i];
                if b == quote {
                    closed = true;
                    i += 1;
                    break;
                }
                if b == b'\\' && i + 1 < bytes.len() {
                    let next = src[i + 1..].chars().next().unwrap_or('\0');
                    let mapped = match next {
                        'n' => '\n',
                        't' => '\t',
                        'r' => '\r',
                        other => other,
                    };
                    s.push(mapped);
                    i += 1 + next.len_utf8();
                    continue;
                }
                s.push(ch);
                i += ch.len_utf8().max(1);
            }
            if !closed {
                return Err(ExprError::at(start, "unterminated string literal".to_string()));
            }
            out.push(Spanned {
                tok: Tok::Str(s),
                offset: start,
            });
            continue;
        }
        let ch = src[i..].chars().next().unwrap_or('\0');
        if ch.is_alphabetic() || ch == '_' || ch == '$' {
            while i < bytes.len() {
                let ch = src[i..].chars().next().unwrap_or('\0');
                if ch.is_alphanumeric() || ch == '_' || ch == '$' {
                    i += ch.len_utf8();
                } else {
                    break;
                }
            }
            let word = &src[start..i];
            if matches!(word, "f" | "F") && i < bytes.len() && (bytes[i] == b'\'' || bytes[i] == b'"') {
                let quote = bytes[i];
                let mut j = i + 1;
                let mut raw = String::new();
                let mut closed = false;
                while j < bytes.len() {
                    let ch = src[j..].chars().next().unwrap_or('\0');
                    if bytes[j] == quote {
                        closed = true;
                        j += 1;
                        break;
                    }
                    raw.push(ch);
                    j += ch.len_utf8().max(1);
                }
                if !closed {
                    return Err(ExprError::at(start, "unterminated f-string".to_string()));
                }
                i = j;
                out.push(Spanned {
                    tok: Tok::FStr(raw),
                    offset: start,
                });
                continue;
            }
            out.push(Spanned {
                tok: Tok::Ident(src[start..i].to_string()),
                offset: start,
            });
            continue;
        }
        let rest = &src[i..];
        match OPS.iter().find(|op| rest.starts_with(**op)) {
            Some(op) => {
                i += op.len();
                out.push(Spanned {
                    tok: Tok::Op(op),
                    offset: start,
                });
            }
            None => {
                return Err(ExprError::at(start, format!("unexpected character '{ch}'")));
            }
        }
    }
    out.push(Spanned {
        tok: Tok::Eof,
        offset: src.len(),
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokenizes_numbers_strings_and_operators() {
        let toks: Vec<Tok> = tokenize("x >= 1.5 and 'a\\'b' != \"c\"")
            .unwrap()
            .into_iter()
            .map(|s| s.tok)
            .collect();
        assert_eq!(
            toks,
            vec![
                Tok::Ident("x".into()),
                Tok::Op(">="),
                Tok::Float(1.5),
                Tok::Ident("and".into()),
                Tok::Str("a'b".into()),
                Tok::Op("!="),
                Tok::Str("c".into()),
                Tok::Eof
            ]
        );
    }

    #[test]
    fn unterminated_string_is_an_error() {
        assert!(tokenize("'abc").is_err());
    }

    #[test]
    fn unexpected_character_is_an_error() {
        let err = tokenize("a ? b").unwrap_err();
        assert!(err.to_string().contains("unexpected character"));
    }
}
