//! `servicetask demo`: the main job. Runs the bundled file pipeline on generated sample files.

use std::path::PathBuf;

use anyhow::Context as _;
use serde_json::Map;

use super::exit;
use crate::flags::DemoArgs;
use crate::session::Session;
use crate::Tasks;

/// The bundled process.
pub const PIPELINE: &str = include_str!("../../processes/file_pipeline.bpmn");

/// Where the demo writes when no `--dir` is given: the system's temporary folder, so running it
/// from a repository leaves nothing behind there.
pub fn default_dir() -> PathBuf {
    std::env::temp_dir().join("servicetask-demo")
}

/// Runs the command: the bundled example tasks, plus the CLI's own.
pub async fn run(args: &DemoArgs, tasks: &Tasks) -> anyhow::Result<i32> {
    let dir = args.dir.clone().unwrap_or_else(default_dir);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let dir = dir.canonicalize()?;
    let bpmn_path = dir.join("file_pipeline.bpmn");
    std::fs::write(&bpmn_path, PIPELINE)?;
    let (defs, diags) = servicetask_bpmn::parse(&bpmn_path.display().to_string(), PIPELINE.as_bytes());
    if let Some(d) = diags.iter().find(|d| d.is_error()) {
        anyhow::bail!("the bundled process is invalid: {d}");
    }

    let mut vars = Map::new();
    vars.insert("output_dir".into(), dir.display().to_string().into());
    vars.insert(
        "processed_dir".into(),
        dir.join("processed").display().to_string().into(),
    );
    vars.insert("files".into(), args.files.into());
    vars.insert("rows".into(), args.rows.into());
    vars.insert("seed".into(), args.seed.into());

    println!(
        "servicetask demo: {} sample files x {} rows in {}",
        args.files,
        args.rows,
        dir.display()
    );
    let history = dir.join("history.db");
    let tasks = tasks.clone().with(servicetask_examples::register_all);
    let session = Session::start(Some(&history), &tasks)?;
    let engine = session.engine(false, Vec::new(), Default::default());
    let mut instance = engine.start(&defs, "file_pipeline", vars)?;
    let outcome = instance.run().await;
    let code = super::run::finish(session, &instance, outcome, &dir.join("state.db"), args.all_spans)?;
    if code != exit::HISTORY {
        println!("\nHistory: {} (one record per task execution)", history.display());
        println!("Report:  servicetask report --db {}", history.display());
    }
    println!("Process model: {}", bpmn_path.display());
    println!("Next: servicetask validate {0}   |   servicetask run {0} --var output_dir={1} --var processed_dir={1}/processed", bpmn_path.display(), dir.display());
    if code == exit::OK {
        println!("Demo finished: every service task ran through the runner with spans, metrics and tracking.");
    }
    Ok(code)
}
