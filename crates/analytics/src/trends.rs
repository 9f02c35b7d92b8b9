//! Trends and change points, and plain-English statements about them.
//!
//! - [`mann_kendall`]: the Mann-Kendall trend test (tie-corrected variance, normal approximation
//!   with continuity correction, two-sided p-value) with the Theil-Sen slope;
//! - [`change_points`]: PELT (pruned exact linear time) segmentation for changes in mean, with an
//!   MBIC-style penalty (`3 σ² ln n` per change, Zhang and Siegmund 2007, as R's `changepoint`
//!   applies it) scaled by a robust noise estimate (MAD of successive differences), so it is
//!   insensitive to outliers and finds nothing in flat data;
//! - [`mann_whitney`]: the rank-sum test between two segments (tie-corrected normal approximation);
//! - [`describe`]: statements such as "median duration rose 35% since 14:02 UTC, after run 1,240",
//!   made only for a change that is both **significant** (the two segments differ by the
//!   Mann-Whitney test at [`ChangeOptions::alpha`], Bonferroni-corrected for the candidates PELT
//!   proposed) and **material** (the medians differ by at least [`ChangeOptions::min_relative`]).
//!   Positive metrics (durations, bytes) are segmented on their logarithm, where their noise is
//!   closer to the Gaussian PELT's cost assumes. The false-alarm rate on stationary series and the
//!   delay on planted shifts are measured by `cargo run --release -p servicetask-analytics
//!   --example changepoint_eval` (BENCHMARKS.md).
//!
//! Written by hand: the statistics are short, and the crates that offer them (e.g. `augurs`)
//! bring large dependency trees for one function each.
//!
//! ```
//! use servicetask_analytics::trends::{mann_kendall, TrendDirection};
//! let xs: Vec<f64> = (0..50).map(|i| i as f64 * 0.5 + (i % 3) as f64).collect();
//! let mk = mann_kendall(&xs).unwrap();
//! assert_eq!(mk.direction(0.05), TrendDirection::Increasing);
//! assert!((mk.slope - 0.5).abs() < 0.1);
//! ```

use serde::{Deserialize, Serialize};

use crate::error::AnalyticsError;

/// Most points the O(n²) statistics look at; longer series are thinned evenly.
pub const MAX_POINTS: usize = 2000;

/// Result of the Mann-Kendall test.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MannKendall {
    /// Points used.
    pub n: usize,
    /// The S statistic.
    pub s: f64,
    /// Tie-corrected variance of S.
    pub var_s: f64,
    /// Normal score.
    pub z: f64,
    /// Two-sided p-value.
    pub p_value: f64,
    /// Theil-Sen slope (change per step).
    pub slope: f64,
    /// Theil-Sen intercept (median of `x_i - slope * i`).
    pub intercept: f64,
}

/// Direction of a trend at a significance level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrendDirection {
    /// Significant upward trend.
    Increasing,
    /// Significant downward trend.
    Decreasing,
    /// No significant trend.
    None,
}

impl MannKendall {
    /// The trend's direction when significant at `alpha`.
    pub fn direction(&self, alpha: f64) -> TrendDirection {
        if self.p_value < alpha && self.z > 0.0 {
            TrendDirection::Increasing
        } else if self.p_value < alpha && self.z < 0.0 {
            TrendDirection::Decreasing
        } else {
            TrendDirection::None
        }
    }
}

fn thin(xs: &[f64]) -> Vec<f64> {
    let v: Vec<f64> = xs.iter().copied().filter(|x| x.is_finite()).collect();
    if v.len() <= MAX_POINTS {
        return v;
    }
    (0..MAX_POINTS)
        .map(|k| v[k * (v.len() - 1) / (MAX_POINTS - 1)])
        .collect()
}

/// Standard normal CDF.
pub fn normal_cdf(z: f64) -> f64 {
    0.5 * erfc(-z / std::f64::consts::SQRT_2)
}

/// Complementary error function (Chebyshev fit, fractional error below 1.2e-7).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    if x >= 0.0 {
        r
    } else {
        2.0 - r
    }
}

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Mann-Kendall test and Theil-Sen slope over a series taken at equal steps (non-finite values
/// are dropped; series longer than [`MAX_POINTS`] are thinned evenly, and the slope is then per
/// original step).
pub fn mann_kendall(xs: &[f64]) -> Result<MannKendall, AnalyticsError> {
    let finite = xs.iter().filter(|x| x.is_finite()).count();
    let v = thin(xs);
    let n = v.len();
    if n < 3 {
        return Err(AnalyticsError::NotEnoughData { needed: 3, got: n });
    }
    let step = if finite > n {
        (finite - 1) as f64 / (n - 1) as f64
    } else {
        1.0
    };
    let mut s = 0.0;
    let mut slopes = Vec::with_capacity(n * (n - 1) / 2);
    for i in 0..n {
        for j in i + 1..n {
            let d = v[j] - v[i];
            s += if d > 0.0 {
                1.0
            } else if d < 0.0 {
                -1.0
            } else {
                0.0
            };
            slopes.push(d / ((j - i) as f64 * step));
        }
    }
    // tie correction
    let mut sorted = v.clone();
    sorted.sort_by(f64::total_cmp);
    let mut ties = 0.0;
    let mut k = 0;
    while k < n {
        let mut m = k;
        while m + 1 < n && sorted[m + 1] == sorted[k] {
            m += 1;
        }
        let t = (m - k + 1) as f64;
        ties += t * (t - 1.0) * (2.0 * t + 5.0);
        k = m + 1;
    }
    let nf = n as f64;
    let var_s = ((nf * (nf - 1.0) * (2.0 * nf + 5.0)) - ties) / 18.0;
    let z = if var_s <= 0.0 {
        0.0
    } else if s > 0.0 {
        (s - 1.0) / var_s.sqrt()
    } else if s < 0.0 {
        (s + 1.0) / var_s.sqrt()
    } else {
        0.0
    };
    let p_value = (2.0 * (1.0 - normal_cdf(z.abs()))).clamp(0.0, 1.0);
    let slope = median(&mut slopes);
    let mut inter: Vec<f64> = v.iter().enumerate().map(|(i, x)| x - slope * i as f64 * step).collect();
    let intercept = median(&mut inter);
    Ok(MannKendall {
        n,
        s,
        var_s,
        z,
        p_value,
        slope,
        intercept,
    })
}

/// Robust noise scale: MAD of successive differences / (0.6745 √2).
fn noise_sigma(v: &[f64]) -> f64 {
    let mut d: Vec<f64> = v.windows(2).map(|w| w[1] - w[0]).collect();
    let m = median(&mut d);
    let mut dev: Vec<f64> = d.iter().map(|x| (x - m).abs()).collect();
    median(&mut dev) / (0.6745 * std::f64::consts::SQRT_2)
}

/// Change points in the mean of a series (indices where a new segment starts), by PELT.
///
/// `min_segment` is the shortest segment allowed (at least 2). The penalty is
/// `penalty_factor · σ² · ln n` per change with σ the robust noise scale; 2 is BIC, 3 is MBIC
/// ([`MBIC_PENALTY`]), higher finds fewer changes. Non-finite values are dropped (indices refer to
/// the finite values).
pub fn change_points(xs: &[f64], min_segment: usize, penalty_factor: f64) -> Vec<usize> {
    let v: Vec<f64> = xs.iter().copied().filter(|x| x.is_finite()).collect();
    let n = v.len();
    let min_seg = min_segment.max(2);
    if n < 2 * min_seg {
        return Vec::new();
    }
    let sigma = noise_sigma(&v);
    // flat or near-flat data: use a tiny floor relative to the level so steps still register
    let scale = v.iter().map(|x| x.abs()).fold(0.0, f64::max).max(1e-12);
    let sigma = sigma.max(1e-6 * scale);
    let pen_factor = if penalty_factor.is_finite() && penalty_factor > 0.0 {
        penalty_factor
    } else {
        2.0
    };
    let beta = pen_factor * sigma * sigma * (n as f64).ln().max(1.0);
    let mut cs = vec![0.0; n + 1];
    let mut cs2 = vec![0.0; n + 1];
    for i in 0..n {
        cs[i + 1] = cs[i] + v[i];
        cs2[i + 1] = cs2[i] + v[i] * v[i];
    }
    let cost = |a: usize, b: usize| {
        // squared deviations of v[a..b] from its mean
        let m = (b - a) as f64;
        let s = cs[b] - cs[a];
        (cs2[b] - cs2[a] - s * s / m).max(0.0)
    };
    let mut f = vec![f64::INFINITY; n + 1];
    let mut last = vec![0usize; n + 1];
    f[0] = -beta;
    let mut cands: Vec<usize> = vec![0];
    for t in min_seg..=n {
        let mut best = f64::INFINITY;
        let mut arg = 0;
        for &s in &cands {
            if t - s >= min_seg {
                let c = f[s] + cost(s, t) + beta;
                if c < best {
                    best = c;
                    arg = s;
                }
            }
        }
        f[t] = best;
        last[t] = arg;
        // prune candidates that can never be optimal again
        cands.retain(|&s| t - s < min_seg || f[s] + cost(s, t) <= best);
        if t + 1 >= min_seg {
            // new candidates arrive in increasing order: the list stays sorted and distinct
            cands.push(t + 1 - min_seg);
        }
    }
    let mut cps = Vec::new();
    let mut t = n;
    while t > 0 {
        let s = last[t];
        if s > 0 {
            cps.push(s);
        }
        if s == 0 || s >= t {
            break;
        }
        t = s;
    }
    cps.reverse();
    cps
}

/// One point of a metric series: when, which run (1-based execution number), what value.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TrendPoint {
    /// Start time of the execution, Unix nanoseconds.
    pub at_unix_ns: i64,
    /// Execution number within the task's history (1-based).
    pub run: u64,
    /// The value (duration in seconds, bytes...).
    pub value: f64,
}

/// Which statistic of a segment the statements compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SegmentStat {
    /// The median.
    Median,
    /// The 95th percentile.
    P95,
}

/// A detected change between two segments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// Index (into the points) of the first point of the new segment.
    pub index: usize,
    /// Time of that point.
    pub at_unix_ns: i64,
    /// Run number of the last point before the change.
    pub after_run: u64,
    /// Statistic of the segment before.
    pub before: f64,
    /// Statistic of the segment after.
    pub after: f64,
    /// Relative change `after / before - 1`.
    pub relative: f64,
}

/// The MBIC penalty factor for [`change_points`]: `3 σ² ln n` per change.
pub const MBIC_PENALTY: f64 = 3.0;

/// When [`describe`] states a change.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ChangeOptions {
    /// Smallest relative difference of the segments' statistic worth telling an operator
    /// (0.2: 20%).
    pub min_relative: f64,
    /// Significance level of the Mann-Whitney test between adjacent segments, for all the
    /// candidates together (Bonferroni).
    pub alpha: f64,
    /// Shortest segment, in runs.
    pub min_segment: usize,
    /// The statistic compared (and named in the statement).
    pub stat: SegmentStat,
}

impl Default for ChangeOptions {
    fn default() -> Self {
        ChangeOptions {
            min_relative: 0.2,
            alpha: 0.001,
            min_segment: 10,
            stat: SegmentStat::Median,
        }
    }
}

/// Two-sided p-value of the Mann-Whitney rank-sum test that `a` and `b` come from the same
/// distribution (normal approximation with tie correction and continuity correction; 1 when
/// either side is empty).
pub fn mann_whitney(a: &[f64], b: &[f64]) -> f64 {
    let (n1, n2) = (a.len() as f64, b.len() as f64);
    if a.is_empty() || b.is_empty() {
        return 1.0;
    }
    let mut all: Vec<(f64, bool)> = a
        .iter()
        .map(|&x| (x, true))
        .chain(b.iter().map(|&x| (x, false)))
        .collect();
    all.sort_by(|x, y| x.0.total_cmp(&y.0));
    let n = all.len();
    let (mut rank_a, mut ties) = (0.0, 0.0);
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && all[j + 1].0 == all[i].0 {
            j += 1;
        }
        let t = (j - i + 1) as f64;
        let mid = (i + j) as f64 / 2.0 + 1.0;
        rank_a += mid * all[i..=j].iter().filter(|x| x.1).count() as f64;
        ties += t * t * t - t;
        i = j + 1;
    }
    let u = rank_a - n1 * (n1 + 1.0) / 2.0;
    let mean = n1 * n2 / 2.0;
    let nn = n1 + n2;
    let var = n1 * n2 / 12.0 * ((nn + 1.0) - ties / (nn * (nn - 1.0)).max(1.0));
    if var <= 0.0 {
        return 1.0;
    }
    let z = ((u - mean).abs() - 0.5).max(0.0) / var.sqrt();
    (2.0 * (1.0 - normal_cdf(z))).clamp(0.0, 1.0)
}

/// Change candidates of `values` by PELT (with the MBIC penalty, on the logarithm when every
/// value is positive; on the means of consecutive blocks when there are more than 5000 values).
fn candidates(values: &[f64], min_segment: usize) -> Vec<usize> {
    let positive = values.iter().all(|&v| v > 0.0);
    let y: Vec<f64> = if positive {
        values.iter().map(|v| v.ln()).collect()
    } else {
        values.to_vec()
    };
    let block = y.len().div_ceil(5000).max(1);
    if block == 1 {
        return change_points(&y, min_segment, MBIC_PENALTY);
    }
    let means: Vec<f64> = y
        .chunks(block)
        .map(|c| c.iter().sum::<f64>() / c.len() as f64)
        .collect();
    change_points(&means, min_segment.div_ceil(block).max(2), MBIC_PENALTY)
        .into_iter()
        .map(|c| c * block)
        .collect()
}

/// Keeps the candidate changes that are significant and material (see [`ChangeOptions`]):
/// drops the weakest failing one and judges its neighbours again against the merged segment,
/// until every change left passes.
fn confirmed(
    values: &[f64],
    mut cps: Vec<usize>,
    o: &ChangeOptions,
    seg_stat: &dyn Fn(usize, usize) -> f64,
) -> Vec<usize> {
    let tested = cps.len().max(1) as f64;
    loop {
        let mut bounds = vec![0];
        bounds.extend(cps.iter().copied());
        bounds.push(values.len());
        let weakest = (0..cps.len())
            .map(|w| {
                let (a, m, b) = (bounds[w], bounds[w + 1], bounds[w + 2]);
                let p = mann_whitney(&values[a..m], &values[m..b]) * tested;
                let (before, after) = (seg_stat(a, m), seg_stat(m, b));
                let rel = if before.abs() < 1e-300 {
                    0.0
                } else {
                    after / before - 1.0
                };
                let passes = p < o.alpha && rel.abs() >= o.min_relative;
                (w, passes, p)
            })
            .filter(|c| !c.1)
            .max_by(|x, y| x.2.total_cmp(&y.2));
        match weakest {
            Some((w, _, _)) => {
                cps.remove(w);
            }
            None => return cps,
        }
    }
}

/// Finds the changes in a metric series worth telling an operator (see the module docs and
/// [`ChangeOptions`]) and returns them with plain-English statements; without a change, a
/// steady trend (Mann-Kendall at 1%, Theil-Sen slope) is stated when it amounts to at least
/// `min_relative` over the series.
pub fn describe(label: &str, points: &[TrendPoint], o: &ChangeOptions) -> (Vec<Change>, Vec<String>) {
    let pts: Vec<TrendPoint> = points.iter().copied().filter(|p| p.value.is_finite()).collect();
    let values: Vec<f64> = pts.iter().map(|p| p.value).collect();
    let seg_stat = |a: usize, b: usize| {
        let mut s = values[a..b].to_vec();
        match o.stat {
            SegmentStat::Median => median(&mut s),
            SegmentStat::P95 => crate::percentiles::exact_percentiles(&s, &[0.95]).map_or(0.0, |v| v[0]),
        }
    };
    let min_segment = o.min_segment.max(2);
    let cps = confirmed(&values, candidates(&values, min_segment), o, &seg_stat);
    let mut bounds = vec![0];
    bounds.extend(cps.iter().copied());
    bounds.push(values.len());
    let multi_day = pts
        .first()
        .zip(pts.last())
        .is_some_and(|(a, b)| b.at_unix_ns - a.at_unix_ns > 86_400 * 1_000_000_000);
    let mut changes = Vec::new();
    let mut text = Vec::new();
    for w in 0..bounds.len().saturating_sub(2) {
        let (a, m, b) = (bounds[w], bounds[w + 1], bounds[w + 2]);
        let before = seg_stat(a, m);
        let after = seg_stat(m, b);
        let rel = after / before - 1.0;
        let c = Change {
            index: m,
            at_unix_ns: pts[m].at_unix_ns,
            after_run: pts[m - 1].run,
            before,
            after,
            relative: rel,
        };
        text.push(format!(
            "{label} {} {:.0}% since {}, after run {}",
            if rel > 0.0 { "rose" } else { "fell" },
            rel.abs() * 100.0,
            format_time(c.at_unix_ns, multi_day),
            group_thousands(c.after_run)
        ));
        changes.push(c);
    }
    // the trend test on at most 500 block means (the slope rescaled per run): O(n²) in points
    let block = values.len().div_ceil(500).max(1);
    let means: Vec<f64> = values
        .chunks(block)
        .map(|c| c.iter().sum::<f64>() / c.len() as f64)
        .collect();
    if let Ok(mut mk) = mann_kendall(&means) {
        mk.slope /= block as f64;
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        let over_series = mk.slope * values.len() as f64 / mean.abs().max(1e-300);
        let material = over_series.abs() >= o.min_relative;
        if mk.direction(0.01) != TrendDirection::None && changes.is_empty() && mean.abs() > 0.0 && material {
            let per_100 = mk.slope * 100.0 / mean.abs() * 100.0;
            text.push(format!(
                "{label} {} steadily: {:+.1}% of its mean per 100 runs (Mann-Kendall p = {:.3})",
                if mk.slope > 0.0 { "rises" } else { "falls" },
                per_100,
                mk.p_value
            ));
        }
    }
    (changes, text)
}

/// `1240` → `1,240`.
pub fn group_thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `HH:MM UTC`, or `YYYY-MM-DD HH:MM UTC` when `with_date`.
pub fn format_time(unix_ns: i64, with_date: bool) -> String {
    let secs = unix_ns.div_euclid(1_000_000_000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (h, m) = (sod / 3600, (sod % 3600) / 60);
    if with_date {
        let (y, mo, d) = civil_from_days(days);
        format!("{y:04}-{mo:02}-{d:02} {h:02}:{m:02} UTC")
    } else {
        format!("{h:02}:{m:02} UTC")
    }
}

/// Proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
pub fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    fn noise(rng: &mut StdRng, n: usize, level: f64, sd: f64) -> Vec<f64> {
        (0..n)
            .map(|_| level + sd * (rng.random_range(0.0..1.0f64) - 0.5) * 3.46)
            .collect()
    }

    #[test]
    fn mann_kendall_known_answers() {
        // textbook example without ties: strictly increasing -> S = n(n-1)/2
        let xs: Vec<f64> = (0..10).map(f64::from).collect();
        let mk = mann_kendall(&xs).unwrap();
        assert_eq!(mk.s, 45.0);
        assert!((mk.var_s - 125.0).abs() < 1e-9); // 10*9*25/18
        assert!((mk.z - 44.0 / 125f64.sqrt()).abs() < 1e-9);
        assert!(mk.p_value < 0.001);
        assert!((mk.slope - 1.0).abs() < 1e-12);
        // ties reduce the variance: [1,1,2,2,3]
        let mk = mann_kendall(&[1.0, 1.0, 2.0, 2.0, 3.0]).unwrap();
        assert_eq!(mk.s, 8.0);
        assert!((mk.var_s - (5.0 * 4.0 * 15.0 - 2.0 * 18.0) / 18.0).abs() < 1e-9);
        // flat: no trend
        let mk = mann_kendall(&[2.0; 30]).unwrap();
        assert_eq!(mk.direction(0.05), TrendDirection::None);
        assert!(mann_kendall(&[1.0, f64::NAN]).is_err());
    }

    #[test]
    fn noise_has_no_trend_and_planted_trend_is_found() {
        let mut rng = StdRng::seed_from_u64(12);
        let xs = noise(&mut rng, 300, 10.0, 1.0);
        assert_eq!(mann_kendall(&xs).unwrap().direction(0.01), TrendDirection::None);
        let ys: Vec<f64> = xs.iter().enumerate().map(|(i, x)| x + 0.01 * i as f64).collect();
        let mk = mann_kendall(&ys).unwrap();
        assert_eq!(mk.direction(0.01), TrendDirection::Increasing);
        assert!((mk.slope - 0.01).abs() < 0.003, "slope {}", mk.slope);
    }

    #[test]
    fn normal_cdf_reference() {
        assert!((normal_cdf(0.0) - 0.5).abs() < 1e-7);
        assert!((normal_cdf(1.959_964) - 0.975).abs() < 1e-6);
        assert!((normal_cdf(-1.0) - 0.158_655_25).abs() < 1e-6);
    }

    #[test]
    fn planted_change_points_are_found() {
        let mut rng = StdRng::seed_from_u64(5);
        let mut xs = noise(&mut rng, 200, 10.0, 1.0);
        xs.extend(noise(&mut rng, 150, 14.0, 1.0));
        xs.extend(noise(&mut rng, 100, 9.0, 1.0));
        let cps = change_points(&xs, 10, 4.0);
        assert_eq!(cps.len(), 2, "{cps:?}");
        assert!(
            (cps[0] as i64 - 200).abs() <= 3 && (cps[1] as i64 - 350).abs() <= 3,
            "{cps:?}"
        );
        // noise alone and flat data: none
        assert!(change_points(&noise(&mut rng, 500, 10.0, 1.0), 10, 4.0).is_empty());
        assert!(change_points(&[3.0; 100], 10, 4.0).is_empty());
        // a step in flat data is found exactly
        let mut step = vec![3.0; 60];
        step.extend([4.0; 40]);
        assert_eq!(change_points(&step, 10, 4.0), vec![60]);
        assert!(change_points(&[], 10, 4.0).is_empty());
    }

    #[test]
    fn statements_name_time_run_and_size_of_change() {
        let mut rng = StdRng::seed_from_u64(8);
        let t0 = 1_764_201_600_000_000_000i64; // 2025-11-27 00:00 UTC
        let mut vals = noise(&mut rng, 1240, 1.0, 0.05);
        vals.extend(noise(&mut rng, 300, 1.35, 0.05));
        let pts: Vec<TrendPoint> = vals
            .iter()
            .enumerate()
            .map(|(i, &v)| TrendPoint {
                at_unix_ns: t0 + i as i64 * 30_000_000_000 + 3_600_000_000_000,
                run: i as u64 + 1,
                value: v,
            })
            .collect();
        let (changes, text) = describe("median duration", &pts, &ChangeOptions::default());
        assert_eq!(changes.len(), 1, "{text:?}");
        assert_eq!(changes[0].after_run, 1240);
        // run 1241 starts at 01:00 + 1240 * 30 s = 11:20
        assert_eq!(text[0], "median duration rose 35% since 11:20 UTC, after run 1,240");
    }

    #[test]
    fn formatting_helpers() {
        assert_eq!(group_thousands(1_234_567), "1,234,567");
        assert_eq!(group_thousands(12), "12");
        assert_eq!(format_time(0, true), "1970-01-01 00:00 UTC");
        assert_eq!(
            civil_from_days(crate::nab::days_from_civil(2026, 11, 27)),
            (2026, 11, 27)
        );
    }

    fn prefix_points(values: &[f64]) -> Vec<TrendPoint> {
        values
            .iter()
            .enumerate()
            .map(|(i, &v)| TrendPoint {
                at_unix_ns: i as i64 * 1_000_000_000,
                run: i as u64 + 1,
                value: v,
            })
            .collect()
    }

    /// Durations with multiplicative noise: log-normal around `level` (sd of the log `sd`), with
    /// an occasional heavy outlier, as a real task's durations look.
    fn durations(rng: &mut StdRng, n: usize, level: f64, sd: f64) -> Vec<f64> {
        (0..n)
            .map(|_| {
                let g: f64 = (0..12).map(|_| rng.random_range(0.0..1.0f64)).sum::<f64>() - 6.0;
                let outlier = if rng.random_range(0.0..1.0f64) < 0.01 { 5.0 } else { 1.0 };
                level * (sd * g).exp() * outlier
            })
            .collect()
    }

    #[test]
    fn stationary_noise_over_10000_runs_makes_at_most_one_statement_per_1000_runs() {
        let o = ChangeOptions::default();
        let mut statements = 0;
        // per noise shape: ten histories of 1,000 runs, and one of 10,000 reported on after
        // every 2,000 runs
        for (k, sd) in [0.05, 0.2, 0.5].into_iter().enumerate() {
            let mut rng = StdRng::seed_from_u64(100 + k as u64);
            for _ in 0..10 {
                statements += describe(
                    "median duration",
                    &prefix_points(&durations(&mut rng, 1000, 1.0, sd)),
                    &o,
                )
                .1
                .len();
            }
            let long = durations(&mut rng, 10_000, 1.0, sd);
            for end in (2000..=10_000).step_by(2000) {
                statements += describe("median duration", &prefix_points(&long[..end]), &o).1.len();
            }
        }
        // 3 noise shapes x 20,000 runs: the budget (1 per 1,000 runs) would allow 60
        assert!(statements <= 3, "{statements} statements on stationary noise");
    }

    #[test]
    fn a_planted_30_percent_shift_is_reported_within_50_runs() {
        for seed in 0..20 {
            let mut rng = StdRng::seed_from_u64(seed);
            let mut values = durations(&mut rng, 500, 1.0, 0.1);
            values.extend(durations(&mut rng, 50, 1.3, 0.1));
            let (changes, text) = describe("median duration", &prefix_points(&values), &ChangeOptions::default());
            assert_eq!(changes.len(), 1, "seed {seed}: {text:?}");
            assert!((changes[0].index as i64 - 500).abs() <= 5, "seed {seed}: {changes:?}");
            assert!((changes[0].relative - 0.3).abs() < 0.1, "seed {seed}: {text:?}");
        }
    }

    #[test]
    fn mann_whitney_known_answers() {
        // identical samples: no evidence
        assert!(mann_whitney(&[1.0, 2.0, 3.0], &[1.0, 2.0, 3.0]) > 0.9);
        // completely separated samples of 20: U = 0, z = (200 - 0.5) / sqrt(20*20*41/12)
        let a: Vec<f64> = (0..20).map(f64::from).collect();
        let b: Vec<f64> = (100..120).map(f64::from).collect();
        let z: f64 = 199.5 / (400.0 * 41.0 / 12.0f64).sqrt();
        assert!((mann_whitney(&a, &b) - 2.0 * (1.0 - normal_cdf(z))).abs() < 1e-9);
        assert_eq!(mann_whitney(&[], &b), 1.0);
        assert_eq!(mann_whitney(&[2.0; 5], &[2.0; 5]), 1.0);
    }
}
