//! Patterns over dependencies, as the report has them for files: per dependency, how many
//! runs call it and how often, how many calls fail and with which error classes, how long the
//! calls take and what share of the calling runs' time that is, and the network bytes; then
//! the [`findings`]: a dependency that is slow, flaky, or called many times per execution (a
//! candidate for batching or caching).
//!
//! Pure functions over [`ExecutionRecord`]s; the recommendation rules and the report use them.
//!
//! ```
//! use servicetask_analytics::dependencies::{dependency_patterns, findings, DependencyThresholds, Finding};
//! use servicetask_core::record::{DependencyUse, ExecutionRecord, OutcomeKind};
//! let runs: Vec<ExecutionRecord> = (0..30)
//!     .map(|i| {
//!         let mut r = ExecutionRecord::new("sync", i, 1_000_000_000, OutcomeKind::Complete);
//!         r.dependencies.push(DependencyUse { calls: 40, total_ns: 200_000_000, ..DependencyUse::named("crm") });
//!         r
//!     })
//!     .collect();
//! let refs: Vec<&ExecutionRecord> = runs.iter().collect();
//! let p = dependency_patterns(&refs);
//! assert_eq!(p[0].calls_per_run(), 40.0);
//! let f = findings(&p[0], &DependencyThresholds::default());
//! assert!(matches!(f[0], Finding::Chatty { .. }));
//! ```

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use servicetask_core::record::{DependencyUse, ExecutionRecord};

/// What the executions did with one dependency.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DependencyPattern {
    /// The dependency's name (`peer.service`; the HTTP client's host name).
    pub name: String,
    /// Executions that called it.
    pub runs: u64,
    /// Calls made (rejected ones included).
    pub calls: u64,
    /// Calls that failed.
    pub failures: u64,
    /// Failed calls by error class.
    pub errors: BTreeMap<String, u64>,
    /// Time spent in calls, nanoseconds.
    pub call_ns: u64,
    /// Wall-clock time of the executions that called it, nanoseconds.
    pub run_ns: u64,
    /// Request body bytes sent.
    pub bytes_sent: u64,
    /// Response body bytes received.
    pub bytes_received: u64,
    /// Most calls made by one execution.
    pub max_calls_per_run: u64,
}

impl DependencyPattern {
    /// Totals with only the name set.
    pub fn named(name: impl Into<String>) -> Self {
        DependencyPattern {
            name: name.into(),
            ..DependencyPattern::default()
        }
    }

    /// Adds one execution's use of the dependency (`run_ns`: that execution's duration).
    pub fn add(&mut self, d: &DependencyUse, run_ns: u64) {
        self.runs += 1;
        self.calls += u64::from(d.calls);
        self.failures += u64::from(d.failures);
        for (class, n) in &d.errors {
            *self.errors.entry(class.clone()).or_default() += u64::from(*n);
        }
        self.call_ns = self.call_ns.saturating_add(d.total_ns);
        self.run_ns = self.run_ns.saturating_add(run_ns);
        self.bytes_sent = self.bytes_sent.saturating_add(d.bytes_sent);
        self.bytes_received = self.bytes_received.saturating_add(d.bytes_received);
        self.max_calls_per_run = self.max_calls_per_run.max(u64::from(d.calls));
    }

    /// Mean calls per calling execution.
    pub fn calls_per_run(&self) -> f64 {
        self.calls as f64 / self.runs.max(1) as f64
    }

    /// Share of calls that failed.
    pub fn failure_rate(&self) -> f64 {
        self.failures as f64 / self.calls.max(1) as f64
    }

    /// Mean duration of a call, seconds.
    pub fn mean_call_secs(&self) -> f64 {
        self.call_ns as f64 / 1e9 / self.calls.max(1) as f64
    }

    /// Share of the calling executions' time spent in calls to it (calls made concurrently can
    /// take it above 1).
    pub fn time_share(&self) -> f64 {
        self.call_ns as f64 / self.run_ns.max(1) as f64
    }

    /// The error class of most failed calls, if any failed.
    pub fn top_error(&self) -> Option<&str> {
        self.errors
            .iter()
            .max_by_key(|&(c, n)| (*n, std::cmp::Reverse(c)))
            .map(|(c, _)| c.as_str())
    }
}

/// A dependency as the report lists it: its pattern and what it shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DependencyRow {
    /// The totals.
    pub pattern: DependencyPattern,
    /// Slow, flaky or chatty, under the default thresholds.
    pub findings: Vec<Finding>,
}

impl DependencyRow {
    /// The row of `pattern`, with its findings under `thresholds`.
    pub fn new(pattern: DependencyPattern, thresholds: &DependencyThresholds) -> Self {
        let findings = findings(&pattern, thresholds);
        DependencyRow { pattern, findings }
    }
}

/// Per-dependency patterns of `records`, most called first.
pub fn dependency_patterns(records: &[&ExecutionRecord]) -> Vec<DependencyPattern> {
    let mut map: HashMap<&str, DependencyPattern> = HashMap::new();
    for r in records {
        for d in &r.dependencies {
            map.entry(d.name.as_str())
                .or_insert_with(|| DependencyPattern::named(d.name.as_str()))
                .add(d, r.duration_ns);
        }
    }
    let mut v: Vec<DependencyPattern> = map.into_values().collect();
    sort_patterns(&mut v);
    v
}

/// Most called first, then by name.
pub fn sort_patterns(v: &mut [DependencyPattern]) {
    v.sort_by(|a, b| b.calls.cmp(&a.calls).then_with(|| a.name.cmp(&b.name)));
}

/// When a dependency is called slow, flaky or chatty.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DependencyThresholds {
    /// Fewest calling executions before any finding.
    pub min_runs: u64,
    /// Slow: at least this share of the calling executions' time is spent in its calls...
    pub slow_time_share: f64,
    /// ... and its mean call takes at least this long, seconds.
    pub slow_mean_call_secs: f64,
    /// Flaky: at least this share of its calls fail...
    pub flaky_failure_rate: f64,
    /// ... over at least this many calls.
    pub flaky_min_calls: u64,
    /// Chatty: at least this many calls per calling execution on average.
    pub chatty_calls_per_run: f64,
}

impl Default for DependencyThresholds {
    fn default() -> Self {
        DependencyThresholds {
            min_runs: 20,
            slow_time_share: 0.5,
            slow_mean_call_secs: 0.1,
            flaky_failure_rate: 0.05,
            flaky_min_calls: 50,
            chatty_calls_per_run: 10.0,
        }
    }
}

/// Something a dependency's pattern shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Finding {
    /// Its calls take much of the executions' time.
    Slow {
        /// Share of the calling executions' time in its calls.
        time_share: f64,
        /// Mean call, seconds.
        mean_call_secs: f64,
    },
    /// Many of its calls fail.
    Flaky {
        /// Share of calls that failed.
        failure_rate: f64,
        /// The error class of most failures.
        top_error: String,
    },
    /// It is called many times per execution: a candidate for batching or caching.
    Chatty {
        /// Mean calls per calling execution.
        calls_per_run: f64,
        /// Most calls in one execution.
        max_calls_per_run: u64,
    },
}

impl Finding {
    /// `slow`, `flaky` or `chatty`.
    pub fn label(&self) -> &'static str {
        match self {
            Finding::Slow { .. } => "slow",
            Finding::Flaky { .. } => "flaky",
            Finding::Chatty { .. } => "chatty",
        }
    }

    /// What was seen and what to do, naming the dependency `name`.
    pub fn advice(&self, name: &str) -> String {
        match self {
            Finding::Slow {
                time_share,
                mean_call_secs,
            } => format!(
                "dependency '{name}' takes {:.0}% of the time of the runs that call it ({:.3} s per call): \
                 cache its answers, call it concurrently, or ask its owners about its latency",
                time_share * 100.0,
                mean_call_secs
            ),
            Finding::Flaky {
                failure_rate,
                top_error,
            } => format!(
                "{:.0}% of the calls to dependency '{name}' fail, mostly with '{top_error}': \
                 give it a retry policy and a circuit breaker in [dependencies.{name}], and a fallback",
                failure_rate * 100.0
            ),
            Finding::Chatty {
                calls_per_run,
                max_calls_per_run,
            } => format!(
                "dependency '{name}' is called {calls_per_run:.1} times per run (up to {max_calls_per_run}): \
                 batch the calls or cache the answers"
            ),
        }
    }
}

/// The findings of one dependency's pattern (none below `min_runs` calling executions).
pub fn findings(p: &DependencyPattern, t: &DependencyThresholds) -> Vec<Finding> {
    let mut out = Vec::new();
    if p.runs < t.min_runs {
        return out;
    }
    if p.time_share() >= t.slow_time_share && p.mean_call_secs() >= t.slow_mean_call_secs {
        out.push(Finding::Slow {
            time_share: p.time_share(),
            mean_call_secs: p.mean_call_secs(),
        });
    }
    if p.calls >= t.flaky_min_calls && p.failure_rate() >= t.flaky_failure_rate {
        out.push(Finding::Flaky {
            failure_rate: p.failure_rate(),
            top_error: p.top_error().unwrap_or("unclassified").to_string(),
        });
    }
    if p.calls_per_run() >= t.chatty_calls_per_run {
        out.push(Finding::Chatty {
            calls_per_run: p.calls_per_run(),
            max_calls_per_run: p.max_calls_per_run,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use servicetask_core::record::OutcomeKind;

    fn run(dur_ms: u64, uses: &[DependencyUse]) -> ExecutionRecord {
        let mut r = ExecutionRecord::new("t", 0, dur_ms * 1_000_000, OutcomeKind::Complete);
        r.dependencies = uses.to_vec();
        r
    }

    fn dep(name: &str, calls: u32, failures: u32, ms: u64) -> DependencyUse {
        let mut d = DependencyUse {
            calls,
            failures,
            total_ns: ms * 1_000_000,
            bytes_sent: 10,
            bytes_received: 100,
            ..DependencyUse::named(name)
        };
        if failures > 0 {
            d.errors.insert("network".into(), failures);
        }
        d
    }

    fn patterns(runs: &[ExecutionRecord]) -> Vec<DependencyPattern> {
        dependency_patterns(&runs.iter().collect::<Vec<_>>())
    }

    #[test]
    fn totals_are_summed_per_dependency() {
        let runs = vec![
            run(100, &[dep("a", 2, 1, 10), dep("b", 1, 0, 5)]),
            run(300, &[dep("a", 4, 0, 30)]),
        ];
        let p = patterns(&runs);
        assert_eq!(p[0].name, "a");
        assert_eq!((p[0].runs, p[0].calls, p[0].failures), (2, 6, 1));
        assert_eq!((p[0].call_ns, p[0].run_ns), (40_000_000, 400_000_000));
        assert_eq!((p[0].bytes_sent, p[0].bytes_received), (20, 200));
        assert_eq!(p[0].max_calls_per_run, 4);
        assert_eq!(p[0].errors["network"], 1);
        assert!((p[0].time_share() - 0.1).abs() < 1e-12);
        assert_eq!(p[1].name, "b");
    }

    #[test]
    fn each_finding_fires_at_its_threshold_and_not_below() {
        let t = DependencyThresholds::default();
        // slow: 60% of the run in calls of 300 ms
        let slow: Vec<_> = (0..20).map(|_| run(1000, &[dep("db", 2, 0, 600)])).collect();
        let f = findings(&patterns(&slow)[0], &t);
        assert_eq!(f.len(), 1);
        assert!(matches!(f[0], Finding::Slow { .. }), "{f:?}");
        // a large share of short calls is not slow
        let quick: Vec<_> = (0..20).map(|_| run(10, &[dep("db", 2, 0, 6)])).collect();
        assert!(findings(&patterns(&quick)[0], &t).is_empty());
        // flaky: 10% of 60 calls fail
        let flaky: Vec<_> = (0..20)
            .map(|i| run(1000, &[dep("api", 3, u32::from(i % 10 < 2), 3)]))
            .collect();
        let f = findings(&patterns(&flaky)[0], &t);
        assert_eq!(
            f,
            vec![Finding::Flaky {
                failure_rate: 4.0 / 60.0,
                top_error: "network".into()
            }]
        );
        // chatty: 10 calls per run
        let chatty: Vec<_> = (0..20).map(|_| run(1000, &[dep("crm", 10, 0, 10)])).collect();
        let f = findings(&patterns(&chatty)[0], &t);
        assert!(matches!(f[0], Finding::Chatty { calls_per_run, .. } if calls_per_run == 10.0));
        let nine: Vec<_> = (0..20).map(|_| run(1000, &[dep("crm", 9, 0, 10)])).collect();
        assert!(findings(&patterns(&nine)[0], &t).is_empty());
        // too few runs: nothing
        assert!(findings(&patterns(&chatty[..19])[0], &t).is_empty());
    }

    #[test]
    fn advice_names_the_dependency_and_the_remedy() {
        let f = Finding::Chatty {
            calls_per_run: 12.5,
            max_calls_per_run: 40,
        };
        let a = f.advice("crm");
        assert!(a.contains("'crm'") && a.contains("12.5") && a.contains("batch"), "{a}");
        let f = Finding::Flaky {
            failure_rate: 0.2,
            top_error: "timeout".into(),
        };
        assert!(f.advice("pay").contains("[dependencies.pay]"));
    }
}
