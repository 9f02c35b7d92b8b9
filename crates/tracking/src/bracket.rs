//! The per-poll bracket: readings taken just before and just after one poll of an execution's
//! future (or one piece of blocking work done for it), with the differences added to the
//! execution's `ExecutionStats`.
//!
//! Whatever thread runs the poll, the thread's own clocks are read on that thread, so the
//! difference is exactly what that poll cost, and other tasks polled on the same thread
//! between two polls are not charged.

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

/// An open bracket; closing it (dropping it, also on unwinding) adds the differences.
pub(crate) struct Bracket<'a> {
    stats: &'a ExecutionStats,
    plan: Plan,
    cpu0: Option<u64>,
    usage0: Option<os::ThreadUsage>,
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
        let usage0 = if plan.disk { os::thread_usage() } else { None };
        // Read last, so the other readings' own cost is not charged as the task's CPU.
        let cpu0 = if plan.cpu { os::thread_cpu_ns() } else { None };
        Bracket {
            stats,
            plan,
            cpu0,
            usage0,
            prev_alloc,
        }
    }
}

impl Drop for Bracket<'_> {
    #[inline]
    fn drop(&mut self) {
        let s = self.stats;
        if let Some(before) = self.cpu0 {
            if let Some(after) = os::thread_cpu_ns() {
                s.cpu_ns.fetch_add(after.saturating_sub(before), Ordering::Relaxed);
            }
        }
        if let Some(before) = self.usage0 {
            if let Some(after) = os::thread_usage() {
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
