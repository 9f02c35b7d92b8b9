//! The Rust telemetry-name constants match the semantic-convention registry YAML
//! (`semconv/registry/servicetask.yaml`, OpenTelemetry Weaver format), both ways.

use std::collections::BTreeSet;

use yaml_rust2::YamlLoader;

fn registry() -> yaml_rust2::Yaml {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../semconv/registry/servicetask.yaml");
    let text = std::fs::read_to_string(path).expect("registry file");
    YamlLoader::load_from_str(&text).expect("valid YAML").remove(0)
}

/// (section, value) of every `pub const NAME: &str = "value";` in semconv.rs.
fn constants() -> Vec<(String, String)> {
    let src = include_str!("../src/semconv.rs");
    let mut section = "attribute".to_string();
    let mut out = Vec::new();
    for line in src.lines() {
        let l = line.trim();
        if l.starts_with("pub mod event") {
            section = "event".into();
        } else if l.starts_with("pub mod metric") {
            section = "metric".into();
        }
        if let Some(rest) = l.strip_prefix("pub const ") {
            let value = rest.split('"').nth(1).expect("string constant").to_string();
            out.push((section.clone(), value));
        }
    }
    out
}

#[test]
fn every_own_attribute_constant_is_in_the_registry_and_back() {
    let reg = registry();
    let mut in_yaml = BTreeSet::new();
    for group in reg["groups"].as_vec().unwrap() {
        if group["type"].as_str() == Some("attribute_group") {
            for a in group["attributes"].as_vec().unwrap() {
                in_yaml.insert(a["id"].as_str().unwrap().to_string());
                assert!(
                    a["brief"].as_str().is_some_and(|b| !b.is_empty()),
                    "{a:?} needs a brief"
                );
                assert!(a["type"].as_str().is_some());
            }
        }
    }
    let in_rust: BTreeSet<String> = constants()
        .into_iter()
        .filter(|(s, v)| s == "attribute" && (v.starts_with("servicetask.") || v.starts_with("bpmn.")))
        .map(|(_, v)| v)
        .collect();
    assert_eq!(in_rust, in_yaml);
    assert!(in_rust.contains(servicetask_core::semconv::SERVICETASK_NAME));
}

#[test]
fn every_metric_constant_is_in_the_registry_and_back() {
    let reg = registry();
    let mut in_yaml = BTreeSet::new();
    for group in reg["groups"].as_vec().unwrap() {
        if group["type"].as_str() == Some("metric") {
            in_yaml.insert(group["metric_name"].as_str().unwrap().to_string());
            assert!(group["unit"].as_str().is_some());
            assert!(group["instrument"].as_str().is_some());
        }
    }
    let in_rust: BTreeSet<String> = constants()
        .into_iter()
        .filter(|(s, _)| s == "metric")
        .map(|(_, v)| v)
        .collect();
    assert_eq!(in_rust, in_yaml);
    assert!(in_rust.contains(servicetask_core::semconv::metric::DURATION));
}

#[test]
fn every_own_event_constant_is_in_the_registry() {
    let reg = registry();
    let in_yaml: BTreeSet<String> = reg["groups"]
        .as_vec()
        .unwrap()
        .iter()
        .filter(|g| g["type"].as_str() == Some("event"))
        .map(|g| g["name"].as_str().unwrap().to_string())
        .collect();
    let in_rust: BTreeSet<String> = constants()
        .into_iter()
        .filter(|(s, v)| s == "event" && v.starts_with("servicetask."))
        .map(|(_, v)| v)
        .collect();
    assert_eq!(in_rust, in_yaml);
}
