//! Errors of the analytics crate.

/// Errors returned by analytics functions that read input or cannot compute a result.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AnalyticsError {
    /// A file could not be read or written.
    #[error("i/o error on {0}")]
    Io(String, #[source] std::io::Error),
    /// Input text could not be parsed.
    #[error("parse error: {0}")]
    Parse(String),
    /// Not enough usable data points to compute the result.
    #[error("not enough data: need {needed} usable points, got {got}")]
    NotEnoughData {
        /// Points needed.
        needed: usize,
        /// Usable points given.
        got: usize,
    },
}
