//! Finds the functions a Python-style script or expression calls that the expression language
//! does not have, so `validate` reports them instead of a run failing on them. The names are
//! found by a light scan of the source (identifiers followed by `(`, outside string literals
//! and comments, not methods after a `.`); whether a name is a function is asked of the
//! evaluator itself, so the list of builtins lives in one place (`expr`). FEEL and JUEL
//! sources are not scanned (FEEL names hold spaces; JUEL calls Java methods).

use crate::expr::{self, Dialect};
use serde_json::Map;

/// Python keywords that may stand before a parenthesis without being calls.
const KEYWORDS: &[&str] = &[
    "if", "elif", "else", "while", "for", "in", "not", "and", "or", "is", "return", "lambda", "del", "assert", "yield",
    "print", "def", "class", "import", "from", "with", "as", "True", "False", "None",
];

/// The names `src` calls that the expression language has no function for, in order, once.
pub fn unknown_functions(src: &str) -> Vec<String> {
    let (dialect, _) = expr::detect_dialect(src);
    if dialect != Dialect::Python {
        return Vec::new();
    }
    let mut out: Vec<String> = Vec::new();
    for name in called_names(src) {
        if KEYWORDS.contains(&name.as_str()) || out.contains(&name) {
            continue;
        }
        if !is_function(&name) {
            out.push(name);
        }
    }
    out
}

/// True when the evaluator has a function `name`: called without arguments it does not say
/// "unknown function", or it is one that only takes keyword arguments (`timedelta`).
fn is_function(name: &str) -> bool {
    let plain = match expr::evaluate(&format!("{name}()"), &Map::new()) {
        Ok(_) => true,
        Err(e) => !e.message.starts_with("unknown function"),
    };
    plain
        || match expr::evaluate(&format!("{name}(_=0)"), &Map::new()) {
            Ok(_) => true,
            Err(e) => !e.message.contains("takes no keyword arguments"),
        }
}

/// Identifiers directly followed by `(` (spaces allowed), outside strings and comments, not
/// after a `.`.
fn called_names(src: &str) -> Vec<String> {
    let chars: Vec<char> = src.chars().collect();
    let mut names = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '#' {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
            continue;
        }
        if c == '\'' || c == '"' {
            // a string literal (triple-quoted too): skip to its end
            let triple = chars.get(i + 1) == Some(&c) && chars.get(i + 2) == Some(&c);
            let quote_len = if triple { 3 } else { 1 };
            i += quote_len;
            while i < chars.len() {
                if chars[i] == '\\' {
                    i += 2;
                    continue;
                }
                if chars[i] == c && (!triple || (chars.get(i + 1) == Some(&c) && chars.get(i + 2) == Some(&c))) {
                    i += quote_len;
                    break;
                }
                i += 1;
            }
            continue;
        }
        if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let name: String = chars[start..i].iter().collect();
            let after_dot = chars[..start].iter().rev().find(|c| !c.is_whitespace()) == Some(&'.');
            let mut j = i;
            while j < chars.len() && (chars[j] == ' ' || chars[j] == '\t') {
                j += 1;
            }
            // a string prefix (f'...', r"...") is not a name
            let prefix = chars.get(i).is_some_and(|c| *c == '\'' || *c == '"');
            if !after_dot && !prefix && chars.get(j) == Some(&'(') {
                names.push(name);
            }
            continue;
        }
        i += 1;
    }
    names
}

#[cfg(test)]
mod tests {
    use super::unknown_functions;

    #[test]
    fn finds_only_the_functions_the_language_lacks() {
        assert_eq!(unknown_functions("x = custom_function(a)"), ["custom_function"]);
        assert_eq!(
            unknown_functions("y = len(xs) + max(1, 2)\nxs.append(3)"),
            Vec::<String>::new()
        );
        assert_eq!(unknown_functions("s = 'call(me)' # nor(this)"), Vec::<String>::new());
        assert_eq!(unknown_functions("if (a):\n    b = foo(1) + foo(2)"), ["foo"]);
        assert_eq!(unknown_functions("=distinct values([1, 1])"), Vec::<String>::new());
        assert_eq!(unknown_functions("${execution.getVariable('x')}"), Vec::<String>::new());
        assert_eq!(unknown_functions("z = f'{a}' + str(b)"), Vec::<String>::new());
        assert_eq!(unknown_functions("d = timedelta(seconds=5)"), Vec::<String>::new());
    }
}
