//! What a configuration problem says: where it is written, the key, what is allowed; and the
//! error that carries every problem found at once.

use std::fmt;

/// One configuration value that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// Where it came from: `servicetask.toml:4:1 [tasks.x]`, `environment variable X`...
    pub origin: String,
    /// The key (`retry.max_attempts`), empty when the whole table or source is at fault.
    pub key: String,
    /// What is wrong and what is allowed.
    pub message: String,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}: {}", self.origin, self.message)
        } else {
            write!(f, "{}: {}: {}", self.origin, self.key, self.message)
        }
    }
}

/// Configuration that cannot be used: every problem found, at once (never empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The problems, in the order of the sources.
    pub problems: Vec<ConfigProblem>,
}

impl ConfigError {
    /// An error with one problem.
    pub fn new(origin: impl Into<String>, key: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError {
            problems: vec![ConfigProblem {
                origin: origin.into(),
                key: key.into(),
                message: message.into(),
            }],
        }
    }

    /// The first problem.
    pub fn first(&self) -> &ConfigProblem {
        &self.problems[0]
    }

    pub(super) fn from_problems(problems: Vec<ConfigProblem>) -> Result<(), ConfigError> {
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError { problems })
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.problems.as_slice() {
            [one] => write!(f, "{one}"),
            all => {
                write!(f, "{} configuration problems:", all.len())?;
                for p in all {
                    write!(f, "\n  {p}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for ConfigError {}
