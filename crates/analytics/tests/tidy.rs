//! Every Rust file of this crate opens with a `//!` doc line.

#[test]
fn every_rs_file_starts_with_a_module_doc() {
    let dirs = ["src", "tests", "examples"];
    servicetask_test_support::tidy::assert_module_docs(env!("CARGO_MANIFEST_DIR"), &dirs, 10);
}
