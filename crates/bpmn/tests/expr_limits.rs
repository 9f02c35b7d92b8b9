//! Regression tests for the crash classes of issue 10 in the expression language: overflowing
//! arithmetic from variables, deep expressions, growing strings and lists, nested loops. Each
//! must end in a clear error naming what went wrong, never a panic, an abort or a runaway
//! allocation. They run on the default test thread (2 MiB of stack), so a recursion the limits
//! miss would overflow it.

use proptest::prelude::*;
use serde_json::{json, Map, Value};
use servicetask_bpmn::expr::{evaluate, run_script, EvalLimits, Expression, Script};

fn vars(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn err(src: &str, v: &Map<String, Value>) -> String {
    match evaluate(src, v) {
        Ok(x) => panic!("{src} evaluated to {x}, expected an error"),
        Err(e) => e.to_string(),
    }
}

fn script_err(src: &str) -> String {
    match run_script(src, &mut Map::new()) {
        Ok(()) => panic!("the script ran to its end, expected an error:\n{src}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn overflowing_arithmetic_from_variables_is_an_error() {
    let v = vars(json!({"amount": i64::MIN, "divisor": -1, "big": i64::MAX, "huge": 1e300}));
    // i64::MIN % -1 is 0 in Python: the condition holds
    assert_eq!(evaluate("amount % divisor == 0", &v).unwrap(), json!(true));
    for (src, what) in [
        ("amount // divisor", "overflow"),
        ("-amount", "overflow"),
        ("abs(amount)", "overflow"),
        ("big + 1", "overflow"),
        ("amount - 1", "overflow"),
        ("big * 2", "overflow"),
        ("2 ** 64", "overflow"),
        ("big ** big", "overflow"),
        ("int(huge)", "does not fit"),
        ("round(huge)", "does not fit"),
        ("amount // 0", "by zero"),
        ("amount % 0", "by zero"),
        ("1e999", "too large"),
    ] {
        let e = err(src, &v);
        assert!(e.contains(what), "{src}: {e}");
    }
    // FEEL numbers are decimals: an integer overflow is not an error there, and wrong types are null
    assert_eq!(evaluate("=amount % divisor", &v).unwrap(), json!(0));
    assert_eq!(evaluate("=big + 1", &v).unwrap(), json!(9.223372036854776e18));
    assert_eq!(evaluate("=amount // divisor", &v).unwrap(), json!(9.223372036854776e18));
    assert_eq!(evaluate("=amount / 0", &v).unwrap(), Value::Null);
}

#[test]
fn a_20000_term_sum_is_an_error_not_a_stack_overflow() {
    let src = vec!["1"; 20_000].join(" + ");
    let e = err(&src, &Map::new());
    assert!(e.contains("nested too deeply") && e.contains("max_depth"), "{e}");
    let e = Script::parse(&format!("x = {src}")).unwrap_err().to_string();
    assert!(e.contains("max_depth"), "{e}");
}

#[test]
fn deep_nesting_of_every_kind_is_an_error() {
    let n = 50_000;
    for src in [
        format!("{}1{}", "(".repeat(n), ")".repeat(n)),
        format!("{}1{}", "[".repeat(n), "]".repeat(n)),
        format!("{}1{}", "{'a': ".repeat(n), "}".repeat(n)),
        format!("{}x", "not ".repeat(n)),
        format!("{}1", "-".repeat(n)),
        format!("x{}", ".a".repeat(n)),
        format!("x{}", "[0]".repeat(n)),
        format!("f(x){}", ".upper()".repeat(n)),
        format!("={}1{}", "(".repeat(n), ")".repeat(n)),
        format!("={}", "if true then ".repeat(n)),
        format!("{}1", "1 if True else ".repeat(n)),
        format!("f'{}'", "{f'".repeat(n)),
    ] {
        let e = Expression::parse(&src).expect_err(&src[..40.min(src.len())]);
        assert!(!e.message.is_empty());
    }
    // a script nests blocks, not just expressions
    let mut deep = String::new();
    for i in 0..2_000 {
        deep.push_str(&format!("{}if True:\n", " ".repeat(i)));
    }
    deep.push_str(&format!("{}x = 1\n", " ".repeat(2_000)));
    assert!(script_err(&deep).contains("nested too deeply"));
}

#[test]
fn an_expression_at_the_depth_limit_evaluates() {
    // the limit stops runaway input, not ordinary expressions
    let limits = EvalLimits::default();
    let src = vec!["1"; limits.max_depth - 2].join(" + ");
    assert_eq!(evaluate(&src, &Map::new()).unwrap(), json!(limits.max_depth - 2));
    let nested = format!("{}1{}", "(".repeat(40), ")".repeat(40));
    assert_eq!(evaluate(&nested, &Map::new()).unwrap(), json!(1));
}

#[test]
fn growing_strings_stop_before_they_are_allocated() {
    let v = vars(json!({"s": "x".repeat(9_000_000)}));
    let e = err("s + s", &v);
    assert!(e.contains("max_string_len"), "{e}");
    let e = err("s * 100000000000", &v);
    assert!(e.contains("max_string_len"), "{e}");
    let e = err("'ab' * 9223372036854775807", &v);
    assert!(e.contains("max_string_len"), "{e}");
    let e = err("s.replace('', 'yy')", &v);
    assert!(e.contains("max_string_len"), "{e}");
    let e = err("'-'.join([s, s])", &v);
    assert!(e.contains("max_string_len"), "{e}");
    let e = err("f'{s}{s}'", &v);
    assert!(e.contains("max_string_len"), "{e}");
    // a 9 MB string appended in a loop: the memory budget stops it, not the machine
    let mut v2 = v.clone();
    let e = Script::parse("parts = []\nwhile True:\n    parts.append(s)")
        .unwrap()
        .run(&mut v2)
        .unwrap_err()
        .to_string();
    assert!(e.contains("max_bytes"), "{e}");
    let e = script_err("t = 'x'\nwhile True:\n    t += t");
    assert!(e.contains("max_string_len"), "{e}");
}

#[test]
fn growing_lists_stop_before_they_are_allocated() {
    for (src, limit) in [
        ("[0] * 100000000000", "max_collection_len"),
        ("[0] * 9223372036854775807", "max_collection_len"),
        ("range(100000000000)", "max_collection_len"),
        ("range(-9223372036854775807, 9223372036854775807)", "max_collection_len"),
        ("[x for x in range(2000000)]", "max_collection_len"),
        ("('a' * 5000000).split('a')", "max_collection_len"),
        ("len([c for c in 'ab' * 5000000])", "max_collection_len"),
    ] {
        let e = err(src, &Map::new());
        assert!(e.contains(limit), "{src}: {e}");
    }
    // doubling a list: the step budget stops it first; without it, the size limits do
    let e = script_err("xs = [0]\nwhile True:\n    xs += xs");
    assert!(e.contains("max_steps"), "{e}");
    let unlimited_steps = EvalLimits {
        max_steps: u64::MAX,
        ..EvalLimits::default()
    };
    let unbounded = |src: &str| {
        Script::parse(src)
            .unwrap()
            .run_with(&mut Map::new(), &[], &unlimited_steps)
            .unwrap_err()
            .to_string()
    };
    let e = unbounded("xs = [0]\nwhile True:\n    xs += xs");
    assert!(e.contains("max_collection_len") || e.contains("max_bytes"), "{e}");
    let e = script_err("x = []\nwhile True:\n    x = [x]");
    assert!(e.contains("max_depth"), "{e}");
    let e = script_err("x = {}\nwhile True:\n    x = {'a': x}");
    assert!(e.contains("max_depth"), "{e}");
    let e = script_err("x = []\ny = x\nwhile True:\n    x.append(y)\n    y = x");
    assert!(e.contains("max_steps"), "{e}");
    let e = unbounded("x = []\ny = x\nwhile True:\n    x.append(y)\n    y = x");
    assert!(e.contains("max_depth") || e.contains("max_bytes"), "{e}");
}

#[test]
fn nested_loops_share_one_step_budget() {
    // each loop alone is within the budget; together they are not
    let limits = EvalLimits {
        max_steps: 200_000,
        ..EvalLimits::default()
    };
    let inner = Script::parse("t = 0\nfor i in range(20000):\n    t += 1").unwrap();
    inner.run_with(&mut Map::new(), &[], &limits).unwrap();
    let nested = Script::parse("t = 0\nfor i in range(20000):\n    for j in range(20000):\n        t += 1").unwrap();
    let e = nested.run_with(&mut Map::new(), &[], &limits).unwrap_err().to_string();
    assert!(e.contains("max_steps = 200000"), "{e}");
    // a comprehension inside a loop counts against the same budget
    let comp = Script::parse("for i in range(1000):\n    xs = [j for j in range(1000)]").unwrap();
    let e = comp.run_with(&mut Map::new(), &[], &limits).unwrap_err().to_string();
    assert!(e.contains("max_steps"), "{e}");
    // the default budget stops the case (a large comprehension in a long loop)
    let e = script_err("for i in range(1000000):\n    xs = [j for j in range(1000000)]");
    assert!(e.contains("max_steps") || e.contains("max_bytes"), "{e}");
}

#[test]
fn ordinary_scripts_run_within_the_defaults() {
    // appends and += work in place: 100,000 of them are cheap
    let mut v = Map::new();
    run_script(
        "xs = []\ns = ''\nfor i in range(100000):\n    xs.append(i)\n    s += 'a'\nn = len(xs) + len(s)",
        &mut v,
    )
    .unwrap();
    assert_eq!(v.get("n"), Some(&json!(200_000)));
    // reading an item of a large list in a loop does not copy the list
    let mut v = vars(json!({"items": (0..20_000).map(|i| json!({"price": i})).collect::<Vec<_>>()}));
    run_script(
        "total = 0\nfor i in range(len(items)):\n    total += items[i]['price']",
        &mut v,
    )
    .unwrap();
    assert_eq!(v.get("total"), Some(&json!(199_990_000)));
}

#[test]
fn limit_errors_name_the_limit_and_how_to_raise_it() {
    let limits = EvalLimits {
        max_collection_len: 10,
        ..EvalLimits::default()
    };
    let e = Expression::parse("range(11)")
        .unwrap()
        .eval_with(&[], &limits)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("max_collection_len = 10") && e.contains("raise EvalLimits::max_collection_len"),
        "{e}"
    );
    assert_eq!(
        Expression::parse("range(10)").unwrap().eval_with(&[], &limits).unwrap(),
        json!([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    );
}

const EXTREMES: &[i64] = &[i64::MIN, i64::MIN + 1, -1, 0, 1, 2, 63, 64, i64::MAX - 1, i64::MAX];

fn operand() -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::sample::select(EXTREMES).prop_map(|i| i.to_string()),
        Just("a".to_string()),
        Just("b".to_string()),
        Just("f".to_string()),
        any::<i64>().prop_map(|i| i.to_string()),
        Just("1.5e308".to_string()),
    ]
}

fn arithmetic() -> impl Strategy<Value = String> {
    operand().prop_recursive(4, 32, 2, |inner| {
        let ops = proptest::sample::select(vec!["+", "-", "*", "/", "//", "%", "**", "<", "==", "and", "or"]);
        prop_oneof![
            (inner.clone(), ops, inner.clone()).prop_map(|(l, o, r)| format!("({l} {o} {r})")),
            inner.clone().prop_map(|e| format!("-({e})")),
            inner.clone().prop_map(|e| format!("abs({e})")),
            inner.clone().prop_map(|e| format!("int({e})")),
            inner.clone().prop_map(|e| format!("round({e})")),
            inner.prop_map(|e| format!("range({e})")),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// Whatever the operands, arithmetic ends in a value or an error, in every dialect.
    #[test]
    fn arithmetic_on_extreme_integers_never_panics(
        src in arithmetic(),
        a in proptest::sample::select(EXTREMES),
        b in proptest::sample::select(EXTREMES),
    ) {
        let v = vars(json!({"a": a, "b": b, "f": -0.5}));
        let _ = evaluate(&src, &v);
        let _ = evaluate(&format!("={src}"), &v);
        let _ = run_script(&format!("x = {src}\nx += a\nx -= b\nx *= b\nx //= a\nx %= b\nx **= 2"), &mut v.clone());
    }
}

#[test]
fn the_deepest_expressions_the_limits_allow_run_on_a_2_mib_thread() {
    // max_depth is capped at MAX_DEPTH_CEILING; up to there the parser and the evaluator grow
    // their stack as they go, and dropping the tree fits in what is left
    let limits = EvalLimits {
        max_depth: usize::MAX,
        ..EvalLimits::default()
    };
    let n = servicetask_bpmn::expr::MAX_DEPTH_CEILING / 2 - 10;
    let neg = format!("{}1{}", "(-".repeat(n), ")".repeat(n));
    let e = Expression::parse_with(&neg, &limits).unwrap();
    assert_eq!(e.eval_with(&[], &limits).unwrap(), json!(1));
    let sum = vec!["1"; 2 * n].join(" + ");
    let e = Expression::parse_with(&sum, &limits).unwrap();
    assert_eq!(e.eval_with(&[], &limits).unwrap(), json!(2 * n));
    let deeper = vec!["1"; 3 * n].join(" + ");
    let err = Expression::parse_with(&deeper, &limits).unwrap_err();
    assert!(err.message.contains("max_depth = 2000"), "{err}");
}

/// Runs `src` within `limits`, the step budget unbounded.
fn run_with_bytes(src: &str, max_bytes: u64) -> Result<(), String> {
    let limits = EvalLimits {
        max_steps: u64::MAX,
        max_bytes,
        ..EvalLimits::default()
    };
    Script::parse(src)
        .unwrap()
        .run_with(&mut Map::new(), &[], &limits)
        .map_err(|e| e.to_string())
}

#[test]
fn loop_variables_are_held_memory_and_rebinding_them_frees_only_what_they_held() {
    // each round binds `y` to a copy of `s` (1,000 bytes), rebinds it, and keeps a copy in
    // `parts`: 5 MB in all. Loop variables once went uncounted while `y = 0` still credited the
    // copy it dropped, so the budget stayed flat however much `parts` grew.
    let src = "parts = []\ns = 'x' * 1000\nfor i in range(5000):\n    for y in [s]:\n        pass\n    y = 0\n    parts.append(s)";
    let e = run_with_bytes(src, 1 << 20).unwrap_err();
    assert!(e.contains("max_bytes"), "{e}");
    // the same without the loop variable is stopped at the same limit
    let e = run_with_bytes(
        "parts = []\ns = 'x' * 1000\nfor i in range(5000):\n    parts.append(s)",
        1 << 20,
    )
    .unwrap_err();
    assert!(e.contains("max_bytes"), "{e}");
    // a loop over a large list holds it while it runs, and gives it back when it ends
    let src =
        "xs = ['x' * 1000 for i in range(400)]\nfor x in xs:\n    pass\nxs = 0\nys = ['y' * 1000 for i in range(400)]";
    run_with_bytes(src, 1 << 20).unwrap();
    let e = run_with_bytes(
        "xs = ['x' * 1000 for i in range(400)]\nfor x in xs:\n    ys = ['y' * 1000 for i in range(400)]",
        1 << 20,
    )
    .unwrap_err();
    assert!(e.contains("max_bytes"), "{e}");
}

#[test]
fn removals_from_the_front_of_a_list_are_charged_for_the_items_they_move() {
    // each removal moves the items after it: 20,000 removals from the front move 200 million,
    // which is over the default budget; they once cost a few steps each (and re-measured the
    // whole list twice per call, uncharged)
    for src in [
        "xs = [0] * 20000\nfor i in range(20000):\n    xs.pop(0)",
        "xs = [0] * 20000\nfor i in range(20000):\n    v = xs.pop(0)",
        "xs = [0] * 20000\nfor i in range(20000):\n    xs.remove(0)",
        "xs = [1] * 20000\nfor i in range(20000):\n    xs.insert(0, 1)\n    xs.pop()",
    ] {
        let e = script_err(src);
        assert!(e.contains("max_steps"), "{src}: {e}");
    }
    // from the back, nothing moves: 20,000 pops fit the default budget
    let mut v = Map::new();
    run_script(
        "xs = [0] * 20000\nfor i in range(20000):\n    xs.pop()\nn = len(xs)",
        &mut v,
    )
    .unwrap();
    assert_eq!(v.get("n"), Some(&json!(0)));
}

#[test]
fn indexing_a_long_string_is_charged_for_the_bytes_walked() {
    // `s[-1]` walks from the end, `s[i]` from the start: a UTF-8 string has no fixed positions
    let mut v = Map::new();
    run_script("s = 'a' * 1000000\nx = s[-1] + s[0]", &mut v).unwrap();
    assert_eq!(v.get("x"), Some(&json!("aa")));
    // reading the middle of a 10 MB string in a loop: once a few steps per round (minutes of
    // work within the budget), now the bytes walked
    let e = script_err("s = 'a' * 10000000\nwhile True:\n    c = s[5000000]");
    assert!(e.contains("max_steps"), "{e}");
}
