//! Tidy: every Rust file of this crate starts with a `//!` doc line (STYLE rule 16).

#[test]
fn every_file_starts_with_a_module_doc() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    servicetask_test_support::tidy::assert_module_docs(
        &[root.join("src"), root.join("tests"), root.join("benches")],
        20,
    );
}
