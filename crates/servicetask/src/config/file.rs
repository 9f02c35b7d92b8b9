//! One TOML text (the configuration file): its sections checked, its `[defaults]` and
//! `[tasks.NAME]` tables and the selected profile's added as layers, the other tables read by
//! [`super::sections`], and every problem at its file:line:column.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::layer::Layer;
use super::{keys, line_col, ConfigError, ConfigLoader, ConfigProblem};

/// The sections a file may have.
const FILE_SECTIONS: &[&str] = &["defaults", "tasks", "profiles", "dependencies", "history", "http"];
/// The sections a profile may have.
const PROFILE_SECTIONS: &[&str] = &["defaults", "tasks", "http"];

/// Where a key of a TOML text is written, as `label:line:column`.
pub(super) struct Locator<'a> {
    /// The file's path, or what names the text in messages.
    pub(super) label: &'a str,
    text: &'a str,
    offsets: BTreeMap<String, usize>,
}

impl Locator<'_> {
    /// `label:line:column` of the key at dotted `path`, or the label alone when not written.
    pub(super) fn at(&self, path: &str) -> String {
        match self.offsets.get(path) {
            Some(&o) => {
                let (line, col) = line_col(self.text, o);
                format!("{}:{line}:{col}", self.label)
            }
            None => self.label.to_string(),
        }
    }

    /// Locations of every key under `prefix` (`tasks.x.`), keyed without the prefix.
    pub(super) fn under(&self, prefix: &str) -> BTreeMap<String, String> {
        self.offsets
            .keys()
            .filter_map(|k| k.strip_prefix(prefix).map(|rest| (rest.to_string(), self.at(k))))
            .collect()
    }
}

impl ConfigLoader {
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
        let profiles = self.push_profiles(&at, &root, &mut problems);
        self.read_sections(&at, &root, &profiles, &mut problems);
        ConfigError::from_problems(problems)?;
        Ok(self)
    }

    /// Checks every `[profiles.NAME]` table and adds the selected profile's `defaults` and
    /// `tasks` layers; returns the profiles, whose `http` tables [`ConfigLoader::read_sections`]
    /// reads.
    fn push_profiles(
        &mut self,
        at: &Locator<'_>,
        root: &Map<String, Value>,
        problems: &mut Vec<ConfigProblem>,
    ) -> Map<String, Value> {
        let mut tables = Map::new();
        match root.get("profiles") {
            None => {}
            Some(Value::Object(profiles)) => {
                for (name, p) in profiles {
                    let Value::Object(p) = p else {
                        problems.push(table_problem(
                            at,
                            &format!("profiles.{name}"),
                            "must be a table with `defaults`, `tasks` and/or `http`",
                        ));
                        continue;
                    };
                    for key in p.keys().filter(|k| !PROFILE_SECTIONS.contains(&k.as_str())) {
                        problems.push(ConfigProblem {
                            origin: at.at(&format!("profiles.{name}.{key}")),
                            key: format!("profiles.{name}.{key}"),
                            message: format!(
                                "unknown section of a profile; use one of: {}",
                                PROFILE_SECTIONS.join(", ")
                            ),
                        });
                    }
                    // every profile is checked; only the selected one applies
                    let before = self.layers.len();
                    self.push_scope(at, &format!("profiles.{name}."), p, problems);
                    if self.profile.as_deref() != Some(name.as_str()) {
                        self.layers.truncate(before);
                    }
                    tables.insert(name.clone(), Value::Object(p.clone()));
                }
            }
            Some(_) => problems.push(table_problem(
                at,
                "profiles",
                "must be a table of profiles, like [profiles.prod.defaults]",
            )),
        }
        tables
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
}

/// A problem with the whole table at `path`.
pub(super) fn table_problem(at: &Locator<'_>, path: &str, message: &str) -> ConfigProblem {
    ConfigProblem {
        origin: at.at(path),
        key: path.to_string(),
        message: message.to_string(),
    }
}
