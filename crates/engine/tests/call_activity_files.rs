//! Call activities find their called process in sibling files under either name BPMN files go
//! by: `*.bpmn` and `*.bpmn20.xml`.

use serde_json::{json, Map, Value};
use servicetask_engine::{is_bpmn_file, load_dir, Engine, RunOutcome, StubHandler};
use std::path::Path;
use std::sync::Arc;

#[test]
fn both_names_of_a_bpmn_file_are_recognised() {
    assert!(is_bpmn_file(Path::new("a/b.bpmn")));
    assert!(is_bpmn_file(Path::new("Messages.bpmn20.xml")));
    assert!(is_bpmn_file(Path::new("UPPER.BPMN20.XML")));
    assert!(!is_bpmn_file(Path::new("notes.xml")));
    assert!(!is_bpmn_file(Path::new("expected.json")));
}

#[tokio::test]
async fn a_process_in_a_sibling_bpmn20_xml_file_is_called() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/calls_bpmn20");
    let (library, diags) = load_dir(&dir).unwrap();
    assert!(diags.is_empty(), "{diags:?}");
    assert_eq!(library.len(), 2, "both files are loaded");
    let parent = library
        .iter()
        .find(|d| d.process("parent20").is_some())
        .unwrap()
        .clone();
    let engine = Engine::builder(Arc::new(StubHandler)).library(library).build();
    let vars: Map<String, Value> = json!({"n": 2}).as_object().cloned().unwrap();
    let mut inst = engine.start(&parent, "parent20", vars).unwrap();
    assert_eq!(inst.run().await, RunOutcome::Completed);
    assert_eq!(inst.variables().get("answer"), Some(&json!(20)));
}

#[test]
fn validate_file_looks_for_called_processes_in_the_directory() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/calls_bpmn20");
    let (_, diags) = servicetask_engine::validate_file(&dir.join("parent.bpmn"), &[]).unwrap();
    assert!(diags.iter().all(|d| !d.is_error()), "{diags:?}");
    // alone (copied to a directory without the called file), the call is an error
    let lone = std::env::temp_dir().join(format!("servicetask-validate-{}", std::process::id()));
    std::fs::create_dir_all(&lone).unwrap();
    std::fs::copy(dir.join("parent.bpmn"), lone.join("parent.bpmn")).unwrap();
    let (_, diags) = servicetask_engine::validate_file(&lone.join("parent.bpmn"), &[]).unwrap();
    let _ = std::fs::remove_dir_all(&lone);
    let errs: Vec<String> = diags.iter().filter(|d| d.is_error()).map(ToString::to_string).collect();
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(errs[0].contains("calls process 'called20'"), "{}", errs[0]);
}
