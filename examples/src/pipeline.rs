//! The rest of the demo pipeline: a quality gate that raises a BPMN error, a quarantine step,
//! and a report publisher whose outbox is contended on the first attempt (a retried,
//! transient failure).

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use servicetask::{service_task, ErrorClass, TaskContext, TaskError, TaskInput};

/// Input of `quality_check`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema, TaskInput)]
pub struct QualityCheck {
    /// Quality score from `data_analysis` (0-1).
    pub quality_score: f64,
    /// Outliers found.
    #[serde(default)]
    pub outlier_count: u64,
    /// Lowest acceptable quality score.
    #[serde(default = "default_min_quality")]
    pub min_quality: f64,
}

fn default_min_quality() -> f64 {
    0.999
}

/// Output of `quality_check`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
pub struct QualityVerdict {
    /// Whether the data passed.
    pub quality_ok: bool,
}

/// Passes good data; raises the BPMN error `QUALITY_LOW` (with the score) otherwise.
#[service_task(name = "quality_check", description = "Gate on the data quality score")]
pub async fn quality_check(_cx: &TaskContext, input: QualityCheck) -> Result<QualityVerdict, TaskError> {
    if input.quality_score < input.min_quality {
        let mut vars = serde_json::Map::new();
        vars.insert("rejected_quality".into(), input.quality_score.into());
        return Err(TaskError::business(
            "QUALITY_LOW",
            format!(
                "quality {:.4} is below {:.4} ({} outliers)",
                input.quality_score, input.min_quality, input.outlier_count
            ),
        )
        .with_variables(vars));
    }
    Ok(QualityVerdict { quality_ok: true })
}

/// Input of `quarantine`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema, TaskInput)]
pub struct Quarantine {
    /// The dataset to split.
    #[task(path, required)]
    pub dataset: PathBuf,
    /// Where `quarantine.csv` goes.
    pub output_dir: PathBuf,
    /// Rows whose latency is above this many milliseconds are quarantined.
    #[serde(default = "default_limit")]
    pub latency_limit_ms: f64,
}

fn default_limit() -> f64 {
    100.0
}

/// Output of `quarantine`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
pub struct Quarantined {
    /// The quarantine file.
    pub quarantine_file: String,
    /// Rows moved there.
    pub quarantined_rows: u64,
}

/// Copies the rows with outlying latency into `quarantine.csv`.
#[service_task(name = "quarantine", description = "Move outlying rows aside")]
pub async fn quarantine(cx: &TaskContext, input: Quarantine) -> Result<Quarantined, TaskError> {
    let text = cx.fs().read_to_string(&input.dataset).await?;
    let mut lines = text.lines();
    let header = lines.next().unwrap_or("id,value,latency_ms");
    let col = header
        .split(',')
        .position(|h| h.trim() == "latency_ms")
        .ok_or_else(|| {
            TaskError::validation(format!("{}: no latency_ms column", input.dataset.display()))
                .with_suggestion("quarantine expects the columns written by generate_samples")
        })?;
    let mut out = format!("{header}\n");
    let mut n = 0u64;
    for line in lines {
        let v: Option<f64> = line.split(',').nth(col).and_then(|c| c.trim().parse().ok());
        if v.is_some_and(|v| v > input.latency_limit_ms) {
            out.push_str(line);
            out.push('\n');
            n += 1;
        }
    }
    let target = input.output_dir.join("quarantine.csv");
    cx.fs().write(&target, out.as_bytes()).await?;
    Ok(Quarantined {
        quarantine_file: target.display().to_string(),
        quarantined_rows: n,
    })
}

/// Input of `publish_report`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema, TaskInput)]
pub struct PublishReport {
    /// Directory holding the `outbox/`.
    pub output_dir: PathBuf,
    /// Everything to publish (the process variables by default).
    #[serde(flatten)]
    pub summary: serde_json::Map<String, serde_json::Value>,
}

/// Output of `publish_report`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
pub struct Published {
    /// The report file.
    pub report_file: String,
}

/// Writes `outbox/report.json` through the `outbox` dependency. The outbox is "contended" on
/// the first attempt of each run (a lock file left by a previous writer), a transient `io`
/// failure that the retry layer absorbs.
#[service_task(
    name = "publish_report",
    description = "Publish the run's summary",
    retry(max_attempts = 4, initial_delay = "20ms")
)]
pub async fn publish_report(cx: &TaskContext, input: PublishReport) -> Result<Published, TaskError> {
    let outbox = input.output_dir.join("outbox");
    cx.fs().create_dir_all(&outbox).await?;
    let lock = outbox.join(".lock");
    if cx.attempt() == 1 {
        cx.fs().write(&lock, b"held by a previous writer").await?;
    }
    cx.dependency("outbox")
        .call(async {
            if tokio::fs::try_exists(&lock).await.unwrap_or(false) && cx.attempt() == 1 {
                return Err(TaskError::new(ErrorClass::Io, "the outbox is locked by another writer")
                    .with_suggestion("wait for the other writer; the attempt is retried"));
            }
            Ok::<_, TaskError>(())
        })
        .await?;
    cx.fs().remove(&lock).await.ok();
    let target = outbox.join("report.json");
    let body = serde_json::to_vec_pretty(&input.summary).map_err(|e| TaskError::internal(e.to_string()))?;
    cx.fs().write(&target, body).await?;
    Ok(Published {
        report_file: target.display().to_string(),
    })
}
