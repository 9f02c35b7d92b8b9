//! Every WeaverGen file either runs with stub tasks or is rejected with a clear error naming
//! file:line:column and the fix; none panics or hangs (each run is time-bounded).

use servicetask_engine::{Engine, EngineConfig, RunOutcome, StubHandler};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "bpmn"))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// True when `msg` names `file` followed by `:line:column`.
fn names_position(msg: &str, file: &str) -> bool {
    msg.match_indices(file).any(|(i, _)| {
        let rest = &msg[i + file.len()..];
        let mut parts = rest.splitn(4, ':');
        parts.next() == Some("")
            && parts
                .next()
                .is_some_and(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit()))
            && parts
                .next()
                .is_some_and(|c| !c.is_empty() && c.bytes().all(|b| b.is_ascii_digit()))
    })
}

enum Verdict {
    Ran,
    Rejected(String),
}

fn check(path: &Path) -> Verdict {
    let file = path.display().to_string();
    let (defs, diags) = servicetask_bpmn::parse_file(path).expect("readable");
    let errors: Vec<String> = diags.iter().filter(|d| d.is_error()).map(ToString::to_string).collect();
    if !errors.is_empty() {
        for e in &errors {
            assert!(names_position(e, &file), "error does not name file:line:column: {e}");
            assert!(e.contains("\n  help: "), "error has no fix: {e}");
        }
        return Verdict::Rejected(errors.join("\n"));
    }
    let process = defs.default_process().expect("a process").id.clone();
    let engine = Engine::builder(Arc::new(StubHandler))
        .config(EngineConfig {
            max_steps: 10_000,
            ..EngineConfig::default()
        })
        .build();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    let outcome = rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(3600), async {
            let mut inst = engine.start(&defs, &process, Default::default())?;
            let mut outcome = inst.run().await;
            for _ in 0..100 {
                let RunOutcome::Waiting { tasks, .. } = &outcome else {
                    break;
                };
                if tasks.is_empty() {
                    break;
                }
                for t in inst.waiting_tasks() {
                    let _ = inst.complete_task(&t.token_id.to_string(), Default::default());
                }
                outcome = inst.run().await;
            }
            Ok::<_, servicetask_engine::EngineError>(outcome)
        })
        .await
    });
    let outcome = match outcome {
        Err(_) => panic!("{file}: did not finish within the time bound"),
        Ok(Err(e)) => RunOutcome::Failed(e),
        Ok(Ok(o)) => o,
    };
    match outcome {
        RunOutcome::Completed => Verdict::Ran,
        RunOutcome::Failed(e) => {
            let msg = e.to_string();
            assert!(
                names_position(&msg, &file),
                "{file}: runtime error does not name file:line:column: {msg}"
            );
            assert!(msg.contains("help: "), "{file}: runtime error has no fix: {msg}");
            Verdict::Rejected(msg)
        }
        RunOutcome::Waiting { incidents, .. } => panic!("{file}: left waiting with incidents {incidents:?}"),
    }
}

#[test]
#[ignore = "needs ../shared (run by .ci/run)"]
fn weavergen_files_run_or_are_rejected_clearly() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/weavergen");
    let all = files(&dir);
    assert!(
        !all.is_empty(),
        "{} is missing or empty: ../shared must sit beside the repository",
        dir.display()
    );
    let mut ran = 0;
    for f in &all {
        let name = f.display().to_string();
        // a hang guard in wall-clock time (the runs themselves use a paused clock)
        let (tx, rx) = std::sync::mpsc::channel();
        let path = f.clone();
        std::thread::spawn(move || {
            let _ = tx.send(std::panic::catch_unwind(|| check(&path)));
        });
        let result = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("{name}: hung (no verdict within 60 s)"));
        match result {
            Ok(Verdict::Ran) => {
                ran += 1;
                println!("RAN      {name}");
            }
            Ok(Verdict::Rejected(msg)) => println!("REJECTED {name}\n{msg}\n"),
            Err(_) => panic!("{name}: check failed (see above)"),
        }
    }
    println!("{ran} of {} WeaverGen files ran with stub tasks", all.len());
    assert_eq!(all.len(), 10);
}
