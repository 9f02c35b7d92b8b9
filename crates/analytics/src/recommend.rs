//! Rules over the history that tell an operator what to do.
//!
//! [`recommend`] looks at a slice of records (any tasks, any order) and, optionally, the timeouts
//! configured per task, and returns [`Recommendation`]s:
//!
//! | rule | fires when |
//! |---|---|
//! | [`RecommendationKind::FlakyDependency`] | a task is retried in at least 10% of its runs (min. 20 runs) and one dependency has failures in at least half of the retried runs |
//! | [`RecommendationKind::CacheFile`] | a file is read in at least 90% of a task's runs (min. 20 runs) and no run writes it |
//! | [`RecommendationKind::TimeoutBelowP99`] | the configured timeout is below the task's p99 duration, or below the upper bound of the duration predicted for its p99 input size |
//! | [`RecommendationKind::SuperlinearMemory`] | peak memory grows faster than linearly with input size (size model class above `O(n)`, min. 30 runs over a 4× size range) |
//! | [`RecommendationKind::FrequentFailures`] | at least 20% of a task's runs fail (min. 20 runs) |
//! | [`RecommendationKind::FlakyDependency`] (by calls) | at least 5% of a task's calls to a dependency fail (min. 20 runs, 50 calls), when the retry rule above did not already name it |
//! | [`RecommendationKind::SlowDependency`] | a dependency's calls take at least half of the time of the task's runs that call it, at 0.1 s or more per call (min. 20 runs) |
//! | [`RecommendationKind::ChattyDependency`] | a task calls a dependency at least 10 times per run on average (min. 20 runs): batch or cache |
//!
//! The dependency rules are [`crate::dependencies::findings`] over the task's runs, with
//! [`DependencyThresholds::default`].
//!
//! ```
//! use servicetask_analytics::recommend::{recommend, RecommendationKind};
//! use servicetask_core::record::{ExecutionRecord, OutcomeKind};
//! let recs: Vec<_> = (0..50)
//!     .map(|i| ExecutionRecord::new("t", i, if i % 10 == 0 { 9_000_000_000 } else { 1_000_000_000 }, OutcomeKind::Complete))
//!     .collect();
//! let timeouts = [("t".to_string(), std::time::Duration::from_secs(5))].into_iter().collect();
//! let r = recommend(&recs, &timeouts);
//! assert!(r.iter().any(|r| r.kind == RecommendationKind::TimeoutBelowP99));
//! ```

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use servicetask_core::record::{ExecutionRecord, FileAccessKind, OutcomeKind};

use crate::dependencies::{dependency_patterns, findings, DependencyThresholds, Finding};
use crate::percentiles::exact_percentiles;
use crate::predict::SizeModel;

/// What kind of advice a recommendation gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RecommendationKind {
    /// A dependency makes the task retry often.
    FlakyDependency,
    /// A file read on (nearly) every run could be cached.
    CacheFile,
    /// The configured timeout is below the predicted p99 duration.
    TimeoutBelowP99,
    /// Memory grows with input faster than linearly.
    SuperlinearMemory,
    /// The task fails often.
    FrequentFailures,
    /// A dependency takes much of the task's time.
    SlowDependency,
    /// A dependency is called many times per run: batch the calls or cache the answers.
    ChattyDependency,
}

/// One piece of advice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    /// The task concerned.
    pub task: String,
    /// The rule that fired.
    pub kind: RecommendationKind,
    /// What was seen and what to do, in one or two sentences.
    pub message: String,
}

const MIN_RUNS: usize = 20;

/// Applies every rule; see the module docs. `timeouts` maps task names to configured timeouts.
pub fn recommend(records: &[ExecutionRecord], timeouts: &HashMap<String, Duration>) -> Vec<Recommendation> {
    let refs: Vec<&ExecutionRecord> = records.iter().collect();
    recommend_refs(&refs, timeouts)
}

/// [`recommend`] over borrowed records (no copy of the history).
pub fn recommend_refs(records: &[&ExecutionRecord], timeouts: &HashMap<String, Duration>) -> Vec<Recommendation> {
    let mut by_task: BTreeMap<&str, Vec<&ExecutionRecord>> = BTreeMap::new();
    for &r in records {
        by_task.entry(r.task.as_str()).or_default().push(r);
    }
    let mut out = Vec::new();
    for (task, runs) in by_task {
        let named = flaky_dependency(task, &runs, &mut out);
        dependency_rules(task, &runs, named.as_deref(), &mut out);
        cache_file(task, &runs, &mut out);
        if let Some(t) = timeouts.get(task) {
            timeout_below_p99(task, &runs, *t, &mut out);
        }
        superlinear_memory(task, &runs, &mut out);
        frequent_failures(task, &runs, &mut out);
    }
    out
}

fn pct(x: f64) -> String {
    format!("{:.0}%", x * 100.0)
}

/// The retry-based flaky rule; returns the dependency it named, if any.
fn flaky_dependency(task: &str, runs: &[&ExecutionRecord], out: &mut Vec<Recommendation>) -> Option<String> {
    if runs.len() < MIN_RUNS {
        return None;
    }
    let retried: Vec<&&ExecutionRecord> = runs.iter().filter(|r| r.attempts > 1).collect();
    let rate = retried.len() as f64 / runs.len() as f64;
    if rate < 0.10 {
        return None;
    }
    let mut blame: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &retried {
        for d in &r.dependencies {
            if d.failures > 0 {
                *blame.entry(d.name.as_str()).or_default() += 1;
            }
        }
    }
    let (dep, n) = blame
        .into_iter()
        .max_by_key(|&(name, n)| (n, std::cmp::Reverse(name)))?;
    let share = n as f64 / retried.len() as f64;
    if share < 0.5 {
        return None;
    }
    out.push(Recommendation {
        task: task.to_string(),
        kind: RecommendationKind::FlakyDependency,
        message: format!(
            "{task} is retried in {} of its runs and dependency '{dep}' failed in {} of those retried runs: \
             check '{dep}' or put a circuit breaker (and a fallback) in front of it",
            pct(rate),
            pct(share)
        ),
    });
    Some(dep.to_string())
}

/// Slow, flaky (by failed calls) and chatty dependencies of one task's runs.
fn dependency_rules(task: &str, runs: &[&ExecutionRecord], already_flaky: Option<&str>, out: &mut Vec<Recommendation>) {
    let thresholds = DependencyThresholds::default();
    for p in dependency_patterns(runs) {
        for f in findings(&p, &thresholds) {
            let kind = match f {
                Finding::Slow { .. } => RecommendationKind::SlowDependency,
                Finding::Chatty { .. } => RecommendationKind::ChattyDependency,
                Finding::Flaky { .. } if already_flaky == Some(p.name.as_str()) => continue,
                Finding::Flaky { .. } => RecommendationKind::FlakyDependency,
            };
            out.push(Recommendation {
                task: task.to_string(),
                kind,
                message: format!("{task}: {}", f.advice(&p.name)),
            });
        }
    }
}

fn cache_file(task: &str, runs: &[&ExecutionRecord], out: &mut Vec<Recommendation>) {
    if runs.len() < MIN_RUNS {
        return;
    }
    let mut reads: BTreeMap<&str, (usize, u64)> = BTreeMap::new();
    let mut written: std::collections::HashSet<&str> = Default::default();
    for r in runs {
        let mut seen: std::collections::HashSet<&str> = Default::default();
        for f in &r.files {
            match f.kind {
                FileAccessKind::Read if seen.insert(f.path.as_str()) => {
                    let e = reads.entry(f.path.as_str()).or_default();
                    e.0 += 1;
                    e.1 += f.bytes;
                }
                FileAccessKind::Write => {
                    written.insert(f.path.as_str());
                }
                _ => {}
            }
        }
    }
    for (path, (n, bytes)) in reads {
        let share = n as f64 / runs.len() as f64;
        if share >= 0.9 && !written.contains(path) {
            out.push(Recommendation {
                task: task.to_string(),
                kind: RecommendationKind::CacheFile,
                message: format!(
                    "{task} reads '{path}' in {} of its runs ({} bytes per read on average) and never writes it: cache its contents",
                    pct(share),
                    bytes / n.max(1) as u64
                ),
            });
        }
    }
}

fn timeout_below_p99(task: &str, runs: &[&ExecutionRecord], timeout: Duration, out: &mut Vec<Recommendation>) {
    let durs: Vec<f64> = runs.iter().map(|r| r.duration_secs()).collect();
    let Some(p) = exact_percentiles(&durs, &[0.99]) else {
        return;
    };
    let mut p99 = p[0];
    let mut how = "observed p99";
    // with a size model, the duration predicted for the p99 input size (upper bound of its interval)
    let pts: Vec<(f64, f64)> = runs
        .iter()
        .filter_map(|r| Some((r.input_size? as f64, r.duration_secs())))
        .collect();
    if pts.len() >= 30 {
        if let (Ok(m), Some(n99)) = (
            SizeModel::fit(&pts),
            exact_percentiles(&pts.iter().map(|p| p.0).collect::<Vec<_>>(), &[0.99]),
        ) {
            let pred = m.predict(n99[0]).high;
            if pred > p99 {
                p99 = pred;
                how = "predicted p99";
            }
        }
    }
    let t = timeout.as_secs_f64();
    if t < p99 {
        out.push(Recommendation {
            task: task.to_string(),
            kind: RecommendationKind::TimeoutBelowP99,
            message: format!(
                "{task} has a timeout of {t:.3} s but its {how} duration is {p99:.3} s: raise the timeout above {:.3} s \
                 or more than 1% of runs will time out",
                p99 * 1.2
            ),
        });
    }
}

fn superlinear_memory(task: &str, runs: &[&ExecutionRecord], out: &mut Vec<Recommendation>) {
    let pts: Vec<(f64, f64)> = runs
        .iter()
        .filter_map(|r| Some((r.input_size? as f64, r.mem_peak_bytes? as f64)))
        .collect();
    if pts.len() < 30 {
        return;
    }
    let (lo, hi) = pts
        .iter()
        .fold((f64::MAX, 0.0f64), |(a, b), p| (a.min(p.0), b.max(p.0)));
    if lo <= 0.0 || hi < 4.0 * lo {
        return;
    }
    let Ok(m) = SizeModel::fit(&pts) else { return };
    if m.superlinear() {
        let doubled = m.predict(hi * 2.0).expected;
        out.push(Recommendation {
            task: task.to_string(),
            kind: RecommendationKind::SuperlinearMemory,
            message: format!(
                "{task}'s peak memory grows as {} of input size: an input of {:.0} (twice the largest seen) would need about {:.0} MB; \
                 stream the input or bound its size",
                m.class().notation(),
                hi * 2.0,
                doubled / 1e6
            ),
        });
    }
}

fn frequent_failures(task: &str, runs: &[&ExecutionRecord], out: &mut Vec<Recommendation>) {
    if runs.len() < MIN_RUNS {
        return;
    }
    let failed: Vec<&&ExecutionRecord> = runs.iter().filter(|r| r.outcome == OutcomeKind::Failure).collect();
    let rate = failed.len() as f64 / runs.len() as f64;
    if rate < 0.2 {
        return;
    }
    let mut classes: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &failed {
        *classes
            .entry(r.error_class.as_deref().unwrap_or("unclassified"))
            .or_default() += 1;
    }
    let top = classes
        .into_iter()
        .max_by_key(|&(c, n)| (n, std::cmp::Reverse(c)))
        .map(|(c, _)| c)
        .unwrap_or("unclassified");
    out.push(Recommendation {
        task: task.to_string(),
        kind: RecommendationKind::FrequentFailures,
        message: format!(
            "{task} fails in {} of its runs, mostly with '{top}' errors: look at those first",
            pct(rate)
        ),
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use servicetask_core::record::{DependencyUse, FileAccess};

    fn run(task: &str, i: i64) -> ExecutionRecord {
        ExecutionRecord::new(task, i * 1_000_000_000, 100_000_000, OutcomeKind::Complete)
    }

    fn kinds(r: &[Recommendation]) -> Vec<RecommendationKind> {
        r.iter().map(|r| r.kind).collect()
    }

    #[test]
    fn flaky_dependency_is_named() {
        let recs: Vec<_> = (0..40)
            .map(|i| {
                let mut r = run("pay", i);
                r.dependencies.push(DependencyUse {
                    name: "bank".into(),
                    calls: 1,
                    failures: 0,
                    total_ns: 1,
                    ..DependencyUse::default()
                });
                if i % 4 == 0 {
                    r.attempts = 2;
                    r.dependencies[0].failures = 1;
                }
                r
            })
            .collect();
        let r = recommend(&recs, &HashMap::new());
        assert_eq!(kinds(&r), vec![RecommendationKind::FlakyDependency]);
        assert!(
            r[0].message.contains("'bank'") && r[0].message.contains("25%"),
            "{}",
            r[0].message
        );
    }

    #[test]
    fn slow_chatty_and_failing_dependencies_are_named_once() {
        // 100 ms runs: 'crm.example.com' 12 quick calls each, 'geo' one 80 ms call, 'mail' 3 calls
        // with one failing every third run
        let recs = servicetask_test_support::records::dependency_runs();
        let r = recommend(&recs, &HashMap::new());
        // geo's call is 80 ms, under the 0.1 s a slow call needs, though 80% of the run
        assert_eq!(
            kinds(&r),
            vec![
                RecommendationKind::ChattyDependency,
                RecommendationKind::FlakyDependency
            ],
            "{r:?}"
        );
        assert!(r[0].message.contains("'crm.example.com'") && r[0].message.contains("12.0 times per run"));
        assert!(r[1].message.contains("'mail'") && r[1].message.contains("'timeout'"));
        // a slower geo is named slow
        let slow: Vec<_> = recs
            .iter()
            .cloned()
            .map(|mut x| {
                x.duration_ns = 300_000_000;
                x.dependencies[1].total_ns = 250_000_000;
                x
            })
            .collect();
        let r = recommend(&slow, &HashMap::new());
        assert!(r
            .iter()
            .any(|x| x.kind == RecommendationKind::SlowDependency && x.message.contains("'geo'")));
        // when the retry rule names 'mail', the call rule does not repeat it
        let retried: Vec<_> = recs
            .iter()
            .cloned()
            .map(|mut x| {
                if x.dependencies[2].failures > 0 {
                    x.attempts = 2;
                }
                x
            })
            .collect();
        let r = recommend(&retried, &HashMap::new());
        let mail = r.iter().filter(|x| x.message.contains("'mail'")).count();
        assert_eq!(mail, 1, "{r:?}");
    }

    #[test]
    fn file_read_every_run_is_cacheable_unless_written() {
        let recs: Vec<_> = (0..30)
            .map(|i| {
                let mut r = run("etl", i);
                r.files.push(FileAccess {
                    path: "rules.json".into(),
                    kind: FileAccessKind::Read,
                    bytes: 500,
                    ops: 1,
                    file_size: None,
                });
                r.files.push(FileAccess {
                    path: "state.db".into(),
                    kind: FileAccessKind::Read,
                    bytes: 5,
                    ops: 1,
                    file_size: None,
                });
                if i == 3 {
                    r.files.push(FileAccess {
                        path: "state.db".into(),
                        kind: FileAccessKind::Write,
                        bytes: 5,
                        ops: 1,
                        file_size: None,
                    });
                }
                r
            })
            .collect();
        let r = recommend(&recs, &HashMap::new());
        assert_eq!(kinds(&r), vec![RecommendationKind::CacheFile]);
        assert!(r[0].message.contains("rules.json"));
    }

    #[test]
    fn superlinear_memory_and_timeout_from_prediction() {
        let recs: Vec<_> = (1..=60)
            .map(|i| {
                let mut r = run("sort", i);
                let n = i as u64 * 100;
                r.input_size = Some(n);
                r.mem_peak_bytes = Some(1_000_000 + n * n * 10);
                r.duration_ns = 1_000_000 * n; // 1 ms per item: 6 s at the largest input
                r
            })
            .collect();
        let timeouts = [("sort".to_string(), Duration::from_secs(2))].into_iter().collect();
        let r = recommend(&recs, &timeouts);
        assert_eq!(
            kinds(&r),
            vec![
                RecommendationKind::TimeoutBelowP99,
                RecommendationKind::SuperlinearMemory
            ]
        );
        assert!(r[1].message.contains("O(n^2)"), "{}", r[1].message);
        let generous = [("sort".to_string(), Duration::from_secs(60))].into_iter().collect();
        assert_eq!(
            kinds(&recommend(&recs, &generous)),
            vec![RecommendationKind::SuperlinearMemory]
        );
    }

    #[test]
    fn failures_and_quiet_history() {
        let recs: Vec<_> = (0..30)
            .map(|i| {
                let mut r = run("x", i);
                if i % 3 == 0 {
                    r.outcome = OutcomeKind::Failure;
                    r.error_class = Some("io".into());
                }
                r
            })
            .collect();
        let r = recommend(&recs, &HashMap::new());
        assert_eq!(kinds(&r), vec![RecommendationKind::FrequentFailures]);
        assert!(r[0].message.contains("'io'"));
        let quiet: Vec<_> = (0..30).map(|i| run("y", i)).collect();
        assert!(recommend(&quiet, &HashMap::new()).is_empty());
        assert!(recommend(&[], &HashMap::new()).is_empty());
    }
}
