//! Honest evaluation: parameters and threshold chosen on some categories, scored on another.
//!
//! [`Corpus::evaluate`] scores every series once per detector variant (the scores are
//! threshold-free), then, for each cooldown and each threshold of [`THRESHOLDS`], turns scores
//! into alarms with [`AlarmPolicy`] (the cooldown starts where an alarm is raised at that
//! threshold) and scores the alarms per file. From that table:
//!
//! - **in-sample**: the variant, cooldown and threshold that score best on all categories, and
//!   their score (what NAB's own sweep reports; it has seen the labels it is scored on);
//! - **leave-one-category-out**: for each category, the choice that scores best on the *other*
//!   categories, scored on the held-out one; per fold and pooled (raw scores summed over folds,
//!   normalised over all windows). Nothing about a fold's category is used to choose its
//!   parameters.
//!
//! The choice is made per profile, as NAB chooses a threshold per profile.

use super::{AlarmScorer, FileScore, Profile};
use crate::anomaly::{score_series_at, AlarmPolicy, AlarmState, DetectorConfig, Scored};

/// Thresholds tried: `1 - 10^-e` for `e` from 1 to 8 in steps of 1/8.
pub const THRESHOLDS: usize = 57;

/// The `k`-th threshold tried.
pub fn threshold(k: usize) -> f64 {
    1.0 - 10f64.powf(-(1.0 + k as f64 / 8.0))
}

/// The parameters cross-validation chooses among, around `base`: detector variants (window 750
/// or 1500 values, level weight 0 or 0.1) and cooldowns (50, 100, 200 values); the threshold is
/// swept separately.
pub fn grid(base: &DetectorConfig) -> (Vec<DetectorConfig>, Vec<usize>) {
    let mut variants = Vec::new();
    for window in [750, 1500] {
        for w_level in [0.0, 0.1] {
            variants.push(DetectorConfig {
                window,
                w_level,
                ..base.clone()
            });
        }
    }
    (variants, vec![50, 100, 200])
}

/// One labelled series.
#[derive(Debug, Clone)]
pub struct Series {
    /// File name relative to the data directory (`category/file.csv`).
    pub name: String,
    /// Times, seconds.
    pub times: Vec<f64>,
    /// Values.
    pub values: Vec<f64>,
    /// Label windows as inclusive row ranges.
    pub windows: Vec<(usize, usize)>,
}

impl Series {
    /// The category: the directory part of the name.
    pub fn category(&self) -> &str {
        self.name.split_once('/').map_or("", |c| c.0)
    }
}

/// What is chosen from the grid: a detector variant, a cooldown and a threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    /// The detector configuration (its `cooldown` and `threshold` are the chosen ones).
    pub config: DetectorConfig,
    /// Score of the choice on the data it was chosen on.
    pub train: FileScore,
}

/// One fold: a held-out category, what was chosen without it, and the score on it.
#[derive(Debug, Clone, PartialEq)]
pub struct Fold {
    /// The held-out category.
    pub category: String,
    /// Chosen on the other categories.
    pub choice: Choice,
    /// Score on the held-out category.
    pub held_out: FileScore,
}

/// The evaluation under one profile.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileResult {
    /// The profile.
    pub profile: Profile,
    /// Chosen and scored on all categories.
    pub in_sample: Choice,
    /// One fold per category.
    pub folds: Vec<Fold>,
    /// The folds' held-out scores summed.
    pub pooled: FileScore,
}

/// Series and their threshold-free scores under each detector variant.
pub struct Corpus {
    series: Vec<Series>,
    variants: Vec<DetectorConfig>,
    cooldowns: Vec<usize>,
    /// `scored[v][f]`: the scores of file `f` under variant `v`, only the rows that can reach
    /// the lowest threshold.
    scored: Vec<Vec<Vec<(usize, Scored)>>>,
}

impl Corpus {
    /// Scores every series under every variant (the slow part: one detector pass per pair).
    pub fn new(series: Vec<Series>, variants: Vec<DetectorConfig>, cooldowns: Vec<usize>) -> Corpus {
        let low = threshold(0);
        let scored = variants
            .iter()
            .map(|cfg| {
                series
                    .iter()
                    .map(|s| {
                        score_series_at(Some(&s.times), &s.values, cfg)
                            .into_iter()
                            .enumerate()
                            .filter(|(_, sc)| sc.score >= low)
                            .collect()
                    })
                    .collect()
            })
            .collect();
        Corpus {
            series,
            variants,
            cooldowns,
            scored,
        }
    }

    /// The series.
    pub fn series(&self) -> &[Series] {
        &self.series
    }

    /// Alarm rows of file `f` under variant `v`, cooldown `c` and threshold `k`.
    pub fn alarms(&self, v: usize, c: usize, k: usize, f: usize) -> Vec<usize> {
        let policy = AlarmPolicy {
            threshold: threshold(k),
            cooldown: self.cooldowns[c],
            merge: self.variants[v].merge,
        };
        let mut state = AlarmState::default();
        self.scored[v][f]
            .iter()
            .filter(|(i, s)| state.step_at(&policy, *i as u64, *s))
            .map(|(i, _)| *i)
            .collect()
    }

    /// In-sample and leave-one-category-out results under `profile`.
    pub fn evaluate(&self, profile: Profile) -> ProfileResult {
        let scorers: Vec<AlarmScorer> = self
            .series
            .iter()
            .map(|s| AlarmScorer::new(s.values.len(), &s.windows, profile))
            .collect();
        // table[(v, c, k)][f]
        let mut table = Vec::new();
        for v in 0..self.variants.len() {
            for c in 0..self.cooldowns.len() {
                for k in 0..THRESHOLDS {
                    let per_file: Vec<FileScore> = (0..self.series.len())
                        .map(|f| scorers[f].score(self.alarms(v, c, k, f)))
                        .collect();
                    table.push(((v, c, k), per_file));
                }
            }
        }
        let choose = |use_file: &dyn Fn(usize) -> bool| -> (usize, Choice) {
            let mut best: Option<((usize, usize, usize), FileScore)> = None;
            for (key, per_file) in &table {
                let mut sum = FileScore::default();
                for (_, s) in per_file.iter().enumerate().filter(|(f, _)| use_file(*f)) {
                    sum.add(s);
                }
                // ties go to the higher threshold, then the earlier variant and cooldown
                let better = match &best {
                    None => true,
                    Some((bk, b)) => sum.raw > b.raw + 1e-12 || ((sum.raw - b.raw).abs() <= 1e-12 && key.2 > bk.2),
                };
                if better {
                    best = Some((*key, sum));
                }
            }
            let ((v, c, k), train) = best.unwrap_or_default();
            let row = table.iter().position(|(key, _)| *key == (v, c, k)).unwrap_or(0);
            let choice = Choice {
                config: DetectorConfig {
                    cooldown: self.cooldowns.get(c).copied().unwrap_or_default(),
                    threshold: threshold(k),
                    ..self.variants.get(v).cloned().unwrap_or_default()
                },
                train,
            };
            (row, choice)
        };
        let in_sample = choose(&|_| true).1;
        let mut categories: Vec<&str> = self.series.iter().map(Series::category).collect();
        categories.sort_unstable();
        categories.dedup();
        let mut folds = Vec::new();
        let mut pooled = FileScore::default();
        for cat in categories {
            let (row, choice) = choose(&|f| self.series[f].category() != cat);
            let mut held_out = FileScore::default();
            for (f, s) in table.get(row).iter().flat_map(|t| t.1.iter()).enumerate() {
                if self.series[f].category() == cat {
                    held_out.add(s);
                }
            }
            pooled.add(&held_out);
            folds.push(Fold {
                category: cat.to_string(),
                choice,
                held_out,
            });
        }
        ProfileResult {
            profile,
            in_sample,
            folds,
            pooled,
        }
    }
}
