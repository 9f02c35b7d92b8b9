//! `servicetask instances` and `servicetask complete`: saved instances, waiting tasks, incidents.

use std::path::Path;

use anyhow::Context as _;
use servicetask_engine::SqliteInstanceStore;

use super::exit;
use crate::flags::{CompleteArgs, StateArgs};
use crate::session::{history_path, Session};
use crate::{vars, Tasks};

/// `instances`.
pub fn list(args: &StateArgs) -> anyhow::Result<i32> {
    if !args.state.exists() {
        println!(
            "no state file at {} (run a process that waits first)",
            args.state.display()
        );
        return Ok(exit::OK);
    }
    let store = SqliteInstanceStore::open(&args.state)?;
    for s in store.list()? {
        println!("{} {} {} ({})", s.instance_id, s.process_id, s.status, s.file);
    }
    Ok(exit::OK)
}

/// `complete INSTANCE TASK [--var ..] [--retry]`.
pub async fn complete(args: &CompleteArgs, tasks: &Tasks) -> anyhow::Result<i32> {
    let store = SqliteInstanceStore::open(&args.state.state)
        .with_context(|| format!("opening {}", args.state.state.display()))?;
    let Some(snapshot) = store.load(&args.instance)? else {
        eprintln!(
            "no instance {} in {}; see `servicetask instances`",
            args.instance,
            args.state.state.display()
        );
        return Ok(exit::INVALID);
    };
    let Some(defs) = super::run::load(Path::new(&snapshot.file))? else {
        return Ok(exit::INVALID);
    };
    let session = Session::start(Some(&history_path(args.history.history.as_deref())), tasks)?;
    let store = store.with_sensitive_variables(session.runner.sensitive_variables());
    let engine = session.engine(args.stub, Vec::new(), Default::default());
    let mut instance = engine.resume(&defs, snapshot)?;
    let values = vars::parse_pairs(&args.vars)?;
    let acted = if args.retry {
        instance.retry_incident(&args.task, values)
    } else {
        instance.complete_task(&args.task, values)
    };
    if let Err(e) = acted {
        eprintln!("{e}");
        return Ok(exit::INVALID);
    }
    let outcome = instance.run().await;
    store.save(&instance.snapshot())?;
    super::run::finish(session, &instance, outcome, &args.state.state, false)
}
