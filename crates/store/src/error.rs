//! [`StoreError`]: what a store operation can come to besides success.

/// A store operation that did not happen.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The instance moved on since it was read (its revision changed): read it again and
    /// redo the change.
    #[error("instance '{0}' was changed concurrently (revision conflict)")]
    Conflict(String),
    /// The job's lease was taken over by another worker: this completion is late and is
    /// dropped (the other worker's completion counts).
    #[error("job {0} is no longer leased with this token (a late completion)")]
    LeaseLost(i64),
    /// A row the operation needs does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// The database failed.
    #[error("database error: {0}")]
    Database(String),
    /// The schema is newer than this program knows.
    #[error("the database schema is at version {found}, newer than this program's {known}: upgrade servicetask")]
    SchemaTooNew {
        /// Version found.
        found: i64,
        /// Highest version this program knows.
        known: i64,
    },
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Database(e.to_string())
    }
}
