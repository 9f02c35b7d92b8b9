//! Diagnostics: problems found in a BPMN file, each with a position and a suggested fix.

use crate::model::Position;
use serde::{Deserialize, Serialize};
use std::fmt;

/// How bad a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Severity {
    /// The file cannot run as written.
    Error,
    /// The file runs, but something is ignored or suspicious.
    Warning,
}

/// One problem in a BPMN file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    /// File name as given to the parser.
    pub file: String,
    /// Where the problem is.
    pub position: Position,
    /// Error or warning.
    pub severity: Severity,
    /// What is wrong, a lowercase phrase.
    pub message: String,
    /// How to fix it.
    pub help: String,
}

impl Diagnostic {
    /// An error diagnostic.
    pub fn error(file: &str, position: Position, message: impl Into<String>, help: impl Into<String>) -> Self {
        Diagnostic {
            file: file.to_string(),
            position,
            severity: Severity::Error,
            message: message.into(),
            help: help.into(),
        }
    }

    /// A warning diagnostic.
    pub fn warning(file: &str, position: Position, message: impl Into<String>, help: impl Into<String>) -> Self {
        Diagnostic {
            file: file.to_string(),
            position,
            severity: Severity::Warning,
            message: message.into(),
            help: help.into(),
        }
    }

    /// True when this is an error.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(
            f,
            "{}:{}:{}: {sev}: {}",
            self.file, self.position.line, self.position.column, self.message
        )?;
        if !self.help.is_empty() {
            write!(f, "\n  help: {}", self.help)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_file_line_column_then_help() {
        let d = Diagnostic::error(
            "file.bpmn",
            Position { line: 12, column: 5 },
            "sequence flow 'f3' targets unknown element 'Task_9'",
            "point targetRef at an element of the same process",
        );
        assert_eq!(
            d.to_string(),
            "file.bpmn:12:5: error: sequence flow 'f3' targets unknown element 'Task_9'\n  help: point targetRef at an element of the same process"
        );
    }
}
