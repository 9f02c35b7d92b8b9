//! The report as one self-contained HTML page: inline CSS and SVG, no external resource.
//!
//! Layout: a table of contents, the task table (duration, CPU and memory per execution side by
//! side), the recommendations, one section per task, the files. A task's section shows its change
//! statements and its model, then its charts at full width: duration percentiles, CPU time, peak
//! memory, duration against input size, retries. A task with fewer than [`MIN_RUNS_FOR_CHARTS`]
//! runs gets no charts (dots on an empty axis say nothing): its runs are a table. Every section
//! has an anchor the contents link to.
//!
//! An inline script counts the charts, and the charts with at least one data mark
//! (`class="datum"`), into a hidden element, so a headless browser can check the page.

use std::fmt::Write as _;

use servicetask_analytics::report::{ReportData, RunRow, TaskReport};
use servicetask_analytics::trends::{format_time, group_thousands};

use crate::charts::*;
use crate::format::*;

/// Runs a task needs before its charts are drawn; below, its runs are listed as table rows.
pub const MIN_RUNS_FOR_CHARTS: u64 = 3;

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:24px;color:#222}
table{border-collapse:collapse;margin:8px 0}td,th{padding:3px 10px;border-bottom:1px solid #ddd;text-align:right}
td:first-child,th:first-child{text-align:left}figure{margin:16px 0;width:100%}figcaption{font-weight:600;margin-bottom:4px}
svg.chart{width:100%;height:auto;display:block}
.tick{font-size:11px;fill:#555}.spark{font-family:monospace;white-space:pre}li{margin:4px 0}
nav ul{columns:2;padding-left:20px}nav li{margin:2px 0}
p.empty{margin:12px 0;color:#555}p.note{margin:2px 0 0;color:#555;font-size:90%}";

fn fmt_opt(v: Option<f64>, f: impl Fn(f64) -> String) -> String {
    v.map_or_else(|| "-".to_string(), f)
}

fn bytes(v: f64) -> String {
    fmt_bytes(v.max(0.0) as u64)
}

fn task_anchor(k: usize) -> String {
    format!("task-{k}")
}

/// The report as a self-contained HTML page. See the module docs.
pub fn render_html(d: &ReportData) -> String {
    let mut o = String::new();
    let _ = write!(
        o,
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>{}</title><style>{STYLE}</style></head><body><h1>{}</h1>"#,
        esc(&d.title),
        esc(&d.title)
    );
    match d.range {
        Some((a, b)) => {
            let _ = write!(
                o,
                "<p>{} executions {}.</p>",
                group_thousands(d.runs),
                esc(&fmt_range(a, b))
            );
        }
        None => o.push_str("<p>No executions.</p>"),
    }
    contents(&mut o, d);
    if !d.tasks.is_empty() {
        overview(&mut o, d);
    }
    if !d.recommendations.is_empty() {
        o.push_str(r#"<h2 id="recommendations">Recommendations</h2><ul>"#);
        for r in &d.recommendations {
            let _ = write!(o, "<li>{}</li>", esc(&r.message));
        }
        o.push_str("</ul>");
    }
    for (k, t) in d.tasks.iter().enumerate() {
        task_section(&mut o, t, k);
    }
    if !d.files.is_empty() {
        files(&mut o, d);
    }
    crate::dependencies::html(&mut o, d);
    let expected = o.matches(r#"<svg class="chart""#).count();
    let _ = write!(o, r#"<p id="chart-count" hidden data-expected="{expected}"></p>"#);
    o.push_str(
        r#"<script>(function(){var c=document.querySelectorAll("svg.chart"),w=0;for(var i=0;i<c.length;i++){if(c[i].querySelector(".datum")){w++;}}var e=document.getElementById("chart-count");e.setAttribute("data-rendered",String(c.length));e.setAttribute("data-with-data",String(w));})();</script>"#,
    );
    o.push_str("</body></html>\n");
    o
}

/// The table of contents: every section the page has.
fn contents(o: &mut String, d: &ReportData) {
    o.push_str(r#"<nav><h2 id="contents">Contents</h2><ul>"#);
    if !d.tasks.is_empty() {
        o.push_str(r##"<li><a href="#overview">Tasks</a></li>"##);
    }
    if !d.recommendations.is_empty() {
        o.push_str(r##"<li><a href="#recommendations">Recommendations</a></li>"##);
    }
    for (k, t) in d.tasks.iter().enumerate() {
        let _ = write!(o, r##"<li><a href="#{}">{}</a></li>"##, task_anchor(k), esc(&t.name));
    }
    if !d.files.is_empty() {
        o.push_str(r##"<li><a href="#files">Files</a></li>"##);
    }
    if !d.dependencies.is_empty() {
        o.push_str(r##"<li><a href="#dependencies">Dependencies</a></li>"##);
    }
    o.push_str("</ul></nav>");
}

/// One row per task: duration, CPU and memory per execution side by side.
fn overview(o: &mut String, d: &ReportData) {
    o.push_str(
        r#"<h2 id="overview">Tasks</h2><table><tr><th>task</th><th>runs</th><th>failures</th><th>duration p50</th><th>p95</th><th>p99</th><th>CPU p50</th><th>p95</th><th>peak memory p50</th><th>p95</th><th>anomalies</th><th>p95 duration over time</th></tr>"#,
    );
    for (k, t) in d.tasks.iter().enumerate() {
        let sl = sparkline(
            &t.buckets
                .iter()
                .map(|b| if b.runs > 0 { b.p95 } else { f64::NAN })
                .collect::<Vec<_>>(),
        );
        let cpu = |i: usize| fmt_opt(t.cpu_percentiles.map(|p| p[i]), fmt_secs);
        let mem = |i: usize| fmt_opt(t.memory_percentiles.map(|p| p[i]), bytes);
        let _ = write!(
            o,
            r##"<tr><td><a href="#{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class="spark">{}</td></tr>"##,
            task_anchor(k),
            esc(&t.name),
            group_thousands(t.runs),
            t.failures,
            fmt_secs(t.duration_percentiles[0]),
            fmt_secs(t.duration_percentiles[2]),
            fmt_secs(t.duration_percentiles[3]),
            cpu(0),
            cpu(2),
            mem(0),
            mem(2),
            t.anomaly_count,
            esc(&sl)
        );
    }
    o.push_str("</table>");
}

fn task_section(o: &mut String, t: &TaskReport, k: usize) {
    let id = task_anchor(k);
    let _ = write!(o, r#"<section id="{id}"><h2>{}</h2>"#, esc(&t.name));
    let _ = write!(
        o,
        "<p>{} runs: {} complete, {} BPMN errors, {} failures; {} retried, {} answered by a fallback.</p>",
        group_thousands(t.runs),
        t.complete,
        t.bpmn_errors,
        t.failures,
        t.retried_runs,
        t.fallback_runs
    );
    if !t.error_classes.is_empty() {
        let ec: Vec<String> = t.error_classes.iter().map(|(c, n)| format!("{c} {n}")).collect();
        let _ = write!(o, "<p>Errors: {}.</p>", esc(&ec.join(", ")));
    }
    if !t.statements.is_empty() {
        o.push_str("<ul>");
        for s in &t.statements {
            let _ = write!(o, "<li>{}</li>", esc(s));
        }
        o.push_str("</ul>");
    }
    if let Some(m) = &t.model {
        let _ = write!(o, "<p>Duration against input size: {}.</p>", esc(&m.verdict));
    }
    if t.runs < MIN_RUNS_FOR_CHARTS {
        let _ = write!(
            o,
            r#"<p class="note">{} — too few to chart; the run{} below.</p>"#,
            if t.runs == 1 { "One run" } else { "Two runs" },
            if t.runs == 1 { " is" } else { "s are" }
        );
        runs_table(o, &t.recent_runs);
    } else {
        chart_percentiles(o, t, &format!("{id}-duration"));
        chart_resource(o, t, Resource::Cpu, &format!("{id}-cpu"));
        chart_resource(o, t, Resource::Memory, &format!("{id}-memory"));
        chart_size(o, t, t.model.as_ref(), &format!("{id}-size"));
        chart_retries(o, t, &format!("{id}-retries"));
        o.push_str("<h3>Last runs</h3>");
        runs_table(o, &t.recent_runs);
    }
    if t.anomaly_count > 0 {
        let _ = write!(
            o,
            "<p>{} anomalous runs{}.</p>",
            group_thousands(t.anomaly_count),
            if t.anomaly_count as usize > t.anomalies.len() {
                format!(" (the last {} are marked in the charts)", t.anomalies.len())
            } else {
                String::new()
            }
        );
    }
    o.push_str("</section>");
}

/// Runs as table rows: when, outcome, duration, CPU, memory, network, input size, attempts.
fn runs_table(o: &mut String, runs: &[RunRow]) {
    o.push_str("<table><tr><th>run</th><th>started</th><th>outcome</th><th>duration</th><th>CPU</th><th>peak memory</th><th>network sent / received</th><th>input size</th><th>attempts</th></tr>");
    for r in runs {
        let _ = write!(
            o,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            group_thousands(r.run),
            esc(&format_time(r.at_unix_ns, true)),
            esc(&r.outcome),
            fmt_secs(r.duration_secs),
            fmt_opt(r.cpu_secs, fmt_secs),
            r.mem_peak_bytes.map_or("-".to_string(), fmt_bytes),
            match r.net_bytes {
                (0, 0) => "-".to_string(),
                (s, r) => format!("{} / {}", fmt_bytes(s), fmt_bytes(r)),
            },
            r.input_size.map_or("-".to_string(), group_thousands),
            r.attempts
        );
    }
    o.push_str("</table>");
}

fn files(o: &mut String, d: &ReportData) {
    o.push_str(r#"<section id="files"><h2>Files</h2>"#);
    let paths: Vec<&str> = d.files.iter().map(|f| f.path.as_str()).collect();
    let prefix = common_dir(&paths).unwrap_or_default();
    if !prefix.is_empty() {
        let _ = write!(o, "<p>Paths relative to <code>{}</code>.</p>", esc(&prefix));
    }
    if d.files_approximate {
        o.push_str(r#"<p class="note">More files were used than the report tracks: the most used are listed, their counts are upper bounds.</p>"#);
    }
    chart_files(o, &d.files, &prefix, "files-chart");
    o.push_str("<table><tr><th>path</th><th>read in runs</th><th>written in runs</th><th>bytes read</th><th>bytes written</th></tr>");
    for f in d.files.iter().take(50) {
        let _ = write!(
            o,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(f.path.strip_prefix(prefix.as_str()).unwrap_or(&f.path)),
            f.read_runs,
            f.write_runs,
            fmt_bytes(f.bytes_read),
            fmt_bytes(f.bytes_written)
        );
    }
    o.push_str("</table>");
    if d.files.len() > 50 {
        let _ = write!(o, "<p class=\"note\">and {} more files</p>", d.files.len() - 50);
    }
    o.push_str("</section>");
}
