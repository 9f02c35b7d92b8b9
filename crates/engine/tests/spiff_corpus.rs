//! SpiffWorkflow as the oracle over its whole test corpus: every file of
//! `../shared/conformance/spiff-corpus` runs on the engine and is compared with what
//! SpiffWorkflow 3.2.0 did (`spiff_corpus/expected.json`, regenerated and checked by
//! `scripts/spiff-corpus.sh`). Each case ends in one of four classes: it agrees; both engines
//! reject the file and ours names its `file:line:column`; it differs where SpiffWorkflow departs
//! from the BPMN 2.0 specification (`spiff_corpus/spec_differences.json`, the table in the
//! engine README); or "other". Issue 11's budget is no case in "other"; until it is met, the
//! cases still in "other" are listed in `spiff_corpus/known_open.json` with what was observed,
//! and the test is a ratchet: a case in "other" that is not listed fails (a regression), and a
//! listed case that no longer is "other" fails too (take it off the list), so the list only
//! shrinks and the README's counts stay true.

use serde_json::Value;
use servicetask_engine::conformance::{run_expected, CaseReport};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn corpus() -> PathBuf {
    manifest().join("../../../shared/conformance/spiff-corpus")
}

/// A documented difference: the file (and process, when the file has several runs) and why.
struct SpecDifference {
    file: String,
    process: Option<String>,
}

fn spec_differences() -> Vec<SpecDifference> {
    let path = manifest().join("tests/spiff_corpus/spec_differences.json");
    let text = std::fs::read_to_string(&path).expect("spec_differences.json is readable");
    let list: Vec<Value> = serde_json::from_str(&text).expect("spec_differences.json is a JSON list");
    list.iter()
        .map(|d| {
            let field = |k: &str| d.get(k).and_then(Value::as_str).map(str::to_string);
            for k in ["file", "difference", "section", "why"] {
                assert!(
                    field(k).is_some_and(|v| !v.is_empty()),
                    "a spec difference lacks '{k}': {d}"
                );
            }
            SpecDifference {
                file: field("file").unwrap_or_default(),
                process: field("process"),
            }
        })
        .collect()
}

/// The cases known to be in "other" today: (file, process).
fn known_open() -> std::collections::BTreeSet<(String, String)> {
    let path = manifest().join("tests/spiff_corpus/known_open.json");
    let text = std::fs::read_to_string(&path).expect("known_open.json is readable");
    let list: Vec<Value> = serde_json::from_str(&text).expect("known_open.json is a JSON list");
    list.iter()
        .map(|d| {
            let field = |k: &str| d.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
            assert!(!field("observed").is_empty(), "an open case lacks 'observed': {d}");
            (field("file"), field("process"))
        })
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Class {
    Agrees,
    RejectedByBoth,
    SpecDifference,
    Other,
}

fn classify(case: &CaseReport, documented: &[SpecDifference]) -> Class {
    let listed = documented
        .iter()
        .any(|d| d.file == case.file && d.process.as_ref().is_none_or(|p| *p == case.process));
    match (case.passed, case.rejected.is_some(), listed) {
        (true, false, _) => Class::Agrees,
        (true, true, _) => Class::RejectedByBoth,
        (false, _, true) => Class::SpecDifference,
        (false, _, false) => Class::Other,
    }
}

#[test]
#[ignore = "needs ../shared/conformance/spiff-corpus (run by .ci/run)"]
fn spiff_corpus_agrees_or_differs_only_where_documented() {
    let corpus = corpus();
    assert!(
        corpus.is_dir(),
        "{} is missing: the SpiffWorkflow corpus is needed here",
        corpus.display()
    );
    let expected = manifest().join("tests/spiff_corpus/expected.json");
    let report = run_expected(&corpus, &expected).expect("the expectations are readable");
    let documented = spec_differences();
    let mut counts: BTreeMap<Class, usize> = BTreeMap::new();
    let open = known_open();
    let mut other = Vec::new();
    let mut fixed = Vec::new();
    for case in &report.cases {
        let listed = open.contains(&(case.file.clone(), case.process.clone()));
        let class = classify(case, &documented);
        *counts.entry(class).or_default() += 1;
        println!("{class:?}: {}", case.name);
        for p in &case.problems {
            println!("    {p}");
        }
        match (class == Class::Other, listed) {
            (true, false) => other.push(case.name.clone()),
            (false, true) => fixed.push(case.name.clone()),
            _ => {}
        }
    }
    // a documented difference that no longer shows is stale documentation
    let stale: Vec<&str> = documented
        .iter()
        .filter(|d| {
            !report
                .cases
                .iter()
                .any(|c| c.file == d.file && !c.passed && d.process.as_ref().is_none_or(|p| *p == c.process))
        })
        .map(|d| d.file.as_str())
        .collect();
    let count = |c| counts.get(&c).copied().unwrap_or(0);
    println!(
        "spiff-corpus: {} cases: {} agree, {} rejected as SpiffWorkflow does, {} documented spec differences, {} other",
        report.total,
        count(Class::Agrees),
        count(Class::RejectedByBoth),
        count(Class::SpecDifference),
        count(Class::Other)
    );
    let files: std::collections::BTreeSet<&str> = report.cases.iter().map(|c| c.file.as_str()).collect();
    assert!(files.len() >= 136, "only {} corpus files have a case", files.len());
    assert!(
        stale.is_empty(),
        "documented differences that no longer differ: {stale:?}"
    );
    assert!(
        other.is_empty(),
        "{} cases are neither agreeing nor documented nor known to be open (a regression?):\n{}",
        other.len(),
        other.join("\n")
    );
    assert!(
        fixed.is_empty(),
        "cases listed in known_open.json that are no longer 'other': take them off the list:\n{}",
        fixed.join("\n")
    );
}

#[test]
fn spec_differences_are_in_the_readme() {
    let readme = std::fs::read_to_string(manifest().join("README.md")).expect("the engine README");
    for d in spec_differences() {
        assert!(
            readme.contains(&format!("`{}`", d.file)),
            "README's spec-difference table lacks `{}`",
            d.file
        );
    }
}

#[test]
fn expectations_name_corpus_files_only() {
    let text = std::fs::read_to_string(manifest().join("tests/spiff_corpus/expected.json")).expect("expected.json");
    let cases: Vec<Value> = serde_json::from_str(&text).expect("a JSON list");
    assert!(cases.len() >= 136);
    for c in &cases {
        let file = c.get("file").and_then(Value::as_str).expect("a case names its file");
        assert!(
            Path::new(file).is_relative() && !file.contains(".."),
            "{file} is not a corpus path"
        );
    }
}
