//! `data_analysis`: the PRD's DataAnalysisTask. Reads a CSV dataset, computes per-column
//! statistics, finds outliers with a robust (median/MAD) z-score and scores data quality;
//! records the custom metrics `data_quality_score` and `processing_efficiency`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use servicetask::{service_task, TaskContext, TaskError, TaskInput};

/// Input of `data_analysis`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema, TaskInput)]
pub struct DataAnalysis {
    /// The CSV file to analyse (header row, numeric columns are analysed).
    #[serde(alias = "dataset")]
    #[task(path, required)]
    pub dataset_path: PathBuf,
    /// Robust z-score above which a value is an outlier.
    #[serde(default = "default_z")]
    #[task(min = 1.0, max = 100.0)]
    pub z_threshold: f64,
}

fn default_z() -> f64 {
    5.0
}

/// Statistics of one numeric column.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema, PartialEq)]
pub struct ColumnStats {
    /// Values.
    pub count: u64,
    /// Mean.
    pub mean: f64,
    /// Standard deviation.
    pub std_dev: f64,
    /// Minimum.
    pub min: f64,
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// Maximum.
    pub max: f64,
    /// Values whose robust z-score exceeds the threshold.
    pub outliers: u64,
}

/// Output of `data_analysis`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
pub struct DatasetReport {
    /// Data rows read.
    pub rows: u64,
    /// Rows that did not parse (wrong field count or non-numeric value).
    pub bad_rows: u64,
    /// Per numeric column.
    pub columns: BTreeMap<String, ColumnStats>,
    /// Outliers over all columns.
    pub outlier_count: u64,
    /// Share of rows that parsed and hold no outlier (0-1).
    pub quality_score: f64,
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = q * (sorted.len() - 1) as f64;
    let lo = rank.floor() as usize;
    let hi = rank.ceil() as usize;
    sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo as f64)
}

/// Analyses a dataset with custom metrics and attributes.
#[service_task(
    name = "data_analysis",
    description = "Analyze data with custom metrics",
    timeout(total = "60s"),
    attributes(analysis_type = "statistical", data_source = "csv")
)]
pub async fn data_analysis(cx: &TaskContext, input: DataAnalysis) -> Result<DatasetReport, TaskError> {
    let started = Instant::now();
    let text = cx.fs().read_to_string(&input.dataset_path).await?;
    let (header, rows) = cx
        .step("parse_csv", async {
            let mut lines = text.lines();
            let header: Vec<String> = lines
                .next()
                .ok_or_else(|| {
                    TaskError::validation(format!("{}: the dataset is empty", input.dataset_path.display()))
                        .with_suggestion("write a header row and at least one data row")
                })?
                .split(',')
                .map(|h| h.trim().to_string())
                .collect();
            let rows: Vec<Option<Vec<f64>>> = lines
                .filter(|l| !l.trim().is_empty())
                .map(|l| {
                    let cells: Vec<&str> = l.split(',').collect();
                    if cells.len() != header.len() {
                        return None;
                    }
                    cells.iter().map(|c| c.trim().parse::<f64>().ok()).collect()
                })
                .collect();
            Ok::<_, TaskError>((header, rows))
        })
        .await?;
    let report = cx
        .step("statistics", async {
            let good: Vec<&Vec<f64>> = rows.iter().flatten().collect();
            let bad_rows = (rows.len() - good.len()) as u64;
            let mut columns = BTreeMap::new();
            let mut outlier_rows = std::collections::BTreeSet::new();
            for (c, name) in header.iter().enumerate() {
                if name == "id" {
                    continue;
                }
                let mut values: Vec<f64> = good.iter().map(|r| r[c]).collect();
                if values.is_empty() {
                    continue;
                }
                let n = values.len() as f64;
                let mean = values.iter().sum::<f64>() / n;
                let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
                let mut sorted = values.clone();
                sorted.sort_by(f64::total_cmp);
                let median = percentile(&sorted, 0.5);
                let mut dev: Vec<f64> = values.iter().map(|v| (v - median).abs()).collect();
                dev.sort_by(f64::total_cmp);
                let mad = percentile(&dev, 0.5).max(1e-9) * 1.4826;
                let mut outliers = 0;
                for (i, v) in values.iter_mut().enumerate() {
                    if ((*v - median) / mad).abs() > input.z_threshold {
                        outliers += 1;
                        outlier_rows.insert(i);
                    }
                }
                columns.insert(
                    name.clone(),
                    ColumnStats {
                        count: sorted.len() as u64,
                        mean,
                        std_dev: var.sqrt(),
                        min: sorted[0],
                        p50: median,
                        p95: percentile(&sorted, 0.95),
                        max: sorted[sorted.len() - 1],
                        outliers,
                    },
                );
            }
            let total = rows.len().max(1) as f64;
            let quality = (good.len() - outlier_rows.len()) as f64 / total;
            Ok::<_, TaskError>(DatasetReport {
                rows: rows.len() as u64,
                bad_rows,
                outlier_count: columns.values().map(|c| c.outliers).sum(),
                columns,
                quality_score: quality,
            })
        })
        .await?;
    let secs = started.elapsed().as_secs_f64().max(1e-9);
    cx.metrics().gauge("data_quality_score", report.quality_score, &[]);
    cx.metrics()
        .record("processing_efficiency", report.rows as f64 / secs, &[]);
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use servicetask::{Runner, TaskOutcome};

    #[tokio::test]
    async fn finds_the_planted_outlier_and_scores_quality() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.csv");
        let mut text = String::from("id,latency\n");
        for i in 0..99 {
            text.push_str(&format!("{i},{}\n", 10.0 + (i % 5) as f64));
        }
        text.push_str("99,500\nbroken-row\n");
        std::fs::write(&path, text).unwrap();
        let runner = Runner::builder().telemetry(servicetask::Telemetry::disabled()).build();
        let h = runner.register(DataAnalysisTask).unwrap();
        let out = h
            .run(DataAnalysis {
                dataset_path: path,
                z_threshold: 5.0,
            })
            .await;
        let TaskOutcome::Complete(r) = out else {
            panic!("{out:?}")
        };
        assert_eq!(r.rows, 101);
        assert_eq!(r.bad_rows, 1);
        assert_eq!(r.outlier_count, 1);
        assert_eq!(r.columns["latency"].max, 500.0);
        assert!((r.quality_score - 99.0 / 101.0).abs() < 1e-9);
    }
}
