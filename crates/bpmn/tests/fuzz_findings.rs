//! Inputs found while fuzzing (crates/fuzz: AFL++ and its probes), each kept as a test named
//! after what it found, asserting the clear error that replaced the crash or the stall.

use servicetask_bpmn::{parse, validate, Definitions, Diagnostic, ElementKind, FlowElement, Position, MAX_NESTING};

fn nested_subprocesses(levels: usize) -> String {
    let mut s = String::from(
        r#"<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"><process id="p"><startEvent id="s"/>"#,
    );
    for i in 0..levels {
        s.push_str(&format!("\n<subProcess id=\"sp{i}\">"));
    }
    s.push_str(r#"<task id="t"/>"#);
    s.push_str(&"</subProcess>".repeat(levels));
    s.push_str("</process></definitions>");
    s
}

fn errors(diags: &[Diagnostic]) -> Vec<&Diagnostic> {
    diags.iter().filter(|d| d.is_error()).collect()
}

#[test]
fn seven_thousand_nested_subprocesses_are_an_error_not_a_stack_overflow() {
    let (defs, diags) = parse("deep.bpmn", nested_subprocesses(7_000).as_bytes());
    let errs = errors(&diags);
    assert_eq!(errs.len(), 1, "{errs:#?}");
    let e = errs[0];
    assert!(
        e.message.contains(&format!("nested more than {MAX_NESTING} levels")),
        "{e}"
    );
    // the container where reading stopped: line 1 + its depth (one per line)
    assert_eq!(
        e.position,
        Position {
            line: MAX_NESTING as u32 + 2,
            column: 1
        }
    );
    assert!(e.help.contains("callActivity"));
    assert_eq!(defs.processes[0].elements.len(), MAX_NESTING + 2);
}

#[test]
fn nesting_at_the_limit_is_accepted() {
    let (defs, diags) = parse("deep.bpmn", nested_subprocesses(MAX_NESTING).as_bytes());
    assert!(errors(&diags).is_empty(), "{diags:#?}");
    assert!(defs.processes[0].element("t").is_some());
}

#[test]
fn eight_thousand_tasks_on_one_line_get_their_columns() {
    // positions were computed by rescanning the file per element (quadratic: 43 s here before)
    let mut s = String::from(r#"<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"><process id="p">"#);
    let prefix = s.chars().count();
    for i in 0..8_000 {
        s.push_str(&format!(r#"<task id="t{i:05}"/>"#));
    }
    s.push_str("</process></definitions>");
    let (defs, _) = parse("flat.bpmn", s.as_bytes());
    let last = &defs.processes[0].elements[7_999];
    let width = r#"<task id="t00000"/>"#.len();
    assert_eq!(
        last.position,
        Position {
            line: 1,
            column: (prefix + 7_999 * width + 1) as u32
        }
    );
}

fn model(elements: Vec<FlowElement>) -> Definitions {
    let mut defs: Definitions = parse(
        "m.bpmn",
        br#"<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"><process id="p"/></definitions>"#,
    )
    .0;
    defs.processes[0].elements = elements;
    defs
}

fn element(id: &str, kind: ElementKind, parent: Option<&str>) -> FlowElement {
    let mut e = FlowElement::new(id, kind, Position { line: 1, column: 1 });
    e.parent = parent.map(str::to_string);
    e
}

#[test]
fn subprocesses_that_contain_each_other_are_an_error() {
    // only a model built in code (or deserialised) can say this; the engine must not walk it
    let defs = model(vec![
        element("a", ElementKind::SubProcess, Some("b")),
        element("b", ElementKind::SubProcess, Some("a")),
    ]);
    let diags = validate(&defs);
    let errs = errors(&diags);
    assert!(
        errs.iter()
            .any(|d| d.message.contains("contain each other") && d.message.contains("'a'")),
        "{errs:#?}"
    );
}

#[test]
fn an_element_inside_an_unknown_container_is_an_error() {
    let defs = model(vec![element("t", ElementKind::Task, Some("nowhere"))]);
    let diags = validate(&defs);
    assert!(
        errors(&diags).iter().any(|d| d.message.contains("inside 'nowhere'")),
        "{diags:#?}"
    );
}

#[test]
fn dates_with_a_year_or_offset_past_the_calendar_are_errors_not_overflows() {
    // AFL++ on the expr target: each overflowed i64 in the day arithmetic (panicked with
    // overflow checks on, gave a wrong time without)
    for text in [
        "2233777777724-01-01T0:0:00:00ZP777777777777I7777>=36",
        "24-01-01T-912337243685477580",
        "8888888882024-01-01T00:00:00Z",
        "6136-11-026-10,10T-05375894125372429:12Z",
        "2024-01-01T00:00:00+99999999999999:00",
        "10000-01-01T00:00:00Z",
    ] {
        let e = servicetask_bpmn::timer::parse_date(text).expect_err(text);
        assert_eq!(e.what, "date");
    }
    assert_eq!(
        servicetask_bpmn::timer::parse_date("9999-12-31T23:59:59Z"),
        Ok(253_402_300_799)
    );
    assert_eq!(
        servicetask_bpmn::timer::parse_date("0000-01-01T00:00:00Z"),
        Ok(-62_167_219_200)
    );
}

#[test]
fn runaway_scripts_found_as_hangs_stop_at_the_step_budget() {
    use serde_json::json;
    use servicetask_bpmn::expr::{evaluate, run_script};
    // AFL++ saved these as hangs over 1 s when the default budget was 10 million steps: each
    // ended with the budget error, too late (the expr target evaluates an input three ways)
    let Some(mut vars) = json!({"s": "text", "d": {"a": {"b": [1, 2, 3]}, "k": "v"}, "x": [1, {"a": 2}, "s"]})
        .as_object()
        .cloned()
    else {
        unreachable!("an object literal")
    };
    for src in ["while 3:s", "while 3:d", "while.1:0", "while 000000000<000001:0"] {
        let e = run_script(src, &mut vars.clone()).unwrap_err().to_string();
        assert!(e.contains("max_steps = 1000000"), "{src}: {e}");
    }
    // 203,608 copies of a three-item list holding an object: refused before the copies are
    // made (an object is counted with its map's allocation, about 640 bytes)
    let e = evaluate("203608*x", &vars).unwrap_err().to_string();
    assert!(e.contains("max_bytes"), "{e}");
    let e = run_script("y = 203608*x\n+b+b", &mut vars).unwrap_err().to_string();
    assert!(e.contains("max_bytes"), "{e}");
}
