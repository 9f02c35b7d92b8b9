//! The charts of a task and of the files, drawn with [`crate::svg`].

use std::fmt::Write as _;

use servicetask_analytics::report::{Bucket, FileRow, ModelSummary, TaskReport, MODEL_MIN_SIZES};
use servicetask_analytics::trends::group_thousands;

use crate::format::*;
use crate::svg::*;

/// The percentile series: `(selector, color, label, width, dashed)`, drawn in this order. p95
/// is wide and underneath, p50 narrower on top of it, p99 dashed on top of both, so that
/// coinciding percentiles (few runs per bucket) stay visible.
pub(crate) const PERCENTILE_SERIES: [(usize, &str, &str, f64, bool); 3] = [
    (1, "#f0a030", "p95", 4.5, false),
    (0, "#2b7bb9", "p50", 2.0, false),
    (2, "#8e44ad", "p99", 2.0, true),
];

pub(crate) fn chart_percentiles(o: &mut String, t: &TaskReport, id: &str) {
    svg_open(
        o,
        id,
        &format!("{}: duration percentiles over time, UTC (anomalies in red)", t.name),
        H,
    );
    let x0 = t.buckets.first().map_or(0, |b| b.start_unix_ns) as f64;
    let x1 = t.buckets.last().map_or(1, |b| b.end_unix_ns) as f64;
    let ymax = t
        .buckets
        .iter()
        .filter(|b| b.runs > 0)
        .map(|b| b.p99)
        .chain(t.anomalies.iter().map(|a| a.duration_secs))
        .fold(0.0, f64::max);
    let x = Axis::time(x0, x1, ML, W - MR);
    let y = seconds_axis(ymax);
    axes(o, &x, &y);
    let mid = |b: &Bucket| x.at((b.start_unix_ns as f64 + b.end_unix_ns as f64) / 2.0);
    for (sel, color, label, width, dashed) in PERCENTILE_SERIES {
        // one line per run of consecutive non-empty buckets: no line across an empty bucket
        for seg in t.buckets.split(|b| b.runs == 0) {
            let pts: Vec<(f64, f64)> = seg.iter().map(|b| (mid(b), y.at([b.p50, b.p95, b.p99][sel]))).collect();
            polyline(o, &pts, color, label, width, dashed);
        }
    }
    for a in &t.anomalies {
        let _ = write!(
            o,
            r##"<circle class="datum anomaly" cx="{:.1}" cy="{:.1}" r="4" fill="#d62728"><title>run {} ({}): {}</title></circle>"##,
            x.at(a.at_unix_ns as f64),
            y.at(a.duration_secs),
            a.run,
            esc(&a.metric),
            fmt_secs(a.duration_secs)
        );
    }
    let mut items: Vec<(&str, &str, Mark)> = [1usize, 0, 2]
        .iter()
        .map(|&k| {
            let (_, color, label, width, dashed) = PERCENTILE_SERIES[k];
            (color, label, Mark::Line(width, dashed))
        })
        .collect();
    items.push(("#d62728", "anomaly", Mark::Square));
    legend(o, &items);
    o.push_str("</svg></figure>");
}

pub(crate) fn chart_size(o: &mut String, t: &TaskReport, m: Option<&ModelSummary>, id: &str) {
    let title = match m.and_then(|m| m.class.as_deref()) {
        Some(class) => format!("{}: duration against input size, fitted {class} with 90% band", t.name),
        None => format!("{}: duration against input size", t.name),
    };
    // a model drawn only when it is reliable enough to name
    let drawn = m.filter(|m| m.class.is_some() && !m.curve.is_empty());
    if t.size_points.is_empty() {
        empty_chart(
            o,
            id,
            "Duration against input size: no input sizes recorded for this task; declare one with #[task(size)]",
        );
        return;
    }
    svg_open(o, id, &title, H);
    let (xmin, xmax) = t
        .size_points
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.0), b.max(p.0)));
    let ymax = t
        .size_points
        .iter()
        .map(|p| p.1)
        .chain(drawn.into_iter().flat_map(|m| m.curve.iter().map(|c| c.3)))
        .fold(0.0, f64::max);
    // from zero unless the sizes sit far from it; one distinct size is padded around it
    let lo = if xmax > xmin && xmin < xmax - xmin { 0.0 } else { xmin };
    let x = Axis::value(lo, xmax, ML, W - MR, true, true, 1.0, &fmt_count);
    let y = seconds_axis(ymax);
    axes(o, &x, &y);
    if let Some(m) = drawn {
        let mut band: Vec<String> = m
            .curve
            .iter()
            .map(|c| format!("{:.1},{:.1}", x.at(c.0), y.at(c.3)))
            .collect();
        band.extend(
            m.curve
                .iter()
                .rev()
                .map(|c| format!("{:.1},{:.1}", x.at(c.0), y.at(c.2))),
        );
        let _ = write!(
            o,
            r##"<polygon class="band" fill="#2b7bb9" fill-opacity="0.15" stroke="none" points="{}"/>"##,
            band.join(" ")
        );
    }
    for p in t.size_points.iter().filter(|p| !p.2) {
        let _ = write!(
            o,
            r##"<circle class="datum" cx="{:.1}" cy="{:.1}" r="2" fill="#555" fill-opacity="0.5"/>"##,
            x.at(p.0),
            y.at(p.1)
        );
    }
    if let Some(m) = drawn {
        let pts: Vec<(f64, f64)> = m.curve.iter().map(|c| (x.at(c.0), y.at(c.1))).collect();
        polyline(o, &pts, "#2b7bb9", &format!("fitted {}", m.verdict), 2.0, false);
    }
    for p in t.size_points.iter().filter(|p| p.2) {
        let _ = write!(
            o,
            r##"<circle class="datum anomaly" cx="{:.1}" cy="{:.1}" r="4" fill="#d62728"/>"##,
            x.at(p.0),
            y.at(p.1)
        );
    }
    let mut items = vec![("#555", "execution (sample)", Mark::Square)];
    if drawn.is_some() {
        items.push(("#2b7bb9", "fit and 90% band", Mark::Line(2.0, false)));
    }
    if t.size_points.iter().any(|p| p.2) {
        items.push(("#d62728", "anomaly", Mark::Square));
    }
    legend(o, &items);
    o.push_str("</svg>");
    if let Some(m) = m {
        let _ = write!(o, r#"<p class="note">Model: {}.</p>"#, esc(&m.verdict));
    } else {
        let mut sizes: Vec<u64> = t.size_points.iter().map(|p| p.0 as u64).collect();
        sizes.sort_unstable();
        sizes.dedup();
        let why = if sizes.len() == 1 {
            format!("every run had input size {}", group_thousands(sizes[0]))
        } else {
            format!(
                "{} runs at {} distinct input sizes",
                group_thousands(t.size_points.len() as u64),
                sizes.len()
            )
        };
        let _ = write!(
            o,
            r#"<p class="note">{}: too little to fit a duration model (it needs at least 10 runs at {MODEL_MIN_SIZES} or more distinct sizes).</p>"#,
            esc(&why)
        );
    }
    o.push_str("</figure>");
}

/// Picks a `(p50, p95)` pair out of a bucket.
type BucketPair = fn(&Bucket) -> Option<(f64, f64)>;

/// A per-execution resource: CPU time or peak memory.
#[derive(Clone, Copy)]
pub(crate) enum Resource {
    Cpu,
    Memory,
}

/// p50 and p95 of CPU time or peak memory per execution over time, beside the duration chart.
pub(crate) fn chart_resource(o: &mut String, t: &TaskReport, which: Resource, id: &str) {
    let (what, pick): (&str, BucketPair) = match which {
        Resource::Cpu => ("CPU time", |b| b.cpu),
        Resource::Memory => ("peak memory", |b| b.memory),
    };
    let ymax = t.buckets.iter().filter_map(pick).map(|p| p.1).fold(0.0, f64::max);
    if t.buckets.iter().all(|b| pick(b).is_none()) {
        empty_chart(o, id, &format!("No {what} recorded for this task."));
        return;
    }
    svg_open(o, id, &format!("{}: {what} per execution over time, UTC", t.name), H);
    let x0 = t.buckets.first().map_or(0, |b| b.start_unix_ns) as f64;
    let x1 = t.buckets.last().map_or(1, |b| b.end_unix_ns) as f64;
    let x = Axis::time(x0, x1, ML, W - MR);
    let y = match which {
        Resource::Cpu => Axis::value(
            0.0,
            (ymax * 1.02).max(1e-6),
            H - MB,
            MT,
            false,
            true,
            1e-6,
            &fmt_secs_tick,
        ),
        Resource::Memory => Axis::value(
            0.0,
            (ymax * 1.02).max(1.0),
            H - MB,
            MT,
            false,
            true,
            1.0,
            &fmt_bytes_tick,
        ),
    };
    axes(o, &x, &y);
    let mid = |b: &Bucket| x.at((b.start_unix_ns as f64 + b.end_unix_ns as f64) / 2.0);
    for (sel, color, label, width) in [(1usize, "#f0a030", "p95", 4.5), (0, "#2b7bb9", "p50", 2.0)] {
        for seg in t.buckets.split(|b| pick(b).is_none()) {
            let pts: Vec<(f64, f64)> = seg
                .iter()
                .filter_map(|b| pick(b).map(|p| (mid(b), y.at(if sel == 0 { p.0 } else { p.1 }))))
                .collect();
            polyline(o, &pts, color, label, width, false);
        }
    }
    legend(
        o,
        &[
            ("#f0a030", "p95", Mark::Line(4.5, false)),
            ("#2b7bb9", "p50", Mark::Line(2.0, false)),
        ],
    );
    o.push_str("</svg></figure>");
}

pub(crate) fn chart_retries(o: &mut String, t: &TaskReport, id: &str) {
    let title = format!("{}: retries, failures and breaker rejections over time, UTC", t.name);
    let ymax = t
        .buckets
        .iter()
        .map(|b| b.retries.max(b.failures).max(b.breaker_rejections))
        .max()
        .unwrap_or(0);
    if ymax == 0 {
        empty_chart(o, id, "No retries, failures or rejections in this period.");
        return;
    }
    svg_open(o, id, &title, H);
    let x0 = t.buckets.first().map_or(0, |b| b.start_unix_ns) as f64;
    let x1 = t.buckets.last().map_or(1, |b| b.end_unix_ns) as f64;
    let x = Axis::time(x0, x1, ML, W - MR);
    let y = Axis::value(0.0, ymax as f64, H - MB, MT, true, true, 1.0, &fmt_count);
    axes(o, &x, &y);
    for b in &t.buckets {
        let (left, right) = (x.at(b.start_unix_ns as f64), x.at(b.end_unix_ns as f64));
        let bw = (right - left) / 3.5;
        for (j, (v, color, label)) in [
            (b.retries, "#f0a030", "retries"),
            (b.failures, "#d62728", "failures"),
            (b.breaker_rejections, "#555", "breaker rejections"),
        ]
        .iter()
        .enumerate()
        {
            if *v == 0 {
                continue;
            }
            let px = left + bw * (0.25 + j as f64);
            let top = y.at(*v as f64);
            let _ = write!(
                o,
                r#"<rect class="datum" x="{px:.1}" y="{top:.1}" width="{bw:.1}" height="{:.1}" fill="{color}"><title>{v} {label}</title></rect>"#,
                (H - MB) - top
            );
        }
    }
    legend(
        o,
        &[
            ("#f0a030", "retries", Mark::Square),
            ("#d62728", "failures", Mark::Square),
            ("#555", "breaker rejections", Mark::Square),
        ],
    );
    o.push_str("</svg></figure>");
}

pub(crate) fn chart_files(o: &mut String, files: &[FileRow], prefix: &str, id: &str) {
    let rows: Vec<&FileRow> = files.iter().take(12).collect();
    let bar_h = 9.0;
    let row_h = bar_h * 2.0 + 6.0;
    let height = MT + 8.0 + rows.len() as f64 * row_h + 8.0;
    let title = if files.len() > rows.len() {
        format!(
            "file access: executions reading and writing each file ({} most used of {})",
            rows.len(),
            files.len()
        )
    } else {
        "file access: executions reading and writing each file".to_string()
    };
    svg_open(o, id, &title, height);
    let max = rows
        .iter()
        .map(|f| f.read_runs.max(f.write_runs))
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let left = 250.0;
    let right = W - MR - 40.0;
    for (k, f) in rows.iter().enumerate() {
        let y0 = MT + 8.0 + k as f64 * row_h;
        let name = shorten_left(f.path.strip_prefix(prefix).unwrap_or(&f.path), 38);
        let _ = write!(
            o,
            r#"<text x="{}" y="{:.1}" text-anchor="end" class="tick"><title>{}</title>{}</text>"#,
            left - 6.0,
            y0 + bar_h + 4.0,
            esc(&f.path),
            esc(&name)
        );
        for (j, (v, color, what)) in [(f.read_runs, "#2b7bb9", "read"), (f.write_runs, "#f0a030", "written")]
            .iter()
            .enumerate()
        {
            if *v == 0 {
                continue;
            }
            let w = (right - left) * *v as f64 / max;
            // a lone bar sits level with its label
            let by = if f.read_runs == 0 || f.write_runs == 0 {
                y0 + bar_h / 2.0
            } else {
                y0 + j as f64 * bar_h
            };
            let _ = write!(
                o,
                r#"<rect class="datum" x="{left}" y="{by:.1}" width="{w:.1}" height="{bar_h:.1}" fill="{color}"><title>{what} in {v} executions</title></rect><text x="{:.1}" y="{:.1}" class="tick" style="font-size:8.5px">{v}</text>"#,
                left + w + 4.0,
                by + bar_h - 1.0
            );
        }
    }
    legend(
        o,
        &[
            ("#2b7bb9", "read in N executions", Mark::Square),
            ("#f0a030", "written in N executions", Mark::Square),
        ],
    );
    o.push_str("</svg></figure>");
}
