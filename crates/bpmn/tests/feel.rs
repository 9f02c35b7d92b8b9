//! FEEL as Zeebe users write it, checked against the semantics of the DMN specification
//! (DMN 1.4, chapter 10: FEEL), section by section: null propagation, three-valued logic,
//! quantifiers, `for`, ranges, contexts, filters, names with spaces and the built-in
//! functions' own examples (§10.3.4). Also Python's `vars()` / `globals()` as SpiffWorkflow
//! evaluates them (`eval(expression, task_data)`: both are the task data).

use serde_json::{json, Map, Value};
use servicetask_bpmn::expr::evaluate;

fn vars(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn feel(src: &str, v: &Value) -> Value {
    evaluate(&format!("={src}"), &vars(v.clone())).unwrap_or_else(|e| panic!("={src}: {e}"))
}

fn check(cases: &[(&str, Value)], v: &Value) {
    for (src, want) in cases {
        assert_eq!(&feel(src, v), want, "={src}");
    }
}

#[test]
fn null_propagates_through_operators() {
    // §10.3.2.9.x: arithmetic and comparison with null, or on operands of the wrong type, are null
    let v = json!({"x": 1, "s": "a"});
    check(
        &[
            ("null + 1", Value::Null),
            ("missing + 1", Value::Null),
            ("missing > 1", Value::Null),
            ("x < s", Value::Null),
            ("s + x", Value::Null),
            ("1 / 0", Value::Null),
            ("-s", Value::Null),
            ("missing.field", Value::Null),
            ("null = null", json!(true)),
            ("x = null", json!(false)),
            ("x != null", json!(true)),
            ("1 = 1.0", json!(true)),
            ("\"a\" + \"b\"", json!("ab")),
            ("if null then 1 else 2", json!(2)),
            ("if x > 0 then \"pos\" else \"neg\"", json!("pos")),
        ],
        &v,
    );
}

#[test]
fn conjunction_and_disjunction_are_three_valued() {
    // §10.3.2.5, table "Semantics of conjunction and disjunction"
    let v = json!({"t": true, "f": false, "s": "text"});
    check(
        &[
            ("t and t", json!(true)),
            ("t and f", json!(false)),
            ("t and null", Value::Null),
            ("f and null", json!(false)),
            ("null and f", json!(false)),
            ("t or null", json!(true)),
            ("null or t", json!(true)),
            ("f or null", Value::Null),
            ("f or f", json!(false)),
            ("s and t", Value::Null),
            ("not(t)", json!(false)),
            ("not(null)", Value::Null),
        ],
        &v,
    );
}

#[test]
fn quantifiers_for_and_ranges() {
    // §10.3.2.12-14
    let v = json!({"xs": [1, 2, 3], "none": [], "price": 7});
    check(
        &[
            ("some x in xs satisfies x > 2", json!(true)),
            ("every x in xs satisfies x > 2", json!(false)),
            ("every x in xs satisfies x > 0", json!(true)),
            ("some x in none satisfies true", json!(false)),
            ("every x in none satisfies false", json!(true)),
            ("some x in [1, null] satisfies x > 1", Value::Null),
            ("for x in xs return x * 2", json!([2, 4, 6])),
            ("for i in [1..3] return i", json!([1, 2, 3])),
            ("price in [1..10]", json!(true)),
            ("price in [8..10]", json!(false)),
            ("5 in [1..9223372036854775807]", json!(true)),
            ("2 in xs", json!(true)),
        ],
        &v,
    );
}

#[test]
fn contexts_paths_and_filters() {
    // §10.3.2.6 (contexts), §10.3.2.7 (paths over lists), §10.3.2.5 (filters)
    let v = json!({"orders": [{"id": "a", "total": 5}, {"id": "b", "total": 50}], "xs": [1, 2, 3]});
    check(
        &[
            ("{a: 1, b: a + 1}.b", json!(2)),
            ("{a: {b: 1}}.a.b", json!(1)),
            ("orders.id", json!(["a", "b"])),
            ("orders[total > 10].id", json!(["b"])),
            ("xs[item > 1]", json!([2, 3])),
            ("xs[1]", json!(1)),
            ("xs[-1]", json!(3)),
            ("xs[4]", Value::Null),
        ],
        &v,
    );
}

#[test]
fn names_with_spaces() {
    let v = json!({"order total": 150, "customer name": "Ada"});
    check(
        &[
            ("order total > 100", json!(true)),
            ("order total > 100 and customer name = \"Ada\"", json!(true)),
            ("if order total > 100 then \"big\" else \"small\"", json!("big")),
        ],
        &v,
    );
}

#[test]
fn built_in_functions_match_the_specification_examples() {
    // §10.3.4: each example is the specification's own
    check(
        &[
            ("string length(\"foo\")", json!(3)),
            ("substring(\"foobar\", 3)", json!("obar")),
            ("substring(\"foobar\", -2, 1)", json!("a")),
            ("substring(\"héllo wörld\", 2, 4)", json!("éllo")),
            ("substring(\"héllo wörld\", -4)", json!("örld")),
            ("substring(\"héllo\", 2, 100)", json!("éllo")),
            ("upper case(\"aBc4\")", json!("ABC4")),
            ("lower case(\"aBc4\")", json!("abc4")),
            ("contains(\"foobar\", \"of\")", json!(false)),
            ("starts with(\"foobar\", \"fo\")", json!(true)),
            ("ends with(\"foobar\", \"r\")", json!(true)),
            ("list contains([1, 2, 3], 2)", json!(true)),
            ("count([1, 2, 3])", json!(3)),
            ("min([1, 2, 3])", json!(1)),
            ("max(1, 2, 3)", json!(3)),
            ("sum([1, 2, 3])", json!(6)),
            ("append([1], 2, 3)", json!([1, 2, 3])),
            ("concatenate([1, 2], [3])", json!([1, 2, 3])),
            ("distinct values([1, 2, 3, 2, 1])", json!([1, 2, 3])),
            ("floor(1.5)", json!(1)),
            ("floor(-1.5)", json!(-2)),
            ("ceiling(1.5)", json!(2)),
            ("ceiling(-1.5)", json!(-1)),
            ("abs(-10)", json!(10)),
            ("get value({a: 1}, \"a\")", json!(1)),
            ("string length(null)", Value::Null),
        ],
        &json!({}),
    );
}

#[test]
fn zeebe_literal_mappings() {
    // Zeebe input mappings: source="=&quot;literal&quot;" and numbers
    check(
        &[
            ("\"literal\"", json!("literal")),
            ("42", json!(42)),
            ("4.5", json!(4.5)),
            ("true", json!(true)),
        ],
        &json!({}),
    );
}

#[test]
fn python_vars_and_globals_are_the_task_data() {
    // SpiffWorkflow evaluates `eval(expression, task_data)`: vars() and globals() are that dict
    let v = vars(json!({"x": 1, "name": "Ada"}));
    assert_eq!(evaluate("'x' in vars()", &v).unwrap(), json!(true));
    assert_eq!(evaluate("'y' in globals()", &v).unwrap(), json!(false));
    assert_eq!(evaluate("vars().get('y', 5)", &v).unwrap(), json!(5));
    assert_eq!(evaluate("globals()['name']", &v).unwrap(), json!("Ada"));
    assert_eq!(evaluate("len(vars())", &v).unwrap(), json!(2));
    let mut data = v.clone();
    servicetask_bpmn::expr::run_script("if 'y' not in globals():\n    y = x + 1", &mut data).unwrap();
    assert_eq!(data.get("y"), Some(&json!(2)));
}
