//! `generate_samples`: writes deterministic sample CSV files (a seeded generator, planted
//! outliers) and one combined dataset, so the demo has real files to work on.

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use servicetask::{service_task, TaskContext, TaskError, TaskInput};

/// Input of `generate_samples`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema, TaskInput)]
pub struct GenerateSamples {
    /// Directory to write into (created if missing).
    #[task(non_empty)]
    pub output_dir: PathBuf,
    /// Number of sample files.
    #[serde(default = "default_files")]
    #[task(min = 1, max = 10_000)]
    pub files: u32,
    /// Rows per file.
    #[serde(default = "default_rows")]
    #[task(size, min = 1, max = 10_000_000)]
    pub rows: u32,
    /// Seed of the generator: the same seed writes the same files.
    #[serde(default)]
    pub seed: u64,
}

fn default_files() -> u32 {
    6
}
fn default_rows() -> u32 {
    400
}

/// Output of `generate_samples`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
pub struct Samples {
    /// The sample files.
    pub files: Vec<String>,
    /// All rows of all files in one CSV.
    pub dataset: String,
    /// Rows written in all.
    pub rows: u64,
}

/// A small deterministic generator (SplitMix64): the samples are reproducible from the seed.
struct SplitMix(u64);
impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Approximately normal (sum of 12 uniforms).
    fn normal(&mut self) -> f64 {
        (0..12).map(|_| self.unit()).sum::<f64>() - 6.0
    }
}

/// Writes `files` CSVs of `rows` rows (`id,value,latency_ms`) and `dataset.csv` with them all.
#[service_task(name = "generate_samples", description = "Write deterministic sample CSV files")]
pub async fn generate_samples(cx: &TaskContext, input: GenerateSamples) -> Result<Samples, TaskError> {
    cx.fs().create_dir_all(&input.output_dir).await?;
    let mut rng = SplitMix(input.seed ^ 0x5EED);
    let mut dataset = String::from("id,value,latency_ms\n");
    let mut files = Vec::new();
    let mut id = 0u64;
    for f in 0..input.files {
        let mut text = String::from("id,value,latency_ms\n");
        for r in 0..input.rows {
            id += 1;
            let value = 100.0 + 15.0 * rng.normal();
            let mut latency = 20.0 + 4.0 * rng.normal();
            // Plant a few outliers in the last file.
            if f + 1 == input.files && r % 97 == 13 {
                latency *= 12.0;
            }
            let row = format!("{id},{value:.3},{latency:.3}\n");
            text.push_str(&row);
            dataset.push_str(&row);
        }
        let path = input.output_dir.join(format!("sample_{f:02}.csv"));
        cx.fs().write(&path, text.as_bytes()).await?;
        files.push(path.display().to_string());
    }
    let dataset_path = input.output_dir.join("dataset.csv");
    cx.fs().write(&dataset_path, dataset.as_bytes()).await?;
    Ok(Samples {
        files,
        dataset: dataset_path.display().to_string(),
        rows: id,
    })
}
