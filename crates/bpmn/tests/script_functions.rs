//! Functions, tuples and imports in Python-style scripts, against python3 run beside them:
//! `def` with parameters, defaults, keyword arguments, `return` and recursion; tuple packing
//! and unpacking in assignments and `for` loops; `import time`. Every evaluation stays within
//! its `EvalLimits` (recursion by `max_depth`, runaway calls by `max_steps`, what frames hold
//! by `max_bytes`), never a panic, and SpiffWorkflow corpus scripts run as SpiffWorkflow ran them.

mod common;

use common::{python3, servicetask};
use proptest::prelude::*;
use serde_json::{json, Map, Value};
use servicetask_bpmn::expr::{run_script, EvalLimits, Expression, Functions, Script};

fn run(src: &str) -> Result<Map<String, Value>, String> {
    let mut vars = Map::new();
    run_script(src, &mut vars).map_err(|e| e.to_string())?;
    Ok(vars)
}

/// Scripts whose variables servicetask and python3 agree on, or that both reject; where
/// python3 raises, servicetask's message carries python3's (the error a user reads is the
/// one they would get from Python).
#[test]
fn functions_tuples_and_unpacking_give_what_python_gives() {
    let cases: &[(&str, &[&str])] = &[
        // definitions: parameters, defaults, keyword arguments, return
        ("def f(a, b=2):\n    return a * b\nx = f(3)\ny = f(3, 4)\nz = f(b=5, a=1)", &["x", "y", "z"]),
        ("def f():\n    pass\nx = f()", &["x"]),
        ("def f(x):\n    if x > 1:\n        return 'big'\n    return 'small'\na = f(2)\nb = f(0)", &["a", "b"]),
        ("def f(xs):\n    t = 0\n    for x in xs:\n        if x < 0:\n            return -1\n        t += x\n    return t\na = f([1, 2])\nb = f([1, -1, 2])", &["a", "b"]),
        ("def f(n):\n    while True:\n        n += 1\n        if n > 5:\n            return n\nv = f(0)", &["v"]),
        // recursion, and functions calling functions defined later
        ("def fact(n):\n    return 1 if n <= 1 else n * fact(n - 1)\nv = fact(10)", &["v"]),
        ("def fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\nv = fib(15)", &["v"]),
        ("def a(x):\n    return b(x) + 1\ndef b(x):\n    return x * 2\nv = a(3)", &["v"]),
        // scope: locals stay in the function, globals are read
        ("k = 10\ndef f(x):\n    y = x + k\n    return y\nv = f(1)", &["v", "k"]),
        ("y = 1\ndef f():\n    y = 5\n    return y\nv = f()", &["v", "y"]),
        // defaults are evaluated when the def runs
        ("n = 1\ndef f(x=n):\n    return x\nn = 2\nv = f()", &["v"]),
        // the call errors of Python
        ("def f(a):\n    return a\nf()", &[]),
        ("def f(a, b):\n    return a\nf()", &[]),
        ("def f(a):\n    return a\nf(1, 2)", &[]),
        ("def f(a, b=1):\n    return a\nf(1, 2, 3)", &[]),
        ("def f(a):\n    return a\nf(b=1)", &[]),
        ("def f(a):\n    return a\nf(1, a=2)", &[]),
        // tuple packing and unpacking
        ("x, y = 1, 2\nz = x + y", &["x", "y", "z"]),
        ("in_1, in_2, unused = 1, \"hello world\", True", &["in_1", "in_2", "unused"]),
        ("a, b = 1, 2\na, b = b, a", &["a", "b"]),
        ("a, (b, c) = 1, [2, 3]", &["a", "b", "c"]),
        ("(a, b) = [1, 2]\n[c, d] = 'xy'", &["a", "b", "c", "d"]),
        ("t = 1, 2,\nu = 3,", &["t", "u"]),
        ("k, v = {'a': 1, 'b': 2}", &["k", "v"]),
        ("def f():\n    return 1, 2\na, b = f()", &["a", "b"]),
        ("xs = [0, 0]\nxs[0], xs[1] = 5, 6\nd = {}\nd['a'], d['b'] = 1, 2", &["xs", "d"]),
        ("a, b = 1, 2, 3", &[]),
        ("a, b, c = 1, 2", &[]),
        ("a, b = 1", &[]),
        // unpacking in for loops, nested
        ("t = []\nfor i, (k, v) in [[0, ['a', 1]], [1, ['b', 2]]]:\n    t.append(k * v)", &["t"]),
        ("s = 0\nfor a, b in [(1, 2), (3, 4)]:\n    s += a * b", &["s"]),
        ("for a, b in [[1, 2, 3]]:\n    pass", &[]),
        // printf-style formatting with %
        ("x = 'n=%d, s=%s, f=%.2f' % (3, 'a', 1.5)", &["x"]),
        ("x = '%5d|%-5s|%05.1f|%+d|%x|%%' % (42, 'ab', 3.14159, 7, 255)", &["x"]),
        ("x = '%(a)s/%(b)d' % {'a': 'k', 'b': 2}\ny = 'refill count = %d' % 1", &["x", "y"]),
        ("x = '%d %d' % (1,)", &[]),
        ("x = '%d' % 'a'", &[]),
        // several statements on a line
        ("a = 1; b = 2;", &["a", "b"]),
        ("def f(): return 3\nv = f()", &["v"]),
    ];
    for (src, names) in cases {
        let want = python3(src, names);
        let got = servicetask(src, names);
        match (&want, &got) {
            (Ok(w), Ok(g)) => assert_eq!(g, w, "{src}"),
            (Err(w), Err(g)) => {
                let message = w.split_once(": ").map_or(w.as_str(), |(_, m)| m);
                assert!(g.contains(message), "{src}\npython3: {w}\nservicetask: {g}");
            }
            _ => panic!("{src}\npython3: {want:?}\nservicetask: {got:?}"),
        }
    }
}

#[test]
fn spiffworkflow_corpus_scripts_run() {
    // bpmn/ScriptTest.bpmn: a function defined and never called
    let mut v =
        json!({"testvar": {"a": 1, "b": 2}, "testvar2": [{"x": 1, "y": "a"}, {"x": 2, "y": "b"}, {"x": 3, "y": "c"}]})
            .as_object()
            .cloned()
            .unwrap();
    run_script(
        "def my_function() :\n   my_fun_var = 1\n\ntestvar['new'] = 'Test'\nsample = [x['y'] for x in testvar2 if x['x'] > 1]\n ",
        &mut v,
    )
    .unwrap();
    assert_eq!(v["sample"], json!(["b", "c"]));
    assert_eq!(v["testvar"]["new"], json!("Test"));
    assert!(!v.contains_key("my_function") && !v.contains_key("my_fun_var"));
    // bpmn/random_fact.bpmn: a comment line, a function with a ';', its result
    let v =
        run("#! scripts.FactService\n\ndef some_fun():\n  x = \"what fun!\"\n  return x;\n\ny = some_fun() ").unwrap();
    assert_eq!(Value::Object(v), json!({"y": "what fun!"}));
    // spiff/correlation_two_conversations.bpmn: time imported, used and deleted
    let v =
        run("import time\ntimestamp = time.time()\ntopic_one_a = f\"topic_one_a_conversation_{timestamp}\"\ndel time")
            .unwrap();
    let ts = v["timestamp"].as_f64().unwrap();
    assert!(ts > 1.7e9, "{ts}");
    assert!(v["topic_one_a"]
        .as_str()
        .unwrap()
        .starts_with("topic_one_a_conversation_1"));
    assert_eq!(v.len(), 2, "the module is no variable: {v:?}");
}

#[test]
fn imports_are_sandboxed() {
    let v = run("from time import time as now\nt = now()\nimport time as clock\nu = clock.time_ns()").unwrap();
    assert!(v["t"].is_f64() && v["u"].is_i64());
    for (src, named) in [
        ("import os\nos.system('true')", "'os'"),
        ("import subprocess", "'subprocess'"),
        ("from os import path", "'os'"),
        ("import os.path", "'os.path'"),
        ("from time import sleep", "'sleep'"),
        ("import time\ntime.sleep(1)", "'sleep'"),
    ] {
        let e = run(src).unwrap_err();
        assert!(e.contains(named), "{src}: {e}");
    }
    // a script that does not parse is refused before anything runs
    let e = Script::parse("x = 1\nimport socket").unwrap_err();
    assert!(e.to_string().starts_with("script line 2:"), "{e}");
    // a module is no value
    assert!(run("import time\nx = time").unwrap_err().contains("not a value"));
    // a variable named like a module shadows it once assigned
    assert_eq!(run("import time\ntime = 3\nx = time + 1").unwrap()["x"], json!(4));
}

#[test]
fn return_outside_a_function_and_unsupported_forms_are_parse_errors() {
    for (src, says) in [
        ("return 1", "'return' outside a function"),
        ("def f(*args):\n    pass", "'*args'"),
        ("def f(a, a):\n    pass", "duplicate argument 'a'"),
        ("def f(a=1, b):\n    pass", "follows parameter with a default"),
        ("def f():\nx = 1", "expected an indented block"),
        ("try:\n    x = 1", "'try' is not supported"),
        ("lambda x: x", "'lambda' is not supported"),
    ] {
        let e = Script::parse(src).unwrap_err().to_string();
        assert!(e.contains(says), "{src}: {e}");
    }
}

fn limits(max_steps: u64, max_depth: usize) -> EvalLimits {
    EvalLimits {
        max_steps,
        max_depth,
        ..EvalLimits::default()
    }
}

fn run_within(src: &str, l: EvalLimits) -> Result<Map<String, Value>, String> {
    let mut vars = Map::new();
    Script::parse_with(src, &l)
        .and_then(|s| s.run_with(&mut vars, &[], &l))
        .map_err(|e| e.to_string())?;
    Ok(vars)
}

#[test]
fn recursion_and_runaway_calls_stop_at_the_limits() {
    // unbounded recursion: max_depth, whatever it is set to (the stack grows as calls nest)
    for depth in [10, 100, 2_000] {
        let e = run_within("def f(n):\n    return f(n + 1)\nf(0)", limits(10_000_000, depth)).unwrap_err();
        assert!(
            e.contains(&format!("max_depth = {depth}")) && e.contains("recursion"),
            "{e}"
        );
    }
    // recursion within the depth runs
    let v = run_within(
        "def f(n):\n    return 0 if n == 0 else 1 + f(n - 1)\nv = f(90)",
        limits(1_000_000, 100),
    )
    .unwrap();
    assert_eq!(v["v"], json!(90));
    // exponential work: max_steps
    let e = run_within(
        "def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\nv = fib(40)",
        limits(200_000, 100),
    )
    .unwrap_err();
    assert!(e.contains("max_steps"), "{e}");
    // memory held by frames that are still running counts: max_bytes
    let e = run_within(
        "def f(n):\n    xs = [n] * 100000\n    return f(n + 1) + xs\nf(0)",
        EvalLimits {
            max_bytes: 8 << 20,
            ..limits(100_000_000, 1_000)
        },
    )
    .unwrap_err();
    assert!(e.contains("max_bytes"), "{e}");
    // a caller's temporaries count while the callee runs
    let e = run_within(
        "def g(n):\n    return [0] * 200000 + (g(n - 1) if n > 0 else [])\nv = g(50)",
        EvalLimits {
            max_bytes: 16 << 20,
            ..limits(100_000_000, 100)
        },
    )
    .unwrap_err();
    assert!(e.contains("max_bytes") || e.contains("max_collection_len"), "{e}");
    // a function's default values are held while it is bound, like variables
    let big = EvalLimits {
        max_bytes: 4 << 20,
        ..limits(100_000_000, 100)
    };
    let each = "'x' * 3000000";
    let e = run_within(&format!("def f(a={each}):\n    pass\ns = {each}"), big).unwrap_err();
    assert!(e.contains("max_bytes"), "{e}");
    // and released when the name is bound again, deleted, or its frame ends
    run_within(&format!("def f(a={each}):\n    pass\ndel f\ns = {each}"), big).unwrap();
    run_within(&format!("def f(a={each}):\n    pass\nf = 1\ns = {each}"), big).unwrap();
    run_within(
        &format!("def g():\n    def h(a={each}):\n        pass\n    return 1\ng()\ns = {each}"),
        big,
    )
    .unwrap();
}

#[test]
fn registered_functions_are_callable_and_known() {
    let mut f = Functions::new();
    f.register("custom_function", |args| Ok(json!(args.len() as i64 + 41)));
    f.register("fails", |_| Err("no such customer".to_string()));
    let s = Script::parse("n = custom_function(1)\nm = 'refill count = ' + str(custom_function())").unwrap();
    assert!(s.called_functions().contains(&"custom_function".to_string()));
    let mut vars = Map::new();
    s.run_in(&mut vars, &[], &EvalLimits::default(), &f).unwrap();
    assert_eq!(Value::Object(vars), json!({"n": 42, "m": "refill count = 41"}));
    let e = Expression::parse("fails()")
        .unwrap()
        .eval_in(&[], &EvalLimits::default(), &f)
        .unwrap_err();
    assert_eq!(e.to_string(), "fails(): no such customer");
    // without the registration the name is unknown
    assert!(Expression::parse("custom_function()")
        .unwrap()
        .eval(&Map::new())
        .is_err());
    // a registered function's result is charged like any value built
    let mut big = Functions::new();
    big.register("big", |_| Ok(Value::Array(vec![json!("x".repeat(1000)); 1000])));
    let tight = EvalLimits {
        max_bytes: 100_000,
        ..EvalLimits::default()
    };
    let e = Expression::parse("big()")
        .unwrap()
        .eval_in(&[], &tight, &big)
        .unwrap_err();
    assert!(e.to_string().contains("max_bytes"), "{e}");
}

/// `validate` knows a host's functions without calling them (a condition that calls one reads
/// no variable but is no static error), and reports an unknown one once.
#[test]
fn validate_knows_registered_functions_without_calling_them() {
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut f = Functions::new();
    let seen = calls.clone();
    f.register("custom_function", move |_| {
        seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(json!(1))
    });
    let xml = r#"<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"><process id="p">
<startEvent id="s"/><sequenceFlow id="f1" sourceRef="s" targetRef="g"/>
<exclusiveGateway id="g" default="f3"/>
<sequenceFlow id="f2" sourceRef="g" targetRef="t"><conditionExpression>custom_function() &gt; 0</conditionExpression></sequenceFlow>
<sequenceFlow id="f3" sourceRef="g" targetRef="e"/>
<scriptTask id="t"><script>n = custom_function()</script></scriptTask>
<sequenceFlow id="f4" sourceRef="t" targetRef="e"/><endEvent id="e"/></process></definitions>"#;
    let (_, diags) = servicetask_bpmn::parse_in("r.bpmn", xml.as_bytes(), &servicetask_bpmn::Limits::default(), &f);
    assert!(diags.iter().all(|d| !d.is_error()), "{diags:#?}");
    assert_eq!(
        calls.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "validate called the host's function"
    );
    let (_, diags) = servicetask_bpmn::parse("r.bpmn", xml.as_bytes());
    let errors: Vec<String> = diags.iter().filter(|d| d.is_error()).map(ToString::to_string).collect();
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert!(
        errors
            .iter()
            .all(|e| e.contains("'custom_function', which is not a function")),
        "{errors:#?}"
    );
}

#[test]
fn functions_a_script_defines_are_not_unknown_calls() {
    let s =
        Script::parse("def helper(x):\n    return len(x)\nfrom time import time\nv = helper([1]) + time() + other(2)")
            .unwrap();
    assert_eq!(s.called_functions(), ["len", "other"]);
}

/// A small random script: definitions, calls (recursive ones too), tuples and loops.
fn script() -> impl Strategy<Value = String> {
    let atom = prop_oneof![
        (-3i64..20).prop_map(|n| n.to_string()),
        Just("a".to_string()),
        Just("b".to_string()),
        Just("f(a)".to_string()),
        Just("g(b, 2)".to_string()),
        Just("(a, b)".to_string()),
        Just("[a, b, 1]".to_string()),
        Just("h(3)".to_string()),
    ];
    let expr = (
        atom.clone(),
        prop::sample::select(vec!["+", "-", "*", "//", "%", "<", "==", "and"]),
        atom,
    )
        .prop_map(|(l, op, r)| format!("{l} {op} {r}"));
    let stmt = prop_oneof![
        expr.clone().prop_map(|e| format!("a = {e}")),
        expr.clone().prop_map(|e| format!("a, b = {e}, a")),
        expr.clone().prop_map(|e| format!("b, a = [{e}, b]")),
        expr.clone()
            .prop_map(|e| format!("for i, j in [(1, 2), (3, 4)]:\n    a = {e}")),
        expr.clone().prop_map(|e| format!("def f(x, y=1):\n    return {e}")),
        expr.clone()
            .prop_map(|e| format!("def g(x, y):\n    return g(y, x) if x > 0 else {e}")),
        expr.prop_map(|e| format!("def h(n):\n    return h(n - 1) if n > 0 else {e}")),
    ];
    prop::collection::vec(stmt, 1..8).prop_map(|s| format!("a = 1\nb = 2\n{}", s.join("\n")))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    /// Any such script ends, within the limits, with a value or an error: no panic, no hang.
    #[test]
    fn random_scripts_with_functions_end_within_the_limits(src in script()) {
        let l = limits(20_000, 50);
        let mut vars = Map::new();
        if let Ok(s) = Script::parse_with(&src, &l) {
            let _ = s.run_with(&mut vars, &[], &l);
        }
    }

    /// Arbitrary text is parsed into a script or refused, never a panic.
    #[test]
    fn arbitrary_script_text_never_panics(src in "[a-z(),=:; \n\\[\\]*0-9]{0,60}") {
        let text = format!("def {src}");
        let _ = Script::parse(&text).map(|s| s.run(&mut Map::new()));
        let _ = Script::parse(&src).map(|s| s.run(&mut Map::new()));
    }
}
