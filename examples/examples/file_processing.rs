//! The PRD's FileProcessingTask, run once on generated sample files.
//!
//! Run: `cargo run -p servicetask-examples --example file_processing`
//!
//! It writes sample CSVs to a temporary directory, processes them, and prints the outcome and
//! the spans (set `OTEL_TRACES_EXPORTER=console` or an OTLP endpoint to see them elsewhere).

use servicetask::{Runner, TaskOutcome};
use servicetask_examples::{FileProcessing, FileProcessingTask, GenerateSamples, GenerateSamplesTask};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let telemetry = servicetask::telemetry::init_with(servicetask::telemetry::ExportTarget::Console)?;
    let runner = Runner::builder().telemetry(telemetry.telemetry()).build();
    let dir = std::env::temp_dir().join(format!("servicetask-file-processing-{}", std::process::id()));

    let samples = runner.register(GenerateSamplesTask)?;
    let TaskOutcome::Complete(s) = samples
        .run(GenerateSamples {
            output_dir: dir.clone(),
            files: 3,
            rows: 200,
            seed: 7,
        })
        .await
    else {
        return Err("sample generation failed".into());
    };

    let task = runner.register(FileProcessingTask)?;
    let input = FileProcessing {
        input_files: s.files.iter().map(Into::into).collect(),
        input_file: None,
        output_dir: dir.join("processed"),
    };
    match task.run(input).await {
        TaskOutcome::Complete(out) => {
            println!(
                "processed {} files, {} lines, {} bytes written:",
                out.outputs.len(),
                out.lines,
                out.bytes_written
            );
            for f in &out.outputs {
                println!("  {f}");
            }
        }
        other => println!("did not complete: {other:?}"),
    }
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
