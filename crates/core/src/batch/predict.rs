//! The time left of a batch from its start: a prior time per item, from the task's history (a
//! [`BatchHistory`] the runner registers with [`predict_from`]) or given to the batch
//! ([`super::Batch::expected_item_time`]), blended into the run's own rate as items complete.
//!
//! Before any item is done the time left is the prior's alone; the prior counts as many items
//! as a tenth of the batch, so at the first progress report (a hundredth) it still weighs about
//! nine tenths, half at a tenth, a sixth at half way. Without a prior the time left is the
//! run's rate alone, as before.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Past runs of batches: what a batch's time left starts from, and where a run's pace goes.
pub trait BatchHistory: Send + Sync + 'static {
    /// Wall time per item of past runs of batch `batch` in task `task` (`None`: no history).
    fn time_per_item(&self, task: &str, batch: &str) -> Option<Duration>;
    /// A run of batch `batch` in task `task` processed `items` items (skipped ones not
    /// counted) in `elapsed`.
    fn record(&self, task: &str, batch: &str, items: u64, elapsed: Duration);
}

static ANY: AtomicBool = AtomicBool::new(false);
static SOURCE: RwLock<Option<Arc<dyn BatchHistory>>> = RwLock::new(None);

/// Makes `history` the source of every batch's prior time per item from now on (replacing an
/// earlier one), and the place where every run's pace is recorded.
pub fn predict_from(history: Arc<dyn BatchHistory>) {
    *SOURCE.write().unwrap_or_else(|p| p.into_inner()) = Some(history);
    ANY.store(true, Ordering::Release);
}

fn source() -> Option<Arc<dyn BatchHistory>> {
    if !ANY.load(Ordering::Acquire) {
        return None;
    }
    SOURCE.read().unwrap_or_else(|p| p.into_inner()).clone()
}

/// The registered history's time per item of this batch.
pub(super) fn from_history(task: &str, batch: &str) -> Option<Duration> {
    source()?.time_per_item(task, batch)
}

/// Records a run's pace in the registered history (nothing when no item ran).
pub(super) fn record(task: &str, batch: &str, items: u64, elapsed: Duration) {
    if items > 0 {
        if let Some(h) = source() {
            h.record(task, batch, items, elapsed);
        }
    }
}

/// A prior time per item and how many items it counts as.
#[derive(Debug, Clone, Copy)]
pub(super) struct Prior {
    per_item_s: f64,
    weight: f64,
}

impl Prior {
    /// `per_item` worth a tenth of `total` items (at least one).
    pub(super) fn new(per_item: Duration, total: u64) -> Self {
        Prior {
            per_item_s: per_item.as_secs_f64(),
            weight: (total / 10).max(1) as f64,
        }
    }
}

/// Time left for `left` items after `ran` items in `elapsed`: the prior blended with the
/// run's own time per item, or that alone without a prior (`None` when neither is known).
pub(super) fn time_left(prior: Option<Prior>, left: u64, ran: u64, elapsed: Duration) -> Option<Duration> {
    let live = (ran > 0 && !elapsed.is_zero()).then(|| elapsed.as_secs_f64() / ran as f64);
    let per_item = match (prior, live) {
        (Some(p), Some(live)) => (p.weight * p.per_item_s + ran as f64 * live) / (p.weight + ran as f64),
        (Some(p), None) => p.per_item_s,
        (None, Some(live)) => live,
        (None, None) => return None,
    };
    let secs = left as f64 * per_item;
    secs.is_finite()
        .then(|| Duration::from_secs_f64(secs.min(u32::MAX as f64)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prior_leads_early_and_the_run_late() {
        let ms = Duration::from_millis;
        let prior = Some(Prior::new(ms(10), 1000));
        // nothing run yet: the prior alone
        assert_eq!(time_left(prior, 1000, 0, Duration::ZERO), Some(ms(10_000)));
        // ten items at 1 ms each against a prior of 10 ms worth 100 items
        let t = time_left(prior, 990, 10, ms(10)).unwrap().as_secs_f64();
        assert!((t - 990.0 * (100.0 * 0.010 + 10.0 * 0.001) / 110.0).abs() < 1e-9, "{t}");
        // half way the run's pace dominates
        let t = time_left(prior, 500, 500, ms(500)).unwrap().as_secs_f64();
        assert!(t < 1.3, "{t}");
        // without a prior: the run's rate, and nothing before an item ran
        assert_eq!(time_left(None, 990, 10, ms(10)), Some(ms(990)));
        assert_eq!(time_left(None, 1000, 0, Duration::ZERO), None);
    }
}
