//! The PRD's DataAnalysisTask on a generated dataset with planted outliers.
//!
//! Run: `cargo run -p servicetask-examples --example data_analysis`

use servicetask::{Runner, TaskOutcome};
use servicetask_examples::{DataAnalysis, DataAnalysisTask, GenerateSamples, GenerateSamplesTask};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let telemetry = servicetask::telemetry::init_with(servicetask::telemetry::ExportTarget::Console)?;
    let runner = Runner::builder().telemetry(telemetry.telemetry()).build();
    let dir = std::env::temp_dir().join(format!("servicetask-data-analysis-{}", std::process::id()));

    let samples = runner.register(GenerateSamplesTask)?;
    let TaskOutcome::Complete(s) = samples
        .run(GenerateSamples {
            output_dir: dir.clone(),
            files: 4,
            rows: 500,
            seed: 3,
        })
        .await
    else {
        return Err("sample generation failed".into());
    };

    let task = runner.register(DataAnalysisTask)?;
    match task
        .run(DataAnalysis {
            dataset_path: s.dataset.into(),
            z_threshold: 5.0,
        })
        .await
    {
        TaskOutcome::Complete(r) => {
            println!(
                "{} rows ({} bad), quality {:.4}, {} outliers",
                r.rows, r.bad_rows, r.quality_score, r.outlier_count
            );
            for (name, c) in &r.columns {
                println!(
                    "  {name:>10}: mean {:>8.3} sd {:>7.3} p50 {:>8.3} p95 {:>8.3} max {:>9.3} outliers {}",
                    c.mean, c.std_dev, c.p50, c.p95, c.max, c.outliers
                );
            }
        }
        other => println!("did not complete: {other:?}"),
    }
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
