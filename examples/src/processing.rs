//! `file_processing`: the PRD's FileProcessingTask. Each input file is normalised (trimmed
//! lines, no blank lines, `\n` endings) into `processed_<name>` in the output directory.

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use servicetask::{service_task, TaskContext, TaskError, TaskInput};

/// Input of `file_processing`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema, TaskInput)]
pub struct FileProcessing {
    /// Files to process (inspected before the task runs; each must exist).
    #[serde(default)]
    #[task(path, required)]
    pub input_files: Vec<PathBuf>,
    /// One more file (handy for a multi-instance activity over a list of files); its size in
    /// bytes is the execution's input size.
    #[serde(default)]
    #[task(path, required, size)]
    pub input_file: Option<PathBuf>,
    /// Where `processed_<name>` files go (created if missing).
    #[task(non_empty)]
    pub output_dir: PathBuf,
}

/// Output of `file_processing`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
pub struct ProcessedFiles {
    /// The files written.
    pub outputs: Vec<String>,
    /// Lines kept, over all files.
    pub lines: u64,
    /// Bytes written, over all files.
    pub bytes_written: u64,
}

/// Processes files with automatic tracking: one step span per file, every read and write
/// recorded by `cx.fs()`.
#[service_task(
    name = "file_processing",
    description = "Process files with automatic tracking",
    timeout(total = "30s"),
    retry(max_attempts = 4, initial_delay = "50ms")
)]
pub async fn file_processing(cx: &TaskContext, input: FileProcessing) -> Result<ProcessedFiles, TaskError> {
    let files: Vec<PathBuf> = input
        .input_files
        .iter()
        .cloned()
        .chain(input.input_file.clone())
        .collect();
    if files.is_empty() {
        return Err(TaskError::validation("input_files: give at least one file to process"));
    }
    cx.fs().create_dir_all(&input.output_dir).await?;
    let mut out = ProcessedFiles::default();
    for file in &files {
        let (path, lines, bytes) = cx
            .step("process_single_file", async {
                let text = cx.fs().read_to_string(file).await?;
                let mut normalised = String::with_capacity(text.len());
                let mut lines = 0u64;
                for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
                    normalised.push_str(line);
                    normalised.push('\n');
                    lines += 1;
                }
                let name = file
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let target = input.output_dir.join(format!("processed_{name}"));
                cx.fs().write(&target, normalised.as_bytes()).await?;
                Ok::<_, TaskError>((target.display().to_string(), lines, normalised.len() as u64))
            })
            .await?;
        out.outputs.push(path);
        out.lines += lines;
        out.bytes_written += bytes;
    }
    cx.metrics().add("files.processed", files.len() as u64, &[]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use servicetask::{ErrorClass, Runner, TaskOutcome};

    #[tokio::test]
    async fn processes_real_files_and_reports_missing_ones_before_running() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.csv");
        std::fs::write(&a, "  x,1 \n\n y,2\n").unwrap();
        let runner = Runner::builder().telemetry(servicetask::Telemetry::disabled()).build();
        let h = runner.register(FileProcessingTask).unwrap();
        let out = h
            .run(FileProcessing {
                input_files: vec![a.clone()],
                input_file: None,
                output_dir: dir.path().join("out"),
            })
            .await;
        let TaskOutcome::Complete(p) = out else {
            panic!("{out:?}")
        };
        assert_eq!(p.lines, 2);
        assert_eq!(
            std::fs::read_to_string(dir.path().join("out/processed_a.csv")).unwrap(),
            "x,1\ny,2\n"
        );

        let out = h
            .run(FileProcessing {
                input_files: vec![dir.path().join("missing.csv")],
                input_file: None,
                output_dir: dir.path().join("out"),
            })
            .await;
        let TaskOutcome::Failure { error, .. } = out else {
            panic!()
        };
        assert_eq!(error.class(), ErrorClass::NotFound);
        assert!(error.suggestion().is_some());
    }
}
