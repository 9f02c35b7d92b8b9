//! The dependencies section, as text and as HTML: per dependency, the runs that call it, calls
//! per run, failed calls and their classes, mean call, share of the runs' time, network bytes,
//! and what the analytics found (slow, flaky, chatty); the advice itself is in the
//! recommendations, per task.

use std::fmt::Write as _;

use servicetask_analytics::dependencies::DependencyRow;
use servicetask_analytics::report::ReportData;

use crate::format::*;

/// Rows listed (the rest are counted).
const LISTED: usize = 50;

fn errors(r: &DependencyRow) -> String {
    let mut v: Vec<(&String, &u64)> = r.pattern.errors.iter().collect();
    v.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let shown: Vec<String> = v.iter().take(3).map(|(c, n)| format!("{c} {n}")).collect();
    if shown.is_empty() {
        "-".to_string()
    } else {
        shown.join(", ")
    }
}

fn verdict(r: &DependencyRow) -> String {
    let labels: Vec<&str> = r.findings.iter().map(|f| f.label()).collect();
    if labels.is_empty() {
        "-".to_string()
    } else {
        labels.join(", ")
    }
}

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

/// `== dependencies ==` with one line per dependency.
pub(crate) fn terminal(o: &mut String, d: &ReportData) {
    if d.dependencies.is_empty() {
        return;
    }
    let _ = writeln!(o, "\n== dependencies ==");
    let w = d
        .dependencies
        .iter()
        .map(|r| r.pattern.name.chars().count())
        .max()
        .unwrap_or(4)
        .clamp(4, 40);
    let _ = writeln!(
        o,
        "{:<w$}  {:>7}  {:>9}  {:>7}  {:>9}  {:>6}  {:>9}  {:>9}  {:<12}  errors",
        "name", "runs", "calls/run", "fail%", "mean call", "time%", "sent", "received", "found"
    );
    for r in d.dependencies.iter().take(LISTED) {
        let p = &r.pattern;
        let _ = writeln!(
            o,
            "{:<w$}  {:>7}  {:>9.1}  {:>7}  {:>9}  {:>6}  {:>9}  {:>9}  {:<12}  {}",
            shorten_left(&p.name, w),
            p.runs,
            p.calls_per_run(),
            pct(p.failure_rate()),
            fmt_secs(p.mean_call_secs()),
            format!("{:.0}%", p.time_share() * 100.0),
            fmt_bytes(p.bytes_sent),
            fmt_bytes(p.bytes_received),
            verdict(r),
            errors(r)
        );
    }
    if d.dependencies.len() > LISTED {
        let _ = writeln!(o, "... and {} more dependencies", d.dependencies.len() - LISTED);
    }
    if d.dependencies_approximate {
        let _ = writeln!(
            o,
            "(more dependencies were called than tracked: counts are upper bounds)"
        );
    }
}

/// `<section id="dependencies">`: the same table.
pub(crate) fn html(o: &mut String, d: &ReportData) {
    if d.dependencies.is_empty() {
        return;
    }
    o.push_str(r#"<section id="dependencies"><h2>Dependencies</h2>"#);
    if d.dependencies_approximate {
        o.push_str(r#"<p class="note">More dependencies were called than the report tracks: the most called are listed, their counts are upper bounds.</p>"#);
    }
    o.push_str("<table><tr><th>dependency</th><th>runs</th><th>calls per run</th><th>failed calls</th><th>errors</th><th>mean call</th><th>share of run time</th><th>bytes sent</th><th>bytes received</th><th>found</th></tr>");
    for r in d.dependencies.iter().take(LISTED) {
        let p = &r.pattern;
        let _ = write!(
            o,
            "<tr><td>{}</td><td>{}</td><td>{:.1}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.0}%</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&p.name),
            p.runs,
            p.calls_per_run(),
            pct(p.failure_rate()),
            esc(&errors(r)),
            fmt_secs(p.mean_call_secs()),
            p.time_share() * 100.0,
            fmt_bytes(p.bytes_sent),
            fmt_bytes(p.bytes_received),
            esc(&verdict(r))
        );
    }
    o.push_str("</table>");
    if d.dependencies.len() > LISTED {
        let _ = write!(
            o,
            "<p class=\"note\">and {} more dependencies</p>",
            d.dependencies.len() - LISTED
        );
    }
    o.push_str("</section>");
}

#[cfg(test)]
mod tests {
    use servicetask_analytics::report::{ReportData, ReportOptions};

    use crate::{render_html, render_terminal};

    fn data() -> ReportData {
        let recs = servicetask_test_support::records::dependency_runs();
        ReportData::from_records(&recs, &ReportOptions::default())
    }

    #[test]
    fn the_terminal_lists_each_dependency_with_its_findings() {
        let d = data();
        assert_eq!(d.dependencies.len(), 3);
        let text = render_terminal(&d);
        let section: Vec<&str> = text
            .split("== dependencies ==\n")
            .nth(1)
            .expect("a dependencies section")
            .lines()
            .take_while(|l| !l.is_empty())
            .collect();
        assert_eq!(section.len(), 4, "a heading and a row per dependency: {section:#?}");
        let row = |name: &str| *section.iter().find(|l| l.starts_with(name)).expect(name);
        let crm = row("crm.example.com");
        assert!(crm.contains("12.0") && crm.contains("chatty"), "{crm}");
        assert!(crm.contains("29.3 KiB") && crm.contains("60.0 KiB"), "{crm}");
        let mail = row("mail");
        assert!(mail.contains("flaky") && mail.contains("timeout 10"), "{mail}");
        // the advice is in the recommendations, per task
        assert!(
            text.contains("sync: dependency 'crm.example.com' is called 12.0 times per run"),
            "{text}"
        );
    }

    #[test]
    fn the_page_has_the_section_its_link_and_network_per_run() {
        let html = render_html(&data());
        assert!(html.contains(r##"<a href="#dependencies">Dependencies</a>"##));
        assert!(html.contains(r#"<section id="dependencies"><h2>Dependencies</h2>"#));
        assert!(
            html.contains("<td>crm.example.com</td><td>30</td><td>12.0</td>"),
            "{html}"
        );
        assert!(html.contains("<th>network sent / received</th>"));
        assert!(html.contains("<td>1000 B / 2.0 KiB</td>"), "{html}");
    }
}
