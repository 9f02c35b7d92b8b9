//! Robust statistics of one stream against its own recent past: the building block of every
//! member of the anomaly ensemble.
//!
//! [`RobustStats`] keeps a sliding window of values (arrival order and sorted), and turns four
//! distances of a new value into tail probabilities against the distances it has seen before:
//!
//! - **level**: `|x - median| / MAD` of the window (the MAD is floored relative to the stream's
//!   range, so flat data do not divide by zero);
//! - **shift**: the median of the last `short` values against the window's median, in MADs;
//! - **change**: the step `|x_t - x_{t-1}|` against the median step of the window;
//! - **novelty**: how far `x` lies beyond the range of everything seen so far.
//!
//! Each distance becomes a probability by [`tail_probability`] (empirical below the 90th
//! percentile of its past values, an exponential tail fitted to the excesses above it: peaks over
//! threshold), so one threshold means the same on every stream.

use std::collections::VecDeque;

/// A window of the last `cap` values kept both in arrival order and sorted.
///
/// A push into a full window moves only the values between the evicted one and the new one (one
/// rotation, not a removal and an insertion that each shift the tail), and takes the new value's
/// position when the caller has already searched for it. The result is the same array as
/// removing then inserting; while the window holds a NaN (whose comparisons are not an order)
/// the push does exactly that instead.
#[derive(Debug, Clone)]
pub(crate) struct SortedWindow {
    cap: usize,
    order: VecDeque<f64>,
    pub(crate) sorted: Vec<f64>,
    nans: usize,
}

impl SortedWindow {
    pub(crate) fn new(cap: usize) -> Self {
        SortedWindow {
            cap: cap.max(1),
            order: VecDeque::new(),
            sorted: Vec::new(),
            nans: 0,
        }
    }

    /// Where `x` goes: the number of values below it.
    pub(crate) fn rank(&self, x: f64) -> usize {
        self.sorted.partition_point(|&v| v < x)
    }

    pub(crate) fn push(&mut self, x: f64) {
        let at = self.rank(x);
        self.push_ranked(x, at);
    }

    /// [`SortedWindow::push`] of `x` whose [`SortedWindow::rank`] is `at`.
    pub(crate) fn push_ranked(&mut self, x: f64, mut at: usize) {
        let ordered = self.nans == 0 && !x.is_nan();
        if self.order.len() == self.cap {
            if let Some(old) = self.order.pop_front() {
                self.nans -= usize::from(old.is_nan());
                let i = self.sorted.partition_point(|&v| v < old);
                if i < self.sorted.len() {
                    if ordered {
                        // remove(i) then insert at the rank in the shorter array, in one move
                        let s = &mut self.sorted;
                        if at <= i {
                            s.copy_within(at..i, at + 1);
                            s[at] = x;
                        } else {
                            s.copy_within(i + 1..at, i);
                            s[at - 1] = x;
                        }
                        self.order.push_back(x);
                        return;
                    }
                    self.sorted.remove(i);
                    at = self.rank(x);
                }
            }
        }
        self.nans += usize::from(x.is_nan());
        self.order.push_back(x);
        self.sorted.insert(at, x);
    }

    pub(crate) fn len(&self) -> usize {
        self.sorted.len()
    }

    pub(crate) fn median(&self) -> f64 {
        median_sorted(&self.sorted)
    }

    /// Median absolute deviation from `m`. The deviations of the values below `m` grow leftwards
    /// and those of the values from `m` up grow rightwards: two sorted sequences, whose middle
    /// ranks are found by selection (O(log n) reads) rather than by merging half the window
    /// (still done when a NaN, in the window or as `m - v` of an infinite `m`, breaks the order).
    pub(crate) fn mad(&self, m: f64) -> f64 {
        let s = &self.sorted;
        let n = s.len();
        if n == 0 {
            return 0.0;
        }
        let split = s.partition_point(|&v| v < m);
        if self.nans > 0 || !m.is_finite() {
            return mad_by_merge(s, m, split);
        }
        let below = |a: usize| m - s[split - 1 - a];
        let above = |b: usize| s[split + b] - m;
        let lo = kth_of_two(&below, split, &above, n - split, (n - 1) / 2);
        if n % 2 == 1 {
            lo
        } else {
            (lo + kth_of_two(&below, split, &above, n - split, n / 2)) / 2.0
        }
    }
}

/// The MAD of sorted `s` (not empty) about `m` (`split` values below it) by merging the two
/// sides' deviations up to the middle rank.
fn mad_by_merge(s: &[f64], m: f64, split: usize) -> f64 {
    let n = s.len();
    let (mut l, mut r) = (split as isize - 1, split);
    let (target_lo, target_hi) = ((n - 1) / 2, n / 2);
    let mut lo_val = 0.0;
    let mut k = 0;
    loop {
        let dl = if l >= 0 { m - s[l as usize] } else { f64::INFINITY };
        let dr = if r < n { s[r] - m } else { f64::INFINITY };
        let d = if dl <= dr {
            l -= 1;
            dl
        } else {
            r += 1;
            dr
        };
        if k == target_lo {
            lo_val = d;
        }
        if k == target_hi {
            return (lo_val + d) / 2.0;
        }
        k += 1;
    }
}

/// The `k`-th smallest (from 0, `k < na + nb`) of the union of two ascending sequences given by
/// their element functions: how many to take from `a` is found by bisection.
fn kth_of_two(a: &dyn Fn(usize) -> f64, na: usize, b: &dyn Fn(usize) -> f64, nb: usize, k: usize) -> f64 {
    let take = k + 1;
    let (mut lo, mut hi) = (take.saturating_sub(nb), take.min(na));
    while lo < hi {
        let i = lo + (hi - lo) / 2;
        // i from a, take - i from b: too few from a while b's last taken exceeds a's next
        if b(take - i - 1) > a(i) {
            lo = i + 1;
        } else {
            hi = i;
        }
    }
    let j = take - lo;
    match (lo, j) {
        (0, _) => b(j - 1),
        (_, 0) => a(lo - 1),
        _ => a(lo - 1).max(b(j - 1)),
    }
}

/// Median of values sorted ascending (0 when empty).
pub(crate) fn median_sorted(s: &[f64]) -> f64 {
    let n = s.len();
    if n == 0 {
        0.0
    } else if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

/// Weights of the four distances (a tail probability is divided by its weight; 0 turns the
/// distance off).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Weights {
    pub level: f64,
    pub shift: f64,
    pub change: f64,
    pub novelty: f64,
}

/// Tail probabilities of one value: the smallest weighted one among the single-value distances
/// (level, change, novelty) and that of the sustained one (shift).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Tails {
    pub point: f64,
    pub sustained: f64,
}

impl Tails {
    pub(crate) const NONE: Tails = Tails {
        point: 1.0,
        sustained: 1.0,
    };
}

/// One stream's sliding window, its distances and their calibration. See the module docs.
#[derive(Debug, Clone)]
pub(crate) struct RobustStats {
    short: usize,
    weights: Weights,
    values: SortedWindow,
    steps: SortedWindow,
    recent: VecDeque<f64>,
    dists: [SortedWindow; 4],
    calibrate: bool,
    cached_mad: f64,
    scratch: Vec<f64>,
    prev: Option<f64>,
    seen: u64,
    min: f64,
    max: f64,
}

impl RobustStats {
    pub(crate) fn new(window: usize, short: usize, calibration: usize, weights: Weights) -> Self {
        RobustStats {
            short: short.max(1),
            weights,
            values: SortedWindow::new(window),
            steps: SortedWindow::new(window),
            recent: VecDeque::new(),
            dists: std::array::from_fn(|_| SortedWindow::new(calibration)),
            calibrate: calibration > 0,
            cached_mad: 0.0,
            scratch: Vec::new(),
            prev: None,
            seen: 0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        }
    }

    /// Values learned so far.
    pub(crate) fn seen(&self) -> u64 {
        self.seen
    }

    /// Median of the window (0 before any value).
    pub(crate) fn median(&self) -> f64 {
        self.values.median()
    }

    /// Tail probabilities of `x` against what has been learned, then learns `x`.
    pub(crate) fn observe(&mut self, x: f64) -> Tails {
        let d = self.distances(x);
        let w = [
            self.weights.level,
            self.weights.shift,
            self.weights.change,
            self.weights.novelty,
        ];
        let mut tails = Tails::NONE;
        for i in 0..4 {
            if w[i] <= 0.0 {
                continue;
            }
            let at = self.dists[i].rank(d[i]);
            let p = tail_probability(&self.dists[i].sorted, d[i], at) / w[i];
            if i == 1 {
                tails.sustained = tails.sustained.min(p);
            } else {
                tails.point = tails.point.min(p);
            }
            if self.calibrate {
                self.dists[i].push_ranked(d[i], at);
            }
        }
        self.learn(x);
        tails
    }

    /// The four distances of `x` from what has been learned so far.
    fn distances(&mut self, x: f64) -> [f64; 4] {
        // the window's MAD moves slowly: refresh it every 8 values (it is the costliest statistic)
        if self.seen % 8 == 0 || self.values.len() < 64 {
            let med = self.values.median();
            self.cached_mad = self.values.mad(med);
        }
        if self.values.len() < 3 {
            return [0.0; 4];
        }
        let med = self.values.median();
        let range = (self.max - self.min).abs();
        let floor = (1e-3 * range).max(1e-9 * med.abs()).max(1e-12);
        let mad = (1.4826 * self.cached_mad).max(floor);
        let level = (x - med).abs() / mad;
        let shift = if self.recent.len() + 1 >= self.short {
            let r = &mut self.scratch;
            r.clear();
            r.extend(self.recent.iter().copied().chain(std::iter::once(x)));
            r.sort_by(f64::total_cmp);
            (median_sorted(r) - med).abs() / mad
        } else {
            0.0
        };
        let change = match self.prev {
            Some(p) if self.steps.len() >= 3 => {
                let ms = self.steps.median();
                let ss = (1.4826 * self.steps.mad(ms)).max(floor);
                ((x - p).abs() - ms).max(0.0) / ss
            }
            _ => 0.0,
        };
        let novelty = if range > 0.0 {
            ((x - self.max).max(self.min - x).max(0.0)) / range
        } else if x != self.max {
            1.0
        } else {
            0.0
        };
        [level, shift, change, novelty]
    }

    fn learn(&mut self, x: f64) {
        if let (Some(p), true) = (self.prev, self.weights.change > 0.0) {
            self.steps.push((x - p).abs());
        }
        self.values.push(x);
        self.recent.push_back(x);
        while self.recent.len() >= self.short {
            self.recent.pop_front();
        }
        self.prev = Some(x);
        self.seen += 1;
        self.min = self.min.min(x);
        self.max = self.max.max(x);
    }
}

/// Estimated probability of a distance at least `d`, given past distances sorted ascending: the
/// empirical tail below their 90th percentile, and an exponential tail fitted to the excesses
/// above it (peaks over threshold), so the value keeps its meaning across series of different
/// length and noise.
/// `below` is the number of past distances below `d` (the caller has searched for it already).
pub(crate) fn tail_probability(s: &[f64], d: f64, below: usize) -> f64 {
    let n = s.len();
    if n < 20 {
        return 1.0;
    }
    let k = (n / 10).max(2);
    let u = s[n - k];
    if d <= u {
        return (n - below) as f64 / n as f64;
    }
    let beta = (s[n - k..].iter().map(|&v| v - u).sum::<f64>() / k as f64).max(1e-12);
    (k as f64 / n as f64) * (-(d - u) / beta).exp()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    #[test]
    fn mad_matches_naive() {
        let mut rng = StdRng::seed_from_u64(7);
        for n in 1..40 {
            let mut w = SortedWindow::new(n);
            let mut xs = Vec::new();
            for _ in 0..n {
                let x: f64 = rng.random_range(0.0..10.0);
                w.push(x);
                xs.push(x);
            }
            xs.sort_by(f64::total_cmp);
            let m = median_sorted(&xs);
            let mut dev: Vec<f64> = xs.iter().map(|v| (v - m).abs()).collect();
            dev.sort_by(f64::total_cmp);
            assert!((w.mad(m) - median_sorted(&dev)).abs() < 1e-12, "n={n}");
        }
    }

    /// Values with many ties (a few distinct ones), signed zeros and infinities.
    fn awkward(rng: &mut StdRng) -> f64 {
        match rng.random_range(0..20) {
            0 => 0.0,
            1 => -0.0,
            2 => f64::INFINITY,
            3 => f64::NEG_INFINITY,
            4..=9 => f64::from(rng.random_range(0..5)),
            _ => rng.random_range(-10.0..10.0),
        }
    }

    #[test]
    fn a_push_leaves_the_array_removal_and_insertion_would() {
        let mut rng = StdRng::seed_from_u64(11);
        for cap in [1, 2, 3, 7, 64] {
            let mut w = SortedWindow::new(cap);
            let (mut order, mut sorted) = (VecDeque::new(), Vec::<f64>::new());
            for step in 0..3000 {
                // a NaN now and then: the window must fall back to the plain operations
                let x = if step % 997 == 5 { f64::NAN } else { awkward(&mut rng) };
                if order.len() == cap {
                    let old: f64 = order.pop_front().unwrap();
                    let i = sorted.partition_point(|&v| v < old);
                    if i < sorted.len() {
                        sorted.remove(i);
                    }
                }
                order.push_back(x);
                let i = sorted.partition_point(|&v| v < x);
                sorted.insert(i, x);
                w.push(x);
                let bits = |s: &[f64]| s.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&w.sorted), bits(&sorted), "cap {cap}, step {step}");
            }
        }
    }

    #[test]
    fn mad_by_selection_equals_mad_by_merge() {
        let mut rng = StdRng::seed_from_u64(5);
        for cap in 1..60 {
            let mut w = SortedWindow::new(cap);
            for _ in 0..200 {
                w.push(awkward(&mut rng));
                for m in [w.median(), awkward(&mut rng), rng.random_range(-20.0..20.0)] {
                    let split = w.sorted.partition_point(|&v| v < m);
                    let (fast, merged) = (w.mad(m), mad_by_merge(&w.sorted, m, split));
                    assert!(
                        fast.to_bits() == merged.to_bits() || (fast.is_nan() && merged.is_nan()),
                        "{fast} {merged} {:?} m={m}",
                        w.sorted
                    );
                }
            }
        }
    }

    #[test]
    fn tail_probability_is_empirical_then_exponential() {
        let s: Vec<f64> = (0..100).map(f64::from).collect();
        assert_eq!(tail_probability(&s, 50.0, 50), 0.5);
        let beyond = tail_probability(&s, 200.0, 100);
        assert!(beyond > 0.0 && beyond < 1e-3, "{beyond}");
        assert_eq!(tail_probability(&s[..10], 1e9, 10), 1.0);
    }
}
