//! `servicetask demo`: the main job. Runs the bundled file pipeline on generated sample files.

use anyhow::Context as _;
use serde_json::Map;

use super::exit;
use crate::flags::DemoArgs;
use crate::session::Session;

/// The bundled process.
pub const PIPELINE: &str = include_str!("../../processes/file_pipeline.bpmn");

/// Runs the command.
pub async fn run(args: &DemoArgs) -> anyhow::Result<i32> {
    std::fs::create_dir_all(&args.dir).with_context(|| format!("creating {}", args.dir.display()))?;
    let dir = args.dir.canonicalize()?;
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
    let session = Session::start(Some(&history))?;
    let engine = session.engine(false, Vec::new());
    let mut instance = engine.start(&defs, "file_pipeline", vars)?;
    let outcome = instance.run().await;
    let code = super::run::finish(session, &instance, outcome, &dir.join("state.db"), args.all_spans)?;
    println!("\nHistory: {} (one record per task execution)", history.display());
    println!("Process model: {}", bpmn_path.display());
    println!("Next: servicetask validate {0}   |   servicetask run {0} --var output_dir={1} --var processed_dir={1}/processed", bpmn_path.display(), dir.display());
    if code == exit::OK {
        println!("Demo finished: every service task ran through the runner with spans, metrics and tracking.");
    }
    Ok(code)
}
