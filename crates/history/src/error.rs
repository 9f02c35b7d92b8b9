//! Errors of the history store.

/// Errors returned by history stores.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HistoryError {
    /// The SQLite database reported an error.
    #[error("sqlite error")]
    Sqlite(#[from] rusqlite::Error),
    /// The database was written by a newer version of servicetask.
    #[error("database schema version {found} is newer than the supported version {supported}")]
    SchemaTooNew {
        /// Version found in the database.
        found: i64,
        /// Newest version this build knows.
        supported: i64,
    },
    /// A stored row could not be decoded.
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// The writer thread is gone.
    #[error("history writer is shut down")]
    WriterClosed,
}
