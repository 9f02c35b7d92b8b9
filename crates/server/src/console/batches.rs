//! The console's live batches: a [`BatchObserver`] keeping the latest progress report of each
//! `cx.batch` running in this process (done, failed, total, rate, predicted time left), read by
//! the console's `/console/api/batches` endpoint.
//!
//! Memory is bounded: at most [`BatchLimits::max_batches`] batches are kept (the least recently
//! reported one is dropped for a new one), a finished batch is shown for
//! [`BatchLimits::keep_finished`] and then dropped, and a batch that has not reported for
//! [`BatchLimits::forget_idle`] (one that stopped early never reports a finish) is dropped too.
//! Batches are keyed by task and batch name: two instances of one task running a batch of
//! the same name at once share one row.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use servicetask_core::batch::{BatchObserver, BatchProgress};

/// How many batches the console keeps, and for how long.
#[derive(Debug, Clone, Copy)]
pub struct BatchLimits {
    /// Batches kept at most (default 64).
    pub max_batches: usize,
    /// How long a finished batch stays listed (default 30 seconds).
    pub keep_finished: Duration,
    /// How long a batch that stopped reporting stays listed (default 1 hour).
    pub forget_idle: Duration,
}

impl Default for BatchLimits {
    fn default() -> Self {
        BatchLimits {
            max_batches: 64,
            keep_finished: Duration::from_secs(30),
            forget_idle: Duration::from_secs(3600),
        }
    }
}

/// One batch as the console shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchView {
    /// The task running the batch.
    pub task: String,
    /// The batch's name.
    pub batch: String,
    /// Items done (including skipped as done by an earlier run).
    pub done: u64,
    /// Items failed.
    pub failed: u64,
    /// Items skipped because a checkpoint had them.
    pub skipped: u64,
    /// All items, when known.
    pub total: Option<u64>,
    /// Items processed per second by this run.
    pub rate: f64,
    /// Predicted time left, seconds, when the total is known.
    pub eta_seconds: Option<f64>,
    /// Time since the batch started, seconds.
    pub elapsed_seconds: f64,
    /// Whether every item has been processed.
    pub finished: bool,
    /// Seconds since its last report.
    pub reported_seconds_ago: f64,
}

/// What `/console/api/batches` answers.
#[derive(Debug, Clone, Serialize)]
pub struct BatchesView {
    /// The batches, by task then batch name.
    pub batches: Vec<BatchView>,
}

struct Entry {
    progress: BatchProgress,
    at: Instant,
}

/// The latest report of each batch of this process; register it with
/// [`servicetask_core::batch::observe`] (or build it with [`Batches::observed`]).
pub struct Batches {
    limits: BatchLimits,
    latest: Mutex<HashMap<(String, String), Entry>>,
}

impl Default for Batches {
    fn default() -> Self {
        Batches::new(BatchLimits::default())
    }
}

impl std::fmt::Debug for Batches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batches").field("limits", &self.limits).finish()
    }
}

fn finished(p: &BatchProgress) -> bool {
    p.total.is_some_and(|t| p.processed() >= t)
}

impl Batches {
    /// An empty set with these limits (not yet observing anything).
    pub fn new(limits: BatchLimits) -> Self {
        Batches {
            limits,
            latest: Mutex::new(HashMap::new()),
        }
    }

    /// A set with the default limits, registered as an observer of every batch of the process.
    pub fn observed() -> Arc<Batches> {
        let b = Arc::new(Batches::default());
        servicetask_core::batch::observe(b.clone());
        b
    }

    fn expire(&self, map: &mut HashMap<(String, String), Entry>, now: Instant) {
        let l = self.limits;
        map.retain(|_, e| {
            let age = now.saturating_duration_since(e.at);
            age < if finished(&e.progress) {
                l.keep_finished
            } else {
                l.forget_idle
            }
        });
    }

    fn record_at(&self, task: &str, batch: &str, progress: &BatchProgress, now: Instant) {
        let mut map = self.latest.lock().unwrap_or_else(|p| p.into_inner());
        let key = (task.to_string(), batch.to_string());
        if !map.contains_key(&key) {
            self.expire(&mut map, now);
            while !map.is_empty() && map.len() >= self.limits.max_batches {
                // finished batches go first, then the one that reported longest ago
                let oldest = map
                    .iter()
                    .min_by_key(|(_, e)| (!finished(&e.progress), e.at))
                    .map(|(k, _)| k.clone());
                match oldest {
                    Some(k) => map.remove(&k),
                    None => break,
                };
            }
            if self.limits.max_batches == 0 {
                return;
            }
        }
        map.insert(
            key,
            Entry {
                progress: progress.clone(),
                at: now,
            },
        );
    }

    fn view_at(&self, now: Instant) -> BatchesView {
        let mut map = self.latest.lock().unwrap_or_else(|p| p.into_inner());
        self.expire(&mut map, now);
        let mut batches: Vec<BatchView> = map
            .iter()
            .map(|((task, batch), e)| {
                let p = &e.progress;
                BatchView {
                    task: task.clone(),
                    batch: batch.clone(),
                    done: p.done,
                    failed: p.failed,
                    skipped: p.skipped,
                    total: p.total,
                    rate: if p.rate.is_finite() { p.rate } else { 0.0 },
                    eta_seconds: p.eta.map(|d| d.as_secs_f64()),
                    elapsed_seconds: p.elapsed.as_secs_f64(),
                    finished: finished(p),
                    reported_seconds_ago: now.saturating_duration_since(e.at).as_secs_f64(),
                }
            })
            .collect();
        batches.sort_by(|a, b| (&a.task, &a.batch).cmp(&(&b.task, &b.batch)));
        BatchesView { batches }
    }

    /// The batches listed now.
    pub fn view(&self) -> BatchesView {
        self.view_at(Instant::now())
    }
}

impl BatchObserver for Batches {
    fn on_batch_progress(&self, task: &str, batch: &str, progress: &BatchProgress) {
        self.record_at(task, batch, progress, Instant::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(done: u64, failed: u64, total: Option<u64>) -> BatchProgress {
        BatchProgress {
            done,
            failed,
            skipped: 0,
            retried: 0,
            total,
            elapsed: Duration::from_secs(2),
            rate: 5.0,
            eta: Some(Duration::from_secs(4)),
        }
    }

    fn limits(max: usize) -> BatchLimits {
        BatchLimits {
            max_batches: max,
            keep_finished: Duration::from_secs(30),
            forget_idle: Duration::from_secs(600),
        }
    }

    #[test]
    fn the_latest_report_of_each_batch_is_kept() {
        let b = Batches::new(limits(8));
        let t0 = Instant::now();
        b.record_at("load", "rows", &report(1, 0, Some(10)), t0);
        b.record_at("load", "rows", &report(6, 2, Some(10)), t0 + Duration::from_secs(1));
        b.record_at("scan", "files", &report(3, 0, None), t0);
        let v = b.view_at(t0 + Duration::from_secs(2)).batches;
        assert_eq!(v.len(), 2);
        assert_eq!(
            (v[0].task.as_str(), v[0].done, v[0].failed, v[0].total),
            ("load", 6, 2, Some(10))
        );
        assert_eq!(v[0].eta_seconds, Some(4.0));
        assert_eq!(v[0].reported_seconds_ago, 1.0);
        assert_eq!((v[1].task.as_str(), v[1].total, v[1].finished), ("scan", None, false));
    }

    #[test]
    fn finished_batches_stay_briefly_and_idle_ones_are_forgotten() {
        let b = Batches::new(limits(8));
        let t0 = Instant::now();
        b.record_at("a", "done", &report(8, 2, Some(10)), t0);
        b.record_at("b", "running", &report(1, 0, Some(10)), t0);
        let v = b.view_at(t0 + Duration::from_secs(29)).batches;
        assert_eq!(v.len(), 2);
        assert!(v[0].finished && !v[1].finished);
        let v = b.view_at(t0 + Duration::from_secs(31)).batches;
        assert_eq!(v.iter().map(|v| v.task.as_str()).collect::<Vec<_>>(), ["b"]);
        assert!(b.view_at(t0 + Duration::from_secs(601)).batches.is_empty());
    }

    #[test]
    fn at_most_the_limit_is_kept_dropping_finished_then_the_stalest() {
        let b = Batches::new(limits(2));
        let t0 = Instant::now();
        let s = Duration::from_secs(1);
        b.record_at("a", "x", &report(10, 0, Some(10)), t0 + s * 3);
        b.record_at("b", "x", &report(1, 0, Some(10)), t0);
        b.record_at("c", "x", &report(1, 0, Some(10)), t0 + s * 4);
        let tasks = |b: &Batches| {
            b.view_at(t0 + s * 5)
                .batches
                .into_iter()
                .map(|v| v.task)
                .collect::<Vec<_>>()
        };
        assert_eq!(tasks(&b), ["b", "c"]);
        b.record_at("d", "x", &report(1, 0, Some(10)), t0 + s * 5);
        assert_eq!(tasks(&b), ["c", "d"]);
        let none = Batches::new(limits(0));
        none.record_at("a", "x", &report(1, 0, None), t0);
        assert!(none.view_at(t0).batches.is_empty());
    }
}
