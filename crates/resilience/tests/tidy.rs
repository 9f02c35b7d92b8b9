//! Tidy: every Rust file of this crate starts with a `//!` doc line (STYLE rule 16).

#[test]
fn every_file_starts_with_a_module_doc() {
    let dirs = ["src", "tests", "benches"];
    servicetask_test_support::tidy::assert_module_docs(env!("CARGO_MANIFEST_DIR"), &dirs, 20);
}
