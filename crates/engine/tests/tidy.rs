//! Tidy: every Rust file of the bpmn and engine crates starts with a `//!` line saying what it
//! is for.

#[test]
fn every_file_starts_with_a_module_doc_line() {
    let crates = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    servicetask_test_support::tidy::assert_module_docs(crates, &["bpmn", "engine"], 20);
}
