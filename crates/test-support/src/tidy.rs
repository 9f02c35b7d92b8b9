//! Tidy checks on a crate's own sources: every Rust file opens with a `//!` line saying what
//! it is for (STYLE.md), checked by each crate's `tests/tidy.rs` over its own folders.

use std::path::{Path, PathBuf};

/// The `.rs` files below each of `dirs` (a folder that does not exist has none; `target`
/// folders are skipped), sorted.
pub fn rust_files(dirs: &[PathBuf]) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack: Vec<PathBuf> = dirs.to_vec();
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n != "target") {
                    stack.push(path);
                }
            } else if path.extension().is_some_and(|x| x == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// Asserts that every `.rs` file below the folders `dirs` of `root` opens with a `//!` line,
/// and that there are at least `at_least` of them (a mistyped folder finds none, and would pass
/// silently).
pub fn assert_module_docs(root: impl AsRef<Path>, dirs: &[&str], at_least: usize) {
    let dirs: Vec<PathBuf> = dirs.iter().map(|d| root.as_ref().join(d)).collect();
    let files = rust_files(&dirs);
    assert!(
        files.len() >= at_least,
        "found {} Rust files below {dirs:?}, expected at least {at_least}",
        files.len()
    );
    let missing: Vec<String> = files
        .iter()
        .filter(|f| !opens_with_module_doc(f))
        .map(|f| f.display().to_string())
        .collect();
    assert!(missing.is_empty(), "files without a //! first line: {missing:#?}");
}

/// Whether `file`'s first non-blank text is a `//!` line.
fn opens_with_module_doc(file: &Path) -> bool {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .trim_start()
        .starts_with("//!")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_without_a_module_doc_line_is_named_and_target_is_skipped() {
        let root = std::env::temp_dir().join(format!("st-tidy-{:016x}", rand::random::<u64>()));
        std::fs::create_dir_all(root.join("src/inner")).unwrap();
        std::fs::create_dir_all(root.join("src/target")).unwrap();
        std::fs::write(root.join("src/lib.rs"), "\n//! What it is for.\n").unwrap();
        std::fs::write(root.join("src/inner/bare.rs"), "fn f() {}\n").unwrap();
        std::fs::write(root.join("src/target/built.rs"), "fn g() {}\n").unwrap();
        let files = rust_files(&[root.join("src"), root.join("absent")]);
        assert_eq!(files, [root.join("src/inner/bare.rs"), root.join("src/lib.rs")]);
        let failed =
            std::panic::catch_unwind(|| assert_module_docs(&root, &["src"], 2)).expect_err("bare.rs has no //! line");
        let message = failed.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(message.contains("bare.rs") && !message.contains("lib.rs"), "{message}");
        std::fs::remove_file(root.join("src/inner/bare.rs")).unwrap();
        assert_module_docs(&root, &["src"], 1);
        let too_few = std::panic::catch_unwind(|| assert_module_docs(&root, &["src"], 2));
        assert!(too_few.is_err(), "one file found where two were expected");
        std::fs::remove_dir_all(&root).unwrap();
    }
}
