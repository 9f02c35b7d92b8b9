//! [`TrackingLayer`]: the innermost pipeline layer, which brackets every poll of the attempt's
//! future and keeps the task's recent file accesses; and [`track`], the same bracket for work
//! a task spawns itself.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};

use opentelemetry::KeyValue;
use pin_project_lite::pin_project;
use servicetask_core::layer::{AttemptResult, BoxFuture, Layer, Next};
use servicetask_core::record::FileAccess;
use servicetask_core::{semconv, TaskContext, TrackingConfig};

use crate::bracket::{Bracket, Plan};
use crate::os;
use crate::patterns::AccessHistory;

/// Executions remembered per task by a layer's [`AccessHistory`] by default.
pub const DEFAULT_HISTORY_EXECUTIONS: usize = 100;

/// The tracking layer: CPU time, memory and disk I/O per execution, measured around each poll.
///
/// Put it innermost (just around the task), so that what it measures is the task's own work
/// and not the other layers'. See the crate documentation for what is counted and its cost.
#[derive(Debug, Clone)]
pub struct TrackingLayer {
    config: TrackingConfig,
    history: Arc<AccessHistory>,
}

impl TrackingLayer {
    /// A layer with these switches (give it the same `TrackingConfig` as the task's contexts:
    /// the layer's copy decides CPU, memory and disk tracking, the context's decides files and
    /// dependencies). Also installs the blocking-work hook of `cx.fs()` (once per process), so
    /// whole-file operations count for the execution that asked for them.
    pub fn new(config: &TrackingConfig) -> Self {
        servicetask_core::fs::set_blocking_hook(blocking_hook);
        TrackingLayer {
            config: config.clone(),
            history: Arc::new(AccessHistory::new(DEFAULT_HISTORY_EXECUTIONS)),
        }
    }

    /// The switches in force.
    pub fn config(&self) -> &TrackingConfig {
        &self.config
    }

    /// The recent file accesses of the executions that ran through this layer (one entry per
    /// attempt that touched files), for [`crate::AccessPatterns`].
    pub fn access_history(&self) -> &Arc<AccessHistory> {
        &self.history
    }
}

impl Layer for TrackingLayer {
    fn call<'a>(&'a self, cx: &'a TaskContext, next: Next<'a>) -> BoxFuture<'a, AttemptResult> {
        let plan = Plan::for_config(&self.config);
        let stats = cx.stats();
        if plan.cpu {
            stats.cpu_measured.store(true, Ordering::Relaxed);
        }
        if plan.disk {
            stats.disk_measured.store(true, Ordering::Relaxed);
        }
        // Memory is measured by the counting allocator (plan.memory), or else as process RSS
        // when that is asked for; otherwise it is not measured at all.
        let rss = self.config.memory && self.config.process_rss && !plan.memory;
        if plan.memory || rss {
            stats.mem_measured.store(true, Ordering::Relaxed);
            if rss {
                stats.mem_process_wide.store(true, Ordering::Relaxed);
                if let Some(bytes) = os::process_rss_bytes() {
                    // Only the first attempt's reading is the execution's start.
                    let _ = stats
                        .rss_start_bytes
                        .compare_exchange(0, bytes, Ordering::Relaxed, Ordering::Relaxed);
                    stats.mem_peak.fetch_max(bytes, Ordering::Relaxed);
                }
            }
        }
        let files_before = if self.config.files {
            let ops = file_ops(cx);
            Some((ops, if ops > 0 { stats.files() } else { Vec::new() }))
        } else {
            None
        };
        let finish = Finish {
            history: &self.history,
            cpu_before: stats.cpu_ns.load(Ordering::Relaxed),
            rss,
            files_before,
        };
        Box::pin(Attempt {
            inner: next.run(cx),
            cx,
            plan,
            finish: Some(finish),
        })
    }
}

/// File operations recorded so far (on the span or over the cap).
fn file_ops(cx: &TaskContext) -> u32 {
    let s = cx.stats();
    s.file_events.load(Ordering::Relaxed) + s.file_events_dropped.load(Ordering::Relaxed)
}

/// What to do when an attempt ends.
struct Finish<'a> {
    history: &'a AccessHistory,
    cpu_before: u64,
    rss: bool,
    files_before: Option<(u32, Vec<FileAccess>)>,
}

impl Finish<'_> {
    fn run(self, cx: &TaskContext) {
        let stats = cx.stats();
        let cpu = stats.cpu_ns.load(Ordering::Relaxed).saturating_sub(self.cpu_before);
        if cpu > 0 {
            cx.telemetry().instruments().cpu_time.add(
                cpu as f64 / 1e9,
                &[KeyValue::new(semconv::SERVICETASK_NAME, cx.task_name().to_string())],
            );
        }
        if self.rss {
            if let Some(bytes) = os::process_rss_bytes() {
                stats.rss_end_bytes.store(bytes, Ordering::Relaxed);
                stats.mem_peak.fetch_max(bytes, Ordering::Relaxed);
            }
        }
        if let Some((ops_before, before)) = self.files_before {
            if file_ops(cx) != ops_before {
                let delta = crate::patterns::subtract(stats.files(), &before);
                self.history.record(cx.task_name(), delta);
            }
        }
    }
}

/// One attempt's future inside the layer.
struct Attempt<'a> {
    inner: BoxFuture<'a, AttemptResult>,
    cx: &'a TaskContext,
    plan: Plan,
    finish: Option<Finish<'a>>,
}

impl Future for Attempt<'_> {
    type Output = AttemptResult;

    fn poll(self: Pin<&mut Self>, task_cx: &mut Context<'_>) -> Poll<AttemptResult> {
        let this = self.get_mut();
        let out = {
            let _bracket = (!this.plan.is_empty()).then(|| Bracket::open(this.plan, this.cx.stats()));
            this.inner.as_mut().poll(task_cx)
        };
        if out.is_ready() {
            if let Some(f) = this.finish.take() {
                f.run(this.cx);
            }
        }
        out
    }
}

impl Drop for Attempt<'_> {
    /// An attempt cancelled before it finished (a timeout dropped it) still closes its books:
    /// CPU metric, end RSS, access history.
    fn drop(&mut self) {
        if let Some(f) = self.finish.take() {
            f.run(self.cx);
        }
    }
}

/// Brackets blocking work done for an execution (installed as `cx.fs()`'s blocking hook).
fn blocking_hook(cx: &TaskContext, work: &mut dyn FnMut()) {
    run_blocking(cx, work)
}

/// Runs blocking `work` on the current thread as part of `cx`'s execution: its CPU time, block
/// I/O and allocations count for the execution, as far as a tracking layer is measuring them.
///
/// Use it inside your own `spawn_blocking` closures; `cx.fs()` does it for you.
pub fn run_blocking<R>(cx: &TaskContext, work: impl FnOnce() -> R) -> R {
    let plan = Plan::started(cx.stats());
    let _bracket = (!plan.is_empty()).then(|| Bracket::open(plan, cx.stats()));
    work()
}

pin_project! {
    /// A future whose polls count for an execution; see [`track`].
    #[derive(Debug)]
    #[must_use = "futures do nothing unless polled"]
    pub struct Tracked<F> {
        #[pin]
        inner: F,
        cx: TaskContext,
    }
}

impl<F> Tracked<F> {
    /// The wrapped future.
    pub fn into_inner(self) -> F {
        self.inner
    }
}

impl<F: Future> Future for Tracked<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, task_cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let plan = Plan::started(this.cx.stats());
        let _bracket = (!plan.is_empty()).then(|| Bracket::open(plan, this.cx.stats()));
        this.inner.poll(task_cx)
    }
}

/// Wraps a future the task spawns itself (`tokio::spawn(track(&cx, fut))`) so that its polls
/// count for the execution, as far as a tracking layer is measuring it.
pub fn track<F: Future>(cx: &TaskContext, fut: F) -> Tracked<F> {
    Tracked {
        inner: fut,
        cx: cx.clone(),
    }
}
