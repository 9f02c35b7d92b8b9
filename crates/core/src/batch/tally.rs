//! The counters of one run of a batch and what they report: progress events on the batch
//! span, metrics by outcome, the progress callback and the observers, and the final summary.

use std::time::{Duration, Instant};

use opentelemetry::trace::TraceContextExt;
use opentelemetry::{Context, KeyValue};

use super::predict::{self, Prior};
use super::progress::{BatchProgress, BatchSummary, DurationStats};
use super::Batch;
use crate::error::TaskError;
use crate::semconv;

use semconv::event::{BATCH_ITEM_FAILED as ITEM_FAILED_EVENT, BATCH_PROGRESS as PROGRESS_EVENT};
use semconv::{SERVICETASK_BATCH_ITEM_INDEX as BATCH_ITEM_INDEX, SERVICETASK_BATCH_NAME as BATCH_NAME};

/// Counters of one run of a batch, and its telemetry.
pub(super) struct Tally {
    done: u64,
    failed: u64,
    skipped: u64,
    retried: u64,
    total: Option<u64>,
    prior: Option<Prior>,
    start: Instant,
    pub(super) durations: DurationStats,
    failures: Vec<(u64, TaskError)>,
    traced: bool,
    batch_cx: Option<Context>,
    sampled: u64,
    stride: u64,
    every_item: bool,
    step: u64,
    next_report: u64,
    reported: [u64; 3],
    metrics: Option<BatchMetrics>,
}

struct BatchMetrics {
    items: opentelemetry::metrics::Counter<u64>,
    rate: opentelemetry::metrics::Gauge<f64>,
    eta: opentelemetry::metrics::Gauge<f64>,
    attrs: [KeyValue; 2],
}

impl Tally {
    pub(super) fn new<I: Iterator>(b: &Batch<'_, I>, batch_cx: &Context, traced: bool) -> Self {
        let step = b
            .progress_every
            .unwrap_or_else(|| b.total.map_or(1000, |t| (t / 100).max(1)));
        let telemetry = b.cx.telemetry();
        let metrics = telemetry.metrics_enabled().then(|| {
            let meter = telemetry.meter();
            BatchMetrics {
                items: meter
                    .u64_counter(semconv::metric::BATCH_ITEMS)
                    .with_description("Batch items processed, by outcome (success, failure, skipped)")
                    .build(),
                rate: meter
                    .f64_gauge(semconv::SERVICETASK_BATCH_RATE)
                    .with_unit("{item}/s")
                    .with_description("Items per second of the batch's current run")
                    .build(),
                eta: meter
                    .f64_gauge(semconv::metric::BATCH_ETA)
                    .with_unit("s")
                    .with_description("Time left: the task's history blended into the run's rate")
                    .build(),
                attrs: [
                    KeyValue::new(semconv::SERVICETASK_NAME, b.cx.task_name().to_string()),
                    KeyValue::new(BATCH_NAME, b.name.clone()),
                ],
            }
        });
        let prior = b.total.and_then(|total| {
            let per_item = b
                .expected_item_time
                .or_else(|| predict::from_history(b.cx.task_name(), &b.name))?;
            Some(Prior::new(per_item, total))
        });
        Tally {
            prior,
            done: 0,
            failed: 0,
            skipped: 0,
            retried: 0,
            total: b.total,
            start: Instant::now(),
            durations: DurationStats::default(),
            failures: Vec::new(),
            traced,
            batch_cx: traced.then(|| batch_cx.clone()),
            sampled: b.sampled_spans,
            stride: b.total.map_or(1024, |t| t.div_ceil(b.sampled_spans.max(1)).max(1)),
            every_item: b.total.is_some_and(|t| t <= b.span_threshold),
            step,
            next_report: step,
            reported: [0; 3],
            metrics,
        }
    }

    /// Whether item `index` gets its own span (decided before it runs).
    pub(super) fn sample(&mut self, index: u64) -> bool {
        if !self.traced {
            return false;
        }
        if self.every_item {
            return true;
        }
        if self.sampled > 0 && index % self.stride == 0 {
            self.sampled -= 1;
            return true;
        }
        false
    }

    pub(super) fn skipped<I: Iterator>(&mut self, b: &Batch<'_, I>) {
        self.skipped += 1;
        self.done += 1;
        self.tick(b);
    }

    pub(super) fn succeeded<I: Iterator>(&mut self, b: &Batch<'_, I>) {
        self.done += 1;
        self.tick(b);
    }

    /// Counts an item's failed attempt that is tried again.
    pub(super) fn retrying(&mut self) {
        self.retried += 1;
    }

    /// Counts a failure; true when it breaks the policy.
    pub(super) fn failed<I: Iterator>(&mut self, b: &Batch<'_, I>, index: u64, error: TaskError) -> bool {
        self.failed += 1;
        if self.failures.len() < BatchSummary::KEPT_FAILURES {
            self.event(
                ITEM_FAILED_EVENT,
                vec![
                    KeyValue::new(BATCH_ITEM_INDEX, index as i64),
                    KeyValue::new(semconv::ERROR_TYPE, error.class().as_str()),
                ],
            );
            self.failures.push((index, error));
        }
        self.tick(b);
        b.policy
            .exceeded(self.failed, self.total, self.done + self.failed - self.skipped)
    }

    /// An event on the batch span (nothing when untraced).
    fn event(&self, name: &'static str, attrs: Vec<KeyValue>) {
        if let Some(batch_cx) = &self.batch_cx {
            batch_cx.span().add_event(name, attrs);
        }
    }

    /// The last report, the span's duration statistics and the outcome.
    pub(super) fn finish<I: Iterator>(mut self, b: &Batch<'_, I>, breach: bool) -> Result<BatchSummary, TaskError> {
        self.report(b);
        predict::record(
            b.cx.task_name(),
            &b.name,
            self.done + self.failed - self.skipped,
            self.start.elapsed(),
        );
        if let Some(batch_cx) = &self.batch_cx {
            let d = &self.durations;
            let ms = |x: Duration| x.as_secs_f64() * 1e3;
            batch_cx.span().set_attributes([
                KeyValue::new(semconv::SERVICETASK_BATCH_DONE, self.done as i64),
                KeyValue::new(semconv::SERVICETASK_BATCH_FAILED, self.failed as i64),
                KeyValue::new(semconv::SERVICETASK_BATCH_SKIPPED, self.skipped as i64),
                KeyValue::new(semconv::SERVICETASK_BATCH_RETRIED, self.retried as i64),
                KeyValue::new(semconv::SERVICETASK_BATCH_ITEM_COUNT, d.count as i64),
                KeyValue::new(semconv::SERVICETASK_BATCH_ITEM_DURATION_MIN_MS, ms(d.min)),
                KeyValue::new(semconv::SERVICETASK_BATCH_ITEM_DURATION_MAX_MS, ms(d.max)),
                KeyValue::new(semconv::SERVICETASK_BATCH_ITEM_DURATION_MEAN_MS, ms(d.mean())),
            ]);
        }
        let progress = self.progress();
        if breach {
            let (class, first) = self
                .failures
                .first()
                .map(|(i, e)| (e.class(), format!("item {i}: {}", e.message())))
                .unwrap_or((crate::error::ErrorClass::Internal, String::new()));
            let total = progress.total.map_or_else(|| "?".to_string(), |t| t.to_string());
            return Err(TaskError::new(
                class,
                format!(
                    "batch {}: {} of {total} items failed, more than the policy ({}) allows; first: {first}",
                    b.name, progress.failed, b.policy
                ),
            ));
        }
        Ok(BatchSummary {
            progress,
            durations: self.durations,
            failures: self.failures,
        })
    }

    fn progress(&self) -> BatchProgress {
        let elapsed = self.start.elapsed();
        let ran = self.done + self.failed - self.skipped;
        let rate = if elapsed.is_zero() {
            0.0
        } else {
            ran as f64 / elapsed.as_secs_f64()
        };
        let eta = self.total.and_then(|total| {
            let left = total.saturating_sub(self.done + self.failed);
            predict::time_left(self.prior, left, ran, elapsed)
        });
        BatchProgress {
            done: self.done,
            failed: self.failed,
            skipped: self.skipped,
            retried: self.retried,
            total: self.total,
            elapsed,
            rate,
            eta,
        }
    }

    fn tick<I: Iterator>(&mut self, b: &Batch<'_, I>) {
        if self.done + self.failed >= self.next_report {
            self.next_report += self.step;
            self.report(b);
        }
    }

    fn report<I: Iterator>(&mut self, b: &Batch<'_, I>) {
        let p = self.progress();
        if self.batch_cx.is_some() {
            let mut attrs = vec![
                KeyValue::new(semconv::SERVICETASK_BATCH_DONE, p.done as i64),
                KeyValue::new(semconv::SERVICETASK_BATCH_FAILED, p.failed as i64),
                KeyValue::new(semconv::SERVICETASK_BATCH_SKIPPED, p.skipped as i64),
                KeyValue::new(semconv::SERVICETASK_BATCH_RATE, p.rate),
            ];
            if let Some(total) = p.total {
                attrs.push(KeyValue::new(semconv::SERVICETASK_BATCH_TOTAL, total as i64));
            }
            if let Some(eta) = p.eta {
                attrs.push(KeyValue::new(semconv::SERVICETASK_BATCH_ETA_S, eta.as_secs_f64()));
            }
            self.event(PROGRESS_EVENT, attrs);
        }
        if let Some(m) = &self.metrics {
            let now = [p.done - p.skipped, p.failed, p.skipped];
            for (i, outcome) in ["success", "failure", "skipped"].into_iter().enumerate() {
                let delta = now[i] - self.reported[i];
                if delta > 0 {
                    let mut attrs = m.attrs.to_vec();
                    attrs.push(KeyValue::new(semconv::SERVICETASK_OUTCOME, outcome));
                    m.items.add(delta, &attrs);
                }
            }
            self.reported = now;
            m.rate.record(p.rate, &m.attrs);
            if let Some(eta) = p.eta {
                m.eta.record(eta.as_secs_f64(), &m.attrs);
            }
        }
        super::observe::notify(b.cx.task_name(), &b.name, &p);
        if let Some(f) = &b.on_progress {
            f(&p);
        }
    }
}
