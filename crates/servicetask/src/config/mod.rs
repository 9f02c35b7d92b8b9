//! Configuration in layers: built-in defaults < the code's attributes < `servicetask.toml` <
//! environment variables. Later layers win, key by key.
//!
//! # The file
//!
//! ```toml
//! [defaults]                 # every task
//! retry.max_attempts = 3
//!
//! [tasks.file_processing]    # one task, by name
//! timeout.total = "30s"
//! breaker = { failure_rate_threshold = 50, minimum_calls = 20 }
//!
//! [profiles.prod.defaults]   # applied when SERVICETASK_PROFILE=prod
//! retry.max_attempts = 5
//! [profiles.prod.tasks.file_processing]
//! timeout.total = "10s"
//! ```
//!
//! `[dependencies.NAME]` guards a dependency (`breaker`, `bulkhead`, `retry`), `[history]`
//! says where the history goes (`path`), and `[http]` sets the HTTP client `cx.http()` hands
//! out (`servicetask-http`, the `http` feature, on by default), installed when the runner is
//! built:
//!
//! ```toml
//! [http]
//! hosts = { "api.stripe.com" = "payments", "localhost:8080" = "inventory" }  # host -> dependency
//! timeout = "30s"              # a whole attempt
//! connect_timeout = "10s"
//! max_response_bytes = 67108864
//! redacted_query = ["sig", "token"]   # query values shown as REDACTED (replaces the default list)
//! ca_file = "certs/private-ca.pem"     # extra roots for https (relative to the file)
//!
//! [profiles.prod.http]        # over [http] when SERVICETASK_PROFILE=prod, key by key
//! hosts = { "api.internal:8443" = "inventory" }   # added to the file's hosts
//! timeout = "5s"
//! ```
//!
//! The file is `$SERVICETASK_CONFIG`, else `./servicetask.toml` when it exists. A
//! [`crate::Runner`] reads it and the variables by default (`RunnerBuilder::code_config_only`
//! opts out).
//!
//! # The environment
//!
//! `SERVICETASK__DEFAULTS__RETRY__MAX_ATTEMPTS=5` and
//! `SERVICETASK__TASKS__FILE_PROCESSING__TIMEOUT__TOTAL=10s`: the path after the prefix, split
//! on `__`, lower-cased. Values are read as JSON when they parse (`5`, `true`, `[..]`), else as
//! strings (`10s`).
//!
//! # One vocabulary
//!
//! The keys are the fields of [`TaskConfig`] (`retry.max_attempts`, `timeout.total`,
//! `breaker.failure_rate_threshold`, `breaker.wait_in_open`, `breaker.window_size`, ...), the
//! same in the file, the variables (`SERVICETASK__TASKS__X__RETRY__MAX_ATTEMPTS`), the builder
//! (`.retry_max_attempts(..)`: the path joined by `_`) and the attribute
//! (`#[service_task(retry(max_attempts = ..), breaker(wait_in_open = ..))]`).
//! `tests/vocabulary.rs` writes every key four ways and compares the results.
//!
//! # Errors
//!
//! Every problem is reported at once, each naming where it came from (file:line:column and
//! table, or variable), the key, and what is allowed:
//! `servicetask.toml:5:7 [tasks.resize]: retry.max_attempts: invalid type: string "x",
//! expected u32`. An unknown key lists the keys known at its level; a task no code registers
//! is reported by [`ConfigLoader::check_tasks`] (the runner's `check_config`), listing the
//! registered tasks.
//!
//! ```
//! use servicetask::config::ConfigLoader;
//! use servicetask::TaskConfig;
//! let loader = ConfigLoader::default()
//!     .with_toml("servicetask.toml", "[tasks.resize]\nretry.max_attempts = 5\n").unwrap()
//!     .with_env([("SERVICETASK__TASKS__RESIZE__TIMEOUT__TOTAL".to_string(), "2s".to_string())]);
//! let c = loader.resolve(&TaskConfig::builder("resize").retry_max_attempts(2).build()).unwrap();
//! assert_eq!(c.retry.max_attempts, 5);
//! assert_eq!(c.timeout.total, Some(std::time::Duration::from_secs(2)));
//! ```
//!
//! # Modules
//!
//! `file` reads one TOML text (sections, profiles, places), `layer` holds a layer of task
//! settings and the merge, `env` the variables, `sections` the `[dependencies]`, `[history]`
//! and `[http]` tables, `keys` checks keys against the shapes, `validate` the ranges.

mod env;
mod error;
mod file;
mod keys;
mod layer;
mod sections;
mod validate;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use servicetask_core::TaskConfig;

pub use error::{ConfigError, ConfigProblem};
use layer::{default_section, lookup, merge, Layer};
pub use sections::{DependencySettings, HistorySettings};
pub use validate::validate;

/// Environment variable prefix for configuration values.
pub const ENV_PREFIX: &str = "SERVICETASK__";
/// Environment variable naming the configuration file.
pub const ENV_CONFIG_FILE: &str = "SERVICETASK_CONFIG";
/// Environment variable selecting a `[profiles.NAME]` table.
pub const ENV_PROFILE: &str = "SERVICETASK_PROFILE";
/// The file read from the current folder when `$SERVICETASK_CONFIG` is not set.
pub const DEFAULT_FILE: &str = "servicetask.toml";

/// The file and environment layers above the code's configuration.
#[derive(Debug, Clone, Default)]
pub struct ConfigLoader {
    layers: Vec<Layer>,
    /// Problems found in the variables, reported by [`ConfigLoader::resolve`] and the checks.
    env_problems: Vec<ConfigProblem>,
    file: Option<PathBuf>,
    profile: Option<String>,
    history: HistorySettings,
    dependencies: BTreeMap<String, DependencySettings>,
    /// The `[http]` table, when the file has one.
    #[cfg(feature = "http")]
    http: Option<Box<servicetask_http::HttpSettings>>,
}

impl ConfigLoader {
    /// Reads `$SERVICETASK_CONFIG` (or `./servicetask.toml` if present), selects
    /// `$SERVICETASK_PROFILE`, and reads `SERVICETASK__*` variables. Every problem in the file
    /// and the variables is reported at once.
    pub fn from_env() -> Result<Self, ConfigError> {
        let mut loader = ConfigLoader {
            profile: std::env::var(ENV_PROFILE).ok().filter(|p| !p.is_empty()),
            ..ConfigLoader::default()
        };
        let file = match std::env::var_os(ENV_CONFIG_FILE).filter(|p| !p.is_empty()) {
            Some(p) => Some(PathBuf::from(p)),
            None => Some(PathBuf::from(DEFAULT_FILE)).filter(|p| p.exists()),
        };
        let mut problems = Vec::new();
        if let Some(path) = file {
            match loader.clone().with_file(&path) {
                Ok(l) => loader = l,
                Err(e) => problems.extend(e.problems),
            }
        }
        let loader = loader.with_env(std::env::vars());
        problems.extend(loader.env_problems.iter().cloned());
        ConfigError::from_problems(problems)?;
        Ok(loader)
    }

    /// Selects a profile (before adding the file).
    pub fn with_profile(mut self, profile: impl Into<String>) -> Self {
        self.profile = Some(profile.into());
        self
    }

    /// Adds a TOML file.
    pub fn with_file(self, path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError::new(
                path.display().to_string(),
                "",
                format!("cannot read the configuration file: {e}"),
            )
        })?;
        let mut s = self.with_toml(&path.display().to_string(), &text)?;
        s.file = Some(path.to_path_buf());
        Ok(s)
    }

    /// Breakers and bulkheads per dependency, from `[dependencies.<name>]`.
    pub fn dependencies(&self) -> &BTreeMap<String, DependencySettings> {
        &self.dependencies
    }

    /// The file's `[http]` settings for `cx.http()`, when it has that table.
    #[cfg(feature = "http")]
    pub fn http(&self) -> Option<&servicetask_http::HttpSettings> {
        self.http.as_deref()
    }

    /// The configuration file in use, if any.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// The file's `[history]` settings (a relative `path` resolved against the file's folder).
    pub fn history(&self) -> &HistorySettings {
        &self.history
    }

    /// Checks that every task the file and the variables configure is one of `known` (the
    /// registered tasks), and reports the variables' problems: every problem at once.
    pub fn check_tasks<S: AsRef<str>>(&self, known: &[S]) -> Result<(), ConfigError> {
        let known_names: Vec<String> = known.iter().map(|k| normalise(k.as_ref())).collect();
        let listed: Vec<&str> = known.iter().map(AsRef::as_ref).collect();
        let mut problems = self.env_problems.clone();
        let mut seen = std::collections::BTreeSet::new();
        for layer in &self.layers {
            let Some(task) = &layer.task else { continue };
            if known_names.contains(&normalise(task)) || !seen.insert(&layer.origin) {
                continue;
            }
            problems.push(ConfigProblem {
                origin: layer.origin.clone(),
                key: String::new(),
                message: format!(
                    "unknown task '{task}'; registered tasks: {}",
                    if listed.is_empty() {
                        "none".to_string()
                    } else {
                        listed.join(", ")
                    }
                ),
            });
        }
        ConfigError::from_problems(problems)
    }

    /// The task's configuration with every layer applied, validated: every problem at once.
    pub fn resolve(&self, code: &TaskConfig) -> Result<TaskConfig, ConfigError> {
        let mut current = serde_json::to_value(code).map_err(|e| ConfigError::new("code", "", e.to_string()))?;
        let name = normalise(&code.name);
        let applies = |l: &Layer| l.task.as_deref().is_none_or(|t| normalise(t) == name);
        let mut problems: Vec<ConfigProblem> = self.env_problems.clone();
        for layer in self.layers.iter().filter(|l| applies(l)) {
            merge(&mut current, &layer.values);
        }
        // where a key was last set, for the message
        let origin_of = |key: &str| {
            self.layers
                .iter()
                .rev()
                .find(|l| applies(l) && lookup(&l.values, key).is_some())
                .map(|l| l.origin_of(key))
                .unwrap_or_else(|| format!("task '{}' (code)", code.name))
        };
        let mut config: TaskConfig = match serde_path_to_error::deserialize(current) {
            Ok(c) => c,
            Err(e) => {
                let key = e.path().to_string();
                problems.push(ConfigProblem {
                    origin: origin_of(&key),
                    key,
                    message: e.into_inner().to_string(),
                });
                return Err(ConfigError { problems });
            }
        };
        config.name = code.name.clone();
        for (key, message) in validate(&config) {
            problems.push(ConfigProblem {
                origin: origin_of(&key),
                key,
                message,
            });
        }
        ConfigError::from_problems(problems)?;
        Ok(config)
    }
}

fn normalise(name: &str) -> String {
    name.to_ascii_lowercase().replace('-', "_")
}

/// The 1-based line and column of a byte offset in `text` (for messages that point into it).
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rfind('\n').map(|i| offset - i).unwrap_or(offset + 1);
    (line, col)
}

#[cfg(test)]
mod tests;
