//! Reading an execution's figures back: the user/system split of its CPU time and the span
//! attributes that summarise it.

use std::sync::atomic::Ordering;

use opentelemetry::KeyValue;
use servicetask_core::{semconv, ExecutionStats, TaskContext};

/// The execution's CPU time split into user and system nanoseconds, adding up to `cpu_ns`.
///
/// The OS samples the split at each scheduler tick (4 ms at `HZ=250`), so it is a ratio
/// estimate applied to the exact total; `None` when it was not measured (`disk_io` off, or not
/// Linux) or when the execution ran too briefly for any tick to land in it.
pub fn cpu_split(stats: &ExecutionStats) -> Option<(u64, u64)> {
    let total = stats.cpu_ns.load(Ordering::Relaxed);
    let user = stats.cpu_user_ns.load(Ordering::Relaxed);
    let system = stats.cpu_system_ns.load(Ordering::Relaxed);
    let sampled = user + system;
    if sampled == 0 || !stats.cpu_measured.load(Ordering::Relaxed) {
        return None;
    }
    let user_ns = (total as u128 * user as u128 / sampled as u128) as u64;
    Some((user_ns, total - user_ns))
}

/// The attributes summarising the execution's tracking, for the task span (only the figures
/// that were measured): CPU time, memory (peak, allocated and scope), bytes read and written
/// through tracked I/O, files touched and file events over the cap.
pub fn span_attributes(cx: &TaskContext) -> Vec<KeyValue> {
    let s = cx.stats();
    let mut attrs = Vec::with_capacity(8);
    if s.cpu_measured.load(Ordering::Relaxed) {
        attrs.push(KeyValue::new(
            semconv::SERVICETASK_CPU_TIME_NS,
            s.cpu_ns.load(Ordering::Relaxed) as i64,
        ));
    }
    if s.mem_measured.load(Ordering::Relaxed) {
        let process = s.mem_process_wide.load(Ordering::Relaxed);
        attrs.push(KeyValue::new(
            semconv::SERVICETASK_MEMORY_PEAK_BYTES,
            s.mem_peak.load(Ordering::Relaxed) as i64,
        ));
        attrs.push(KeyValue::new(
            semconv::SERVICETASK_MEMORY_SCOPE,
            if process { "process" } else { "execution" },
        ));
        if !process {
            attrs.push(KeyValue::new(
                semconv::SERVICETASK_MEMORY_ALLOCATED_BYTES,
                s.mem_allocated.load(Ordering::Relaxed) as i64,
            ));
        }
    }
    if cx.tracking().files {
        attrs.push(KeyValue::new(
            semconv::SERVICETASK_IO_READ_BYTES,
            s.bytes_read.load(Ordering::Relaxed) as i64,
        ));
        attrs.push(KeyValue::new(
            semconv::SERVICETASK_IO_WRITE_BYTES,
            s.bytes_written.load(Ordering::Relaxed) as i64,
        ));
        let mut paths: Vec<String> = s.files().into_iter().map(|f| f.path).collect();
        paths.sort();
        paths.dedup();
        attrs.push(KeyValue::new(semconv::SERVICETASK_FILES_COUNT, paths.len() as i64));
        let dropped = s.file_events_dropped.load(Ordering::Relaxed);
        if dropped > 0 {
            attrs.push(KeyValue::new(
                semconv::SERVICETASK_FILES_EVENTS_DROPPED,
                i64::from(dropped),
            ));
        }
    }
    attrs
}

/// Records the execution's peak memory in the `servicetask.memory.peak` histogram, with
/// `servicetask.name` and `servicetask.memory.scope` (`execution` or `process`). Call it once
/// per execution, after the last attempt (the tracking layer runs per attempt, so it cannot).
/// Does nothing when memory was not measured.
pub fn record_execution_metrics(cx: &TaskContext) {
    let s = cx.stats();
    if !s.mem_measured.load(Ordering::Relaxed) {
        return;
    }
    let scope = if s.mem_process_wide.load(Ordering::Relaxed) {
        "process"
    } else {
        "execution"
    };
    cx.telemetry().instruments().memory_peak.record(
        s.mem_peak.load(Ordering::Relaxed),
        &[
            KeyValue::new(semconv::SERVICETASK_NAME, cx.task_name().to_string()),
            KeyValue::new(semconv::SERVICETASK_MEMORY_SCOPE, scope),
        ],
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_scales_the_sampled_ratio_to_the_exact_total() {
        let s = ExecutionStats::default();
        assert_eq!(cpu_split(&s), None);
        s.cpu_measured.store(true, Ordering::Relaxed);
        s.cpu_ns.store(1_000, Ordering::Relaxed);
        s.cpu_user_ns.store(3_000, Ordering::Relaxed);
        s.cpu_system_ns.store(1_000, Ordering::Relaxed);
        assert_eq!(cpu_split(&s), Some((750, 250)));
    }
}
