//! Time as an input: the engine reads the time and waits for timers through a [`Clock`] it is
//! given (DESIGN.md §11: the engine has no clock of its own).
//!
//! - [`TokioClock`] (the default) is wall-clock time as tokio sees it; a test may still pause
//!   tokio's clock and let it run ahead.
//! - [`VirtualClock`] is time that passes only when nothing else can happen: when an instance
//!   has nothing left to do but wait for a timer, the clock jumps to that timer's due time, so
//!   timers fire at once, in due order, deterministically. While a service call runs, virtual
//!   time stands still (a call takes no virtual time), so a boundary timer never beats a call
//!   that answers. `servicetask run --clock virtual` and the conformance runner use it.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A future a clock returns for a wait.
pub type Wait = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A source of time for the engine.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The time since the clock's origin (monotonic).
    fn now(&self) -> Duration;
    /// Waits until `now() >= at` while other work goes on (a service call in flight races it).
    fn sleep_until(&self, at: Duration) -> Wait;
    /// Nothing can happen before `at`: let the time pass until then.
    fn idle_until(&self, at: Duration) -> Wait {
        self.sleep_until(at)
    }
}

/// Wall-clock time through tokio (`tokio::time`): the default. Its origin is the moment it was
/// made, read on the runtime that made it, so an engine built inside a test's paused runtime
/// measures that runtime's time (a process-wide origin taken on another runtime's paused clock
/// could lie after this one's "now", and every reading would then saturate to zero).
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    origin: tokio::time::Instant,
}

impl TokioClock {
    /// A clock whose origin is now.
    pub fn new() -> Self {
        Self {
            origin: tokio::time::Instant::now(),
        }
    }
}

impl Default for TokioClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for TokioClock {
    fn now(&self) -> Duration {
        tokio::time::Instant::now().saturating_duration_since(self.origin)
    }

    fn sleep_until(&self, at: Duration) -> Wait {
        // a year is "never" for a timer (and keeps the instant in range)
        let far = tokio::time::Instant::now() + Duration::from_secs(365 * 86_400);
        let deadline = self.origin.checked_add(at).map_or(far, |t| t.min(far));
        Box::pin(tokio::time::sleep_until(deadline))
    }
}

/// Time that passes only when the engine waits with nothing else to do (see the module doc).
/// Cloning shares the clock: every instance of an engine sees the same time.
#[derive(Debug, Default, Clone)]
pub struct VirtualClock {
    nanos: Arc<AtomicU64>,
}

impl VirtualClock {
    /// A clock at time zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves the time on by `d` (what a test does to let a timer become due).
    pub fn advance(&self, d: Duration) {
        let add = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        let _ = self
            .nanos
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| Some(n.saturating_add(add)));
    }

    fn jump_to(&self, at: Duration) {
        let at = u64::try_from(at.as_nanos()).unwrap_or(u64::MAX);
        self.nanos.fetch_max(at, Ordering::SeqCst);
    }
}

impl Clock for VirtualClock {
    fn now(&self) -> Duration {
        Duration::from_nanos(self.nanos.load(Ordering::SeqCst))
    }

    /// Due already: at once. Otherwise never by itself (virtual time stands still while other
    /// work goes on; the race is won by that work).
    fn sleep_until(&self, at: Duration) -> Wait {
        if self.now() >= at {
            Box::pin(std::future::ready(()))
        } else {
            Box::pin(std::future::pending())
        }
    }

    fn idle_until(&self, at: Duration) -> Wait {
        self.jump_to(at);
        Box::pin(std::future::ready(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtual_time_jumps_only_when_idle() {
        let c = VirtualClock::new();
        assert_eq!(c.now(), Duration::ZERO);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        rt.block_on(async {
            // a race against other work: not due, so it does not complete by itself
            let raced = tokio::time::timeout(Duration::from_millis(20), c.sleep_until(Duration::from_secs(5))).await;
            assert!(raced.is_err());
            assert_eq!(c.now(), Duration::ZERO);
            c.idle_until(Duration::from_secs(5)).await;
            assert_eq!(c.now(), Duration::from_secs(5));
            // never backwards
            c.idle_until(Duration::from_secs(1)).await;
            assert_eq!(c.now(), Duration::from_secs(5));
            c.sleep_until(Duration::from_secs(5)).await;
        });
        c.advance(Duration::from_millis(250));
        assert_eq!(c.now(), Duration::from_millis(5250));
        let shared = c.clone();
        shared.advance(Duration::from_secs(1));
        assert_eq!(c.now(), Duration::from_millis(6250));
    }
}
