//! Timers in instance time: arming, disarming, and firing those that are due (catch events,
//! boundary timers with their cycles, event subprocess starts, retry back-off).

use super::Instance;
use crate::error::EngineError;
use crate::state::*;
use std::time::Duration;

impl Instance {
    /// A wait, on the engine's clock, for the earliest pending timer, if any.
    pub(crate) fn next_timer_wait(&self) -> Option<crate::clock::Wait> {
        let due = self.timers.iter().map(|t| t.due_ms).min()?;
        Some(
            self.engine
                .inner
                .clock
                .sleep_until(self.clock_base.saturating_add(Duration::from_millis(due))),
        )
    }

    /// Milliseconds since the instance (segment) started, on the engine's clock.
    pub(crate) fn now_ms(&self) -> u64 {
        self.engine
            .inner
            .clock
            .now()
            .saturating_sub(self.clock_base)
            .as_millis() as u64
    }

    pub(crate) fn add_timer(&mut self, token: Id, after: Duration, action: TimerAction) {
        let id = self.alloc_id();
        let due_ms = self
            .now_ms()
            .saturating_add(after.as_millis().min(u128::from(u64::MAX / 2)) as u64);
        self.timers.push(TimerEntry {
            id,
            token,
            due_ms,
            action,
        });
    }

    pub(crate) fn disarm_timers(&mut self, token: Id) {
        self.timers.retain(|t| t.token != token);
    }

    /// Fires every timer that is due, earliest first. Returns true if any fired.
    pub(crate) fn fire_due_timers(&mut self) -> Result<bool, EngineError> {
        if self.timers.is_empty() {
            return Ok(false);
        }
        let now = self.now_ms();
        let mut due: Vec<TimerEntry> = self.timers.iter().filter(|t| t.due_ms <= now).cloned().collect();
        if due.is_empty() {
            return Ok(false);
        }
        due.sort_by_key(|t| (t.due_ms, t.id));
        for t in due {
            if !self.timers.iter().any(|x| x.id == t.id) {
                continue; // disarmed by an earlier one
            }
            self.timers.retain(|x| x.id != t.id);
            if let TimerAction::EventSubprocess { scope, element } = &t.action {
                if self.scopes.contains_key(scope) {
                    self.fire_event_subprocess(*scope, element)?;
                }
                continue;
            }
            if !self.tokens.contains_key(&t.token) {
                continue;
            }
            match &t.action {
                TimerAction::Catch => self.complete_activity(t.token)?,
                TimerAction::PoolStart {
                    repeats_left,
                    interval_ms,
                } => self.pool_timer_fired(t.token, t.due_ms, *repeats_left, *interval_ms)?,
                TimerAction::EventSubprocess { .. } => {}
                TimerAction::Retry => {
                    if let Some(tok) = self.tokens.get_mut(&t.token) {
                        tok.state = TokenState::CallPending;
                    }
                }
                TimerAction::Boundary {
                    boundary,
                    interrupting,
                    repeats_left,
                    interval_ms,
                } => {
                    self.fire_boundary(t.token, boundary, *interrupting)?;
                    if !interrupting {
                        let again = match repeats_left {
                            Some(0) => None,
                            Some(n) => Some(Some(n - 1)),
                            None => Some(None),
                        };
                        if let Some(r) = again {
                            // cycles keep their cadence: the next firing is one interval
                            // after the previous due time, not after the moment it ran
                            let id = self.alloc_id();
                            self.timers.push(TimerEntry {
                                id,
                                token: t.token,
                                due_ms: t.due_ms.saturating_add((*interval_ms).max(1)),
                                action: TimerAction::Boundary {
                                    boundary: boundary.clone(),
                                    interrupting: false,
                                    repeats_left: r,
                                    interval_ms: *interval_ms,
                                },
                            });
                        }
                    }
                }
            }
        }
        Ok(true)
    }
}
