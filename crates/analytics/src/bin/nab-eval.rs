//! Evaluates the anomaly detector on a NAB-format corpus and prints the three NAB scores.
//!
//! `cargo run --release -p servicetask-analytics --bin nab-eval -- --data DIR --labels FILE [--results-out DIR]`
//!
//! With `--results-out DIR` it writes one CSV per data file, laid out like NAB's `results/`
//! (`DIR/<detector>/<category>/<detector>_<file>.csv` with `timestamp,value,anomaly_score,label`),
//! so other scorers can check the numbers.

use std::path::PathBuf;
use std::process::ExitCode;

use servicetask_analytics::anomaly::{score_series, DetectorConfig};
use servicetask_analytics::nab::{self, NabFile, Profile};

const USAGE: &str = "usage: nab-eval --data DIR --labels FILE [--results-out DIR] [--detector-name NAME]";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("nab-eval: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let mut data = None;
    let mut labels = None;
    let mut out = None;
    let mut det_name = "servicetask".to_string();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().ok_or_else(|| format!("{a} needs a value\n{USAGE}"));
        match a.as_str() {
            "--data" => data = Some(PathBuf::from(val()?)),
            "--labels" => labels = Some(PathBuf::from(val()?)),
            "--results-out" => out = Some(PathBuf::from(val()?)),
            "--detector-name" => det_name = val()?,
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            _ => return Err(format!("unknown argument {a}\n{USAGE}")),
        }
    }
    let data = data.ok_or(USAGE)?;
    let labels = labels.ok_or(USAGE)?;
    let cfg = config_from_env(DetectorConfig::default());
    let label_list = nab::read_labels(&labels).map_err(|e| e.to_string())?;
    let mut files = Vec::new();
    for (name, wins) in &label_list {
        let path = data.join(name);
        if !path.exists() {
            continue;
        }
        let series = nab::read_series(&path, name).map_err(|e| e.to_string())?;
        let windows = nab::windows_to_rows(&series.times, wins);
        let scores = score_series(&series.values, &cfg);
        if let Some(dir) = &out {
            write_results(dir, &det_name, &series, &scores, &windows).map_err(|e| e.to_string())?;
        }
        files.push(NabFile {
            name: name.clone(),
            scores,
            windows,
        });
    }
    if files.is_empty() {
        return Err(format!("no labelled data files found under {}", data.display()));
    }
    let windows: usize = files.iter().map(|f| f.windows.len()).sum();
    println!("files: {}  windows: {}  detector: {:?}", files.len(), windows, cfg);
    for p in Profile::ALL {
        let s = nab::score_corpus(&files, p);
        println!(
            "{:<20} score {:>6.2}  threshold {:.4}  raw {:>8.3}  TP {} FP {} FN {}",
            p.name, s.normalized, s.threshold, s.raw, s.true_positives, s.false_positives, s.false_negatives
        );
        if p == Profile::STANDARD {
            // per category, at the corpus-wide threshold
            let mut cats: std::collections::BTreeMap<&str, (f64, usize)> = Default::default();
            for f in &files {
                let cat = f.name.split_once('/').map_or("", |c| c.0);
                let n = f.scores.len();
                let pp = nab::probationary_period(n);
                let e = cats.entry(cat).or_default();
                e.0 += nab::score_file(f, p, s.threshold);
                e.1 += f.windows.iter().filter(|w| w.1 >= pp).count();
            }
            for (cat, (raw, w)) in cats {
                let norm = if w > 0 {
                    format!("{:>6.2}", 100.0 * (raw + w as f64) / (2.0 * w as f64))
                } else {
                    "     -".to_string()
                };
                println!("  {cat:<22} standard {norm}  raw {raw:>8.3}  windows {w}");
            }
        }
        if std::env::var_os("NAB_VERBOSE").is_some() && p == Profile::STANDARD {
            for f in &files {
                let pp = nab::probationary_period(f.scores.len());
                let flagged: Vec<usize> = (pp..f.scores.len()).filter(|&i| f.scores[i] >= s.threshold).collect();
                println!(
                    "  {:<55} raw {:>7.3} windows {:?} flagged {:?}",
                    f.name,
                    nab::score_file(f, p, s.threshold),
                    f.windows,
                    flagged
                );
            }
        }
    }
    Ok(())
}

fn write_results(
    dir: &std::path::Path,
    det: &str,
    series: &nab::NabSeries,
    scores: &[f64],
    windows: &[(usize, usize)],
) -> std::io::Result<()> {
    let (cat, file) = series.name.rsplit_once('/').unwrap_or(("", &series.name));
    let d = dir.join(det).join(cat);
    std::fs::create_dir_all(&d)?;
    let labels = nab::row_labels(series.values.len(), windows);
    let mut s = String::from("timestamp,value,anomaly_score,label\n");
    for i in 0..series.values.len() {
        s.push_str(&format!(
            "{},{},{},{}\n",
            series.timestamps[i], series.values[i], scores[i], labels[i]
        ));
    }
    std::fs::write(d.join(format!("{det}_{file}")), s)
}

/// Tuning overrides for experiments (`NAB_WINDOW=300 nab-eval ...`); the defaults are the ones
/// reported in BENCHMARKS.md.
fn config_from_env(mut c: DetectorConfig) -> DetectorConfig {
    let get = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<f64>().ok());
    if let Some(v) = get("NAB_WINDOW") {
        c.window = v as usize;
    }
    if let Some(v) = get("NAB_SHORT") {
        c.short = v as usize;
    }
    if let Some(v) = get("NAB_WARMUP") {
        c.warmup = v as usize;
    }
    if let Some(v) = get("NAB_DEBOUNCE") {
        c.debounce = v as usize;
    }
    if let Some(v) = get("NAB_W_LEVEL") {
        c.w_level = v;
    }
    if let Some(v) = get("NAB_W_SHIFT") {
        c.w_shift = v;
    }
    if let Some(v) = get("NAB_W_CHANGE") {
        c.w_change = v;
    }
    if let Some(v) = get("NAB_W_NOVELTY") {
        c.w_novelty = v;
    }
    if let Some(v) = get("NAB_COOLDOWN") {
        c.cooldown = v as usize;
    }
    if let Some(v) = get("NAB_THRESHOLD") {
        c.threshold = v;
    }
    if let Some(v) = get("NAB_CALIB") {
        c.calibration = v as usize;
    }
    c
}
