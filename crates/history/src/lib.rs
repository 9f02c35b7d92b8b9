//! servicetask-history: one record per task execution, kept in a store that analytics can query.
//!
//! - [`HistoryStore`]: the store contract (insert a batch, query by task and time range, list
//!   tasks, percentiles over a range, mark anomalies, file access patterns);
//! - [`SqliteStore`]: the default store, a single SQLite file in WAL mode with a versioned schema
//!   (`PRAGMA user_version`, [`MIGRATIONS`]);
//! - [`SqliteCheckpoint`]: the durable store of `cx.batch` checkpoints (completed item keys per
//!   execution and batch), so a retried execution skips the items already done;
//! - [`SqliteBatchPace`]: past `cx.batch` runs' pace per task and batch, the history a batch's
//!   time left starts from (registered with `servicetask_core::batch::predict_from`);
//! - `PostgresStore` (feature `postgres`): the same records in PostgreSQL, one history for a
//!   fleet of `servicetask serve` nodes ([`open_database`] picks the store a URL or path names);
//! - [`HistoryWriter`]: the [`RecordSink`](servicetask_core::record::RecordSink) the runner is
//!   given. It queues records in a bounded channel (dropping and counting when full) and a thread
//!   writes them in batches of up to 256 records or 50 ms, one transaction each.
//!
//! ```
//! use std::sync::Arc;
//! use servicetask_core::record::{ExecutionRecord, OutcomeKind, RecordSink};
//! use servicetask_history::{HistoryStore, HistoryWriter, RecordQuery, SqliteStore, WriterConfig};
//!
//! let store = Arc::new(SqliteStore::open_in_memory()?);
//! let writer = HistoryWriter::spawn(store.clone(), WriterConfig::default())?;
//! writer.record(ExecutionRecord::new("resize", 1_700_000_000_000_000_000, 2_000_000, OutcomeKind::Complete));
//! writer.flush()?;
//! assert_eq!(store.count(&RecordQuery::default())?, 1);
//! # Ok::<(), servicetask_history::HistoryError>(())
//! ```
//!
//! # Crash safety
//!
//! A process killed at any point leaves a database that passes `PRAGMA integrity_check` and holds
//! every batch committed before the kill, each complete; only the records still queued or in the
//! batch being written are lost. `tests/kill.rs` kills a real writer process with SIGKILL and
//! checks exactly this.

mod batch_pace;
mod checkpoint;
mod error;
#[cfg(feature = "postgres")]
mod postgres;
mod sqlite;
mod store;
mod writer;

pub use batch_pace::SqliteBatchPace;
pub use checkpoint::{Durability, SqliteCheckpoint};
pub use error::HistoryError;
#[cfg(feature = "postgres")]
pub use postgres::{PostgresStore, PG_MIGRATIONS};
pub use sqlite::{SqliteStore, BATCH_COUNTS, MIGRATIONS, SCHEMA_VERSION};
pub use store::{
    is_postgres_url, open_database, AccessTrait, FileAccessPattern, HistoryStore, RecordQuery, StoredRecord,
};
pub use writer::{HistoryWriter, WriterConfig};
