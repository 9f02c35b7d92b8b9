//! The streaming detector for one metric of one stream: an ensemble of simple members.
//!
//! [`AnomalyDetector::observe`] consumes values one at a time (with their time, when known) and
//! returns a threshold-free [`Scored`]; it is causal (it never looks ahead) and needs no training
//! beyond the values it has seen. The members, each a tail probability per value:
//!
//! | member | sees | catches |
//! |---|---|---|
//! | level | `|x - median| / MAD` of the sliding window | spikes and dips |
//! | shift | median of the last `short` values against the window's | level shifts, regime changes (a *sustained* score) |
//! | novelty | distance beyond the range seen so far | values never seen before |
//! | change | the step from the previous value | jumps (off by default: it duplicates level) |
//! | seasonal (day, week) | level and shift of the residual against the same phase of earlier periods ([`super::seasonal`]) | departures from the daily or weekly shape (a holiday dip inside the usual range) |
//!
//! The score is `1 - min(p_member / weight)`, and its kind is that of the winning member.
//! [`AnomalyDetector::update`] applies the configured [`AlarmPolicy`] on top (threshold and
//! cooldown); `nab-eval` applies the policy at each threshold it tries, so the figures in
//! BENCHMARKS.md are for exactly this rule.
//!
//! Written by hand because no maintained crate offers a streaming, causal, residual-aware
//! detector with this alarm policy; the building blocks (sorted window, median, MAD) are small.

use std::collections::VecDeque;

use super::alarm::{AlarmKind, AlarmPolicy, AlarmState, Scored};
use super::seasonal::{SeasonalMember, RESIDUAL_WEIGHTS};
use super::stats::{RobustStats, Tails, Weights};

/// Candidate seasonal periods, seconds: a day and a week.
pub const PERIODS: [f64; 2] = [86_400.0, 7.0 * 86_400.0];
/// Time steps measured before the sampling spacing (and so the seasonal bins) is fixed.
const SPACING_SAMPLES: usize = 64;

/// Tuning of [`AnomalyDetector`], the same for every series. The defaults are the best choice on
/// all of NAB's categories with the level member on (`w_level` 0.1: an execution's one slow run
/// inside the usual range is what an operator wants to hear about; NAB's wide label windows favour
/// the shift member, and `nab-eval --cv` lets each fold choose the level weight, see
/// BENCHMARKS.md).
#[derive(Debug, Clone, PartialEq)]
pub struct DetectorConfig {
    /// Values in the sliding reference window.
    pub window: usize,
    /// Values in the short window compared with the reference window (shift statistic).
    pub short: usize,
    /// Values seen before any score above 0 is emitted.
    pub warmup: usize,
    /// A score counts only when it beats every score of the last `debounce` values (0: off);
    /// threshold-free, so a plateau of high scores offers one candidate alarm, not many.
    pub debounce: usize,
    /// Values after an alarm during which alarms it would repeat are muted ([`AlarmPolicy`]).
    pub cooldown: usize,
    /// Values after a point alarm during which a sustained alarm counts as the same event.
    pub merge: usize,
    /// Weight of the level member (its tail probability is divided by the weight; 0: off).
    pub w_level: f64,
    /// Weight of the shift member.
    pub w_shift: f64,
    /// Weight of the change member.
    pub w_change: f64,
    /// Weight of the novelty member.
    pub w_novelty: f64,
    /// Weight of the seasonal members (0: off).
    pub w_seasonal: f64,
    /// Seasonal strength (share of variation a period's profile explains) from which a seasonal
    /// member speaks.
    pub seasonal_gate: f64,
    /// Past distances kept to calibrate each member's tail probability.
    pub calibration: usize,
    /// Score at or above which a value raises an alarm.
    pub threshold: f64,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        DetectorConfig {
            window: 1500,
            short: 6,
            warmup: 60,
            debounce: 120,
            cooldown: 100,
            merge: 12,
            w_level: 0.1,
            w_shift: 1.0,
            w_change: 0.0,
            w_novelty: 1.0,
            w_seasonal: 1.0,
            seasonal_gate: 0.5,
            calibration: 2000,
            threshold: 0.998_222,
        }
    }
}

impl DetectorConfig {
    /// The alarm policy this configuration applies.
    pub fn policy(&self) -> AlarmPolicy {
        AlarmPolicy {
            threshold: self.threshold,
            cooldown: self.cooldown,
            merge: self.merge,
        }
    }
}

/// Streaming detector for one metric of one stream. See the module docs.
#[derive(Debug, Clone)]
pub struct AnomalyDetector {
    cfg: DetectorConfig,
    raw: RobustStats,
    seasonal: Vec<SeasonalMember>,
    steps: Vec<f64>,
    last_t: Option<f64>,
    recent_scores: [VecDeque<f64>; 2],
    alarms: AlarmState,
}

impl AnomalyDetector {
    /// A detector with the given tuning.
    pub fn new(cfg: DetectorConfig) -> Self {
        let weights = Weights {
            level: cfg.w_level,
            shift: cfg.w_shift,
            change: cfg.w_change,
            novelty: cfg.w_novelty,
        };
        AnomalyDetector {
            raw: RobustStats::new(cfg.window, cfg.short, cfg.calibration, weights),
            seasonal: Vec::new(),
            steps: Vec::new(),
            last_t: None,
            recent_scores: Default::default(),
            alarms: AlarmState::default(),
            cfg,
        }
    }

    /// The tuning in use.
    pub fn config(&self) -> &DetectorConfig {
        &self.cfg
    }

    /// Values consumed so far (non-finite values are ignored and not counted).
    pub fn seen(&self) -> u64 {
        self.raw.seen()
    }

    /// Median of the values in the sliding window (0 before any value).
    pub fn window_median(&self) -> f64 {
        self.raw.median()
    }

    /// Seasonal periods (seconds) currently strong enough to speak, with their strength.
    pub fn seasonality(&self) -> Vec<(f64, f64)> {
        self.seasonal
            .iter()
            .filter(|m| m.strength() >= self.cfg.seasonal_gate)
            .map(|m| (m.period(), m.strength()))
            .collect()
    }

    /// Whether a score returned by [`AnomalyDetector::update`] counts as an anomaly.
    pub fn is_anomaly(&self, score: f64) -> bool {
        score >= self.cfg.threshold
    }

    /// Consumes one value (and optionally what the size model predicted for it) and returns its
    /// score after the alarm policy: at or above the threshold only when it raises an alarm (a
    /// muted score is returned as 0). Non-finite values return 0 and are ignored.
    pub fn update(&mut self, value: f64, predicted: Option<f64>) -> f64 {
        self.update_at(None, value, predicted)
    }

    /// [`AnomalyDetector::update`] for a value observed at `t_secs` (seconds on any fixed
    /// origin), which lets the seasonal members learn the daily and weekly shape.
    pub fn update_at(&mut self, t_secs: Option<f64>, value: f64, predicted: Option<f64>) -> f64 {
        let s = self.observe(t_secs, value, predicted);
        let policy = self.cfg.policy();
        let alarm = self.alarms.step(&policy, s);
        if !alarm && s.score >= policy.threshold {
            0.0
        } else {
            s.score
        }
    }

    /// The threshold-free score of one value (see the module docs); apply an [`AlarmPolicy`]
    /// to turn scores into alarms.
    pub fn observe(&mut self, t_secs: Option<f64>, value: f64, predicted: Option<f64>) -> Scored {
        let x = match predicted {
            Some(p) if p.is_finite() => value - p,
            _ => value,
        };
        if !x.is_finite() {
            return Scored::default();
        }
        let median = self.raw.median();
        let mut tails = self.raw.observe(x);
        if let Some(t) = t_secs.filter(|t| t.is_finite()) {
            self.learn_spacing(t);
            let w = self.cfg.w_seasonal;
            for m in &mut self.seasonal {
                let found = m.observe(t, x, median);
                if w > 0.0 {
                    tails.point = tails.point.min(found.point / w);
                    tails.sustained = tails.sustained.min(found.sustained / w);
                }
            }
        }
        if (self.raw.seen() as usize) <= self.cfg.warmup {
            return Scored::default();
        }
        self.debounced(tails)
    }

    /// The score of `tails`: each kind's score counts only when it beats that kind's scores of
    /// the last `debounce` values (per kind, so a spike does not hide a later shift), and the
    /// higher of the two that count is returned.
    fn debounced(&mut self, tails: Tails) -> Scored {
        let raw = [
            (1.0 - tails.point).clamp(0.0, 1.0),
            (1.0 - tails.sustained).clamp(0.0, 1.0),
        ];
        let mut counted = [0.0; 2];
        for k in 0..2 {
            let history = &mut self.recent_scores[k];
            if history.iter().all(|&r| raw[k] > r) {
                counted[k] = raw[k];
            }
            if self.cfg.debounce > 0 {
                history.push_back(raw[k]);
                if history.len() > self.cfg.debounce {
                    history.pop_front();
                }
            }
        }
        if counted[1] > counted[0] {
            Scored {
                score: counted[1],
                kind: AlarmKind::Sustained,
            }
        } else {
            Scored {
                score: counted[0],
                kind: AlarmKind::Point,
            }
        }
    }

    /// Measures the sampling spacing from the first time steps, then starts the seasonal members.
    fn learn_spacing(&mut self, t: f64) {
        if let Some(prev) = self.last_t.replace(t) {
            if self.steps.len() < SPACING_SAMPLES && t > prev {
                self.steps.push(t - prev);
                if self.steps.len() == SPACING_SAMPLES {
                    self.steps.sort_by(f64::total_cmp);
                    let spacing = super::stats::median_sorted(&self.steps);
                    let cfg = &self.cfg;
                    self.seasonal = PERIODS
                        .iter()
                        .filter_map(|&p| {
                            let stats = RobustStats::new(cfg.window, cfg.short, cfg.calibration, RESIDUAL_WEIGHTS);
                            SeasonalMember::new(p, spacing, cfg.seasonal_gate, stats)
                        })
                        .collect();
                }
            }
        }
    }
}

/// Scores a whole series with a fresh detector, threshold-free (times in seconds, when known).
pub fn score_series_at(times: Option<&[f64]>, values: &[f64], cfg: &DetectorConfig) -> Vec<Scored> {
    let mut d = AnomalyDetector::new(cfg.clone());
    values
        .iter()
        .enumerate()
        .map(|(i, &v)| d.observe(times.and_then(|t| t.get(i).copied()), v, None))
        .collect()
}

/// Scores a whole series with a fresh detector and its alarm policy (convenience for tests).
pub fn score_series(values: &[f64], cfg: &DetectorConfig) -> Vec<f64> {
    let mut d = AnomalyDetector::new(cfg.clone());
    values.iter().map(|&v| d.update(v, None)).collect()
}
