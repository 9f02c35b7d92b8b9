//! Circuit breaker with resilience4j semantics: closed / open / half-open, count- or
//! time-based sliding window, failure-rate and slow-call-rate thresholds, minimum calls,
//! a fixed number of half-open probes, a bound on the half-open wait, manual force-open,
//! force-closed and reset.
//!
//! # Quick Start
//!
//! ```
//! use std::time::Duration;
//! use servicetask_core::{BreakerConfig, TaskConfig};
//! use servicetask_resilience::{layers, Resilience};
//! let config = TaskConfig::builder("charge")
//!     .breaker(BreakerConfig { window_size: 20, minimum_calls: 10, ..Default::default() })
//!     .build();
//! let resilience = Resilience::default();
//! let stack = layers(&config, &resilience); // includes a BreakerLayer for "charge"
//! assert_eq!(stack.len(), 1);
//! assert!(resilience.breaker("charge").is_some());
//! ```
//!
//! # Configuration
//!
//! `breaker` in [`servicetask_core::TaskConfig`] (`[tasks.<name>.breaker]` in
//! `servicetask.toml`; dependency breakers through [`crate::ResilienceBuilder::dependency`]).
//! A call failing with a class for which `ErrorClass::counts_as_breaker_failure` holds is a
//! failure; a business (BPMN) error or any other completed call is a success; a call that
//! ends as a rejection from further in (`circuit_open`, `bulkhead_full`,
//! `budget_exhausted`) or `cancelled` is not recorded (a probe gives its slot back). A call
//! longer than `slow_call_duration` is slow, failed or not.
//!
//! # Defaults
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `window` | `count_based` | the last `window_size` calls, or those of the last `window_size` seconds |
//! | `window_size` | `100` | calls or seconds |
//! | `failure_rate_threshold` | `50` | percent at or above which the breaker opens |
//! | `slow_call_rate_threshold` | `100` | percent of slow calls at or above which it opens |
//! | `slow_call_duration` | `60s` | a call longer than this is slow |
//! | `minimum_calls` | `100` | calls in the window before rates are judged |
//! | `permitted_calls_in_half_open` | `10` | probes admitted in half-open |
//! | `wait_in_open` | `60s` | time open before probing |
//! | `max_wait_in_half_open` | none | longest half-open wait for its probes before opening again |
//!
//! # Thread Safety
//!
//! One [`CircuitBreaker`] per key (the task name, or `dependency:<name>`) is shared by every
//! concurrent execution. In the closed state a permission is one atomic load; recording a
//! result takes a short mutex around the window (see `BENCHMARKS.md`). Transitions happen
//! under that mutex, so none is lost and the gauge always ends on the current state. The
//! open to half-open move happens on the first request after the wait (so [`CircuitBreaker::state`]
//! may say `open` after the wait until someone asks).
//!
//! # Telemetry
//!
//! | what | when | attributes |
//! |---|---|---|
//! | span event `servicetask.breaker.transition` | a call caused a transition | `servicetask.breaker.name`, `servicetask.breaker.previous_state`, `servicetask.breaker.state` |
//! | counter `servicetask.breaker.transitions` | every transition, manual ones included | same |
//! | gauge `servicetask.breaker.state` | at creation and on every transition: 1 for the current state, 0 for each other | `servicetask.breaker.name`, `servicetask.breaker.state` |
//! | span event `servicetask.rejection`, counter `servicetask.rejections` | a call was rejected | `servicetask.name`, `servicetask.rejection.reason = breaker_open` |
//!
//! A rejection fails with class `circuit_open` and a Retry-After equal to the rest of the
//! wait; the retry layer never retries it in process but hands it back (to the fallback, or
//! to the engine with that delay).
//!
//! # Examples
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use servicetask_core::{BreakerConfig, ErrorClass, Telemetry};
//! use servicetask_resilience::{BreakerState, CircuitBreaker, ManualClock};
//! let clock = Arc::new(ManualClock::default());
//! let config = BreakerConfig { window_size: 2, minimum_calls: 2, permitted_calls_in_half_open: 1,
//!     wait_in_open: Duration::from_secs(30), ..Default::default() };
//! let b = CircuitBreaker::new("payments", config, clock.clone(), Telemetry::disabled());
//! for _ in 0..2 {
//!     b.acquire(None).unwrap().record(Some(ErrorClass::Network), Duration::from_millis(3));
//! }
//! assert_eq!(b.state(), BreakerState::Open);
//! assert!(b.acquire(None).is_err()); // rejected at once, nothing recorded
//! clock.advance(Duration::from_secs(30));
//! b.acquire(None).unwrap().record(None, Duration::from_millis(2)); // the probe succeeds
//! assert_eq!(b.state(), BreakerState::Closed);
//! ```

mod engine;
mod error;
mod layer;
mod telemetry;
mod window;

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use servicetask_core::{BreakerConfig, ErrorClass, TaskContext, Telemetry};
use tokio::time::Instant;

use crate::clock::Clock;
use engine::{BreakerEngine, LazyNow, Ticket};
pub use engine::{BreakerState, Transition};
pub use error::BreakerOpenError;
pub use layer::BreakerLayer;
pub use window::{CallOutcome, WindowTotals};

const STATE_BITS: u64 = 3;
const STATE_MASK: u64 = (1 << STATE_BITS) - 1;

/// A thread-safe circuit breaker shared by every execution that uses its key.
pub struct CircuitBreaker {
    name: Arc<str>,
    config: BreakerConfig,
    clock: Arc<dyn Clock>,
    telemetry: Arc<Telemetry>,
    /// `epoch << 3 | state`: read without the lock on the closed-state fast path.
    snapshot: AtomicU64,
    /// While open: nanoseconds from `origin` to the end of the wait (rejections read it
    /// without the lock).
    open_until_ns: AtomicU64,
    origin: Instant,
    transitions: AtomicU64,
    engine: Mutex<BreakerEngine>,
}

impl fmt::Debug for CircuitBreaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("name", &self.name)
            .field("state", &self.state())
            .finish_non_exhaustive()
    }
}

impl CircuitBreaker {
    /// A closed breaker named `name`, reading time from `clock` and reporting transitions to
    /// `telemetry` (the gauge reports `closed` at once).
    pub fn new(
        name: impl Into<Arc<str>>,
        config: BreakerConfig,
        clock: Arc<dyn Clock>,
        telemetry: Arc<Telemetry>,
    ) -> Self {
        let origin = clock.now();
        let engine = BreakerEngine::new(&config, origin);
        let b = CircuitBreaker {
            name: name.into(),
            config,
            clock,
            telemetry,
            snapshot: AtomicU64::new(BreakerState::Closed.code()),
            open_until_ns: AtomicU64::new(0),
            origin,
            transitions: AtomicU64::new(0),
            engine: Mutex::new(engine),
        };
        b.record_gauge(BreakerState::Closed);
        b
    }

    /// The key (task name or `dependency:<name>`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The configuration.
    pub fn config(&self) -> &BreakerConfig {
        &self.config
    }

    /// The current state.
    pub fn state(&self) -> BreakerState {
        BreakerState::from_code(self.snapshot.load(Ordering::Acquire) & STATE_MASK)
    }

    /// Transitions made since creation.
    pub fn transition_count(&self) -> u64 {
        self.transitions.load(Ordering::Acquire)
    }

    /// Calls, failures and slow calls in the closed-state window now.
    pub fn window_totals(&self) -> WindowTotals {
        let now = self.clock.now();
        self.lock().totals(now)
    }

    fn lock(&self) -> MutexGuard<'_, BreakerEngine> {
        self.engine.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The clock the breaker reads (callers time their calls with it).
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Asks to make one call. In the closed state this is one atomic load: no lock, no clock.
    /// `cx` (when given) receives the span event of a transition the request causes.
    #[inline]
    pub fn acquire<'a>(&'a self, cx: Option<&'a TaskContext>) -> Result<BreakerPermit<'a>, BreakerOpenError> {
        let snap = self.snapshot.load(Ordering::Acquire);
        let state = BreakerState::from_code(snap & STATE_MASK);
        let ticket = if state.admits_all() {
            Ticket {
                epoch: snap >> STATE_BITS,
                probe: false,
            }
        } else {
            self.reject_fast(state).map_or_else(|| self.acquire_slow(cx), Err)?
        };
        Ok(BreakerPermit {
            breaker: self,
            cx,
            ticket,
            done: false,
        })
    }

    /// Like [`CircuitBreaker::acquire`], for a permit that must outlive the borrow (dependency calls).
    pub fn acquire_owned(self: &Arc<Self>, cx: Option<&TaskContext>) -> Result<OwnedBreakerPermit, BreakerOpenError> {
        let mut p = self.acquire(cx)?;
        p.done = true; // the owned permit takes over the duty to report
        Ok(OwnedBreakerPermit {
            breaker: Arc::clone(self),
            cx: cx.cloned(),
            ticket: p.ticket,
            done: false,
        })
    }

    /// Rejects without the lock while open (or forced open): the common case in an outage.
    fn reject_fast(&self, state: BreakerState) -> Option<BreakerOpenError> {
        let retry_after = match state {
            BreakerState::ForcedOpen => self.config.wait_in_open,
            BreakerState::Open => {
                let until = self.origin + Duration::from_nanos(self.open_until_ns.load(Ordering::Acquire));
                let now = self.clock.now();
                if now >= until {
                    return None; // time to probe: the state machine decides
                }
                until - now
            }
            _ => return None,
        };
        Some(BreakerOpenError {
            breaker: Arc::clone(&self.name),
            state,
            retry_after,
        })
    }

    #[cold]
    fn acquire_slow(&self, cx: Option<&TaskContext>) -> Result<Ticket, BreakerOpenError> {
        let now = self.clock.now();
        let mut engine = self.lock();
        let (result, transition) = engine.try_acquire(now);
        self.publish(&engine, transition, cx);
        let state = engine.state();
        drop(engine);
        result.map_err(|retry_after| BreakerOpenError {
            breaker: Arc::clone(&self.name),
            state,
            retry_after,
        })
    }

    fn finish(&self, ticket: Ticket, failure: Option<ErrorClass>, elapsed: Duration, cx: Option<&TaskContext>) {
        let outcome = outcome_of(failure, elapsed > self.config.slow_call_duration);
        let snap = self.snapshot.load(Ordering::Acquire);
        let state = BreakerState::from_code(snap & STATE_MASK);
        let stale = snap >> STATE_BITS != ticket.epoch;
        // Nothing to record: forced closed; a stale ticket (unless a half-open breaker may
        // have expired meanwhile); a call without result while closed.
        if state == BreakerState::ForcedClosed
            || (stale && state != BreakerState::HalfOpen)
            || (outcome.is_none() && state == BreakerState::Closed)
        {
            return;
        }
        let mut engine = self.lock();
        let transition = engine.on_result(ticket, outcome, LazyNow::new(&*self.clock));
        if transition.is_some() {
            self.publish(&engine, transition, cx);
        }
    }

    /// Publishes the engine's state to the snapshot and reports a transition (under the lock,
    /// so the gauge always ends on the current state).
    fn publish(&self, engine: &BreakerEngine, transition: Option<Transition>, cx: Option<&TaskContext>) {
        if let Some(until) = engine.open_until() {
            let ns = u64::try_from(until.saturating_duration_since(self.origin).as_nanos()).unwrap_or(u64::MAX);
            self.open_until_ns.store(ns, Ordering::Release);
        }
        self.snapshot
            .store(engine.epoch() << STATE_BITS | engine.state().code(), Ordering::Release);
        if let Some(t) = transition {
            self.transitions.fetch_add(1, Ordering::AcqRel);
            self.report(t, cx);
        }
    }

    fn manual(&self, op: impl FnOnce(&mut BreakerEngine, Instant) -> Option<Transition>) {
        let now = self.clock.now();
        let mut engine = self.lock();
        let transition = op(&mut engine, now);
        self.publish(&engine, transition, None);
    }

    /// Opens the breaker by hand: every call is rejected until [`CircuitBreaker::reset`].
    pub fn force_open(&self) {
        self.manual(BreakerEngine::force_open);
    }

    /// Closes the breaker by hand: every call passes and nothing is recorded until reset.
    pub fn force_closed(&self) {
        self.manual(BreakerEngine::force_closed);
    }

    /// Back to closed with an empty window; results of calls admitted before are ignored.
    pub fn reset(&self) {
        self.manual(BreakerEngine::reset);
    }
}

/// What a call's result means to a breaker (`None`: nothing, the slot is given back).
pub fn outcome_of(failure: Option<ErrorClass>, slow: bool) -> Option<CallOutcome> {
    match failure {
        None => Some(CallOutcome { failure: false, slow }),
        Some(c) if c.counts_as_breaker_failure() => Some(CallOutcome { failure: true, slow }),
        Some(
            ErrorClass::CircuitOpen | ErrorClass::BulkheadFull | ErrorClass::BudgetExhausted | ErrorClass::Cancelled,
        ) => None,
        // The dependency answered (a business error, invalid input...): a success for the breaker.
        Some(_) => Some(CallOutcome { failure: false, slow }),
    }
}

/// Permission to make one call through a [`CircuitBreaker`]. Dropping it without recording
/// (the call was cancelled) gives a half-open probe slot back.
#[must_use = "record the call's result, or drop the permit if the call was not made"]
pub struct BreakerPermit<'a> {
    breaker: &'a CircuitBreaker,
    cx: Option<&'a TaskContext>,
    ticket: Ticket,
    done: bool,
}

impl fmt::Debug for BreakerPermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BreakerPermit")
            .field("breaker", &self.breaker.name)
            .field("probe", &self.ticket.probe)
            .finish()
    }
}

impl BreakerPermit<'_> {
    /// Whether this permit is a half-open probe.
    pub fn is_probe(&self) -> bool {
        self.ticket.probe
    }

    /// Records the call's result (`None`: success) and how long it took (a call longer than
    /// `slow_call_duration` is slow). Time it with [`CircuitBreaker::clock`].
    #[inline]
    pub fn record(mut self, failure: Option<ErrorClass>, elapsed: Duration) {
        self.done = true;
        self.breaker.finish(self.ticket, failure, elapsed, self.cx);
    }
}

impl Drop for BreakerPermit<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.breaker
                .finish(self.ticket, Some(ErrorClass::Cancelled), Duration::ZERO, self.cx);
        }
    }
}

/// A [`BreakerPermit`] that owns its breaker (for dependency calls).
#[must_use = "record the call's result, or drop the permit if the call was not made"]
pub struct OwnedBreakerPermit {
    breaker: Arc<CircuitBreaker>,
    cx: Option<TaskContext>,
    ticket: Ticket,
    done: bool,
}

impl fmt::Debug for OwnedBreakerPermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedBreakerPermit")
            .field("breaker", &self.breaker.name)
            .field("probe", &self.ticket.probe)
            .finish()
    }
}

impl OwnedBreakerPermit {
    /// Whether this permit is a half-open probe.
    pub fn is_probe(&self) -> bool {
        self.ticket.probe
    }

    /// Records the call's result (`None`: success) and how long it took.
    pub fn record(mut self, failure: Option<ErrorClass>, elapsed: Duration) {
        self.done = true;
        self.breaker.finish(self.ticket, failure, elapsed, self.cx.as_ref());
    }
}

impl Drop for OwnedBreakerPermit {
    fn drop(&mut self) {
        if !self.done {
            self.breaker.finish(
                self.ticket,
                Some(ErrorClass::Cancelled),
                Duration::ZERO,
                self.cx.as_ref(),
            );
        }
    }
}
