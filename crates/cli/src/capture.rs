//! Telemetry for a CLI run: installs the providers the environment asks for and keeps a bounded
//! sample of the finished spans, so the command can print the span tree when the run ends.
//!
//! Memory stays bounded however long the run: the first [`KEPT_SPANS`] spans to end are kept
//! whole, and after them only the ancestors of kept spans (so the kept tree stays connected:
//! a parent ends after its children). Every span, kept or not, is counted in per-name
//! aggregates (count, errors, shortest and longest duration), at most [`MAX_NAMES`] names.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use opentelemetry::trace::{SpanId, Status};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use servicetask::telemetry::TelemetryGuard;
use servicetask::Telemetry;

/// Spans kept whole for the tree (a span with its attributes and events is about 1-2 KB).
pub const KEPT_SPANS: usize = 10_000;

/// Span names with their own aggregate; the rest are counted under `(other names)`.
pub const MAX_NAMES: usize = 1_000;

/// Every span of one name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NameStats {
    /// Spans that ended.
    pub count: u64,
    /// Of which with an error status.
    pub errors: u64,
    /// Shortest duration.
    pub min: Duration,
    /// Longest duration.
    pub max: Duration,
}

/// What the capture saw beyond the kept spans.
#[derive(Debug, Clone, Default)]
pub struct SpanStats {
    /// Spans that ended.
    pub ended: u64,
    /// Spans kept for the tree.
    pub kept: u64,
    /// Per span name.
    pub by_name: BTreeMap<String, NameStats>,
}

#[derive(Debug, Default)]
struct Kept {
    spans: Vec<SpanData>,
    /// Parents of kept spans not seen yet: kept when they end, whatever the cap.
    wanted: HashSet<SpanId>,
    stats: SpanStats,
}

impl Kept {
    fn add(&mut self, span: SpanData) {
        let d = span.end_time.duration_since(span.start_time).unwrap_or_default();
        self.stats.ended += 1;
        let known = self.stats.by_name.len() < MAX_NAMES || self.stats.by_name.contains_key(span.name.as_ref());
        let name = if known { span.name.as_ref() } else { "(other names)" };
        let s = self.stats.by_name.entry(name.to_string()).or_default();
        s.min = if s.count == 0 { d } else { s.min.min(d) };
        s.max = s.max.max(d);
        s.count += 1;
        s.errors += u64::from(matches!(span.status, Status::Error { .. }));
        let id = span.span_context.span_id();
        if self.spans.len() < KEPT_SPANS || self.wanted.remove(&id) {
            if span.parent_span_id != SpanId::INVALID {
                self.wanted.insert(span.parent_span_id);
            }
            self.spans.push(span);
            self.stats.kept += 1;
        }
    }
}

/// The span exporter behind [`Capture`] (synchronous: called as each span ends).
#[derive(Debug, Clone, Default)]
struct CaptureExporter(Arc<Mutex<Kept>>);

impl SpanExporter for CaptureExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let mut kept = self.0.lock().unwrap_or_else(|p| p.into_inner());
        for span in batch {
            kept.add(span);
        }
        Ok(())
    }
}

/// Installed telemetry plus the captured spans.
pub struct Capture {
    guard: TelemetryGuard,
    spans: CaptureExporter,
}

impl Capture {
    /// Installs telemetry from the environment, capturing spans.
    pub fn install() -> anyhow::Result<Capture> {
        let spans = CaptureExporter::default();
        let guard = servicetask::telemetry::init_with_exporter(spans.clone())
            .context("setting up telemetry from the OTEL_* environment variables")?;
        Ok(Capture { guard, spans })
    }

    /// The telemetry for the runner.
    pub fn telemetry(&self) -> Arc<Telemetry> {
        self.guard.telemetry()
    }

    /// The spans kept so far (see the module docs).
    pub fn spans(&self) -> Vec<SpanData> {
        self.spans.0.lock().unwrap_or_else(|p| p.into_inner()).spans.clone()
    }

    /// Counts and per-name aggregates of every span so far.
    pub fn stats(&self) -> SpanStats {
        self.spans.0.lock().unwrap_or_else(|p| p.into_inner()).stats.clone()
    }

    /// Flushes exporters (OTLP) before the process exits.
    pub fn finish(self) {
        self.guard.shutdown(std::time::Duration::from_secs(5));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{SpanContext, SpanKind, TraceFlags, TraceId, TraceState};
    use opentelemetry_sdk::trace::{SpanEvents, SpanLinks};
    use std::time::SystemTime;

    fn span(id: u64, parent: u64, name: &'static str) -> SpanData {
        SpanData {
            span_context: SpanContext::new(
                TraceId::from(1u128),
                SpanId::from(id),
                TraceFlags::SAMPLED,
                false,
                TraceState::default(),
            ),
            parent_span_id: SpanId::from(parent),
            parent_span_is_remote: false,
            span_kind: SpanKind::Internal,
            name: name.into(),
            start_time: SystemTime::UNIX_EPOCH,
            end_time: SystemTime::UNIX_EPOCH + Duration::from_micros(id),
            attributes: Vec::new(),
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status: Status::Unset,
            instrumentation_scope: Default::default(),
        }
    }

    /// A long run: many executions under one root that ends last. Memory is bounded, the root
    /// is kept (the tree stays connected), every span is counted.
    #[test]
    fn a_long_run_keeps_a_bounded_connected_sample_and_counts_everything() {
        let mut kept = Kept::default();
        let n = 5 * KEPT_SPANS as u64;
        for i in 0..n {
            // a task span (id 2i+2) with one step (2i+3) under the root (1)
            kept.add(span(2 * i + 3, 2 * i + 2, "step"));
            kept.add(span(2 * i + 2, 1, "task"));
        }
        kept.add(span(1, 0, "process"));
        assert_eq!(kept.stats.ended, 2 * n + 1);
        assert!(kept.spans.len() <= KEPT_SPANS + 1, "{}", kept.spans.len());
        assert!(kept.spans.iter().any(|s| s.name == "process"), "the root is kept");
        let ids: HashSet<SpanId> = kept.spans.iter().map(|s| s.span_context.span_id()).collect();
        for s in &kept.spans {
            let parent = s.parent_span_id;
            assert!(
                parent == SpanId::INVALID || ids.contains(&parent),
                "every kept span's parent is kept"
            );
        }
        assert_eq!(kept.stats.by_name["task"].count, n);
        assert_eq!(kept.stats.by_name["step"].max, Duration::from_micros(2 * n + 1));
        assert!(kept.wanted.len() <= KEPT_SPANS);
    }
}
