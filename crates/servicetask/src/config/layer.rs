//! One layer of task configuration (the file's `[defaults]`, a `[tasks.NAME]` table, a
//! profile's, a variable) and how layers combine: a deep merge, key by key, where an optional
//! section a layer turns on starts from its defaults.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// Task settings from one place, applied to every task or to one.
#[derive(Debug, Clone)]
pub(super) struct Layer {
    /// Where the layer is written (`servicetask.toml:4:1 [tasks.x]`, a variable).
    pub(super) origin: String,
    /// `None`: applies to every task; `Some(name)`: to that task.
    pub(super) task: Option<String>,
    /// The settings, shaped as a serialised `TaskConfig` (only the keys the place sets).
    pub(super) values: Value,
    /// Where each key of the layer is written, when known (`retry.max_attempts` -> `f.toml:5:1`).
    pub(super) locations: BTreeMap<String, String>,
}

impl Layer {
    /// Where `key` of this layer is written.
    pub(super) fn origin_of(&self, key: &str) -> String {
        match (self.locations.get(key), self.origin.split_once(' ')) {
            (Some(at), Some((_, table))) => format!("{at} {table}"),
            _ => self.origin.clone(),
        }
    }
}

/// `value` under the nested keys of `path` (`[retry, max_attempts]`).
pub(super) fn nest(path: &[String], value: Value) -> Value {
    path.iter().rev().fold(value, |acc, key| {
        let mut m = Map::new();
        m.insert(key.clone(), acc);
        Value::Object(m)
    })
}

/// The value at a dotted key (`retry.max_attempts`), when set.
pub(super) fn lookup<'a>(v: &'a Value, dotted: &str) -> Option<&'a Value> {
    dotted.split('.').try_fold(v, |v, k| v.get(k))
}

/// Deep-merges `overlay` into `base`: objects merge key by key, anything else replaces.
pub(super) fn merge(base: &mut Value, overlay: &Value) {
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

/// The defaults of an optional section (`breaker`, `bulkhead`, `budget`), which a layer that
/// sets one of its keys starts from.
pub(crate) fn default_section(key: &str) -> Option<Value> {
    match key {
        "breaker" => serde_json::to_value(servicetask_core::BreakerConfig::default()).ok(),
        "bulkhead" => serde_json::to_value(servicetask_core::BulkheadConfig::default()).ok(),
        "budget" => serde_json::to_value(servicetask_core::RetryBudgetConfig::default()).ok(),
        _ => None,
    }
}
