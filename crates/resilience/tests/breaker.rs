//! Circuit breaker: the layer's behaviour and telemetry, the state machine against a small
//! reference model over random call sequences (proptest), and a concurrency stress test.

mod support;

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;
use servicetask_core::semconv::{self, event, metric};
use servicetask_core::{BreakerConfig, ErrorClass, Jitter, RetryConfig, TaskConfig, TaskError, WindowKind};
use servicetask_resilience::{layers, BreakerState, CircuitBreaker, ManualClock, Resilience};
use support::{run, value, Otel, Script, Step};

fn config(window: u32, minimum: u32, probes: u32) -> BreakerConfig {
    BreakerConfig {
        window_size: window,
        minimum_calls: minimum,
        failure_rate_threshold: 50.0,
        permitted_calls_in_half_open: probes,
        wait_in_open: Duration::from_secs(30),
        ..BreakerConfig::default()
    }
}

fn transition(e: &support::Event) -> (String, String, String) {
    (
        e.attr(semconv::SERVICETASK_BREAKER_NAME).unwrap(),
        e.attr(semconv::SERVICETASK_BREAKER_PREVIOUS_STATE).unwrap(),
        e.attr(semconv::SERVICETASK_BREAKER_STATE).unwrap(),
    )
}

fn states(closed: f64, open: f64, half_open: f64) -> Vec<(String, f64)> {
    let mut v = vec![
        ("closed".to_string(), closed),
        ("forced_closed".to_string(), 0.0),
        ("forced_open".to_string(), 0.0),
        ("half_open".to_string(), half_open),
        ("open".to_string(), open),
    ];
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

#[tokio::test]
async fn the_layer_opens_rejects_without_running_probes_and_closes_with_telemetry() {
    let otel = Otel::new();
    let clock = Arc::new(ManualClock::default());
    let res = Resilience::builder()
        .telemetry(otel.telemetry.clone())
        .clock(clock.clone())
        .build();
    let task_config = TaskConfig::builder("pay")
        .retry(RetryConfig {
            max_attempts: 3,
            initial_delay: Duration::ZERO,
            jitter: Jitter::None,
            ..RetryConfig::default()
        })
        .breaker(config(4, 4, 1))
        .build();
    let stack = layers(&task_config, &res);
    assert_eq!(
        otel.gauge_states("pay"),
        states(1.0, 0.0, 0.0),
        "closed is reported from the start"
    );

    // Two executions of 2 failing attempts each... the 4th failure opens the breaker.
    let failing = Script::new([Step::Err(TaskError::network("refused"))]);
    let cx1 = otel.context("pay#1", None);
    let e1 = run(&stack, &failing, &cx1).await.unwrap_err();
    assert_eq!(e1.class(), ErrorClass::Network);
    otel.end(&cx1);
    let cx2 = otel.context("pay#2", None);
    let e2 = run(&stack, &failing, &cx2).await.unwrap_err();
    otel.end(&cx2);
    // Execution 1: attempts 1-3 fail (3 calls). Execution 2: attempt 1 fails (4th call: opens),
    // attempt 2 is rejected and handed back, not retried in a loop.
    assert_eq!(failing.calls(), 4);
    assert_eq!(e2.class(), ErrorClass::CircuitOpen);
    assert_eq!(
        (e2.retries_left(), e2.retry_after()),
        (Some(1), Some(Duration::from_secs(30)))
    );
    assert_eq!(res.breaker("pay").unwrap().state(), BreakerState::Open);

    // Open: rejected without running the task, and the wait does not move.
    clock.advance(Duration::from_secs(10));
    let ok = Script::new([Step::Ok(1)]);
    let cx3 = otel.context("pay#3", None);
    let e3 = run(&stack, &ok, &cx3).await.unwrap_err();
    otel.end(&cx3);
    assert_eq!(
        (e3.class(), e3.retry_after()),
        (ErrorClass::CircuitOpen, Some(Duration::from_secs(20)))
    );
    assert_eq!(ok.calls(), 0);

    // After the wait: one probe, it succeeds, the breaker closes.
    clock.advance(Duration::from_secs(20));
    let cx4 = otel.context("pay#4", None);
    assert_eq!(value(run(&stack, &ok, &cx4).await), 1);
    otel.end(&cx4);
    assert_eq!(res.breaker("pay").unwrap().state(), BreakerState::Closed);

    let transitions: Vec<_> = otel
        .events_named(event::BREAKER_TRANSITION)
        .iter()
        .map(|e| (e.span.clone(), transition(e)))
        .collect();
    let t =
        |span: &str, from: &str, to: &str| (span.to_string(), ("pay".to_string(), from.to_string(), to.to_string()));
    assert_eq!(
        transitions,
        [
            t("pay#2", "closed", "open"),
            t("pay#4", "open", "half_open"),
            t("pay#4", "half_open", "closed")
        ]
    );
    let rejections: Vec<_> = otel
        .events_named(event::REJECTION)
        .iter()
        .map(|e| e.span.clone())
        .collect();
    assert_eq!(rejections, ["pay#2", "pay#3"]);
    assert_eq!(
        otel.sum(
            metric::REJECTIONS,
            &[
                (semconv::SERVICETASK_NAME, "pay"),
                (semconv::SERVICETASK_REJECTION_REASON, "breaker_open")
            ]
        ),
        2.0
    );
    for (from, to) in [("closed", "open"), ("open", "half_open"), ("half_open", "closed")] {
        let filter = [
            (semconv::SERVICETASK_BREAKER_NAME, "pay"),
            (semconv::SERVICETASK_BREAKER_PREVIOUS_STATE, from),
            (semconv::SERVICETASK_BREAKER_STATE, to),
        ];
        assert_eq!(otel.sum(metric::BREAKER_TRANSITIONS, &filter), 1.0, "{from} -> {to}");
    }
    assert_eq!(otel.gauge_states("pay"), states(1.0, 0.0, 0.0));
}

#[tokio::test]
async fn business_errors_and_rejections_from_inside_never_count_as_failures() {
    let otel = Otel::new();
    let res = Resilience::builder().telemetry(otel.telemetry.clone()).build();
    let stack = layers(&TaskConfig::builder("t").breaker(config(4, 4, 1)).build(), &res);
    let task = Script::new([
        Step::Err(TaskError::business("E1", "rejected order")),
        Step::Err(TaskError::new(ErrorClass::BulkheadFull, "full")),
        Step::Err(TaskError::business("E1", "rejected order")),
        Step::Err(TaskError::business("E1", "rejected order")),
        Step::Err(TaskError::business("E1", "rejected order")),
    ]);
    for _ in 0..5 {
        let _ = run(&stack, &task, &otel.context("t", None)).await;
    }
    let b = res.breaker("t").unwrap();
    assert_eq!(b.state(), BreakerState::Closed);
    let w = b.window_totals();
    assert_eq!(
        (w.calls, w.failures),
        (4, 0),
        "4 business errors are successes; the rejection is not recorded"
    );
}

#[test]
fn manual_operations_are_transitions_with_telemetry() {
    let otel = Otel::new();
    let b = CircuitBreaker::new(
        "m",
        config(4, 4, 1),
        Arc::new(ManualClock::default()),
        otel.telemetry.clone(),
    );
    b.force_open();
    assert!(b.acquire(None).is_err());
    assert_eq!(otel.gauge_states("m")[2], ("forced_open".to_string(), 1.0));
    b.force_closed();
    for _ in 0..10 {
        b.acquire(None)
            .unwrap()
            .record(Some(ErrorClass::Network), Duration::ZERO);
    }
    assert_eq!(b.state(), BreakerState::ForcedClosed);
    assert_eq!(b.window_totals().calls, 0, "forced closed records nothing");
    b.reset();
    assert_eq!(b.state(), BreakerState::Closed);
    assert_eq!(b.transition_count(), 3);
    assert_eq!(
        otel.sum(metric::BREAKER_TRANSITIONS, &[(semconv::SERVICETASK_BREAKER_NAME, "m")]),
        3.0
    );
    assert_eq!(otel.gauge_states("m"), states(1.0, 0.0, 0.0));
}

// ---- reference model ----------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ModelTicket {
    epoch: u64,
    probe: bool,
}

/// A naive executable spec: keeps every call, recomputes windows from scratch, time in ms.
#[derive(Debug)]
struct Model {
    c: BreakerConfig,
    state: BreakerState,
    epoch: u64,
    since: u64,
    calls: Vec<(u64, bool, bool)>,
    issued: u32,
    probes: Vec<(bool, bool)>,
}

fn rate(part: usize, whole: usize) -> f64 {
    part as f64 * 100.0 / whole as f64
}

impl Model {
    fn new(c: BreakerConfig) -> Self {
        Model {
            c,
            state: BreakerState::Closed,
            epoch: 0,
            since: 0,
            calls: Vec::new(),
            issued: 0,
            probes: Vec::new(),
        }
    }

    fn enter(&mut self, to: BreakerState, now: u64) {
        self.epoch += 1;
        self.since = now;
        self.issued = 0;
        self.probes.clear();
        if matches!(to, BreakerState::Closed | BreakerState::Open) {
            self.calls.clear();
        }
        self.state = to;
    }

    fn window(&self, now: u64) -> (usize, usize, usize) {
        let in_window: Vec<_> = match self.c.window {
            WindowKind::CountBased => {
                let n = self.c.window_size as usize;
                self.calls.iter().rev().take(n).collect()
            }
            WindowKind::TimeBased => {
                let size = u64::from(self.c.window_size);
                let sec = now / 1000;
                self.calls.iter().filter(|(t, _, _)| t / 1000 + size > sec).collect()
            }
        };
        let f = in_window.iter().filter(|c| c.1).count();
        let s = in_window.iter().filter(|c| c.2).count();
        (in_window.len(), f, s)
    }

    fn trips(&self, n: usize, f: usize, s: usize) -> bool {
        rate(f, n) >= self.c.failure_rate_threshold || rate(s, n) >= self.c.slow_call_rate_threshold
    }

    fn expired(&self, now: u64) -> bool {
        self.state == BreakerState::HalfOpen
            && self
                .c
                .max_wait_in_half_open
                .is_some_and(|m| now - self.since >= m.as_millis() as u64)
    }

    fn acquire(&mut self, now: u64) -> Result<ModelTicket, u64> {
        if self.expired(now) {
            self.enter(BreakerState::Open, now);
        }
        let wait = self.c.wait_in_open.as_millis() as u64;
        match self.state {
            BreakerState::Closed | BreakerState::ForcedClosed => Ok(ModelTicket {
                epoch: self.epoch,
                probe: false,
            }),
            BreakerState::Open if now - self.since < wait => Err(wait - (now - self.since)),
            BreakerState::Open => {
                self.enter(BreakerState::HalfOpen, now);
                self.issued = 1;
                Ok(ModelTicket {
                    epoch: self.epoch,
                    probe: true,
                })
            }
            BreakerState::HalfOpen if self.issued < self.c.permitted_calls_in_half_open => {
                self.issued += 1;
                Ok(ModelTicket {
                    epoch: self.epoch,
                    probe: true,
                })
            }
            BreakerState::HalfOpen => Err(match self.c.max_wait_in_half_open {
                Some(m) => m.as_millis() as u64 - (now - self.since),
                None => wait,
            }),
            BreakerState::ForcedOpen => Err(wait),
        }
    }

    fn finish(&mut self, t: ModelTicket, outcome: Option<(bool, bool)>, now: u64) {
        if self.expired(now) {
            self.enter(BreakerState::Open, now);
            return;
        }
        if t.epoch != self.epoch {
            return;
        }
        match (self.state, outcome) {
            (BreakerState::Closed, Some((f, s))) => {
                self.calls.push((now, f, s));
                let (n, fs, ss) = self.window(now);
                let minimum = match self.c.window {
                    WindowKind::CountBased => self.c.minimum_calls.min(self.c.window_size),
                    WindowKind::TimeBased => self.c.minimum_calls,
                } as usize;
                if n >= minimum && self.trips(n, fs, ss) {
                    self.enter(BreakerState::Open, now);
                }
            }
            (BreakerState::HalfOpen, None) => self.issued -= 1,
            (BreakerState::HalfOpen, Some(o)) => {
                self.probes.push(o);
                if self.probes.len() as u32 >= self.c.permitted_calls_in_half_open {
                    let n = self.probes.len();
                    let f = self.probes.iter().filter(|p| p.0).count();
                    let s = self.probes.iter().filter(|p| p.1).count();
                    let to = if self.trips(n, f, s) {
                        BreakerState::Open
                    } else {
                        BreakerState::Closed
                    };
                    self.enter(to, now);
                }
            }
            _ => {}
        }
    }
}

#[derive(Debug, Clone)]
enum Op {
    Acquire,
    /// Finish the outstanding call `idx % len` with result kind `kind`.
    Finish(usize, u8),
    /// Drop the outstanding call without a result.
    Drop(usize),
    Advance(u64),
    ForceOpen,
    ForceClosed,
    Reset,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        30 => Just(Op::Acquire),
        30 => (any::<usize>(), 0u8..6).prop_map(|(i, k)| Op::Finish(i, k)),
        4 => any::<usize>().prop_map(Op::Drop),
        15 => prop_oneof![0u64..1_500, 1_000u64..12_000].prop_map(Op::Advance),
        1 => Just(Op::ForceOpen),
        1 => Just(Op::ForceClosed),
        2 => Just(Op::Reset),
    ]
}

fn breaker_config() -> impl Strategy<Value = BreakerConfig> {
    (
        prop_oneof![Just(WindowKind::CountBased), Just(WindowKind::TimeBased)],
        1u32..8,
        1u32..10,
        1u32..=100,
        1u32..=100,
        1u32..4,
        1u64..10,
        proptest::option::of(1u64..20),
    )
        .prop_map(
            |(window, size, minimum, fr, sr, probes, wait, max_wait)| BreakerConfig {
                window,
                window_size: size,
                minimum_calls: minimum,
                failure_rate_threshold: f64::from(fr),
                slow_call_rate_threshold: f64::from(sr),
                slow_call_duration: Duration::from_secs(1),
                permitted_calls_in_half_open: probes,
                wait_in_open: Duration::from_secs(wait),
                max_wait_in_half_open: max_wait.map(Duration::from_secs),
            },
        )
}

/// Result kinds: (class, slow) -> the model's (failure, slow) or None (not recorded).
fn kind(k: u8) -> (Option<ErrorClass>, bool, Option<(bool, bool)>) {
    match k {
        0 => (None, false, Some((false, false))),
        1 => (Some(ErrorClass::Network), false, Some((true, false))),
        2 => (Some(ErrorClass::Business), false, Some((false, false))),
        3 => (Some(ErrorClass::Cancelled), false, None),
        4 => (None, true, Some((false, true))),
        _ => (Some(ErrorClass::Timeout), true, Some((true, true))),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn the_breaker_matches_the_reference_model(c in breaker_config(), ops in proptest::collection::vec(op(), 1..120)) {
        let clock = Arc::new(ManualClock::default());
        let b = CircuitBreaker::new("p", c.clone(), clock.clone(), servicetask_core::Telemetry::disabled());
        let mut m = Model::new(c);
        let mut now = 0u64;
        let mut out = Vec::new();
        for op in ops {
            match op {
                Op::Acquire => {
                    let got = b.acquire(None);
                    let want = m.acquire(now);
                    match (got, want) {
                        (Ok(p), Ok(t)) => {
                            prop_assert_eq!(p.is_probe(), t.probe);
                            out.push((p, t));
                        }
                        (Err(e), Err(wait)) => prop_assert_eq!(e.retry_after(), Duration::from_millis(wait)),
                        (got, want) => prop_assert!(false, "acquire: breaker {:?}, model {:?}", got.map(|_| ()), want),
                    }
                }
                Op::Finish(i, k) if !out.is_empty() => {
                    let (p, t) = out.remove(i % out.len());
                    let (class, slow, outcome) = kind(k);
                    let elapsed = if slow { Duration::from_secs(2) } else { Duration::ZERO };
                    p.record(class, elapsed);
                    m.finish(t, outcome, now);
                }
                Op::Drop(i) if !out.is_empty() => {
                    let (p, t) = out.remove(i % out.len());
                    drop(p);
                    m.finish(t, None, now);
                }
                Op::Finish(..) | Op::Drop(_) => {}
                Op::Advance(ms) => {
                    clock.advance(Duration::from_millis(ms));
                    now += ms;
                }
                Op::ForceOpen => { b.force_open(); m.enter(BreakerState::ForcedOpen, now); }
                Op::ForceClosed => { b.force_closed(); m.enter(BreakerState::ForcedClosed, now); }
                Op::Reset => { b.reset(); m.enter(BreakerState::Closed, now); }
            }
            prop_assert_eq!(b.state(), m.state);
            if m.state == BreakerState::Closed {
                let w = b.window_totals();
                let (n, f, s) = m.window(now);
                prop_assert_eq!((w.calls as usize, w.failures as usize, w.slow as usize), (n, f, s));
            }
        }
    }
}

// ---- concurrency --------------------------------------------------------------------------

fn multi_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn concurrent_results_all_count() {
    let c = BreakerConfig {
        window_size: 100_000,
        minimum_calls: 100_000,
        ..BreakerConfig::default()
    };
    let b = Arc::new(CircuitBreaker::new(
        "s",
        c,
        Arc::new(ManualClock::default()),
        servicetask_core::Telemetry::disabled(),
    ));
    multi_thread().block_on(async {
        let handles: Vec<_> = (0..64)
            .map(|t| {
                let b = b.clone();
                tokio::spawn(async move {
                    for i in 0..500u32 {
                        let p = b.acquire(None).unwrap();
                        if i % 7 == 0 {
                            tokio::task::yield_now().await;
                        }
                        p.record(((t + i) % 3 == 0).then_some(ErrorClass::Network), Duration::ZERO);
                    }
                })
            })
            .collect();
        for h in handles {
            h.await.unwrap();
        }
    });
    let w = b.window_totals();
    let failures = (0..64u32)
        .flat_map(|t| (0..500u32).map(move |i| (t + i) % 3 == 0))
        .filter(|f| *f)
        .count();
    assert_eq!((w.calls, w.failures as usize), (32_000, failures));
    assert_eq!(b.state(), BreakerState::Closed);
}

#[test]
fn half_open_admits_exactly_the_permitted_probes_under_contention() {
    const TASKS: usize = 64;
    const PROBES: u32 = 5;
    let clock = Arc::new(ManualClock::default());
    let b = Arc::new(CircuitBreaker::new(
        "s",
        config(10, 10, PROBES),
        clock.clone(),
        servicetask_core::Telemetry::disabled(),
    ));
    let rt = multi_thread();
    for cycle in 0..20u32 {
        while b.state() == BreakerState::Closed {
            b.acquire(None)
                .unwrap()
                .record(Some(ErrorClass::Network), Duration::ZERO);
        }
        assert_eq!(b.state(), BreakerState::Open);
        clock.advance(Duration::from_secs(30));
        let admitted = Arc::new(AtomicU32::new(0));
        let rejected = Arc::new(AtomicU32::new(0));
        let all_asked = Arc::new(tokio::sync::Barrier::new(TASKS));
        let probes_fail = cycle % 3 == 2;
        rt.block_on(async {
            let handles: Vec<_> = (0..TASKS)
                .map(|_| {
                    let (b, admitted, rejected, all_asked) =
                        (b.clone(), admitted.clone(), rejected.clone(), all_asked.clone());
                    tokio::spawn(async move {
                        let permit = b.acquire(None);
                        match &permit {
                            Ok(p) => {
                                assert!(p.is_probe());
                                admitted.fetch_add(1, Ordering::SeqCst);
                            }
                            Err(_) => {
                                rejected.fetch_add(1, Ordering::SeqCst);
                            }
                        }
                        // Probes stay out until every task has asked.
                        all_asked.wait().await;
                        if let Ok(p) = permit {
                            p.record(probes_fail.then_some(ErrorClass::Timeout), Duration::ZERO);
                        }
                    })
                })
                .collect();
            for h in handles {
                h.await.unwrap();
            }
        });
        assert_eq!(admitted.load(Ordering::SeqCst), PROBES, "cycle {cycle}");
        assert_eq!(rejected.load(Ordering::SeqCst), TASKS as u32 - PROBES);
        let expected = if probes_fail {
            BreakerState::Open
        } else {
            BreakerState::Closed
        };
        assert_eq!(b.state(), expected, "cycle {cycle}");
        if probes_fail {
            b.reset();
        }
    }
}

#[test]
fn no_transition_is_lost_under_contention() {
    let otel = Otel::new();
    let clock = Arc::new(ManualClock::default());
    let c = BreakerConfig {
        window_size: 8,
        minimum_calls: 4,
        failure_rate_threshold: 50.0,
        permitted_calls_in_half_open: 2,
        wait_in_open: Duration::from_millis(50),
        max_wait_in_half_open: Some(Duration::from_millis(200)),
        ..BreakerConfig::default()
    };
    let b = Arc::new(CircuitBreaker::new("chaos", c, clock.clone(), otel.telemetry.clone()));
    let admitted = Arc::new(AtomicU64::new(0));
    let rejected = Arc::new(AtomicU64::new(0));
    multi_thread().block_on(async {
        let handles: Vec<_> = (0..32u64)
            .map(|t| {
                let (b, clock, admitted, rejected) = (b.clone(), clock.clone(), admitted.clone(), rejected.clone());
                tokio::spawn(async move {
                    let mut x = t.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
                    for _ in 0..2_000 {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        match b.acquire(None) {
                            Ok(p) => {
                                admitted.fetch_add(1, Ordering::Relaxed);
                                if x % 5 == 0 {
                                    tokio::task::yield_now().await;
                                }
                                match x % 10 {
                                    0..=4 => p.record(Some(ErrorClass::Network), Duration::ZERO),
                                    5 => drop(p),
                                    _ => p.record(None, Duration::ZERO),
                                }
                            }
                            Err(_) => {
                                rejected.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        if x % 16 == 0 {
                            clock.advance(Duration::from_millis(10));
                        }
                        if x % 4_001 == 0 {
                            b.reset();
                        }
                    }
                })
            })
            .collect();
        for h in handles {
            h.await.unwrap();
        }
    });
    assert_eq!(
        admitted.load(Ordering::Relaxed) + rejected.load(Ordering::Relaxed),
        64_000
    );
    let n = b.transition_count();
    assert!(n > 10, "the run should move the breaker around, saw {n}");
    // Every transition is in the counter, and they chain: for each state, entries minus exits
    // is 1 for the final state, -1 for closed (the start), 0 otherwise.
    let points: Vec<_> = otel
        .points()
        .into_iter()
        .filter(|(name, _, _)| name == metric::BREAKER_TRANSITIONS)
        .collect();
    let total: f64 = points.iter().map(|p| p.2).sum();
    assert_eq!(total as u64, n);
    let fin = b.state();
    for s in BreakerState::ALL {
        let count = |key: &str| -> f64 {
            points
                .iter()
                .filter(|(_, a, _)| support::attr(a, key).as_deref() == Some(s.as_str()))
                .map(|p| p.2)
                .sum()
        };
        let balance = count(semconv::SERVICETASK_BREAKER_STATE) - count(semconv::SERVICETASK_BREAKER_PREVIOUS_STATE);
        let expected = f64::from(u8::from(s == fin)) - f64::from(u8::from(s == BreakerState::Closed));
        assert_eq!(balance, expected, "{s}");
    }
    let gauge = otel.gauge_states("chaos");
    for (state, v) in gauge {
        assert_eq!(v, if state == fin.as_str() { 1.0 } else { 0.0 }, "{state}");
    }
}

// ---- timing rules through the layer, on tokio's paused clock ----------------------------------

#[tokio::test(start_paused = true)]
async fn calls_longer_than_the_slow_call_duration_open_the_breaker() {
    let otel = Otel::new();
    let res = Resilience::builder().telemetry(otel.telemetry.clone()).build();
    let c = BreakerConfig {
        window_size: 2,
        minimum_calls: 2,
        slow_call_duration: Duration::from_secs(1),
        slow_call_rate_threshold: 100.0,
        ..BreakerConfig::default()
    };
    let stack = layers(&TaskConfig::builder("s").breaker(c).build(), &res);
    let b = res.breaker("s").unwrap();
    // Exactly the slow-call duration is not slow.
    let at_limit = Script::new([Step::After(Duration::from_secs(1), Box::new(Step::Ok(1)))]);
    for _ in 0..2 {
        value(run(&stack, &at_limit, &otel.context("s", None)).await);
    }
    assert_eq!((b.state(), b.window_totals().slow), (BreakerState::Closed, 0));
    // A millisecond more is: two slow successes make a 100% slow-call rate.
    let slow = Script::new([Step::After(Duration::from_millis(1_001), Box::new(Step::Ok(1)))]);
    value(run(&stack, &slow, &otel.context("s", None)).await);
    assert_eq!(b.state(), BreakerState::Closed, "one slow call of two is 50%");
    value(run(&stack, &slow, &otel.context("s", None)).await);
    assert_eq!(b.state(), BreakerState::Open);
}

#[tokio::test(start_paused = true)]
async fn a_hung_probe_cannot_hold_half_open_past_its_maximum_wait() {
    let otel = Arc::new(Otel::new());
    let res = Arc::new(Resilience::builder().telemetry(otel.telemetry.clone()).build());
    let c = BreakerConfig {
        window_size: 1,
        minimum_calls: 1,
        permitted_calls_in_half_open: 1,
        wait_in_open: Duration::from_secs(10),
        max_wait_in_half_open: Some(Duration::from_secs(5)),
        ..BreakerConfig::default()
    };
    let stack = Arc::new(layers(&TaskConfig::builder("h").breaker(c).build(), &res));
    let b = res.breaker("h").unwrap();
    let failing = Script::new([Step::Err(TaskError::network("down"))]);
    assert!(run(&stack, &failing, &otel.context("h", None)).await.is_err());
    assert_eq!(b.state(), BreakerState::Open);

    tokio::time::advance(Duration::from_secs(10)).await;
    let hung = Arc::new(Script::new([Step::Hang]));
    let probe = {
        let (stack, hung, otel) = (stack.clone(), hung.clone(), otel.clone());
        tokio::spawn(async move { run(&stack, &*hung, &otel.context("h#probe", None)).await.is_ok() })
    };
    tokio::task::yield_now().await;
    assert_eq!((b.state(), hung.calls()), (BreakerState::HalfOpen, 1));

    let ok = Script::new([Step::Ok(1)]);
    tokio::time::advance(Duration::from_millis(4_999)).await;
    let e = run(&stack, &ok, &otel.context("h", None)).await.unwrap_err();
    assert_eq!(
        (e.class(), e.retry_after()),
        (ErrorClass::CircuitOpen, Some(Duration::from_millis(1)))
    );
    assert_eq!(b.state(), BreakerState::HalfOpen, "still waiting for the probe");

    tokio::time::advance(Duration::from_millis(1)).await;
    let e = run(&stack, &ok, &otel.context("h", None)).await.unwrap_err();
    assert_eq!(
        (e.class(), e.retry_after()),
        (ErrorClass::CircuitOpen, Some(Duration::from_secs(10)))
    );
    assert_eq!(b.state(), BreakerState::Open, "gave up on the hung probe");
    assert_eq!(ok.calls(), 0);
    probe.abort();
    assert!(probe.await.unwrap_err().is_cancelled());
    assert_eq!(b.state(), BreakerState::Open, "the cancelled probe's result is ignored");
}
