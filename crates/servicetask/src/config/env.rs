//! The environment layer: `SERVICETASK__DEFAULTS__<KEY>` and `SERVICETASK__TASKS__<TASK>__<KEY>`
//! variables, each a layer of its own above the file's.

use std::collections::BTreeMap;

use serde_json::Value;

use super::layer::{nest, Layer};
use super::{keys, ConfigLoader, ConfigProblem, ENV_PREFIX};

impl ConfigLoader {
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
}
