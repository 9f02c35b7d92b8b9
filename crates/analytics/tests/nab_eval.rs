//! The `nab-eval` command on a small NAB-format corpus it has never seen, and the detector's
//! NAB score on the labelled data in `shared/nab` (the budget: standard profile above 55).

use std::path::{Path, PathBuf};
use std::process::Command;

use servicetask_analytics::anomaly::{score_series, DetectorConfig};
use servicetask_analytics::nab::{self, NabFile, Profile};

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("servicetask-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn nab_eval_scores_any_corpus_and_writes_results() {
    let dir = temp_dir("nab-eval");
    let data = dir.join("data");
    std::fs::create_dir_all(data.join("synthetic")).unwrap();
    // 2000 five-minute points of a gentle wave with one jump at row 1500
    let mut csv = String::from("timestamp,value\n");
    for i in 0..2000i64 {
        let t = i * 300;
        let (d, s) = (t / 86_400, t % 86_400);
        let v = 10.0 + (i as f64 / 20.0).sin() + if i == 1500 { 30.0 } else { 0.0 };
        csv.push_str(&format!(
            "2020-01-{:02} {:02}:{:02}:{:02},{v}\n",
            d + 1,
            s / 3600,
            (s % 3600) / 60,
            s % 60
        ));
    }
    std::fs::write(data.join("synthetic/jump.csv"), csv).unwrap();
    // window around row 1500 (rows 1450..=1550): 2020-01-06 00:50 to 2020-01-06 09:10
    let labels = dir.join("labels.json");
    std::fs::write(
        &labels,
        r#"{"synthetic/jump.csv": [["2020-01-06 00:50:00.000000", "2020-01-06 09:10:00.000000"]]}"#,
    )
    .unwrap();
    let out_dir = dir.join("results");
    let out = Command::new(env!("CARGO_BIN_EXE_nab-eval"))
        .args(["--data", data.to_str().unwrap(), "--labels", labels.to_str().unwrap()])
        .args(["--results-out", out_dir.to_str().unwrap()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let standard = stdout
        .lines()
        .find(|l| l.starts_with("standard"))
        .expect("standard line");
    let score: f64 = standard.split_whitespace().nth(2).unwrap().parse().unwrap();
    // found at the labelled anomaly (the middle of its window): 100 * (0.85 + 1) / 2 ≈ 92
    assert!(score > 85.0, "{stdout}");
    let results = std::fs::read_to_string(out_dir.join("servicetask/synthetic/servicetask_jump.csv")).unwrap();
    let mut lines = results.lines();
    assert_eq!(lines.next(), Some("timestamp,value,anomaly_score,label"));
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 2000);
    assert!(rows[1500].ends_with(",1") && rows[0].ends_with(",0"));
    // bad usage is reported, not panicked on
    let bad = Command::new(env!("CARGO_BIN_EXE_nab-eval"))
        .arg("--data")
        .output()
        .unwrap();
    assert!(!bad.status.success());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn detector_meets_the_nab_budget_on_shared_data() {
    let nab_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/nab");
    assert!(
        nab_dir.exists(),
        "shared/nab must sit beside the repository ({})",
        nab_dir.display()
    );
    let labels = nab::read_labels(&nab_dir.join("labels/combined_windows.json")).unwrap();
    let cfg = DetectorConfig::default();
    let files: Vec<NabFile> = labels
        .iter()
        .map(|(name, wins)| {
            let s = nab::read_series(&nab_dir.join("data").join(name), name).unwrap();
            NabFile {
                name: name.clone(),
                windows: nab::windows_to_rows(&s.times, wins),
                scores: score_series(&s.values, &cfg),
            }
        })
        .collect();
    assert_eq!(files.len(), 43);
    let s = nab::score_corpus(&files, Profile::STANDARD);
    assert!(s.normalized > 55.0, "standard NAB score {:.2}", s.normalized);
}
