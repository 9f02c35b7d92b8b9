//! Sensitive variable values of a live instance at rest: what [`crate::Host`] writes in place
//! of them in the store (the instance snapshot and its jobs' variables), and how it gets them
//! back.
//!
//! - With a [`StateKey`] (every node shares it): each value is sealed (XChaCha20-Poly1305, a
//!   random nonce per value, bound to the instance and the variable name) and written as
//!   `{"$servicetask.sealed": "v1:KEYID:NONCE:CIPHERTEXT"}`.
//! - Without one: each value is written as `{"$servicetask.omitted": REF}` and kept in this
//!   node's memory under that reference (an unguessable digest, so it tells nothing of the value),
//!   until the instance ends on this node.
//!
//! Resuming puts every value it can back in place; a value it cannot (no key, another key, a
//! damaged ciphertext, or an omitted value this node does not hold: it restarted, or another
//! node took the instance over) stays a marker, and the job that needs it fails with
//! [`Unavailable`], an incident naming the variable (never the value) and saying how to fix it.
//! A value that is already a marker is written again as it is.

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::{Map, Value};
use servicetask_engine::{InstanceSnapshot, TokenState};
use sha2::Digest as _;

use crate::secrets::Payload as _;
use crate::state_key::{OpenError, StateKey};

/// The marker key of a sealed value.
pub const SEALED: &str = "$servicetask.sealed";
/// The marker key of an omitted value.
pub const OMITTED: &str = "$servicetask.omitted";

/// A sensitive value a job needs and this node cannot put back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.message())]
pub struct Unavailable {
    /// The variable (its name only).
    pub variable: String,
    /// Why.
    pub why: Why,
}

/// Why a sensitive value is unavailable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Why {
    /// Omitted at rest (no state key), and not in this node's memory.
    NotStored,
    /// Sealed, and this node has no key.
    NoKey(String),
    /// Sealed, and it does not open with this node's key.
    Open(OpenError),
}

impl Unavailable {
    fn message(&self) -> String {
        format!("{}. {}", self.cause(), fix(std::slice::from_ref(&self.variable)))
    }

    fn cause(&self) -> String {
        let v = &self.variable;
        match &self.why {
            Why::NotStored => format!(
                "sensitive variable '{v}' is not available: without a state key it is not stored, only kept in the memory of the node that ran the instance, and that node restarted or another node took the instance over"
            ),
            Why::NoKey(id) => format!(
                "sensitive variable '{v}' is stored encrypted with state key {id}, and this node has no state key"
            ),
            Why::Open(e) => format!("sensitive variable '{v}' cannot be decrypted: {e}"),
        }
    }

    /// One message for every value a job misses: each cause, then the fix naming them all.
    pub fn summary(missing: &[Unavailable]) -> String {
        let causes: Vec<String> = missing.iter().map(Unavailable::cause).collect();
        let names: Vec<String> = missing.iter().map(|m| m.variable.clone()).collect();
        format!("{}. {}", causes.join("; "), fix(&names))
    }
}

/// What to do about the unavailable `variables`.
fn fix(variables: &[String]) -> String {
    let quoted: Vec<String> = variables.iter().map(|v| format!("'{v}'")).collect();
    format!(
        "Fix: give every node the same state key (SERVICETASK_STATE_KEY or --state-key-file), or supply {} again in this incident's variables and retry it",
        quoted.join(", ")
    )
}

/// How one host keeps sensitive values at rest.
pub struct AtRest {
    key: Option<StateKey>,
    /// Salts the references of omitted values (never written anywhere).
    salt: [u8; 32],
    /// Omitted values by instance, then by reference.
    memory: Mutex<HashMap<String, HashMap<String, Value>>>,
}

impl std::fmt::Debug for AtRest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AtRest").field("key", &self.key).finish_non_exhaustive()
    }
}

impl AtRest {
    /// Sealing with `key`, or omitting without one.
    pub fn new(key: Option<StateKey>) -> Self {
        AtRest {
            key,
            salt: rand::random(),
            memory: Mutex::new(HashMap::new()),
        }
    }

    /// One line saying which mode this is (the key's id, never the key).
    pub fn describe(&self) -> String {
        match &self.key {
            Some(k) => format!(
                "sensitive variables of live instances are stored encrypted (XChaCha20-Poly1305, state key id {})",
                k.id()
            ),
            None => "sensitive variables of live instances are NOT stored: they are kept in this node's memory only, so an instance resumed after a restart or by another node raises an incident for each one its next task needs (give every node the same SERVICETASK_STATE_KEY or --state-key-file to store them encrypted)".to_string(),
        }
    }

    /// Writes a marker in place of every sensitive value of `snap` (scope variables,
    /// multi-instance items and outputs, undelivered message payloads, at any depth).
    pub fn seal_snapshot(&self, snap: &mut InstanceSnapshot, names: &[String]) {
        if names.is_empty() {
            return;
        }
        let id = snap.instance_id.clone();
        let mut seal = |name: &str, v: &mut Value| self.seal_value(&id, name, v);
        for_each_in_snapshot(snap, names, &mut seal);
    }

    /// Writes a marker in place of every sensitive value of a job's `vars`.
    pub fn seal_vars(&self, instance: &str, vars: &mut Map<String, Value>, names: &[String]) {
        if names.is_empty() {
            return;
        }
        walk_map(vars, names, &mut |name, v| self.seal_value(instance, name, v));
    }

    /// Puts back every sensitive value of `snap` it can; returns the names of those it could
    /// not (they stay markers).
    pub fn open_snapshot(&self, snap: &mut InstanceSnapshot, names: &[String]) -> Vec<Unavailable> {
        let mut missing = Vec::new();
        if names.is_empty() {
            return missing;
        }
        let id = snap.instance_id.clone();
        let mut open = |name: &str, v: &mut Value| {
            if let Err(e) = self.open_value(&id, name, v) {
                missing.push(e);
            }
        };
        for_each_in_snapshot(snap, names, &mut open);
        missing
    }

    /// Puts back every sensitive value of a job's `vars`; the values it cannot put back, by
    /// name (empty: all there).
    pub fn open_vars(&self, instance: &str, vars: &mut Map<String, Value>, names: &[String]) -> Vec<Unavailable> {
        let mut missing = Vec::new();
        if names.is_empty() {
            return missing;
        }
        walk_map(vars, names, &mut |name, v| {
            if let Err(e) = self.open_value(instance, name, v) {
                missing.push(e);
            }
        });
        missing
    }

    /// Forgets the values kept in memory for `instance` (it ended).
    pub fn forget(&self, instance: &str) {
        lock(&self.memory).remove(instance);
    }

    fn seal_value(&self, instance: &str, name: &str, v: &mut Value) {
        if marker(v).is_some() {
            return;
        }
        let value = v.take();
        *v = match &self.key {
            Some(k) => {
                let plain = serde_json::to_vec(&value).unwrap_or_default();
                single(SEALED, k.seal(&plain, &context(instance, name)))
            }
            None => {
                let reference = self.reference(instance, name, &value);
                lock(&self.memory)
                    .entry(instance.to_string())
                    .or_default()
                    .insert(reference.clone(), value);
                single(OMITTED, reference)
            }
        };
    }

    fn open_value(&self, instance: &str, name: &str, v: &mut Value) -> Result<(), Unavailable> {
        let unavailable = |why| Unavailable {
            variable: name.to_string(),
            why,
        };
        let opened = match marker(v) {
            None => return Ok(()),
            Some((SEALED, sealed)) => {
                let Some(k) = &self.key else {
                    let id = sealed.split(':').nth(1).unwrap_or("?").to_string();
                    return Err(unavailable(Why::NoKey(id)));
                };
                let plain = k
                    .open(sealed, &context(instance, name))
                    .map_err(|e| unavailable(Why::Open(e)))?;
                serde_json::from_slice(&plain)
                    .map_err(|_| unavailable(Why::Open(OpenError::Damaged(k.id().to_string()))))?
            }
            Some((_, reference)) => lock(&self.memory)
                .get(instance)
                .and_then(|m| m.get(reference))
                .cloned()
                .ok_or_else(|| unavailable(Why::NotStored))?,
        };
        *v = opened;
        Ok(())
    }

    /// A reference to an omitted value: the same for the same value of the same variable of
    /// the same instance (so a job's stored variables keep finding it), unguessable without
    /// this process's salt.
    fn reference(&self, instance: &str, name: &str, value: &Value) -> String {
        let mut h = sha2::Sha256::new();
        h.update(self.salt);
        for part in [instance.as_bytes(), name.as_bytes(), value.to_string().as_bytes()] {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part);
        }
        h.finalize()[..16].iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// What a sealed value is bound to: it opens only as the same variable of the same instance.
fn context(instance: &str, name: &str) -> Vec<u8> {
    [instance.as_bytes(), b"\0", name.as_bytes()].concat()
}

fn single(key: &str, text: String) -> Value {
    let mut m = Map::new();
    m.insert(key.to_string(), Value::String(text));
    Value::Object(m)
}

/// `(SEALED | OMITTED, its text)` when `v` is a marker.
fn marker(v: &Value) -> Option<(&'static str, &str)> {
    let m = v.as_object().filter(|m| m.len() == 1)?;
    let (k, text) = m.iter().next()?;
    let kind = [SEALED, OMITTED].into_iter().find(|x| x == k)?;
    Some((kind, text.as_str()?))
}

/// Calls `f` on every value under a sensitive name in the variables `snap` holds.
fn for_each_in_snapshot(snap: &mut InstanceSnapshot, names: &[String], f: &mut dyn FnMut(&str, &mut Value)) {
    for scope in &mut snap.scopes {
        walk_map(&mut scope.vars, names, f);
    }
    for token in &mut snap.tokens {
        if let TokenState::MiBody(mi) = &mut token.state {
            for v in mi.items.iter_mut().chain(mi.outputs.iter_mut()) {
                walk(v, names, f);
            }
        }
    }
    for (_, payload) in &mut snap.pending_messages {
        payload.with_value(&mut |v| walk(v, names, f));
    }
}

fn walk_map(m: &mut Map<String, Value>, names: &[String], f: &mut dyn FnMut(&str, &mut Value)) {
    for (k, v) in m.iter_mut() {
        if names.iter().any(|n| n == k) {
            f(k, v);
        } else {
            walk(v, names, f);
        }
    }
}

fn walk(v: &mut Value, names: &[String], f: &mut dyn FnMut(&str, &mut Value)) {
    match v {
        Value::Object(m) => walk_map(m, names, f),
        Value::Array(items) => items.iter_mut().for_each(|x| walk(x, names, f)),
        _ => {}
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars() -> Map<String, Value> {
        json!({"user": "ann", "login": {"password": "hunter2"}, "pins": [{"password": 1234}]})
            .as_object()
            .unwrap()
            .clone()
    }

    fn names() -> Vec<String> {
        vec!["password".to_string()]
    }

    #[test]
    fn sealed_values_come_back_with_the_key_and_not_without() {
        let key = StateKey::from_bytes(&[9; 32]).unwrap();
        let a = AtRest::new(Some(key.clone()));
        let mut v = vars();
        a.seal_vars("i1", &mut v, &names());
        let text = Value::Object(v.clone()).to_string();
        assert!(!text.contains("hunter2") && !text.contains("1234"), "{text}");
        assert!(text.contains(SEALED) && text.contains(key.id()), "{text}");
        let mut again = v.clone();
        a.seal_vars("i1", &mut again, &names());
        assert_eq!(again, v, "a marker is written again as it is");

        let mut opened = v.clone();
        assert!(AtRest::new(Some(key)).open_vars("i1", &mut opened, &names()).is_empty());
        assert_eq!(opened, vars());

        let mut keyless = v.clone();
        let missing = AtRest::new(None).open_vars("i1", &mut keyless, &names());
        assert_eq!(missing.len(), 2);
        assert!(matches!(missing[0].why, Why::NoKey(_)));
        let other = AtRest::new(Some(StateKey::from_bytes(&[8; 32]).unwrap()));
        let missing = other.open_vars("i1", &mut v.clone(), &names());
        assert!(
            matches!(missing[0].why, Why::Open(OpenError::OtherKey { .. })),
            "{missing:?}"
        );
        let msg = missing[0].to_string();
        assert!(
            msg.contains("'password'") && msg.contains("SERVICETASK_STATE_KEY"),
            "{msg}"
        );
        assert!(!msg.contains("hunter2"));
        // moved to another instance: does not verify
        let missing = AtRest::new(Some(StateKey::from_bytes(&[9; 32]).unwrap())).open_vars("i2", &mut v, &names());
        assert!(
            matches!(missing[0].why, Why::Open(OpenError::Damaged(_))),
            "{missing:?}"
        );
    }

    /// `vars` sealed by `a`.
    fn vars_of_two(a: &AtRest) -> Map<String, Value> {
        let mut v = vars();
        a.seal_vars("i1", &mut v, &names());
        v
    }

    #[test]
    fn omitted_values_live_in_this_node_only_until_the_instance_ends() {
        let a = AtRest::new(None);
        let mut v = vars();
        a.seal_vars("i1", &mut v, &names());
        let text = Value::Object(v.clone()).to_string();
        assert!(!text.contains("hunter2") && !text.contains("1234") && text.contains(OMITTED));
        let mut opened = v.clone();
        assert!(a.open_vars("i1", &mut opened, &names()).is_empty());
        assert_eq!(opened, vars());

        let restarted = AtRest::new(None);
        let missing = restarted.open_vars("i1", &mut v.clone(), &names());
        assert_eq!(missing[0].why, Why::NotStored);
        assert!(missing[0].to_string().contains("supply 'password' again"));

        let both = Unavailable::summary(&restarted.open_vars("i1", &mut vars_of_two(&a), &names()));
        assert_eq!(both.matches("Fix:").count(), 1, "{both}");
        assert!(both.contains("supply 'password', 'password' again"), "{both}");

        a.forget("i1");
        assert_eq!(a.open_vars("i1", &mut v, &names())[0].why, Why::NotStored);
    }
}
