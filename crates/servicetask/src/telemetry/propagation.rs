//! W3C trace-context propagation: continue a `traceparent` given with the input variables.
//!
//! ```
//! use opentelemetry::trace::TraceContextExt;
//! let cx = servicetask::telemetry::extract_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
//! assert_eq!(cx.span().span_context().trace_id().to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
//! assert!(servicetask::telemetry::extract_traceparent("garbage").is_none());
//! ```

use std::collections::HashMap;

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::TraceContextExt;
use opentelemetry::Context;
use opentelemetry_sdk::propagation::TraceContextPropagator;

/// The variable (or header) name carrying the W3C trace context.
pub const TRACEPARENT: &str = "traceparent";

/// A context whose remote parent is the given `traceparent`; `None` if it is not valid.
pub fn extract_traceparent(traceparent: &str) -> Option<Context> {
    let mut carrier = HashMap::with_capacity(1);
    carrier.insert(TRACEPARENT.to_string(), traceparent.to_string());
    let cx = TraceContextPropagator::new().extract_with_context(&Context::new(), &carrier);
    cx.span().span_context().is_valid().then_some(cx)
}

/// The `traceparent` of a context's current span, for handing to another process.
pub fn inject_traceparent(cx: &Context) -> Option<String> {
    let mut carrier: HashMap<String, String> = HashMap::new();
    TraceContextPropagator::new().inject_context(cx, &mut carrier);
    carrier.remove(TRACEPARENT)
}
