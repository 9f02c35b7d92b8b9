//! Exemplars of the execution duration histogram: per task, outcome and error class (the
//! histogram's own series), one kept per bucket, the latest, linking the bucket to the trace of
//! an execution that fell in it. The OpenMetrics scrape ([`super::openmetrics`]) writes them
//! after the bucket samples (`# {trace_id="...",span_id="..."} 0.0123 1733558400.123`).
//!
//! The OpenTelemetry Rust SDK collects no exemplars (its data points carry an always-empty list),
//! so the runner offers each execution here, where it records the duration. Bounded: one slot per
//! bucket per series, and series only as many as the histogram's (tasks x outcomes x classes,
//! capped at [`MAX_TASKS`] tasks). Cheap: nothing at all until a Prometheus scrape is set up
//! ([`ExemplarStore::enable`]); then a task's slots are looked up once and cached by the runner,
//! and an offer is a `try_lock` (a contended offer is skipped, never waited for), a search of
//! the boundaries and a 40-byte write. Only the trace id, span id, duration and time are kept:
//! no attribute, no variable, nothing a task was given.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry::trace::{SpanContext, SpanId, TraceId};
use servicetask_core::DURATION_BOUNDARIES;

/// Tasks with exemplars at most (further tasks get none; their metrics are unaffected).
pub const MAX_TASKS: usize = 4096;

/// One kept exemplar.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Exemplar {
    /// The observed duration, seconds.
    pub value: f64,
    /// The execution's trace.
    pub trace_id: TraceId,
    /// The execution's span.
    pub span_id: SpanId,
    /// When it was observed, Unix seconds.
    pub unix_seconds: f64,
}

/// One histogram series' slots: one per bucket, the last for `+Inf`.
#[derive(Debug)]
struct Series {
    outcome: &'static str,
    error_type: &'static str,
    slots: Box<[Option<Exemplar>]>,
}

/// The exemplars of one task's series.
#[derive(Debug, Default)]
pub struct TaskExemplars {
    series: Mutex<Vec<Series>>,
}

impl TaskExemplars {
    /// Keeps `seconds` as its bucket's exemplar for the series (`outcome`, `error_type`; an
    /// empty `error_type` for the series without one), when `span` is sampled. Never blocks:
    /// skipped while a scrape or another execution of the task holds the slots.
    pub fn offer(
        &self,
        outcome: &'static str,
        error_type: &'static str,
        seconds: f64,
        span: &SpanContext,
        at: SystemTime,
    ) {
        if !span.is_sampled() || !seconds.is_finite() {
            return;
        }
        let Ok(mut series) = self.series.try_lock() else {
            return;
        };
        let bucket = DURATION_BOUNDARIES.partition_point(|b| *b < seconds);
        let at = at.duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
        let exemplar = Exemplar {
            value: seconds,
            trace_id: span.trace_id(),
            span_id: span.span_id(),
            unix_seconds: at,
        };
        // the same &'static str for a series every time: compared by address first
        let same = |s: &&mut Series| {
            (std::ptr::eq(s.outcome, outcome) || s.outcome == outcome)
                && (std::ptr::eq(s.error_type, error_type) || s.error_type == error_type)
        };
        if let Some(s) = series.iter_mut().find(|s| same(s)) {
            s.slots[bucket] = Some(exemplar);
            return;
        }
        let mut slots = vec![None; DURATION_BOUNDARIES.len() + 1].into_boxed_slice();
        slots[bucket] = Some(exemplar);
        series.push(Series {
            outcome,
            error_type,
            slots,
        });
    }

    /// The series' exemplars by bucket (the last for `+Inf`), when it has any.
    pub fn series(&self, outcome: &str, error_type: &str) -> Option<Vec<Option<Exemplar>>> {
        let series = self.series.lock().unwrap_or_else(|p| p.into_inner());
        series
            .iter()
            .find(|s| s.outcome == outcome && s.error_type == error_type)
            .map(|s| s.slots.to_vec())
    }
}

/// Every task's exemplars; off until a Prometheus scrape asks for them.
#[derive(Debug, Default)]
pub struct ExemplarStore {
    enabled: AtomicBool,
    tasks: RwLock<HashMap<String, Arc<TaskExemplars>>>,
}

impl ExemplarStore {
    /// The process's store, the one the runner offers to.
    pub fn global() -> &'static ExemplarStore {
        static STORE: OnceLock<ExemplarStore> = OnceLock::new();
        STORE.get_or_init(ExemplarStore::default)
    }

    /// Starts keeping exemplars (done by [`super::prometheus::Prometheus::new`]).
    pub fn enable(&self) {
        self.enabled.store(true, Ordering::Release);
    }

    /// Whether exemplars are kept.
    pub fn enabled(&self) -> bool {
        self.enabled.load(Ordering::Acquire)
    }

    /// The slots of `task` (made on first use), or `None` while disabled or past [`MAX_TASKS`].
    pub fn task(&self, task: &str) -> Option<Arc<TaskExemplars>> {
        if !self.enabled() {
            return None;
        }
        if let Some(t) = self.tasks.read().unwrap_or_else(|p| p.into_inner()).get(task) {
            return Some(t.clone());
        }
        let mut tasks = self.tasks.write().unwrap_or_else(|p| p.into_inner());
        if tasks.len() >= MAX_TASKS && !tasks.contains_key(task) {
            return None;
        }
        Some(tasks.entry(task.to_string()).or_default().clone())
    }

    /// The exemplars of a series by bucket, for the scrape.
    pub fn series(&self, task: &str, outcome: &str, error_type: &str) -> Option<Vec<Option<Exemplar>>> {
        let t = self.tasks.read().unwrap_or_else(|p| p.into_inner()).get(task)?.clone();
        t.series(outcome, error_type)
    }
}

/// The runner's per-task cache of its slots: looked up in the store on the first offer made
/// after the store was enabled, then kept.
#[derive(Debug, Default)]
pub struct TaskSlot(OnceLock<Arc<TaskExemplars>>);

impl TaskSlot {
    /// Offers an execution of `task` (see [`TaskExemplars::offer`]); nothing while the global
    /// store is disabled.
    pub fn offer(
        &self,
        task: &str,
        outcome: &'static str,
        error_type: &'static str,
        seconds: f64,
        span: &SpanContext,
        at: impl FnOnce() -> SystemTime,
    ) {
        let slots = match self.0.get() {
            Some(s) => s,
            None => {
                let Some(s) = ExemplarStore::global().task(task) else {
                    return;
                };
                self.0.get_or_init(|| s)
            }
        };
        slots.offer(outcome, error_type, seconds, span, at());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{TraceFlags, TraceState};

    fn span(trace: u128, id: u64, sampled: bool) -> SpanContext {
        let flags = if sampled {
            TraceFlags::SAMPLED
        } else {
            TraceFlags::default()
        };
        SpanContext::new(
            TraceId::from(trace),
            SpanId::from(id),
            flags,
            false,
            TraceState::default(),
        )
    }

    #[test]
    fn one_exemplar_per_bucket_the_latest_and_only_sampled_spans() {
        let t = TaskExemplars::default();
        let now = SystemTime::now();
        t.offer("complete", "", 0.003, &span(1, 1, true), now);
        t.offer("complete", "", 0.004, &span(2, 2, true), now); // same bucket (0.001, 0.005]
        t.offer("complete", "", 0.02, &span(3, 3, true), now);
        t.offer("complete", "", 0.03, &span(4, 4, false), now); // not sampled: not kept
        t.offer("complete", "", 1e9, &span(5, 5, true), now); // +Inf
        t.offer("failure", "io", 0.003, &span(6, 6, true), now);
        let s = t.series("complete", "").unwrap();
        assert_eq!(s.len(), DURATION_BOUNDARIES.len() + 1);
        let kept: Vec<(usize, u128)> = s
            .iter()
            .enumerate()
            .filter_map(|(i, e)| e.map(|e| (i, u128::from_be_bytes(e.trace_id.to_bytes()))))
            .collect();
        // buckets: 0.005 is index 5, 0.025 index 7, +Inf the last
        assert_eq!(kept, [(5, 2), (7, 3), (DURATION_BOUNDARIES.len(), 5)]);
        assert_eq!(t.series("failure", "io").unwrap()[5].unwrap().span_id, SpanId::from(6));
        assert!(t.series("failure", "network").is_none());
    }

    #[test]
    fn a_value_on_a_boundary_is_in_that_bucket() {
        let t = TaskExemplars::default();
        t.offer("complete", "", 0.005, &span(1, 1, true), SystemTime::now());
        assert!(t.series("complete", "").unwrap()[5].is_some());
    }
}
