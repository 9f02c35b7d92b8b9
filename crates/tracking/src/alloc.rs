//! Memory attribution: which execution the current thread's allocations belong to, and the
//! opt-in [`CountingAllocator`] (cargo feature `alloc-counter`) that counts them.
//!
//! # How attribution works
//!
//! Each thread has a small thread-local record: the execution it is working for (set by the
//! poll bracket of the tracking layer and by the blocking-work bracket of `cx.fs()`), and
//! plain counters (bytes allocated, freed, live, peak live). The allocator only touches these
//! thread-local cells: no atomic, no lock, no allocation on its path. At the end of each
//! bracket the counters are added to the execution's `ExecutionStats` (`mem_allocated`,
//! `mem_freed`, `mem_live`, `mem_peak`). Brackets nest: an inner bracket flushes the outer
//! one's counters first and resumes them when it ends.
//!
//! # What is counted
//!
//! * `mem_allocated`: every byte handed out while the execution ran on the thread; a `realloc`
//!   counts as freeing the old block and allocating the new one.
//! * `mem_freed`: every byte returned while the execution ran, including memory allocated
//!   before it started or by another execution (so `mem_live` can go negative).
//! * `mem_peak`: the highest `mem_live` seen. When one execution runs on two threads at once
//!   (a poll and a blocking file operation), each thread's peak is judged against the live
//!   bytes when its bracket began, so the peak is then a close lower bound.
//!
//! Allocations made outside any bracket (the runtime, tasks spawned with plain `tokio::spawn`)
//! are counted for nobody.
//!
//! # Overhead
//!
//! Per allocation and per free: one thread-local read, and when an execution is current, four
//! cell updates (a few nanoseconds). Per bracket: two flushes of four relaxed atomic updates.

use std::cell::Cell;
use std::ptr;
use std::sync::atomic::{AtomicBool, Ordering};

use servicetask_core::ExecutionStats;

/// Whether a [`CountingAllocator`] has served an allocation in this process.
static INSTALLED: AtomicBool = AtomicBool::new(false);

struct State {
    target: Cell<*const ExecutionStats>,
    allocated: Cell<u64>,
    freed: Cell<u64>,
    live: Cell<i64>,
    live_start: Cell<i64>,
    peak: Cell<i64>,
}

thread_local! {
    static STATE: State = const {
        State {
            target: Cell::new(ptr::null()),
            allocated: Cell::new(0),
            freed: Cell::new(0),
            live: Cell::new(0),
            live_start: Cell::new(0),
            peak: Cell::new(0),
        }
    };
}

/// Whether the counting allocator is installed as the global allocator of this process.
///
/// Always `false` without the `alloc-counter` feature, or when the feature is on but the
/// binary did not install [`CountingAllocator`] with `#[global_allocator]`.
pub fn counting_allocator_installed() -> bool {
    INSTALLED.load(Ordering::Relaxed)
}

/// Makes `stats` the target of this thread's allocations; returns the previous target, to be
/// given back to [`exit`].
pub(crate) fn enter(stats: &ExecutionStats) -> *const ExecutionStats {
    STATE
        .try_with(|s| {
            let prev = s.target.get();
            flush(s);
            s.target.set(stats);
            begin(s, stats);
            prev
        })
        .unwrap_or(ptr::null())
}

/// Flushes this thread's counters to the current target and makes `prev` current again.
///
/// `prev` must be null or the value [`enter`] returned on this thread, whose stats are still
/// alive (brackets nest strictly within one poll, so the outer one is on the stack).
pub(crate) fn exit(prev: *const ExecutionStats) {
    let _ = STATE.try_with(|s| {
        flush(s);
        s.target.set(prev);
        // SAFETY: per this function's contract, `prev` is null or points to live stats.
        if let Some(stats) = unsafe { prev.as_ref() } {
            begin(s, stats);
        }
    });
}

fn begin(s: &State, stats: &ExecutionStats) {
    let live = stats.mem_live.load(Ordering::Relaxed);
    s.allocated.set(0);
    s.freed.set(0);
    s.live.set(live);
    s.live_start.set(live);
    s.peak.set(live);
}

fn flush(s: &State) {
    // SAFETY: the target is set only by `enter`/`exit` to stats that outlive the bracket.
    let Some(stats) = (unsafe { s.target.get().as_ref() }) else {
        return;
    };
    stats.mem_allocated.fetch_add(s.allocated.get(), Ordering::Relaxed);
    stats.mem_freed.fetch_add(s.freed.get(), Ordering::Relaxed);
    stats
        .mem_live
        .fetch_add(s.live.get() - s.live_start.get(), Ordering::Relaxed);
    stats.mem_peak.fetch_max(s.peak.get().max(0) as u64, Ordering::Relaxed);
}

/// Counts an allocation of `size` bytes for the thread's current execution, if any.
#[inline]
#[cfg_attr(not(feature = "alloc-counter"), allow(dead_code))]
fn note_alloc(size: usize) {
    let _ = STATE.try_with(|s| {
        if !s.target.get().is_null() {
            s.allocated.set(s.allocated.get().wrapping_add(size as u64));
            let live = s.live.get().wrapping_add(size as i64);
            s.live.set(live);
            if live > s.peak.get() {
                s.peak.set(live);
            }
        }
    });
}

/// Counts a free of `size` bytes for the thread's current execution, if any.
#[inline]
#[cfg_attr(not(feature = "alloc-counter"), allow(dead_code))]
fn note_free(size: usize) {
    let _ = STATE.try_with(|s| {
        if !s.target.get().is_null() {
            s.freed.set(s.freed.get().wrapping_add(size as u64));
            s.live.set(s.live.get().wrapping_sub(size as i64));
        }
    });
}

#[cfg(feature = "alloc-counter")]
pub use counting::CountingAllocator;

#[cfg(feature = "alloc-counter")]
mod counting {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::sync::atomic::Ordering;

    use super::{note_alloc, note_free, INSTALLED};

    /// A global allocator that attributes bytes allocated, freed and peak live bytes to the
    /// task execution running on the thread (cargo feature `alloc-counter`).
    ///
    /// Install it with one line in the binary (or in an integration test file):
    ///
    /// ```ignore
    /// use servicetask_tracking::CountingAllocator;
    /// #[global_allocator]
    /// static A: CountingAllocator = CountingAllocator::system();
    /// ```
    ///
    /// It wraps another allocator (`System` by default, or any `GlobalAlloc` via
    /// [`CountingAllocator::new`]) and adds a thread-local check and a few cell updates per
    /// call. Without it, tracking reports process RSS, labelled process-wide.
    #[derive(Debug, Default, Clone, Copy)]
    pub struct CountingAllocator<A = System> {
        inner: A,
    }

    impl CountingAllocator<System> {
        /// Counts on top of the system allocator.
        pub const fn system() -> Self {
            CountingAllocator { inner: System }
        }
    }

    impl<A> CountingAllocator<A> {
        /// Counts on top of `inner` (for example another crate's allocator).
        pub const fn new(inner: A) -> Self {
            CountingAllocator { inner }
        }
    }

    #[inline]
    fn mark_installed() {
        if !INSTALLED.load(Ordering::Relaxed) {
            INSTALLED.store(true, Ordering::Relaxed);
        }
    }

    // SAFETY: every call is forwarded unchanged to `inner`, which upholds GlobalAlloc's
    // contract; the counting around it does not allocate and does not touch the memory.
    unsafe impl<A: GlobalAlloc> GlobalAlloc for CountingAllocator<A> {
        #[inline]
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            // SAFETY: forwarded with the caller's guarantees.
            let p = unsafe { self.inner.alloc(layout) };
            if !p.is_null() {
                mark_installed();
                note_alloc(layout.size());
            }
            p
        }

        #[inline]
        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            // SAFETY: forwarded with the caller's guarantees.
            let p = unsafe { self.inner.alloc_zeroed(layout) };
            if !p.is_null() {
                mark_installed();
                note_alloc(layout.size());
            }
            p
        }

        #[inline]
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: forwarded with the caller's guarantees.
            unsafe { self.inner.dealloc(ptr, layout) };
            note_free(layout.size());
        }

        #[inline]
        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            // SAFETY: forwarded with the caller's guarantees.
            let p = unsafe { self.inner.realloc(ptr, layout, new_size) };
            if !p.is_null() {
                note_free(layout.size());
                note_alloc(new_size);
            }
            p
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_brackets_flush_to_their_own_stats() {
        let outer = ExecutionStats::default();
        let inner = ExecutionStats::default();
        let p0 = enter(&outer);
        assert!(p0.is_null());
        note_alloc(100);
        let p1 = enter(&inner);
        note_alloc(1000);
        note_free(1000);
        exit(p1);
        note_alloc(10);
        exit(p0);
        note_alloc(5); // outside any bracket: counted for nobody
        assert_eq!(outer.mem_allocated.load(Ordering::Relaxed), 110);
        assert_eq!(outer.mem_peak.load(Ordering::Relaxed), 110);
        assert_eq!(outer.mem_live.load(Ordering::Relaxed), 110);
        assert_eq!(inner.mem_allocated.load(Ordering::Relaxed), 1000);
        assert_eq!(inner.mem_freed.load(Ordering::Relaxed), 1000);
        assert_eq!(inner.mem_peak.load(Ordering::Relaxed), 1000);
        assert_eq!(inner.mem_live.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn freeing_foreign_memory_makes_live_negative_but_peak_stays_honest() {
        let s = ExecutionStats::default();
        let p = enter(&s);
        note_free(64);
        note_alloc(16);
        exit(p);
        assert_eq!(s.mem_live.load(Ordering::Relaxed), -48);
        assert_eq!(s.mem_peak.load(Ordering::Relaxed), 0);
        assert_eq!(s.mem_freed.load(Ordering::Relaxed), 64);
    }
}
