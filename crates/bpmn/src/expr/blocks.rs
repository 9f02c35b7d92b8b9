//! Reads a script's layout: physical lines joined into logical lines as Python joins them,
//! indentation into nested blocks, compound statement headers (`if`/`elif`/`else`, `for`,
//! `while`, `def`) into statements; each simple line goes to the [`Parser`].

use super::ast::{Block, FuncDef, Stmt};
use super::parser::Parser;
use super::{Dialect, ExprError};
use std::sync::Arc;

/// A logical line of a script: physical lines joined while a bracket is open or a line ends
/// with `\\`, as Python joins them; `no` is its first physical line.
struct Line<'a> {
    no: usize,
    indent: usize,
    text: std::borrow::Cow<'a, str>,
}

/// Calls `f` with each character of `text` outside strings and before a comment, with its
/// byte offset and the brackets open after it.
fn scan_code(text: &str, mut f: impl FnMut(usize, char, i64)) {
    let mut depth = 0i64;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        match quote {
            Some(_) if escaped => escaped = false,
            Some(_) if c == '\\' => escaped = true,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => quote = Some(c),
            None if c == '#' => break,
            None => {
                match c {
                    '(' | '[' | '{' => depth += 1,
                    ')' | ']' | '}' => depth -= 1,
                    _ => {}
                }
                f(i, c, depth);
            }
        }
    }
}

/// Brackets left open at the end of `text` (outside strings and comments).
fn open_brackets(text: &str) -> i64 {
    let mut open = 0;
    scan_code(text, |_, _, depth| open = depth);
    open
}

/// The logical lines of a script, without blank and comment lines.
fn logical_lines(text: &str) -> Vec<Line<'_>> {
    let mut out = Vec::new();
    // a logical line still open: its first line, indent, text so far and open brackets
    let mut pending: Option<(usize, usize, String, i64)> = None;
    for (i, l) in text.lines().enumerate() {
        let t = l.trim();
        let (no, indent, mut acc, depth) = match pending.take() {
            Some((no, indent, mut acc, depth)) => {
                acc.push('\n');
                acc.push_str(t);
                (no, indent, acc, depth + open_brackets(t))
            }
            None if t.is_empty() || t.starts_with('#') => continue,
            None => {
                let indent = l
                    .chars()
                    .take_while(|c| c.is_whitespace())
                    .map(|c| if c == '\t' { 8 } else { 1 })
                    .sum();
                if open_brackets(t) <= 0 && !t.ends_with('\\') {
                    out.push(Line {
                        no: i + 1,
                        indent,
                        text: std::borrow::Cow::Borrowed(t),
                    });
                    continue;
                }
                (i + 1, indent, t.to_string(), open_brackets(t))
            }
        };
        let continued = acc.ends_with('\\');
        if continued {
            acc.pop();
        }
        if depth > 0 || continued {
            pending = Some((no, indent, acc, depth));
        } else {
            out.push(Line {
                no,
                indent,
                text: std::borrow::Cow::Owned(acc),
            });
        }
    }
    // an unclosed bracket: the parser reports it
    if let Some((no, indent, acc, _)) = pending {
        out.push(Line {
            no,
            indent,
            text: std::borrow::Cow::Owned(acc),
        });
    }
    out
}

/// Index of the first ':' outside brackets, quotes and comments.
fn top_level_colon(text: &str) -> Option<usize> {
    let mut first = None;
    scan_code(text, |i, c, depth| {
        if c == ':' && depth == 0 && first.is_none() {
            first = Some(i);
        }
    });
    first
}

/// What script parsing needs to know: the dialect, the expression depth limit, and whether
/// the lines are a function's body.
#[derive(Clone, Copy)]
pub(crate) struct Cx {
    pub dialect: Dialect,
    pub max_depth: usize,
    /// Inside a function's body (`return` is allowed).
    pub in_function: bool,
}

fn line_err(no: usize, message: impl std::fmt::Display) -> ExprError {
    ExprError::new(format!("script line {no}: {message}"))
}

fn parse_expr_text(text: &str, cx: Cx, no: usize) -> Result<super::ast::Expr, ExprError> {
    parse_with(text, cx, no, |p| {
        let e = p.expr(0)?;
        p.expect_end()?;
        Ok(e)
    })
}

/// Runs `f` on a parser over `text`; errors name the script line.
fn parse_with<T>(
    text: &str,
    cx: Cx,
    no: usize,
    f: impl FnOnce(&mut Parser) -> Result<T, ExprError>,
) -> Result<T, ExprError> {
    let mut p = Parser::new(text, cx.dialect, cx.max_depth).map_err(|e| line_err(no, e.message))?;
    f(&mut p).map_err(|e| line_err(no, e.message))
}

/// Splits a simple line at its top-level `;` (outside brackets, quotes and comments).
fn split_semicolons(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    scan_code(text, |i, c, depth| {
        if c == ';' && depth == 0 {
            out.push(&text[start..i]);
            start = i + 1;
        }
    });
    out.push(&text[start..]);
    out
}

/// The statements of a simple line (several when `;` separates them).
fn parse_simples(text: &str, cx: Cx, no: usize) -> Result<Vec<Stmt>, ExprError> {
    let parts = split_semicolons(text);
    let last = parts.len() - 1;
    let mut out = Vec::with_capacity(parts.len());
    for (i, part) in parts.into_iter().enumerate() {
        let part = part.trim();
        // a trailing `;` ends the line as in Python; an empty statement elsewhere is an error
        if part.is_empty() && i == last && i > 0 {
            break;
        }
        out.push(parse_simple(part, cx, no)?);
    }
    Ok(out)
}

fn parse_simple(text: &str, cx: Cx, no: usize) -> Result<Stmt, ExprError> {
    match text {
        "pass" => return Ok(Stmt::Pass),
        "break" => return Ok(Stmt::Break),
        "continue" => return Ok(Stmt::Continue),
        _ => {}
    }
    let first_word = text
        .split(|c: char| !c.is_alphanumeric() && c != '_')
        .next()
        .unwrap_or("");
    if matches!(
        first_word,
        "class"
            | "try"
            | "except"
            | "finally"
            | "with"
            | "lambda"
            | "raise"
            | "global"
            | "nonlocal"
            | "yield"
            | "async"
            | "await"
            | "assert"
    ) {
        return Err(line_err(
            no,
            format!("'{first_word}' is not supported; scripts take assignments, expressions, if/for/while blocks, def and import"),
        ));
    }
    let mut p = Parser::new(text, cx.dialect, cx.max_depth).map_err(|e| line_err(no, e.message))?;
    let s = p.statement(cx.in_function).map_err(|e| line_err(no, e.message))?;
    p.expect_end().map_err(|e| line_err(no, e.message))?;
    Ok(s)
}

/// Splits a compound statement header `kw rest: body?` into (rest, inline body).
fn header<'t>(text: &'t str, kw: &str, no: usize) -> Result<(&'t str, &'t str), ExprError> {
    let rest = &text[kw.len()..];
    let colon =
        top_level_colon(rest).ok_or_else(|| line_err(no, format!("'{kw}' needs a ':' at the end of its line")))?;
    Ok((rest[..colon].trim(), rest[colon + 1..].trim()))
}

fn parse_block(lines: &[Line<'_>], i: &mut usize, indent: usize, cx: Cx, depth: usize) -> Result<Block, ExprError> {
    if depth > 32 {
        return Err(line_err(lines.get(*i).map_or(0, |l| l.no), "blocks nested too deeply"));
    }
    let mut out = Vec::new();
    while *i < lines.len() {
        let line = &lines[*i];
        if line.indent < indent {
            break;
        }
        if line.indent > indent {
            return Err(line_err(line.no, "unexpected indent"));
        }
        let t: &str = &line.text;
        let no = line.no;
        let word = t.split(|c: char| !c.is_alphanumeric() && c != '_').next().unwrap_or("");
        match word {
            "if" | "while" | "for" => {
                let (head, inline) = header(t, word, no)?;
                *i += 1;
                let body = body_of(lines, i, indent, inline, cx, depth, no)?;
                let stmt = match word {
                    "if" => {
                        let mut branches = vec![(parse_expr_text(head, cx, no)?, body)];
                        let mut otherwise = Vec::new();
                        while *i < lines.len() && lines[*i].indent == indent {
                            let l = &lines[*i];
                            let w = l
                                .text
                                .split(|c: char| !c.is_alphanumeric() && c != '_')
                                .next()
                                .unwrap_or("");
                            if w == "elif" {
                                let (h, inl) = header(&l.text, "elif", l.no)?;
                                let cond = parse_expr_text(h, cx, l.no)?;
                                let lno = l.no;
                                *i += 1;
                                branches.push((cond, body_of(lines, i, indent, inl, cx, depth, lno)?));
                            } else if w == "else" {
                                let (_, inl) = header(&l.text, "else", l.no)?;
                                let lno = l.no;
                                *i += 1;
                                otherwise = body_of(lines, i, indent, inl, cx, depth, lno)?;
                                break;
                            } else {
                                break;
                            }
                        }
                        Stmt::If { branches, otherwise }
                    }
                    "while" => Stmt::While {
                        cond: parse_expr_text(head, cx, no)?,
                        body,
                    },
                    _ => {
                        let (target, iter) = parse_with(head, cx, no, Parser::for_header)?;
                        Stmt::For { target, iter, body }
                    }
                };
                out.push((no, stmt));
            }
            "def" => {
                let (head, inline) = header(t, word, no)?;
                let (name, params) = parse_with(head, cx, no, Parser::def_header)?;
                *i += 1;
                let inner = Cx {
                    in_function: true,
                    ..cx
                };
                let body = body_of(lines, i, indent, inline, inner, depth, no)?;
                out.push((no, Stmt::Def(Arc::new(FuncDef { name, params, body }))));
            }
            "elif" | "else" => return Err(line_err(no, format!("'{word}' without a matching 'if'"))),
            _ => {
                out.extend(parse_simples(t, cx, no)?.into_iter().map(|s| (no, s)));
                *i += 1;
            }
        }
    }
    Ok(out)
}

fn body_of(
    lines: &[Line<'_>],
    i: &mut usize,
    indent: usize,
    inline: &str,
    cx: Cx,
    depth: usize,
    no: usize,
) -> Result<Block, ExprError> {
    if !inline.is_empty() {
        return Ok(parse_simples(inline, cx, no)?.into_iter().map(|s| (no, s)).collect());
    }
    match lines.get(*i) {
        Some(next) if next.indent > indent => {
            let inner = next.indent;
            parse_block(lines, i, inner, cx, depth + 1)
        }
        _ => Err(line_err(no, "expected an indented block")),
    }
}

/// Parses a whole script's text into its top-level block.
pub(crate) fn parse_script(text: &str, cx: Cx) -> Result<Block, ExprError> {
    let lines = logical_lines(text);
    let base = lines.iter().map(|l| l.indent).min().unwrap_or(0);
    let mut i = 0;
    let stmts = parse_block(&lines, &mut i, base, cx, 0)?;
    if i < lines.len() {
        return Err(line_err(lines[i].no, "unexpected indentation"));
    }
    Ok(stmts)
}
