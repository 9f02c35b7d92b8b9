//! The per-poll bracket: readings taken just before and just after one poll of an execution's
//! future (or one piece of blocking work done for it), with the differences added to the
//! execution's `ExecutionStats`.
//!
//! Whatever thread runs the poll, the thread's own clocks are read on that thread, so the
//! difference is exactly what that poll cost, and other tasks polled on the same thread
//! between two polls are not charged.
//!
//! # Readings that are skipped
//!
//! Each reading is a system call, about 0.7 µs for the CPU clock and 0.4 µs for rusage on the
//! project's VM when idle, two to three times that under load, against a budget of 1 µs per
//! bracket. Most polls check a channel or a timer and return within a microsecond or two, and
//! on a busy runtime they follow each other closely. So:
//!
//! * A bracket that opens less than [`REUSE_WINDOW_NS`] of wall time after the previous one on
//!   the same thread closed takes no "before" readings: the CPU clock is the previous "after"
//!   value plus the wall time since (the thread was running the runtime's scheduler), the rusage
//!   is the previous "after" rusage.
//! * A bracket that closes less than [`QUIET_POLL_NS`] of wall time after it opened (a quiet
//!   poll: it did not block on a disk and did at most a few microseconds of work) takes no
//!   "after" readings either: it is charged its wall time as CPU time, and no block I/O.
//!
//! Both estimates are exact unless the thread was descheduled inside those few microseconds, in
//! which case the poll is charged at most that much too much CPU. At most [`MAX_ESTIMATED_NS`]
//! of wall time is estimated in a row on a thread before the clocks are read again, which bounds
//! how far the estimate can drift. A poll that takes longer than [`QUIET_POLL_NS`] always gets
//! a real "after" reading, so its CPU time is exact to within that drift, and block I/O of
//! any size (which needs either a disk wait or many microseconds of copying) is read.

use std::cell::Cell;
use std::sync::atomic::Ordering;

use servicetask_core::{ExecutionStats, TrackingConfig};

use crate::{alloc, os};

/// What a bracket measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Plan {
    /// Thread CPU time (`clock_gettime(CLOCK_THREAD_CPUTIME_ID)`).
    pub cpu: bool,
    /// Per-thread rusage: block I/O and the user/system split (`getrusage(RUSAGE_THREAD)`).
    pub disk: bool,
    /// Allocation attribution (counting allocator installed).
    pub memory: bool,
}

impl Plan {
    /// What the tracking layer measures under `config` in this process.
    pub fn for_config(config: &TrackingConfig) -> Plan {
        Plan {
            cpu: config.cpu && cfg!(unix),
            disk: config.disk_io && cfg!(any(target_os = "linux", target_os = "android")),
            memory: config.memory && alloc::counting_allocator_installed(),
        }
    }

    /// What the tracking layer started measuring for the execution owning `stats` (used by
    /// brackets around work done for it elsewhere). Empty when no tracking layer ran.
    pub fn started(stats: &ExecutionStats) -> Plan {
        Plan {
            cpu: stats.cpu_measured.load(Ordering::Relaxed),
            disk: stats.disk_measured.load(Ordering::Relaxed),
            memory: stats.mem_measured.load(Ordering::Relaxed) && !stats.mem_process_wide.load(Ordering::Relaxed),
        }
    }

    /// Whether there is nothing to measure per poll.
    pub fn is_empty(&self) -> bool {
        !(self.cpu || self.disk || self.memory)
    }
}

/// A bracket opening within this much wall time of the previous close on the same thread
/// starts from that close's readings.
pub(crate) const REUSE_WINDOW_NS: u64 = 2_000;

/// A poll shorter than this (wall time) is charged its wall time and no block I/O, without
/// reading the clocks.
pub(crate) const QUIET_POLL_NS: u64 = 5_000;

/// Most wall time estimated on a thread between two real readings.
pub(crate) const MAX_ESTIMATED_NS: u64 = 50_000;

/// The readings (real or estimated) when the last bracket on this thread closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Last {
    wall_ns: u64,
    cpu_ns: Option<u64>,
    usage: Option<os::ThreadUsage>,
    /// Wall time estimated since the clocks were last really read.
    estimated_ns: u64,
}

thread_local! {
    static LAST: Cell<Last> = const {
        Cell::new(Last { wall_ns: 0, cpu_ns: None, usage: None, estimated_ns: 0 })
    };
}

/// Where a bracket starts: estimated from the last close, or `None` to read the clocks.
fn estimate_open(last: &Last, plan: Plan, now: u64) -> Option<(Option<u64>, Option<os::ThreadUsage>, u64)> {
    let gap = now.checked_sub(last.wall_ns)?;
    if last.wall_ns == 0 || gap >= REUSE_WINDOW_NS || last.estimated_ns + gap >= MAX_ESTIMATED_NS {
        return None;
    }
    let cpu = match (plan.cpu, last.cpu_ns) {
        (false, _) => None,
        (true, Some(c)) => Some(c + gap),
        (true, None) => return None,
    };
    let usage = match (plan.disk, last.usage) {
        (false, _) => None,
        (true, Some(u)) => Some(u),
        (true, None) => return None,
    };
    Some((cpu, usage, last.estimated_ns + gap))
}

/// Whether a bracket that opened at `wall0` (with `estimated_ns` behind it) and closes at
/// `wall1` may be estimated rather than read.
fn quiet_close(wall0: u64, wall1: u64, estimated_ns: u64) -> bool {
    let took = wall1.saturating_sub(wall0);
    took < QUIET_POLL_NS && estimated_ns + took < MAX_ESTIMATED_NS
}

/// An open bracket; closing it (dropping it, also on unwinding) adds the differences.
pub(crate) struct Bracket<'a> {
    stats: &'a ExecutionStats,
    plan: Plan,
    wall0: u64,
    cpu0: Option<u64>,
    usage0: Option<os::ThreadUsage>,
    /// Wall time estimated on this thread behind the "before" readings.
    estimated_ns: u64,
    prev_alloc: *const ExecutionStats,
}

impl<'a> Bracket<'a> {
    /// Takes the "before" readings.
    #[inline]
    pub fn open(plan: Plan, stats: &'a ExecutionStats) -> Self {
        let prev_alloc = if plan.memory {
            alloc::enter(stats)
        } else {
            std::ptr::null()
        };
        let now = os::monotonic_ns();
        let last = LAST.try_with(Cell::get).ok();
        let (cpu0, usage0, estimated_ns, wall0) = match last.and_then(|l| estimate_open(&l, plan, now)) {
            Some((cpu, usage, estimated)) => (cpu, usage, estimated, now),
            None => {
                let usage = if plan.disk { os::thread_usage() } else { None };
                // Read last, so the other readings' own cost is not charged as the task's CPU.
                let cpu = if plan.cpu { os::thread_cpu_ns() } else { None };
                (cpu, usage, 0, os::monotonic_ns())
            }
        };
        Bracket {
            stats,
            plan,
            wall0,
            cpu0,
            usage0,
            estimated_ns,
            prev_alloc,
        }
    }
}

impl Drop for Bracket<'_> {
    #[inline]
    fn drop(&mut self) {
        let s = self.stats;
        let wall1 = os::monotonic_ns();
        let (cpu1, usage1, estimated_ns, wall_after) = if quiet_close(self.wall0, wall1, self.estimated_ns) {
            let took = wall1.saturating_sub(self.wall0);
            (
                self.cpu0.map(|c| c + took),
                self.usage0,
                self.estimated_ns + took,
                wall1,
            )
        } else {
            let cpu = self.cpu0.and_then(|_| os::thread_cpu_ns());
            let usage = self.usage0.and_then(|_| os::thread_usage());
            (cpu, usage, 0, os::monotonic_ns())
        };
        let _ = LAST.try_with(|l| {
            l.set(Last {
                wall_ns: wall_after,
                cpu_ns: cpu1,
                usage: usage1,
                estimated_ns,
            })
        });
        if let (Some(before), Some(after)) = (self.cpu0, cpu1) {
            s.cpu_ns.fetch_add(after.saturating_sub(before), Ordering::Relaxed);
        }
        if let Some(before) = self.usage0 {
            if let Some(after) = usage1 {
                let d = before.delta(&after);
                if d.user_us > 0 {
                    s.cpu_user_ns.fetch_add(d.user_us * 1_000, Ordering::Relaxed);
                }
                if d.system_us > 0 {
                    s.cpu_system_ns.fetch_add(d.system_us * 1_000, Ordering::Relaxed);
                }
                if d.in_blocks > 0 {
                    s.disk_read_bytes.fetch_add(d.in_blocks * 512, Ordering::Relaxed);
                }
                if d.out_blocks > 0 {
                    s.disk_write_bytes.fetch_add(d.out_blocks * 512, Ordering::Relaxed);
                }
            }
        }
        if self.plan.memory {
            alloc::exit(self.prev_alloc);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: Plan = Plan {
        cpu: true,
        disk: true,
        memory: false,
    };

    fn last(wall_ns: u64, estimated_ns: u64) -> Last {
        Last {
            wall_ns,
            cpu_ns: Some(1_000_000),
            usage: Some(os::ThreadUsage::default()),
            estimated_ns,
        }
    }

    #[test]
    fn a_bracket_right_after_a_close_starts_from_it_plus_the_gap() {
        let l = last(10_000, 0);
        let (cpu, usage, est) = estimate_open(&l, ALL, 11_500).unwrap();
        assert_eq!(cpu, Some(1_001_500));
        assert_eq!(usage, Some(os::ThreadUsage::default()));
        assert_eq!(est, 1_500);
    }

    #[test]
    fn a_late_bracket_or_one_past_the_drift_bound_reads_the_clocks() {
        assert_eq!(estimate_open(&last(10_000, 0), ALL, 10_000 + REUSE_WINDOW_NS), None);
        assert_eq!(estimate_open(&last(10_000, MAX_ESTIMATED_NS - 100), ALL, 10_200), None);
        assert_eq!(
            estimate_open(&last(0, 0), ALL, 100),
            None,
            "nothing closed on this thread yet"
        );
        let no_cpu = Last {
            cpu_ns: None,
            ..last(10_000, 0)
        };
        assert_eq!(
            estimate_open(&no_cpu, ALL, 10_100),
            None,
            "the last close did not read the CPU clock"
        );
        assert!(estimate_open(&no_cpu, Plan { cpu: false, ..ALL }, 10_100).is_some());
    }

    #[test]
    fn only_short_polls_within_the_drift_bound_are_estimated() {
        assert!(quiet_close(0, QUIET_POLL_NS - 1, 0));
        assert!(!quiet_close(0, QUIET_POLL_NS, 0));
        assert!(!quiet_close(0, 1_000, MAX_ESTIMATED_NS - 500));
    }

    /// Many short brackets in a row: what they are charged stays within the thread's real CPU
    /// time over the run (gaps between brackets are charged to nobody).
    #[cfg(target_os = "linux")]
    #[test]
    fn estimated_brackets_add_up_to_no_more_than_the_real_clock() {
        let stats = ExecutionStats::default();
        let start = os::thread_cpu_ns().unwrap();
        for i in 0..20_000u64 {
            let _b = Bracket::open(ALL, &stats);
            std::hint::black_box(i.wrapping_mul(31));
        }
        let real = os::thread_cpu_ns().unwrap() - start;
        let charged = stats.cpu_ns.load(Ordering::Relaxed);
        assert!(charged > 0);
        // Estimates can exceed the CPU only by time the thread spent descheduled inside a
        // bracket; allow for a busy shared machine.
        assert!(charged <= real + real / 5, "charged {charged} ns of a real {real} ns");
    }
}
