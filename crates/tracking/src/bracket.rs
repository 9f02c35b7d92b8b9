//! The per-poll bracket: readings taken just before and just after one poll of an execution's
//! future (or one piece of blocking work done for it), with the differences added to the
//! execution's `ExecutionStats`.
//!
//! Whatever thread runs the poll, the thread's own clocks are read on that thread, so the
//! difference is exactly what that poll cost, and other tasks polled on the same thread
//! between two polls are not charged.
//!
//! # Reusing the last reading
//!
//! Each reading is a system call (about 0.4-1.5 µs on the project's VM). When a bracket opens
//! less than [`REUSE_WINDOW_NS`] of wall time after the previous bracket on the same thread
//! closed, its "before" readings are not taken: the CPU clock is taken as the previous "after"
//! reading plus the wall time since (the thread was running the runtime's scheduler all that
//! time), and the rusage as the previous "after" rusage (no block I/O can happen in that gap).
//! This halves the system calls of back-to-back polls; the error is bounded by the gap and
//! arises only if the thread was descheduled inside it.
//!
//! # Quiet polls
//!
//! Most polls check a channel or a timer and return within a microsecond or two. When a poll
//! took less than [`QUIET_POLL_NS`] of wall time (so it neither blocked on a disk nor did more
//! than a few microseconds of work), the closing rusage reading is skipped and the opening one
//! stands for it: such a poll can at most have dirtied a few pages of page cache with a small
//! `write`, and those blocks are then charged to a later poll on the same thread. To bound
//! this, a real reading is taken at least every [`MAX_ASSUMED`] quiet polls in a row. CPU time
//! is always read at the close, so it stays exact.

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
/// reuses that close's readings.
pub(crate) const REUSE_WINDOW_NS: u64 = 2_000;

/// A poll shorter than this (wall time) skips its closing rusage reading.
pub(crate) const QUIET_POLL_NS: u64 = 5_000;

/// Most quiet polls in a row whose rusage is assumed rather than read.
pub(crate) const MAX_ASSUMED: u8 = 16;

/// The readings taken when the last bracket on this thread closed.
#[derive(Clone, Copy)]
struct Last {
    wall_ns: u64,
    cpu_ns: Option<u64>,
    usage: Option<os::ThreadUsage>,
    /// Quiet closes in a row since `usage` was really read.
    assumed: u8,
}

thread_local! {
    static LAST: Cell<Last> = const {
        Cell::new(Last { wall_ns: 0, cpu_ns: None, usage: None, assumed: 0 })
    };
}

/// An open bracket; closing it (dropping it, also on unwinding) adds the differences.
pub(crate) struct Bracket<'a> {
    stats: &'a ExecutionStats,
    plan: Plan,
    wall0: u64,
    cpu0: Option<u64>,
    usage0: Option<os::ThreadUsage>,
    /// Quiet closes in a row behind `usage0` (0 when it was really read).
    assumed: u8,
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
        let recent = last.filter(|l| l.wall_ns != 0 && now.wrapping_sub(l.wall_ns) < REUSE_WINDOW_NS);
        let (usage0, assumed) = match (plan.disk, recent) {
            (false, _) => (None, 0),
            (
                true,
                Some(Last {
                    usage: Some(u),
                    assumed,
                    ..
                }),
            ) => (Some(u), assumed),
            (true, _) => (os::thread_usage(), 0),
        };
        // Read last, so the other readings' own cost is not charged as the task's CPU.
        let cpu0 = match (plan.cpu, recent) {
            (false, _) => None,
            (
                true,
                Some(Last {
                    cpu_ns: Some(c),
                    wall_ns,
                    ..
                }),
            ) => Some(c + now.wrapping_sub(wall_ns)),
            (true, _) => os::thread_cpu_ns(),
        };
        Bracket {
            stats,
            plan,
            wall0: now,
            cpu0,
            usage0,
            assumed,
            prev_alloc,
        }
    }
}

impl Drop for Bracket<'_> {
    #[inline]
    fn drop(&mut self) {
        let s = self.stats;
        let cpu1 = self.cpu0.and_then(|_| os::thread_cpu_ns());
        let mut wall1 = os::monotonic_ns();
        let quiet = wall1.wrapping_sub(self.wall0) < QUIET_POLL_NS && self.assumed < MAX_ASSUMED;
        let (usage1, assumed) = match self.usage0 {
            None => (None, 0),
            Some(u) if quiet => (Some(u), self.assumed + 1),
            Some(_) => {
                let u = os::thread_usage();
                wall1 = os::monotonic_ns();
                (u, 0)
            }
        };
        let _ = LAST.try_with(|l| {
            l.set(Last {
                wall_ns: wall1,
                cpu_ns: cpu1,
                usage: usage1,
                assumed,
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
