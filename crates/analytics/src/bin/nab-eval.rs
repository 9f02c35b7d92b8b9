//! Evaluates the anomaly detector on a NAB-format corpus: in-sample, and with `--cv`
//! leave-one-category-out cross-validation (parameters and threshold chosen on the other
//! categories, scored on the held-out one).
//!
//! `cargo run --release -p servicetask-analytics --bin nab-eval -- --data DIR --labels FILE [--cv] [--ablation] [--results-out DIR]`
//!
//! Every series the labels file names must exist under `--data` (a missing one is an error, not
//! a smaller corpus). With `--results-out DIR` it writes one CSV per data file, laid out like
//! NAB's `results/` (`DIR/<detector>/<category>/<detector>_<file>.csv` with
//! `timestamp,value,anomaly_score,label`), the score being 1 on the alarms raised at the
//! in-sample standard-profile choice and 0 elsewhere, so other scorers can check the numbers.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use servicetask_analytics::anomaly::DetectorConfig;
use servicetask_analytics::nab::cv::{Corpus, ProfileResult, Series};
use servicetask_analytics::nab::{self, Profile};

const USAGE: &str =
    "usage: nab-eval --data DIR --labels FILE [--cv] [--ablation] [--results-out DIR] [--detector-name NAME]";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("nab-eval: {e}");
            ExitCode::FAILURE
        }
    }
}

struct Args {
    data: PathBuf,
    labels: PathBuf,
    out: Option<PathBuf>,
    det_name: String,
    cv: bool,
    ablation: bool,
}

fn parse_args() -> Result<Args, String> {
    let (mut data, mut labels, mut out) = (None, None, None);
    let mut det_name = "servicetask".to_string();
    let (mut cv, mut ablation) = (false, false);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().ok_or_else(|| format!("{a} needs a value\n{USAGE}"));
        match a.as_str() {
            "--data" => data = Some(PathBuf::from(val()?)),
            "--labels" => labels = Some(PathBuf::from(val()?)),
            "--results-out" => out = Some(PathBuf::from(val()?)),
            "--detector-name" => det_name = val()?,
            "--cv" => cv = true,
            "--ablation" => ablation = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            _ => return Err(format!("unknown argument {a}\n{USAGE}")),
        }
    }
    Ok(Args {
        data: data.ok_or(USAGE)?,
        labels: labels.ok_or(USAGE)?,
        out,
        det_name,
        cv,
        ablation,
    })
}

fn run() -> Result<(), String> {
    let args = parse_args()?;
    let series = load(&args.data, &args.labels)?;
    let windows: usize = series.iter().map(|s| s.windows.len()).sum();
    println!("files: {}  windows: {}", series.len(), windows);
    let base = DetectorConfig::default();
    let (variants, cooldowns) = if args.cv {
        nab::cv::grid(&base)
    } else {
        (vec![base.clone()], vec![base.cooldown])
    };
    let corpus = Corpus::new(series, variants.clone(), cooldowns.clone());
    let results: Vec<ProfileResult> = Profile::ALL.iter().map(|&p| corpus.evaluate(p)).collect();
    print_in_sample(&corpus, &results);
    if args.cv {
        print_cv(&results);
    }
    if args.ablation {
        print_ablation(corpus.series(), &variants, &cooldowns);
    }
    if let Some(dir) = &args.out {
        let chosen = &results[0].in_sample.config;
        let cfg_corpus = Corpus::new(corpus.series().to_vec(), vec![chosen.clone()], vec![chosen.cooldown]);
        let k = (0..nab::cv::THRESHOLDS)
            .find(|&k| nab::cv::threshold(k) == chosen.threshold)
            .unwrap_or(0);
        for (f, s) in corpus.series().iter().enumerate() {
            let alarms = cfg_corpus.alarms(0, 0, k, f);
            write_results(dir, &args.det_name, &args.data, s, &alarms).map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

/// The labelled series, each named by the labels file and present under `data`.
fn load(data: &Path, labels: &Path) -> Result<Vec<Series>, String> {
    let label_list = nab::read_labels(labels).map_err(|e| e.to_string())?;
    let missing: Vec<&str> = label_list
        .iter()
        .map(|(name, _)| name.as_str())
        .filter(|name| !data.join(name).is_file())
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "{}: names {} series missing from {}: {}",
            labels.display(),
            missing.len(),
            data.display(),
            missing.join(", ")
        ));
    }
    if label_list.is_empty() {
        return Err(format!("{}: no labelled series", labels.display()));
    }
    label_list
        .iter()
        .map(|(name, wins)| {
            let s = nab::read_series(&data.join(name), name).map_err(|e| e.to_string())?;
            Ok(Series {
                name: name.clone(),
                windows: nab::windows_to_rows(&s.times, wins),
                times: s.times.iter().map(|&t| t as f64).collect(),
                values: s.values,
            })
        })
        .collect()
}

fn describe(c: &DetectorConfig) -> String {
    format!(
        "window {} level weight {} cooldown {} threshold {:.6}",
        c.window, c.w_level, c.cooldown, c.threshold
    )
}

fn print_in_sample(corpus: &Corpus, results: &[ProfileResult]) {
    println!("in-sample (chosen and scored on all categories):");
    for r in results {
        let s = &r.in_sample.train;
        println!(
            "  {:<20} score {:>6.2}  TP {} FP {} FN {}  [{}]",
            r.profile.name,
            s.normalized(r.profile).unwrap_or(0.0),
            s.true_positives,
            s.false_positives,
            s.windows - s.true_positives,
            describe(&r.in_sample.config)
        );
    }
    // per category at the in-sample standard choice
    let std = &results[0];
    let chosen = &std.in_sample.config;
    let one = Corpus::new(corpus.series().to_vec(), vec![chosen.clone()], vec![chosen.cooldown]);
    let k = (0..nab::cv::THRESHOLDS)
        .find(|&k| nab::cv::threshold(k) == chosen.threshold)
        .unwrap_or(0);
    let mut cats: std::collections::BTreeMap<&str, nab::FileScore> = Default::default();
    for (f, s) in corpus.series().iter().enumerate() {
        let scorer = nab::AlarmScorer::new(s.values.len(), &s.windows, Profile::STANDARD);
        cats.entry(s.category())
            .or_default()
            .add(&scorer.score(one.alarms(0, 0, k, f)));
        if std::env::var_os("NAB_VERBOSE").is_some() {
            println!("    {:<55} {:?} alarms {:?}", s.name, s.windows, one.alarms(0, 0, k, f));
        }
    }
    for (cat, s) in cats {
        println!("    {cat:<24} {}", fmt_score(&s, Profile::STANDARD));
    }
}

fn fmt_score(s: &nab::FileScore, p: Profile) -> String {
    let norm = s.normalized(p).map_or("     -".to_string(), |v| format!("{v:>6.2}"));
    format!(
        "{} {norm}  raw {:>8.3}  windows {:>3}  TP {:>3} FP {:>3}",
        p.name, s.raw, s.windows, s.true_positives, s.false_positives
    )
}

fn print_cv(results: &[ProfileResult]) {
    println!("leave-one-category-out (chosen on the other categories, scored on the held-out one):");
    for r in results {
        for f in &r.folds {
            println!(
                "  {:<24} {}  [{}]",
                f.category,
                fmt_score(&f.held_out, r.profile),
                describe(&f.choice.config)
            );
        }
        println!("  {:<24} {}", "POOLED", fmt_score(&r.pooled, r.profile));
    }
    println!("summary:");
    for r in results {
        println!(
            "  {:<20} in-sample {:>6.2}  cross-validated {:>6.2}",
            r.profile.name,
            r.in_sample.train.normalized(r.profile).unwrap_or(0.0),
            r.pooled.normalized(r.profile).unwrap_or(0.0)
        );
    }
}

/// Cross-validated scores with one member turned off at a time.
fn print_ablation(series: &[Series], variants: &[DetectorConfig], cooldowns: &[usize]) {
    type Off = fn(&mut DetectorConfig);
    let members: [(&str, Off); 6] = [
        ("all members", |_| {}),
        ("without level", |c| c.w_level = 0.0),
        ("without shift", |c| c.w_shift = 0.0),
        ("without novelty", |c| c.w_novelty = 0.0),
        ("without seasonal", |c| c.w_seasonal = 0.0),
        ("without per-kind cooldown", |c| c.merge = usize::MAX / 4),
    ];
    println!("ablation (cross-validated, pooled):");
    for (name, off) in members {
        let vs: Vec<DetectorConfig> = variants
            .iter()
            .map(|v| {
                let mut v = v.clone();
                off(&mut v);
                v
            })
            .collect();
        let corpus = Corpus::new(series.to_vec(), vs, cooldowns.to_vec());
        let scores: Vec<String> = Profile::ALL
            .iter()
            .map(|&p| {
                let r = corpus.evaluate(p);
                format!(
                    "{} {:>6.2} (in-sample {:>6.2})",
                    p.name,
                    r.pooled.normalized(p).unwrap_or(0.0),
                    r.in_sample.train.normalized(p).unwrap_or(0.0)
                )
            })
            .collect();
        println!("  {name:<26} {}", scores.join("  "));
    }
}

fn write_results(dir: &Path, det: &str, data: &Path, s: &Series, alarms: &[usize]) -> std::io::Result<()> {
    let raw = nab::read_series(&data.join(&s.name), &s.name).map_err(std::io::Error::other)?;
    let (cat, file) = s.name.rsplit_once('/').unwrap_or(("", &s.name));
    let d = dir.join(det).join(cat);
    std::fs::create_dir_all(&d)?;
    let labels = nab::row_labels(s.values.len(), &s.windows);
    let mut out = String::from("timestamp,value,anomaly_score,label\n");
    let mut next = alarms.iter().peekable();
    for (i, ((ts, v), label)) in raw.timestamps.iter().zip(&s.values).zip(&labels).enumerate() {
        let flagged = next.next_if(|&&a| a == i).is_some();
        out.push_str(&format!("{ts},{v},{},{label}\n", u8::from(flagged)));
    }
    std::fs::write(d.join(format!("{det}_{file}")), out)
}
