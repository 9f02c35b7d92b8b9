//! `cx.batch(items)`: many items processed inside one execution, with a concurrency limit,
//! progress, a partial-failure policy and resumption from a checkpoint.
//!
//! Accounting stays cheap at any size: one `batch NAME` span; a `batch item` span per item
//! for small batches (up to [`Batch::span_threshold`] items) and an evenly spread sample of at
//! most [`Batch::sampled_spans`] item spans above it; item durations kept as
//! [`DurationStats`] (constant memory); progress as `servicetask.batch.progress` span events, metrics
//! (`servicetask.batch.items` by outcome, `servicetask.batch.rate`, `servicetask.batch.eta`)
//! and an optional callback, every progress step (a hundredth of a known total by default).
//! The time left starts from the task's history (a [`BatchHistory`] registered with
//! [`predict_from`], or [`Batch::expected_item_time`]) and blends into the run's own rate.
//!
//! With a [`Checkpoint`] and an execution that has an idempotency key, completed item keys are
//! saved in groups under `IDEMPOTENCY_KEY/NAME`; a retried execution loads them and skips those
//! items. Dropping the batch future is safe: what the store acknowledged stays, the keys
//! completed since the last group are handed to [`Checkpoint::save_now`] from the destructor
//! (both stores here write them there), and only the items in flight run again.
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
mod observe;
mod predict;
mod progress;
mod retry;
mod tally;

use std::borrow::Cow;
use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::stream::{FuturesUnordered, StreamExt as _};
use opentelemetry::trace::{FutureExt as _, Status, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue};

pub use checkpoint::{Checkpoint, MemoryCheckpoint};
pub use observe::{observe, BatchObserver};
pub use predict::{predict_from, BatchHistory};
pub use progress::{BatchProgress, BatchSummary, DurationStats, FailurePolicy};

use crate::config::RetryConfig;
use crate::context::TaskContext;
use crate::error::TaskError;
use crate::semconv;
use tally::Tally;

use semconv::{SERVICETASK_BATCH_ITEM_INDEX as BATCH_ITEM_INDEX, SERVICETASK_BATCH_NAME as BATCH_NAME};

type KeyFn<'a, T> = Box<dyn Fn(&T) -> String + Send + Sync + 'a>;
type ProgressFn<'a> = Box<dyn Fn(&BatchProgress) + Send + Sync + 'a>;
type CloneFn<T> = fn(&T) -> T;

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
    expected_item_time: Option<Duration>,
    span_threshold: u64,
    sampled_spans: u64,
    retry: Option<(RetryConfig, CloneFn<I::Item>)>,
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

/// Keys of completed items not saved yet. A batch future dropped midway (cancelled, its
/// execution timed out) drops this with it, which hands the keys to the store's `save_now`:
/// what finished is not lost, and nothing in flight is recorded.
struct Unsaved {
    store: Option<(Arc<dyn Checkpoint>, String)>,
    keys: Vec<String>,
}

impl Drop for Unsaved {
    fn drop(&mut self) {
        if let (Some((store, scope)), false) = (&self.store, self.keys.is_empty()) {
            store.save_now(scope, &self.keys);
        }
    }
}

/// One item on its way: where it is, its checkpoint key, its attempt, and a copy of its value
/// for the next attempt (kept only when the batch retries).
struct Item<T> {
    index: u64,
    key: Option<String>,
    attempt: u32,
    copy: Option<T>,
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
            expected_item_time: None,
            span_threshold: 100,
            sampled_spans: 100,
            retry: None,
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

    /// The expected wall time per item of the whole batch (at its concurrency), which the time
    /// left starts from before the run's own rate means much (default: the registered
    /// [`BatchHistory`]'s figure for this task and batch, if any; see [`predict_from`]).
    pub fn expected_item_time(mut self, per_item: Duration) -> Self {
        self.expected_item_time = Some(per_item);
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

    /// Tries a failed item again under `policy` (the task's retry policy, usually
    /// `config.retry`): while its class is retried and it has attempts left, after a jittered
    /// exponential delay. The failure policy judges the items that failed for good.
    pub fn retry(mut self, policy: RetryConfig) -> Self
    where
        I::Item: Clone,
    {
        self.retry = Some((policy, <I::Item as Clone>::clone));
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
        let mut unsaved = Unsaved {
            store: store.clone(),
            keys: Vec::new(),
        };
        let mut in_flight = FuturesUnordered::new();
        let mut next_index: u64 = 0;
        let mut exhausted = false;
        let mut breach = false;
        // One future type for first tries and retries: wait `delay`, run `fut` in `run_cx`,
        // end the item's span.
        let launch = |item: Item<I::Item>, delay: Duration, fut: Fut, item_cx: Option<Context>, run_cx: Context| async move {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            let start = Instant::now();
            let result: Result<(), TaskError> = fut.with_context(run_cx).await.map_err(Into::into);
            let elapsed = start.elapsed();
            if let Some(item_cx) = item_cx {
                let span = item_cx.span();
                if let Err(e) = &result {
                    span.set_attribute(KeyValue::new(semconv::ERROR_TYPE, e.class().as_str()));
                    span.set_status(Status::error(e.message().to_string()));
                }
                span.end();
            }
            (item, result, elapsed)
        };
        loop {
            while !exhausted && !breach && in_flight.len() < self.concurrency {
                let Some(value) = self.items.next() else {
                    exhausted = true;
                    break;
                };
                let index = next_index;
                next_index += 1;
                let key = store.as_ref().map(|_| match &self.key {
                    Some(key) => key(&value),
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
                let copy = self.retry.as_ref().map(|(_, clone)| clone(&value));
                let fut = work(value);
                let run_cx = item_cx.clone().unwrap_or_else(|| batch_cx.clone());
                let item = Item {
                    index,
                    key,
                    attempt: 1,
                    copy,
                };
                in_flight.push(launch(item, Duration::ZERO, fut, item_cx, run_cx));
            }
            let Some((item, result, elapsed)) = in_flight.next().await else {
                break;
            };
            tally.durations.add(elapsed);
            match result {
                Ok(()) => {
                    tally.succeeded(self);
                    if let (Some(k), Some((store, scope))) = (item.key, &store) {
                        unsaved.keys.push(k);
                        if unsaved.keys.len() >= self.checkpoint_every {
                            store.save(scope, &unsaved.keys).await?;
                            unsaved.keys.clear();
                        }
                    }
                }
                Err(e) => {
                    let again = match (&self.retry, &item.copy) {
                        (Some((policy, _)), Some(_)) => retry::next(policy, item.index, item.attempt, &e),
                        _ => None,
                    };
                    if let (Some(delay), Some((_, clone)), Some(copy)) = (again, &self.retry, item.copy) {
                        tally.retrying();
                        let next_copy = Some(clone(&copy));
                        let fut = work(copy);
                        let item = Item {
                            attempt: item.attempt + 1,
                            copy: next_copy,
                            ..item
                        };
                        in_flight.push(launch(item, delay, fut, None, batch_cx.clone()));
                        continue;
                    }
                    breach = tally.failed(self, item.index, e);
                    if breach {
                        // Fail fast: what is in flight is dropped (cancelled) below.
                        break;
                    }
                }
            }
        }
        drop(in_flight);
        if let Some((store, scope)) = &store {
            if !unsaved.keys.is_empty() {
                store.save(scope, &unsaved.keys).await?;
                unsaved.keys.clear();
            }
        }
        tally.finish(self, breach)
    }
}
