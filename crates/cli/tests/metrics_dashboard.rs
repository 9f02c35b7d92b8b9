//! `GET /metrics` of a real `servicetask serve` process after a workload, held against the
//! Grafana dashboard in `dashboards/servicetask.json`: every metric and label its PromQL
//! queries name is exported (or, for the few that only appear after an event this workload
//! does not cause, is the Prometheus name of a metric in the semantic-convention registry).
//! And it answers in the format the scrape's `Accept` header asks for: OpenMetrics 1.0 for the
//! header Prometheus sends, with exemplars on the duration buckets naming the traces of the
//! instances started; the Prometheus text format (no exemplars, no `# EOF`) for `text/plain`,
//! `*/*` or no header. The OpenMetrics text itself is parsed by an OpenMetrics parser in
//! `crates/servicetask/tests/openmetrics_exemplars.rs` and by a real Prometheus in
//! `scripts/prometheus-dashboard.sh`.

mod serve_support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use serve_support::{workdir, Server};

/// Two `ledger_append` tasks: the first writes the ledger, the second too, or fails with an
/// I/O error when the ledger is a directory.
const LEDGER: &str = r#"<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"><process id="ledger" isExecutable="true">
  <startEvent id="start"/><sequenceFlow id="f1" sourceRef="start" targetRef="a"/>
  <serviceTask id="a" implementation="ledger_append"/><sequenceFlow id="f2" sourceRef="a" targetRef="end"/>
  <endEvent id="end"/></process></definitions>"#;

/// Series that exist only once something happens that a healthy serve workload does not cause
/// (a retry, a breaker, a rejection, memory tracking, an anomaly, a dead node's lease): checked
/// against the registry by name here; `crates/servicetask/tests/prometheus_names.rs` causes all
/// but the take-overs and lease expiries and finds them under these names and labels (the
/// cluster test `serve_cluster.rs` causes those). Keep this list short.
const AFTER_AN_EVENT: &[&str] = &[
    "servicetask_retries_total",
    "servicetask_breaker_state_ratio",
    "servicetask_rejections_total",
    "servicetask_memory_peak_bytes_sum",
    "servicetask_memory_peak_bytes_count",
    "servicetask_anomalies_total",
    "servicetask_jobs_takeovers_total",
    "servicetask_jobs_lease_expiries_total",
];

/// A PromQL expression's metric names and the label names it groups or matches by.
fn names_in(expr: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    const KEYWORDS: &[&str] = &[
        "sum",
        "max",
        "min",
        "avg",
        "by",
        "without",
        "rate",
        "increase",
        "histogram_quantile",
        "ignoring",
        "on",
        "group_left",
        "group_right",
    ];
    // Grafana's variable query: label_values(metric, label)
    if let Some(args) = expr
        .trim()
        .strip_prefix("label_values(")
        .and_then(|a| a.strip_suffix(')'))
    {
        let (metric, label) = args.split_once(',').unwrap_or((args, ""));
        let (metrics, _) = names_in(metric);
        return (metrics, BTreeSet::from([label.trim().to_string()]));
    }
    let (mut metrics, mut labels) = (BTreeSet::new(), BTreeSet::new());
    let chars: Vec<char> = expr.chars().collect();
    let (mut i, mut in_braces, mut in_label_list, mut after_keyword) = (0, false, false, false);
    while i < chars.len() {
        let c = chars[i];
        if c == '"' {
            // a string literal: skip to its end
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            continue;
        }
        if c == '[' {
            while i < chars.len() && chars[i] != ']' {
                i += 1;
            }
            continue;
        }
        if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            if in_braces || in_label_list {
                labels.insert(word);
            } else if KEYWORDS.contains(&word.as_str()) {
                after_keyword = matches!(word.as_str(), "by" | "without" | "ignoring" | "on");
            } else {
                metrics.insert(word);
            }
            continue;
        }
        match c {
            '{' => in_braces = true,
            '}' => in_braces = false,
            '(' if after_keyword => in_label_list = true,
            ')' => in_label_list = false,
            _ => {}
        }
        if !c.is_whitespace() && c != '(' {
            after_keyword = false;
        }
        i += 1;
    }
    (metrics, labels)
}

/// The sample lines of a scrape as (name, label names).
fn samples(text: &str) -> Vec<(String, BTreeSet<String>)> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let name_end = l.find(['{', ' ']).unwrap_or(l.len());
            let mut labels = BTreeSet::new();
            if let (Some(open), Some(close)) = (l.find('{'), l.rfind('}')) {
                for pair in l[open + 1..close].split("\",") {
                    if let Some((k, _)) = pair.split_once('=') {
                        labels.insert(k.trim_matches([',', ' ']).to_string());
                    }
                }
            }
            (l[..name_end].to_string(), labels)
        })
        .collect()
}

/// The Prometheus names of the registry's metrics (dots to underscores; the exporter's unit
/// and `_total` suffixes are added by the caller's candidates).
fn registry_metric_names() -> BTreeSet<String> {
    let yaml = include_str!("../../../semconv/registry/servicetask.yaml");
    yaml.lines()
        .filter_map(|l| l.trim().strip_prefix("metric_name:"))
        .map(|n| n.trim().trim_matches('"').replace('.', "_"))
        .collect()
}

/// A serve process with the ledger process deployed and `complete + fail` instances started:
/// `complete` that write a ledger, `fail` that fail with an I/O error (the ledger is a
/// directory). Also gives the instances' trace ids.
fn serve_ledgers(complete: usize, fail: usize) -> (tempfile::TempDir, Server, BTreeSet<String>) {
    let (dir, db, ledger) = workdir();
    let server = Server::start(&db, &[]);
    let api = server.client(None);
    api.deploy("ledger.bpmn", LEDGER);
    let mut traces = BTreeSet::new();
    let failing = dir.path().to_path_buf();
    for target in std::iter::repeat_n(&ledger, complete).chain(std::iter::repeat_n(&failing, fail)) {
        let (s, _, body) = api
            .post(
                "/v1/instances",
                &json!({"processId": "ledger", "variables": {"ledger": target}}),
            )
            .unwrap();
        assert_eq!(s, 201, "{body}");
        let traceparent = body["traceparent"].as_str().expect("the instance has a trace");
        traces.insert(traceparent.split('-').nth(1).unwrap().to_string());
    }
    (dir, server, traces)
}

#[test]
fn every_metric_and_label_the_dashboard_queries_is_exported() {
    let (_dir, server, _) = serve_ledgers(5, 2);
    let api = server.client(None);

    // scrape until all 7 executions are counted and the worker has fetched the store's figures
    // since (the instance gauges read the last figures it fetched)
    let start = Instant::now();
    let text = loop {
        let (status, ct, body) = api.get("/metrics").unwrap();
        assert_eq!(status, 200);
        assert!(ct.starts_with("text/plain; version=0.0.4"), "{ct}");
        let Value::String(text) = body else {
            panic!("/metrics is not text: {body}")
        };
        let executions: f64 = text
            .lines()
            .filter(|l| l.starts_with("servicetask_executions_total{"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum();
        if executions >= 7.0 && text.contains("servicetask_instances{") {
            break text;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "7 executions never counted:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let scraped = samples(&text);
    assert!(
        text.contains("servicetask_executions_total{") && text.contains("error_type=\"io\""),
        "the failures are counted by class:\n{text}"
    );

    let dashboard: Value =
        serde_json::from_str(include_str!("../../../dashboards/servicetask.json")).expect("the dashboard is JSON");
    assert!(
        dashboard["templating"]["list"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["type"] == "datasource" && v["name"] == "datasource"),
        "the data source is a variable"
    );
    let mut queries: Vec<String> = Vec::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        assert_eq!(panel["datasource"]["uid"], "${datasource}", "{}", panel["title"]);
        for target in panel["targets"].as_array().expect("targets") {
            queries.push(target["expr"].as_str().expect("expr").to_string());
        }
    }
    for variable in dashboard["templating"]["list"].as_array().unwrap() {
        if let Some(q) = variable["query"]["query"].as_str() {
            queries.push(q.to_string());
        }
    }
    assert!(queries.len() >= 13, "{queries:?}");

    let registry = registry_metric_names();
    let mut checked = 0;
    for expr in &queries {
        let (metrics, labels) = names_in(expr);
        assert!(!metrics.is_empty(), "no metric in {expr}");
        for metric in &metrics {
            assert!(metric.starts_with("servicetask_"), "{metric} in {expr}");
            if AFTER_AN_EVENT.contains(&metric.as_str()) {
                let base = ["_total", "_ratio", "_bytes_sum", "_bytes_count"]
                    .iter()
                    .find_map(|s| metric.strip_suffix(s))
                    .unwrap_or(metric);
                assert!(registry.contains(base), "{metric} is no metric of the registry");
                continue;
            }
            assert!(
                scraped.iter().any(|(name, _)| name == metric),
                "{metric} (in {expr}) is not exported:\n{text}"
            );
            checked += 1;
        }
        let exported: Vec<&BTreeSet<String>> = scraped
            .iter()
            .filter(|(name, _)| metrics.contains(name))
            .map(|(_, l)| l)
            .collect();
        if exported.is_empty() {
            continue; // only metrics of AFTER_AN_EVENT
        }
        for label in &labels {
            assert!(
                exported.iter().any(|l| l.contains(label)),
                "label {label} (in {expr}) is on no exported series of {metrics:?}"
            );
        }
    }
    assert!(checked >= 12, "only {checked} metric names checked against the scrape");
    server.terminate();
}

#[test]
fn the_promql_reader_finds_metrics_and_labels() {
    let (m, l) = names_in(
        r#"histogram_quantile(0.99, sum by (servicetask_name, le) (rate(servicetask_duration_seconds_bucket{servicetask_name=~"$task"}[$__rate_interval])))"#,
    );
    assert_eq!(m, BTreeSet::from(["servicetask_duration_seconds_bucket".to_string()]));
    assert_eq!(l, BTreeSet::from(["servicetask_name".to_string(), "le".to_string()]));
    let (m, l) = names_in("sum(rate(a_total[5m])) / ignoring(error_type) group_left sum by (x) (b)");
    assert_eq!(m, BTreeSet::from(["a_total".to_string(), "b".to_string()]));
    assert_eq!(l, BTreeSet::from(["error_type".to_string(), "x".to_string()]));
    let (m, l) = names_in("label_values(servicetask_executions_total, servicetask_name)");
    assert_eq!(m, BTreeSet::from(["servicetask_executions_total".to_string()]));
    assert_eq!(l, BTreeSet::from(["servicetask_name".to_string()]));
}

/// What Prometheus 2.x sends when it scrapes.
const PROMETHEUS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

/// GET `/metrics` with `accept` (none when `None`): the `Content-Type` and the body.
fn scrape(http: &reqwest::blocking::Client, base: &str, accept: Option<&str>) -> (String, String) {
    let mut req = http.get(format!("{base}/metrics"));
    if let Some(a) = accept {
        req = req.header("accept", a);
    }
    let res = req.send().unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let ct = res.headers()["content-type"].to_str().unwrap().to_string();
    (ct, res.text().unwrap())
}

/// The trace ids of the exemplars on `servicetask_duration_seconds_bucket` lines.
fn exemplar_traces(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|l| l.starts_with("servicetask_duration_seconds_bucket{"))
        .filter_map(|l| l.split_once(" # {trace_id=\""))
        .map(|(_, rest)| rest.split('"').next().unwrap().to_string())
        .collect()
}

#[test]
fn the_accept_header_chooses_openmetrics_with_exemplars_or_the_prometheus_text() {
    let (_dir, server, traces) = serve_ledgers(3, 1);

    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let base = &server.base;
    // scrape until the failure's exemplar is there (the executions run in the background)
    let start = Instant::now();
    let (ct, text) = loop {
        let (ct, text) = scrape(&http, base, Some(PROMETHEUS_ACCEPT));
        let failed = text.lines().any(|l| {
            l.starts_with("servicetask_duration_seconds_bucket{")
                && l.contains("error_type=\"io\"")
                && l.contains(" # {")
        });
        if failed {
            break (ct, text);
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no exemplar of the failure:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(ct.starts_with("application/openmetrics-text; version=1.0.0"), "{ct}");
    assert!(text.ends_with("# EOF\n"), "{text}");
    assert!(text.contains("# TYPE servicetask_executions counter\n"), "{text}");
    let seen = exemplar_traces(&text);
    assert!(!seen.is_empty(), "{text}");
    for t in &seen {
        assert!(
            traces.contains(t),
            "exemplar trace {t} is no instance's trace {traces:?}"
        );
    }

    // the Prometheus text format for anything else; same series, no exemplar
    for accept in [None, Some("text/plain"), Some("*/*"), Some("application/json")] {
        let (ct, plain) = scrape(&http, base, accept);
        assert!(ct.starts_with("text/plain; version=0.0.4"), "{accept:?}: {ct}");
        assert!(
            !plain.contains("# EOF") && !plain.contains(" # {"),
            "{accept:?}:\n{plain}"
        );
        assert!(plain.contains("servicetask_executions_total{"), "{accept:?}:\n{plain}");
    }
}
