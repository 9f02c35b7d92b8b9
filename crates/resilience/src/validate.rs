//! Validation of the resilience values of a [`TaskConfig`]: every problem found, each naming
//! its key and what is allowed.
//!
//! ```
//! use servicetask_core::{BreakerConfig, TaskConfig};
//! let config = TaskConfig::builder("t")
//!     .breaker(BreakerConfig { failure_rate_threshold: 150.0, ..Default::default() })
//!     .build();
//! let problems = servicetask_resilience::validate(&config).unwrap_err();
//! assert_eq!(
//!     problems[0].to_string(),
//!     "breaker.failure_rate_threshold: 150 is out of range; use a percentage from 0 to 100"
//! );
//! ```

use std::fmt;
use std::time::Duration;

use servicetask_core::{BreakerConfig, BulkheadConfig, ErrorClass, RetryConfig, TaskConfig, WindowKind};

use crate::DependencyConfig;

/// One bad configuration value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    key: String,
    message: String,
}

impl ConfigProblem {
    fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigProblem {
            key: key.into(),
            message: message.into(),
        }
    }

    /// The dotted key, relative to the task (`breaker.window_size`); a loader may prefix it
    /// with `tasks.<name>.`.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// What is wrong and what is allowed.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

impl std::error::Error for ConfigProblem {}

/// Checks the retry, timeout, breaker, bulkhead and fallback values of `config`.
pub fn validate(config: &TaskConfig) -> Result<(), Vec<ConfigProblem>> {
    let mut p = Vec::new();
    check_retry(&config.retry, &mut p);
    check_timeouts(config, &mut p);
    if let Some(b) = &config.breaker {
        check_breaker("breaker", b, &mut p);
    }
    if let Some(b) = &config.bulkhead {
        check_bulkhead("bulkhead", b, &mut p);
    }
    for key in config.fallback.values.keys() {
        if key != "*" && ErrorClass::parse(key).is_none() {
            p.push(ConfigProblem::new(
                format!("fallback.values.{key}"),
                format!(
                    "'{key}' is not an error class; use one of {}, or * for any class",
                    class_list()
                ),
            ));
        }
    }
    if p.is_empty() {
        Ok(())
    } else {
        Err(p)
    }
}

/// Checks a dependency's breaker and bulkhead (keys under `dependencies.<name>.`).
pub fn validate_dependency(name: &str, config: &DependencyConfig) -> Result<(), Vec<ConfigProblem>> {
    let mut p = Vec::new();
    if let Some(b) = &config.breaker {
        check_breaker(&format!("dependencies.{name}.breaker"), b, &mut p);
    }
    if let Some(b) = &config.bulkhead {
        check_bulkhead(&format!("dependencies.{name}.bulkhead"), b, &mut p);
    }
    if p.is_empty() {
        Ok(())
    } else {
        Err(p)
    }
}

fn class_list() -> String {
    ErrorClass::ALL
        .iter()
        .map(|c| c.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn positive(key: &str, d: Duration, what: &str, p: &mut Vec<ConfigProblem>) {
    if d.is_zero() {
        p.push(ConfigProblem::new(
            key,
            format!("0s is not allowed; use a duration above zero ({what})"),
        ));
    }
}

fn check_retry(r: &RetryConfig, p: &mut Vec<ConfigProblem>) {
    if r.max_attempts == 0 {
        p.push(ConfigProblem::new(
            "retry.max_attempts",
            "0 is not allowed; it counts the first attempt, so use 1 for no retry",
        ));
    }
    if !(r.multiplier.is_finite() && r.multiplier >= 1.0) {
        p.push(ConfigProblem::new(
            "retry.multiplier",
            format!(
                "{} is out of range; use a number of at least 1 (2 doubles each delay)",
                r.multiplier
            ),
        ));
    }
    if r.max_delay < r.initial_delay {
        p.push(ConfigProblem::new(
            "retry.max_delay",
            format!(
                "{:?} is below retry.initial_delay ({:?}); use a cap at least as long as the first delay",
                r.max_delay, r.initial_delay
            ),
        ));
    }
    if let Some(m) = r.max_elapsed {
        positive("retry.max_elapsed", m, "or leave it unset for no limit", p);
    }
    if let Some(list) = &r.retry_on {
        for c in list {
            let why = match c {
                ErrorClass::Business => Some("business (BPMN) errors are never retried"),
                ErrorClass::Validation => Some("invalid input fails the same way every time"),
                ErrorClass::CircuitOpen | ErrorClass::BulkheadFull | ErrorClass::BudgetExhausted => {
                    Some("rejections are never retried in process; they go to the fallback or back to the engine")
                }
                _ => None,
            };
            if let Some(why) = why {
                p.push(ConfigProblem::new(
                    "retry.retry_on",
                    format!("'{c}' cannot be retried: {why}; remove it"),
                ));
            }
        }
    }
    if let Some(b) = &r.budget {
        if !(b.ratio.is_finite() && (0.0..=1.0).contains(&b.ratio)) {
            p.push(ConfigProblem::new(
                "retry.budget.ratio",
                format!(
                    "{} is out of range; use a fraction of calls from 0 to 1 (0.2 = 20%)",
                    b.ratio
                ),
            ));
        }
        if b.window < Duration::from_secs(1) {
            p.push(ConfigProblem::new(
                "retry.budget.window",
                format!("{:?} is too short; use at least 1s", b.window),
            ));
        }
    }
}

fn check_timeouts(c: &TaskConfig, p: &mut Vec<ConfigProblem>) {
    if let Some(a) = c.timeout.attempt {
        positive("timeout.attempt", a, "or leave it unset for no limit", p);
    }
    if let Some(t) = c.timeout.total {
        positive("timeout.total", t, "or leave it unset for no limit", p);
        if let Some(a) = c.timeout.attempt {
            if a > t {
                p.push(ConfigProblem::new(
                    "timeout.attempt",
                    format!(
                        "{a:?} is longer than timeout.total ({t:?}); use an attempt timeout no longer than the total"
                    ),
                ));
            }
        }
    }
}

fn percentage(key: String, v: f64, p: &mut Vec<ConfigProblem>) {
    if !(0.0..=100.0).contains(&v) {
        p.push(ConfigProblem::new(
            key,
            format!("{v} is out of range; use a percentage from 0 to 100"),
        ));
    } else if v == 0.0 {
        p.push(ConfigProblem::new(
            key,
            "0 would open the breaker on every judged window; use a percentage above 0, at most 100",
        ));
    }
}

fn check_breaker(prefix: &str, b: &BreakerConfig, p: &mut Vec<ConfigProblem>) {
    let k = |name: &str| format!("{prefix}.{name}");
    percentage(k("failure_rate_threshold"), b.failure_rate_threshold, p);
    percentage(k("slow_call_rate_threshold"), b.slow_call_rate_threshold, p);
    if b.window_size == 0 {
        let unit = match b.window {
            WindowKind::CountBased => "calls",
            WindowKind::TimeBased => "seconds",
        };
        p.push(ConfigProblem::new(
            k("window_size"),
            format!("0 is not allowed; use at least 1 ({unit} in the window)"),
        ));
    }
    if b.minimum_calls == 0 {
        p.push(ConfigProblem::new(
            k("minimum_calls"),
            "0 is not allowed; use at least 1 call before the breaker judges",
        ));
    } else if b.window == WindowKind::CountBased && b.window_size > 0 && b.minimum_calls > b.window_size {
        p.push(ConfigProblem::new(
            k("minimum_calls"),
            format!(
                "{} is more than window_size ({}); a count-based window never holds more calls than its size, use at most {}",
                b.minimum_calls, b.window_size, b.window_size
            ),
        ));
    }
    if b.permitted_calls_in_half_open == 0 {
        p.push(ConfigProblem::new(
            k("permitted_calls_in_half_open"),
            "0 is not allowed; use at least 1 probe, or the breaker could never close again",
        ));
    }
    positive(&k("wait_in_open"), b.wait_in_open, "the time open before probing", p);
    positive(
        &k("slow_call_duration"),
        b.slow_call_duration,
        "a call longer than this is slow",
        p,
    );
    if let Some(m) = b.max_wait_in_half_open {
        positive(
            &k("max_wait_in_half_open"),
            m,
            "or leave it unset to wait for the probes",
            p,
        );
    }
}

fn check_bulkhead(prefix: &str, b: &BulkheadConfig, p: &mut Vec<ConfigProblem>) {
    if b.max_concurrent == 0 {
        p.push(ConfigProblem::new(
            format!("{prefix}.max_concurrent"),
            "0 is not allowed; use at least 1 concurrent execution, or remove the bulkhead",
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use servicetask_core::{RetryBudgetConfig, TimeoutConfig};

    fn keys(c: &TaskConfig) -> Vec<String> {
        validate(c).unwrap_err().iter().map(|p| p.key().to_string()).collect()
    }

    #[test]
    fn defaults_are_valid() {
        let c = TaskConfig::builder("t")
            .breaker(BreakerConfig::default())
            .bulkhead(BulkheadConfig::default())
            .build();
        assert_eq!(validate(&c), Ok(()));
    }

    #[test]
    fn reports_every_problem_with_its_key() {
        let c = TaskConfig {
            retry: RetryConfig {
                max_attempts: 0,
                multiplier: 0.5,
                initial_delay: Duration::from_secs(2),
                max_delay: Duration::from_secs(1),
                retry_on: Some(vec![ErrorClass::Business, ErrorClass::Network]),
                budget: Some(RetryBudgetConfig {
                    ratio: 2.0,
                    ..Default::default()
                }),
                ..Default::default()
            },
            timeout: TimeoutConfig {
                attempt: Some(Duration::from_secs(10)),
                total: Some(Duration::from_secs(5)),
            },
            breaker: Some(BreakerConfig {
                failure_rate_threshold: 150.0,
                slow_call_rate_threshold: -1.0,
                window_size: 10,
                minimum_calls: 20,
                permitted_calls_in_half_open: 0,
                wait_in_open: Duration::ZERO,
                ..Default::default()
            }),
            bulkhead: Some(BulkheadConfig {
                max_concurrent: 0,
                ..Default::default()
            }),
            ..TaskConfig::builder("t")
                .fallback_value(ErrorClass::Timeout, serde_json::json!(1))
                .build()
        };
        let mut c = c;
        c.fallback.values.insert("timout".into(), serde_json::json!(0));
        assert_eq!(
            keys(&c),
            [
                "retry.max_attempts",
                "retry.multiplier",
                "retry.max_delay",
                "retry.retry_on",
                "retry.budget.ratio",
                "timeout.attempt",
                "breaker.failure_rate_threshold",
                "breaker.slow_call_rate_threshold",
                "breaker.minimum_calls",
                "breaker.permitted_calls_in_half_open",
                "breaker.wait_in_open",
                "bulkhead.max_concurrent",
                "fallback.values.timout",
            ]
        );
        let text: Vec<String> = validate(&c).unwrap_err().iter().map(ToString::to_string).collect();
        assert!(text.contains(
            &"breaker.failure_rate_threshold: 150 is out of range; use a percentage from 0 to 100".to_string()
        ));
        assert!(text.iter().any(|t| t
            .starts_with("fallback.values.timout: 'timout' is not an error class; use one of validation, not_found")));
        assert!(text.iter().any(|t| t.contains("'business' cannot be retried")));
    }

    #[test]
    fn dependency_keys_are_prefixed() {
        let d = DependencyConfig {
            breaker: Some(BreakerConfig {
                window_size: 0,
                ..Default::default()
            }),
            bulkhead: None,
        };
        let p = validate_dependency("payments", &d).unwrap_err();
        assert_eq!(
            p[0].to_string(),
            "dependencies.payments.breaker.window_size: 0 is not allowed; use at least 1 (calls in the window)"
        );
    }

    #[test]
    fn a_loaded_file_section_gets_the_same_messages() {
        // What `[tasks.t]` in servicetask.toml deserialises to, once merged by the loader.
        let c: TaskConfig = serde_json::from_value(serde_json::json!({
            "name": "t",
            "retry": { "max_attempts": 3, "initial_delay": "2s", "max_delay": "500ms" },
            "timeout": { "attempt": "0s" },
            "breaker": { "window": "time_based", "window_size": 60, "failure_rate_threshold": 150.0 }
        }))
        .unwrap();
        let text: Vec<String> = validate(&c).unwrap_err().iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            [
                "retry.max_delay: 500ms is below retry.initial_delay (2s); use a cap at least as long as the first delay",
                "timeout.attempt: 0s is not allowed; use a duration above zero (or leave it unset for no limit)",
                "breaker.failure_rate_threshold: 150 is out of range; use a percentage from 0 to 100",
            ]
        );
    }
}
