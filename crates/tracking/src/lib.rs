//! Resource and file tracking for servicetask: CPU time, memory and disk I/O per task
//! execution, measured correctly while many executions share a multi-thread runtime.
//!
//! # Overview
//!
//! * [`TrackingLayer`]: the innermost pipeline layer. It brackets every poll of the attempt's
//!   future with readings of the polling thread's own clocks and adds the differences to
//!   `cx.stats()`. An async task moves between threads and shares them with other tasks; a
//!   per-poll bracket on whichever thread runs the poll charges each execution exactly its own
//!   polls.
//! * [`inspect_input_paths`]: stats the input's path fields before the task body runs.
//! * [`CountingAllocator`] (feature `alloc-counter`): exact bytes allocated, freed and peak
//!   live bytes per execution.
//! * [`AccessPatterns`] / [`AccessHistory`]: read-heavy, write-heavy, large and frequently
//!   accessed files over the recent executions of a task.
//!
//! Tracked file I/O itself is `cx.fs()` (in `servicetask-core`): see `servicetask_core::fs`.
//!
//! # Quick start
//!
//! ```
//! use std::sync::Arc;
//! use servicetask_core::layer::{AttemptResult, BoxFuture, Invoke, Layer, Next, TaskValue};
//! use servicetask_core::{TaskContext, TrackingConfig};
//! use servicetask_tracking::TrackingLayer;
//!
//! struct Burn;
//! impl Invoke for Burn {
//!     fn invoke<'a>(&'a self, _cx: &'a TaskContext) -> BoxFuture<'a, AttemptResult> {
//!         Box::pin(async {
//!             let mut x = 0u64;
//!             for i in 0..2_000_000u64 { x = x.wrapping_mul(31).wrapping_add(i); }
//!             Ok(Box::new(std::hint::black_box(x)) as TaskValue)
//!         })
//!     }
//! }
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let layers: Vec<Arc<dyn Layer>> = vec![Arc::new(TrackingLayer::new(&TrackingConfig::default()))];
//! let cx = TaskContext::detached("burn");
//! Next::new(&layers, &Burn).run(&cx).await.unwrap();
//! # #[cfg(target_os = "linux")]
//! assert!(cx.stats().cpu_ns.load(std::sync::atomic::Ordering::Relaxed) > 0);
//! # });
//! ```
//!
//! # Where it goes in the pipeline
//!
//! Innermost, just around the task: `... > timeout > tracking > task`. Outside a retry layer
//! it would still be right (figures are per execution, summed over attempts), but it would
//! also charge the other layers' own work to the task.
//!
//! # What is counted
//!
//! | figure (`ExecutionStats`) | source | counted |
//! |---|---|---|
//! | `cpu_ns` | `clock_gettime(CLOCK_THREAD_CPUTIME_ID)` before and after each poll | user + system CPU of the thread during the execution's polls, plus the blocking work of `cx.fs()` and of [`run_blocking`]/[`track`]. Exact (within the drift bound of "Cost" below) for every poll of 5 µs or more; a shorter poll is charged its wall time |
//! | `cpu_user_ns`, `cpu_system_ns` | `getrusage(RUSAGE_THREAD)` in the same bracket (with `disk_io`) | the OS's tick-sampled split, raw; [`cpu_split`] scales it to `cpu_ns` |
//! | `disk_read_bytes`, `disk_write_bytes` | `ru_inblock`/`ru_oublock` × 512 in the same bracket (Linux, `disk_io`) | storage I/O the thread caused: reads that missed the page cache, and pages it dirtied (write-back counts for the writer even when it happens later). A read served from the page cache counts 0 here (it counts in `bytes_read`) |
//! | `bytes_read`, `bytes_written` | `cx.fs()` | bytes through tracked file operations, exact |
//! | `mem_allocated`, `mem_freed`, `mem_live`, `mem_peak` | [`CountingAllocator`] | bytes allocated/freed while the execution ran on a thread, and peak live bytes |
//! | `rss_start_bytes`, `rss_end_bytes`, `mem_peak` with `mem_process_wide` | `/proc/self/statm` at the start and end of each attempt, when no counting allocator is installed and `process_rss` is on (it is off by default: the reads cost several µs) | **process-wide** resident memory: other executions' memory included |
//!
//! Not counted: work the task hands to other threads without [`track`] or [`run_blocking`]
//! (plain `tokio::spawn`, `spawn_blocking`, a thread pool), and the reads and writes of a
//! streaming `TrackedFile` (its bytes are counted exactly, but tokio runs them on its own
//! blocking pool). `/proc/thread-self/io` would give real per-thread byte counts but costs
//! tens of microseconds per read, far too much per poll, so it is not used.
//!
//! # Configuration and overhead
//!
//! Each switch of `TrackingConfig` turns one kind of tracking off. On the project's 2-core
//! shared VM (Linux 6.18 under Firecracker) a system call is slow: reading the thread CPU clock
//! costs 0.7-1.7 µs and `getrusage` 0.4-1 µs depending on the load, against a budget of 1 µs
//! per poll bracket. So the bracket reads the clocks only when it must:
//!
//! * **Cost.** A poll that returns within 5 µs (most polls: a channel or timer check) is
//!   charged its wall time as CPU time and no block I/O, with no system call; a bracket that
//!   opens within 2 µs of the previous close on the same thread starts from that close's
//!   readings. Both are exact unless the thread was descheduled inside those microseconds, and
//!   at most 50 µs are estimated in a row before the clocks are read again. A longer poll pays
//!   one real reading per enabled clock at its end, small next to its own length.
//!
//! | switch | default | what it costs when on |
//! |---|---|---|
//! | `cpu` | on | quiet polls: two vDSO clock reads (about 0.1 µs); other polls: one or two `clock_gettime(CLOCK_THREAD_CPUTIME_ID)` system calls |
//! | `disk_io` | on | the same pattern with `getrusage(RUSAGE_THREAD)` |
//! | `memory` | on | with the counting allocator: a few ns per allocation, two flushes of four atomics per poll; without it: two `pread`s of `/proc/self/statm` per attempt (a few µs) |
//! | `files` | on | per `cx.fs()` operation: one span event (up to `max_file_events`), a mutex-guarded update of the per-file totals and a counter; per attempt, one snapshot of the per-file totals when files were touched |
//! | `dependencies` | on | per `cx.dependency()` call: the totals update and two metric records (the client span is always made) |
//!
//! With every switch off the layer adds one boxed future and nothing per poll. Measured
//! figures, with the commands, are in `BENCHMARKS.md`.
//!
//! # Thread safety
//!
//! All figures are atomics in the execution's `ExecutionStats`; brackets of the same execution
//! on two threads at once (a poll and a blocking file operation) add up correctly. Tracking
//! never fails or panics an execution: a reading the OS refuses is skipped, and the figure is
//! reported as not measured.
//!
//! # Telemetry
//!
//! The layer adds each attempt's CPU time to the `servicetask.cpu.time` counter. Once the
//! execution is over, the runner puts [`span_attributes`] on the task span, calls
//! [`record_execution_metrics`] (the `servicetask.memory.peak` histogram) and fills the
//! execution record from `cx.stats()`.
//! `cx.fs()` records `servicetask.file` events and the `servicetask.file.io` counter;
//! [`inspect_input_paths`] records `servicetask.input_file` events.
//!
//! # Features
//!
//! | feature | default | enables |
//! |---|---|---|
//! | `alloc-counter` | off | [`CountingAllocator`] |
//!
//! # Platforms and MSRV
//!
//! CPU time needs a Unix thread CPU clock; disk I/O, the user/system split and RSS need Linux.
//! Elsewhere those figures are reported as not measured. The minimum Rust version is the
//! workspace's `rust-version` (1.85), raised only in a minor release.

mod alloc;
mod bracket;
mod inspect;
mod layer;
mod os;
mod patterns;
mod report;

pub use alloc::counting_allocator_installed;
#[cfg(feature = "alloc-counter")]
pub use alloc::CountingAllocator;
pub use inspect::inspect_input_paths;
pub use layer::{run_blocking, track, Tracked, TrackingLayer, DEFAULT_HISTORY_EXECUTIONS};
pub use patterns::{AccessHistory, AccessPatterns, AccessPatternsConfig, FileUse};
pub use report::{cpu_split, record_execution_metrics, span_attributes};
