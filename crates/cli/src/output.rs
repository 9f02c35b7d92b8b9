//! Writing to a closed pipe (`servicetask schema | head`): the command ends quietly, as Unix
//! tools do, instead of panicking in `println!`.
//!
//! Rust ignores SIGPIPE, so a write to a pipe whose reader has gone fails with EPIPE, and
//! `println!` panics on that error. Restoring the default disposition makes the kernel end the
//! process at the first such write, which is what a reader like `head` expects: every output
//! path of every command is covered at once.

/// Restores the default SIGPIPE action (Unix; elsewhere nothing to do).
pub fn die_quietly_on_broken_pipe() {
    #[cfg(unix)]
    // SAFETY: called once at start-up, before any other thread exists; SIG_DFL is a valid
    // disposition for SIGPIPE and no Rust code relies on SIGPIPE being ignored.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
