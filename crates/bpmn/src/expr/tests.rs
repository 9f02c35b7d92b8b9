//! Tests of the expression language as a whole: conditions in each dialect, scripts, limits.

use super::*;
use serde_json::json;

fn vars(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

#[test]
fn python_conditions() {
    let v = vars(json!({"x": 2, "answer": "Yes", "error": true, "u": 1}));
    assert_eq!(evaluate("x > 1", &v).unwrap(), json!(true));
    assert_eq!(evaluate("answer == 'Yes'", &v).unwrap(), json!(true));
    assert_eq!(evaluate("True", &v).unwrap(), json!(true));
    assert_eq!(evaluate("error", &v).unwrap(), json!(true));
    assert_eq!(evaluate("x > 1 and not u < 0 or False", &v).unwrap(), json!(true));
    assert_eq!(evaluate("x * 2 + 1", &v).unwrap(), json!(5));
    assert_eq!(evaluate("x / 4", &v).unwrap(), json!(0.5));
    assert_eq!(evaluate("None", &v).unwrap(), Value::Null);
}

#[test]
fn feel_conditions() {
    let v = vars(json!({"x": 2, "order": {"total": 10}}));
    assert_eq!(evaluate("=x > 1", &v).unwrap(), json!(true));
    assert_eq!(evaluate("= x = 2", &v).unwrap(), json!(true));
    assert_eq!(
        evaluate("=order.total >= 10 and missing = null", &v).unwrap(),
        json!(true)
    );
    assert_eq!(
        evaluate("=if x > 1 then \"big\" else \"small\"", &v).unwrap(),
        json!("big")
    );
    assert_eq!(evaluate("=not(x = 2)", &v).unwrap(), json!(false));
    assert_eq!(evaluate("=4 / 2", &v).unwrap(), json!(2));
}

#[test]
fn juel_conditions() {
    let v = vars(json!({"ok": true}));
    assert_eq!(evaluate("${ok == true}", &v).unwrap(), json!(true));
    assert_eq!(evaluate("${missing}", &v).unwrap(), Value::Null);
}

#[test]
fn undefined_python_name_is_a_clear_error() {
    let err = evaluate("y > 1", &Map::new()).unwrap_err();
    assert_eq!(err.to_string(), "name 'y' is not defined");
}

#[test]
fn comparing_incompatible_types_is_an_error() {
    let v = vars(json!({"s": "a"}));
    assert!(evaluate("s > 1", &v).is_err());
}

#[test]
fn scripts_assign_and_delete() {
    let mut v = vars(json!({"v": 0, "u": 1, "remove_me": 1, "input_data": [1, 2, 3]}));
    run_script(
        "v += 1\nu += v\nname = 'World'\ndel(remove_me)\nprint(name)\ninput_data = [ x + 1 for x in input_data ]\nd.k = 3",
        &mut v,
    )
    .unwrap();
    assert_eq!(
        Value::Object(v),
        json!({"v": 1, "u": 2, "name": "World", "input_data": [2, 3, 4], "d": {"k": 3}})
    );
}

#[test]
fn script_errors_name_the_line() {
    let err = run_script("a = 1\nb = a +", &mut Map::new()).unwrap_err();
    assert!(err.to_string().starts_with("script line 2:"), "{err}");
    let err = run_script("import os", &mut Map::new()).unwrap_err();
    assert!(err.to_string().contains("module 'os' cannot be imported"), "{err}");
    let err = run_script("class A: pass", &mut Map::new()).unwrap_err();
    assert!(err.to_string().contains("not supported"), "{err}");
    let err = run_script("if x:\ny = 1", &mut Map::new()).unwrap_err();
    assert!(err.to_string().contains("expected an indented block"), "{err}");
}

#[test]
fn layered_reads_fall_through_and_writes_stay_local() {
    let parent = vars(json!({"items": [1, 2], "total": 10, "o": {"a": 1}}));
    let mut local = vars(json!({"item": 2}));
    let script = Script::parse("total += item\no.b = 2\nx = len(items)").unwrap();
    script.run_layered(&mut local, &[&parent]).unwrap();
    assert_eq!(
        Value::Object(local.clone()),
        json!({"item": 2, "total": 12, "o": {"a": 1, "b": 2}, "x": 2})
    );
    assert_eq!(parent.get("total"), Some(&json!(10)));
    let e = Expression::parse("item + total").unwrap();
    assert_eq!(e.eval_layers(&[&local, &parent]).unwrap(), json!(14));
}

#[test]
fn runaway_expressions_stop_with_an_error() {
    let e = evaluate("[[y for y in range(100000)] for x in range(100000)]", &Map::new()).unwrap_err();
    assert!(e.to_string().contains("over the limit max_"), "{e}");
    assert!(evaluate("'ab' * 100000000", &Map::new()).is_err());
}

#[test]
fn python_blocks_methods_and_fstrings() {
    let mut v = vars(json!({"items": [1, 2, 3, 4], "d": {"a": 1}, "name": "Bob"}));
    run_script(
        "total = 0\nevens = []\nfor i in items:\n    if i % 2 == 0:\n        evens.append(i)\n    elif i == 3:\n        continue\n    else:\n        pass\n    total += i\nn = 0\nwhile n < 3: n += 1\nfor k, val in d.items():\n    d[k] = val * 10\ngreeting = f'Hi {name}, {total:.1f} {{ok}}'\nitems[0] = 9\nwait = timedelta(seconds=5, minutes=1)",
        &mut v,
    )
    .unwrap();
    assert_eq!(v.get("evens"), Some(&json!([2, 4])));
    assert_eq!(v.get("total"), Some(&json!(7)));
    assert_eq!(v.get("n"), Some(&json!(3)));
    assert_eq!(v.get("d"), Some(&json!({"a": 10})));
    assert_eq!(v.get("greeting"), Some(&json!("Hi Bob, 7.0 {ok}")));
    assert_eq!(v.get("items"), Some(&json!([9, 2, 3, 4])));
    assert_eq!(v.get("wait"), Some(&json!("PT65S")));
    let err = run_script("while True:\n    x = 1", &mut Map::new()).unwrap_err();
    assert!(err.to_string().contains("max_steps"), "{err}");
}

#[test]
fn statements_continue_over_lines_as_in_python() {
    // implicit joining inside brackets (SpiffWorkflow's ScriptTest.bpmn), and a backslash
    let mut v = Map::new();
    run_script(
        "testvar2 = [{'x':1,'y':'a'},\n            {'x':2,'y':'b'},  # a comment\n             {'x':3,'y':'c'}]\nn = len(testvar2) + \\\n    1\nif n > 3:\n    ok = (n,\n          'yes')",
        &mut v,
    )
    .unwrap();
    assert_eq!(v.get("n"), Some(&json!(4)));
    assert_eq!(v.get("ok"), Some(&json!([4, "yes"])));
    assert_eq!(v.get("testvar2").and_then(|t| t[2]["y"].as_str()), Some("c"));
    let err = run_script("a = 1\nb = [1,\n  2", &mut Map::new()).unwrap_err();
    assert!(err.to_string().starts_with("script line 2:"), "{err}");
}

#[test]
fn builtins() {
    let v = vars(json!({"xs": [3, 1, 2], "s": "abc"}));
    assert_eq!(evaluate("len(xs)", &v).unwrap(), json!(3));
    assert_eq!(evaluate("sum(xs)", &v).unwrap(), json!(6));
    assert_eq!(evaluate("min(xs)", &v).unwrap(), json!(1));
    assert_eq!(evaluate("max(4, 9)", &v).unwrap(), json!(9));
    assert_eq!(evaluate("str(1) + s", &v).unwrap(), json!("1abc"));
    assert_eq!(evaluate("int('42') + float('0.5')", &v).unwrap(), json!(42.5));
    assert_eq!(evaluate("=count(xs)", &v).unwrap(), json!(3));
    assert_eq!(evaluate("'b' in s", &v).unwrap(), json!(true));
    assert_eq!(evaluate("xs[-1]", &v).unwrap(), json!(2));
    assert_eq!(evaluate("=xs[1]", &v).unwrap(), json!(3));
}
