//! Seasonality found from the data: a daily or weekly profile, and the residuals against it.
//!
//! A [`SeasonalMember`] watches one candidate period (a day, a week). It splits the period
//! into phase bins one sampling step wide (the step is the median spacing of the timestamps,
//! measured by the detector), remembers the last three values seen in each bin, and predicts a
//! value by their median: "what this hour looked like on the last three days". Its residuals
//! `x - prediction` go to their own [`RobustStats`], so a holiday dip that stays inside the
//! series' overall range still stands out against the same hour of other days.
//!
//! Whether the period is real is measured, not assumed: the member keeps exponentially
//! weighted mean squares (memory of about two periods) of its residuals and of the values'
//! deviations from the series' running median, and its **strength** is
//! `1 - residual / deviation` (the share of the variation the profile explains; this is the
//! seasonal-strength measure of Wang, Smith and Hyndman, and for a stationary series it is a lag
//! autocorrelation at the period in disguise). The member speaks only after two full periods and
//! while its strength is at least the configured gate; on noise, trend or irregular data it stays
//! silent.

use std::collections::VecDeque;

use super::stats::{median_sorted, RobustStats, Tails, Weights};

/// Values remembered per phase bin.
const PER_BIN: usize = 3;
/// Most phase bins per period (longer periods at fine spacing use wider bins).
const MAX_BINS: usize = 4096;

/// One candidate period and its residual statistics. See the module docs.
#[derive(Debug, Clone)]
pub(crate) struct SeasonalMember {
    period: f64,
    bin_width: f64,
    bins: Vec<VecDeque<f64>>,
    stats: RobustStats,
    start: Option<f64>,
    ms_resid: f64,
    ms_dev: f64,
    alpha: f64,
    gate: f64,
}

impl SeasonalMember {
    /// A member for `period` seconds over data sampled every `spacing` seconds, or `None` when
    /// the period holds fewer than 4 samples (nothing to learn a shape from).
    pub(crate) fn new(period: f64, spacing: f64, gate: f64, stats: RobustStats) -> Option<Self> {
        if spacing.is_nan() || spacing <= 0.0 || period / spacing < 4.0 {
            return None;
        }
        let n_bins = ((period / spacing).round() as usize).clamp(4, MAX_BINS);
        Some(SeasonalMember {
            period,
            bin_width: period / n_bins as f64,
            bins: vec![VecDeque::new(); n_bins],
            stats,
            start: None,
            ms_resid: 0.0,
            ms_dev: 0.0,
            alpha: (spacing / (2.0 * period)).min(0.5),
            gate,
        })
    }

    /// The period, seconds.
    pub(crate) fn period(&self) -> f64 {
        self.period
    }

    /// Share of the variation explained by the profile (see the module docs).
    pub(crate) fn strength(&self) -> f64 {
        if self.ms_dev <= 0.0 {
            0.0
        } else {
            1.0 - self.ms_resid / self.ms_dev
        }
    }

    /// Tail probabilities of the value `x` at time `t` (seconds), given the series' running
    /// median; learns the value.
    pub(crate) fn observe(&mut self, t: f64, x: f64, series_median: f64) -> Tails {
        let start = *self.start.get_or_insert(t);
        let phase = (t - start).rem_euclid(self.period);
        let k = ((phase / self.bin_width) as usize).min(self.bins.len() - 1);
        let mut tails = Tails::NONE;
        if !self.bins[k].is_empty() {
            let mut past: Vec<f64> = self.bins[k].iter().copied().collect();
            past.sort_by(f64::total_cmp);
            let resid = x - median_sorted(&past);
            let dev = x - series_median;
            self.ms_resid += self.alpha * (resid * resid - self.ms_resid);
            self.ms_dev += self.alpha * (dev * dev - self.ms_dev);
            let mature = t - start >= 2.0 * self.period;
            let found = self.stats.observe(resid);
            if mature && self.strength() >= self.gate {
                tails = found;
            }
        }
        let bin = &mut self.bins[k];
        bin.push_back(x);
        if bin.len() > PER_BIN {
            bin.pop_front();
        }
        tails
    }
}

/// Default weights of a seasonal member's residual statistics: level and shift of the residual.
pub(crate) const RESIDUAL_WEIGHTS: Weights = Weights {
    level: 0.1,
    shift: 1.0,
    change: 0.0,
    novelty: 0.0,
};

#[cfg(test)]
mod tests {
    use super::*;

    fn member(period: f64) -> SeasonalMember {
        SeasonalMember::new(period, 1.0, 0.5, RobustStats::new(500, 6, 1000, RESIDUAL_WEIGHTS)).unwrap()
    }

    #[test]
    fn a_real_period_is_strong_and_noise_is_not() {
        let mut wave = member(24.0);
        let mut wrong = member(17.0);
        for t in 0..2400 {
            let x = 10.0 + 5.0 * (t as f64 * std::f64::consts::TAU / 24.0).sin();
            wave.observe(t as f64, x, 10.0);
            wrong.observe(t as f64, x, 10.0);
        }
        assert!(wave.strength() > 0.95, "{}", wave.strength());
        assert!(wrong.strength() < 0.5, "{}", wrong.strength());
        assert!(SeasonalMember::new(3.0, 1.0, 0.5, RobustStats::new(10, 2, 10, RESIDUAL_WEIGHTS)).is_none());
    }
}
