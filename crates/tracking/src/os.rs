//! Readings from the operating system: thread CPU clock, per-thread rusage, process RSS.
//!
//! Each reading is one system call (`clock_gettime`, `getrusage`) or, for RSS, one read of
//! `/proc/self/statm`. They return `None` where the platform does not offer them; tracking
//! then reports the figure as not measured rather than failing.

/// CPU time (user + system) consumed by the calling thread, nanoseconds.
///
/// `clock_gettime(CLOCK_THREAD_CPUTIME_ID)`: exact to the nanosecond, including the running
/// slice (the kernel updates the thread's runtime before answering).
#[cfg(unix)]
#[inline]
pub(crate) fn thread_cpu_ns() -> Option<u64> {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    (rc == 0).then(|| ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
}

/// CPU time of the calling thread: not available on this platform.
#[cfg(not(unix))]
#[inline]
pub(crate) fn thread_cpu_ns() -> Option<u64> {
    None
}

/// Monotonic wall-clock time, nanoseconds (`CLOCK_MONOTONIC`, answered in user space by the
/// vDSO on Linux: tens of nanoseconds, no system call).
#[cfg(unix)]
#[inline]
pub(crate) fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    if rc == 0 {
        ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
    } else {
        0
    }
}

/// Monotonic wall-clock time: not used off Unix.
#[cfg(not(unix))]
#[inline]
pub(crate) fn monotonic_ns() -> u64 {
    0
}

/// Per-thread resource usage: the OS's user/system split and block I/O.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ThreadUsage {
    /// User CPU, microseconds (tick-sampled: see the crate docs).
    pub user_us: u64,
    /// System CPU, microseconds (tick-sampled).
    pub system_us: u64,
    /// 512-byte blocks read from storage (`ru_inblock`).
    pub in_blocks: u64,
    /// 512-byte blocks written to storage (`ru_oublock`).
    pub out_blocks: u64,
}

impl ThreadUsage {
    /// `later - self`, saturating at zero per field.
    pub fn delta(&self, later: &ThreadUsage) -> ThreadUsage {
        ThreadUsage {
            user_us: later.user_us.saturating_sub(self.user_us),
            system_us: later.system_us.saturating_sub(self.system_us),
            in_blocks: later.in_blocks.saturating_sub(self.in_blocks),
            out_blocks: later.out_blocks.saturating_sub(self.out_blocks),
        }
    }
}

/// `getrusage(RUSAGE_THREAD)` for the calling thread (Linux).
#[cfg(any(target_os = "linux", target_os = "android"))]
#[inline]
pub(crate) fn thread_usage() -> Option<ThreadUsage> {
    // SAFETY: rusage is plain old data; all-zero is a valid value.
    let mut r: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `r` is a valid, writable rusage.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut r) };
    if rc != 0 {
        return None;
    }
    let us = |tv: libc::timeval| tv.tv_sec.max(0) as u64 * 1_000_000 + tv.tv_usec.max(0) as u64;
    Some(ThreadUsage {
        user_us: us(r.ru_utime),
        system_us: us(r.ru_stime),
        in_blocks: r.ru_inblock.max(0) as u64,
        out_blocks: r.ru_oublock.max(0) as u64,
    })
}

/// Per-thread resource usage: not available on this platform.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
#[inline]
pub(crate) fn thread_usage() -> Option<ThreadUsage> {
    None
}

/// Resident set size of the whole process, bytes (`/proc/self/statm`, Linux).
///
/// The file is opened once per process and re-read with `pread` (one system call), which is
/// several times cheaper than opening it each time. (A child made by `fork` without `exec`
/// would keep reading its parent's figure; servicetask workers do not fork.)
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn process_rss_bytes() -> Option<u64> {
    use std::os::unix::fs::FileExt as _;
    static STATM: std::sync::OnceLock<Option<std::fs::File>> = std::sync::OnceLock::new();
    let file = STATM
        .get_or_init(|| std::fs::File::open("/proc/self/statm").ok())
        .as_ref()?;
    let mut buf = [0u8; 128];
    let n = file.read_at(&mut buf, 0).ok()?;
    let statm = std::str::from_utf8(&buf[..n]).ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    (page > 0).then(|| pages * page as u64)
}

/// Resident set size of the process: not available on this platform.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) fn process_rss_bytes() -> Option<u64> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn readings_are_available_and_monotonic_on_linux() {
        let a = thread_cpu_ns().unwrap();
        let mut x = 0u64;
        for i in 0..1_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        let b = thread_cpu_ns().unwrap();
        assert!(b > a);
        let u = thread_usage().unwrap();
        assert!(u.delta(&thread_usage().unwrap()).in_blocks < 1_000_000);
        assert!(process_rss_bytes().unwrap() > 0);
    }
}
