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
#[derive(Debug, Clone)]
pub(crate) struct SortedWindow {
    cap: usize,
    order: VecDeque<f64>,
    pub(crate) sorted: Vec<f64>,
}

impl SortedWindow {
    pub(crate) fn new(cap: usize) -> Self {
        SortedWindow {
            cap: cap.max(1),
            order: VecDeque::new(),
            sorted: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, x: f64) {
        if self.order.len() == self.cap {
            if let Some(old) = self.order.pop_front() {
                let i = self.sorted.partition_point(|&v| v < old);
                if i < self.sorted.len() {
                    self.sorted.remove(i);
                }
            }
        }
        self.order.push_back(x);
        let i = self.sorted.partition_point(|&v| v < x);
        self.sorted.insert(i, x);
    }

    pub(crate) fn len(&self) -> usize {
        self.sorted.len()
    }

    pub(crate) fn median(&self) -> f64 {
        median_sorted(&self.sorted)
    }

    /// Median absolute deviation from `m`, by merging the two sides of the sorted window.
    pub(crate) fn mad(&self, m: f64) -> f64 {
        let s = &self.sorted;
        let n = s.len();
        if n == 0 {
            return 0.0;
        }
        let split = s.partition_point(|&v| v < m);
        // left side deviations grow as we go left, right side as we go right
        let (mut l, mut r) = (split as isize - 1, split);
        let mut k = 0;
        let target_lo = (n - 1) / 2;
        let target_hi = n / 2;
        let mut lo_val = 0.0;
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
            let p = tail_probability(&self.dists[i].sorted, d[i]) / w[i];
            if i == 1 {
                tails.sustained = tails.sustained.min(p);
            } else {
                tails.point = tails.point.min(p);
            }
            if self.calibrate {
                self.dists[i].push(d[i]);
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
            let mut r: Vec<f64> = self.recent.iter().copied().chain(std::iter::once(x)).collect();
            r.sort_by(f64::total_cmp);
            (median_sorted(&r) - med).abs() / mad
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
pub(crate) fn tail_probability(s: &[f64], d: f64) -> f64 {
    let n = s.len();
    if n < 20 {
        return 1.0;
    }
    let k = (n / 10).max(2);
    let u = s[n - k];
    if d <= u {
        let at_least = n - s.partition_point(|&v| v < d);
        return at_least as f64 / n as f64;
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

    #[test]
    fn tail_probability_is_empirical_then_exponential() {
        let s: Vec<f64> = (0..100).map(f64::from).collect();
        assert_eq!(tail_probability(&s, 50.0), 0.5);
        let beyond = tail_probability(&s, 200.0);
        assert!(beyond > 0.0 && beyond < 1e-3, "{beyond}");
        assert_eq!(tail_probability(&s[..10], 1e9), 1.0);
    }
}
