//! Sliding windows a breaker judges over: the last `n` calls, or the calls of the last `n`
//! seconds (one bucket per second). Pure: the caller passes the time.

use tokio::time::Instant;

/// How one call went, as far as the breaker is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CallOutcome {
    /// The call failed with a class that counts as a breaker failure.
    pub failure: bool,
    /// The call took longer than the slow-call duration.
    pub slow: bool,
}

impl CallOutcome {
    /// A fast success.
    pub const SUCCESS: CallOutcome = CallOutcome {
        failure: false,
        slow: false,
    };
    /// A fast failure.
    pub const FAILURE: CallOutcome = CallOutcome {
        failure: true,
        slow: false,
    };
}

/// Calls, failures and slow calls in a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WindowTotals {
    /// Calls recorded.
    pub calls: u32,
    /// Of which failed.
    pub failures: u32,
    /// Of which were slow (failed or not).
    pub slow: u32,
}

impl WindowTotals {
    pub(crate) fn add(&mut self, o: CallOutcome) {
        self.calls += 1;
        self.failures += u32::from(o.failure);
        self.slow += u32::from(o.slow);
    }

    fn sub(&mut self, other: WindowTotals) {
        self.calls -= other.calls;
        self.failures -= other.failures;
        self.slow -= other.slow;
    }

    /// Failure rate in percent (0 with no calls).
    pub fn failure_rate(&self) -> f64 {
        percent(self.failures, self.calls)
    }

    /// Slow-call rate in percent (0 with no calls).
    pub fn slow_call_rate(&self) -> f64 {
        percent(self.slow, self.calls)
    }
}

fn percent(part: u32, whole: u32) -> f64 {
    if whole == 0 {
        0.0
    } else {
        f64::from(part) * 100.0 / f64::from(whole)
    }
}

/// A count- or time-based sliding window with running totals (O(1) to record and read).
#[derive(Debug, Clone)]
pub(crate) enum SlidingWindow {
    Count(CountWindow),
    Time(TimeWindow),
}

impl SlidingWindow {
    pub(crate) fn count(size: u32) -> Self {
        SlidingWindow::Count(CountWindow::new(size))
    }

    pub(crate) fn time(size_secs: u32, origin: Instant) -> Self {
        SlidingWindow::Time(TimeWindow::new(size_secs, origin))
    }

    pub(crate) fn is_time_based(&self) -> bool {
        matches!(self, SlidingWindow::Time(_))
    }

    pub(crate) fn record(&mut self, outcome: CallOutcome, now: Instant) {
        match self {
            SlidingWindow::Count(w) => w.record(outcome),
            SlidingWindow::Time(w) => w.record(outcome, now),
        }
    }

    pub(crate) fn totals(&mut self, now: Instant) -> WindowTotals {
        match self {
            SlidingWindow::Count(w) => w.totals,
            SlidingWindow::Time(w) => {
                w.advance(now);
                w.totals
            }
        }
    }

    pub(crate) fn clear(&mut self) {
        match self {
            SlidingWindow::Count(w) => *w = CountWindow::new(w.ring.len() as u32),
            SlidingWindow::Time(w) => {
                for b in &mut w.buckets {
                    *b = Bucket::default();
                }
                w.totals = WindowTotals::default();
            }
        }
    }
}

/// The last `size` calls, in a ring.
#[derive(Debug, Clone)]
pub(crate) struct CountWindow {
    ring: Box<[CallOutcome]>,
    next: usize,
    len: usize,
    totals: WindowTotals,
}

impl CountWindow {
    fn new(size: u32) -> Self {
        CountWindow {
            ring: vec![CallOutcome::default(); size.max(1) as usize].into_boxed_slice(),
            next: 0,
            len: 0,
            totals: WindowTotals::default(),
        }
    }

    fn record(&mut self, outcome: CallOutcome) {
        if self.len == self.ring.len() {
            let old = self.ring[self.next];
            self.totals.sub(WindowTotals {
                calls: 1,
                failures: u32::from(old.failure),
                slow: u32::from(old.slow),
            });
        } else {
            self.len += 1;
        }
        self.ring[self.next] = outcome;
        self.totals.add(outcome);
        self.next += 1;
        if self.next == self.ring.len() {
            self.next = 0;
        }
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Bucket {
    /// 1-based second since the window's origin (0: unused).
    second: u64,
    totals: WindowTotals,
}

/// The calls of the last `size` whole seconds since the origin, one bucket per second.
///
/// A call at time `t` belongs to second `s(t) = floor((t - origin) / 1s)`; at time `now`
/// the window holds the calls with `s(t) > s(now) - size`.
#[derive(Debug, Clone)]
pub(crate) struct TimeWindow {
    origin: Instant,
    buckets: Box<[Bucket]>,
    head: u64,
    totals: WindowTotals,
}

impl TimeWindow {
    fn new(size: u32, origin: Instant) -> Self {
        TimeWindow {
            origin,
            buckets: vec![Bucket::default(); size.max(1) as usize].into_boxed_slice(),
            head: 1,
            totals: WindowTotals::default(),
        }
    }

    fn second(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.origin).as_secs() + 1
    }

    /// Moves the head to `now`, evicting the buckets that left the window.
    fn advance(&mut self, now: Instant) {
        let second = self.second(now);
        if second <= self.head {
            return;
        }
        let size = self.buckets.len() as u64;
        let first = (self.head + 1).max(second.saturating_sub(size - 1));
        for s in first..=second {
            let b = &mut self.buckets[(s % size) as usize];
            if b.second != 0 {
                self.totals.sub(b.totals);
            }
            *b = Bucket {
                second: s,
                totals: WindowTotals::default(),
            };
        }
        self.head = second;
    }

    fn record(&mut self, outcome: CallOutcome, now: Instant) {
        self.advance(now);
        let size = self.buckets.len() as u64;
        let b = &mut self.buckets[(self.head % size) as usize];
        b.second = self.head;
        b.totals.add(outcome);
        self.totals.add(outcome);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::time::Duration;

    const BUCKET: Duration = Duration::from_secs(1);

    const F: CallOutcome = CallOutcome::FAILURE;
    const S: CallOutcome = CallOutcome::SUCCESS;

    #[test]
    fn count_window_keeps_the_last_n_calls() {
        let t = Instant::now();
        let mut w = SlidingWindow::count(3);
        w.record(F, t);
        w.record(F, t);
        w.record(S, t);
        assert_eq!(
            w.totals(t),
            WindowTotals {
                calls: 3,
                failures: 2,
                slow: 0
            }
        );
        w.record(S, t); // evicts the first F
        assert_eq!(w.totals(t).failures, 1);
        w.record(
            CallOutcome {
                failure: false,
                slow: true,
            },
            t,
        );
        assert_eq!(
            w.totals(t),
            WindowTotals {
                calls: 3,
                failures: 0,
                slow: 1
            }
        );
        assert!((w.totals(t).slow_call_rate() - 100.0 / 3.0).abs() < 1e-9);
    }

    #[test]
    fn time_window_drops_seconds_that_left() {
        let t0 = Instant::now();
        let mut w = SlidingWindow::time(3, t0);
        w.record(F, t0); // second 1
        w.record(S, t0 + Duration::from_millis(1_500)); // second 2
        w.record(F, t0 + Duration::from_millis(2_999)); // second 3
        assert_eq!(w.totals(t0 + Duration::from_millis(2_999)).calls, 3);
        assert_eq!(
            w.totals(t0 + BUCKET * 3),
            WindowTotals {
                calls: 2,
                failures: 1,
                slow: 0
            }
        );
        assert_eq!(w.totals(t0 + BUCKET * 4).calls, 1);
        assert_eq!(w.totals(t0 + BUCKET * 5).calls, 0);
        w.record(F, t0 + BUCKET * 100);
        assert_eq!(
            w.totals(t0 + BUCKET * 100),
            WindowTotals {
                calls: 1,
                failures: 1,
                slow: 0
            }
        );
    }

    #[test]
    fn clear_empties_both_kinds() {
        let t0 = Instant::now();
        for mut w in [SlidingWindow::count(4), SlidingWindow::time(4, t0)] {
            w.record(F, t0);
            w.clear();
            assert_eq!(w.totals(t0), WindowTotals::default());
            w.record(S, t0);
            assert_eq!(w.totals(t0).calls, 1);
        }
    }
}
