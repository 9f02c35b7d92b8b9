//! The OpenMetrics scrape of an embedding program (`Prometheus::scrape` with Prometheus's own
//! `Accept` header) parsed by a real OpenMetrics parser (`openmetrics-parser`, a grammar of the
//! format): the same families as the Prometheus text format, and on the duration histogram's
//! buckets exemplars whose trace and span ids are those of the task spans the SDK exported
//! (an in-memory exporter), one per bucket, each in the bucket its value falls in.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use openmetrics_parser::{OpenMetricsType, OpenMetricsValue};
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use servicetask::telemetry::prometheus::Prometheus;
use servicetask::{task_fn, ErrorClass, Runner, TaskConfig, TaskContext, TaskError, Telemetry};

/// What Prometheus 2.x sends when it scrapes.
const PROMETHEUS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

#[test]
fn exemplars_on_the_duration_buckets_carry_the_exported_task_spans() {
    let (scrape, reader) = Prometheus::new().unwrap();
    let meters = SdkMeterProvider::builder().with_reader(reader).build();
    let spans = InMemorySpanExporter::default();
    let tracers = SdkTracerProvider::builder().with_simple_exporter(spans.clone()).build();
    let runner = Runner::builder()
        .telemetry(Telemetry::from_providers(&tracers, &meters))
        .build();
    // sleeps the given milliseconds (0: returns at once); 4 ms fails with an I/O error (its message must appear
    // nowhere in the scrape)
    let task = runner
        .register(task_fn(
            TaskConfig::builder("sleeper").build(),
            |_cx: TaskContext, ms: u64| async move {
                if ms > 0 {
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                }
                if ms == 4 {
                    return Err(TaskError::new(ErrorClass::Io, "the disk is full"));
                }
                Ok::<_, TaskError>(ms)
            },
        ))
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        for ms in [0, 0, 3, 3, 30, 30, 120] {
            task.run(ms).await;
        }
        task.run(4).await;
    });
    let _ = tracers.force_flush();

    let answer = scrape.scrape(PROMETHEUS_ACCEPT);
    assert_eq!(answer.content_type, Prometheus::OPENMETRICS_CONTENT_TYPE);
    let text = answer.body;
    assert!(text.ends_with("# EOF\n"), "{text}");
    let parsed = openmetrics_parser::openmetrics::parse_openmetrics(&text)
        .unwrap_or_else(|e| panic!("not OpenMetrics: {e:?}\n{text}"));

    // the task spans the SDK exported, as (trace id, span id) in hex
    let exported: BTreeSet<(String, String)> = spans
        .get_finished_spans()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s.span_context.trace_id().to_string(),
                s.span_context.span_id().to_string(),
            )
        })
        .collect();
    assert!(exported.len() >= 8, "{exported:?}");

    let duration = &parsed.families["servicetask_duration_seconds"];
    assert_eq!(duration.family_type, OpenMetricsType::Histogram);
    let mut seen: HashMap<String, Vec<(f64, f64)>> = HashMap::new();
    for sample in duration.iter_samples() {
        let labels = sample.get_labelset().unwrap();
        let outcome = labels.get_label_value("servicetask_outcome").unwrap().to_string();
        assert_eq!(labels.get_label_value("servicetask_name"), Some("sleeper"));
        let OpenMetricsValue::Histogram(h) = &sample.value else {
            panic!("{:?}", sample.value)
        };
        let (mut lower, mut below) = (f64::NEG_INFINITY, 0.0);
        for b in &h.buckets {
            // a bucket that received an execution has its exemplar, the others none
            let fell_in = b.count.as_f64() - below;
            assert_eq!(
                b.exemplar.is_some(),
                fell_in > 0.0,
                "{outcome}: {fell_in} execution(s) in ({lower}, {}] and exemplar {:?}",
                b.upper_bound,
                b.exemplar
            );
            if let Some(e) = &b.exemplar {
                let ids = (e.labels["trace_id"].clone(), e.labels["span_id"].clone());
                assert_eq!(e.labels.len(), 2, "only the trace and span ids: {:?}", e.labels);
                let chars: usize = e
                    .labels
                    .iter()
                    .map(|(k, v)| k.chars().count() + v.chars().count())
                    .sum();
                assert!(
                    chars <= 128,
                    "an exemplar label set of {chars} characters (at most 128)"
                );
                assert!(exported.contains(&ids), "{ids:?} is no exported span: {exported:?}");
                assert!(
                    e.id > lower && e.id <= b.upper_bound,
                    "{} not in ({lower}, {}]",
                    e.id,
                    b.upper_bound
                );
                assert!(e.timestamp.is_some(), "an exemplar without a time");
                seen.entry(outcome.clone()).or_default().push((b.upper_bound, e.id));
            }
            (lower, below) = (b.upper_bound, b.count.as_f64());
        }
    }
    // the successful runs took from nothing to 120 ms: at least the 30 ms and 120 ms buckets
    // (the shortest ones' buckets depend on the machine); the one failure gives one exemplar
    let complete = &seen["complete"];
    assert!(complete.len() >= 3, "{complete:?}\n{text}");
    assert!(complete.iter().any(|(_, v)| *v >= 0.12), "{complete:?}");
    assert!(complete.iter().any(|(_, v)| (0.03..0.12).contains(v)), "{complete:?}");
    assert_eq!(seen["failure"].len(), 1, "{seen:?}");

    // the same families, under the same names, as the Prometheus text format
    let plain = scrape.scrape("text/plain");
    assert_eq!(plain.content_type, Prometheus::CONTENT_TYPE);
    for (name, family) in &parsed.families {
        let sample_name = match family.family_type {
            OpenMetricsType::Counter => format!("{name}_total"),
            OpenMetricsType::Info => format!("{name}_info"),
            OpenMetricsType::Histogram => format!("{name}_bucket"),
            _ => name.clone(),
        };
        assert!(
            plain.body.contains(&format!("\n{sample_name}{{")) || plain.body.starts_with(&format!("{sample_name}{{")),
            "{sample_name} is not in the Prometheus text:\n{}",
            plain.body
        );
    }
    assert!(!plain.body.contains("# {"), "no exemplar in the Prometheus text format");
    assert!(!text.contains("the disk is full"), "an error message in the scrape");
}
