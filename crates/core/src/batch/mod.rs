//! `cx.batch(items)`: many items processed inside one execution, with a concurrency limit,
//! progress, a partial-failure policy and resumption from a checkpoint.
//!
//! Accounting stays cheap at any size: one `batch NAME` span; a `batch item` span per item
//! for small batches (up to [`Batch::span_threshold`] items) and an evenly spread sample of at
//! most [`Batch::sampled_spans`] item spans above it; item durations kept as
//! [`DurationStats`] (constant memory); progress as `servicetask.batch.progress` span events, metrics
//! (`servicetask.batch.items` by outcome, `servicetask.batch.rate`, `servicetask.batch.eta`)
//! and an optional callback, every progress step (a hundredth of a known total by default).
//!
//! With a [`Checkpoint`] and an execution that has an idempotency key, completed item keys are
//! saved in groups under `IDEMPOTENCY_KEY/NAME`; a retried execution loads them and skips those
//! items. Dropping the batch future is safe: what the store acknowledged stays, and the items
//! completed since (at most one group plus the items in flight) run again.
//!
//! ```
//! use servicetask_core::{batch::FailurePolicy, TaskContext, TaskError};
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let cx = TaskContext::detached("demo");
//! let summary = cx
//!     .batch(1..=1000u32)
//!     .concurrency(8)
//!     .failure_policy(FailurePolicy::Tolerate(10))
//!     .run(|n| async move { if n % 100 == 0 { Err(TaskError::validation("bad row")) } else { Ok(()) } })
//!     .await
//!     .unwrap();
//! assert_eq!((summary.progress.done, summary.progress.failed), (990, 10));
//! # });
//! ```

mod checkpoint;
mod progress;

use std::borrow::Cow;
use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::stream::{FuturesUnordered, StreamExt as _};
use opentelemetry::trace::{FutureExt as _, Status, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue};

pub use checkpoint::{Checkpoint, MemoryCheckpoint};
pub use progress::{BatchProgress, BatchSummary, DurationStats, FailurePolicy};

use crate::context::TaskContext;
use crate::error::TaskError;
use crate::semconv;

use semconv::event::{BATCH_ITEM_FAILED as ITEM_FAILED_EVENT, BATCH_PROGRESS as PROGRESS_EVENT};
use semconv::{SERVICETASK_BATCH_ITEM_INDEX as BATCH_ITEM_INDEX, SERVICETASK_BATCH_NAME as BATCH_NAME};

type KeyFn<'a, T> = Box<dyn Fn(&T) -> String + Send + Sync + 'a>;
type ProgressFn<'a> = Box<dyn Fn(&BatchProgress) + Send + Sync + 'a>;

/// A batch being configured; [`Batch::run`] processes it. Built by [`TaskContext::batch`].
pub struct Batch<'a, I: Iterator> {
    cx: &'a TaskContext,
    items: I,
    name: Cow<'static, str>,
    total: Option<u64>,
    concurrency: usize,
    policy: FailurePolicy,
    key: Option<KeyFn<'a, I::Item>>,
    checkpoint: Option<Arc<dyn Checkpoint>>,
    checkpoint_every: usize,
    on_progress: Option<ProgressFn<'a>>,
    progress_every: Option<u64>,
    span_threshold: u64,
    sampled_spans: u64,
}

impl<I: Iterator> std::fmt::Debug for Batch<'_, I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batch")
            .field("name", &self.name)
            .field("total", &self.total)
            .field("concurrency", &self.concurrency)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl<'a, I: Iterator> Batch<'a, I> {
    pub(crate) fn new(cx: &'a TaskContext, items: I) -> Self {
        let total = match items.size_hint() {
            (lower, Some(upper)) if lower == upper => Some(lower as u64),
            _ => None,
        };
        Batch {
            cx,
            items,
            name: Cow::Borrowed("items"),
            total,
            concurrency: 1,
            policy: FailurePolicy::FailFast,
            key: None,
            checkpoint: None,
            checkpoint_every: 1000,
            on_progress: None,
            progress_every: None,
            span_threshold: 100,
            sampled_spans: 100,
        }
    }

    /// Names the batch (span `batch NAME`, metric attribute, checkpoint scope); default `items`.
    pub fn name(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.name = name.into();
        self
    }

    /// The number of items, when the iterator cannot tell (needed for the time left).
    pub fn total(mut self, total: u64) -> Self {
        self.total = Some(total);
        self
    }

    /// How many items run at once (default 1; 0 counts as 1).
    pub fn concurrency(mut self, limit: usize) -> Self {
        self.concurrency = limit.max(1);
        self
    }

    /// When failed items stop the batch (default [`FailurePolicy::FailFast`]).
    pub fn failure_policy(mut self, policy: FailurePolicy) -> Self {
        self.policy = policy;
        self
    }

    /// An item's checkpoint key (default: its position, which is only right when the items
    /// come in the same order on every attempt).
    pub fn key(mut self, key: impl Fn(&I::Item) -> String + Send + Sync + 'a) -> Self {
        self.key = Some(Box::new(key));
        self
    }

    /// Where completed keys are saved, so a retried execution skips them (used only when the
    /// execution has an idempotency key).
    pub fn checkpoint(mut self, store: Arc<dyn Checkpoint>) -> Self {
        self.checkpoint = Some(store);
        self
    }

    /// How many completed keys are saved together (default 1000; at least 1).
    pub fn checkpoint_every(mut self, items: usize) -> Self {
        self.checkpoint_every = items.max(1);
        self
    }

    /// Called with the progress at every progress step and at the end.
    pub fn on_progress(mut self, report: impl Fn(&BatchProgress) + Send + Sync + 'a) -> Self {
        self.on_progress = Some(Box::new(report));
        self
    }

    /// Items between progress reports (default: a hundredth of a known total, else 1000).
    pub fn progress_every(mut self, items: u64) -> Self {
        self.progress_every = Some(items.max(1));
        self
    }

    /// Up to this many items, every item gets a span (default 100).
    pub fn span_threshold(mut self, items: u64) -> Self {
        self.span_threshold = items;
        self
    }

    /// Above the threshold, at most this many evenly spread items get a span (default 100).
    pub fn sampled_spans(mut self, spans: u64) -> Self {
        self.sampled_spans = spans;
        self
    }

    /// Runs `work` on every item not already done, at most [`Batch::concurrency`] at once.
    /// `Ok` when the failures stayed within the policy (the summary counts them); an error of
    /// the first failure's class when they did not, or when the checkpoint store failed.
    pub async fn run<F, Fut, E>(mut self, mut work: F) -> Result<BatchSummary, TaskError>
    where
        F: FnMut(I::Item) -> Fut,
        Fut: Future<Output = Result<(), E>>,
        E: Into<TaskError>,
    {
        let telemetry = self.cx.telemetry().clone();
        let traced = telemetry.traces_enabled();
        let parent = self.cx.current_parent();
        let batch_cx = if traced {
            let tracer = telemetry.tracer();
            let mut attrs = vec![
                KeyValue::new(semconv::SERVICETASK_NAME, self.cx.task_name().to_string()),
                KeyValue::new(BATCH_NAME, self.name.clone()),
            ];
            if let Some(total) = self.total {
                attrs.push(KeyValue::new(semconv::SERVICETASK_BATCH_TOTAL, total as i64));
            }
            let span = tracer
                .span_builder(format!("batch {}", self.name))
                .with_attributes(attrs)
                .start_with_context(tracer, &parent);
            parent.with_span(span)
        } else {
            parent
        };
        let result = self.process(&mut work, &batch_cx, traced).await;
        if traced {
            let span = batch_cx.span();
            if let Err(e) = &result {
                span.set_attribute(KeyValue::new(semconv::ERROR_TYPE, e.class().as_str()));
                span.set_status(Status::error(e.message().to_string()));
            }
            span.end();
        }
        result
    }

    async fn process<F, Fut, E>(
        &mut self,
        work: &mut F,
        batch_cx: &Context,
        traced: bool,
    ) -> Result<BatchSummary, TaskError>
    where
        F: FnMut(I::Item) -> Fut,
        Fut: Future<Output = Result<(), E>>,
        E: Into<TaskError>,
    {
        let store = match (&self.checkpoint, self.cx.idempotency_key()) {
            (Some(store), Some(key)) => Some((store.clone(), format!("{key}/{}", self.name))),
            _ => None,
        };
        let already: HashSet<String> = match &store {
            Some((store, scope)) => store.load(scope).await?,
            None => HashSet::new(),
        };
        let mut tally = Tally::new(self, batch_cx, traced);
        let mut acked: Vec<String> = Vec::new();
        let mut in_flight = FuturesUnordered::new();
        let mut next_index: u64 = 0;
        let mut exhausted = false;
        let mut breach = false;
        loop {
            while !exhausted && !breach && in_flight.len() < self.concurrency {
                let Some(item) = self.items.next() else {
                    exhausted = true;
                    break;
                };
                let index = next_index;
                next_index += 1;
                let key = store.as_ref().map(|_| match &self.key {
                    Some(key) => key(&item),
                    None => index.to_string(),
                });
                if key.as_ref().is_some_and(|k| already.contains(k)) {
                    tally.skipped(self);
                    continue;
                }
                let item_cx = match tally.sample(index) {
                    true => {
                        let tracer = self.cx.telemetry().tracer();
                        let span = tracer
                            .span_builder("batch item")
                            .with_attributes([KeyValue::new(BATCH_ITEM_INDEX, index as i64)])
                            .start_with_context(tracer, batch_cx);
                        Some(batch_cx.with_span(span))
                    }
                    false => None,
                };
                let fut = work(item);
                let run_cx = item_cx.clone().unwrap_or_else(|| batch_cx.clone());
                in_flight.push(async move {
                    let start = Instant::now();
                    let result = fut.with_context(run_cx).await.map_err(Into::into);
                    let elapsed = start.elapsed();
                    if let Some(item_cx) = item_cx {
                        let span = item_cx.span();
                        if let Err(e) = &result {
                            span.set_attribute(KeyValue::new(semconv::ERROR_TYPE, e.class().as_str()));
                            span.set_status(Status::error(e.message().to_string()));
                        }
                        span.end();
                    }
                    (index, key, result, elapsed)
                });
            }
            let Some((index, key, result, elapsed)) = in_flight.next().await else {
                break;
            };
            tally.durations.add(elapsed);
            match result {
                Ok(()) => {
                    tally.succeeded(self);
                    if let (Some(k), Some((store, scope))) = (key, &store) {
                        acked.push(k);
                        if acked.len() >= self.checkpoint_every {
                            store.save(scope, &acked).await?;
                            acked.clear();
                        }
                    }
                }
                Err(e) => {
                    breach = tally.failed(self, index, e);
                    if breach {
                        // Fail fast: what is in flight is dropped (cancelled) below.
                        break;
                    }
                }
            }
        }
        drop(in_flight);
        if let Some((store, scope)) = &store {
            if !acked.is_empty() {
                store.save(scope, &acked).await?;
            }
        }
        tally.finish(self, breach)
    }
}

/// Counters of one run of a batch, and its telemetry.
struct Tally {
    done: u64,
    failed: u64,
    skipped: u64,
    total: Option<u64>,
    start: Instant,
    durations: DurationStats,
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
    fn new<I: Iterator>(b: &Batch<'_, I>, batch_cx: &Context, traced: bool) -> Self {
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
                    .with_description("Time left at the batch's current rate")
                    .build(),
                attrs: [
                    KeyValue::new(semconv::SERVICETASK_NAME, b.cx.task_name().to_string()),
                    KeyValue::new(BATCH_NAME, b.name.clone()),
                ],
            }
        });
        Tally {
            done: 0,
            failed: 0,
            skipped: 0,
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
    fn sample(&mut self, index: u64) -> bool {
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

    fn skipped<I: Iterator>(&mut self, b: &Batch<'_, I>) {
        self.skipped += 1;
        self.done += 1;
        self.tick(b);
    }

    fn succeeded<I: Iterator>(&mut self, b: &Batch<'_, I>) {
        self.done += 1;
        self.tick(b);
    }

    /// Counts a failure; true when it breaks the policy.
    fn failed<I: Iterator>(&mut self, b: &Batch<'_, I>, index: u64, error: TaskError) -> bool {
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
    fn finish<I: Iterator>(mut self, b: &Batch<'_, I>, breach: bool) -> Result<BatchSummary, TaskError> {
        self.report(b);
        if let Some(batch_cx) = &self.batch_cx {
            let d = &self.durations;
            let ms = |x: Duration| x.as_secs_f64() * 1e3;
            batch_cx.span().set_attributes([
                KeyValue::new(semconv::SERVICETASK_BATCH_DONE, self.done as i64),
                KeyValue::new(semconv::SERVICETASK_BATCH_FAILED, self.failed as i64),
                KeyValue::new(semconv::SERVICETASK_BATCH_SKIPPED, self.skipped as i64),
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
        let eta = match self.total {
            Some(total) if rate > 0.0 => {
                let left = total.saturating_sub(self.done + self.failed);
                Some(Duration::from_secs_f64(left as f64 / rate))
            }
            _ => None,
        };
        BatchProgress {
            done: self.done,
            failed: self.failed,
            skipped: self.skipped,
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
        if let Some(f) = &b.on_progress {
            f(&p);
        }
    }
}
