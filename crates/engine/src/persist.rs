//! Saving and resuming instances: [`SqliteInstanceStore`] keeps [`InstanceSnapshot`]s (tokens,
//! variables, timers, incidents and the instance span's traceparent) in one SQLite file.
//!
//! Sensitive variables are omitted at rest: a store given the names of sensitive variables
//! ([`SqliteInstanceStore::with_sensitive_variables`], the CLI passes every registered task's
//! `#[task(sensitive)]` fields) removes every object key of those names, at any depth, from the
//! snapshot before it is written. A resumed instance does not have them: whoever continues it
//! gives them again (`servicetask complete ... --var`). Nothing secret is written, so there is
//! no key to manage.

use crate::error::EngineError;
use crate::state::{InstanceSnapshot, InstanceStatus};
use rusqlite::{params, Connection, OptionalExtension};
use std::path::Path;
use std::sync::Mutex;

/// A saved instance, as listed by [`SqliteInstanceStore::list`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedInstance {
    /// The instance id.
    pub instance_id: String,
    /// The process id.
    pub process_id: String,
    /// The BPMN file.
    pub file: String,
    /// `running`, `completed` or `failed`.
    pub status: String,
}

/// Instance snapshots in a SQLite file (WAL mode).
#[derive(Debug)]
pub struct SqliteInstanceStore {
    conn: Mutex<Connection>,
    /// Variable names never written (sorted).
    sensitive: Vec<String>,
}

fn store_err(e: impl std::fmt::Display) -> EngineError {
    EngineError::Store(e.to_string())
}

impl SqliteInstanceStore {
    /// Opens (or creates) the store at `path`.
    pub fn open(path: &Path) -> Result<Self, EngineError> {
        let conn = Connection::open(path).map_err(store_err)?;
        let _ = conn.pragma_update(None, "journal_mode", "WAL");
        Self::init(conn)
    }

    /// A store in memory (tests).
    pub fn in_memory() -> Result<Self, EngineError> {
        Self::init(Connection::open_in_memory().map_err(store_err)?)
    }

    fn init(conn: Connection) -> Result<Self, EngineError> {
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS bpmn_instances (
                instance_id TEXT PRIMARY KEY,
                process_id TEXT NOT NULL,
                file TEXT NOT NULL,
                status TEXT NOT NULL,
                snapshot TEXT NOT NULL,
                updated_at INTEGER NOT NULL
            )",
        )
        .map_err(store_err)?;
        Ok(SqliteInstanceStore {
            conn: Mutex::new(conn),
            sensitive: Vec::new(),
        })
    }

    /// Omits variables of these names from every snapshot saved (see the module docs).
    pub fn with_sensitive_variables<S: AsRef<str>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
        self.sensitive = names.into_iter().map(|n| n.as_ref().to_string()).collect();
        self.sensitive.sort();
        self.sensitive.dedup();
        self
    }

    /// The snapshot as stored: JSON without the sensitive variables.
    fn stored_json(&self, snap: &InstanceSnapshot) -> Result<String, EngineError> {
        if self.sensitive.is_empty() {
            return serde_json::to_string(snap).map_err(store_err);
        }
        // only the variable data: the snapshot's own fields (a timer's `token`, ids, states)
        // may share a sensitive variable's name and must survive
        let mut snap = snap.clone();
        let names = &self.sensitive;
        let omit_in = |vars: &mut serde_json::Map<String, serde_json::Value>| {
            let mut value = serde_json::Value::Object(std::mem::take(vars));
            omit_keys(&mut value, names);
            if let serde_json::Value::Object(m) = value {
                *vars = m;
            }
        };
        for scope in &mut snap.scopes {
            omit_in(&mut scope.vars);
        }
        for token in &mut snap.tokens {
            if let crate::state::TokenState::MiBody(mi) = &mut token.state {
                mi.items
                    .iter_mut()
                    .chain(mi.outputs.iter_mut())
                    .for_each(|v| omit_keys(v, names));
            }
        }
        for (_, payload) in &mut snap.pending_messages {
            omit_keys(payload, names);
        }
        serde_json::to_string(&snap).map_err(store_err)
    }

    /// Saves (or replaces) a snapshot.
    pub fn save(&self, snap: &InstanceSnapshot) -> Result<(), EngineError> {
        let json = self.stored_json(snap)?;
        let status = match snap.status {
            InstanceStatus::Running => "running",
            InstanceStatus::Completed => "completed",
            InstanceStatus::Failed(_) => "failed",
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let conn = self.conn.lock().map_err(|_| store_err("store lock poisoned"))?;
        conn.execute(
            "INSERT INTO bpmn_instances (instance_id, process_id, file, status, snapshot, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT(instance_id) DO UPDATE SET status = excluded.status, snapshot = excluded.snapshot, updated_at = excluded.updated_at",
            params![snap.instance_id, snap.process_id, snap.file, status, json, now],
        )
        .map_err(store_err)?;
        Ok(())
    }

    /// Loads a snapshot.
    pub fn load(&self, instance_id: &str) -> Result<Option<InstanceSnapshot>, EngineError> {
        let conn = self.conn.lock().map_err(|_| store_err("store lock poisoned"))?;
        let json: Option<String> = conn
            .query_row(
                "SELECT snapshot FROM bpmn_instances WHERE instance_id = ?1",
                params![instance_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(store_err)?;
        json.map(|j| serde_json::from_str(&j).map_err(store_err)).transpose()
    }

    /// Lists saved instances, most recently updated first.
    pub fn list(&self) -> Result<Vec<SavedInstance>, EngineError> {
        let conn = self.conn.lock().map_err(|_| store_err("store lock poisoned"))?;
        let mut stmt = conn.prepare("SELECT instance_id, process_id, file, status FROM bpmn_instances ORDER BY updated_at DESC, instance_id").map_err(store_err)?;
        let rows = stmt
            .query_map([], |r| {
                Ok(SavedInstance {
                    instance_id: r.get(0)?,
                    process_id: r.get(1)?,
                    file: r.get(2)?,
                    status: r.get(3)?,
                })
            })
            .map_err(store_err)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(store_err)
    }

    /// Deletes a snapshot; true if it existed.
    pub fn delete(&self, instance_id: &str) -> Result<bool, EngineError> {
        let conn = self.conn.lock().map_err(|_| store_err("store lock poisoned"))?;
        Ok(conn
            .execute(
                "DELETE FROM bpmn_instances WHERE instance_id = ?1",
                params![instance_id],
            )
            .map_err(store_err)?
            > 0)
    }
}

/// Removes every object key in `names` (sorted), at any depth.
fn omit_keys(value: &mut serde_json::Value, names: &[String]) {
    match value {
        serde_json::Value::Object(map) => {
            map.retain(|k, _| names.binary_search(k).is_err());
            map.values_mut().for_each(|v| omit_keys(v, names));
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(|v| omit_keys(v, names)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::omit_keys;

    #[test]
    fn sensitive_keys_are_omitted_at_any_depth() {
        let mut v = serde_json::json!({
            "vars": {"user": "ann", "api_token": "canary"},
            "pending_messages": [["m", {"api_token": "canary", "n": 1}]],
            "scopes": [{"vars": {"nested": {"api_token": "canary"}}}]
        });
        omit_keys(&mut v, &["api_token".to_string()]);
        assert!(!v.to_string().contains("canary"), "{v}");
        assert_eq!(v["vars"]["user"], "ann");
        assert_eq!(v["pending_messages"][0][1]["n"], 1);
    }

    /// A sensitive variable named like a field of the snapshot itself (a timer's `token`, an
    /// `id`, a `status`) is omitted from the variables only: the saved instance still loads.
    #[tokio::test(start_paused = true)]
    async fn a_sensitive_name_shared_with_a_snapshot_field_keeps_the_instance_loadable() {
        use crate::{Engine, RunOutcome, StubHandler};
        use std::sync::Arc;
        let xml = br#"<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">
          <process id="p"><startEvent id="s"/><sequenceFlow id="f1" sourceRef="s" targetRef="u"/>
          <userTask id="u"/><sequenceFlow id="f2" sourceRef="u" targetRef="e"/><endEvent id="e"/>
          <boundaryEvent id="late" attachedToRef="u" cancelActivity="false"><timerEventDefinition><timeDuration>PT1H</timeDuration></timerEventDefinition></boundaryEvent>
          <sequenceFlow id="f3" sourceRef="late" targetRef="e2"/><endEvent id="e2"/>
          </process></definitions>"#;
        let (defs, _) = servicetask_bpmn::parse("t.bpmn", xml);
        let engine = Engine::new(Arc::new(StubHandler));
        let mut vars = serde_json::Map::new();
        vars.insert("token".into(), serde_json::json!("canary"));
        vars.insert("id".into(), serde_json::json!("canary"));
        let mut inst = engine.start(&defs, "p", vars).unwrap();
        assert!(matches!(inst.run().await, RunOutcome::Waiting { .. }));
        let snap = inst.snapshot();
        assert!(!snap.timers.is_empty(), "the boundary timer is pending");
        let store = super::SqliteInstanceStore::in_memory()
            .unwrap()
            .with_sensitive_variables(["token", "id", "status"]);
        store.save(&snap).unwrap();
        let loaded = store
            .load(&snap.instance_id)
            .unwrap()
            .expect("the saved instance loads");
        assert_eq!(loaded.timers.len(), snap.timers.len());
        assert_eq!(loaded.tokens.len(), snap.tokens.len());
        assert!(!serde_json::to_string(&loaded).unwrap().contains("canary"));
    }
}
