//! The breaker state machine (resilience4j semantics), pure: no I/O, no clock, no locks.
//! The thread-safe [`crate::CircuitBreaker`] wraps it and adds telemetry from outside.
//!
//! - **Closed**: every call is admitted and recorded in the sliding window. Once the window
//!   holds at least `minimum_calls` calls, a failure rate or slow-call rate at or above its
//!   threshold opens the breaker.
//! - **Open**: every call is rejected until `wait_in_open` has passed since it opened; a
//!   rejection changes nothing (it neither moves the open time nor counts as a failure).
//!   The first call after the wait moves the breaker to half-open.
//! - **Half-open**: exactly `permitted_calls_in_half_open` probes are admitted; the others are
//!   rejected. When every probe has reported, their rates decide: open again, or closed with
//!   an empty window. A probe that ends without a result (cancelled, rejected further in)
//!   gives its slot back. If `max_wait_in_half_open` passes first, the breaker opens again.
//! - **Forced open / forced closed**: set by hand; reject everything / admit everything and
//!   record nothing, until [`BreakerEngine::reset`] or the other force.
//!
//! Every state change bumps an epoch; the result of a call admitted in an earlier epoch is
//! ignored (it describes the dependency before the change).

use std::time::Duration;

use servicetask_core::{BreakerConfig, WindowKind};
use tokio::time::Instant;

use super::window::{CallOutcome, SlidingWindow, WindowTotals};

/// The state of a circuit breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BreakerState {
    /// Calls pass and are judged.
    Closed,
    /// Calls are rejected until the wait in open is over.
    Open,
    /// A fixed number of probes is admitted to test the dependency.
    HalfOpen,
    /// Opened by hand: every call is rejected.
    ForcedOpen,
    /// Closed by hand: every call passes and nothing is recorded.
    ForcedClosed,
}

impl BreakerState {
    /// Every state, in a fixed order (the breaker-state gauge reports them all).
    pub const ALL: [BreakerState; 5] = [
        BreakerState::Closed,
        BreakerState::Open,
        BreakerState::HalfOpen,
        BreakerState::ForcedOpen,
        BreakerState::ForcedClosed,
    ];

    /// The `servicetask.breaker.state` attribute value.
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half_open",
            BreakerState::ForcedOpen => "forced_open",
            BreakerState::ForcedClosed => "forced_closed",
        }
    }

    pub(crate) fn code(self) -> u64 {
        match self {
            BreakerState::Closed => 0,
            BreakerState::Open => 1,
            BreakerState::HalfOpen => 2,
            BreakerState::ForcedOpen => 3,
            BreakerState::ForcedClosed => 4,
        }
    }

    pub(crate) fn from_code(code: u64) -> Self {
        match code {
            0 => BreakerState::Closed,
            1 => BreakerState::Open,
            2 => BreakerState::HalfOpen,
            3 => BreakerState::ForcedOpen,
            _ => BreakerState::ForcedClosed,
        }
    }

    /// Whether every call is admitted without asking the state machine.
    pub(crate) fn admits_all(self) -> bool {
        matches!(self, BreakerState::Closed | BreakerState::ForcedClosed)
    }
}

impl std::fmt::Display for BreakerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A change of state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    /// The state left.
    pub from: BreakerState,
    /// The state entered.
    pub to: BreakerState,
}

/// The time, read only when the state machine needs it.
pub(crate) trait Now {
    /// The current instant (the same one on every call).
    fn now(&mut self) -> Instant;
}

impl Now for Instant {
    fn now(&mut self) -> Instant {
        *self
    }
}

/// Reads a clock on first use, then keeps that instant.
pub(crate) struct LazyNow<'a> {
    clock: &'a dyn crate::clock::Clock,
    at: Option<Instant>,
}

impl<'a> LazyNow<'a> {
    pub(crate) fn new(clock: &'a dyn crate::clock::Clock) -> Self {
        LazyNow { clock, at: None }
    }
}

impl Now for LazyNow<'_> {
    fn now(&mut self) -> Instant {
        match self.at {
            Some(t) => t,
            None => {
                let t = self.clock.now();
                self.at = Some(t);
                t
            }
        }
    }
}

/// Permission to make one call, issued in an epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ticket {
    pub(crate) epoch: u64,
    pub(crate) probe: bool,
}

/// The settings the state machine uses, made safe (validation reports bad values).
#[derive(Debug, Clone, Copy)]
struct Settings {
    failure_rate: f64,
    slow_rate: f64,
    minimum_calls: u32,
    probes: u32,
    wait_in_open: Duration,
    max_wait_in_half_open: Option<Duration>,
}

impl Settings {
    fn new(c: &BreakerConfig) -> Self {
        let window_size = c.window_size.max(1);
        let minimum_calls = match c.window {
            // A count window can never hold more than its size.
            WindowKind::CountBased => c.minimum_calls.clamp(1, window_size),
            WindowKind::TimeBased => c.minimum_calls.max(1),
        };
        Settings {
            failure_rate: c.failure_rate_threshold,
            slow_rate: c.slow_call_rate_threshold,
            minimum_calls,
            probes: c.permitted_calls_in_half_open.max(1),
            wait_in_open: c.wait_in_open,
            max_wait_in_half_open: c.max_wait_in_half_open,
        }
    }

    fn trips(&self, t: WindowTotals) -> bool {
        t.failure_rate() >= self.failure_rate || t.slow_call_rate() >= self.slow_rate
    }
}

/// The pure breaker state machine.
#[derive(Debug, Clone)]
pub(crate) struct BreakerEngine {
    settings: Settings,
    state: BreakerState,
    epoch: u64,
    /// When the current state was entered.
    since: Instant,
    window: SlidingWindow,
    probes_issued: u32,
    probe_totals: WindowTotals,
}

impl BreakerEngine {
    pub(crate) fn new(config: &BreakerConfig, now: Instant) -> Self {
        let window = match config.window {
            WindowKind::CountBased => SlidingWindow::count(config.window_size),
            WindowKind::TimeBased => SlidingWindow::time(config.window_size, now),
        };
        BreakerEngine {
            settings: Settings::new(config),
            state: BreakerState::Closed,
            epoch: 0,
            since: now,
            window,
            probes_issued: 0,
            probe_totals: WindowTotals::default(),
        }
    }

    pub(crate) fn state(&self) -> BreakerState {
        self.state
    }

    /// When an open breaker starts admitting probes (`None` unless open).
    pub(crate) fn open_until(&self) -> Option<Instant> {
        (self.state == BreakerState::Open).then(|| self.since + self.settings.wait_in_open)
    }

    pub(crate) fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Totals of the closed-state window at `now`.
    pub(crate) fn totals(&mut self, now: Instant) -> WindowTotals {
        self.window.totals(now)
    }

    fn enter(&mut self, to: BreakerState, now: Instant) -> Option<Transition> {
        let from = self.state;
        self.epoch += 1;
        self.since = now;
        self.probes_issued = 0;
        self.probe_totals = WindowTotals::default();
        if matches!(to, BreakerState::Closed | BreakerState::Open) {
            self.window.clear();
        }
        self.state = to;
        (from != to).then_some(Transition { from, to })
    }

    fn half_open_expired(&self, now: Instant) -> bool {
        self.state == BreakerState::HalfOpen
            && self
                .settings
                .max_wait_in_half_open
                .is_some_and(|max| now.saturating_duration_since(self.since) >= max)
    }

    /// Asks to make a call at `now`: a ticket, or a rejection with the time after which
    /// asking again makes sense. Returns the transition the request caused, if any.
    pub(crate) fn try_acquire(&mut self, now: Instant) -> (Result<Ticket, Duration>, Option<Transition>) {
        let mut transition = None;
        if self.half_open_expired(now) {
            transition = self.enter(BreakerState::Open, now);
        }
        match self.state {
            BreakerState::Closed | BreakerState::ForcedClosed => (
                Ok(Ticket {
                    epoch: self.epoch,
                    probe: false,
                }),
                transition,
            ),
            BreakerState::Open => {
                let waited = now.saturating_duration_since(self.since);
                if waited < self.settings.wait_in_open {
                    return (Err(self.settings.wait_in_open - waited), transition);
                }
                transition = self.enter(BreakerState::HalfOpen, now);
                self.probes_issued = 1;
                (
                    Ok(Ticket {
                        epoch: self.epoch,
                        probe: true,
                    }),
                    transition,
                )
            }
            BreakerState::HalfOpen => {
                if self.probes_issued < self.settings.probes {
                    self.probes_issued += 1;
                    return (
                        Ok(Ticket {
                            epoch: self.epoch,
                            probe: true,
                        }),
                        transition,
                    );
                }
                let wait = match self.settings.max_wait_in_half_open {
                    Some(max) => max.saturating_sub(now.saturating_duration_since(self.since)),
                    None => self.settings.wait_in_open,
                };
                (Err(wait), transition)
            }
            BreakerState::ForcedOpen => (Err(self.settings.wait_in_open), transition),
        }
    }

    /// Reports how an admitted call went at `now` (read only when needed: the closed state
    /// of a count-based window never asks unless it trips); `None` when the call ended without
    /// a result that says anything about the dependency (cancelled, or rejected further in).
    pub(crate) fn on_result(
        &mut self,
        ticket: Ticket,
        outcome: Option<CallOutcome>,
        mut now: impl Now,
    ) -> Option<Transition> {
        if self.state == BreakerState::HalfOpen {
            let t = now.now();
            if self.half_open_expired(t) {
                return self.enter(BreakerState::Open, t);
            }
        }
        if ticket.epoch != self.epoch {
            return None;
        }
        match (self.state, outcome) {
            (BreakerState::Closed, Some(o)) => {
                // A count window ignores the time: do not read the clock for it.
                let at = if self.window.is_time_based() {
                    now.now()
                } else {
                    self.since
                };
                self.window.record(o, at);
                let t = self.window.totals(at);
                if t.calls >= self.settings.minimum_calls && self.settings.trips(t) {
                    return self.enter(BreakerState::Open, now.now());
                }
                None
            }
            (BreakerState::HalfOpen, None) => {
                self.probes_issued = self.probes_issued.saturating_sub(1);
                None
            }
            (BreakerState::HalfOpen, Some(o)) => {
                self.probe_totals.add(o);
                if self.probe_totals.calls < self.settings.probes {
                    return None;
                }
                let to = if self.settings.trips(self.probe_totals) {
                    BreakerState::Open
                } else {
                    BreakerState::Closed
                };
                self.enter(to, now.now())
            }
            _ => None,
        }
    }

    /// Opens by hand until reset.
    pub(crate) fn force_open(&mut self, now: Instant) -> Option<Transition> {
        self.enter(BreakerState::ForcedOpen, now)
    }

    /// Closes by hand (admit all, record nothing) until reset.
    pub(crate) fn force_closed(&mut self, now: Instant) -> Option<Transition> {
        self.enter(BreakerState::ForcedClosed, now)
    }

    /// Back to closed with an empty window.
    pub(crate) fn reset(&mut self, now: Instant) -> Option<Transition> {
        self.enter(BreakerState::Closed, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const F: Option<CallOutcome> = Some(CallOutcome::FAILURE);
    const S: Option<CallOutcome> = Some(CallOutcome::SUCCESS);

    fn config() -> BreakerConfig {
        BreakerConfig {
            window_size: 4,
            minimum_calls: 4,
            failure_rate_threshold: 50.0,
            permitted_calls_in_half_open: 2,
            wait_in_open: Duration::from_secs(10),
            ..BreakerConfig::default()
        }
    }

    fn admit(e: &mut BreakerEngine, now: Instant) -> Ticket {
        e.try_acquire(now).0.expect("admitted")
    }

    fn open(e: &mut BreakerEngine, now: Instant) {
        for o in [S, S, F, F] {
            let t = admit(e, now);
            e.on_result(t, o, now);
        }
        assert_eq!(e.state(), BreakerState::Open);
    }

    #[test]
    fn opens_at_the_failure_rate_once_minimum_calls_are_in() {
        let t0 = Instant::now();
        let mut e = BreakerEngine::new(&config(), t0);
        for o in [F, F, F] {
            let t = admit(&mut e, t0);
            assert_eq!(e.on_result(t, o, t0), None, "fewer than minimum_calls: no judgement");
        }
        let t = admit(&mut e, t0);
        let tr = e.on_result(t, S, t0);
        assert_eq!(
            tr,
            Some(Transition {
                from: BreakerState::Closed,
                to: BreakerState::Open
            })
        );
    }

    #[test]
    fn rejections_do_not_move_the_open_time() {
        let t0 = Instant::now();
        let mut e = BreakerEngine::new(&config(), t0);
        open(&mut e, t0);
        for s in 1..10 {
            let (r, tr) = e.try_acquire(t0 + Duration::from_secs(s));
            assert_eq!(r, Err(Duration::from_secs(10 - s)));
            assert_eq!(tr, None);
        }
        let (r, tr) = e.try_acquire(t0 + Duration::from_secs(10));
        assert!(r.unwrap().probe);
        assert_eq!(tr.unwrap().to, BreakerState::HalfOpen);
    }

    #[test]
    fn half_open_admits_exactly_the_permitted_probes_then_closes() {
        let t0 = Instant::now();
        let mut e = BreakerEngine::new(&config(), t0);
        open(&mut e, t0);
        let t1 = t0 + Duration::from_secs(10);
        let a = admit(&mut e, t1);
        let b = admit(&mut e, t1);
        assert!(e.try_acquire(t1).0.is_err(), "a third probe is rejected");
        assert_eq!(e.on_result(a, S, t1), None);
        let tr = e.on_result(b, S, t1).unwrap();
        assert_eq!(tr.to, BreakerState::Closed);
        assert_eq!(
            e.totals(t1),
            WindowTotals::default(),
            "closed starts with an empty window"
        );
    }

    #[test]
    fn failing_probes_reopen_and_a_cancelled_probe_frees_its_slot() {
        let t0 = Instant::now();
        let mut e = BreakerEngine::new(&config(), t0);
        open(&mut e, t0);
        let t1 = t0 + Duration::from_secs(10);
        let a = admit(&mut e, t1);
        let b = admit(&mut e, t1);
        e.on_result(b, None, t1);
        let c = admit(&mut e, t1);
        e.on_result(a, F, t1);
        assert_eq!(e.on_result(c, F, t1).unwrap().to, BreakerState::Open);
        assert_eq!(e.try_acquire(t1).0, Err(Duration::from_secs(10)));
    }

    #[test]
    fn a_hung_probe_cannot_hold_half_open_forever() {
        let t0 = Instant::now();
        let mut e = BreakerEngine::new(
            &BreakerConfig {
                max_wait_in_half_open: Some(Duration::from_secs(5)),
                ..config()
            },
            t0,
        );
        open(&mut e, t0);
        let t1 = t0 + Duration::from_secs(10);
        let hung = admit(&mut e, t1);
        let _other = admit(&mut e, t1);
        assert_eq!(
            e.try_acquire(t1 + Duration::from_secs(4)).0,
            Err(Duration::from_secs(1))
        );
        let (r, tr) = e.try_acquire(t1 + Duration::from_secs(5));
        assert_eq!(tr.unwrap().to, BreakerState::Open);
        assert_eq!(r, Err(Duration::from_secs(10)));
        assert_eq!(
            e.on_result(hung, S, t1 + Duration::from_secs(6)),
            None,
            "stale probe ignored"
        );
    }

    #[test]
    fn slow_calls_open_at_their_own_rate() {
        let t0 = Instant::now();
        let mut e = BreakerEngine::new(
            &BreakerConfig {
                slow_call_rate_threshold: 75.0,
                ..config()
            },
            t0,
        );
        let slow = Some(CallOutcome {
            failure: false,
            slow: true,
        });
        for o in [slow, slow, S, slow] {
            let t = admit(&mut e, t0);
            e.on_result(t, o, t0);
        }
        assert_eq!(e.state(), BreakerState::Open);
    }

    #[test]
    fn forced_states_hold_until_reset_and_stale_results_are_ignored() {
        let t0 = Instant::now();
        let mut e = BreakerEngine::new(&config(), t0);
        let before = admit(&mut e, t0);
        e.force_open(t0);
        assert!(e.try_acquire(t0 + Duration::from_secs(3600)).0.is_err());
        e.force_closed(t0);
        for _ in 0..10 {
            let t = admit(&mut e, t0);
            assert_eq!(e.on_result(t, F, t0), None);
        }
        assert_eq!(e.state(), BreakerState::ForcedClosed);
        assert_eq!(e.reset(t0).unwrap().to, BreakerState::Closed);
        e.on_result(before, F, t0);
        assert_eq!(e.totals(t0).calls, 0, "a result from an old epoch is ignored");
    }
}
