//! The injected clock: [`Clock`], the real [`TokioClock`] and the test [`ManualClock`].
//!
//! Breakers and retry budgets never read the time themselves: they ask a [`Clock`]. The real
//! clock is tokio's, so `tokio::time::pause()` freezes it in tests; [`ManualClock`] is moved
//! by hand, for tests that want no runtime at all (property tests, the breaker stress test).
//!
//! ```
//! use std::time::Duration;
//! use servicetask_resilience::{Clock, ManualClock};
//! let clock = ManualClock::default();
//! let t0 = clock.now();
//! clock.advance(Duration::from_secs(5));
//! assert_eq!(clock.now() - t0, Duration::from_secs(5));
//! ```

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

/// A monotonic time source.
pub trait Clock: Send + Sync + 'static {
    /// The current instant.
    fn now(&self) -> Instant;
}

/// The real clock: `tokio::time::Instant::now()`, which honours `tokio::time::pause()`.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioClock;

impl Clock for TokioClock {
    #[inline]
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// A clock that only moves when told to ([`ManualClock::advance`]). Thread-safe.
pub struct ManualClock {
    origin: Instant,
    offset_ns: AtomicU64,
}

impl Default for ManualClock {
    fn default() -> Self {
        ManualClock {
            origin: Instant::now(),
            offset_ns: AtomicU64::new(0),
        }
    }
}

impl fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManualClock").field("elapsed", &self.elapsed()).finish()
    }
}

impl ManualClock {
    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let ns = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        self.offset_ns.fetch_add(ns, Ordering::AcqRel);
    }

    /// Time advanced since the clock was made.
    pub fn elapsed(&self) -> Duration {
        Duration::from_nanos(self.offset_ns.load(Ordering::Acquire))
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        self.origin + self.elapsed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_advanced() {
        let c = ManualClock::default();
        let a = c.now();
        assert_eq!(c.now(), a);
        c.advance(Duration::from_millis(1500));
        assert_eq!(c.now() - a, Duration::from_millis(1500));
        assert_eq!(c.elapsed(), Duration::from_millis(1500));
    }

    #[tokio::test(start_paused = true)]
    async fn tokio_clock_follows_the_paused_runtime_clock() {
        let c = TokioClock;
        let a = c.now();
        tokio::time::advance(Duration::from_secs(3)).await;
        assert_eq!(c.now() - a, Duration::from_secs(3));
    }
}
