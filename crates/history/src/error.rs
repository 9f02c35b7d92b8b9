//! Errors of the history store.

/// Errors returned by history stores.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HistoryError {
    /// The SQLite database reported an error.
    #[error("sqlite error: {0}")]
    Sqlite(rusqlite::Error),
    /// The PostgreSQL database reported an error (or could not be reached).
    #[error("database error: {0}")]
    Database(String),
    /// The database file is damaged (SQLite found a corrupt page, or it is not a database):
    /// records cannot be written or read reliably.
    #[error(
        "the history database is damaged ({detail}); move it aside to start a new history, or salvage its \
         records with `sqlite3 DAMAGED.db .recover | sqlite3 RECOVERED.db`"
    )]
    Damaged {
        /// What SQLite reported.
        detail: String,
    },
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
    /// Batches failed to be written: their records are lost.
    #[error("{batches} history batches could not be written, their records are lost (first error: {detail})")]
    WriteFailed {
        /// Batches that failed.
        batches: u64,
        /// The first failure.
        detail: String,
    },
    /// The writer thread is gone.
    #[error("history writer is shut down")]
    WriterClosed,
}

impl From<rusqlite::Error> for HistoryError {
    /// A corrupt page or a file that is not a database becomes [`HistoryError::Damaged`].
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ffi::ErrorCode;
        match e.sqlite_error_code() {
            Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => {
                HistoryError::Damaged { detail: e.to_string() }
            }
            _ => HistoryError::Sqlite(e),
        }
    }
}

impl HistoryError {
    /// Whether the file is damaged (see [`HistoryError::Damaged`]).
    pub fn is_damage(&self) -> bool {
        matches!(self, HistoryError::Damaged { .. })
    }
}
