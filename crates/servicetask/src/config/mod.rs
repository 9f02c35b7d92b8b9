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

mod error;
mod keys;
mod validate;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use servicetask_core::TaskConfig;

pub use error::{ConfigError, ConfigProblem};
pub use validate::validate;

/// Environment variable prefix for configuration values.
pub const ENV_PREFIX: &str = "SERVICETASK__";
/// Environment variable naming the configuration file.
pub const ENV_CONFIG_FILE: &str = "SERVICETASK_CONFIG";
/// Environment variable selecting a `[profiles.NAME]` table.
pub const ENV_PROFILE: &str = "SERVICETASK_PROFILE";
/// The file read from the current folder when `$SERVICETASK_CONFIG` is not set.
pub const DEFAULT_FILE: &str = "servicetask.toml";

#[derive(Debug, Clone)]
struct Layer {
    /// Where the layer is written (`servicetask.toml:4:1 [tasks.x]`, a variable).
    origin: String,
    /// `None`: applies to every task; `Some(name)`: to that task.
    task: Option<String>,
    values: Value,
    /// Where each key of the layer is written, when known (`retry.max_attempts` -> `f.toml:5:1`).
    locations: BTreeMap<String, String>,
}

impl Layer {
    /// Where `key` of this layer is written.
    fn origin_of(&self, key: &str) -> String {
        match (self.locations.get(key), self.origin.split_once(' ')) {
            (Some(at), Some((_, table))) => format!("{at} {table}"),
            _ => self.origin.clone(),
        }
    }
}

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

const FILE_SECTIONS: &[&str] = &["defaults", "tasks", "profiles", "dependencies", "history", "http"];

/// Where the execution history goes (`[history]`): read by the CLI's `run`, `complete` and
/// `report` when no flag or `SERVICETASK_HISTORY` says otherwise.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HistorySettings {
    /// The SQLite history database.
    pub path: Option<PathBuf>,
}

/// Guards for one external dependency (`[dependencies.<name>]`): a breaker and a bulkhead
/// shared by every task that calls `cx.dependency("<name>")`.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DependencySettings {
    /// Circuit breaker (keys as for a task's `breaker`; unset keys take the defaults).
    pub breaker: Option<servicetask_core::BreakerConfig>,
    /// Concurrent calls allowed.
    pub bulkhead: Option<servicetask_core::BulkheadConfig>,
    /// Retries of failed calls made through the HTTP client (`servicetask-http`): a task's
    /// `retry` keys but `mode` (a call's retries are made in process). `max_elapsed` bounds
    /// one call's retries (a `Retry-After` past it ends the call), and `budget` is shared by
    /// every task calling the dependency.
    pub retry: Option<servicetask_core::RetryConfig>,
}

/// Where a key of a TOML text is written, as `label:line:column`.
struct Locator<'a> {
    label: &'a str,
    text: &'a str,
    offsets: BTreeMap<String, usize>,
}

impl Locator<'_> {
    fn at(&self, path: &str) -> String {
        match self.offsets.get(path) {
            Some(&o) => {
                let (line, col) = line_col(self.text, o);
                format!("{}:{line}:{col}", self.label)
            }
            None => self.label.to_string(),
        }
    }

    /// Locations of every key under `prefix` (`tasks.x.`), keyed without the prefix.
    fn under(&self, prefix: &str) -> BTreeMap<String, String> {
        self.offsets
            .keys()
            .filter_map(|k| k.strip_prefix(prefix).map(|rest| (rest.to_string(), self.at(k))))
            .collect()
    }
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

    /// Adds TOML text; `label` names it in errors. Every problem in the text is reported.
    pub fn with_toml(mut self, label: &str, text: &str) -> Result<Self, ConfigError> {
        let table: toml::Table = toml::from_str(text).map_err(|e| {
            let (line, col) = e.span().map(|s| line_col(text, s.start)).unwrap_or((0, 0));
            ConfigError::new(
                format!("{label}:{line}:{col}"),
                "",
                format!("not valid TOML: {}", e.message()),
            )
        })?;
        let at = Locator {
            label,
            text,
            offsets: keys::key_offsets(text),
        };
        let root = keys::to_json(&table);
        let mut problems = Vec::new();
        for key in root.keys().filter(|k| !FILE_SECTIONS.contains(&k.as_str())) {
            let hint = if key == "telemetry" {
                "; telemetry is configured by the standard OTEL_* variables (OTEL_EXPORTER_OTLP_ENDPOINT, ...)"
            } else {
                ""
            };
            problems.push(ConfigProblem {
                origin: at.at(key),
                key: key.clone(),
                message: format!("unknown section; use one of: {}{hint}", FILE_SECTIONS.join(", ")),
            });
        }
        self.push_scope(&at, "", &root, &mut problems);
        match root.get("profiles") {
            None => {}
            Some(Value::Object(profiles)) => {
                for (name, p) in profiles {
                    let Value::Object(p) = p else {
                        problems.push(table_problem(
                            &at,
                            &format!("profiles.{name}"),
                            "must be a table with `defaults` and/or `tasks`",
                        ));
                        continue;
                    };
                    for key in p.keys().filter(|k| !["defaults", "tasks"].contains(&k.as_str())) {
                        problems.push(ConfigProblem {
                            origin: at.at(&format!("profiles.{name}.{key}")),
                            key: format!("profiles.{name}.{key}"),
                            message: "unknown section of a profile; use defaults or tasks".into(),
                        });
                    }
                    // every profile is checked; only the selected one applies
                    let before = self.layers.len();
                    self.push_scope(&at, &format!("profiles.{name}."), p, &mut problems);
                    if self.profile.as_deref() != Some(name.as_str()) {
                        self.layers.truncate(before);
                    }
                }
            }
            Some(_) => problems.push(table_problem(
                &at,
                "profiles",
                "must be a table of profiles, like [profiles.prod.defaults]",
            )),
        }
        match root.get("dependencies") {
            None => {}
            Some(Value::Object(deps)) => {
                for (name, v) in deps {
                    if let Some(settings) = dependency(&at, name, v, &mut problems) {
                        self.dependencies.insert(name.clone(), settings);
                    }
                }
            }
            Some(_) => problems.push(table_problem(
                &at,
                "dependencies",
                "must be a table of dependency names, like [dependencies.payments]",
            )),
        }
        if let Some(h) = root.get("history") {
            match serde_path_to_error::deserialize::<_, HistorySettings>(h.clone()) {
                Ok(mut h) => {
                    // a relative path is relative to the file, not to wherever the command runs
                    if let (Some(p), Some(dir)) = (&h.path, Path::new(label).parent()) {
                        h.path = Some(dir.join(p));
                    }
                    self.history = h;
                }
                Err(e) => problems.push(ConfigProblem {
                    origin: format!("{} [history]", at.at("history")),
                    key: e.path().to_string(),
                    message: e.into_inner().to_string(),
                }),
            }
        }
        if let Some(h) = root.get("http") {
            self.read_http(&at, h, &mut problems);
        }
        ConfigError::from_problems(problems)?;
        Ok(self)
    }

    /// Reads the `[http]` table: every problem in it, each where it is written.
    #[cfg(feature = "http")]
    fn read_http(&mut self, at: &Locator<'_>, values: &Value, problems: &mut Vec<ConfigProblem>) {
        let origin = |key: &str| match key {
            "" => format!("{} [http]", at.at("http")),
            k => format!("{} [http]", at.at(&format!("http.{k}"))),
        };
        let mut found = keys::check_http(values);
        if found.is_empty() {
            match serde_path_to_error::deserialize::<_, servicetask_http::HttpSettings>(values.clone()) {
                Ok(s) => match s.check() {
                    Ok(()) => self.http = Some(Box::new(s)),
                    // each message is `http.<key>: what is allowed`
                    Err(p) => found.extend(p.into_iter().map(|m| match m.split_once(": ") {
                        Some((k, rest)) => (k.trim_start_matches("http.").to_string(), rest.to_string()),
                        None => (String::new(), m),
                    })),
                },
                Err(e) => found.push((e.path().to_string(), e.into_inner().to_string())),
            }
        }
        problems.extend(found.into_iter().map(|(key, message)| ConfigProblem {
            origin: origin(&key),
            key,
            message,
        }));
    }

    /// Without the `http` feature the `[http]` table has no client to configure.
    #[cfg(not(feature = "http"))]
    fn read_http(&mut self, at: &Locator<'_>, _values: &Value, problems: &mut Vec<ConfigProblem>) {
        problems.push(table_problem(
            at,
            "http",
            "the HTTP client is not built in; enable servicetask's `http` feature",
        ));
    }

    /// Adds the `defaults` and `tasks` layers of one scope (the file, or a profile), checking
    /// each layer's keys and values.
    fn push_scope(
        &mut self,
        at: &Locator<'_>,
        prefix: &str,
        scope: &Map<String, Value>,
        problems: &mut Vec<ConfigProblem>,
    ) {
        let first = self.layers.len();
        if let Some(d) = scope.get("defaults") {
            let path = format!("{prefix}defaults");
            self.layers.push(Layer {
                origin: format!("{} [{path}]", at.at(&path)),
                task: None,
                values: d.clone(),
                locations: at.under(&format!("{path}.")),
            });
        }
        match scope.get("tasks") {
            None => {}
            Some(Value::Object(tasks)) => {
                for (name, values) in tasks {
                    let path = format!("{prefix}tasks.{name}");
                    self.layers.push(Layer {
                        origin: format!("{} [{path}]", at.at(&path)),
                        task: Some(name.clone()),
                        values: values.clone(),
                        locations: at.under(&format!("{path}.")),
                    });
                }
            }
            Some(_) => problems.push(table_problem(
                at,
                &format!("{prefix}tasks"),
                "must be a table of task names, like [tasks.file_processing]",
            )),
        }
        for layer in &self.layers[first..] {
            for (key, message) in keys::check_layer(&layer.values) {
                problems.push(ConfigProblem {
                    origin: layer.origin_of(&key),
                    key,
                    message,
                });
            }
        }
    }

    /// Adds `SERVICETASK__...` variables from an iterator of (name, value) pairs. Problems
    /// (an unknown key, a bad value, a name of the wrong shape) are reported by
    /// [`ConfigLoader::resolve`], [`ConfigLoader::check_tasks`] and [`ConfigLoader::from_env`].
    pub fn with_env(mut self, vars: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut found = Vec::new();
        for (name, raw) in vars {
            let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            let parts: Vec<String> = rest.split("__").map(|p| p.to_ascii_lowercase()).collect();
            let value = serde_json::from_str::<Value>(&raw).unwrap_or(Value::String(raw));
            let (task, path) = match parts.first().map(String::as_str) {
                Some("defaults") if parts.len() > 1 => (None, parts[1..].to_vec()),
                Some("tasks") if parts.len() > 2 => (Some(parts[1].clone()), parts[2..].to_vec()),
                _ => {
                    self.env_problems.push(ConfigProblem {
                        origin: format!("environment variable {name}"),
                        key: String::new(),
                        message: "unknown variable; use SERVICETASK__DEFAULTS__<KEY> or SERVICETASK__TASKS__<TASK>__<KEY>, with `__` between key parts".into(),
                    });
                    continue;
                }
            };
            found.push((name, task, path, value));
        }
        // the defaults first, then the tasks: a task's variable beats a default's
        found.sort_by(|a, b| (a.1.is_some(), &a.0).cmp(&(b.1.is_some(), &b.0)));
        for (name, task, path, value) in found {
            let layer = Layer {
                origin: format!("environment variable {name}"),
                task,
                values: nest(&path, value),
                locations: BTreeMap::new(),
            };
            for (key, message) in keys::check_layer(&layer.values) {
                self.env_problems.push(ConfigProblem {
                    origin: layer.origin.clone(),
                    key,
                    message,
                });
            }
            self.layers.push(layer);
        }
        self
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

/// One `[dependencies.<name>]` table: its settings, or every problem in it, each where it is
/// written.
fn dependency(
    at: &Locator<'_>,
    name: &str,
    values: &Value,
    problems: &mut Vec<ConfigProblem>,
) -> Option<DependencySettings> {
    let table = format!("dependencies.{name}");
    let origin = |key: &str| {
        let place = if key.is_empty() {
            at.at(&table)
        } else {
            at.at(&format!("{table}.{key}"))
        };
        format!("{place} [{table}]")
    };
    let found = keys::check_dependency(values);
    if !found.is_empty() {
        problems.extend(found.into_iter().map(|(key, message)| ConfigProblem {
            origin: origin(&key),
            key,
            message,
        }));
        return None;
    }
    let mut full = serde_json::json!({});
    merge(&mut full, values);
    let settings: DependencySettings = match serde_path_to_error::deserialize(full) {
        Ok(s) => s,
        Err(e) => {
            let key = e.path().to_string();
            problems.push(ConfigProblem {
                origin: origin(&key),
                key,
                message: e.into_inner().to_string(),
            });
            return None;
        }
    };
    // the ranges a task's breaker, bulkhead and retry must keep
    let as_task = TaskConfig {
        breaker: settings.breaker.clone(),
        bulkhead: settings.bulkhead.clone(),
        retry: settings.retry.clone().unwrap_or_default(),
        ..TaskConfig::named(name)
    };
    let ranges = validate(&as_task);
    let ok = ranges.is_empty();
    problems.extend(ranges.into_iter().map(|(key, message)| ConfigProblem {
        origin: origin(&key),
        key,
        message,
    }));
    ok.then_some(settings)
}

fn table_problem(at: &Locator<'_>, path: &str, message: &str) -> ConfigProblem {
    ConfigProblem {
        origin: at.at(path),
        key: path.to_string(),
        message: message.to_string(),
    }
}

fn normalise(name: &str) -> String {
    name.to_ascii_lowercase().replace('-', "_")
}

fn nest(path: &[String], value: Value) -> Value {
    path.iter().rev().fold(value, |acc, key| {
        let mut m = Map::new();
        m.insert(key.clone(), acc);
        Value::Object(m)
    })
}

fn lookup<'a>(v: &'a Value, dotted: &str) -> Option<&'a Value> {
    dotted.split('.').try_fold(v, |v, k| v.get(k))
}

/// Deep-merges `overlay` into `base`: objects merge key by key, anything else replaces.
fn merge(base: &mut Value, overlay: &Value) {
    match (base, overlay) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(k) {
                    Some(slot) if slot.is_object() && v.is_object() => merge(slot, v),
                    _ => {
                        // An optional section (breaker, bulkhead) that was off starts from its defaults.
                        let mut fresh = default_section(k).unwrap_or(Value::Null);
                        if fresh.is_object() && v.is_object() {
                            merge(&mut fresh, v);
                            b.insert(k.clone(), fresh);
                        } else {
                            b.insert(k.clone(), v.clone());
                        }
                    }
                }
            }
        }
        (b, o) => *b = o.clone(),
    }
}

fn default_section(key: &str) -> Option<Value> {
    match key {
        "breaker" => serde_json::to_value(servicetask_core::BreakerConfig::default()).ok(),
        "bulkhead" => serde_json::to_value(servicetask_core::BulkheadConfig::default()).ok(),
        "budget" => serde_json::to_value(servicetask_core::RetryBudgetConfig::default()).ok(),
        _ => None,
    }
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
