//! The OpenMetrics 1.0 text format of the metrics `opentelemetry-prometheus` collects, with the
//! duration histogram's exemplars ([`super::exemplars`]).
//!
//! The families are the ones the Prometheus text format shows, under the same sample names and
//! labels (so a Prometheus switching format keeps its series): a counter `x_total` is the family
//! `x` with the sample `x_total`, a histogram's `le` values are written as in the Prometheus text,
//! the resource's `target_info` gauge is the `target` info family, and the text ends in `# EOF`.
//! Every metric of a family carries the same label names: one without a label the others have
//! (a successful execution has no `error_type`) writes it empty, which Prometheus reads as
//! absent (the same series), and which parsers that want one label set per family accept.
//! Exemplars go on the `servicetask_duration_seconds_bucket` samples whose series they belong to.

use std::fmt::Write as _;

use prometheus::proto::{LabelPair, Metric, MetricFamily, MetricType};

use super::exemplars::{Exemplar, ExemplarStore};

/// The duration histogram's family, as `opentelemetry-prometheus` names it.
const DURATION: &str = "servicetask_duration_seconds";

/// The families as OpenMetrics text, exemplars from `exemplars`.
pub fn encode(families: &[MetricFamily], exemplars: &ExemplarStore) -> String {
    let mut out = String::with_capacity(16 * 1024);
    for mf in families {
        family(&mut out, mf, exemplars);
    }
    out.push_str("# EOF\n");
    out
}

fn family(out: &mut String, mf: &MetricFamily, exemplars: &ExemplarStore) {
    let name = mf.name();
    let (family, kind) = match mf.get_field_type() {
        MetricType::COUNTER => (name.strip_suffix("_total").unwrap_or(name), "counter"),
        MetricType::GAUGE if name == "target_info" => ("target", "info"),
        MetricType::GAUGE => (name, "gauge"),
        MetricType::HISTOGRAM => (name, "histogram"),
        MetricType::SUMMARY => (name, "summary"),
        MetricType::UNTYPED => (name, "unknown"),
    };
    if !mf.help().is_empty() {
        let _ = writeln!(out, "# HELP {family} {}", escape(mf.help()));
    }
    let _ = writeln!(out, "# TYPE {family} {kind}");
    let names = label_names(mf.get_metric());
    for m in mf.get_metric() {
        let m = &Labelled { m, names: &names };
        match mf.get_field_type() {
            MetricType::COUNTER => sample(out, family, "_total", m, None, m.get_counter().get_value()),
            MetricType::GAUGE if kind == "info" => sample(out, name, "", m, None, 1.0),
            MetricType::GAUGE => sample(out, name, "", m, None, m.get_gauge().get_value()),
            // never made by opentelemetry-prometheus (the Prometheus text encoder refuses them too)
            MetricType::UNTYPED => {}
            MetricType::SUMMARY => {
                let s = m.get_summary();
                for q in s.get_quantile() {
                    sample(out, name, "", m, Some(("quantile", &number(q.quantile()))), q.value());
                }
                sample(out, name, "_sum", m, None, s.sample_sum());
                sample(out, name, "_count", m, None, s.sample_count() as f64);
            }
            MetricType::HISTOGRAM => histogram(out, name, m, exemplars),
        }
    }
}

fn histogram(out: &mut String, name: &str, m: &Labelled<'_>, exemplars: &ExemplarStore) {
    let h = m.m.get_histogram();
    let kept = if name == DURATION {
        let label = |k: &str| m.m.get_label().iter().find(|l| l.name() == k).map(LabelPair::value);
        label("servicetask_name").and_then(|task| {
            exemplars.series(
                task,
                label("servicetask_outcome").unwrap_or(""),
                label("error_type").unwrap_or(""),
            )
        })
    } else {
        None
    };
    let slot = |i: usize| kept.as_ref().and_then(|k| k.get(i).copied().flatten());
    let mut inf_seen = false;
    let buckets = h.get_bucket();
    for (i, b) in buckets.iter().enumerate() {
        let le = b.upper_bound();
        inf_seen |= le == f64::INFINITY;
        sample(
            out,
            name,
            "_bucket",
            m,
            Some(("le", &number(le))),
            b.cumulative_count() as f64,
        );
        with_exemplar(out, slot(i));
    }
    if !inf_seen {
        sample(
            out,
            name,
            "_bucket",
            m,
            Some(("le", "+Inf")),
            h.get_sample_count() as f64,
        );
        with_exemplar(out, slot(buckets.len()));
    }
    sample(out, name, "_sum", m, None, h.get_sample_sum());
    sample(out, name, "_count", m, None, h.get_sample_count() as f64);
}

/// Writes `name+suffix{labels} value` without the line's end (an exemplar may follow).
fn sample(out: &mut String, name: &str, suffix: &str, m: &Labelled<'_>, extra: Option<(&str, &str)>, value: f64) {
    out.push_str(name);
    out.push_str(suffix);
    if !m.names.is_empty() || extra.is_some() {
        out.push('{');
        let mut first = true;
        let value_of = |k: &str| {
            m.m.get_label()
                .iter()
                .find(|l| l.name() == k)
                .map_or("", LabelPair::value)
        };
        let pairs = m.names.iter().map(|k| (k.as_str(), value_of(k))).chain(extra);
        for (k, v) in pairs {
            if !first {
                out.push(',');
            }
            first = false;
            let _ = write!(out, "{k}=\"{}\"", escape(v));
        }
        out.push('}');
    }
    out.push(' ');
    out.push_str(&number(value));
    let ts = m.m.timestamp_ms();
    if ts != 0 {
        let _ = write!(out, " {}", ts as f64 / 1000.0);
    }
    // histograms add their exemplar (or nothing) before the end of the line
    if suffix != "_bucket" {
        out.push('\n');
    }
}

/// A metric with the label names of its family.
struct Labelled<'a> {
    m: &'a Metric,
    names: &'a [String],
}

impl std::ops::Deref for Labelled<'_> {
    type Target = Metric;
    fn deref(&self) -> &Metric {
        self.m
    }
}

/// The label names of a family's metrics, in the order first seen.
fn label_names(metrics: &[Metric]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for l in metrics.iter().flat_map(Metric::get_label) {
        if !names.iter().any(|n| n == l.name()) {
            names.push(l.name().to_string());
        }
    }
    names
}

fn with_exemplar(out: &mut String, e: Option<Exemplar>) {
    if let Some(e) = e {
        let _ = write!(
            out,
            " # {{trace_id=\"{}\",span_id=\"{}\"}} {} {:.3}",
            e.trace_id,
            e.span_id,
            number(e.value),
            e.unix_seconds
        );
    }
    out.push('\n');
}

/// A number as both text formats write it (`+Inf`, `-Inf`, `NaN`, else Rust's shortest form,
/// which is what the Prometheus text encoder writes too).
fn number(v: f64) -> String {
    if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else if v.is_nan() {
        "NaN".into()
    } else {
        v.to_string()
    }
}

/// A label value or help text with `\`, `"` and line feeds escaped.
fn escape(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.contains(['\\', '"', '\n']) {
        return s.into();
    }
    s.replace('\\', r"\\").replace('"', "\\\"").replace('\n', r"\n").into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus::proto::{Bucket, Counter, Gauge, Histogram};

    fn pair(k: &str, v: &str) -> LabelPair {
        let mut l = LabelPair::default();
        l.set_name(k.into());
        l.set_value(v.into());
        l
    }

    fn fam(name: &str, t: MetricType, help: &str, metrics: Vec<Metric>) -> MetricFamily {
        let mut f = MetricFamily::default();
        f.set_name(name.into());
        f.set_help(help.into());
        f.set_field_type(t);
        f.set_metric(metrics);
        f
    }

    #[test]
    fn counters_info_and_histograms_are_written_as_openmetrics() {
        let mut c = Metric::from_label(vec![pair("task", "a\"b")]);
        let mut cv = Counter::default();
        cv.set_value(7.0);
        c.set_counter(cv);
        let mut g = Metric::from_label(vec![pair("service_name", "x")]);
        let mut gv = Gauge::default();
        gv.set_value(1.0);
        g.set_gauge(gv);
        let mut h = Metric::from_label(vec![pair("k", "v")]);
        let mut hv = Histogram::default();
        let mut b = Bucket::default();
        b.set_upper_bound(0.5);
        b.set_cumulative_count(2);
        hv.set_bucket(vec![b]);
        hv.set_sample_count(3);
        hv.set_sample_sum(4.5);
        h.set_histogram(hv);
        let text = encode(
            &[
                fam("runs_total", MetricType::COUNTER, "Runs\nby task", vec![c]),
                fam("target_info", MetricType::GAUGE, "Target metadata", vec![g]),
                fam("lat_seconds", MetricType::HISTOGRAM, "", vec![h]),
            ],
            &ExemplarStore::default(),
        );
        let want = "# HELP runs Runs\\nby task\n# TYPE runs counter\nruns_total{task=\"a\\\"b\"} 7\n\
            # HELP target Target metadata\n# TYPE target info\ntarget_info{service_name=\"x\"} 1\n\
            # TYPE lat_seconds histogram\nlat_seconds_bucket{k=\"v\",le=\"0.5\"} 2\nlat_seconds_bucket{k=\"v\",le=\"+Inf\"} 3\n\
            lat_seconds_sum{k=\"v\"} 4.5\nlat_seconds_count{k=\"v\"} 3\n# EOF\n";
        assert_eq!(text, want);
    }

    #[test]
    fn a_label_one_metric_lacks_is_written_empty() {
        let counter = |labels: Vec<LabelPair>, v: f64| {
            let mut m = Metric::from_label(labels);
            let mut c = Counter::default();
            c.set_value(v);
            m.set_counter(c);
            m
        };
        let ok = counter(vec![pair("outcome", "complete")], 5.0);
        let failed = counter(vec![pair("outcome", "failure"), pair("error_type", "io")], 2.0);
        let text = encode(
            &[fam("runs_total", MetricType::COUNTER, "", vec![ok, failed])],
            &ExemplarStore::default(),
        );
        let want = "# TYPE runs counter\nruns_total{outcome=\"complete\",error_type=\"\"} 5\n\
            runs_total{outcome=\"failure\",error_type=\"io\"} 2\n# EOF\n";
        assert_eq!(text, want);
    }
}
