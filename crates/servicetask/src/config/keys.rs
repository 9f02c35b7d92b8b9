//! Checks one layer's keys and values against the shape of what it configures (a task, or a
//! `[dependencies.<name>]` table), reporting every problem (not only serde's first), and finds
//! where a key is written in a TOML text.
//!
//! The shape is the serialised default [`TaskConfig`] (or [`super::DependencySettings`]) with
//! every optional section filled in: a key not in it is unknown (the problem lists the keys
//! known at that level); a known key's value is checked by deserialising a default
//! configuration with only that value set.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use servicetask_core::TaskConfig;

use super::DependencySettings;

/// Tables whose keys are free (attribute names, error classes checked by `validate`).
const OPEN_TABLES: &[&str] = &["attributes", "fallback.values"];

/// The full shape of a task's configuration.
fn shape() -> Value {
    let mut v = serde_json::to_value(TaskConfig::named("x")).unwrap_or(Value::Null);
    for (path, section) in [
        ("breaker", super::default_section("breaker")),
        ("bulkhead", super::default_section("bulkhead")),
    ] {
        if let (Value::Object(m), Some(s)) = (&mut v, section) {
            m.insert(path.into(), s);
        }
    }
    if let (Some(Value::Object(retry)), Some(budget)) = (v.get_mut("retry"), super::default_section("budget")) {
        retry.insert("budget".into(), budget);
    }
    v
}

/// The full shape of a dependency's settings.
fn dependency_shape() -> Value {
    let mut m = Map::new();
    for section in ["breaker", "bulkhead"] {
        m.insert(section.into(), super::default_section(section).unwrap_or(Value::Null));
    }
    // a dependency's retries are per call, made in process: no engine hand-back (`mode`)
    let mut retry = serde_json::to_value(servicetask_core::RetryConfig::default()).unwrap_or(Value::Null);
    if let Value::Object(r) = &mut retry {
        r.remove("mode");
        if let Some(budget) = super::default_section("budget") {
            r.insert("budget".into(), budget);
        }
    }
    m.insert("retry".into(), retry);
    Value::Object(m)
}

/// Every problem with `values` (one layer: `[defaults]`, a task's table, a variable), as
/// `(dotted key, message)`.
pub(crate) fn check_layer(values: &Value) -> Vec<(String, String)> {
    check::<TaskConfig>(values, &shape())
}

/// Every problem with one `[dependencies.<name>]` table, as `(dotted key, message)`.
pub(crate) fn check_dependency(values: &Value) -> Vec<(String, String)> {
    check::<DependencySettings>(values, &dependency_shape())
}

/// Every problem with the `[http]` table, as `(dotted key, message)`. Its keys are one level
/// deep; `hosts` is a free map (host -> dependency name), checked whole.
#[cfg(feature = "http")]
pub(crate) fn check_http(values: &Value) -> Vec<(String, String)> {
    let shape = serde_json::to_value(servicetask_http::HttpSettings::default()).unwrap_or(Value::Null);
    let (Value::Object(map), Value::Object(known)) = (values, &shape) else {
        return vec![(String::new(), "must be a table of settings".into())];
    };
    let names: Vec<&str> = known.keys().map(String::as_str).collect();
    map.iter()
        .filter_map(|(key, value)| {
            if !known.contains_key(key) {
                return Some((key.clone(), format!("unknown key; known here: {}", names.join(", "))));
            }
            check_value::<servicetask_http::HttpSettings>(&shape, key, value)
                .err()
                .map(|message| (key.clone(), message))
        })
        .collect()
}

fn check<T: DeserializeOwned>(values: &Value, shape: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    walk::<T>(values, shape, shape, "", &mut out);
    out
}

fn walk<T: DeserializeOwned>(
    values: &Value,
    root: &Value,
    shape: &Value,
    prefix: &str,
    out: &mut Vec<(String, String)>,
) {
    let Value::Object(map) = values else {
        out.push((
            prefix.trim_end_matches('.').to_string(),
            "must be a table of settings".into(),
        ));
        return;
    };
    for (key, value) in map {
        let path = format!("{prefix}{key}");
        let known = shape.get(key);
        match known {
            None => {
                let names: Vec<&String> = shape.as_object().map(|m| m.keys().collect()).unwrap_or_default();
                let names: Vec<&str> = names.iter().map(|s| s.as_str()).collect();
                out.push((path, format!("unknown key; known here: {}", names.join(", "))));
            }
            Some(Value::Object(_)) if value.is_object() && !OPEN_TABLES.contains(&path.as_str()) => {
                walk::<T>(value, root, known.unwrap_or(&Value::Null), &format!("{path}."), out)
            }
            Some(_) => {
                if let Err(message) = check_value::<T>(root, &path, value) {
                    out.push((path, message));
                }
            }
        }
    }
}

/// Deserialises a default `T` (the full `shape`) with only `path = value` set.
fn check_value<T: DeserializeOwned>(shape: &Value, path: &str, value: &Value) -> Result<(), String> {
    let mut base = shape.clone();
    let mut slot = &mut base;
    let parts: Vec<&str> = path.split('.').collect();
    for part in &parts[..parts.len() - 1] {
        slot = match slot.get_mut(*part) {
            Some(s) => s,
            None => return Ok(()),
        };
    }
    if let Value::Object(m) = slot {
        m.insert(parts[parts.len() - 1].to_string(), value.clone());
    }
    serde_json::from_value::<T>(base).map(|_| ()).map_err(|e| e.to_string())
}

/// Byte offsets of every key in a TOML text, by dotted path (`tasks.resize.retry`).
pub(crate) fn key_offsets(text: &str) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    if let Ok(table) = toml::de::DeTable::parse(text) {
        offsets(table.get_ref(), "", &mut out);
    }
    out
}

fn offsets(table: &toml::de::DeTable<'_>, prefix: &str, out: &mut BTreeMap<String, usize>) {
    for (key, value) in table {
        let path = format!("{prefix}{}", key.get_ref());
        out.entry(path.clone()).or_insert(key.span().start);
        if let toml::de::DeValue::Table(t) = value.get_ref() {
            offsets(t, &format!("{path}."), out);
        }
    }
}

/// The JSON form of a TOML table, for merging.
pub(crate) fn to_json(table: &toml::Table) -> Map<String, Value> {
    match serde_json::to_value(table) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_problem_in_a_layer_is_found() {
        let p = check_layer(&json!({
            "retry": {"max_attempts": "abc", "max_atempts": 3},
            "breaker": {"failure_rate_threshold": 50, "window": "sideways"},
            "timeout": {"total": "soon"},
            "attributes": {"team": "a"},
        }));
        let keys: Vec<&str> = p.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "breaker.window",
                "retry.max_atempts",
                "retry.max_attempts",
                "timeout.total"
            ],
            "{p:#?}"
        );
        assert!(
            p[1].1.contains("known here:") && p[1].1.contains("max_attempts"),
            "{p:#?}"
        );
    }

    #[test]
    fn offsets_point_at_keys() {
        let text = "[tasks.resize]\nretry.max_attempts = 3\n";
        let o = key_offsets(text);
        assert_eq!(o["tasks.resize"], 7);
        assert_eq!(o["tasks.resize.retry.max_attempts"], text.find("max_attempts").unwrap());
    }
}
