//! Unit tests of the rendering: ticks, labels, empty and degenerate charts, alignment.

use servicetask_analytics::report::{ReportData, ReportOptions};
use servicetask_core::record::{ExecutionRecord, FileAccess, FileAccessKind, OutcomeKind};

use crate::format::*;
use crate::svg::*;
use crate::{render_html, render_terminal};

#[test]
fn sparkline_shapes() {
    assert_eq!(sparkline(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]), "▁▂▃▄▅▆▇█");
    assert_eq!(sparkline(&[2.0, f64::NAN, 2.0]), "▄ ▄");
    assert_eq!(sparkline(&[]), "");
}

#[test]
fn empty_report_renders() {
    let d = ReportData::from_records(&[], &ReportOptions::default());
    assert!(render_terminal(&d).contains("no executions"));
    assert!(render_html(&d).contains("No executions"));
}

#[test]
fn html_escapes_names() {
    let recs = vec![ExecutionRecord::new("<b>&x", 0, 1, OutcomeKind::Complete)];
    let html = render_html(&ReportData::from_records(&recs, &ReportOptions::default()));
    assert!(html.contains("&lt;b&gt;&amp;x") && !html.contains("<b>&x"));
}

/// Every tick label in the page (the text of `class="tick"` elements).
fn tick_labels(html: &str) -> Vec<String> {
    html.split(r#"class="tick">"#)
        .skip(1)
        .map(|rest| {
            let rest = rest
                .strip_prefix("<title>")
                .map_or(rest, |r| r.split_once("</title>").map_or(r, |x| x.1));
            rest.split('<').next().unwrap_or_default().to_string()
        })
        .collect()
}

fn reads_as_negative_zero(label: &str) -> bool {
    label.starts_with('-')
        && label.chars().any(|c| c.is_ascii_digit())
        && !label.chars().any(|c| c.is_ascii_digit() && c != '0')
}

/// Three tasks over 0.4 s: `nosize` without input sizes, `zero` whose sizes are all 0 and
/// durations all 0, `same` whose sizes are all 400.
fn degenerate_history() -> Vec<ExecutionRecord> {
    let t0 = 1_795_820_771_826_067_011i64;
    let mut recs = Vec::new();
    for i in 0..12i64 {
        recs.push(ExecutionRecord::new(
            "nosize",
            t0 + i * 30_000_000,
            5_000_000,
            OutcomeKind::Complete,
        ));
        let mut z = ExecutionRecord::new("zero", t0 + i * 31_000_000, 0, OutcomeKind::Complete);
        z.input_size = Some(0);
        recs.push(z);
        let mut s = ExecutionRecord::new(
            "same",
            t0 + i * 33_000_000,
            1_000_000 * (1 + i as u64),
            OutcomeKind::Complete,
        );
        s.input_size = Some(400);
        recs.push(s);
    }
    recs
}

#[test]
fn labels_never_read_negative_zero() {
    assert_eq!(no_negative_zero("-0.00".into()), "0.00");
    assert_eq!(no_negative_zero("-0µs".into()), "0µs");
    assert_eq!(no_negative_zero("-0".into()), "0");
    assert_eq!(no_negative_zero("-1.50".into()), "-1.50");
    assert_eq!(no_negative_zero("-".into()), "-");
    assert_eq!(fmt_count(-1e-12, 0.01), "0.00");
    assert_eq!(fmt_secs_tick(-1e-12, 1e-6), "0");
    let html = render_html(&ReportData::from_records(
        &degenerate_history(),
        &ReportOptions::default(),
    ));
    let labels = tick_labels(&html);
    assert!(labels.len() > 20, "{labels:?}");
    let bad: Vec<&String> = labels.iter().filter(|l| reads_as_negative_zero(l)).collect();
    assert!(bad.is_empty(), "negative zero labels: {bad:?}");
    assert!(!html.contains(">-0<") && !html.contains(">-0.") && !html.contains(">-0µs"));
    // the CLI demo's history (one size per task) was the original symptom
    let mut one = Vec::new();
    for i in 0..5i64 {
        let mut r = ExecutionRecord::new("file_processing", i * 1_000_000, 7_000_000, OutcomeKind::Complete);
        r.input_size = Some(1);
        one.push(r);
    }
    let html = render_html(&ReportData::from_records(&one, &ReportOptions::default()));
    assert!(!tick_labels(&html).iter().any(|l| reads_as_negative_zero(l)));
}

#[test]
fn size_chart_without_sizes_says_so_in_one_line() {
    let d = ReportData::from_records(&degenerate_history(), &ReportOptions::default());
    let html = render_html(&d);
    let k = d.tasks.iter().position(|t| t.name == "nosize").unwrap();
    assert!(html.contains(&format!(
        r#"<p class="empty" id="task-{k}-size">Duration against input size: no input sizes recorded for this task; declare one with #[task(size)]</p>"#
    )));
    assert!(!html.contains(&format!(r#"id="task-{k}-size" viewBox"#)));
}

#[test]
fn one_distinct_size_gets_a_padded_axis_and_no_model() {
    let d = ReportData::from_records(&degenerate_history(), &ReportOptions::default());
    let same = d.tasks.iter().find(|t| t.name == "same").unwrap();
    assert!(same.model.is_none(), "one size cannot support a model");
    let x = Axis::value(400.0, 400.0, 0.0, 100.0, true, true, 1.0, &fmt_count);
    assert!(x.lo < 400.0 && x.hi > 400.0, "{} {}", x.lo, x.hi);
    assert!((x.at(400.0) - 50.0).abs() < 1e-9, "the value sits in the middle");
    let labels: Vec<&str> = x.ticks.iter().map(|t| t.1.as_str()).collect();
    assert_eq!(labels, ["200", "300", "400", "500", "600"]);
    // size 0: padded to -1..1, no negative size labelled
    let x = Axis::value(0.0, 0.0, 0.0, 100.0, true, true, 1.0, &fmt_count);
    assert!((x.at(0.0) - 50.0).abs() < 1e-9);
    let labels: Vec<&str> = x.ticks.iter().map(|t| t.1.as_str()).collect();
    assert_eq!(labels, ["0", "1"]);
    let html = render_html(&d);
    let k = d.tasks.iter().position(|t| t.name == "same").unwrap();
    assert!(html.contains(&format!(r#"id="task-{k}-size" viewBox"#)));
    assert!(html.contains("every run had input size 400: too little to fit a duration model"));
    assert!(render_terminal(&d).contains("no model (every run had input size 400;"));
}

#[test]
fn retries_chart_only_when_something_happened() {
    let d = ReportData::from_records(&degenerate_history(), &ReportOptions::default());
    let html = render_html(&d);
    assert_eq!(
        html.matches("No retries, failures or rejections in this period.")
            .count(),
        3
    );
    assert!(!html.contains(r#"id="retries-0" viewBox"#));
    let mut recs = degenerate_history();
    recs[0].attempts = 3; // nosize, first run: two retries
    let d = ReportData::from_records(&recs, &ReportOptions::default());
    let k = d.tasks.iter().position(|t| t.name == "nosize").unwrap();
    let html = render_html(&d);
    assert!(html.contains(&format!(r#"id="task-{k}-retries" viewBox"#)));
    assert_eq!(
        html.matches("No retries, failures or rejections in this period.")
            .count(),
        2
    );
    assert!(html.contains("<title>2 retries</title>"));
    // integer ticks on a count axis
    let svg = html
        .split(&format!(r#"id="task-{k}-retries""#))
        .nth(1)
        .unwrap()
        .split("</svg>")
        .next()
        .unwrap();
    let labels = tick_labels(svg);
    assert!(
        labels.iter().any(|l| l == "2") && !labels.iter().any(|l| l.contains('.') && !l.contains(':')),
        "{labels:?}"
    );
}

#[test]
fn coinciding_percentiles_stay_visible_and_the_legend_matches() {
    // one run per bucket: p50 == p95 == p99
    let recs: Vec<_> = (0..24)
        .map(|i| ExecutionRecord::new("t", i * 1_000_000_000, 1_000_000, OutcomeKind::Complete))
        .collect();
    let html = render_html(&ReportData::from_records(&recs, &ReportOptions::default()));
    let svg = html
        .split(r#"id="task-0-duration""#)
        .nth(1)
        .unwrap()
        .split("</svg>")
        .next()
        .unwrap();
    // p99 dashed, p95 wider than p50, in the chart and in the legend
    let p99 = r##"stroke="#8e44ad" stroke-width="2" stroke-dasharray="7 4""##;
    let p95 = r##"stroke="#f0a030" stroke-width="4.5""##;
    let p50 = r##"stroke="#2b7bb9" stroke-width="2""##;
    for s in [p99, p95, p50] {
        assert!(svg.matches(s).count() >= 2, "{s} missing in chart or legend");
    }
    assert!(svg.contains(&format!(r#"<polyline class="datum" fill="none" {p99}"#)));
    // drawn after (on top of) p95 and p50
    let at = |s: &str| {
        svg.find(&format!("<polyline class=\"datum\" fill=\"none\" {s}"))
            .unwrap()
    };
    assert!(at(p95) < at(p50) && at(p50) < at(p99));
}

#[test]
fn time_ticks_follow_the_span_and_fit() {
    assert_eq!(fmt_clock(3_600_000_000_000 + 61_250_000_000, 100_000_000), "01:01:01.2");
    assert_eq!(fmt_clock(3_600_000_000_000 + 61_250_000_000, 5_000_000_000), "01:01:01");
    assert_eq!(fmt_clock(3_600_000_000_000 + 60_000_000_000, 300_000_000_000), "01:01");
    assert_eq!(fmt_clock(86_400_000_000_000, 6 * 3_600_000_000_000), "01-02");
    // a 0.4 s report (the CLI demo) used to label every tick "23:06 UTC"
    let d = ReportData::from_records(&degenerate_history(), &ReportOptions::default());
    let html = render_html(&d);
    let svg = html
        .split(r#"id="task-0-duration""#)
        .nth(1)
        .unwrap()
        .split("</svg>")
        .next()
        .unwrap();
    let mut labels: Vec<String> = tick_labels(svg).into_iter().filter(|l| l.contains(':')).collect();
    assert!(labels.len() >= 3, "{labels:?}");
    assert!(labels.iter().all(|l| l.contains('.')), "sub-second ticks: {labels:?}");
    let n = labels.len();
    labels.dedup();
    assert_eq!(labels.len(), n, "distinct labels");
    // every x label is centred and inside the picture
    for part in svg.split(r#"text-anchor="middle" class="tick">"#).skip(1) {
        let label = part.split('<').next().unwrap();
        let before = svg
            .find(&format!(r#"text-anchor="middle" class="tick">{label}<"#))
            .unwrap();
        let x: f64 = svg[..before]
            .rsplit("<text x=\"")
            .next()
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let half = label.chars().count() as f64 * TICK_CHAR_W / 2.0;
        assert!(x - half >= 0.0 && x + half <= W, "{label} at {x}");
    }
    // an 11-hour report gets hour:minute ticks on round times
    let x = Axis::time(0.0, 11.0 * 3600e9, 0.0, 100.0);
    let labels: Vec<&str> = x.ticks.iter().map(|t| t.1.as_str()).collect();
    assert_eq!(labels, ["01-01", "02:00", "04:00", "06:00", "08:00", "10:00"]);
}

#[test]
fn value_axes_have_round_ticks() {
    let y = Axis::value(0.0, 0.0776, 100.0, 0.0, false, true, 1e-6, &fmt_secs_tick);
    let labels: Vec<&str> = y.ticks.iter().map(|t| t.1.as_str()).collect();
    assert_eq!(labels, ["0", "20ms", "40ms", "60ms", "80ms"]);
    let x = Axis::value(0.0, 5097.0, 0.0, 100.0, true, true, 1.0, &fmt_count);
    let labels: Vec<&str> = x.ticks.iter().map(|t| t.1.as_str()).collect();
    assert_eq!(labels, ["0", "2000", "4000", "6000"]);
    assert_eq!(fmt_secs_tick(0.0005, 0.0002), "500µs");
    assert_eq!(fmt_secs_tick(0.0015, 0.0005), "1.5ms");
    assert_eq!(fmt_count(1_500_000.0, 500_000.0), "1.5M");
}

#[test]
fn page_has_no_meaningless_chart_count_and_counts_charts_for_the_browser_check() {
    let d = ReportData::from_records(&degenerate_history(), &ReportOptions::default());
    let html = render_html(&d);
    assert!(!html.contains("charts: "));
    let n = html.matches(r#"<svg class="chart""#).count();
    assert_eq!(n, 5, "3 percentile charts, 2 size charts, no retry chart");
    assert!(html.contains(&format!(r#"<p id="chart-count" hidden data-expected="{n}"></p>"#)));
}

#[test]
fn range_shows_seconds_when_short() {
    let t = 1_795_820_771_826_067_011i64; // 2026-11-27 23:06:11 UTC
    assert_eq!(
        fmt_range(t, t + 400_000_000),
        "on 2026-11-27 from 23:06:11 to 23:06:12 UTC"
    );
    assert_eq!(
        fmt_range(t - 7_200_000_000_000, t),
        "on 2026-11-27 from 21:06 to 23:06 UTC"
    );
    assert_eq!(
        fmt_range(t, t + 86_400_000_000_000),
        "from 2026-11-27 23:06 UTC to 2026-11-28 23:06 UTC"
    );
}

#[test]
fn terminal_file_table_stays_aligned_with_long_paths() {
    let long = format!("/srv/data/{}/input.csv", "very-long-directory-name/".repeat(5));
    let mut recs = Vec::new();
    for (i, path) in [long.as_str(), "a.txt", "/tmp/b.json"].iter().enumerate() {
        let mut r = ExecutionRecord::new("t", i as i64, 1_000, OutcomeKind::Complete);
        r.files.push(FileAccess {
            path: path.to_string(),
            kind: FileAccessKind::Read,
            bytes: 10,
            ops: 1,
            file_size: None,
        });
        r.files.push(FileAccess {
            path: "/only/looked/at".into(),
            kind: FileAccessKind::Meta,
            bytes: 0,
            ops: 1,
            file_size: None,
        });
        recs.push(r);
    }
    let text = render_terminal(&ReportData::from_records(&recs, &ReportOptions::default()));
    let table: Vec<&str> = text
        .split("== files ==\n")
        .nth(1)
        .unwrap()
        .lines()
        .take_while(|l| !l.is_empty())
        .collect();
    assert_eq!(
        table.len(),
        4,
        "header and three files (metadata-only paths left out): {table:?}"
    );
    let widths: Vec<usize> = table.iter().map(|l| l.chars().count()).collect();
    assert!(widths.iter().all(|&w| w == widths[0]), "{table:#?}");
    assert!(
        table.iter().any(|l| l.starts_with("…") && l.contains("/input.csv ")),
        "{table:#?}"
    );
    assert_eq!(shorten_left("abcdef", 4), "…def");
    assert_eq!(shorten_left("abc", 4), "abc");
    assert_eq!(
        common_dir(&["/tmp/rp/a.csv", "/tmp/rp/out/b.csv"]).as_deref(),
        Some("/tmp/rp/")
    );
    assert_eq!(common_dir(&["/a.csv", "/b.csv"]), None);
}
