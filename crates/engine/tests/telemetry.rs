//! Telemetry and persistence: the instance span parents the task spans, continues a given
//! traceparent, and a saved-then-resumed instance stays in the same trace.

use opentelemetry::trace::{SpanId, TraceId, Tracer};
use opentelemetry::Value as OtelValue;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use serde_json::{json, Map, Value};
use servicetask_engine::*;
use std::path::Path;
use std::sync::{Arc, OnceLock};

fn exporter() -> &'static InMemorySpanExporter {
    static EXPORTER: OnceLock<InMemorySpanExporter> = OnceLock::new();
    EXPORTER.get_or_init(|| {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        opentelemetry::global::set_tracer_provider(provider);
        exporter
    })
}

fn attr(span: &SpanData, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| match &kv.value {
            OtelValue::String(s) => s.to_string(),
            other => other.to_string(),
        })
}

fn defs() -> servicetask_bpmn::Definitions {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/simple_service.bpmn");
    servicetask_bpmn::load_file(&path).unwrap()
}

#[tokio::test]
async fn spans_nest_continue_the_traceparent_and_survive_a_resume() {
    let exporter = exporter();
    let handler: Arc<dyn TaskHandler> = Arc::new(|call: ServiceCall| -> ServiceFuture {
        let tracer = opentelemetry::global::tracer("test-runner");
        let mut span = tracer.start_with_context(call.binding.task_type.clone(), &call.otel_context);
        opentelemetry::trace::Span::end(&mut span);
        Box::pin(async { ServiceResult::Complete(Map::new()) })
    });
    let engine = Engine::new(handler);
    let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let mut vars = Map::new();
    vars.insert("traceparent".to_string(), json!(tp));
    let mut inst = engine.start(&defs(), "simple", vars).unwrap();
    let instance_id = inst.id().to_string();
    assert!(matches!(inst.run().await, RunOutcome::Waiting { .. }));

    // save to a SQLite file, drop, load, resume
    let db = std::env::temp_dir().join(format!("servicetask-engine-test-{instance_id}.sqlite"));
    let store = SqliteInstanceStore::open(&db).unwrap();
    store.save(&inst.snapshot()).unwrap();
    let first_traceparent = inst.traceparent().unwrap().to_string();
    let _ = inst.suspend();
    let listed = store.list().unwrap();
    assert!(listed
        .iter()
        .any(|s| s.instance_id == instance_id && s.status == "running"));
    let snap = store.load(&instance_id).unwrap().expect("saved");
    assert_eq!(snap.traceparent.as_deref(), Some(first_traceparent.as_str()));
    let mut resumed = engine.resume(&defs(), snap).unwrap();
    assert_eq!(resumed.waiting_tasks().len(), 1);
    resumed.complete_task("approve", Map::new()).unwrap();
    assert_eq!(resumed.run().await, RunOutcome::Completed);
    store.save(&resumed.snapshot()).unwrap();
    assert!(store
        .list()
        .unwrap()
        .iter()
        .any(|s| s.instance_id == instance_id && s.status == "completed"));
    assert!(store.delete(&instance_id).unwrap());
    drop(store);
    let _ = std::fs::remove_file(&db);

    let spans: Vec<SpanData> = exporter.get_finished_spans().unwrap();
    let mine: Vec<&SpanData> = spans
        .iter()
        .filter(|s| attr(s, "bpmn.process.instance.id").as_deref() == Some(instance_id.as_str()))
        .collect();
    assert_eq!(mine.len(), 2, "one span per segment of the instance: {mine:#?}");
    let trace = TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap();
    let first = mine
        .iter()
        .find(|s| attr(s, "bpmn.process.resumed").is_none())
        .expect("first segment");
    let second = mine
        .iter()
        .find(|s| attr(s, "bpmn.process.resumed").is_some())
        .expect("resumed segment");
    assert_eq!(first.name, "simple");
    assert_eq!(attr(first, "bpmn.process.id").as_deref(), Some("simple"));
    assert_eq!(first.span_context.trace_id(), trace, "continues the given traceparent");
    assert_eq!(first.parent_span_id, SpanId::from_hex("00f067aa0ba902b7").unwrap());
    assert_eq!(
        second.span_context.trace_id(),
        trace,
        "the resumed instance stays in its trace"
    );
    assert_eq!(second.parent_span_id, first.span_context.span_id());
    let task = spans
        .iter()
        .find(|s| s.name == "work" && s.span_context.trace_id() == trace)
        .expect("task span");
    assert_eq!(
        task.parent_span_id,
        first.span_context.span_id(),
        "the task span is a child of the instance span"
    );
}

#[tokio::test]
async fn a_malformed_traceparent_starts_a_new_trace() {
    let _ = exporter();
    let engine = Engine::new(Arc::new(StubHandler));
    let mut vars = Map::new();
    vars.insert("traceparent".to_string(), Value::String("garbage".into()));
    let inst = engine.start(&defs(), "simple", vars).unwrap();
    let tp = inst.traceparent().expect("a recording span");
    assert!(!tp.contains("4bf92f3577b34da6a3ce929d0e0e4736"));
    assert_eq!(telemetry::parse_traceparent(tp).map(|sc| sc.is_valid()), Some(true));
}

#[tokio::test(start_paused = true)]
async fn a_resumed_instance_keeps_its_timers_and_variables() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/timers.bpmn");
    let defs = servicetask_bpmn::load_file(&path).unwrap();
    let engine = Engine::new(Arc::new(StubHandler));
    let mut inst = engine
        .start(
            &defs,
            "timers",
            serde_json::from_value(json!({"reminders": 0})).unwrap(),
        )
        .unwrap();
    assert!(
        matches!(inst.run().await, RunOutcome::Waiting { .. }),
        "waits at 'review' after PT5S"
    );
    let _ = inst.advance(std::time::Duration::from_secs(12)).await; // first reminder at 10 s after review
    assert_eq!(inst.variables().get("reminders"), Some(&json!(1)));
    let store = SqliteInstanceStore::in_memory().unwrap();
    store.save(&inst.suspend()).unwrap();
    let id = store.list().unwrap()[0].instance_id.clone();
    let mut back = engine.resume(&defs, store.load(&id).unwrap().unwrap()).unwrap();
    assert_eq!(back.waiting_tasks()[0].element_id, "review");
    // the timeout had 60 - 12 = 48 s left when saved; the second reminder 8 s
    let o = back.advance(std::time::Duration::from_secs(47)).await;
    assert!(matches!(o, RunOutcome::Waiting { .. }), "{o:?}");
    assert_eq!(back.variables().get("reminders"), Some(&json!(2)));
    assert_eq!(
        back.advance(std::time::Duration::from_secs(2)).await,
        RunOutcome::Completed
    );
    assert_eq!(back.variables().get("escalated"), Some(&json!(true)));
}
