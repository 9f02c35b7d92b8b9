//! Live per-task percentiles from a mergeable relative-error sketch (DDSketch).
//!
//! [`TaskPercentiles`] keeps one `DDSketch` (crate `sketches-ddsketch`) per task (1% relative
//! error, at most 2048 bins: a few KB per task). Sketches from several workers merge exactly,
//! so a fleet-wide p99 is the p99 of the merged sketch. For percentiles over an arbitrary time
//! range, ask the history store ([`exact_percentiles`] does the same over a slice of values).
//!
//! ```
//! use servicetask_analytics::percentiles::TaskPercentiles;
//! let mut p = TaskPercentiles::default();
//! for i in 1..=1000 {
//!     p.observe("resize", i as f64);
//! }
//! let s = p.summary("resize").unwrap();
//! assert!((s.p99 - 990.0).abs() / 990.0 <= 0.011);
//! ```

use std::collections::BTreeMap;

use sketches_ddsketch::{Config, DDSketch};

/// Relative accuracy of the sketches.
pub const RELATIVE_ERROR: f64 = 0.01;

/// p50/p90/p95/p99 and count of one task.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PercentileSummary {
    /// Values observed.
    pub count: u64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
}

pub(crate) fn new_sketch() -> DDSketch {
    DDSketch::new(Config::new(RELATIVE_ERROR, 2048, 1e-9))
}

/// One DDSketch per task. See the module docs.
#[derive(Clone, Default)]
pub struct TaskPercentiles {
    sketches: BTreeMap<String, DDSketch>,
}

impl std::fmt::Debug for TaskPercentiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskPercentiles")
            .field("tasks", &self.sketches.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl TaskPercentiles {
    /// Adds one observation (e.g. a duration in seconds). Negative and non-finite values are
    /// ignored.
    pub fn observe(&mut self, task: &str, value: f64) {
        if !value.is_finite() || value < 0.0 {
            return;
        }
        match self.sketches.get_mut(task) {
            Some(s) => s.add(value),
            None => {
                let mut s = new_sketch();
                s.add(value);
                self.sketches.insert(task.to_string(), s);
            }
        }
    }

    /// The value at quantile `q` (in `[0, 1]`) of a task, `None` if the task has no values.
    pub fn quantile(&self, task: &str, q: f64) -> Option<f64> {
        let q = if q.is_finite() { q.clamp(0.0, 1.0) } else { return None };
        self.sketches.get(task)?.quantile(q).ok().flatten()
    }

    /// p50/p90/p95/p99 of a task.
    pub fn summary(&self, task: &str) -> Option<PercentileSummary> {
        let s = self.sketches.get(task)?;
        let q = |x| s.quantile(x).ok().flatten();
        Some(PercentileSummary {
            count: s.count() as u64,
            p50: q(0.5)?,
            p90: q(0.9)?,
            p95: q(0.95)?,
            p99: q(0.99)?,
        })
    }

    /// Tasks observed, sorted.
    pub fn tasks(&self) -> impl Iterator<Item = &str> {
        self.sketches.keys().map(String::as_str)
    }

    /// Merges another set of sketches (e.g. from another worker) into this one.
    pub fn merge(&mut self, other: &TaskPercentiles) {
        for (task, s) in &other.sketches {
            let mine = self.sketches.entry(task.clone()).or_insert_with(new_sketch);
            // same configuration on both sides, so merging cannot fail
            let _ = mine.merge(s);
        }
    }
}

/// Exact nearest-rank percentiles of a slice (non-finite values ignored); `None` when empty.
pub fn exact_percentiles(values: &[f64], quantiles: &[f64]) -> Option<Vec<f64>> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(
        quantiles
            .iter()
            .map(|&q| {
                let q = if q.is_finite() { q.clamp(0.0, 1.0) } else { 0.5 };
                let rank = (q * v.len() as f64).ceil() as usize;
                v[rank.clamp(1, v.len()) - 1]
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    #[test]
    fn sketch_within_relative_error_and_merge_is_exactish() {
        let mut rng = StdRng::seed_from_u64(3);
        let vals: Vec<f64> = (0..20_000)
            .map(|_| (rng.random_range(0.0f64..1.0)).powi(3) * 1000.0 + 0.001)
            .collect();
        let (mut a, mut b, mut all) = (
            TaskPercentiles::default(),
            TaskPercentiles::default(),
            TaskPercentiles::default(),
        );
        for (i, &v) in vals.iter().enumerate() {
            if i % 2 == 0 {
                a.observe("t", v)
            } else {
                b.observe("t", v)
            }
            all.observe("t", v);
        }
        a.merge(&b);
        let exact = exact_percentiles(&vals, &[0.5, 0.9, 0.95, 0.99]).unwrap();
        let s = a.summary("t").unwrap();
        for (got, want) in [s.p50, s.p90, s.p95, s.p99].iter().zip(&exact) {
            assert!((got - want).abs() / want <= 0.02, "{got} vs {want}");
        }
        assert_eq!(s, all.summary("t").unwrap());
        assert_eq!(s.count, 20_000);
    }

    #[test]
    fn empty_and_bad_values() {
        let mut p = TaskPercentiles::default();
        p.observe("t", f64::NAN);
        p.observe("t", -1.0);
        assert!(p.summary("t").is_none());
        assert!(p.quantile("t", f64::NAN).is_none());
        assert_eq!(exact_percentiles(&[], &[0.5]), None);
        assert_eq!(exact_percentiles(&[3.0], &[0.0, 0.99]), Some(vec![3.0, 3.0]));
    }
}
