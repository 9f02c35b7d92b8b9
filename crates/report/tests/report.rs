//! The report over a synthetic history with planted anomalies, a change point, retries and file
//! access; and the HTML page checked in headless Chromium when it is installed.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use servicetask_analytics::recommend::RecommendationKind;
use servicetask_analytics::report::{ReportData, ReportOptions};
use servicetask_core::record::{DependencyUse, ExecutionRecord, FileAccess, FileAccessKind, OutcomeKind};
use servicetask_report::{browser, render_html, render_terminal};

const T0: i64 = 1_764_201_600_000_000_000; // 2025-11-27 00:00 UTC
const PLANTED: [usize; 3] = [700, 1100, 1500];

/// 2000 runs of "resize", one every 20 s from 00:00: duration = 5 ms + 2 µs per KB of input, 3%
/// noise; from run 1,241 on it is 35% slower; runs 700, 1100, 1500 (0-based) are 4x slower than
/// their size predicts; every 10th run is retried because "thumbs-api" failed; every run reads
/// "config.json".
fn history() -> Vec<ExecutionRecord> {
    let mut rng = StdRng::seed_from_u64(99);
    (0..2000)
        .map(|i| {
            let size = rng.random_range(100..5000u64);
            let mut secs = (0.005 + 2e-6 * size as f64) * (1.0 + rng.random_range(-0.03..0.03));
            if i >= 1240 {
                secs *= 1.35;
            }
            if PLANTED.contains(&i) {
                secs *= 4.0;
            }
            let mut r = ExecutionRecord::new(
                "resize",
                T0 + i as i64 * 20_000_000_000,
                (secs * 1e9) as u64,
                OutcomeKind::Complete,
            );
            r.input_size = Some(size);
            r.cpu_ns = Some((secs * 0.8e9) as u64);
            r.mem_peak_bytes = Some(1_000_000 + 100 * size);
            r.files.push(FileAccess {
                path: "config.json".into(),
                kind: FileAccessKind::Read,
                bytes: 200,
                ops: 1,
                file_size: Some(200),
            });
            r.dependencies.push(DependencyUse {
                name: "thumbs-api".into(),
                calls: 1,
                failures: 0,
                total_ns: 1000,
                ..DependencyUse::default()
            });
            if i % 10 == 0 {
                r.attempts = 2;
                r.dependencies[0].failures = 1;
            }
            r
        })
        .collect()
}

#[test]
fn report_finds_planted_anomalies_change_and_advice() {
    let data = ReportData::from_records(&history(), &ReportOptions::default());
    assert_eq!(data.tasks.len(), 1);
    let t = &data.tasks[0];
    assert_eq!(t.runs, 2000);
    assert_eq!(t.retried_runs, 200);
    assert_eq!(t.model.as_ref().unwrap().class.as_deref(), Some("O(n)"));
    let runs: Vec<u64> = t.anomalies.iter().map(|a| a.run).collect();
    for p in PLANTED {
        assert!(
            runs.contains(&(p as u64 + 1)),
            "planted run {} not found in {runs:?}",
            p + 1
        );
    }
    assert!(runs.len() <= 8, "too many anomalies: {runs:?}");
    // the 35% slowdown from run 1,241 on: one statement, placed within 5 runs, sized within 10 points
    assert_eq!(t.statements.len(), 1, "{:?}", t.statements);
    let s = &t.statements[0];
    let after: u64 = s.rsplit("after run ").next().unwrap().replace(',', "").parse().unwrap();
    let percent: f64 = s["median duration rose ".len()..]
        .split('%')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        s.starts_with("median duration rose") && after.abs_diff(1240) <= 5 && (percent - 35.0).abs() <= 10.0,
        "{s}"
    );
    let kinds: Vec<_> = data.recommendations.iter().map(|r| r.kind).collect();
    assert!(kinds.contains(&RecommendationKind::FlakyDependency), "{kinds:?}");
    assert!(kinds.contains(&RecommendationKind::CacheFile), "{kinds:?}");

    let text = render_terminal(&data);
    assert!(
        text.contains("resize") && text.contains(s.as_str()) && text.contains("config.json"),
        "{text}"
    );
    let html = render_html(&data);
    assert_eq!(html.matches("<svg class=\"chart\"").count(), 6);
    assert!(html.contains("class=\"datum anomaly\""));
    assert!(
        !html.contains("src=\"http") && !html.contains("href=\"http"),
        "page must be self-contained"
    );
}

#[test]
fn task_and_since_filters() {
    let mut recs = history();
    recs.push(ExecutionRecord::new("other", T0, 1, OutcomeKind::Complete));
    let opts = ReportOptions {
        task: Some("other".into()),
        ..Default::default()
    };
    assert_eq!(ReportData::from_records(&recs, &opts).runs, 1);
    let opts = ReportOptions {
        since_unix_ns: Some(T0 + 1000 * 20_000_000_000),
        ..Default::default()
    };
    assert_eq!(ReportData::from_records(&recs, &opts).runs, 1000);
}

/// Loads the page in headless Chromium: it must load, run its inline script (which counts the
/// charts, and those with data, into the DOM) and log no console errors. Skips when Chromium is
/// missing, unless SERVICETASK_REQUIRE_CHROMIUM=1, in which case a missing browser fails the test.
#[test]
fn html_page_renders_in_headless_chromium() {
    let dir = std::env::temp_dir().join(format!("servicetask-report-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let page = dir.join("report.html");
    std::fs::write(
        &page,
        render_html(&ReportData::from_records(&history(), &ReportOptions::default())),
    )
    .unwrap();
    let Some(seen) = browser::check_page(&page).unwrap() else {
        assert!(
            !browser::chromium_required(),
            "SERVICETASK_REQUIRE_CHROMIUM=1 but chromium is not installed"
        );
        eprintln!("chromium not installed: skipping the browser check");
        return;
    };
    assert_eq!((seen.expected, seen.rendered, seen.with_data), (6, 6, 6), "{seen:?}");
    assert!(seen.console_errors.is_empty(), "{seen:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
