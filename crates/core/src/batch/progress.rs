//! What a batch reports: its [`BatchProgress`] as it runs, the [`DurationStats`] of its items,
//! the [`FailurePolicy`] that decides when failures stop it, and the final [`BatchSummary`].

use std::time::Duration;

use crate::error::TaskError;

/// How many failed items a batch tolerates before it stops with an error.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum FailurePolicy {
    /// Stop at the first failed item (the default).
    #[default]
    FailFast,
    /// Carry on while at most this many items have failed.
    Tolerate(u64),
    /// Carry on while failed items are at most this fraction (0..=1) of the total. With an
    /// unknown total the fraction is of the items processed so far, judged from 100 on.
    TolerateFraction(f64),
}

/// Items processed before a fraction of an unknown total is judged.
const FRACTION_MIN_BASE: u64 = 100;

impl FailurePolicy {
    /// Whether `failed` failures break the policy.
    pub fn exceeded(&self, failed: u64, total: Option<u64>, processed: u64) -> bool {
        match *self {
            FailurePolicy::FailFast => failed > 0,
            FailurePolicy::Tolerate(max) => failed > max,
            FailurePolicy::TolerateFraction(f) => match total {
                Some(total) => failed as f64 > f * total as f64,
                None => processed >= FRACTION_MIN_BASE && failed as f64 > f * processed as f64,
            },
        }
    }
}

impl std::fmt::Display for FailurePolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FailurePolicy::FailFast => f.write_str("fail fast"),
            FailurePolicy::Tolerate(n) => write!(f, "tolerate {n}"),
            FailurePolicy::TolerateFraction(x) => write!(f, "tolerate {:.2}%", x * 100.0),
        }
    }
}

/// Count, minimum, maximum and mean of item durations: constant memory at any batch size.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct DurationStats {
    /// Items measured.
    pub count: u64,
    /// Shortest item.
    pub min: Duration,
    /// Longest item.
    pub max: Duration,
    total: Duration,
}

impl DurationStats {
    /// Adds one item's duration.
    pub fn add(&mut self, d: Duration) {
        if self.count == 0 || d < self.min {
            self.min = d;
        }
        self.max = self.max.max(d);
        self.total += d;
        self.count += 1;
    }

    /// Mean item duration (zero before any item).
    pub fn mean(&self) -> Duration {
        match u32::try_from(self.count) {
            Ok(0) => Duration::ZERO,
            Ok(n) => self.total / n,
            Err(_) => Duration::from_secs_f64(self.total.as_secs_f64() / self.count as f64),
        }
    }
}

/// A batch's progress, reported every progress step and once at the end.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchProgress {
    /// Items done: succeeded in this run plus skipped as done by an earlier one.
    pub done: u64,
    /// Items failed in this run.
    pub failed: u64,
    /// Items skipped because the checkpoint had them (included in `done`).
    pub skipped: u64,
    /// Failed item attempts that were tried again under the batch's retry policy.
    pub retried: u64,
    /// All items, when known.
    pub total: Option<u64>,
    /// Time since the batch started.
    pub elapsed: Duration,
    /// Items processed per second by this run (skipped items not counted).
    pub rate: f64,
    /// Time left, when the total is known: the task's history (or the batch's expected time
    /// per item) blended into this run's rate, or that rate alone without a history.
    pub eta: Option<Duration>,
}

impl BatchProgress {
    /// Done and failed items: how far the batch has come.
    pub fn processed(&self) -> u64 {
        self.done + self.failed
    }
}

/// How a batch went.
#[derive(Debug)]
pub struct BatchSummary {
    /// The last progress (done, failed, skipped, total, rate).
    pub progress: BatchProgress,
    /// Durations of the items run by this run.
    pub durations: DurationStats,
    /// The first failures (index and error), at most [`BatchSummary::KEPT_FAILURES`].
    pub failures: Vec<(u64, TaskError)>,
}

impl BatchSummary {
    /// How many failures a summary keeps (the count is in `progress.failed`).
    pub const KEPT_FAILURES: usize = 20;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_judge_failures() {
        assert!(!FailurePolicy::FailFast.exceeded(0, Some(10), 10));
        assert!(FailurePolicy::FailFast.exceeded(1, Some(10), 1));
        assert!(!FailurePolicy::Tolerate(2).exceeded(2, None, 5));
        assert!(FailurePolicy::Tolerate(2).exceeded(3, None, 5));
        assert!(!FailurePolicy::TolerateFraction(0.1).exceeded(10, Some(100), 20));
        assert!(FailurePolicy::TolerateFraction(0.1).exceeded(11, Some(100), 20));
        assert!(!FailurePolicy::TolerateFraction(0.1).exceeded(5, None, 10));
        assert!(FailurePolicy::TolerateFraction(0.1).exceeded(11, None, 100));
    }

    #[test]
    fn duration_stats_are_min_max_mean() {
        let mut s = DurationStats::default();
        for ms in [3, 1, 2] {
            s.add(Duration::from_millis(ms));
        }
        assert_eq!(
            (s.count, s.min, s.max, s.mean()),
            (
                3,
                Duration::from_millis(1),
                Duration::from_millis(3),
                Duration::from_millis(2)
            )
        );
    }
}
