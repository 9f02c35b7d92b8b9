//! `validate` agrees with `run` (issue 11, item 6): over every BPMN file in ../shared
//! (conformance/bpmn, spiff-corpus, weavergen), a file that `validate_file` accepts never
//! fails a stubbed run for a static reason (an unsupported element, an unknown process, nothing
//! to start, an expression that cannot be parsed or calls an unknown function). Failures that
//! depend on data (a condition over a variable the stub never set) are not static and are
//! allowed. Ignored in a lone clone; .ci/run runs it with `--ignored`.

use servicetask_engine::{
    load_dir, validate_file, Engine, EngineConfig, EngineError, RunOutcome, StubHandler, VirtualClock,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

fn bpmn_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<PathBuf> = rd.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            bpmn_files(&p, out);
        } else if servicetask_engine::is_bpmn_file(&p) {
            out.push(p);
        }
    }
}

/// True for a run failure that the model alone decides (no data could avoid it).
fn is_static(e: &EngineError) -> bool {
    match e {
        EngineError::Invalid(_)
        | EngineError::UnknownProcess { .. }
        | EngineError::NoStart(_)
        | EngineError::Unsupported { .. } => true,
        EngineError::Expression { message, .. } => {
            message.contains("unknown function")
                || message.starts_with("unexpected")
                || message.starts_with("invalid number")
                || message.starts_with("expected")
        }
        _ => false,
    }
}

/// Runs the file's default process with stub tasks on a virtual clock, answering people's
/// tasks with nothing; returns the failure, if any.
fn stubbed_run(path: &Path) -> Option<EngineError> {
    let (defs, _) = servicetask_bpmn::parse_file(path).ok()?;
    let process = defs.default_process()?.id.clone();
    let library = path
        .parent()
        .and_then(|d| load_dir(d).ok())
        .map(|(l, _)| l.into_iter().filter(|d| d.file != defs.file).collect::<Vec<_>>())
        .unwrap_or_default();
    let engine = Engine::builder(Arc::new(StubHandler))
        .config(EngineConfig {
            max_steps: 20_000,
            ..EngineConfig::default()
        })
        .clock(Arc::new(VirtualClock::new()))
        .library(library)
        .build();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .ok()?;
    rt.block_on(async {
        let mut inst = match engine.start(&defs, &process, Default::default()) {
            Ok(i) => i,
            Err(e) => return Some(e),
        };
        let mut outcome = inst.run_through_timers(1_000).await;
        for _ in 0..200 {
            let RunOutcome::Waiting { tasks, .. } = &outcome else {
                break;
            };
            if tasks.is_empty() {
                break;
            }
            for t in inst.waiting_tasks() {
                let _ = inst.complete_task(&t.token_id.to_string(), Default::default());
            }
            outcome = inst.run_through_timers(1_000).await;
        }
        match outcome {
            RunOutcome::Failed(e) => Some(e),
            _ => None,
        }
    })
}

#[test]
#[ignore = "needs ../shared (run by .ci/run)"]
fn a_file_validate_accepts_never_fails_a_stubbed_run_for_a_static_reason() {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance");
    let mut files = Vec::new();
    for sub in ["bpmn", "spiff-corpus", "weavergen"] {
        let dir = shared.join(sub);
        assert!(dir.is_dir(), "{} is missing", dir.display());
        bpmn_files(&dir, &mut files);
    }
    assert!(files.len() > 150, "only {} BPMN files found", files.len());
    let (mut accepted, mut rejected) = (0, 0);
    let mut disagreements = Vec::new();
    for f in &files {
        let (_, diags) = validate_file(f, &[]).expect("readable");
        if diags.iter().any(|d| d.is_error()) {
            rejected += 1;
            continue;
        }
        accepted += 1;
        // a hang guard in wall-clock time (the run itself is on a virtual clock)
        let (tx, rx) = std::sync::mpsc::channel();
        let path = f.clone();
        std::thread::spawn(move || {
            let _ = tx.send(stubbed_run(&path));
        });
        let failure = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("{}: no verdict within 60 s", f.display()));
        if let Some(e) = failure.filter(is_static) {
            disagreements.push(format!("{}: validate accepts it, the run fails: {e}", f.display()));
        }
    }
    println!(
        "{} files: validate accepts {accepted}, rejects {rejected}; {} accepted files fail a run statically",
        files.len(),
        disagreements.len()
    );
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}
