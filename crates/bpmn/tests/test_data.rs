//! Data-driven parser tests: every `test_data/{ok,err}/*.bpmn` has a `.txt` beside it with the
//! expected dump (model summary and diagnostics). Refresh with `UPDATE_EXPECT=1 cargo test`.

use servicetask_bpmn::{Definitions, Diagnostic};
use std::fmt::Write;
use std::path::Path;

fn dump(defs: &Definitions, diags: &[Diagnostic]) -> String {
    let mut out = String::new();
    for c in &defs.collaborations {
        let parts: Vec<String> = c
            .participants
            .iter()
            .map(|p| format!("{}->{}", p.id, p.process_ref.as_deref().unwrap_or("-")))
            .collect();
        let _ = writeln!(
            out,
            "collaboration {} @{}:{} participants [{}] message flows {}",
            c.id,
            c.position.line,
            c.position.column,
            parts.join(", "),
            c.message_flows
        );
    }
    for p in &defs.processes {
        let _ = writeln!(
            out,
            "process {} name={:?} executable={} @{}:{}",
            p.id, p.name, p.executable, p.position.line, p.position.column
        );
        for e in &p.elements {
            let _ = write!(
                out,
                "  {} {} @{}:{} in={:?} out={:?}",
                e.kind.tag(),
                e.id,
                e.position.line,
                e.position.column,
                e.incoming,
                e.outgoing
            );
            if let Some(n) = &e.name {
                let _ = write!(out, " name={n:?}");
            }
            if let Some(b) = &e.binding {
                let _ = write!(
                    out,
                    " binding={:?}:{} headers={:?} in={:?} out={:?} params={:?} result={:?} retries={:?}",
                    b.kind,
                    b.task_type,
                    b.headers,
                    b.input_mappings
                        .iter()
                        .map(|m| format!("{}->{}", m.source, m.target))
                        .collect::<Vec<_>>(),
                    b.output_mappings
                        .iter()
                        .map(|m| format!("{}->{}", m.source, m.target))
                        .collect::<Vec<_>>(),
                    b.params,
                    b.result_variable,
                    b.retries
                );
            }
            if let Some(ev) = &e.event {
                let _ = write!(out, " event={ev:?}");
            }
            out.push('\n');
        }
        for f in &p.flows {
            let _ = writeln!(
                out,
                "  flow {} {} -> {} @{}:{} condition={:?}",
                f.id, f.source, f.target, f.position.line, f.position.column, f.condition
            );
        }
    }
    for d in diags {
        let _ = writeln!(out, "{d}");
    }
    out
}

fn check_dir(kind: &str) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("test_data").join(kind);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "bpmn"))
        .collect();
    files.sort();
    for f in &files {
        let name = format!("{kind}/{}", f.file_name().unwrap().to_string_lossy());
        let bytes = std::fs::read(f).unwrap();
        let (defs, diags) = servicetask_bpmn::parse(&name, &bytes);
        let has_errors = diags.iter().any(Diagnostic::is_error);
        assert_eq!(has_errors, kind == "err", "{name}: errors {diags:#?}");
        let actual = dump(&defs, &diags);
        let expect_path = f.with_extension("txt");
        if std::env::var_os("UPDATE_EXPECT").is_some() {
            std::fs::write(&expect_path, &actual).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&expect_path)
            .unwrap_or_else(|_| panic!("{} missing: run with UPDATE_EXPECT=1", expect_path.display()));
        assert_eq!(actual, expected, "{name}: dump differs (UPDATE_EXPECT=1 refreshes)");
    }
    files.len()
}

#[test]
fn ok_files_parse_cleanly_and_match_their_dumps() {
    assert!(check_dir("ok") >= 2);
}

#[test]
fn err_files_report_every_problem_with_position_and_fix() {
    assert!(check_dir("err") >= 3);
}
