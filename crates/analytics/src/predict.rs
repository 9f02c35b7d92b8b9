//! Prediction of a metric (duration, CPU, memory) from the input size.
//!
//! [`SizeModel::fit`] fits the usual complexity classes, `y = c + a·g(n)` with `g` one of `1`,
//! `log n`, `n`, `n log n`, `n²`, by weighted least squares on *relative* error (weights `1/y²`,
//! so small and large inputs count alike), keeps the class with the least mean relative error,
//! and also fits a power law with a constant term, `y = c + a·n^b` (a pure power law is biased
//! by fixed overhead), by least squares over a grid of exponents. Predictions use the best class
//! (it extrapolates more safely than a free exponent) and come with an interval taken from the
//! quantiles of the relative residuals (with a split-conformal finite-sample correction), widened
//! by the leverage of the new point so it grows when extrapolating.
//!
//! Written by hand: the fits are two-parameter weighted least squares in closed form, smaller
//! than any dependency that would do them.
//!
//! ```
//! use servicetask_analytics::predict::{Complexity, SizeModel};
//! let pts: Vec<(f64, f64)> = (1..=50).map(|i| (i as f64 * 100.0, 5.0 + 0.01 * (i * 100) as f64)).collect();
//! let m = SizeModel::fit(&pts).unwrap();
//! assert_eq!(m.class(), Complexity::Linear);
//! let p = m.predict(50_000.0);
//! assert!((p.expected - 505.0).abs() < 1.0);
//! assert!(p.low <= p.expected && p.expected <= p.high);
//! ```

use serde::{Deserialize, Serialize};

use crate::error::AnalyticsError;

/// A complexity class `y = c + a·g(n)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Complexity {
    /// O(1): `g(n) = 1` (the model is just `c`).
    Constant,
    /// O(log n).
    Log,
    /// O(n).
    Linear,
    /// O(n log n).
    NLogN,
    /// O(n²).
    Quadratic,
}

impl Complexity {
    /// All classes, simplest first.
    pub const ALL: [Complexity; 5] = [
        Complexity::Constant,
        Complexity::Log,
        Complexity::Linear,
        Complexity::NLogN,
        Complexity::Quadratic,
    ];

    /// The basis function `g(n)` (logs use `max(n, 1)`).
    pub fn basis(self, n: f64) -> f64 {
        let n = n.max(0.0);
        match self {
            Complexity::Constant => 0.0,
            Complexity::Log => n.max(1.0).ln(),
            Complexity::Linear => n,
            Complexity::NLogN => n * n.max(1.0).ln(),
            Complexity::Quadratic => n * n,
        }
    }

    /// Big-O notation, e.g. `O(n log n)`.
    pub fn notation(self) -> &'static str {
        match self {
            Complexity::Constant => "O(1)",
            Complexity::Log => "O(log n)",
            Complexity::Linear => "O(n)",
            Complexity::NLogN => "O(n log n)",
            Complexity::Quadratic => "O(n^2)",
        }
    }

    /// The power-law exponents `b` of `c + a·n^b` this class is consistent with (over the size
    /// ranges a history covers, `n log n` looks like `n^1.0` to `n^1.5`, `log n` like a small
    /// power).
    pub fn exponent_range(self) -> (f64, f64) {
        match self {
            Complexity::Constant => (f64::NEG_INFINITY, 0.15),
            Complexity::Log => (0.0, 0.6),
            Complexity::Linear => (0.8, 1.2),
            Complexity::NLogN => (1.0, 1.5),
            Complexity::Quadratic => (1.6, 2.4),
        }
    }
}

/// Mean relative error above which a size model is not named: the report says "no reliable
/// model" instead of a class.
pub const MAX_RELIABLE_ERROR: f64 = 0.25;

/// What a report says about a size model: the class it names (or none), and its error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelVerdict {
    /// The chosen class, when its error is at most [`MAX_RELIABLE_ERROR`].
    pub class: Option<Complexity>,
    /// The best class's mean relative error on the history.
    pub mean_rel_error: f64,
    /// The power-law exponent, only when it agrees with the class (see
    /// [`Complexity::exponent_range`]); a disagreeing exponent is never shown beside a class.
    pub power_exponent: Option<f64>,
    /// One line: `O(n) (mean relative error 4.1%; power law exponent 1.02)`, or `no reliable
    /// model (the best fit, O(n), is off by 48.0% on average; a model is named up to 25%)`.
    pub text: String,
}

/// One fitted curve `y = c + a·g(n)` with its mean relative error on the training points.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ClassFit {
    /// The class.
    pub class: Complexity,
    /// Constant term.
    pub c: f64,
    /// Coefficient of `g(n)`.
    pub a: f64,
    /// Mean relative error `|ŷ - y| / |y|` on the training points.
    pub mean_rel_error: f64,
}

impl ClassFit {
    /// Value of the curve at `n`.
    pub fn eval(&self, n: f64) -> f64 {
        self.c + self.a * self.class.basis(n)
    }
}

/// A fitted power law with a constant term, `y = c + a·n^b`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PowerLaw {
    /// Constant term (fixed overhead).
    pub c: f64,
    /// Scale.
    pub a: f64,
    /// Exponent.
    pub b: f64,
    /// Mean relative error on the training points.
    pub mean_rel_error: f64,
}

impl PowerLaw {
    /// Value of the curve at `n`.
    pub fn eval(&self, n: f64) -> f64 {
        self.c + self.a * n.max(0.0).powf(self.b)
    }
}

/// A prediction with an interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    /// The input size predicted for.
    pub input_size: f64,
    /// Expected value.
    pub expected: f64,
    /// Lower bound of the interval.
    pub low: f64,
    /// Upper bound of the interval.
    pub high: f64,
    /// Nominal coverage of the interval (e.g. 0.9).
    pub level: f64,
}

/// A model of a metric against input size. See the module docs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SizeModel {
    best: ClassFit,
    fits: Vec<ClassFit>,
    power: Option<PowerLaw>,
    /// Sorted relative residuals `y / ŷ - 1` of the best class.
    residuals: Vec<f64>,
    /// Weighted design sums `Σw, Σw·g, Σw·g²` of the best class (for the leverage of a new point).
    design: [f64; 3],
    max_train_size: f64,
    points: usize,
}

/// Interval coverage used by [`SizeModel::predict`].
pub const DEFAULT_LEVEL: f64 = 0.9;

impl SizeModel {
    /// Fits the model to `(input_size, value)` points. Points with a non-finite coordinate or a
    /// negative size are ignored; at least two usable points are needed.
    pub fn fit(points: &[(f64, f64)]) -> Result<SizeModel, AnalyticsError> {
        let mut m = Self::fit_classes(points)?;
        let pts: Vec<(f64, f64)> = points
            .iter()
            .copied()
            .filter(|(n, y)| n.is_finite() && y.is_finite() && *n >= 0.0)
            .collect();
        m.power = fit_power(&pts);
        Ok(m)
    }

    /// Like [`SizeModel::fit`] without the power-law fit (about ten times cheaper); predictions
    /// are the same, [`SizeModel::power_law`] is `None`.
    pub fn fit_classes(points: &[(f64, f64)]) -> Result<SizeModel, AnalyticsError> {
        let pts: Vec<(f64, f64)> = points
            .iter()
            .copied()
            .filter(|(n, y)| n.is_finite() && y.is_finite() && *n >= 0.0)
            .collect();
        if pts.len() < 2 {
            return Err(AnalyticsError::NotEnoughData {
                needed: 2,
                got: pts.len(),
            });
        }
        let fits: Vec<ClassFit> = Complexity::ALL.iter().filter_map(|&k| fit_class(&pts, k)).collect();
        // Prefer the simpler class unless a more complex one is clearly better (2% relative).
        let Some(mut best) = fits.first().copied() else {
            return Err(AnalyticsError::NotEnoughData { needed: 2, got: 0 });
        };
        for f in &fits[1..] {
            if f.mean_rel_error < best.mean_rel_error * 0.98 - 1e-12 {
                best = *f;
            }
        }
        let mut residuals: Vec<f64> = pts
            .iter()
            .map(|&(n, y)| {
                let p = best.eval(n);
                if p.abs() > 1e-300 {
                    y / p - 1.0
                } else {
                    0.0
                }
            })
            .collect();
        residuals.sort_by(f64::total_cmp);
        let max_train_size = pts.iter().map(|p| p.0).fold(0.0, f64::max);
        let mut design = [0.0; 3];
        for &(n, y) in &pts {
            let (w, x) = (weight(y), best.class.basis(n));
            design[0] += w;
            design[1] += w * x;
            design[2] += w * x * x;
        }
        Ok(SizeModel {
            best,
            fits,
            power: None,
            residuals,
            design,
            max_train_size,
            points: pts.len(),
        })
    }

    /// The chosen complexity class.
    pub fn class(&self) -> Complexity {
        self.best.class
    }

    /// The chosen fit.
    pub fn best_fit(&self) -> &ClassFit {
        &self.best
    }

    /// Every class that could be fitted, simplest first.
    pub fn class_fits(&self) -> &[ClassFit] {
        &self.fits
    }

    /// The power-law fit `c + a·n^b`, if the data allowed one.
    pub fn power_law(&self) -> Option<&PowerLaw> {
        self.power.as_ref()
    }

    /// Largest input size seen in training.
    pub fn max_train_size(&self) -> f64 {
        self.max_train_size
    }

    /// Training points used.
    pub fn points(&self) -> usize {
        self.points
    }

    /// Predicts the metric at `input_size` with a [`DEFAULT_LEVEL`] interval.
    pub fn predict(&self, input_size: f64) -> Prediction {
        self.predict_with_level(input_size, DEFAULT_LEVEL)
    }

    /// Predicts with an interval of the given nominal coverage (clamped to `[0, 1)`), from the
    /// quantiles of the relative residuals.
    pub fn predict_with_level(&self, input_size: f64, level: f64) -> Prediction {
        let level = if level.is_finite() {
            level.clamp(0.0, 0.999)
        } else {
            DEFAULT_LEVEL
        };
        let n = input_size.max(0.0);
        let e = self.best.eval(n);
        // split-conformal style finite-sample correction of the quantile levels
        let m = self.residuals.len().max(1) as f64;
        let tail = (1.0 - (1.0 - (1.0 - level) / 2.0) * (m + 1.0) / m).max(0.0);
        let mid = quantile_sorted(&self.residuals, 0.5);
        // widen the residual spread by the leverage of the new point (parameter uncertainty,
        // which grows when extrapolating): factor sqrt(1 + h0)
        let factor = (1.0 + self.leverage(n)).sqrt();
        let lo = mid + (quantile_sorted(&self.residuals, tail) - mid) * factor;
        let hi = mid + (quantile_sorted(&self.residuals, 1.0 - tail) - mid) * factor;
        let (a, b) = (e * (1.0 + lo), e * (1.0 + hi));
        Prediction {
            input_size,
            expected: e,
            low: a.min(b).min(e),
            high: a.max(b).max(e),
            level,
        }
    }

    /// Leverage of a new point at size `n` in the relative-error fit: `g0ᵀ M⁻¹ g0 / ŷ0²`.
    fn leverage(&self, n: f64) -> f64 {
        let [sw, swx, swxx] = self.design;
        let y0 = self.best.eval(n);
        if sw <= 0.0 || y0.abs() < 1e-300 {
            return 0.0;
        }
        let g = self.best.class.basis(n);
        let q = if self.best.class == Complexity::Constant {
            1.0 / sw
        } else {
            let det = sw * swxx - swx * swx;
            if det.abs() <= 1e-12 * sw * swxx.max(1e-300) {
                1.0 / sw
            } else {
                (swxx - 2.0 * swx * g + sw * g * g) / det
            }
        };
        let h = q / (y0 * y0);
        if h.is_finite() {
            h.max(0.0)
        } else {
            0.0
        }
    }

    /// Predicts for each input size of a batch.
    pub fn predict_batch(&self, input_sizes: &[f64]) -> Vec<Prediction> {
        input_sizes.iter().map(|&n| self.predict(n)).collect()
    }

    /// Whether the metric grows faster than linearly with input size: the class is above
    /// `O(n)` (the power law is not consulted on its own, so the two never disagree).
    pub fn superlinear(&self) -> bool {
        matches!(self.best.class, Complexity::NLogN | Complexity::Quadratic)
    }

    /// What a report should say about this model (see [`ModelVerdict`]).
    pub fn verdict(&self) -> ModelVerdict {
        let err = self.best.mean_rel_error;
        let name = self.best.class.notation();
        if err.is_nan() || err > MAX_RELIABLE_ERROR {
            return ModelVerdict {
                class: None,
                mean_rel_error: err,
                power_exponent: None,
                text: format!(
                    "no reliable model (the best fit, {name}, is off by {:.1}% on average; a model is named up to {:.0}%)",
                    err * 100.0,
                    MAX_RELIABLE_ERROR * 100.0
                ),
            };
        }
        let (lo, hi) = self.best.class.exponent_range();
        let power_exponent = self.power.map(|p| p.b).filter(|b| (lo..=hi).contains(b));
        let power = power_exponent.map_or(String::new(), |b| format!("; power law exponent {b:.2}"));
        ModelVerdict {
            class: Some(self.best.class),
            mean_rel_error: err,
            power_exponent,
            text: format!("{name} (mean relative error {:.1}%{power})", err * 100.0),
        }
    }
}

/// Linear interpolation quantile of an ascending slice (0 when empty).
pub(crate) fn quantile_sorted(s: &[f64], q: f64) -> f64 {
    if s.is_empty() {
        return 0.0;
    }
    let q = if q.is_finite() { q.clamp(0.0, 1.0) } else { 0.5 };
    let pos = q * (s.len() - 1) as f64;
    let i = pos.floor() as usize;
    let f = pos - i as f64;
    if i + 1 < s.len() {
        s[i] * (1.0 - f) + s[i + 1] * f
    } else {
        s[i]
    }
}

fn weight(y: f64) -> f64 {
    1.0 / y.abs().max(1e-12).powi(2)
}

fn mean_rel_error(pts: &[(f64, f64)], f: impl Fn(f64) -> f64) -> f64 {
    pts.iter()
        .map(|&(n, y)| (f(n) - y).abs() / y.abs().max(1e-12))
        .sum::<f64>()
        / pts.len() as f64
}

/// Weighted least squares of `y = c + a·x` with weights `1/y²`, constrained to `c, a >= 0` by
/// refitting with one parameter at zero when the free fit goes negative.
fn wls(pts: &[(f64, f64)], x: impl Fn(f64) -> f64) -> Option<(f64, f64)> {
    let (mut sw, mut swx, mut swy, mut swxx, mut swxy) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for &(n, y) in pts {
        let w = weight(y);
        let xi = x(n);
        sw += w;
        swx += w * xi;
        swy += w * y;
        swxx += w * xi * xi;
        swxy += w * xi * y;
    }
    let det = sw * swxx - swx * swx;
    let c_only = swy / sw;
    let a_only = if swxx > 0.0 { swxy / swxx } else { 0.0 };
    if det.abs() <= 1e-12 * sw * swxx.max(1e-300) {
        return Some((c_only, 0.0));
    }
    let a = (sw * swxy - swx * swy) / det;
    let c = (swy - a * swx) / sw;
    if !(a.is_finite() && c.is_finite()) {
        return None;
    }
    if a < 0.0 {
        Some((c_only, 0.0))
    } else if c < 0.0 {
        Some((0.0, a_only.max(0.0)))
    } else {
        Some((c, a))
    }
}

fn fit_class(pts: &[(f64, f64)], class: Complexity) -> Option<ClassFit> {
    let (c, a) = if class == Complexity::Constant {
        let (sw, swy) = pts
            .iter()
            .fold((0.0, 0.0), |(a, b), &(_, y)| (a + weight(y), b + weight(y) * y));
        (swy / sw, 0.0)
    } else {
        wls(pts, |n| class.basis(n))?
    };
    let fit = ClassFit {
        class,
        c,
        a,
        mean_rel_error: 0.0,
    };
    let e = mean_rel_error(pts, |n| fit.eval(n));
    e.is_finite().then_some(ClassFit {
        mean_rel_error: e,
        ..fit
    })
}

fn fit_power(pts: &[(f64, f64)]) -> Option<PowerLaw> {
    let eval = |b: f64| {
        let (c, a) = wls(pts, |n| n.powf(b))?;
        let e = mean_rel_error(pts, |n| c + a * n.powf(b));
        e.is_finite().then_some(PowerLaw {
            c,
            a,
            b,
            mean_rel_error: e,
        })
    };
    let better = |best: Option<PowerLaw>, p: Option<PowerLaw>| match (best, p) {
        (Some(x), Some(y)) if y.mean_rel_error < x.mean_rel_error => Some(y),
        (None, y) => y,
        (x, _) => x,
    };
    // coarse grid over b in (0, 3] by 0.1, then a fine grid by 0.01 around the best
    let mut best = None;
    for i in 1..=30 {
        best = better(best, eval(i as f64 * 0.1));
    }
    let centre = best.map_or(1.0, |p: PowerLaw| p.b);
    for i in -10..=10 {
        let b = centre + i as f64 * 0.01;
        if b > 0.0 && b <= 3.0 {
            best = better(best, eval(b));
        }
    }
    best
}

/// Resource forecasting per task: size models of duration (seconds), CPU (seconds) and peak
/// memory (bytes) fitted from execution records.
///
/// ```
/// use servicetask_analytics::anomaly::Metric;
/// use servicetask_analytics::predict::Forecaster;
/// use servicetask_core::record::{ExecutionRecord, OutcomeKind};
/// let recs: Vec<_> = (1..=50u64)
///     .map(|n| {
///         let mut r = ExecutionRecord::new("resize", n as i64, 1_000_000 * n, OutcomeKind::Complete);
///         r.input_size = Some(n * 10);
///         r
///     })
///     .collect();
/// let f = Forecaster::from_records(&recs);
/// let p = f.predict("resize", 1000.0).unwrap(); // duration at input size 1000
/// assert!((p.expected - 0.1).abs() < 1e-6);
/// assert!(f.predict_metric("resize", Metric::Memory, 1000.0).is_none()); // no memory recorded
/// let batch = f.predict_batch("resize", &[100.0, 200.0]).unwrap();
/// assert!((batch.total_duration_secs - 0.03).abs() < 1e-6);
/// ```
#[derive(Debug, Clone, Default)]
pub struct Forecaster {
    models: std::collections::BTreeMap<(String, crate::anomaly::Metric), SizeModel>,
}

/// The forecast for a batch of inputs of one task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchForecast {
    /// Per-input duration predictions (seconds).
    pub durations: Vec<Prediction>,
    /// Sum of expected durations if run one after another (seconds).
    pub total_duration_secs: f64,
    /// Sum of the upper bounds (seconds): a pessimistic total.
    pub total_duration_high_secs: f64,
    /// Sum of expected CPU time (seconds), when CPU is recorded.
    pub total_cpu_secs: Option<f64>,
    /// Largest expected peak memory of one input (bytes), when memory is recorded.
    pub peak_memory_bytes: Option<f64>,
}

impl Forecaster {
    /// Fits a model per task and metric from records with an input size (at least 5 such
    /// records with 2 distinct sizes are needed for a model).
    pub fn from_records(records: &[servicetask_core::record::ExecutionRecord]) -> Forecaster {
        use crate::anomaly::Metric;
        let mut pts: std::collections::BTreeMap<(String, Metric), Vec<(f64, f64)>> = Default::default();
        for r in records {
            let Some(n) = r.input_size else { continue };
            for m in Metric::ALL {
                if let Some(v) = m.value(r) {
                    pts.entry((r.task.clone(), m)).or_default().push((n as f64, v));
                }
            }
        }
        let models = pts
            .into_iter()
            .filter(|(_, p)| p.len() >= 5 && p.iter().any(|q| q.0 != p[0].0))
            .filter_map(|(k, p)| SizeModel::fit(&p).ok().map(|m| (k, m)))
            .collect();
        Forecaster { models }
    }

    /// Expected duration (seconds) of `task` at `input_size`, with an interval.
    pub fn predict(&self, task: &str, input_size: f64) -> Option<Prediction> {
        self.predict_metric(task, crate::anomaly::Metric::Duration, input_size)
    }

    /// Expected value of a metric (duration and CPU in seconds, memory in bytes).
    pub fn predict_metric(&self, task: &str, metric: crate::anomaly::Metric, input_size: f64) -> Option<Prediction> {
        Some(self.model(task, metric)?.predict(input_size))
    }

    /// The fitted model of a task's metric.
    pub fn model(&self, task: &str, metric: crate::anomaly::Metric) -> Option<&SizeModel> {
        self.models.get(&(task.to_string(), metric))
    }

    /// Forecast for a batch of inputs of one task; `None` without a duration model.
    pub fn predict_batch(&self, task: &str, input_sizes: &[f64]) -> Option<BatchForecast> {
        use crate::anomaly::Metric;
        let durations = self.model(task, Metric::Duration)?.predict_batch(input_sizes);
        let total_cpu_secs = self
            .model(task, Metric::Cpu)
            .map(|m| input_sizes.iter().map(|&n| m.predict(n).expected).sum());
        let peak_memory_bytes = self
            .model(task, Metric::Memory)
            .map(|m| input_sizes.iter().map(|&n| m.predict(n).expected).fold(0.0, f64::max));
        Some(BatchForecast {
            total_duration_secs: durations.iter().map(|p| p.expected).sum(),
            total_duration_high_secs: durations.iter().map(|p| p.high).sum(),
            durations,
            total_cpu_secs,
            peak_memory_bytes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    fn noisy(rng: &mut StdRng, sd: f64) -> f64 {
        // approximately normal: sum of 12 uniforms
        let s: f64 = (0..12).map(|_| rng.random_range(0.0..1.0)).sum::<f64>() - 6.0;
        1.0 + sd * s
    }

    fn synth(rng: &mut StdRng, class: Complexity, sizes: &[f64], sd: f64) -> Vec<(f64, f64)> {
        let a = match class {
            Complexity::Quadratic => 1e-4,
            Complexity::NLogN => 0.01,
            _ => 0.1,
        };
        sizes
            .iter()
            .map(|&n| (n, (2.0 + a * class.basis(n)) * noisy(rng, sd)))
            .collect()
    }

    #[test]
    fn picks_linear_vs_quadratic_and_extrapolates() {
        let mut rng = StdRng::seed_from_u64(2024);
        let sizes: Vec<f64> = (1..=40).map(|i| i as f64 * 25.0).collect();
        let mut right = 0;
        let mut ape = Vec::new();
        let trials = 50;
        for t in 0..trials {
            let class = if t % 2 == 0 {
                Complexity::Linear
            } else {
                Complexity::Quadratic
            };
            let pts = synth(&mut rng, class, &sizes, 0.05);
            let m = SizeModel::fit(&pts).unwrap();
            if m.class() == class {
                right += 1;
            }
            let a = if class == Complexity::Quadratic { 1e-4 } else { 0.1 };
            let truth = 2.0 + a * class.basis(10_000.0);
            ape.push((m.predict(10_000.0).expected - truth).abs() / truth);
        }
        assert!(right as f64 >= 0.9 * trials as f64, "right {right}/{trials}");
        let mape = ape.iter().sum::<f64>() / ape.len() as f64;
        assert!(mape <= 0.10, "mape {mape}");
    }

    #[test]
    fn power_law_recovers_exponent_with_overhead() {
        let pts: Vec<(f64, f64)> = (1..=30)
            .map(|i| (i as f64 * 10.0, 50.0 + 0.5 * (i as f64 * 10.0).powf(1.5)))
            .collect();
        let m = SizeModel::fit(&pts).unwrap();
        let p = m.power_law().unwrap();
        assert!((p.b - 1.5).abs() < 0.02, "b {}", p.b);
        assert!((p.c - 50.0).abs() < 2.0, "c {}", p.c);
        assert!(m.superlinear());
    }

    #[test]
    fn interval_covers_noise() {
        let mut rng = StdRng::seed_from_u64(9);
        let sizes: Vec<f64> = (0..200).map(|i| 10.0 + (i % 50) as f64 * 20.0).collect();
        let pts = synth(&mut rng, Complexity::Linear, &sizes, 0.05);
        let m = SizeModel::fit(&pts).unwrap();
        let test = synth(&mut rng, Complexity::Linear, &sizes, 0.05);
        let inside = test
            .iter()
            .filter(|&&(n, y)| {
                let p = m.predict(n);
                p.low <= y && y <= p.high
            })
            .count();
        let cov = inside as f64 / test.len() as f64;
        assert!((0.8..=0.97).contains(&cov), "coverage {cov}");
        assert_eq!(m.predict_batch(&[1.0, 2.0]).len(), 2);
    }

    #[test]
    fn degenerate_inputs() {
        assert!(SizeModel::fit(&[]).is_err());
        assert!(SizeModel::fit(&[(1.0, f64::NAN), (2.0, 1.0)]).is_err());
        let m = SizeModel::fit(&[(5.0, 3.0), (5.0, 3.0), (5.0, 3.0)]).unwrap();
        assert_eq!(m.class(), Complexity::Constant);
        assert!((m.predict(100.0).expected - 3.0).abs() < 1e-9);
        let m = SizeModel::fit(&[(0.0, 0.0), (1.0, 0.0)]).unwrap();
        assert!(m.predict(10.0).expected.is_finite());
        let p = m.predict_with_level(f64::NAN, f64::NAN);
        assert!(p.level.is_finite());
    }
}
