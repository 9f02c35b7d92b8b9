//! The process-instance span: continues a W3C `traceparent`, and yields one for persistence.

use opentelemetry::global::BoxedTracer;
use opentelemetry::trace::{
    Span, SpanBuilder, SpanContext, SpanId, SpanKind, TraceContextExt, TraceFlags, TraceId, TraceState, Tracer,
};
use opentelemetry::{Context, KeyValue};
use std::sync::Arc;

/// Attribute: the BPMN process id.
pub const BPMN_PROCESS_ID: &str = "bpmn.process.id";
/// Attribute: the process instance id.
pub const BPMN_PROCESS_INSTANCE_ID: &str = "bpmn.process.instance.id";
/// Name of the tracer the engine uses.
pub const TRACER_NAME: &str = "servicetask-engine";

/// Parses a W3C `traceparent` (`00-<32 hex>-<16 hex>-<2 hex>`) into a remote span context.
/// Returns `None` for anything malformed or all-zero ids.
pub fn parse_traceparent(s: &str) -> Option<SpanContext> {
    let parts: Vec<&str> = s.trim().split('-').collect();
    if parts.len() < 4 {
        return None;
    }
    let (version, trace, span, flags) = (parts[0], parts[1], parts[2], parts[3]);
    let hex = |t: &str, n: usize| t.len() == n && t.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase());
    if !hex(version, 2) || version == "ff" || !hex(trace, 32) || !hex(span, 16) || !hex(flags, 2) {
        return None;
    }
    if version == "00" && parts.len() != 4 {
        return None;
    }
    let trace_id = TraceId::from_hex(trace).ok()?;
    let span_id = SpanId::from_hex(span).ok()?;
    if trace_id == TraceId::INVALID || span_id == SpanId::INVALID {
        return None;
    }
    let flags = u8::from_str_radix(flags, 16).ok()?;
    Some(SpanContext::new(
        trace_id,
        span_id,
        TraceFlags::new(flags & 1),
        true,
        TraceState::default(),
    ))
}

/// Formats a span context as a W3C `traceparent`; `None` when it is not valid.
pub fn format_traceparent(sc: &SpanContext) -> Option<String> {
    if !sc.is_valid() {
        return None;
    }
    Some(format!(
        "00-{}-{}-{:02x}",
        sc.trace_id(),
        sc.span_id(),
        sc.trace_flags().to_u8()
    ))
}

/// Starts the process-instance span `<process id>` on `tracer` (the global tracer when `None`),
/// child of `parent` when given, and returns a context carrying it.
///
/// The attributes are set once the span is known to record: a program without a tracer
/// provider (the API's no-op) pays for no attribute list. (A sampler therefore does not see
/// them when it decides.)
pub(crate) fn start_instance_span(
    tracer: Option<&BoxedTracer>,
    process_id: Arc<str>,
    instance_id: Arc<str>,
    parent: Option<SpanContext>,
    resumed: bool,
) -> Context {
    let parent_cx = match parent {
        Some(sc) => Context::new().with_remote_span_context(sc),
        None => Context::new(),
    };
    let builder = SpanBuilder::from_name(process_id.to_string()).with_kind(SpanKind::Internal);
    let mut span = match tracer {
        Some(t) => t.build_with_context(builder, &parent_cx),
        None => opentelemetry::global::tracer(TRACER_NAME).build_with_context(builder, &parent_cx),
    };
    if span.is_recording() {
        span.set_attribute(KeyValue::new(BPMN_PROCESS_ID, process_id));
        span.set_attribute(KeyValue::new(BPMN_PROCESS_INSTANCE_ID, instance_id));
        if resumed {
            span.set_attribute(KeyValue::new("bpmn.process.resumed", true));
        }
    }
    parent_cx.with_span(span)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparent_round_trips() {
        let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let sc = parse_traceparent(tp).unwrap();
        assert!(sc.is_remote());
        assert!(sc.is_sampled());
        assert_eq!(format_traceparent(&sc).unwrap(), tp);
    }

    #[test]
    fn malformed_traceparents_are_rejected() {
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-xyz-00f067aa0ba902b7-01",
        ] {
            assert!(parse_traceparent(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn attribute_names_are_pinned() {
        assert_eq!(BPMN_PROCESS_ID, "bpmn.process.id");
        assert_eq!(BPMN_PROCESS_INSTANCE_ID, "bpmn.process.instance.id");
    }
}
