//! [`HistoryWriter`]: records go into a bounded queue; a thread writes them in batches.
//!
//! The task's path only pays for a `try_send` on a bounded channel: when the queue is full the
//! record is dropped and counted ([`HistoryWriter::dropped`]), never waited for. The writer thread
//! collects up to [`WriterConfig::batch_size`] records, or what arrived within
//! [`WriterConfig::batch_interval`] of the first, and writes them in one transaction.
//!
//! # Crash behaviour
//!
//! A process killed mid-run leaves an intact database holding every batch that was committed;
//! it loses what was still queued or being written (at most one batch plus the queue). The kill
//! test (`tests/kill.rs`) checks this with SIGKILL against a real process.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TryRecvError, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use servicetask_core::record::{ExecutionRecord, RecordSink};

use crate::store::HistoryStore;
use crate::HistoryError;

/// Tuning of [`HistoryWriter`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriterConfig {
    /// Records the queue holds before new ones are dropped.
    pub capacity: usize,
    /// Most records written in one transaction.
    pub batch_size: usize,
    /// How long the writer sleeps between drains of the queue (the longest a record waits
    /// before its batch is written, unless the batch fills first).
    pub batch_interval: Duration,
}

impl Default for WriterConfig {
    fn default() -> Self {
        WriterConfig {
            capacity: 8192,
            batch_size: 256,
            batch_interval: Duration::from_millis(50),
        }
    }
}

// Records are nearly every message; boxing them would add an allocation to the task's path.
#[allow(clippy::large_enum_variant)]
enum Msg {
    Record(ExecutionRecord),
    Flush(SyncSender<()>),
    Shutdown,
}

#[derive(Debug, Default)]
struct Counters {
    dropped: AtomicU64,
    written: AtomicU64,
    batches: AtomicU64,
    write_errors: AtomicU64,
    /// The first failed batch's error (its message, and whether it was damage).
    first_error: Mutex<Option<(String, bool)>>,
}

/// Writes execution records to a [`HistoryStore`] off the task's path. Implements
/// [`RecordSink`], so the runner can hand it records directly.
///
/// Dropping the writer flushes what is queued and stops the thread.
#[derive(Debug)]
pub struct HistoryWriter {
    tx: SyncSender<Msg>,
    counters: Arc<Counters>,
    handle: Mutex<Option<JoinHandle<()>>>,
}

impl HistoryWriter {
    /// Starts the writer thread over `store`.
    pub fn spawn(store: Arc<dyn HistoryStore>, config: WriterConfig) -> Result<HistoryWriter, HistoryError> {
        let (tx, rx) = sync_channel(config.capacity.max(1));
        let counters = Arc::new(Counters::default());
        let c = Arc::clone(&counters);
        let handle = std::thread::Builder::new()
            .name("servicetask-history".into())
            .spawn(move || run(store, config, rx, c))
            .map_err(|_| HistoryError::WriterClosed)?;
        Ok(HistoryWriter {
            tx,
            counters,
            handle: Mutex::new(Some(handle)),
        })
    }

    /// Queues a record, giving it back when the queue is full or the writer is shut down (nothing
    /// is counted as dropped then: the caller decides).
    pub fn try_record(&self, record: ExecutionRecord) -> Result<(), Box<ExecutionRecord>> {
        match self.tx.try_send(Msg::Record(record)) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(Msg::Record(r)) | TrySendError::Disconnected(Msg::Record(r))) => Err(Box::new(r)),
            Err(_) => Ok(()),
        }
    }

    /// Records dropped because the queue was full (or the writer was shut down).
    pub fn dropped(&self) -> u64 {
        self.counters.dropped.load(Ordering::Relaxed)
    }

    /// Records written to the store.
    pub fn written(&self) -> u64 {
        self.counters.written.load(Ordering::Relaxed)
    }

    /// Batches (transactions) written.
    pub fn batches(&self) -> u64 {
        self.counters.batches.load(Ordering::Relaxed)
    }

    /// Batches that failed to write (their records are lost and counted here, not in `dropped`).
    pub fn write_errors(&self) -> u64 {
        self.counters.write_errors.load(Ordering::Relaxed)
    }

    /// `Ok` while every batch so far was written; otherwise the first failure, as
    /// [`HistoryError::Damaged`] when the file is damaged (with the way to recover) or
    /// [`HistoryError::WriteFailed`] with the count of batches lost. Call it after
    /// [`HistoryWriter::flush`] to learn whether the history holds the run.
    pub fn health(&self) -> Result<(), HistoryError> {
        let batches = self.write_errors();
        if batches == 0 {
            return Ok(());
        }
        let first = self
            .counters
            .first_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        match first {
            Some((detail, true)) => Err(HistoryError::Damaged { detail }),
            Some((detail, false)) => Err(HistoryError::WriteFailed { batches, detail }),
            None => Err(HistoryError::WriteFailed {
                batches,
                detail: "unknown".into(),
            }),
        }
    }

    /// Waits until every record queued before this call is written.
    pub fn flush(&self) -> Result<(), HistoryError> {
        let (ack_tx, ack_rx) = sync_channel(1);
        self.tx
            .send(Msg::Flush(ack_tx))
            .map_err(|_| HistoryError::WriterClosed)?;
        self.wake();
        ack_rx.recv().map_err(|_| HistoryError::WriterClosed)
    }

    /// Writes what is queued and stops the writer thread. Later records are dropped.
    pub fn shutdown(&self) {
        let handle = self.handle.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(h) = handle {
            let _ = self.tx.send(Msg::Shutdown);
            h.thread().unpark();
            let _ = h.join();
        }
    }

    fn wake(&self) {
        if let Some(h) = self.handle.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            h.thread().unpark();
        }
    }
}

impl RecordSink for HistoryWriter {
    fn record(&self, record: ExecutionRecord) {
        if self.tx.try_send(Msg::Record(record)).is_err() {
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl Drop for HistoryWriter {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn run(store: Arc<dyn HistoryStore>, cfg: WriterConfig, rx: Receiver<Msg>, c: Arc<Counters>) {
    let batch_size = cfg.batch_size.max(1);
    let interval = cfg.batch_interval.max(Duration::from_micros(100));
    let mut batch: Vec<ExecutionRecord> = Vec::with_capacity(batch_size);
    let write = |batch: &mut Vec<ExecutionRecord>| {
        if batch.is_empty() {
            return;
        }
        match store.insert_batch(batch) {
            Ok(_) => {
                c.written.fetch_add(batch.len() as u64, Ordering::Relaxed);
                c.batches.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                c.write_errors.fetch_add(1, Ordering::Relaxed);
                let mut first = c.first_error.lock().unwrap_or_else(|p| p.into_inner());
                if first.is_none() {
                    let detail = match &e {
                        HistoryError::Damaged { detail } => detail.clone(),
                        other => other.to_string(),
                    };
                    *first = Some((detail, e.is_damage()));
                }
            }
        }
        batch.clear();
    };
    // The thread never blocks in `recv`: it sleeps (parked) for the batch interval and then
    // drains the queue. A sender therefore never has to wake it, which keeps `record` to a
    // lock-free push; `flush` and `shutdown` unpark it explicitly.
    loop {
        let mut acks = Vec::new();
        let mut stop = false;
        loop {
            match rx.try_recv() {
                Ok(Msg::Record(r)) => {
                    batch.push(r);
                    if batch.len() >= batch_size {
                        write(&mut batch);
                    }
                }
                Ok(Msg::Flush(ack)) => acks.push(ack),
                Ok(Msg::Shutdown) | Err(TryRecvError::Disconnected) => {
                    stop = true;
                    break;
                }
                Err(TryRecvError::Empty) => break,
            }
            if !acks.is_empty() {
                // everything queued before the flush request has been taken: write it now
                break;
            }
        }
        write(&mut batch);
        for a in acks {
            let _ = a.send(());
        }
        if stop {
            // drain what is still queued, then stop
            while let Ok(m) = rx.try_recv() {
                if let Msg::Record(r) = m {
                    batch.push(r);
                    if batch.len() >= batch_size {
                        write(&mut batch);
                    }
                }
            }
            write(&mut batch);
            return;
        }
        std::thread::park_timeout(interval);
    }
}
