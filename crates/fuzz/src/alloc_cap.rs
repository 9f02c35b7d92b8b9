//! The fuzz binaries' global allocator: the `cap` crate's counting allocator with a hard limit
//! on live heap bytes ([`LIMIT`], 256 MiB). An input that needs more makes the allocation fail,
//! which aborts the process: AFL++ keeps such an input as a crash. Before the abort the
//! allocator writes the size that was refused and, when a runner registered it with
//! [`set_current_input`], the input itself in hex to stderr (without allocating), so the
//! smoke runner's abort can be reproduced too.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

/// Live heap bytes a fuzzed input may hold at once (the budget: 256 MB).
pub const LIMIT: usize = 256 * 1024 * 1024;

/// A global allocator that refuses to hold more than [`LIMIT`] live bytes.
pub struct CappedAllocator {
    inner: cap::Cap<System>,
}

impl CappedAllocator {
    /// The allocator (for `#[global_allocator] static A: CappedAllocator = CappedAllocator::new();`).
    pub const fn new() -> Self {
        CappedAllocator {
            inner: cap::Cap::new(System, LIMIT),
        }
    }

    /// Live bytes now.
    pub fn allocated(&self) -> usize {
        self.inner.allocated()
    }
}

impl Default for CappedAllocator {
    fn default() -> Self {
        Self::new()
    }
}

static INPUT_PTR: AtomicPtr<u8> = AtomicPtr::new(std::ptr::null_mut());
static INPUT_LEN: AtomicUsize = AtomicUsize::new(0);

/// Registers the input being executed, so a refused allocation can print it. The slice must
/// outlive the execution; call [`clear_current_input`] after it.
pub fn set_current_input(data: &[u8]) {
    INPUT_LEN.store(data.len(), Ordering::Relaxed);
    INPUT_PTR.store(data.as_ptr().cast_mut(), Ordering::Release);
}

/// Forgets the registered input.
pub fn clear_current_input() {
    INPUT_PTR.store(std::ptr::null_mut(), Ordering::Release);
}

/// Writes the refused size and the registered input (hex) to stderr, with no allocation.
fn report_refusal(size: usize) {
    let mut err = std::io::stderr().lock();
    let mut digits = [0u8; 20];
    let mut n = size;
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let _ = err.write_all(b"\nfuzz: allocation cap (256 MiB live) exceeded by a request of ");
    let _ = err.write_all(&digits[at..]);
    let _ = err.write_all(b" bytes\n");
    let ptr = INPUT_PTR.load(Ordering::Acquire);
    if ptr.is_null() {
        return;
    }
    // SAFETY: set_current_input registered a slice that lives for the whole execution, and
    // this runs during that execution (the refused allocation is made by it).
    let input = unsafe { std::slice::from_raw_parts(ptr, INPUT_LEN.load(Ordering::Relaxed)) };
    let _ = err.write_all(b"fuzz: input (hex): ");
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for chunk in input.chunks(256) {
        let mut buf = [0u8; 512];
        for (i, b) in chunk.iter().enumerate() {
            buf[2 * i] = HEX[usize::from(b >> 4)];
            buf[2 * i + 1] = HEX[usize::from(b & 15)];
        }
        let _ = err.write_all(&buf[..2 * chunk.len()]);
    }
    let _ = err.write_all(b"\n");
}

// SAFETY: every method forwards to `cap::Cap<System>`, a sound GlobalAlloc; the refusal report
// only writes to stderr through a stack buffer and never allocates.
unsafe impl GlobalAlloc for CappedAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds GlobalAlloc::alloc's contract, forwarded unchanged.
        let p = unsafe { self.inner.alloc(layout) };
        if p.is_null() {
            report_refusal(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for alloc.
        let p = unsafe { self.inner.alloc_zeroed(layout) };
        if p.is_null() {
            report_refusal(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller upholds GlobalAlloc::dealloc's contract, forwarded unchanged.
        unsafe { self.inner.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller upholds GlobalAlloc::realloc's contract, forwarded unchanged.
        let p = unsafe { self.inner.realloc(ptr, layout, new_size) };
        if p.is_null() {
            report_refusal(new_size);
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_past_the_limit_and_serves_below_it() {
        let a = CappedAllocator::new();
        let small = Layout::from_size_align(1024, 8).unwrap();
        let huge = Layout::from_size_align(LIMIT + 1, 8).unwrap();
        // SAFETY: valid non-zero layouts; the small block is freed with its own layout.
        unsafe {
            let p = a.alloc(small);
            assert!(!p.is_null());
            assert_eq!(a.allocated(), 1024);
            assert!(a.alloc(huge).is_null());
            a.dealloc(p, small);
        }
        assert_eq!(a.allocated(), 0);
    }
}
