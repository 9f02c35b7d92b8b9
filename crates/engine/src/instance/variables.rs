//! Variables: the layers a scope sees (a multi-instance child sees its parent's), expressions and
//! scripts evaluated over them, copying a finished scope back, dotted-path writes.

use super::{Instance, ProcIndex};
use crate::error::EngineError;
use crate::state::*;
use serde_json::{Map, Value};

impl Instance {
    /// The variable layers `scope` sees: its own, then (for a multi-instance child, which holds
    /// only its item and counter) its parent's, and so on.
    pub(crate) fn layers(&self, scope: Id) -> Vec<&Map<String, Value>> {
        let mut out = Vec::new();
        let mut cur = Some(scope);
        while let Some(id) = cur {
            let Some(s) = self.scopes.get(&id) else { break };
            out.push(&s.vars);
            cur = if matches!(s.kind, ScopeKind::MiChild { .. }) {
                s.parent
            } else {
                None
            };
        }
        out
    }

    /// The variables `scope` sees, merged into one map (a copy).
    pub(crate) fn vars_of(&self, scope: Id) -> Map<String, Value> {
        match self.scopes.get(&scope) {
            None => return Map::new(),
            Some(s) if !matches!(s.kind, ScopeKind::MiChild { .. }) => return s.vars.clone(),
            Some(_) => {}
        }
        let layers = self.layers(scope);
        let mut merged = Map::new();
        for l in layers.iter().rev() {
            merged.extend(l.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        merged
    }

    pub(crate) fn vars_mut(&mut self, scope: Id) -> Option<&mut Map<String, Value>> {
        self.scopes.get_mut(&scope).map(|s| &mut s.vars)
    }

    /// Evaluates `src` over the variables of `scope`; errors name the element.
    pub(crate) fn eval(
        &self,
        p: &ProcIndex,
        element_id: &str,
        what: &str,
        src: &str,
        scope: Id,
    ) -> Result<Value, EngineError> {
        eval_in(p, element_id, what, src, &self.layers(scope))
    }

    pub(crate) fn run_script(
        &mut self,
        p: &ProcIndex,
        element_id: &str,
        what: &str,
        src: &str,
        scope: Id,
    ) -> Result<(), EngineError> {
        let mut local = match self.vars_mut(scope) {
            Some(v) => std::mem::take(v),
            None => Map::new(),
        };
        let result = {
            let layers = self.layers(scope);
            let below = layers.get(1..).unwrap_or(&[]);
            p.script(src)
                .and_then(|s| s.run_in(&mut local, below, &p.limits, &p.functions))
        };
        if let Some(v) = self.vars_mut(scope) {
            *v = local;
        }
        if result.is_ok() {
            // a script a loop runs again may add its whole budget at every run
            self.scope_changed(p, element_id, scope)?;
        }
        result.map_err(|e| EngineError::Expression {
            at: p.location(element_id),
            what: what.to_string(),
            message: e.message,
            help: "scripts take Python-style statements: x = expr, x += expr, del(x), if/for/while blocks, calls of the documented builtins; every name must be a variable".to_string(),
        })
    }
}

/// Evaluates `src` over variable layers within the engine's limits; errors name the element
/// and its position.
pub(crate) fn eval_in(
    p: &ProcIndex,
    element_id: &str,
    what: &str,
    src: &str,
    layers: &[&Map<String, Value>],
) -> Result<Value, EngineError> {
    p.expression(src)
        .and_then(|e| e.eval_in(layers, &p.limits, &p.functions))
        .map_err(|e| EngineError::Expression {
            at: p.location(element_id),
            what: format!("{what} '{}'", src.trim()),
            message: e.message,
            help: "use Python-style (x > 1, answer == 'Yes') or FEEL (=x > 1) expressions over defined variables"
                .to_string(),
        })
}

/// Copies a finished scope's variables back to its parent, deletions included.
pub(crate) fn merge_back(parent: Option<&mut Map<String, Value>>, child: &Scope) {
    let Some(parent) = parent else { return };
    for k in &child.entry_keys {
        if !child.vars.contains_key(k) {
            parent.remove(k);
        }
    }
    for (k, v) in &child.vars {
        parent.insert(k.clone(), v.clone());
    }
}

/// Writes `value` at a dotted variable path.
pub(crate) fn set_path(vars: &mut Map<String, Value>, path: &str, value: Value) {
    let mut parts = path.split('.').peekable();
    let mut cur = vars;
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            cur.insert(part.to_string(), value);
            return;
        }
        let entry = cur.entry(part.to_string()).or_insert_with(|| Value::Object(Map::new()));
        if !entry.is_object() {
            *entry = Value::Object(Map::new());
        }
        match entry {
            Value::Object(m) => cur = m,
            _ => return,
        }
    }
}
