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
//! The file is `$SERVICETASK_CONFIG`, else `./servicetask.toml` when it exists.
//!
//! # The environment
//!
//! `SERVICETASK__DEFAULTS__RETRY__MAX_ATTEMPTS=5` and
//! `SERVICETASK__TASKS__FILE_PROCESSING__TIMEOUT__TOTAL=10s`: the path after the prefix, split
//! on `__`, lower-cased. Values are read as JSON when they parse (`5`, `true`, `[..]`), else as
//! strings (`10s`).
//!
//! # Errors
//!
//! A bad value names where it came from (file and table, or variable), the key, and what is
//! allowed: `servicetask.toml [tasks.resize]: retry.max_attempts: invalid type: string "x",
//! expected u32`.
//!
//! ```
//! use servicetask::config::ConfigLoader;
//! use servicetask::TaskConfig;
//! let loader = ConfigLoader::default()
//!     .with_toml("servicetask.toml", "[tasks.resize]\nretry.max_attempts = 5\n").unwrap()
//!     .with_env([("SERVICETASK__TASKS__RESIZE__TIMEOUT__TOTAL".to_string(), "2s".to_string())]);
//! let c = loader.resolve(&TaskConfig::builder("resize").retries(1).build()).unwrap();
//! assert_eq!(c.retry.max_attempts, 5);
//! assert_eq!(c.timeout.total, Some(std::time::Duration::from_secs(2)));
//! ```

mod validate;

use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use servicetask_core::TaskConfig;

pub use validate::validate;

/// Environment variable prefix for configuration values.
pub const ENV_PREFIX: &str = "SERVICETASK__";
/// Environment variable naming the configuration file.
pub const ENV_CONFIG_FILE: &str = "SERVICETASK_CONFIG";
/// Environment variable selecting a `[profiles.NAME]` table.
pub const ENV_PROFILE: &str = "SERVICETASK_PROFILE";

/// A configuration value that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Where the value came from (`servicetask.toml [tasks.x]`, `environment variable X`...).
    pub origin: String,
    /// The key (`retry.max_attempts`), empty when the whole source is bad.
    pub key: String,
    /// What is wrong and what is allowed.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}: {}", self.origin, self.message)
        } else {
            write!(f, "{}: {}: {}", self.origin, self.key, self.message)
        }
    }
}

impl std::error::Error for ConfigError {}

#[derive(Debug, Clone)]
struct Layer {
    origin: String,
    /// `None`: applies to every task; `Some(name)`: to that task.
    task: Option<String>,
    values: Value,
}

/// The file and environment layers above the code's configuration.
#[derive(Debug, Clone, Default)]
pub struct ConfigLoader {
    layers: Vec<Layer>,
    file: Option<PathBuf>,
    profile: Option<String>,
    extra: Map<String, Value>,
    dependencies: std::collections::BTreeMap<String, DependencySettings>,
}

const FILE_SECTIONS: &[&str] = &["defaults", "tasks", "profiles", "dependencies", "history", "telemetry"];

/// Guards for one external dependency (`[dependencies.<name>]`): a breaker and a bulkhead
/// shared by every task that calls `cx.dependency("<name>")`.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DependencySettings {
    /// Circuit breaker (keys as for a task's `breaker`; unset keys take the defaults).
    pub breaker: Option<servicetask_core::BreakerConfig>,
    /// Concurrent calls allowed.
    pub bulkhead: Option<servicetask_core::BulkheadConfig>,
}

impl ConfigLoader {
    /// Reads `$SERVICETASK_CONFIG` (or `./servicetask.toml` if present), selects
    /// `$SERVICETASK_PROFILE`, and reads `SERVICETASK__*` variables.
    pub fn from_env() -> Result<Self, ConfigError> {
        let mut loader = ConfigLoader {
            profile: std::env::var(ENV_PROFILE).ok().filter(|p| !p.is_empty()),
            ..ConfigLoader::default()
        };
        let file = match std::env::var_os(ENV_CONFIG_FILE) {
            Some(p) => Some(PathBuf::from(p)),
            None => Some(PathBuf::from("servicetask.toml")).filter(|p| p.exists()),
        };
        if let Some(path) = file {
            loader = loader.with_file(&path)?;
        }
        Ok(loader.with_env(std::env::vars()))
    }

    /// Selects a profile (before adding the file).
    pub fn with_profile(mut self, profile: impl Into<String>) -> Self {
        self.profile = Some(profile.into());
        self
    }

    /// Adds a TOML file.
    pub fn with_file(self, path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            origin: path.display().to_string(),
            key: String::new(),
            message: format!("cannot read the configuration file: {e}"),
        })?;
        let mut s = self.with_toml(&path.display().to_string(), &text)?;
        s.file = Some(path.to_path_buf());
        Ok(s)
    }

    /// Adds TOML text; `label` names it in errors.
    pub fn with_toml(mut self, label: &str, text: &str) -> Result<Self, ConfigError> {
        let table: toml::Table = toml::from_str(text).map_err(|e| {
            let (line, col) = e.span().map(|s| line_col(text, s.start)).unwrap_or((0, 0));
            ConfigError {
                origin: format!("{label}:{line}:{col}"),
                key: String::new(),
                message: format!("not valid TOML: {}", e.message()),
            }
        })?;
        let root = serde_json::to_value(&table).map_err(|e| ConfigError {
            origin: label.to_string(),
            key: String::new(),
            message: e.to_string(),
        })?;
        let Value::Object(root) = root else { return Ok(self) };
        for key in root.keys() {
            if !FILE_SECTIONS.contains(&key.as_str()) {
                return Err(ConfigError {
                    origin: label.to_string(),
                    key: key.clone(),
                    message: format!("unknown section; use one of: {}", FILE_SECTIONS.join(", ")),
                });
            }
        }
        self.push_scope(label, "", &root)?;
        if let Some(profile) = self.profile.clone() {
            if let Some(p) = root.get("profiles").and_then(|p| p.get(&profile)) {
                let Value::Object(p) = p else {
                    return Err(ConfigError {
                        origin: label.to_string(),
                        key: format!("profiles.{profile}"),
                        message: "must be a table with `defaults` and/or `tasks`".into(),
                    });
                };
                self.push_scope(label, &format!("profiles.{profile}."), p)?;
            }
        }
        if let Some(deps) = root.get("dependencies") {
            let Value::Object(deps) = deps else {
                return Err(ConfigError {
                    origin: label.to_string(),
                    key: "dependencies".into(),
                    message: "must be a table of dependency names, like [dependencies.payments]".into(),
                });
            };
            for (name, v) in deps {
                let mut full = serde_json::json!({});
                merge(&mut full, v);
                let settings: DependencySettings = serde_path_to_error::deserialize(full).map_err(|e| ConfigError {
                    origin: format!("{label} [dependencies.{name}]"),
                    key: e.path().to_string(),
                    message: e.into_inner().to_string(),
                })?;
                self.dependencies.insert(name.clone(), settings);
            }
        }
        for section in ["history", "telemetry"] {
            if let Some(v) = root.get(section) {
                self.extra.insert(section.to_string(), v.clone());
            }
        }
        Ok(self)
    }

    fn push_scope(&mut self, label: &str, prefix: &str, scope: &Map<String, Value>) -> Result<(), ConfigError> {
        if let Some(d) = scope.get("defaults") {
            self.layers.push(Layer {
                origin: format!("{label} [{prefix}defaults]"),
                task: None,
                values: d.clone(),
            });
        }
        if let Some(tasks) = scope.get("tasks") {
            let Value::Object(tasks) = tasks else {
                return Err(ConfigError {
                    origin: label.to_string(),
                    key: format!("{prefix}tasks"),
                    message: "must be a table of task names, like [tasks.file_processing]".into(),
                });
            };
            for (name, values) in tasks {
                self.layers.push(Layer {
                    origin: format!("{label} [{prefix}tasks.{name}]"),
                    task: Some(name.clone()),
                    values: values.clone(),
                });
            }
        }
        Ok(())
    }

    /// Adds `SERVICETASK__...` variables from an iterator of (name, value) pairs.
    pub fn with_env(mut self, vars: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut defaults = Vec::new();
        let mut tasks = Vec::new();
        for (name, raw) in vars {
            let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            let parts: Vec<String> = rest.split("__").map(|p| p.to_ascii_lowercase()).collect();
            let value = serde_json::from_str::<Value>(&raw).unwrap_or(Value::String(raw));
            match parts.first().map(String::as_str) {
                Some("defaults") if parts.len() > 1 => defaults.push((name.clone(), parts[1..].to_vec(), value)),
                Some("tasks") if parts.len() > 2 => {
                    tasks.push((name.clone(), parts[1].clone(), parts[2..].to_vec(), value))
                }
                _ => self.layers.push(Layer {
                    origin: format!("environment variable {name}"),
                    task: None,
                    values: Value::String(String::new()),
                }),
            }
        }
        defaults.sort_by(|a, b| a.0.cmp(&b.0));
        tasks.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, path, value) in defaults {
            self.layers.push(Layer {
                origin: format!("environment variable {name}"),
                task: None,
                values: nest(&path, value),
            });
        }
        for (name, task, path, value) in tasks {
            self.layers.push(Layer {
                origin: format!("environment variable {name}"),
                task: Some(task),
                values: nest(&path, value),
            });
        }
        self
    }

    /// Breakers and bulkheads per dependency, from `[dependencies.<name>]`.
    pub fn dependencies(&self) -> &std::collections::BTreeMap<String, DependencySettings> {
        &self.dependencies
    }

    /// The configuration file in use, if any.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// A non-task section of the file (`history`, `telemetry`).
    pub fn section(&self, name: &str) -> Option<&Value> {
        self.extra.get(name)
    }

    /// The task's configuration with every layer applied, validated.
    pub fn resolve(&self, code: &TaskConfig) -> Result<TaskConfig, ConfigError> {
        let mut current = serde_json::to_value(code).map_err(|e| ConfigError {
            origin: "code".into(),
            key: String::new(),
            message: e.to_string(),
        })?;
        let name = normalise(&code.name);
        for layer in &self.layers {
            if let Some(t) = &layer.task {
                if normalise(t) != name {
                    continue;
                }
            }
            if let Value::String(s) = &layer.values {
                if s.is_empty() {
                    return Err(ConfigError {
                        origin: layer.origin.clone(),
                        key: String::new(),
                        message: "unknown variable; use SERVICETASK__DEFAULTS__<KEY> or SERVICETASK__TASKS__<TASK>__<KEY>, with `__` between key parts".into(),
                    });
                }
            }
            let mut next = current.clone();
            merge(&mut next, &layer.values);
            check(&next, &layer.origin)?;
            current = next;
        }
        let mut config: TaskConfig = serde_json::from_value(current).map_err(|e| ConfigError {
            origin: "configuration".into(),
            key: String::new(),
            message: e.to_string(),
        })?;
        config.name = code.name.clone();
        if let Some((key, message)) = validate(&config).into_iter().next() {
            let origin = self
                .layers
                .iter()
                .rev()
                .find(|l| {
                    (l.task.is_none() || l.task.as_deref().map(normalise) == Some(name.clone()))
                        && lookup(&l.values, &key).is_some()
                })
                .map(|l| l.origin.clone())
                .unwrap_or_else(|| format!("task '{}' (code)", code.name));
            return Err(ConfigError { origin, key, message });
        }
        Ok(config)
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

fn check(value: &Value, origin: &str) -> Result<(), ConfigError> {
    let de = value.clone();
    match serde_path_to_error::deserialize::<_, TaskConfig>(de) {
        Ok(_) => Ok(()),
        Err(e) => Err(ConfigError {
            origin: origin.to_string(),
            key: e.path().to_string(),
            message: e.into_inner().to_string(),
        }),
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rfind('\n').map(|i| offset - i).unwrap_or(offset + 1);
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn layers_apply_in_order() {
        let toml = r#"
[defaults]
retry.max_attempts = 2
[tasks.resize]
retry.max_attempts = 3
[profiles.prod.tasks.resize]
retry.max_attempts = 4
"#;
        let code = TaskConfig::builder("resize").retries(9).build();
        let c = ConfigLoader::default()
            .with_toml("f.toml", toml)
            .unwrap()
            .resolve(&code)
            .unwrap();
        assert_eq!(c.retry.max_attempts, 3);
        let c = ConfigLoader::default()
            .with_profile("prod")
            .with_toml("f.toml", toml)
            .unwrap()
            .resolve(&code)
            .unwrap();
        assert_eq!(c.retry.max_attempts, 4);
        let c = ConfigLoader::default()
            .with_profile("prod")
            .with_toml("f.toml", toml)
            .unwrap()
            .with_env([("SERVICETASK__TASKS__RESIZE__RETRY__MAX_ATTEMPTS".into(), "6".into())])
            .resolve(&code)
            .unwrap();
        assert_eq!(c.retry.max_attempts, 6);
        // Another task only sees the defaults.
        let other = ConfigLoader::default()
            .with_toml("f.toml", toml)
            .unwrap()
            .resolve(&TaskConfig::named("other"))
            .unwrap();
        assert_eq!(other.retry.max_attempts, 2);
    }

    #[test]
    fn dependency_sections_start_from_defaults_and_reject_typos() {
        let l = ConfigLoader::default()
            .with_toml(
                "s.toml",
                "[dependencies.payments]\nbreaker.minimum_calls = 5\nbulkhead.max_concurrent = 3\n",
            )
            .unwrap();
        let d = &l.dependencies()["payments"];
        let b = d.breaker.as_ref().unwrap();
        assert_eq!(b.minimum_calls, 5);
        assert_eq!(
            b.failure_rate_threshold,
            servicetask_core::BreakerConfig::default().failure_rate_threshold
        );
        assert_eq!(d.bulkhead.as_ref().unwrap().max_concurrent, 3);
        let err = ConfigLoader::default()
            .with_toml("s.toml", "[dependencies.payments]\nbreaker.minimum_cals = 5\n")
            .unwrap_err();
        assert_eq!(err.origin, "s.toml [dependencies.payments]");
        assert!(err.to_string().contains("minimum_cals"), "{err}");
    }

    #[test]
    fn code_values_survive_when_no_layer_sets_them() {
        let code = TaskConfig::builder("t").timeout(Duration::from_secs(7)).build();
        let c = ConfigLoader::default().resolve(&code).unwrap();
        assert_eq!(c, code);
    }

    #[test]
    fn bad_value_names_origin_key_and_expectation() {
        let err = ConfigLoader::default()
            .with_toml("servicetask.toml", "[tasks.resize]\nretry.max_attempts = \"x\"\n")
            .unwrap()
            .resolve(&TaskConfig::named("resize"))
            .unwrap_err();
        let s = err.to_string();
        assert!(
            s.starts_with("servicetask.toml [tasks.resize]: retry.max_attempts: "),
            "{s}"
        );
        assert!(s.contains("expected u32"), "{s}");
    }

    #[test]
    fn bad_env_duration_names_the_variable() {
        let err = ConfigLoader::default()
            .with_env([("SERVICETASK__DEFAULTS__TIMEOUT__TOTAL".into(), "soon".into())])
            .resolve(&TaskConfig::named("x"))
            .unwrap_err();
        assert_eq!(err.origin, "environment variable SERVICETASK__DEFAULTS__TIMEOUT__TOTAL");
        assert_eq!(err.key, "timeout.total");
    }

    #[test]
    fn out_of_range_values_are_rejected_with_the_allowed_range() {
        let err = ConfigLoader::default()
            .with_toml("s.toml", "[defaults]\nbreaker.failure_rate_threshold = 150\n")
            .unwrap()
            .resolve(&TaskConfig::named("x"))
            .unwrap_err();
        assert_eq!(err.key, "breaker.failure_rate_threshold");
        assert!(err.message.contains("0 to 100"), "{err}");
        assert_eq!(err.origin, "s.toml [defaults]");
    }

    #[test]
    fn unknown_sections_and_syntax_errors_are_explained() {
        let err = ConfigLoader::default().with_toml("s.toml", "[task.x]\n").unwrap_err();
        assert!(err.message.contains("unknown section"), "{err}");
        let err = ConfigLoader::default().with_toml("s.toml", "[defaults\n").unwrap_err();
        assert!(err.origin.starts_with("s.toml:1:"), "{err}");
    }
}
