//! Known-answer tests of the detector: planted spikes, steps, a seasonal series with a holiday
//! dip, a spike just before a level shift, and hostile input.

use super::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn flagged(values: &[f64], times: Option<&[f64]>, cfg: &DetectorConfig) -> Vec<usize> {
    let mut d = AnomalyDetector::new(cfg.clone());
    (0..values.len())
        .filter(|&i| {
            let s = d.update_at(times.map(|t| t[i]), values[i], None);
            d.is_anomaly(s)
        })
        .collect()
}

#[test]
fn planted_spikes_are_found_and_noise_is_quiet() {
    let mut rng = StdRng::seed_from_u64(42);
    let planted = [800usize, 1500, 2300];
    let values: Vec<f64> = (0..3000)
        .map(|i| 100.0 + rng.random_range(-5.0..5.0) + if planted.contains(&i) { 80.0 } else { 0.0 })
        .collect();
    assert_eq!(flagged(&values, None, &DetectorConfig::default()), planted.to_vec());
}

#[test]
fn flat_then_step_is_one_alarm() {
    let values: Vec<f64> = (0..1000).map(|i| if i < 600 { 5.0 } else { 6.0 }).collect();
    assert_eq!(flagged(&values, None, &DetectorConfig::default()), vec![600]);
}

#[test]
fn residual_of_prediction_is_judged() {
    let mut d = AnomalyDetector::new(DetectorConfig::default());
    let mut rng = StdRng::seed_from_u64(1);
    // duration = 2 * size + noise: big sizes are not anomalies when predicted
    for _ in 0..500 {
        let n: f64 = rng.random_range(1.0..1000.0);
        let s = d.update(2.0 * n + rng.random_range(-1.0..1.0), Some(2.0 * n));
        assert!(!d.is_anomaly(s));
    }
    let s = d.update(2.0 * 10.0 + 50.0, Some(20.0));
    assert!(d.is_anomaly(s));
}

/// Half-hourly traffic counts over 8 weeks: a daily shape, quieter weekends, noise; on one
/// weekday (a holiday) the counts fall to weekend level, which stays inside the series' range.
#[test]
fn seasonal_holiday_dip_is_found_and_the_season_is_learned() {
    let mut rng = StdRng::seed_from_u64(3);
    let step = 1800.0;
    let rows = 8 * 7 * 48;
    let holiday = (5 * 7 + 2) * 48; // a Wednesday in week 6
    let times: Vec<f64> = (0..rows).map(|i| i as f64 * step).collect();
    let values: Vec<f64> = (0..rows)
        .map(|i| {
            let hour = (i % 48) as f64 / 2.0;
            let weekday = (i / 48) % 7;
            let daily = 100.0 + 80.0 * (std::f64::consts::TAU * (hour - 9.0) / 24.0).sin().max(-0.6);
            let quiet = weekday >= 5 || (holiday..holiday + 48).contains(&i);
            daily * if quiet { 0.45 } else { 1.0 } + rng.random_range(-4.0..4.0)
        })
        .collect();
    let cfg = DetectorConfig::default();
    let found = flagged(&values, Some(&times), &cfg);
    assert!(
        found.iter().any(|&i| (holiday..holiday + 48).contains(&i)),
        "holiday at rows {holiday}.. not found: {found:?}"
    );
    // quiet elsewhere after the first two weeks (while the weekly shape is learned)
    let false_alarms = found
        .iter()
        .filter(|&&i| i >= 2 * 7 * 48 && !(holiday..holiday + 96).contains(&i))
        .count();
    assert!(false_alarms <= 2, "{found:?}");
    // without timestamps the dip is inside the range: the ensemble has nothing to see it by
    let blind = flagged(&values, None, &cfg);
    assert!(
        !blind.iter().any(|&i| (holiday..holiday + 48).contains(&i)),
        "{blind:?}"
    );
    let mut d = AnomalyDetector::new(cfg);
    for i in 0..rows {
        d.update_at(Some(times[i]), values[i], None);
    }
    let periods: Vec<f64> = d.seasonality().iter().map(|p| p.0).collect();
    assert!(periods.contains(&PERIODS[1]), "{:?}", d.seasonality());
}

/// A large spike, then 20 values later a level shift: the spike's alarm must not mute the shift.
#[test]
fn a_spike_before_a_level_shift_does_not_mute_the_shift() {
    let mut rng = StdRng::seed_from_u64(9);
    let (spike, shift) = (1000usize, 1020usize);
    let values: Vec<f64> = (0..2000)
        .map(|i| {
            let base = if i >= shift { 60.0 } else { 50.0 };
            base + rng.random_range(-2.0..2.0) + if i == spike { 400.0 } else { 0.0 }
        })
        .collect();
    let found = flagged(&values, None, &DetectorConfig::default());
    assert!(found.contains(&spike), "{found:?}");
    assert!(
        found.iter().any(|&i| (shift..shift + 20).contains(&i)),
        "the shift at {shift} was muted: {found:?}"
    );
    assert!(found.len() <= 3, "{found:?}");
}

#[test]
fn the_cooldown_starts_at_the_applied_threshold() {
    // a rising excursion: scores climb row after row; at any threshold it is one alarm
    let mut rng = StdRng::seed_from_u64(11);
    let values: Vec<f64> = (0..1500)
        .map(|i| {
            10.0 + rng.random_range(-1.0..1.0)
                + if (1000..1040).contains(&i) {
                    (i - 999) as f64
                } else {
                    0.0
                }
        })
        .collect();
    let scored = score_series_at(None, &values, &DetectorConfig::default());
    for threshold in [0.99, 0.995, 0.998, 0.999, 0.9999] {
        let policy = AlarmPolicy {
            threshold,
            ..DetectorConfig::default().policy()
        };
        let alarms: Vec<usize> = policy
            .alarms(&scored)
            .iter()
            .enumerate()
            .filter(|a| *a.1)
            .map(|a| a.0)
            .collect();
        let in_excursion = alarms.iter().filter(|&&i| (1000..1100).contains(&i)).count();
        assert_eq!(in_excursion, 1, "threshold {threshold}: {alarms:?}");
    }
}

#[test]
fn bad_input_never_panics() {
    let mut d = AnomalyDetector::new(DetectorConfig {
        window: 0,
        short: 0,
        ..Default::default()
    });
    for (i, v) in [f64::NAN, f64::INFINITY, 1.0, 1.0, f64::NEG_INFINITY, 2.0]
        .into_iter()
        .enumerate()
    {
        let s = d.update_at(Some(if i == 3 { f64::NAN } else { i as f64 }), v, None);
        assert!((0.0..=1.0).contains(&s));
    }
    assert_eq!(score_series(&[], &DetectorConfig::default()), Vec::<f64>::new());
}

/// FNV-1a over 64-bit words: a fingerprint of every score, kind and anomaly below.
fn fnv(hash: &mut u64, word: u64) {
    for b in word.to_le_bytes() {
        *hash = (*hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
}

/// The detector's arithmetic is exact, not approximate: the same stream gives bit-identical
/// scores and the same anomalies whatever the windows' bookkeeping (one rotation instead of a
/// removal and an insertion, the MAD by selection instead of a merge, one search shared by the
/// tail probability and the push). The fingerprints were taken from the implementation before
/// that bookkeeping changed (remove + insert, MAD by merging, two searches), over a monitor fed
/// records like `report_bench`'s (8 tasks, durations growing with input size, planted slow runs)
/// and the seasonal holiday series (so the seasonal members speak).
#[test]
fn scores_and_anomalies_are_bit_identical_to_the_reference_implementation() {
    use crate::bounded::SplitMix64;
    use servicetask_core::record::{ExecutionRecord, OutcomeKind};

    let mut rng = SplitMix64(7);
    let mut monitor = AnomalyMonitor::new(DetectorConfig::default());
    let (mut hash, mut found) = (0xcbf2_9ce4_8422_2325u64, 0usize);
    for i in 0..40_000u64 {
        let task = i % 8;
        let size = 100 + rng.below(10_000);
        let noise = ((rng.unit() + rng.unit() + rng.unit() - 1.5) * 0.3).exp();
        let slow = if rng.below(1000) == 0 { 3.0 } else { 1.0 };
        let secs = (0.002 + 2e-7 * size as f64 * (1 + task) as f64) * noise * slow;
        let mut r = ExecutionRecord::new(
            format!("task-{task}"),
            1_764_201_600_000_000_000 + i as i64 * 50_000_000,
            (secs * 1e9) as u64,
            OutcomeKind::Complete,
        );
        r.input_size = Some(size);
        r.cpu_ns = Some((secs * 0.7e9) as u64);
        r.mem_peak_bytes = Some(4_000_000 + 300 * size + rng.below(1000));
        for a in monitor.observe(&r) {
            found += 1;
            fnv(&mut hash, i);
            fnv(&mut hash, a.metric as u64);
            fnv(&mut hash, a.score.to_bits());
            fnv(&mut hash, a.expected.map_or(0, f64::to_bits));
        }
    }
    assert_eq!((found, hash), (130, 16_283_105_054_882_166_991), "monitor");

    let mut rng = SplitMix64(3);
    let times: Vec<f64> = (0..8 * 7 * 48).map(|i| f64::from(i) * 1800.0).collect();
    let values: Vec<f64> = (0..times.len())
        .map(|i| {
            let daily = 100.0 + 80.0 * (std::f64::consts::TAU * ((i % 48) as f64 / 2.0 - 9.0) / 24.0).sin();
            daily * if (i / 48) % 7 >= 5 { 0.45 } else { 1.0 } + rng.unit() * 8.0
        })
        .collect();
    let mut hash = 0xcbf2_9ce4_8422_2325u64;
    for s in score_series_at(Some(&times), &values, &DetectorConfig::default()) {
        fnv(&mut hash, s.score.to_bits());
        fnv(&mut hash, s.kind as u64);
    }
    assert_eq!(hash, 2_286_083_895_317_237_074, "seasonal series");
}
