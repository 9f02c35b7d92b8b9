//! File access patterns over the recent executions of a task: read-heavy, write-heavy, large
//! and frequently accessed files.
//!
//! [`AccessHistory`] keeps the per-file totals of the last N executions of each task (the
//! [`crate::TrackingLayer`] fills one as executions end); [`AccessPatterns`] summarises any
//! list of executions, from that history or from stored `ExecutionRecord`s. Pure data, no I/O.
//!
//! ```
//! use servicetask_core::record::{ExecutionRecord, FileAccess, FileAccessKind};
//! use servicetask_tracking::{AccessPatterns, AccessPatternsConfig};
//! let read = |path: &str, bytes| FileAccess { path: path.into(), kind: FileAccessKind::Read, bytes, ops: 1, file_size: Some(bytes) };
//! let runs = vec![vec![read("/in/a.csv", 4096)], vec![read("/in/a.csv", 4096), read("/in/b.csv", 10)]];
//! let p = AccessPatterns::from_executions(runs.iter().map(|r| r.as_slice()));
//! let c = AccessPatternsConfig::default();
//! assert_eq!(p.read_heavy(&c)[0].path, "/in/a.csv");
//! assert_eq!(p.frequent(&c).len(), 1); // a.csv is in both executions, b.csv in half of them
//! ```

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;

use servicetask_core::record::{ExecutionRecord, FileAccess, FileAccessKind};

/// Thresholds of the pattern queries.
#[derive(Debug, Clone, PartialEq)]
pub struct AccessPatternsConfig {
    /// A file is read-heavy (write-heavy) when reads (writes) are at least this share of its
    /// bytes moved, in `[0, 1]`; files with no bytes moved are neither.
    pub heavy_share: f64,
    /// A file is large when its size (or the most bytes moved in one execution) reaches this.
    pub large_bytes: u64,
    /// A file is frequently accessed when it is touched in more than this share of the
    /// executions, in `[0, 1]`.
    pub frequent_share: f64,
    /// ... and in at least this many executions.
    pub frequent_min_executions: u32,
}

impl Default for AccessPatternsConfig {
    fn default() -> Self {
        AccessPatternsConfig {
            heavy_share: 0.8,
            large_bytes: 100 * 1024 * 1024,
            frequent_share: 0.5,
            frequent_min_executions: 2,
        }
    }
}

/// One file's use across the executions analysed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FileUse {
    /// The path as the tasks named it.
    pub path: String,
    /// Executions that touched the file.
    pub executions: u32,
    /// Read operations.
    pub read_ops: u64,
    /// Write operations.
    pub write_ops: u64,
    /// Metadata operations (stat, rename, remove, listing...).
    pub meta_ops: u64,
    /// Bytes read.
    pub bytes_read: u64,
    /// Bytes written.
    pub bytes_written: u64,
    /// Largest size seen, or the most bytes moved in one execution when no size was seen.
    pub max_size: u64,
}

impl FileUse {
    /// Share of the bytes moved that were reads, `None` when no byte moved.
    pub fn read_share(&self) -> Option<f64> {
        let total = self.bytes_read + self.bytes_written;
        (total > 0).then(|| self.bytes_read as f64 / total as f64)
    }
}

/// Access patterns over a set of executions of one task.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AccessPatterns {
    executions: u32,
    files: Vec<FileUse>,
}

impl AccessPatterns {
    /// Summarises executions, each given as its per-file totals.
    pub fn from_executions<'a>(executions: impl IntoIterator<Item = &'a [FileAccess]>) -> Self {
        let mut by_path: BTreeMap<&str, FileUse> = BTreeMap::new();
        let mut n = 0u32;
        for files in executions {
            n += 1;
            let mut seen: HashMap<&str, u64> = HashMap::new();
            for f in files {
                let u = by_path.entry(&f.path).or_insert_with(|| FileUse {
                    path: f.path.clone(),
                    ..FileUse::default()
                });
                match f.kind {
                    FileAccessKind::Read => {
                        u.read_ops += u64::from(f.ops);
                        u.bytes_read += f.bytes;
                    }
                    FileAccessKind::Write => {
                        u.write_ops += u64::from(f.ops);
                        u.bytes_written += f.bytes;
                    }
                    FileAccessKind::Meta => u.meta_ops += u64::from(f.ops),
                }
                u.max_size = u.max_size.max(f.file_size.unwrap_or(0));
                *seen.entry(&f.path).or_default() += f.bytes;
            }
            for (path, bytes) in seen {
                if let Some(u) = by_path.get_mut(path) {
                    u.executions += 1;
                    u.max_size = u.max_size.max(bytes);
                }
            }
        }
        AccessPatterns {
            executions: n,
            files: by_path.into_values().collect(),
        }
    }

    /// Summarises stored execution records of one task (records of other tasks are skipped).
    pub fn from_records<'a>(task: &str, records: impl IntoIterator<Item = &'a ExecutionRecord>) -> Self {
        AccessPatterns::from_executions(
            records
                .into_iter()
                .filter(|r| r.task == task)
                .map(|r| r.files.as_slice()),
        )
    }

    /// Executions analysed.
    pub fn executions(&self) -> u32 {
        self.executions
    }

    /// Every file seen, sorted by path.
    pub fn files(&self) -> &[FileUse] {
        &self.files
    }

    /// Files mostly read, most bytes read first.
    pub fn read_heavy(&self, config: &AccessPatternsConfig) -> Vec<&FileUse> {
        let mut v: Vec<_> = self
            .files
            .iter()
            .filter(|f| f.read_share().is_some_and(|s| s >= config.heavy_share))
            .collect();
        v.sort_by(|a, b| b.bytes_read.cmp(&a.bytes_read).then_with(|| a.path.cmp(&b.path)));
        v
    }

    /// Files mostly written, most bytes written first.
    pub fn write_heavy(&self, config: &AccessPatternsConfig) -> Vec<&FileUse> {
        let mut v: Vec<_> = self
            .files
            .iter()
            .filter(|f| f.read_share().is_some_and(|s| 1.0 - s >= config.heavy_share))
            .collect();
        v.sort_by(|a, b| b.bytes_written.cmp(&a.bytes_written).then_with(|| a.path.cmp(&b.path)));
        v
    }

    /// Files at least `large_bytes` big, largest first.
    pub fn large(&self, config: &AccessPatternsConfig) -> Vec<&FileUse> {
        let mut v: Vec<_> = self.files.iter().filter(|f| f.max_size >= config.large_bytes).collect();
        v.sort_by(|a, b| b.max_size.cmp(&a.max_size).then_with(|| a.path.cmp(&b.path)));
        v
    }

    /// Files touched in more than `frequent_share` of the executions (and at least
    /// `frequent_min_executions`), most often touched first.
    pub fn frequent(&self, config: &AccessPatternsConfig) -> Vec<&FileUse> {
        let n = f64::from(self.executions.max(1));
        let mut v: Vec<_> = self
            .files
            .iter()
            .filter(|f| {
                f.executions >= config.frequent_min_executions && f64::from(f.executions) / n > config.frequent_share
            })
            .collect();
        v.sort_by(|a, b| b.executions.cmp(&a.executions).then_with(|| a.path.cmp(&b.path)));
        v
    }
}

/// The per-file totals of the last executions of each task, bounded per task.
#[derive(Debug)]
pub struct AccessHistory {
    capacity: usize,
    tasks: Mutex<HashMap<String, VecDeque<Vec<FileAccess>>>>,
}

impl AccessHistory {
    /// Keeps the last `capacity` executions per task (at least one).
    pub fn new(capacity: usize) -> Self {
        AccessHistory {
            capacity: capacity.max(1),
            tasks: Mutex::new(HashMap::new()),
        }
    }

    /// Adds one execution's per-file totals (an empty list is ignored).
    pub fn record(&self, task: &str, files: Vec<FileAccess>) {
        if files.is_empty() {
            return;
        }
        let mut tasks = self.tasks.lock().unwrap_or_else(|p| p.into_inner());
        let q = match tasks.get_mut(task) {
            Some(q) => q,
            None => tasks.entry(task.to_string()).or_default(),
        };
        if q.len() == self.capacity {
            q.pop_front();
        }
        q.push_back(files);
    }

    /// The patterns over the executions of `task` kept so far.
    pub fn patterns(&self, task: &str) -> AccessPatterns {
        let tasks = self.tasks.lock().unwrap_or_else(|p| p.into_inner());
        match tasks.get(task) {
            Some(q) => AccessPatterns::from_executions(q.iter().map(Vec::as_slice)),
            None => AccessPatterns::default(),
        }
    }
}

/// `now - before`, per (path, kind): what an attempt added to the execution's totals.
pub(crate) fn subtract(now: Vec<FileAccess>, before: &[FileAccess]) -> Vec<FileAccess> {
    if before.is_empty() {
        return now;
    }
    let index: HashMap<(&str, FileAccessKind), &FileAccess> =
        before.iter().map(|b| ((b.path.as_str(), b.kind), b)).collect();
    now.into_iter()
        .filter_map(|mut f| {
            if let Some(b) = index.get(&(f.path.as_str(), f.kind)) {
                f.bytes = f.bytes.saturating_sub(b.bytes);
                f.ops = f.ops.saturating_sub(b.ops);
            }
            (f.ops > 0).then_some(f)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fa(path: &str, kind: FileAccessKind, bytes: u64, size: Option<u64>) -> FileAccess {
        FileAccess {
            path: path.into(),
            kind,
            bytes,
            ops: 1,
            file_size: size,
        }
    }

    #[test]
    fn classifies_read_write_large_and_frequent_files() {
        use FileAccessKind::*;
        let runs = [
            vec![
                fa("/in/big.bin", Read, 200 << 20, Some(200 << 20)),
                fa("/out/log", Write, 1000, None),
                fa("/cfg", Read, 10, None),
            ],
            vec![fa("/out/log", Write, 1000, None), fa("/cfg", Read, 10, None)],
            vec![fa("/out/log", Write, 500, None), fa("/cfg", Meta, 0, None)],
            vec![fa("/mixed", Read, 50, None), fa("/mixed", Write, 50, None)],
        ];
        let p = AccessPatterns::from_executions(runs.iter().map(|r| r.as_slice()));
        let c = AccessPatternsConfig::default();
        assert_eq!(p.executions(), 4);
        let names = |v: Vec<&FileUse>| v.into_iter().map(|f| f.path.clone()).collect::<Vec<_>>();
        assert_eq!(names(p.read_heavy(&c)), ["/in/big.bin", "/cfg"]);
        assert_eq!(names(p.write_heavy(&c)), ["/out/log"]);
        assert_eq!(names(p.large(&c)), ["/in/big.bin"]);
        assert_eq!(names(p.frequent(&c)), ["/cfg", "/out/log"]);
        let log = p.files().iter().find(|f| f.path == "/out/log").unwrap();
        assert_eq!((log.executions, log.write_ops, log.bytes_written), (3, 3, 2500));
    }

    #[test]
    fn records_of_other_tasks_are_skipped() {
        use servicetask_core::record::OutcomeKind;
        let mut a = ExecutionRecord::new("a", 0, 1, OutcomeKind::Complete);
        a.files.push(fa("/x", FileAccessKind::Read, 5, None));
        let mut b = ExecutionRecord::new("b", 0, 1, OutcomeKind::Complete);
        b.files.push(fa("/y", FileAccessKind::Read, 5, None));
        let p = AccessPatterns::from_records("a", [&a, &b]);
        assert_eq!(p.executions(), 1);
        assert_eq!(p.files()[0].path, "/x");
    }

    #[test]
    fn history_keeps_the_last_executions_per_task() {
        let h = AccessHistory::new(2);
        for i in 0..3u64 {
            h.record("t", vec![fa(&format!("/f{i}"), FileAccessKind::Read, 1, None)]);
        }
        h.record("t", Vec::new());
        let p = h.patterns("t");
        assert_eq!(p.executions(), 2);
        assert_eq!(
            p.files().iter().map(|f| f.path.as_str()).collect::<Vec<_>>(),
            ["/f1", "/f2"]
        );
        assert_eq!(h.patterns("other").executions(), 0);
    }

    #[test]
    fn subtract_keeps_only_what_an_attempt_added() {
        let before = vec![fa("/a", FileAccessKind::Read, 10, None)];
        let mut a2 = fa("/a", FileAccessKind::Read, 30, None);
        a2.ops = 3;
        let now = vec![a2, fa("/b", FileAccessKind::Write, 5, None)];
        let d = subtract(now, &before);
        assert_eq!(d.len(), 2);
        assert_eq!((d[0].bytes, d[0].ops), (20, 2));
        assert_eq!(d[1].path, "/b");
    }
}
