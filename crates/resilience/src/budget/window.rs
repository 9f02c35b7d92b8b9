//! The pure retry-budget arithmetic: calls (deposits) and retries (withdrawals) counted in
//! time buckets over a sliding window. No I/O; the caller passes the time.
//!
//! A retry is allowed while `retries < ratio * calls + min_per_second * window_seconds` over
//! the window (the shape of Finagle's retry budget).

use std::time::Duration;

use tokio::time::Instant;

/// Buckets a window is cut into.
const BUCKETS: usize = 10;

#[derive(Debug, Clone, Copy, Default)]
struct Bucket {
    index: u64,
    calls: u64,
    retries: u64,
}

/// Calls and retries over a sliding window of [`BUCKETS`] buckets.
#[derive(Debug, Clone)]
pub(crate) struct BudgetWindow {
    origin: Instant,
    bucket_ns: u64,
    ratio: f64,
    floor: f64,
    buckets: [Bucket; BUCKETS],
}

impl BudgetWindow {
    pub(crate) fn new(origin: Instant, window: Duration, ratio: f64, min_per_second: u32) -> Self {
        let window = window.max(Duration::from_millis(BUCKETS as u64));
        let bucket_ns = u64::try_from(window.as_nanos() / BUCKETS as u128)
            .unwrap_or(u64::MAX)
            .max(1);
        let ratio = if ratio.is_finite() { ratio.max(0.0) } else { 0.0 };
        BudgetWindow {
            origin,
            bucket_ns,
            ratio,
            floor: f64::from(min_per_second) * window.as_secs_f64(),
            buckets: [Bucket::default(); BUCKETS],
        }
    }

    fn index(&self, now: Instant) -> u64 {
        let ns = u64::try_from(now.saturating_duration_since(self.origin).as_nanos()).unwrap_or(u64::MAX);
        ns / self.bucket_ns + 1 // bucket 0 means "never used"
    }

    fn bucket(&mut self, now: Instant) -> &mut Bucket {
        let index = self.index(now);
        let b = &mut self.buckets[(index % BUCKETS as u64) as usize];
        if b.index != index {
            *b = Bucket {
                index,
                calls: 0,
                retries: 0,
            };
        }
        b
    }

    /// Totals `(calls, retries)` over the window ending at `now`.
    pub(crate) fn totals(&self, now: Instant) -> (u64, u64) {
        let index = self.index(now);
        self.buckets
            .iter()
            .filter(|b| b.index != 0 && b.index <= index && index - b.index < BUCKETS as u64)
            .fold((0, 0), |(c, r), b| (c + b.calls, r + b.retries))
    }

    /// Retries allowed in the window ending at `now`, spent ones included.
    pub(crate) fn allowance(&self, now: Instant) -> u64 {
        let (calls, _) = self.totals(now);
        (self.ratio * calls as f64 + self.floor).floor() as u64
    }

    /// Counts one call (a first attempt).
    pub(crate) fn deposit(&mut self, now: Instant) {
        self.bucket(now).calls += 1;
    }

    /// Spends one retry if the budget allows; `false` when it is exhausted.
    pub(crate) fn try_withdraw(&mut self, now: Instant) -> bool {
        let (_, retries) = self.totals(now);
        if retries < self.allowance(now) {
            self.bucket(now).retries += 1;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn ratio_of_calls_plus_floor() {
        let t0 = Instant::now();
        let mut w = BudgetWindow::new(t0, secs(10), 0.2, 0);
        for _ in 0..10 {
            w.deposit(t0);
        }
        assert_eq!(w.allowance(t0), 2);
        assert!(w.try_withdraw(t0));
        assert!(w.try_withdraw(t0));
        assert!(!w.try_withdraw(t0), "third retry exceeds 20% of 10 calls");
    }

    #[test]
    fn floor_allows_retries_without_calls() {
        let t0 = Instant::now();
        let mut w = BudgetWindow::new(t0, secs(2), 0.0, 1);
        assert!(w.try_withdraw(t0));
        assert!(w.try_withdraw(t0));
        assert!(!w.try_withdraw(t0));
    }

    #[test]
    fn old_buckets_slide_out_of_the_window() {
        let t0 = Instant::now();
        let mut w = BudgetWindow::new(t0, secs(10), 0.5, 0);
        for _ in 0..4 {
            w.deposit(t0);
        }
        assert!(w.try_withdraw(t0));
        assert!(w.try_withdraw(t0));
        assert!(!w.try_withdraw(t0));
        // 9.999 s later the calls still count; at 10 s their bucket has left the window.
        assert_eq!(w.totals(t0 + Duration::from_millis(9_999)), (4, 2));
        assert_eq!(w.totals(t0 + secs(10)), (0, 0));
        assert!(!w.try_withdraw(t0 + secs(10)), "no calls, no floor: nothing to spend");
        w.deposit(t0 + secs(10));
        w.deposit(t0 + secs(10));
        assert!(w.try_withdraw(t0 + secs(10)));
    }
}
