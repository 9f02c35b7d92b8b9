//! Backoff and jitter, the pure part of retrying: no I/O, no clock, a caller-supplied RNG.
//!
//! `ceiling(n) = min(cap, initial * multiplier^(n-1))` for the `n`-th retry (1-based), then:
//! - [`Jitter::Full`]: uniform in `[0, ceiling(n)]` (the AWS study's "full jitter");
//! - [`Jitter::Decorrelated`]: `min(cap, uniform(initial, max(initial, previous * 3)))`;
//! - [`Jitter::None`]: exactly `ceiling(n)`.
//!
//! A delay hint carried by the error (Retry-After) replaces the computed delay; the retry
//! layer then clamps whatever it chose to the remaining deadline.

use std::time::Duration;

use rand::Rng;
use servicetask_core::{Jitter, RetryConfig};

/// Exponential backoff with a cap and jitter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    initial: Duration,
    cap: Duration,
    multiplier: f64,
    jitter: Jitter,
}

impl Backoff {
    /// A backoff from the delays, multiplier and jitter of a retry policy.
    ///
    /// Out-of-range values are made safe rather than rejected (validation reports them): a
    /// multiplier below 1 or not finite counts as 1, a cap below the initial delay as the
    /// initial delay.
    pub fn new(config: &RetryConfig) -> Self {
        let multiplier = if config.multiplier.is_finite() && config.multiplier >= 1.0 {
            config.multiplier
        } else {
            1.0
        };
        Backoff {
            initial: config.initial_delay,
            cap: config.max_delay.max(config.initial_delay),
            multiplier,
            jitter: config.jitter,
        }
    }

    /// The initial delay (base).
    pub fn initial(&self) -> Duration {
        self.initial
    }

    /// The cap on every delay.
    pub fn cap(&self) -> Duration {
        self.cap
    }

    /// `min(cap, initial * multiplier^(retry-1))` for the `retry`-th retry (1-based; 0 acts as 1).
    pub fn ceiling(&self, retry: u32) -> Duration {
        let exp = retry.saturating_sub(1).min(i32::MAX as u32) as i32;
        let secs = self.initial.as_secs_f64() * self.multiplier.powi(exp);
        if !secs.is_finite() || secs >= self.cap.as_secs_f64() {
            self.cap
        } else {
            Duration::from_secs_f64(secs).min(self.cap)
        }
    }

    /// Inclusive bounds every delay of the `retry`-th retry falls in (given the previous delay
    /// for decorrelated jitter).
    pub fn bounds(&self, retry: u32, previous: Option<Duration>) -> (Duration, Duration) {
        match self.jitter {
            Jitter::Full => (Duration::ZERO, self.ceiling(retry)),
            Jitter::None => (self.ceiling(retry), self.ceiling(retry)),
            Jitter::Decorrelated => {
                let lo = self.initial.min(self.cap);
                let hi = self.decorrelated_upper(previous).min(self.cap);
                (lo, hi.max(lo))
            }
        }
    }

    fn decorrelated_upper(&self, previous: Option<Duration>) -> Duration {
        let prev = previous.unwrap_or(self.initial);
        prev.checked_mul(3).unwrap_or(Duration::MAX).max(self.initial)
    }

    /// The delay before the `retry`-th retry (1-based). `previous` is the delay chosen before
    /// the previous retry (decorrelated jitter builds on it; the others ignore it).
    pub fn delay<R: Rng + ?Sized>(&self, retry: u32, previous: Option<Duration>, rng: &mut R) -> Duration {
        match self.jitter {
            Jitter::None => self.ceiling(retry),
            Jitter::Full => uniform(rng, Duration::ZERO, self.ceiling(retry)),
            Jitter::Decorrelated => {
                let hi = self.decorrelated_upper(previous);
                uniform(rng, self.initial, hi).min(self.cap)
            }
        }
    }
}

/// Uniform in `[lo, hi]` at nanosecond resolution.
fn uniform<R: Rng + ?Sized>(rng: &mut R, lo: Duration, hi: Duration) -> Duration {
    if hi <= lo {
        return lo;
    }
    let lo_ns = u64::try_from(lo.as_nanos()).unwrap_or(u64::MAX);
    let hi_ns = u64::try_from(hi.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(rng.random_range(lo_ns..=hi_ns))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    fn cfg(initial_ms: u64, cap_ms: u64, multiplier: f64, jitter: Jitter) -> RetryConfig {
        RetryConfig {
            initial_delay: Duration::from_millis(initial_ms),
            max_delay: Duration::from_millis(cap_ms),
            multiplier,
            jitter,
            ..RetryConfig::default()
        }
    }

    #[test]
    fn ceiling_grows_exponentially_then_caps() {
        let b = Backoff::new(&cfg(100, 1000, 2.0, Jitter::None));
        let got: Vec<u64> = (1..=6).map(|n| b.ceiling(n).as_millis() as u64).collect();
        assert_eq!(got, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(b.ceiling(u32::MAX), Duration::from_millis(1000));
    }

    #[test]
    fn no_jitter_is_the_ceiling() {
        let b = Backoff::new(&cfg(50, 10_000, 3.0, Jitter::None));
        let mut rng = StdRng::seed_from_u64(1);
        assert_eq!(b.delay(3, None, &mut rng), Duration::from_millis(450));
    }

    #[test]
    fn full_jitter_is_deterministic_with_a_seed() {
        let b = Backoff::new(&cfg(100, 10_000, 2.0, Jitter::Full));
        let a: Vec<_> = {
            let mut rng = StdRng::seed_from_u64(7);
            (1..=5).map(|n| b.delay(n, None, &mut rng)).collect()
        };
        let again: Vec<_> = {
            let mut rng = StdRng::seed_from_u64(7);
            (1..=5).map(|n| b.delay(n, None, &mut rng)).collect()
        };
        assert_eq!(a, again);
        assert!(a.iter().zip(1..).all(|(d, n)| *d <= b.ceiling(n)));
    }

    #[test]
    fn bad_multiplier_and_cap_are_made_safe() {
        let b = Backoff::new(&cfg(100, 10, f64::NAN, Jitter::None));
        assert_eq!(b.cap(), Duration::from_millis(100));
        assert_eq!(b.ceiling(5), Duration::from_millis(100));
    }

    fn jitter() -> impl Strategy<Value = Jitter> {
        prop_oneof![Just(Jitter::Full), Just(Jitter::Decorrelated), Just(Jitter::None)]
    }

    proptest! {
        #[test]
        fn delays_stay_within_their_bounds(
            initial_ms in 0u64..5_000,
            cap_ms in 0u64..120_000,
            multiplier in 1.0f64..10.0,
            jitter in jitter(),
            seed in any::<u64>(),
            retries in 1u32..40,
        ) {
            let b = Backoff::new(&cfg(initial_ms, cap_ms, multiplier, jitter));
            let mut rng = StdRng::seed_from_u64(seed);
            let mut prev = None;
            for n in 1..=retries {
                let (lo, hi) = b.bounds(n, prev);
                let d = b.delay(n, prev, &mut rng);
                prop_assert!(lo <= d && d <= hi, "retry {n}: {d:?} not in [{lo:?}, {hi:?}]");
                prop_assert!(d <= b.cap());
                if jitter != Jitter::Decorrelated {
                    prop_assert!(d <= b.ceiling(n));
                    prop_assert!(b.ceiling(n) >= b.ceiling(n.saturating_sub(1).max(1)));
                } else {
                    prop_assert!(d >= b.initial().min(b.cap()));
                }
                prev = Some(d);
            }
        }
    }
}
