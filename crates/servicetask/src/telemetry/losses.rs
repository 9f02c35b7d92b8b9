//! Spans the batch processor could not export, counted and told.
//!
//! The SDK's `BatchSpanProcessor` drops a span when its bounded queue is full and keeps the
//! count to itself (its log lines are compiled out of our build). So the processor is wrapped:
//! [`CountingProcessor`] counts the spans that end, [`CountingExporter`] the spans handed to
//! the exporter and whether their export succeeded. From these:
//!
//! - while running, `ended - handed - (queue + batch)` is a lower bound of the drops (no more
//!   than a full queue and one batch being gathered can be outstanding); the first time it is
//!   positive, one line goes to stderr;
//! - at shutdown, after the processor has flushed, `ended - exported` is exact: every span
//!   that ended and was not exported was lost (queue full, a failed export, or still queued
//!   when the shutdown timeout ran out). One line with the total goes to stderr.
//!
//! The figure is the `servicetask.telemetry.spans.dropped` counter (observable: the lower
//! bound while running, the exact total in the final export at shutdown).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use opentelemetry::Context;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Span, SpanData, SpanExporter, SpanProcessor};
use opentelemetry_sdk::Resource;

/// The counts behind `servicetask.telemetry.spans.dropped`.
#[derive(Debug)]
pub struct SpanLosses {
    ended: AtomicU64,
    handed: AtomicU64,
    exported: AtomicU64,
    /// Drops known so far (a lower bound while running, exact after shutdown).
    dropped: AtomicU64,
    /// Spans that may be outstanding without any drop: the queue plus the batches in export.
    outstanding_bound: u64,
    warned: AtomicBool,
    reported: AtomicBool,
}

impl SpanLosses {
    /// Counts for a processor whose queue holds `queue` spans and exports batches of `batch`
    /// spans, `concurrent` at a time.
    pub fn new(queue: usize, batch: usize, concurrent: usize) -> Arc<Self> {
        Arc::new(SpanLosses {
            ended: AtomicU64::new(0),
            handed: AtomicU64::new(0),
            exported: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            outstanding_bound: (queue + batch * concurrent.max(1)) as u64,
            warned: AtomicBool::new(false),
            reported: AtomicBool::new(false),
        })
    }

    /// Spans that ended (offered to the processor).
    pub fn ended(&self) -> u64 {
        self.ended.load(Ordering::Relaxed)
    }

    /// Spans the exporter accepted.
    pub fn exported(&self) -> u64 {
        self.exported.load(Ordering::Relaxed)
    }

    /// Spans lost so far: a lower bound while running, exact once [`SpanLosses::settle`] ran.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// After a span ended: raises the lower bound, and warns once when it first shows a loss.
    fn check(&self, ended: u64) {
        let handed = self.handed.load(Ordering::Relaxed);
        let surely_dropped = ended.saturating_sub(handed).saturating_sub(self.outstanding_bound);
        if surely_dropped > 0 {
            self.dropped.fetch_max(surely_dropped, Ordering::Relaxed);
            if !self.warned.swap(true, Ordering::Relaxed) {
                eprintln!(
                    "servicetask: telemetry is dropping spans: the export queue is full (OTEL_BSP_MAX_QUEUE_SIZE, \
                     the backend is slower than the spans come); the total is reported at shutdown and counted \
                     on servicetask.telemetry.spans.dropped"
                );
            }
        }
    }

    /// After the processor shut down: the exact loss, reported on stderr once if any.
    pub(crate) fn settle(&self) {
        let lost = self.ended().saturating_sub(self.exported());
        self.dropped.store(lost, Ordering::Relaxed);
        if lost > 0 && !self.reported.swap(true, Ordering::Relaxed) {
            eprintln!(
                "servicetask: telemetry lost {lost} of {} spans (export queue full, export failed, or still queued \
                 at shutdown); raise OTEL_BSP_MAX_QUEUE_SIZE or make the backend faster",
                self.ended()
            );
        }
    }
}

/// A span processor that counts the spans ending before handing them on.
#[derive(Debug)]
pub(crate) struct CountingProcessor<P> {
    pub(crate) inner: P,
    pub(crate) losses: Arc<SpanLosses>,
}

impl<P: SpanProcessor> SpanProcessor for CountingProcessor<P> {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        self.inner.on_start(span, cx);
    }

    fn on_end(&self, span: SpanData) {
        let ended = self.losses.ended.fetch_add(1, Ordering::Relaxed) + 1;
        self.inner.on_end(span);
        self.losses.check(ended);
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        let result = self.inner.shutdown_with_timeout(timeout);
        self.losses.settle();
        result
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// An exporter that counts the spans handed to it and those it exported.
#[derive(Debug)]
pub(crate) struct CountingExporter<E> {
    pub(crate) inner: E,
    pub(crate) losses: Arc<SpanLosses>,
}

impl<E: SpanExporter> SpanExporter for CountingExporter<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let n = batch.len() as u64;
        self.losses.handed.fetch_add(n, Ordering::Relaxed);
        let result = self.inner.export(batch).await;
        if result.is_ok() {
            self.losses.exported.fetch_add(n, Ordering::Relaxed);
        }
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// The batch processor's sizes from `OTEL_BSP_*`, checked: a value that is not a positive
/// integer is an error naming the variable (the SDK would ignore it silently).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchSizes {
    /// `OTEL_BSP_MAX_QUEUE_SIZE` (default 2048): spans waiting for export; beyond, dropped.
    pub max_queue_size: usize,
    /// `OTEL_BSP_MAX_EXPORT_BATCH_SIZE` (default 512, at most the queue size).
    pub max_export_batch_size: usize,
    /// `OTEL_BSP_SCHEDULE_DELAY` in ms (default 5000): the longest a span waits for a batch.
    pub scheduled_delay: Duration,
}

impl BatchSizes {
    /// Reads the variables through `var` (the environment, or a map in tests).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<BatchSizes, String> {
        let read = |name: &str, default: u64| -> Result<u64, String> {
            match var(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty()) {
                None => Ok(default),
                Some(v) => match v.parse::<u64>() {
                    Ok(n) if n > 0 => Ok(n),
                    _ => Err(format!("{name}={v:?} is not a positive integer")),
                },
            }
        };
        let queue = read("OTEL_BSP_MAX_QUEUE_SIZE", 2048)? as usize;
        let batch = (read("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 512)? as usize).min(queue);
        Ok(BatchSizes {
            max_queue_size: queue,
            max_export_batch_size: batch,
            scheduled_delay: Duration::from_millis(read("OTEL_BSP_SCHEDULE_DELAY", 5000)?),
        })
    }
}

/// A batch span processor over `exporter`, sized by `sizes`, whose losses are counted.
pub fn counted_batch_processor<E>(exporter: E, sizes: BatchSizes) -> (impl SpanProcessor, Arc<SpanLosses>)
where
    E: SpanExporter + 'static,
{
    let losses = SpanLosses::new(sizes.max_queue_size, sizes.max_export_batch_size, 1);
    let config = opentelemetry_sdk::trace::BatchConfigBuilder::default()
        .with_max_queue_size(sizes.max_queue_size)
        .with_max_export_batch_size(sizes.max_export_batch_size)
        .with_scheduled_delay(sizes.scheduled_delay)
        .build();
    let exporter = CountingExporter {
        inner: exporter,
        losses: losses.clone(),
    };
    let batch = opentelemetry_sdk::trace::BatchSpanProcessor::builder(exporter)
        .with_batch_config(config)
        .build();
    (
        CountingProcessor {
            inner: batch,
            losses: losses.clone(),
        },
        losses,
    )
}

#[cfg(test)]
mod tests {
    use super::BatchSizes;
    use std::time::Duration;

    #[test]
    fn sizes_come_from_the_standard_variables_and_bad_values_are_named() {
        let none = BatchSizes::from_vars(|_| None).unwrap();
        assert_eq!((none.max_queue_size, none.max_export_batch_size), (2048, 512));
        let small = BatchSizes::from_vars(|k| match k {
            "OTEL_BSP_MAX_QUEUE_SIZE" => Some("16".into()),
            "OTEL_BSP_SCHEDULE_DELAY" => Some("10".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!((small.max_queue_size, small.max_export_batch_size), (16, 16));
        assert_eq!(small.scheduled_delay, Duration::from_millis(10));
        let bad = BatchSizes::from_vars(|k| (k == "OTEL_BSP_MAX_QUEUE_SIZE").then(|| "0".into())).unwrap_err();
        assert!(bad.contains("OTEL_BSP_MAX_QUEUE_SIZE"), "{bad}");
    }
}
