//! NAB (Numenta Anomaly Benchmark) scoring, implemented from `shared/nab/SCORING.md`.
//!
//! The scorer reproduces what NAB's code does: a probationary period per file, scaled-sigmoid
//! weights for detections inside and after label windows, one window scored once (its earliest
//! detection), every flagged row outside a window penalised, one threshold for the whole corpus
//! chosen by an exhaustive sweep, and normalisation against the null and perfect detectors.
//!
//! ```
//! use servicetask_analytics::nab::{NabFile, Profile, score_corpus};
//! let file = NabFile { name: "f".into(), scores: vec![0.0; 100], windows: vec![(50, 59)] };
//! let mut perfect = file.clone();
//! perfect.scores[50] = 1.0;
//! let s = score_corpus(&[perfect], Profile::STANDARD);
//! assert!((s.normalized - 100.0).abs() < 1e-9);
//! ```

use std::collections::HashMap;
use std::path::Path;

use crate::error::AnalyticsError;

pub mod cv;

/// Weights of one NAB application profile.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Profile {
    /// Profile name as NAB spells it.
    pub name: &'static str,
    /// Weight of a true positive (a window hit at its left edge).
    pub a_tp: f64,
    /// Weight of a false positive.
    pub a_fp: f64,
    /// Weight of a missed window.
    pub a_fn: f64,
}

impl Profile {
    /// NAB `standard` profile.
    pub const STANDARD: Profile = Profile {
        name: "standard",
        a_tp: 1.0,
        a_fp: 0.11,
        a_fn: 1.0,
    };
    /// NAB `reward_low_FP_rate` profile.
    pub const LOW_FP: Profile = Profile {
        name: "reward_low_FP_rate",
        a_tp: 1.0,
        a_fp: 0.22,
        a_fn: 1.0,
    };
    /// NAB `reward_low_FN_rate` profile.
    pub const LOW_FN: Profile = Profile {
        name: "reward_low_FN_rate",
        a_tp: 1.0,
        a_fp: 0.11,
        a_fn: 2.0,
    };
    /// The three profiles in NAB's order.
    pub const ALL: [Profile; 3] = [Profile::STANDARD, Profile::LOW_FP, Profile::LOW_FN];
}

/// One data file with its detector scores and its label windows (0-based inclusive row ranges).
#[derive(Debug, Clone, PartialEq)]
pub struct NabFile {
    /// File name relative to the data directory (as in the labels file).
    pub name: String,
    /// Anomaly score per row, in `[0, 1]`.
    pub scores: Vec<f64>,
    /// Label windows as inclusive row ranges `(l, r)`, sorted and disjoint.
    pub windows: Vec<(usize, usize)>,
}

/// Result of scoring a corpus under one profile.
#[derive(Debug, Clone, PartialEq)]
pub struct CorpusScore {
    /// The profile used.
    pub profile: Profile,
    /// The optimised threshold (1.1 means "no detections").
    pub threshold: f64,
    /// Raw score summed over files at that threshold.
    pub raw: f64,
    /// Raw score of the null detector.
    pub null: f64,
    /// Raw score of the perfect detector.
    pub perfect: f64,
    /// NAB normalised score, `100 (S - S_null) / (S_perfect - S_null)`.
    pub normalized: f64,
    /// Windows hit at the threshold.
    pub true_positives: usize,
    /// Rows flagged outside every window at the threshold.
    pub false_positives: usize,
    /// Windows missed at the threshold.
    pub false_negatives: usize,
}

/// NAB's probationary period for a file of `n` rows: `min(floor(0.15 n), 750)`.
pub fn probationary_period(n: usize) -> usize {
    ((0.15 * n as f64).floor() as usize).min(750)
}

/// NAB's scaled sigmoid: `2 / (1 + e^{5x}) - 1`, and `-1` when `x > 3`.
pub fn scaled_sigmoid(x: f64) -> f64 {
    if x > 3.0 {
        -1.0
    } else {
        2.0 / (1.0 + (5.0 * x).exp()) - 1.0
    }
}

/// Where a row stands relative to the windows of its file.
#[derive(Debug, Clone, Copy)]
enum RowKind {
    /// Inside window `k` (index into the file's windows), with the weight if flagged.
    InWindow(usize, f64),
    /// Outside every window, with the (non-positive) weight if flagged.
    Outside(f64),
}

fn row_kinds(n: usize, windows: &[(usize, usize)], p: Profile) -> Vec<RowKind> {
    let mut out = Vec::with_capacity(n);
    let sig_m1 = scaled_sigmoid(-1.0);
    let mut next_w = 0usize;
    let mut prev: Option<(usize, usize)> = None;
    for i in 0..n {
        while next_w < windows.len() && windows[next_w].1 < i {
            prev = Some(windows[next_w]);
            next_w += 1;
        }
        let inside = windows.get(next_w).filter(|&&(l, r)| l <= i && i <= r);
        match inside {
            Some(&(l, r)) => {
                let w = (r - l + 1) as f64;
                let x = -((r - i + 1) as f64) / w;
                out.push(RowKind::InWindow(next_w, p.a_tp * scaled_sigmoid(x) / sig_m1));
            }
            None => match prev {
                None => out.push(RowKind::Outside(-p.a_fp)),
                Some((l, r)) => {
                    let w = (r - l + 1) as f64;
                    let denom = (w - 1.0).max(1.0);
                    let x = (i - r) as f64 / denom;
                    out.push(RowKind::Outside(p.a_fp * scaled_sigmoid(x)));
                }
            },
        }
    }
    out
}

/// Scores a set of files under one profile with one optimised threshold shared by all files.
///
/// Scores that are NaN are treated as 0. The threshold candidates are every distinct score of a
/// scorable row plus 1.1; on ties the higher threshold wins.
pub fn score_corpus(files: &[NabFile], profile: Profile) -> CorpusScore {
    // Pool (score, file, row kind) of scorable rows.
    struct Row {
        score: f64,
        window: Option<usize>, // global window id
        weight: f64,
    }
    let mut rows: Vec<Row> = Vec::new();
    let mut n_windows = 0usize;
    for f in files {
        let n = f.scores.len();
        let p = probationary_period(n);
        let kinds = row_kinds(n, &f.windows, profile);
        let mut local_to_global = HashMap::new();
        for (k, &(_, r)) in f.windows.iter().enumerate() {
            if r >= p && r < n {
                local_to_global.insert(k, n_windows);
                n_windows += 1;
            }
        }
        for (i, kind) in kinds.into_iter().enumerate().skip(p) {
            let s = f.scores[i];
            let s = if s.is_nan() { 0.0 } else { s };
            match kind {
                RowKind::InWindow(k, w) => {
                    let g = local_to_global.get(&k).copied();
                    rows.push(Row {
                        score: s,
                        window: g,
                        weight: w,
                    });
                }
                RowKind::Outside(w) => rows.push(Row {
                    score: s,
                    window: None,
                    weight: w,
                }),
            }
        }
    }
    rows.sort_by(|a, b| b.score.total_cmp(&a.score));
    let null = -profile.a_fn * n_windows as f64;
    let perfect = profile.a_tp * n_windows as f64;
    let mut best_tp: Vec<Option<f64>> = vec![None; n_windows];
    let mut fp_sum = 0.0;
    let mut tp_sum = 0.0; // sum over windows of (best - (-a_fn)) i.e. gain over missing
    let mut fp_count = 0usize;
    let mut tp_count = 0usize;
    let mut best = (null, 1.1, 0usize, 0usize);
    let mut i = 0;
    while i < rows.len() {
        let s = rows[i].score;
        while i < rows.len() && rows[i].score == s {
            let r = &rows[i];
            match r.window {
                Some(g) => {
                    let cur = best_tp[g];
                    let newv = cur.map_or(r.weight, |c: f64| c.max(r.weight));
                    let old_contrib = cur.unwrap_or(-profile.a_fn);
                    if cur.is_none() {
                        tp_count += 1;
                    }
                    tp_sum += newv - old_contrib;
                    best_tp[g] = Some(newv);
                }
                None => {
                    // rows inside windows that lie in the probation are not scorable at all
                    if !r.weight.is_nan() {
                        fp_sum += r.weight;
                        fp_count += 1;
                    }
                }
            }
            i += 1;
        }
        let total = null + tp_sum + fp_sum;
        if total > best.0 {
            best = (total, s, tp_count, fp_count);
        }
    }
    let (raw, threshold, tp, fp) = best;
    let normalized = if perfect - null > 0.0 {
        100.0 * (raw - null) / (perfect - null)
    } else {
        0.0
    };
    CorpusScore {
        profile,
        threshold,
        raw,
        null,
        perfect,
        normalized,
        true_positives: tp,
        false_positives: fp,
        false_negatives: n_windows - tp,
    }
}

/// Scores sets of alarm rows on one file under one profile (what the file's rows are worth if
/// flagged, computed once).
#[derive(Debug, Clone)]
pub struct AlarmScorer {
    kinds: Vec<RowKind>,
    probation: usize,
    scorable: Vec<bool>,
    profile: Profile,
}

/// One file's score for a set of alarms.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FileScore {
    /// Raw NAB score.
    pub raw: f64,
    /// Scorable windows (those ending after the probationary period).
    pub windows: usize,
    /// Windows hit.
    pub true_positives: usize,
    /// Alarms outside every window (after the probationary period).
    pub false_positives: usize,
}

impl FileScore {
    /// Adds another file's score.
    pub fn add(&mut self, o: &FileScore) {
        self.raw += o.raw;
        self.windows += o.windows;
        self.true_positives += o.true_positives;
        self.false_positives += o.false_positives;
    }

    /// NAB's normalised score under `p` (`None` without windows: nothing to normalise by).
    pub fn normalized(&self, p: Profile) -> Option<f64> {
        let w = self.windows as f64;
        (self.windows > 0).then(|| 100.0 * (self.raw + p.a_fn * w) / ((p.a_tp + p.a_fn) * w))
    }
}

impl AlarmScorer {
    /// A scorer for a file of `n` rows with label windows `windows` (inclusive row ranges).
    pub fn new(n: usize, windows: &[(usize, usize)], profile: Profile) -> Self {
        let probation = probationary_period(n);
        AlarmScorer {
            kinds: row_kinds(n, windows, profile),
            probation,
            scorable: windows.iter().map(|&(_, r)| r >= probation && r < n).collect(),
            profile,
        }
    }

    /// The score of alarms at the given rows (ascending).
    pub fn score(&self, alarms: impl IntoIterator<Item = usize>) -> FileScore {
        let mut best: Vec<Option<f64>> = vec![None; self.scorable.len()];
        let mut out = FileScore::default();
        for i in alarms {
            if i < self.probation || i >= self.kinds.len() {
                continue;
            }
            match self.kinds[i] {
                RowKind::InWindow(k, w) => best[k] = Some(best[k].map_or(w, |c: f64| c.max(w))),
                RowKind::Outside(w) => {
                    out.raw += w;
                    out.false_positives += 1;
                }
            }
        }
        for (_, hit) in best.iter().enumerate().filter(|(k, _)| self.scorable[*k]) {
            out.windows += 1;
            match hit {
                Some(w) => {
                    out.raw += w;
                    out.true_positives += 1;
                }
                None => out.raw -= self.profile.a_fn,
            }
        }
        out
    }
}

/// Raw score of one file at a fixed threshold (useful for per-file reports and tests).
pub fn score_file(file: &NabFile, profile: Profile, threshold: f64) -> f64 {
    let n = file.scores.len();
    let p = probationary_period(n);
    let kinds = row_kinds(n, &file.windows, profile);
    let mut best: Vec<Option<f64>> = vec![None; file.windows.len()];
    let mut total = 0.0;
    for (i, kind) in kinds.iter().enumerate().skip(p) {
        if file.scores[i] < threshold || file.scores[i].is_nan() {
            continue;
        }
        match *kind {
            RowKind::InWindow(k, w) => best[k] = Some(best[k].map_or(w, |c: f64| c.max(w))),
            RowKind::Outside(w) => total += w,
        }
    }
    for (k, &(_, r)) in file.windows.iter().enumerate() {
        if r >= p && r < n {
            total += best[k].unwrap_or(-profile.a_fn);
        }
    }
    total
}

/// One NAB data file: timestamps (seconds since the epoch, naive UTC) and values.
#[derive(Debug, Clone, PartialEq)]
pub struct NabSeries {
    /// File name relative to the data directory.
    pub name: String,
    /// Timestamp strings as written in the file.
    pub timestamps: Vec<String>,
    /// Timestamps as seconds since 1970-01-01 (naive, no zone).
    pub times: Vec<i64>,
    /// The values.
    pub values: Vec<f64>,
}

/// Parses `YYYY-MM-DD HH:MM:SS[.ffffff]` into seconds since 1970-01-01 (fraction dropped).
pub fn parse_timestamp(s: &str) -> Option<i64> {
    let s = s.trim();
    let (date, time) = s.split_once([' ', 'T']).unwrap_or((s, "00:00:00"));
    let mut d = date.split('-').map(|x| x.parse::<i64>().ok());
    let (y, m, dd) = (d.next()??, d.next()??, d.next()??);
    let time = time.split('.').next()?;
    let mut t = time.split(':').map(|x| x.parse::<i64>().ok());
    let (hh, mm) = (t.next()??, t.next()??);
    let ss = t.next().flatten().unwrap_or(0);
    if !(1..=12).contains(&m) || !(1..=31).contains(&dd) {
        return None;
    }
    Some(days_from_civil(y, m, dd) * 86_400 + hh * 3600 + mm * 60 + ss)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub(crate) fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Reads a NAB CSV (`timestamp,value` with a header line).
pub fn read_series(path: &Path, name: &str) -> Result<NabSeries, AnalyticsError> {
    let text = std::fs::read_to_string(path).map_err(|e| AnalyticsError::Io(path.display().to_string(), e))?;
    let mut out = NabSeries {
        name: name.to_string(),
        timestamps: vec![],
        times: vec![],
        values: vec![],
    };
    for (ln, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let bad = || AnalyticsError::Parse(format!("{}:{}: expected timestamp,value", path.display(), ln + 1));
        let (ts, v) = line.split_once(',').ok_or_else(bad)?;
        let t = parse_timestamp(ts).ok_or_else(bad)?;
        let v: f64 = v.trim().parse().map_err(|_| bad())?;
        out.timestamps.push(ts.to_string());
        out.times.push(t);
        out.values.push(v);
    }
    Ok(out)
}

/// Label windows of one file: its name and `(start, end)` times in seconds since the epoch.
pub type FileLabels = (String, Vec<(i64, i64)>);

/// Reads NAB's `combined_windows.json`: file name to list of `[start, end]` timestamp pairs.
pub fn read_labels(path: &Path) -> Result<Vec<FileLabels>, AnalyticsError> {
    let text = std::fs::read_to_string(path).map_err(|e| AnalyticsError::Io(path.display().to_string(), e))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| AnalyticsError::Parse(format!("labels: {e}")))?;
    let obj = v
        .as_object()
        .ok_or_else(|| AnalyticsError::Parse("labels: expected an object".into()))?;
    let mut out = Vec::new();
    for (k, wins) in obj {
        let arr = wins
            .as_array()
            .ok_or_else(|| AnalyticsError::Parse(format!("labels: {k}: expected a list")))?;
        let mut ws = Vec::new();
        for w in arr {
            let pair = w.as_array().filter(|a| a.len() == 2);
            let parse = |x: &serde_json::Value| x.as_str().and_then(parse_timestamp);
            match pair.and_then(|a| Some((parse(&a[0])?, parse(&a[1])?))) {
                Some(p) => ws.push(p),
                None => return Err(AnalyticsError::Parse(format!("labels: {k}: bad window"))),
            }
        }
        out.push((k.clone(), ws));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// Converts timestamp windows to inclusive row ranges over `times` (rows whose time lies inside).
pub fn windows_to_rows(times: &[i64], windows: &[(i64, i64)]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for &(a, b) in windows {
        let l = times.partition_point(|&t| t < a);
        let r = times.partition_point(|&t| t <= b);
        if r > l {
            out.push((l, r - 1));
        }
    }
    out.sort_unstable();
    out
}

/// Label of each row: 1 inside a window, 0 outside.
pub fn row_labels(n: usize, windows: &[(usize, usize)]) -> Vec<u8> {
    let mut l = vec![0u8; n];
    for &(a, b) in windows {
        for x in l.iter_mut().take(b + 1).skip(a) {
            *x = 1;
        }
    }
    l
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-4
    }

    #[test]
    fn sigmoid_reference_values() {
        assert!(close(scaled_sigmoid(-1.0), 0.98661));
        assert!(close(scaled_sigmoid(-0.5), 0.84828));
        assert!(close(scaled_sigmoid(0.0), 0.0));
        assert!(close(scaled_sigmoid(0.5), -0.84828));
        assert!(close(scaled_sigmoid(1.0), -0.98661));
        assert_eq!(scaled_sigmoid(3.5), -1.0);
    }

    #[test]
    fn probation() {
        assert_eq!(probationary_period(1000), 150);
        assert_eq!(probationary_period(10_000), 750);
        assert_eq!(probationary_period(0), 0);
    }

    fn file(n: usize, windows: Vec<(usize, usize)>, hits: &[usize]) -> NabFile {
        let mut scores = vec![0.0; n];
        for &h in hits {
            scores[h] = 1.0;
        }
        NabFile {
            name: "t".into(),
            scores,
            windows,
        }
    }

    #[test]
    fn left_edge_detection_is_perfect_and_null_is_zero() {
        let f = file(1000, vec![(400, 499), (700, 799)], &[400, 700]);
        let s = score_corpus(&[f], Profile::STANDARD);
        assert!(close(s.normalized, 100.0));
        assert_eq!(s.true_positives, 2);
        let n = file(1000, vec![(400, 499), (700, 799)], &[]);
        let s = score_corpus(&[n], Profile::STANDARD);
        assert!(close(s.normalized, 0.0));
        assert_eq!(s.threshold, 1.1);
    }

    #[test]
    fn later_detection_is_worth_less_and_fp_costs() {
        let p = Profile::STANDARD;
        let f = file(1000, vec![(400, 499)], &[450]);
        let raw = score_file(&f, p, 0.5);
        // i = 450: x = -(499-450+1)/100 = -0.5 -> 0.84828/0.98661
        assert!(close(raw, 0.84828 / 0.98661));
        let f = file(1000, vec![(400, 499)], &[300]);
        assert!(close(score_file(&f, p, 0.5), -1.0 - 0.11));
        // just after a window: x = (i - r)/(W - 1) small, penalty small
        let f = file(1000, vec![(400, 499)], &[400, 500]);
        let after = p.a_fp * scaled_sigmoid(1.0 / 99.0);
        assert!(close(score_file(&f, p, 0.5), 1.0 + after));
        // probation rows are ignored
        let f = file(1000, vec![(400, 499)], &[10, 400]);
        assert!(close(score_file(&f, p, 0.5), 1.0));
    }

    #[test]
    fn sweep_matches_fixed_threshold_scoring() {
        let mut f = file(1000, vec![(400, 499), (700, 799)], &[]);
        f.scores[300] = 0.9; // FP
        f.scores[420] = 0.8; // TP
        f.scores[760] = 0.5; // TP late
        f.scores[900] = 0.4; // FP
        let s = score_corpus(std::slice::from_ref(&f), Profile::STANDARD);
        let best = [1.1, 0.9, 0.8, 0.5, 0.4]
            .iter()
            .map(|&t| score_file(&f, Profile::STANDARD, t))
            .fold(f64::MIN, f64::max);
        assert!(close(s.raw, best));
        assert_eq!(s.threshold, 0.5);
    }

    #[test]
    fn timestamps_and_windows() {
        assert_eq!(parse_timestamp("1970-01-02 00:00:01"), Some(86_401));
        assert_eq!(
            parse_timestamp("2014-04-11 00:00:00.000000"),
            parse_timestamp("2014-04-11 00:00:00")
        );
        assert_eq!(parse_timestamp("garbage"), None);
        let times = vec![0, 10, 20, 30, 40];
        assert_eq!(windows_to_rows(&times, &[(10, 30)]), vec![(1, 3)]);
        assert_eq!(windows_to_rows(&times, &[(41, 50)]), vec![]);
    }
}
