//! Retrying a batch's failed items under a [`RetryConfig`] (the task's, usually): which
//! failures are tried again, and the delay before each try.
//!
//! An item failure is retried while its class is one the policy retries
//! ([`RetryConfig::retries_class`]) and the item has attempts left (`max_attempts`, the first
//! included). The delay before the `n`-th retry is drawn uniformly from `[0, min(max_delay,
//! initial_delay * multiplier^(n-1))]` ("full jitter"), or is that ceiling exactly with
//! `jitter = "none"`; the draw comes from a hash of the item's index and attempt, so items
//! that fail together spread out without a random number generator in this crate. Only
//! items are retried here: the execution's own retries stay the runner's.

use std::time::Duration;

use crate::config::{Jitter, RetryConfig};
use crate::error::TaskError;

/// The delay before retrying item `index` after its `attempt`-th attempt failed with
/// `error`, or `None` when the item is not retried.
pub(super) fn next(policy: &RetryConfig, index: u64, attempt: u32, error: &TaskError) -> Option<Duration> {
    if attempt >= policy.max_attempts || !policy.retries_class(error.class()) {
        return None;
    }
    let ceiling = ceiling(policy, attempt);
    let delay = match policy.jitter {
        Jitter::None => ceiling,
        Jitter::Full | Jitter::Decorrelated => {
            let unit = (mix(index ^ u64::from(attempt).rotate_left(40)) >> 11) as f64 / (1u64 << 53) as f64;
            ceiling.mul_f64(unit)
        }
    };
    // a hint from the failure itself (a rate limit's Retry-After) wins, within the cap
    Some(error.retry_after().map_or(delay, |hint| hint.min(policy.max_delay)))
}

/// `min(max_delay, initial_delay * multiplier^(retry-1))` for the `retry`-th retry.
fn ceiling(policy: &RetryConfig, retry: u32) -> Duration {
    let multiplier = if policy.multiplier.is_finite() && policy.multiplier >= 1.0 {
        policy.multiplier
    } else {
        1.0
    };
    let cap = policy.max_delay.max(policy.initial_delay);
    let secs = policy.initial_delay.as_secs_f64() * multiplier.powi(retry.saturating_sub(1).min(1024) as i32);
    if secs.is_finite() && secs < cap.as_secs_f64() {
        Duration::from_secs_f64(secs)
    } else {
        cap
    }
}

/// SplitMix64's finaliser: a well-spread 64-bit hash.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(attempts: u32, jitter: Jitter) -> RetryConfig {
        RetryConfig {
            max_attempts: attempts,
            initial_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(40),
            jitter,
            ..RetryConfig::default()
        }
    }

    #[test]
    fn retryable_failures_are_retried_while_attempts_are_left() {
        let p = policy(3, Jitter::None);
        let io = TaskError::new(crate::ErrorClass::Io, "disk busy");
        assert_eq!(next(&p, 0, 1, &io), Some(Duration::from_millis(10)));
        assert_eq!(next(&p, 0, 2, &io), Some(Duration::from_millis(20)));
        assert_eq!(next(&p, 0, 3, &io), None, "three attempts in all");
        assert_eq!(next(&p, 0, 1, &TaskError::validation("bad row")), None);
    }

    #[test]
    fn jittered_delays_stay_under_the_ceiling_and_spread() {
        let p = policy(10, Jitter::Full);
        let io = TaskError::new(crate::ErrorClass::Io, "disk busy");
        let delays: Vec<Duration> = (0..1000).map(|i| next(&p, i, 5, &io).unwrap()).collect();
        assert!(delays.iter().all(|d| *d <= Duration::from_millis(40)));
        let distinct: std::collections::HashSet<_> = delays.iter().collect();
        assert!(distinct.len() > 900, "{} distinct delays", distinct.len());
    }
}
