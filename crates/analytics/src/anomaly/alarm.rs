//! Turning scores into alarms at an applied threshold, with suppression that starts where the
//! alarm is raised.
//!
//! A detector's score is threshold-free; [`AlarmPolicy`] decides, for the threshold actually
//! applied, which scores become alarms. An alarm mutes what would repeat it:
//!
//! - after a **sustained** alarm (a shift of the recent median), every alarm is muted for
//!   `cooldown` values: the excursion has been reported once;
//! - after a **point** alarm (one value far off), point alarms are muted for `cooldown` values,
//!   but a sustained alarm is muted only for `merge` values (the time a shift statistic needs to
//!   notice the same value). A spike just before a level shift therefore does not mute the shift.
//!
//! Because the cooldown starts at the applied threshold, sweeping the threshold (as NAB's scorer
//! does) never turns one rising excursion into a burst of alarms on adjacent rows.
//!
//! ```
//! use servicetask_analytics::anomaly::{AlarmKind, AlarmPolicy, Scored};
//! let policy = AlarmPolicy { threshold: 0.9, cooldown: 10, merge: 3 };
//! let s = |score, kind| Scored { score, kind };
//! let scores = [
//!     s(0.95, AlarmKind::Point),     // a spike: alarm
//!     s(0.97, AlarmKind::Point),     // the same excursion: muted
//!     s(0.1, AlarmKind::Point),
//!     s(0.1, AlarmKind::Point),
//!     s(0.99, AlarmKind::Sustained), // a level shift after the spike: alarm
//!     s(0.99, AlarmKind::Sustained), // muted
//! ];
//! assert_eq!(policy.alarms(&scores), vec![true, false, false, false, true, false]);
//! ```

/// What kind of departure a score measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlarmKind {
    /// One value far from what was expected (a spike, a dip, a jump).
    #[default]
    Point,
    /// The recent values' median has moved (a level shift, a change of regime).
    Sustained,
}

/// A detector's score for one value and what kind of departure gave it.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct Scored {
    /// Anomaly score in `[0, 1]`.
    pub score: f64,
    /// The kind of departure with the highest score.
    pub kind: AlarmKind,
}

/// The applied threshold and the suppression that follows an alarm. See the module docs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AlarmPolicy {
    /// Score at or above which a value raises an alarm (unless muted).
    pub threshold: f64,
    /// Values after an alarm during which alarms of its kind (all alarms, after a sustained one)
    /// are muted.
    pub cooldown: usize,
    /// Values after a point alarm during which a sustained alarm is taken for the same event.
    pub merge: usize,
}

/// The running state of an [`AlarmPolicy`] over one stream.
#[derive(Debug, Clone, Default)]
pub struct AlarmState {
    index: u64,
    point_until: u64,
    sustained_until: u64,
}

impl AlarmState {
    /// Whether `s` (the next value's score) raises an alarm under `policy`.
    pub fn step(&mut self, policy: &AlarmPolicy, s: Scored) -> bool {
        let i = self.index;
        self.step_at(policy, i, s)
    }

    /// Whether `s`, the score of value number `i` (increasing from call to call; values not
    /// passed scored below every threshold), raises an alarm under `policy`.
    pub fn step_at(&mut self, policy: &AlarmPolicy, i: u64, s: Scored) -> bool {
        self.index = i + 1;
        if s.score.is_nan() || s.score < policy.threshold {
            return false;
        }
        let muted_until = match s.kind {
            AlarmKind::Point => self.point_until,
            AlarmKind::Sustained => self.sustained_until,
        };
        if i < muted_until {
            return false;
        }
        let end = i + 1 + policy.cooldown as u64;
        match s.kind {
            AlarmKind::Point => {
                self.point_until = end;
                self.sustained_until = self.sustained_until.max(i + 1 + policy.merge as u64);
            }
            AlarmKind::Sustained => {
                self.point_until = end;
                self.sustained_until = end;
            }
        }
        true
    }
}

impl AlarmPolicy {
    /// The alarms this policy raises over a whole series of scores.
    pub fn alarms(&self, scores: &[Scored]) -> Vec<bool> {
        let mut state = AlarmState::default();
        scores.iter().map(|&s| state.step(self, s)).collect()
    }
}
