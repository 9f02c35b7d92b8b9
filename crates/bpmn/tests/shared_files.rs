//! Parses the shared conformance and WeaverGen BPMN files (../shared beside the repository:
//! ignored in a lone clone, run by .ci/run with `--ignored`): conformance files parse cleanly, and
//! every problem in a WeaverGen file is reported with file:line:column and a fix.

use std::path::Path;

fn bpmn_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "bpmn"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

#[test]
#[ignore = "needs ../shared (run by .ci/run)"]
fn conformance_files_parse_without_errors() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/bpmn");
    if !dir.exists() {
        panic!("{} is missing: ../shared must sit beside the repository", dir.display());
    }
    let files = bpmn_files(&dir);
    assert!(
        files.len() >= 10,
        "expected the conformance files, found {}",
        files.len()
    );
    for f in files {
        let (defs, diags) = servicetask_bpmn::parse_file(&f).unwrap();
        let errors: Vec<String> = diags.iter().filter(|d| d.is_error()).map(ToString::to_string).collect();
        assert!(errors.is_empty(), "{}: {errors:#?}", f.display());
        assert!(!defs.processes.is_empty());
    }
}

#[test]
#[ignore = "needs ../shared (run by .ci/run)"]
fn weavergen_problems_name_file_line_column_and_fix() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/weavergen");
    if !dir.exists() {
        panic!("{} is missing: ../shared must sit beside the repository", dir.display());
    }
    for f in bpmn_files(&dir) {
        let (_defs, diags) = servicetask_bpmn::parse_file(&f).unwrap();
        for d in &diags {
            println!("{d}");
            assert!(d.position.line >= 1 && d.position.column >= 1, "{d}");
            assert!(!d.help.is_empty(), "{d}");
            assert!(d.to_string().starts_with(&f.display().to_string()), "{d}");
        }
    }
}
