//! The file's tables beyond task settings: `[dependencies.NAME]` (a dependency's breaker,
//! bulkhead and retry), `[history]` (where the history goes) and `[http]` (the client
//! `cx.http()` hands out, with a profile's `[profiles.NAME.http]` over it), each read into its
//! settings or into every problem it holds, each where it is written.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use servicetask_core::TaskConfig;

use super::file::{table_problem, Locator};
use super::layer::merge;
use super::{keys, validate, ConfigLoader, ConfigProblem};

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

impl ConfigLoader {
    /// Reads `[dependencies]`, `[history]` and `[http]` of one file (`root`), with the `[http]`
    /// of each profile in `profiles` (checked; the selected one applies over the file's).
    pub(super) fn read_sections(
        &mut self,
        at: &Locator<'_>,
        root: &Map<String, Value>,
        profiles: &Map<String, Value>,
        problems: &mut Vec<ConfigProblem>,
    ) {
        match root.get("dependencies") {
            None => {}
            Some(Value::Object(deps)) => {
                for (name, v) in deps {
                    if let Some(settings) = dependency(at, name, v, problems) {
                        self.dependencies.insert(name.clone(), settings);
                    }
                }
            }
            Some(_) => problems.push(table_problem(
                at,
                "dependencies",
                "must be a table of dependency names, like [dependencies.payments]",
            )),
        }
        if let Some(h) = root.get("history") {
            match serde_path_to_error::deserialize::<_, HistorySettings>(h.clone()) {
                Ok(mut h) => {
                    // a relative path is relative to the file, not to wherever the command runs
                    if let (Some(p), Some(dir)) = (&h.path, Path::new(at.label).parent()) {
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
        self.read_http(at, root.get("http"), profiles, problems);
    }

    /// Reads the `[http]` table and every profile's `[profiles.NAME.http]`: a profile's keys
    /// replace the file's one by one (`hosts` host by host) when that profile is selected.
    #[cfg(feature = "http")]
    fn read_http(
        &mut self,
        at: &Locator<'_>,
        file: Option<&Value>,
        profiles: &Map<String, Value>,
        problems: &mut Vec<ConfigProblem>,
    ) {
        let empty = Value::Object(Map::new());
        let mut base = &empty;
        if let Some(values) = file {
            match http_settings(at, "http", values, &empty) {
                Ok(s) => {
                    self.http = Some(Box::new(s));
                    base = values;
                }
                Err(p) => problems.extend(p),
            }
        }
        for (name, profile) in profiles {
            let Some(values) = profile.get("http") else { continue };
            // every profile is checked; only the selected one applies
            match http_settings(at, &format!("profiles.{name}.http"), values, base) {
                Ok(s) if self.profile.as_deref() == Some(name.as_str()) => self.http = Some(Box::new(s)),
                Ok(_) => {}
                Err(p) => problems.extend(p),
            }
        }
    }

    /// Without the `http` feature the `[http]` tables have no client to configure.
    #[cfg(not(feature = "http"))]
    fn read_http(
        &mut self,
        at: &Locator<'_>,
        file: Option<&Value>,
        profiles: &Map<String, Value>,
        problems: &mut Vec<ConfigProblem>,
    ) {
        let profile_tables = profiles
            .iter()
            .filter(|(_, p)| p.get("http").is_some())
            .map(|(name, _)| format!("profiles.{name}.http"));
        for path in file.map(|_| "http".to_string()).into_iter().chain(profile_tables) {
            problems.push(table_problem(
                at,
                &path,
                "the HTTP client is not built in; enable servicetask's `http` feature",
            ));
        }
    }
}

/// The HTTP settings of the table at `path` (`http`, `profiles.prod.http`) over `base` (the
/// file's `[http]` for a profile's), or every problem in the table, each where it is written.
/// A relative `ca_file` is relative to the file.
#[cfg(feature = "http")]
fn http_settings(
    at: &Locator<'_>,
    path: &str,
    values: &Value,
    base: &Value,
) -> Result<servicetask_http::HttpSettings, Vec<ConfigProblem>> {
    let origin = |key: &str| match key {
        "" => format!("{} [{path}]", at.at(path)),
        k => format!("{} [{path}]", at.at(&format!("{path}.{k}"))),
    };
    let mut found = keys::check_http(values);
    if found.is_empty() {
        let mut full = base.clone();
        merge(&mut full, values);
        match serde_path_to_error::deserialize::<_, servicetask_http::HttpSettings>(full) {
            Ok(mut s) => {
                if let (Some(ca), Some(dir)) = (&s.ca_file, Path::new(at.label).parent()) {
                    s.ca_file = Some(dir.join(ca));
                }
                match s.check() {
                    Ok(()) => return Ok(s),
                    // each message is `http.<key>: what is allowed`
                    Err(p) => found.extend(p.into_iter().map(|m| match m.split_once(": ") {
                        Some((k, rest)) => (k.trim_start_matches("http.").to_string(), rest.to_string()),
                        None => (String::new(), m),
                    })),
                }
            }
            Err(e) => found.push((e.path().to_string(), e.into_inner().to_string())),
        }
    }
    Err(found
        .into_iter()
        .map(|(key, message)| ConfigProblem {
            origin: origin(&key),
            key,
            message,
        })
        .collect())
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
