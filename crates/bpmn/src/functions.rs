//! Finds the functions a Python-style script or expression calls that the expression language
//! does not have, so `validate` reports them instead of a run failing on them. The calls are
//! read from the parsed tree (the evaluator's own parser: strings, comments, f-strings and
//! methods are told apart exactly as a run tells them apart), and whether a name is a function
//! is asked of the evaluator's builtins, so the list of builtins lives in one place (`expr`).
//! FEEL and JUEL sources are not checked (FEEL names hold spaces; JUEL calls Java methods).

use crate::expr::{self, Dialect, Expression, Functions, Script};

/// The names `src` calls that the expression language has no function for, in order, once;
/// the host's registered `functions` and a script's own `def`s and `from ... import`s are
/// known. A source that does not parse has none: its parse error is reported on its own.
pub fn unknown_functions_in(src: &str, functions: &Functions) -> Vec<String> {
    let (dialect, _) = expr::detect_dialect(src);
    if dialect != Dialect::Python {
        return Vec::new();
    }
    let called = match Expression::parse(src) {
        Ok(e) => e.called_functions(),
        Err(_) => match Script::parse(src) {
            Ok(s) => s.called_functions(),
            Err(_) => return Vec::new(),
        },
    };
    called
        .into_iter()
        .filter(|name| !expr::is_function(name) && !functions.contains(name))
        .collect()
}

#[cfg(test)]
mod tests {
    fn unknown_functions(src: &str) -> Vec<String> {
        super::unknown_functions_in(src, &crate::expr::Functions::new())
    }

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
        assert_eq!(
            unknown_functions("def f():\n    return 1\nx = f()"),
            Vec::<String>::new()
        );
    }

    #[test]
    fn registered_functions_are_known() {
        let mut f = crate::expr::Functions::new();
        f.register("custom_function", |_| Ok(serde_json::Value::Null));
        let src = "print('refill count = %d' % custom_function())";
        assert_eq!(unknown_functions(src), ["custom_function"]);
        assert_eq!(super::unknown_functions_in(src, &f), Vec::<String>::new());
    }

    #[test]
    fn reads_calls_from_the_tree_not_the_text() {
        // a call inside an f-string's braces is a call; text that only looks like one is not
        assert_eq!(unknown_functions("f'{shout(name)}'"), ["shout"]);
        assert_eq!(unknown_functions("'it''s(not)' + \"a(call)\""), Vec::<String>::new());
        assert_eq!(unknown_functions("'a\\'b(c)' == x"), Vec::<String>::new());
        // calls inside comprehensions, conditions and subscripts; names in order, once
        assert_eq!(unknown_functions("[g(v) for v in h(xs) if k(v)]"), ["h", "k", "g"]);
        assert_eq!(
            unknown_functions("xs[idx(1)] = f(2)\nwhile w(1):\n    f(3)"),
            ["idx", "f", "w"]
        );
        // a method is not a function, whatever its name
        assert_eq!(unknown_functions("x.custom(1)"), Vec::<String>::new());
        // a source that does not parse has no calls to report (its parse error is reported)
        assert_eq!(unknown_functions("foo((("), Vec::<String>::new());
    }
}
