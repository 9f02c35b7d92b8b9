//! The model's limits are configurable: how deep subprocesses nest and how many XML nodes a
//! file may hold, each reported at a file:line:column.

use servicetask_bpmn::{parse, parse_with, Limits};

fn nested(levels: usize) -> String {
    let mut s = String::from(
        r#"<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"><process id="p"><startEvent id="s"/>"#,
    );
    for i in 0..levels {
        s.push_str(&format!("\n<subProcess id=\"sp{i}\"><startEvent id=\"s{i}\"/>"));
    }
    s.push_str(&"</subProcess>".repeat(levels));
    s.push_str("</process></definitions>");
    s
}

#[test]
fn the_nesting_limit_is_configurable() {
    let xml = nested(5);
    let (_, diags) = parse("n.bpmn", xml.as_bytes());
    assert!(!diags.iter().any(|d| d.is_error()), "{diags:?}");
    let tight = Limits {
        max_nesting: 3,
        ..Limits::default()
    };
    let (_, diags) = parse_with("n.bpmn", xml.as_bytes(), &tight);
    let errs: Vec<String> = diags.iter().filter(|d| d.is_error()).map(ToString::to_string).collect();
    assert!(!errs.is_empty(), "{diags:?}");
    assert!(errs.iter().all(|e| e.contains("more than 3")), "{errs:#?}");
    // the container where reading stopped: its own line
    assert!(errs[0].starts_with("n.bpmn:5:1:"), "{errs:#?}");
}

#[test]
fn the_xml_node_limit_is_configurable() {
    let xml = nested(50);
    let small = Limits {
        max_xml_nodes: 100,
        ..Limits::default()
    };
    let (_, diags) = parse_with("n.bpmn", xml.as_bytes(), &small);
    let errs: Vec<String> = diags.iter().filter(|d| d.is_error()).map(ToString::to_string).collect();
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert!(
        errs[0].starts_with("n.bpmn:") && errs[0].contains("invalid XML"),
        "{}",
        errs[0]
    );
}
