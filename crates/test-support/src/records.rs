//! Execution records for the tests of the stores, the analytics and the reports, and
//! [`KeepRecords`], a sink that keeps what a runner records.

use std::sync::Mutex;

use servicetask_core::record::{DependencyUse, ExecutionRecord, FileAccess, FileAccessKind, OutcomeKind, RecordSink};

/// A second, in nanoseconds.
pub const SEC: i64 = 1_000_000_000;

/// A completed execution of `task` started `t` seconds after the epoch that took `dur_ms`.
pub fn record(task: &str, t: i64, dur_ms: u64) -> ExecutionRecord {
    ExecutionRecord::new(task, t * SEC, dur_ms * 1_000_000, OutcomeKind::Complete)
}

/// A failed `resize` execution with every field set, a file and a dependency included (every
/// count of the dependency non-zero, whatever fields this build's record holds): a store that
/// gives it back equal keeps every field.
pub fn every_field() -> ExecutionRecord {
    let mut r = record("resize", 10, 5);
    r.outcome = OutcomeKind::Failure;
    r.error_class = Some("timeout".into());
    r.input_size = Some(1234);
    r.cpu_ns = Some(99);
    r.mem_peak_bytes = Some(1 << 20);
    r.bytes_read = 7;
    r.bytes_written = 8;
    r.attempts = 3;
    r.fallback_used = true;
    r.trace_id = Some("0af7651916cd43dd8448eb211c80319c".into());
    r.process_id = Some("proc".into());
    r.process_instance_id = Some("42".into());
    r.element_id = Some("Task_1".into());
    r.anomaly = true;
    r.files.push(FileAccess {
        path: "a.txt".into(),
        kind: FileAccessKind::Read,
        bytes: 7,
        ops: 2,
        file_size: Some(70),
    });
    let mut dep = serde_json::json!({ "name": "s3", "calls": 3, "failures": 2, "total_ns": 1000 });
    let all = serde_json::to_value(serde_json::from_value::<DependencyUse>(dep.clone()).expect("a dependency"))
        .expect("a dependency as JSON");
    if let serde_json::Value::Object(all) = all {
        for (k, v) in all {
            if v.as_u64() == Some(0) {
                dep[k] = serde_json::json!(11);
            }
        }
    }
    r.dependencies.push(serde_json::from_value(dep).expect("a dependency"));
    r
}

/// Thirty runs of `sync` (100 ms each, a second apart) calling three dependencies, in this
/// order: `crm.example.com` 12 times per run (12 ms in all, 1,000 bytes sent and 2,048
/// received: chatty), `geo` once for 80 ms (most of the run, yet under a slow call's 0.1 s),
/// and `mail` 3 times, one call failing with `timeout` in every third run (flaky).
pub fn dependency_runs() -> Vec<ExecutionRecord> {
    (0..30)
        .map(|i| {
            let mut r = ExecutionRecord::new("sync", i * SEC, 100_000_000, OutcomeKind::Complete);
            r.dependencies.push(DependencyUse {
                calls: 12,
                total_ns: 12_000_000,
                bytes_sent: 1_000,
                bytes_received: 2_048,
                ..DependencyUse::named("crm.example.com")
            });
            r.dependencies.push(DependencyUse {
                calls: 1,
                total_ns: 80_000_000,
                ..DependencyUse::named("geo")
            });
            let mut mail = DependencyUse {
                calls: 3,
                total_ns: 3_000,
                ..DependencyUse::named("mail")
            };
            if i % 3 == 0 {
                mail.failures = 1;
                mail.errors.insert("timeout".into(), 1);
            }
            r.dependencies.push(mail);
            r
        })
        .collect()
}

/// A [`RecordSink`] that keeps every record, in the order recorded.
#[derive(Debug, Default)]
pub struct KeepRecords(Mutex<Vec<ExecutionRecord>>);

impl KeepRecords {
    /// The records kept so far.
    pub fn records(&self) -> Vec<ExecutionRecord> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl RecordSink for KeepRecords {
    fn record(&self, r: ExecutionRecord) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(r);
    }
}
