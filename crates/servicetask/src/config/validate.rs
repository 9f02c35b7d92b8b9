//! Range checks that serde cannot express: each problem as (key, what is allowed).

use servicetask_core::TaskConfig;

/// Checks value ranges; returns every problem as `(key, message)`.
pub fn validate(c: &TaskConfig) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut bad = |key: &str, msg: String| out.push((key.to_string(), msg));
    if c.name.trim().is_empty() {
        bad("name", "must not be empty".into());
    }
    if c.retry.max_attempts == 0 {
        bad(
            "retry.max_attempts",
            "0 is not allowed; use 1 for no retry, or more".into(),
        );
    }
    if !(c.retry.multiplier.is_finite() && c.retry.multiplier >= 1.0) {
        bad(
            "retry.multiplier",
            format!("{} is not allowed; use a number of at least 1.0", c.retry.multiplier),
        );
    }
    if c.retry.initial_delay > c.retry.max_delay {
        bad(
            "retry.initial_delay",
            "is larger than retry.max_delay; lower it or raise the cap".into(),
        );
    }
    if let Some(b) = &c.retry.budget {
        if !(0.0..=1.0).contains(&b.ratio) {
            bad(
                "retry.budget.ratio",
                format!("{} is out of range; use a fraction from 0 to 1", b.ratio),
            );
        }
        if b.window.is_zero() {
            bad("retry.budget.window", "must be longer than zero".into());
        }
    }
    if let Some(b) = &c.breaker {
        for (key, v) in [
            ("breaker.failure_rate_threshold", b.failure_rate_threshold),
            ("breaker.slow_call_rate_threshold", b.slow_call_rate_threshold),
        ] {
            if !(v > 0.0 && v <= 100.0) {
                bad(
                    key,
                    format!("{v} is out of range; use a percentage from 0 to 100 (above 0)"),
                );
            }
        }
        if b.window_size == 0 {
            bad("breaker.window_size", "must be at least 1".into());
        }
        if b.minimum_calls == 0 {
            bad("breaker.minimum_calls", "must be at least 1".into());
        }
        if b.permitted_calls_in_half_open == 0 {
            bad("breaker.permitted_calls_in_half_open", "must be at least 1".into());
        }
    }
    if let Some(b) = &c.bulkhead {
        if b.max_concurrent == 0 {
            bad("bulkhead.max_concurrent", "must be at least 1".into());
        }
    }
    for key in c.fallback.values.keys() {
        if key != "*" && servicetask_core::ErrorClass::parse(key).is_none() {
            let names: Vec<&str> = servicetask_core::ErrorClass::ALL.iter().map(|c| c.as_str()).collect();
            bad(
                &format!("fallback.values.{key}"),
                format!("'{key}' is not an error class; use one of: *, {}", names.join(", ")),
            );
        }
    }
    out
}
