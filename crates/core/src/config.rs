//! Task configuration values: what a `#[service_task(...)]` attribute, the fluent builder,
//! `servicetask.toml` and environment variables set, in one vocabulary: the fields here. The
//! file's `retry.max_attempts` is `retry(max_attempts = ..)` in the attribute,
//! `.retry_max_attempts(..)` on the builder (a key's path joined by `_`, as the variables join
//! it by `__`) and `SERVICETASK__TASKS__<NAME>__RETRY__MAX_ATTEMPTS`.
//!
//! These are plain data with `Default`s; the runner turns them into pipeline layers. Layering
//! (defaults < code < file < environment) is done by the facade crate's config loader, which
//! deep-merges the serialised form, so every field here round-trips through serde and unknown
//! keys are rejected.
//!
//! ```
//! use std::time::Duration;
//! use servicetask_core::TaskConfig;
//! let c = TaskConfig::builder("resize")
//!     .retry_max_attempts(4)
//!     .timeout_total(Duration::from_secs(30))
//!     .build();
//! assert_eq!(c.retry.max_attempts, 4);
//! assert_eq!(c.timeout.total, Some(Duration::from_secs(30)));
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::ErrorClass;

/// Everything that shapes how one task runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TaskConfig {
    /// Task name: the span name and the `servicetask.name` attribute (keep it low-cardinality).
    pub name: String,
    /// Free-text description, shown by `servicetask tasks` and in the JSON Schema.
    pub description: Option<String>,
    /// Retry policy.
    pub retry: RetryConfig,
    /// Timeouts.
    pub timeout: TimeoutConfig,
    /// Circuit breaker for the task (`None`: no breaker).
    pub breaker: Option<BreakerConfig>,
    /// Bulkhead (`None`: unlimited concurrency).
    pub bulkhead: Option<BulkheadConfig>,
    /// Fallback values by error class.
    pub fallback: FallbackConfig,
    /// Resource and file tracking switches.
    pub tracking: TrackingConfig,
    /// Custom span attributes added to every execution span.
    pub attributes: BTreeMap<String, String>,
}

impl Default for TaskConfig {
    fn default() -> Self {
        TaskConfig {
            name: String::from("task"),
            description: None,
            retry: RetryConfig::default(),
            timeout: TimeoutConfig::default(),
            breaker: None,
            bulkhead: None,
            fallback: FallbackConfig::default(),
            tracking: TrackingConfig::default(),
            attributes: BTreeMap::new(),
        }
    }
}

impl TaskConfig {
    /// A configuration with defaults and the given name.
    pub fn named(name: impl Into<String>) -> Self {
        TaskConfig {
            name: name.into(),
            ..TaskConfig::default()
        }
    }

    /// Starts a fluent builder.
    pub fn builder(name: impl Into<String>) -> TaskConfigBuilder {
        TaskConfigBuilder {
            config: TaskConfig::named(name),
        }
    }
}

/// Fluent builder for [`TaskConfig`], for users who prefer no macros.
#[derive(Debug, Clone)]
#[must_use]
pub struct TaskConfigBuilder {
    config: TaskConfig,
}

impl TaskConfigBuilder {
    /// Replaces the whole retry policy (`[tasks.<name>.retry]`).
    pub fn retry(mut self, retry: RetryConfig) -> Self {
        self.config.retry = retry;
        self
    }
    /// `retry.max_attempts`: attempts in all, the first included (1 = no retry).
    pub fn retry_max_attempts(mut self, attempts: u32) -> Self {
        self.config.retry.max_attempts = attempts;
        self
    }
    /// `retry.initial_delay`: base delay before the first retry.
    pub fn retry_initial_delay(mut self, delay: Duration) -> Self {
        self.config.retry.initial_delay = delay;
        self
    }
    /// `retry.max_delay`: cap on any delay.
    pub fn retry_max_delay(mut self, delay: Duration) -> Self {
        self.config.retry.max_delay = delay;
        self
    }
    /// `retry.max_elapsed`: stop retrying once this much time has passed since the first attempt.
    pub fn retry_max_elapsed(mut self, elapsed: Duration) -> Self {
        self.config.retry.max_elapsed = Some(elapsed);
        self
    }
    /// `retry.multiplier`: the exponential factor.
    pub fn retry_multiplier(mut self, multiplier: f64) -> Self {
        self.config.retry.multiplier = multiplier;
        self
    }
    /// `retry.jitter`.
    pub fn retry_jitter(mut self, jitter: Jitter) -> Self {
        self.config.retry.jitter = jitter;
        self
    }
    /// `retry.mode`: in process or handed back to the engine.
    pub fn retry_mode(mut self, mode: RetryMode) -> Self {
        self.config.retry.mode = mode;
        self
    }
    /// `retry.retry_on`: the classes to retry.
    pub fn retry_on(mut self, classes: impl IntoIterator<Item = ErrorClass>) -> Self {
        self.config.retry.retry_on = Some(classes.into_iter().collect());
        self
    }
    /// `timeout.total`: time allowed for the execution, retries included.
    pub fn timeout_total(mut self, total: Duration) -> Self {
        self.config.timeout.total = Some(total);
        self
    }
    /// `timeout.attempt`: time allowed for one attempt.
    pub fn timeout_attempt(mut self, attempt: Duration) -> Self {
        self.config.timeout.attempt = Some(attempt);
        self
    }
    /// Retries after the first attempt (so `retries(3)` means up to 4 attempts).
    #[deprecated(note = "write `retry_max_attempts(n + 1)`: `retry.max_attempts`, as in servicetask.toml")]
    pub fn retries(self, retries: u32) -> Self {
        self.retry_max_attempts(retries.saturating_add(1))
    }
    /// Total time allowed for the execution, retries included.
    #[deprecated(note = "write `timeout_total(..)`: `timeout.total`, as in servicetask.toml")]
    pub fn timeout(self, total: Duration) -> Self {
        self.timeout_total(total)
    }
    /// Time allowed for one attempt.
    #[deprecated(note = "write `timeout_attempt(..)`: `timeout.attempt`, as in servicetask.toml")]
    pub fn attempt_timeout(self, attempt: Duration) -> Self {
        self.timeout_attempt(attempt)
    }
    /// Adds a circuit breaker (`[tasks.<name>.breaker]`).
    pub fn breaker(mut self, breaker: BreakerConfig) -> Self {
        self.config.breaker = Some(breaker);
        self
    }
    /// Adds a bulkhead (`[tasks.<name>.bulkhead]`).
    pub fn bulkhead(mut self, bulkhead: BulkheadConfig) -> Self {
        self.config.bulkhead = Some(bulkhead);
        self
    }
    /// `bulkhead.max_concurrent`: executions allowed at once (the other keys at their defaults).
    pub fn bulkhead_max_concurrent(mut self, max: u32) -> Self {
        self.config
            .bulkhead
            .get_or_insert_with(BulkheadConfig::default)
            .max_concurrent = max;
        self
    }
    /// Answers failures of `class` with a fixed JSON value.
    pub fn fallback_value(mut self, class: ErrorClass, value: serde_json::Value) -> Self {
        self.config.fallback.values.insert(class.as_str().to_string(), value);
        self
    }
    /// Answers failures of any class without a value of its own with a fixed JSON value (`*`).
    pub fn fallback_any(mut self, value: serde_json::Value) -> Self {
        self.config.fallback.values.insert("*".to_string(), value);
        self
    }
    /// Sets the tracking switches.
    pub fn tracking(mut self, tracking: TrackingConfig) -> Self {
        self.config.tracking = tracking;
        self
    }
    /// Adds a custom span attribute.
    pub fn attribute(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.config.attributes.insert(key.into(), value.into());
        self
    }
    /// Sets the description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.config.description = Some(description.into());
        self
    }
    /// Finishes the builder.
    pub fn build(self) -> TaskConfig {
        self.config
    }
}

/// How the delay before a retry is randomised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Jitter {
    /// Sleep uniformly in `[0, min(cap, base * factor^n)]` (the AWS study's "full jitter").
    #[default]
    Full,
    /// `min(cap, uniform(base, previous * 3))` (the AWS study's "decorrelated jitter").
    Decorrelated,
    /// No randomness: exactly `min(cap, base * factor^n)`.
    None,
}

/// Where retries happen once an attempt failed with a retryable class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum RetryMode {
    /// The runner sleeps and retries in process.
    #[default]
    InProcess,
    /// The runner returns the failure at once with the retries left and the suggested backoff,
    /// so the engine retries later (as Zeebe's FailJob does).
    Engine,
}

/// Retry policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryConfig {
    /// Attempts in all, the first included (1 = no retry).
    pub max_attempts: u32,
    /// Stop retrying once this much time has passed since the first attempt.
    #[serde(with = "humantime_serde")]
    pub max_elapsed: Option<Duration>,
    /// Base delay before the first retry.
    #[serde(with = "humantime_serde")]
    pub initial_delay: Duration,
    /// Cap on any delay.
    #[serde(with = "humantime_serde")]
    pub max_delay: Duration,
    /// Exponential factor.
    pub multiplier: f64,
    /// Randomisation.
    pub jitter: Jitter,
    /// Classes to retry; `None` means every class that is retryable by nature.
    pub retry_on: Option<Vec<ErrorClass>>,
    /// In process or handed back to the engine.
    pub mode: RetryMode,
    /// Optional retry budget shared by all executions of the task.
    pub budget: Option<RetryBudgetConfig>,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            max_attempts: 1,
            max_elapsed: None,
            initial_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(10),
            multiplier: 2.0,
            jitter: Jitter::Full,
            retry_on: None,
            mode: RetryMode::InProcess,
            budget: None,
        }
    }
}

impl RetryConfig {
    /// Whether `class` may be retried under this policy.
    pub fn retries_class(&self, class: ErrorClass) -> bool {
        match &self.retry_on {
            Some(list) => list.contains(&class) && class != ErrorClass::Business && class != ErrorClass::Validation,
            None => class.is_retryable(),
        }
    }
}

/// A retry budget: retries may be at most `ratio` of calls over `window`, plus a floor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryBudgetConfig {
    /// Allowed retries as a fraction of calls (0.2 = 20%).
    pub ratio: f64,
    /// Sliding window over which calls and retries are counted.
    #[serde(with = "humantime_serde")]
    pub window: Duration,
    /// Retries always allowed per second regardless of the ratio.
    pub min_per_second: u32,
}

impl Default for RetryBudgetConfig {
    fn default() -> Self {
        RetryBudgetConfig {
            ratio: 0.2,
            window: Duration::from_secs(10),
            min_per_second: 10,
        }
    }
}

/// Timeouts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct TimeoutConfig {
    /// Per attempt: a timed-out attempt is cancelled and counted as a timeout failure.
    #[serde(with = "humantime_serde")]
    pub attempt: Option<Duration>,
    /// For the whole execution, retries and their delays included.
    #[serde(with = "humantime_serde")]
    pub total: Option<Duration>,
}

/// Kind of sliding window a breaker judges over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum WindowKind {
    /// The last `window_size` calls.
    #[default]
    CountBased,
    /// The calls of the last `window_size` seconds.
    TimeBased,
}

/// Circuit breaker settings (resilience4j semantics).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BreakerConfig {
    /// Count- or time-based window.
    pub window: WindowKind,
    /// Calls (count-based) or seconds (time-based) in the window.
    pub window_size: u32,
    /// Failure rate (percent, 0-100) at or above which the breaker opens.
    pub failure_rate_threshold: f64,
    /// Slow-call rate (percent, 0-100) at or above which the breaker opens.
    pub slow_call_rate_threshold: f64,
    /// A call slower than this is slow.
    #[serde(with = "humantime_serde")]
    pub slow_call_duration: Duration,
    /// Calls needed in the window before rates are judged.
    pub minimum_calls: u32,
    /// Probes admitted in half-open.
    pub permitted_calls_in_half_open: u32,
    /// Time spent open before probing.
    #[serde(with = "humantime_serde")]
    pub wait_in_open: Duration,
    /// Longest time half-open waits for its probes before opening again (`None`: forever).
    #[serde(with = "humantime_serde")]
    pub max_wait_in_half_open: Option<Duration>,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            window: WindowKind::CountBased,
            window_size: 100,
            failure_rate_threshold: 50.0,
            slow_call_rate_threshold: 100.0,
            slow_call_duration: Duration::from_secs(60),
            minimum_calls: 100,
            permitted_calls_in_half_open: 10,
            wait_in_open: Duration::from_secs(60),
            max_wait_in_half_open: None,
        }
    }
}

/// Bulkhead: bounded concurrency with a bounded wait.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BulkheadConfig {
    /// Executions allowed at once.
    pub max_concurrent: u32,
    /// Longest wait for a slot before rejecting with `bulkhead_full`.
    #[serde(with = "humantime_serde")]
    pub max_wait: Duration,
}

impl Default for BulkheadConfig {
    fn default() -> Self {
        BulkheadConfig {
            max_concurrent: 25,
            max_wait: Duration::ZERO,
        }
    }
}

/// Fallback values by error class (`"timeout" = {...}`; `"*"` matches any class).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct FallbackConfig {
    /// Class name (or `*`) to the JSON output that answers in place of the task.
    pub values: BTreeMap<String, serde_json::Value>,
}

impl FallbackConfig {
    /// The value configured for `class`, falling back to `*`.
    pub fn value_for(&self, class: ErrorClass) -> Option<&serde_json::Value> {
        self.values.get(class.as_str()).or_else(|| self.values.get("*"))
    }
}

/// Which kinds of tracking run (each has a documented cost).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrackingConfig {
    /// Per-poll thread CPU time.
    pub cpu: bool,
    /// Memory, exact per execution when the counting allocator is installed.
    pub memory: bool,
    /// Without the counting allocator, read the process's resident memory at the start and end
    /// of each attempt (process-wide, labelled so). Off by default: two `/proc` reads cost
    /// several microseconds per execution.
    pub process_rss: bool,
    /// Per-thread block I/O counters.
    pub disk_io: bool,
    /// File operations through `cx.fs()` and input path inspection.
    pub files: bool,
    /// Dependency calls through `cx.dependency()`.
    pub dependencies: bool,
    /// Most file events recorded on one span; the rest are counted.
    pub max_file_events: u32,
}

impl Default for TrackingConfig {
    fn default() -> Self {
        TrackingConfig {
            cpu: true,
            memory: true,
            process_rss: false,
            disk_io: true,
            files: true,
            dependencies: true,
            max_file_events: 32,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_round_trips_through_json_with_human_durations() {
        let c = TaskConfig::builder("t")
            .retry_max_attempts(3)
            .timeout_attempt(Duration::from_millis(250))
            .breaker(BreakerConfig::default())
            .build();
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["timeout"]["attempt"], "250ms");
        let back: TaskConfig = serde_json::from_value(v).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let err = serde_json::from_str::<TaskConfig>(r#"{"retry": {"max_atempts": 3}}"#).unwrap_err();
        assert!(err.to_string().contains("max_atempts"), "{err}");
    }

    #[test]
    fn retry_on_never_admits_business_errors() {
        let r = RetryConfig {
            retry_on: Some(vec![ErrorClass::Business, ErrorClass::Timeout]),
            ..RetryConfig::default()
        };
        assert!(!r.retries_class(ErrorClass::Business));
        assert!(r.retries_class(ErrorClass::Timeout));
    }
}
