//! Telemetry admits its losses: with a tiny export queue and a slow OTLP receiver, spans are
//! dropped, and every span is accounted for: exported + dropped == produced, the receiver got
//! exactly the exported ones, and the drop counter reached the receiver as a metric.

mod support;

use std::time::Duration;

use opentelemetry::trace::{Tracer, TracerProvider as _};
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::number_data_point::Value;

#[test]
fn dropped_spans_are_counted_exactly_and_exported_as_a_metric() {
    let receiver = support::Receiver::start_slow(Duration::from_millis(50));
    // This test binary has one test, so setting the process environment is race-free.
    std::env::set_var("OTEL_EXPORTER_OTLP_ENDPOINT", &receiver.endpoint);
    std::env::set_var("OTEL_BSP_MAX_QUEUE_SIZE", "8");
    std::env::set_var("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "4");
    std::env::set_var("OTEL_BSP_SCHEDULE_DELAY", "1");
    let guard = servicetask::telemetry::init().unwrap();
    let losses = guard.span_losses().expect("OTLP export counts its losses").clone();

    let produced = 2_000u64;
    let tracer = opentelemetry::global::tracer_provider().tracer("drops");
    for i in 0..produced {
        tracer.in_span(format!("s{}", i % 3), |_| {});
    }
    assert_eq!(losses.ended(), produced);
    guard.shutdown(Duration::from_secs(20));

    let dropped = losses.dropped();
    let exported = losses.exported();
    assert!(
        dropped > 0,
        "a queue of 8 behind a 50 ms receiver must drop some of {produced} spans"
    );
    assert_eq!(exported + dropped, produced);

    let r = receiver.received.lock().unwrap();
    assert!(r.bad_requests.is_empty(), "{:?}", r.bad_requests);
    let received: usize = r
        .traces
        .iter()
        .flat_map(|t| &t.resource_spans)
        .flat_map(|rs| &rs.scope_spans)
        .map(|ss| ss.spans.len())
        .sum();
    assert_eq!(
        received as u64, exported,
        "the receiver got exactly the spans counted as exported"
    );

    // the final metric export (after the tracer provider's shutdown) carries the exact total
    let last_dropped = r
        .metrics
        .iter()
        .flat_map(|m| &m.resource_metrics)
        .flat_map(|rm| &rm.scope_metrics)
        .flat_map(|sm| &sm.metrics)
        .filter(|m| m.name == servicetask::semconv::metric::SPANS_DROPPED)
        .filter_map(|m| match &m.data {
            Some(Data::Sum(sum)) => sum.data_points.last().and_then(|p| match p.value {
                Some(Value::AsInt(v)) => Some(v as u64),
                _ => None,
            }),
            _ => None,
        })
        .next_back();
    assert_eq!(last_dropped, Some(dropped));
}
