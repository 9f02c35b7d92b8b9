//! `expressionLanguage` and `scriptFormat` as declared (BPMN 2.0 §8.3.4 / §10.3.3): FEEL is
//! evaluated as FEEL, Python as Python; a language servicetask does not evaluate is a `validate`
//! error naming it at the expression's line, not a generic parse error. Also what `validate`
//! reports for the limits: literal cardinalities and expressions nested too deeply. Python-style
//! scripts' list and dict methods give what python3 gives (run beside them).

mod common;

use common::{python3, servicetask};
use serde_json::{json, Map};
use servicetask_bpmn::expr::{evaluate, EvalLimits};
use servicetask_bpmn::{parse, validate_with, Diagnostic, Limits, LoopCharacteristics};

fn model(definitions_attrs: &str, body: &str) -> String {
    format!(
        r#"<?xml version="1.0"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" {definitions_attrs}>
<process id="p"><startEvent id="s"/><sequenceFlow id="f0" sourceRef="s" targetRef="g"/>
<exclusiveGateway id="g" default="fno"/>
{body}
<sequenceFlow id="fno" sourceRef="g" targetRef="no"/><endEvent id="yes"/><endEvent id="no"/>
</process></definitions>"#
    )
}

fn flow(lang_attr: &str, cond: &str) -> String {
    format!(
        r#"<sequenceFlow id="fyes" sourceRef="g" targetRef="yes">
<conditionExpression {lang_attr}>{cond}</conditionExpression></sequenceFlow>"#
    )
}

fn errors(diags: &[Diagnostic]) -> Vec<String> {
    diags.iter().filter(|d| d.is_error()).map(ToString::to_string).collect()
}

fn condition(xml: &str) -> String {
    let (defs, _) = parse("l.bpmn", xml.as_bytes());
    defs.processes[0]
        .flows
        .iter()
        .find(|f| f.id == "fyes")
        .and_then(|f| f.condition.clone())
        .unwrap()
}

const FEEL: &str = r#"expressionLanguage="https://www.omg.org/spec/DMN/20191111/FEEL/""#;

#[test]
fn a_feel_condition_is_evaluated_as_feel() {
    // declared on the expression: `=` is equality, names may hold spaces
    let xml = model("", &flow(FEEL, "order total = 100"));
    let (_, diags) = parse("l.bpmn", xml.as_bytes());
    assert!(errors(&diags).is_empty(), "{diags:?}");
    let cond = condition(&xml);
    let vars = json!({"order total": 100}).as_object().cloned().unwrap();
    assert_eq!(evaluate(&cond, &vars).unwrap(), json!(true));
    // declared on the definitions: the default of every expression without its own
    let xml = model(FEEL, &flow("", "missing > 1"));
    assert_eq!(evaluate(&condition(&xml), &Map::new()).unwrap(), json!(null));
    // an explicit Python declaration on the expression wins over the definitions' FEEL
    let xml = model(FEEL, &flow(r#"expressionLanguage="python""#, "x == 1"));
    let vars = json!({"x": 1}).as_object().cloned().unwrap();
    assert_eq!(evaluate(&condition(&xml), &vars).unwrap(), json!(true));
}

#[test]
fn an_xpath_condition_is_an_error_naming_xpath() {
    let xml = model(
        "",
        &flow(
            r#"expressionLanguage="http://www.w3.org/1999/XPath""#,
            "count(/order/item) &gt; 1",
        ),
    );
    let (_, diags) = parse("l.bpmn", xml.as_bytes());
    let errs = errors(&diags);
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert!(
        errs[0].contains("XPath") && errs[0].contains("does not evaluate"),
        "{}",
        errs[0]
    );
    // at the conditionExpression's own line
    assert!(errs[0].starts_with("l.bpmn:6:1:"), "{}", errs[0]);
}

#[test]
fn a_definitions_level_default_we_do_not_evaluate_is_a_warning() {
    // Signavio writes expressionLanguage="XPath" on every file, whatever its expressions are
    let xml = model(
        r#"expressionLanguage="http://www.w3.org/1999/XPath""#,
        &flow("", "x &gt; 1"),
    );
    let (_, diags) = parse("l.bpmn", xml.as_bytes());
    assert!(errors(&diags).is_empty(), "{diags:?}");
    assert!(diags.iter().any(|d| d.message.contains("XPath")), "{diags:?}");
    // no expression under it: nothing to say
    let (_, diags) = parse(
        "l.bpmn",
        model(r#"expressionLanguage="http://www.w3.org/1999/XPath""#, "").as_bytes(),
    );
    assert!(!diags.iter().any(|d| d.message.contains("XPath")), "{diags:?}");
}

#[test]
fn a_groovy_script_is_an_error_naming_groovy() {
    let body =
        r#"<scriptTask id="t" scriptFormat="groovy"><script>execution.setVariable("x", 1)</script></scriptTask>"#;
    let (_, diags) = parse("l.bpmn", model("", body).as_bytes());
    let errs = errors(&diags);
    assert!(
        errs.iter().any(|e| e.contains("Groovy") && e.contains("scriptFormat")),
        "{errs:#?}"
    );
    let body = r#"<scriptTask id="t" scriptFormat="python"><script>x = 1</script></scriptTask>"#;
    let (_, diags) = parse("l.bpmn", model("", body).as_bytes());
    assert!(errors(&diags).is_empty(), "{diags:?}");
}

#[test]
fn zeebe_static_and_literal_mapping_sources_validate() {
    let body = r#"<serviceTask id="t"><extensionElements><zeebe:taskDefinition type="x"/><zeebe:ioMapping>
<zeebe:input source="=&quot;literal&quot;" target="a"/><zeebe:input source="=42" target="b"/>
<zeebe:input source="a static value, not an expression" target="c"/>
</zeebe:ioMapping></extensionElements></serviceTask>"#;
    let (_, diags) = parse("l.bpmn", model("", body).as_bytes());
    assert!(errors(&diags).is_empty(), "{diags:?}");
}

fn mi(cardinality: &str) -> String {
    model(
        "",
        &format!(
            r#"<scriptTask id="t"><script>x = 1</script><multiInstanceLoopCharacteristics>
<loopCardinality>{cardinality}</loopCardinality></multiInstanceLoopCharacteristics></scriptTask>"#
        ),
    )
}

#[test]
fn literal_cardinalities_over_the_limit_are_validate_errors() {
    for lit in ["1e12", "100000000", "99999999999999999999", "-1", "2.5"] {
        let (_, diags) = parse("l.bpmn", mi(lit).as_bytes());
        let errs = errors(&diags);
        assert!(
            errs.iter().any(|e| e.contains("loop cardinality of 't'")),
            "{lit}: {errs:#?}"
        );
    }
    let (_, diags) = parse("l.bpmn", mi("100000").as_bytes());
    assert!(errors(&diags).is_empty(), "{diags:?}");
    // a cardinality read from a variable is checked at run time
    let (_, diags) = parse("l.bpmn", mi("n").as_bytes());
    assert!(errors(&diags).is_empty(), "{diags:?}");
    // validate checks against the limits it is given (an engine's)
    let (defs, _) = parse("l.bpmn", mi("6").as_bytes());
    assert!(matches!(
        defs.processes[0]
            .elements
            .iter()
            .find(|e| e.id == "t")
            .and_then(|e| e.loop_characteristics.clone()),
        Some(LoopCharacteristics::MultiInstance(_))
    ));
    let small = Limits {
        max_instances: 5,
        ..Limits::default()
    };
    let errs = errors(&validate_with(&defs, &small));
    assert!(errs.iter().any(|e| e.contains("max_instances = 5")), "{errs:#?}");
}

#[test]
fn expressions_deeper_than_the_limit_are_validate_errors() {
    let deep = vec!["1"; 200].join(" + ");
    let (defs, diags) = parse("l.bpmn", model("", &flow("", &format!("{deep} &gt; 0"))).as_bytes());
    let errs = errors(&diags);
    assert!(errs.iter().any(|e| e.contains("max_depth = 100")), "{errs:#?}");
    let roomy = Limits {
        eval: EvalLimits {
            max_depth: 500,
            ..EvalLimits::default()
        },
        ..Limits::default()
    };
    assert!(errors(&validate_with(&defs, &roomy)).is_empty());
}

#[test]
fn expressions_that_fail_whatever_the_variables_are_validate_errors() {
    for cond in [
        "9223372036854775807 + 1 &gt; 0",
        "1 // 0 == 1",
        "'ab' * 100000000000 == ''",
        "=\"a\" &lt; 1 and 2 ** 64 &gt; 0",
    ] {
        let (_, diags) = parse("l.bpmn", model("", &flow("", cond)).as_bytes());
        let errs = errors(&diags);
        if cond.starts_with('=') {
            // FEEL: wrong types are null, not errors, and its integers do not overflow
            assert!(errs.is_empty(), "{cond}: {errs:#?}");
        } else {
            assert!(
                errs.iter().any(|e| e.contains("fails whatever the variables")),
                "{cond}: {errs:#?}"
            );
        }
    }
    // a condition over variables is checked at run time
    let (_, diags) = parse("l.bpmn", model("", &flow("", "x // 0 == 1")).as_bytes());
    assert!(errors(&diags).is_empty(), "{diags:?}");
}

#[test]
fn list_and_dict_methods_give_what_python_gives() {
    let cases: &[(&str, &[&str])] = &[
        // pop takes an index (it once always took the last item) and gives the item back
        ("xs = [1, 2, 3, 4]\nxs.pop(0)", &["xs"]),
        (
            "xs = [1, 2, 3, 4]\nv = xs.pop(1)\nw = xs.pop(-1)\nu = xs.pop()",
            &["xs", "v", "w", "u"],
        ),
        ("xs = [1, 2, 3]\nxs.pop(3)", &["xs"]),
        ("xs = [1, 2, 3]\nxs.pop(-4)", &["xs"]),
        ("xs = []\nxs.pop()", &["xs"]),
        ("xs = [1, 2]\nxs.pop('a')", &["xs"]),
        ("v = [3, 1].pop()", &["v"]),
        (
            "d = {'a': 1, 'b': 2}\nv = d.pop('a')\nw = d.pop('z', 7)",
            &["d", "v", "w"],
        ),
        ("d = {'a': 1}\nd.pop('z')", &["d"]),
        ("xs = [1, 2, 1, 3]\nxs.remove(1)", &["xs"]),
        ("xs = [1, 2]\nxs.remove(5)", &["xs"]),
        (
            "xs = [1, 2, 3]\nxs.insert(-1, 9)\nxs.insert(100, 8)\nxs.insert(-100, 7)",
            &["xs"],
        ),
        ("xs = [1, 2]\nd = {'a': 1}\nxs.clear()\nd.clear()", &["xs", "d"]),
        (
            "xs = [1]\nxs.extend([2, 3])\nxs.append([4])\nd = {'a': 1}\nd.update({'b': 2})",
            &["xs", "d"],
        ),
        // loop variables outlive their loop; pairs unpack
        (
            "t = 0\nfor k, v in [[1, 2], [3, 4]]:\n    t += k * v\nlast = v",
            &["t", "last"],
        ),
        (
            "q = [1, 2, 3]\nseen = []\nwhile q:\n    seen.append(q.pop(0))",
            &["q", "seen"],
        ),
    ];
    for (src, names) in cases {
        let want = python3(src, names);
        let got = servicetask(src, names);
        match (&want, &got) {
            (Ok(w), Ok(g)) => assert_eq!(g, w, "{src}"),
            (Err(_), Err(_)) => {}
            _ => panic!("{src}\npython3: {want:?}\nservicetask: {got:?}"),
        }
    }
}
