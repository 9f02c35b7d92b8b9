//! Every Rust file of this crate opens with a `//!` doc line.

#[test]
fn every_rs_file_starts_with_a_module_doc() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    servicetask_test_support::tidy::assert_module_docs(
        &[root.join("src"), root.join("tests"), root.join("examples")],
        10,
    );
}
