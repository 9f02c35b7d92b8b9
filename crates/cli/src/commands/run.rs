//! `servicetask run FILE.bpmn`: start a process, run it through the runner, print the summary.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Map, Value};
use servicetask_bpmn::Definitions;
use servicetask_engine::{Instance, RunOutcome, SqliteInstanceStore};

use super::exit;
use crate::flags::{ClockArg, RunArgs};
use crate::session::{history_path, Session};
use crate::{mock, scenario, summary, vars, Tasks};

/// Loads a BPMN file, printing every error diagnostic; `None` when it has errors.
pub fn load(path: &Path) -> anyhow::Result<Option<Definitions>> {
    // parse_file also runs the validator, so `diags` holds every problem.
    let (defs, diags) = match servicetask_bpmn::parse_file(path) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("{e}");
            return Ok(None);
        }
    };
    let errors: Vec<_> = diags.iter().filter(|d| d.is_error()).collect();
    for d in &errors {
        eprintln!("{d}");
    }
    Ok(errors.is_empty().then_some(defs))
}

/// Loads call-activity libraries (files or directories of files).
pub fn load_library(paths: &[PathBuf]) -> anyhow::Result<Vec<Definitions>> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let (defs, diags) = servicetask_engine::load_dir(p)?;
            for d in diags.iter().filter(|d| d.is_error()) {
                eprintln!("{d}");
            }
            out.extend(defs);
        } else if let Some(d) = load(p)? {
            out.push(d);
        }
    }
    Ok(out)
}

/// Runs the command.
pub async fn run(args: &RunArgs, tasks: &Tasks) -> anyhow::Result<i32> {
    let mut mocks = std::collections::BTreeMap::new();
    for flag in &args.mocks {
        let (task_type, m) = mock::parse_flag(flag).map_err(anyhow::Error::msg)?;
        mocks.insert(task_type, m);
    }
    let Some(defs) = load(&args.file)? else {
        return Ok(exit::INVALID);
    };
    let mut library = load_library(&args.library)?;
    // Call activities may also call processes of the same file's directory.
    if let Some(dir) = args.file.parent().filter(|d| !d.as_os_str().is_empty() && d.is_dir()) {
        if let Ok((more, _)) = servicetask_engine::load_dir(dir) {
            library.extend(more);
        }
    }
    let process_id = match &args.process {
        Some(p) => p.clone(),
        None => match servicetask_engine::default_process(&defs) {
            Some(p) => p.id.clone(),
            None => {
                eprintln!(
                    "{}: no executable process; name one with --process ID",
                    args.file.display()
                );
                return Ok(exit::INVALID);
            }
        },
    };
    let mut start = match &args.vars_file {
        Some(f) => vars::read_file(f)?,
        None => Map::new(),
    };
    start.extend(vars::parse_pairs(&args.vars)?);

    let history = history_path(args.history.history.as_deref());
    let session = Session::start(Some(&history), tasks)?;
    let builder = session.engine_builder(args.stub, library, mocks);
    let engine = match args.clock {
        ClockArg::Real => builder.build(),
        ClockArg::Virtual => builder.clock(Arc::new(servicetask_engine::VirtualClock::new())).build(),
    };
    let mut instance = match engine.start(&defs, &process_id, start) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("{e}");
            return Ok(exit::INVALID);
        }
    };
    let outcome = match args.clock {
        ClockArg::Real => instance.run().await,
        // every pending timer elapses (bounded: a timer cycle beside a waiting task repeats)
        ClockArg::Virtual => instance.run_through_timers(10_000).await,
    };
    finish(session, &instance, outcome, &args.state, args.all_spans)
}

/// Prints what happened, saves a waiting instance, and returns the exit code.
pub fn finish(
    session: Session,
    instance: &Instance,
    outcome: RunOutcome,
    state: &Path,
    all_spans: bool,
) -> anyhow::Result<i32> {
    let history = session.records.flush();
    let records = session.records.take();
    let spans = session.capture.spans();
    println!(
        "\nSpans (trace {}):",
        instance.traceparent().and_then(|t| t.split('-').nth(1)).unwrap_or("-")
    );
    print!("{}", summary::span_tree(&spans, all_spans));
    print!("{}", summary::span_overflow(&session.capture.stats()));
    println!();
    print!("{}", summary::records(&records));
    println!("\nPath: {}", scenario::path(instance).join(" -> "));
    let code = match &outcome {
        RunOutcome::Completed => {
            println!(
                "\nProcess {} completed (instance {}).",
                instance.process_id(),
                instance.id()
            );
            exit::OK
        }
        RunOutcome::Failed(e) => {
            println!("\nProcess {} FAILED: {e}", instance.process_id());
            exit::PROCESS_FAILED
        }
        RunOutcome::Waiting { tasks, incidents, .. } => {
            let store =
                SqliteInstanceStore::open(state)?.with_sensitive_variables(session.runner.sensitive_variables());
            store.save(&instance.snapshot())?;
            println!(
                "\nProcess {} is waiting; saved to {}.",
                instance.process_id(),
                state.display()
            );
            for t in tasks {
                println!(
                    "  waiting: {} ({:?}) -> servicetask complete {} {} --var name=value --state {}",
                    t.element_id,
                    t.kind,
                    instance.id(),
                    t.element_id,
                    state.display()
                );
            }
            for i in incidents {
                println!(
                    "  incident on {}: {} [{}]",
                    i.element_id,
                    i.message.lines().next().unwrap_or(""),
                    i.error_class
                );
                if i.message.contains(servicetask::engine::UNKNOWN_TASK) {
                    // a retry in this binary meets the same missing task
                    println!("    this binary has no such task: build your own CLI with it (README: \"Your own tasks, your own CLI\"), or answer it with --mock TYPE=JSON or --stub");
                } else {
                    println!(
                        "    fix the cause, then: servicetask complete {} {} --retry --state {}",
                        instance.id(),
                        i.element_id,
                        state.display()
                    );
                }
            }
            if incidents.is_empty() {
                exit::WAITING
            } else {
                exit::PROCESS_FAILED
            }
        }
    };
    // the registered tasks' sensitive input fields are variables never shown
    let mut vars: Value = Value::Object(instance.variables());
    servicetask::redact_keys(&mut vars, &session.runner.sensitive_variables());
    let text = serde_json::to_string(&vars)?;
    let shown: String = text.chars().take(600).collect();
    println!("Variables: {shown}{}", if text.len() > shown.len() { " …" } else { "" });
    session.capture.finish();
    if let Err(e) = history {
        eprintln!("error: this run's records are not in the history: {e}");
        return Ok(exit::HISTORY);
    }
    Ok(code)
}
