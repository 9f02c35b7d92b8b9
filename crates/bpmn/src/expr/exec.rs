//! Runs scripts: statements over a local variable layer, with reads falling through to the
//! layers below. One [`Budget`] covers the whole run (every statement, loop iteration and
//! comprehension), and the memory it counts includes what the script's variables grow by.
//! Appends and `+=` on strings and lists change the variable in place.

use super::builtins::{method, to_display_string, truthy};
use super::eval::{eval, iteration_items, Env};
use super::limits::{measure, Budget};
use super::ops::{as_i64, binary, equal, list_position, type_name};
use super::parser::{BinOp, Block, Expr, Seg, Stmt};
use super::{Dialect, ExprError};
use serde_json::{Map, Value};

/// How a block ended.
pub(crate) enum Flow {
    Normal,
    Break,
    Continue,
}

/// A script run: reads see `local` then `below`; writes go to `local`.
pub(crate) struct Exec<'a, 'b> {
    pub local: &'a mut Map<String, Value>,
    pub below: &'a [&'b Map<String, Value>],
    pub dialect: Dialect,
    pub budget: Budget,
}

/// Estimated bytes of a value held in a variable.
fn held(v: &Value) -> i64 {
    i64::try_from(measure(v).bytes).unwrap_or(i64::MAX)
}

impl Exec<'_, '_> {
    fn eval(&mut self, e: &Expr) -> Result<Value, ExprError> {
        let layers: Vec<&Map<String, Value>> = std::iter::once(&*self.local)
            .chain(self.below.iter().copied())
            .collect();
        let mut env = Env {
            layers: &layers,
            locals: Vec::new(),
            dialect: self.dialect,
            budget: &mut self.budget,
            depth: 0,
        };
        eval(e, &mut env)
    }

    fn lookup(&self, name: &str) -> Option<&Value> {
        self.local
            .get(name)
            .or_else(|| self.below.iter().find_map(|l| l.get(name)))
    }

    /// Runs a block; errors carry the script line of the failing statement.
    pub(crate) fn block(&mut self, stmts: &Block) -> Result<Flow, ExprError> {
        for (line, s) in stmts {
            let flow = self.stmt(s).map_err(|e| {
                if e.message.starts_with("script line ") {
                    e
                } else {
                    ExprError::new(format!("script line {line}: {}", e.message))
                }
            })?;
            if !matches!(flow, Flow::Normal) {
                return Ok(flow);
            }
        }
        Ok(Flow::Normal)
    }

    fn stmt(&mut self, stmt: &Stmt) -> Result<Flow, ExprError> {
        self.budget.steps(1)?;
        let delta = match stmt {
            Stmt::Pass => return Ok(Flow::Normal),
            Stmt::Break => return Ok(Flow::Break),
            Stmt::Continue => return Ok(Flow::Continue),
            Stmt::If { branches, otherwise } => {
                for (cond, body) in branches {
                    let c = truthy(&self.eval(cond)?);
                    self.budget.settle(0)?;
                    if c {
                        return self.block(body);
                    }
                }
                return self.block(otherwise);
            }
            Stmt::While { cond, body } => {
                loop {
                    let c = truthy(&self.eval(cond)?);
                    self.budget.settle(0)?;
                    if !c {
                        break;
                    }
                    if let Flow::Break = self.block(body)? {
                        break;
                    }
                }
                return Ok(Flow::Normal);
            }
            Stmt::For { vars, iter, body } => {
                let items = iteration_items(self.eval(iter)?, &mut self.budget)?;
                self.budget.settle(0)?;
                for item in items {
                    self.budget.steps(1)?;
                    self.bind_loop_vars(vars, item)?;
                    if let Flow::Break = self.block(body)? {
                        break;
                    }
                }
                return Ok(Flow::Normal);
            }
            Stmt::Expr(Expr::Method(base, name, args)) if is_mutator(name) => self.call_mutator(base, name, args)?,
            Stmt::Expr(e) => {
                self.eval(e)?;
                0
            }
            Stmt::Del(names) => {
                let mut delta = 0;
                for n in names {
                    let below_has = self.below.iter().any(|l| l.contains_key(n));
                    match self.local.remove(n) {
                        Some(old) => delta -= held(&old),
                        None if below_has => {}
                        None => return Err(ExprError::new(format!("name '{n}' is not defined"))),
                    }
                }
                delta
            }
            Stmt::Assign { target, op, value } => self.assign(target, *op, value)?,
        };
        self.budget.settle(delta)?;
        Ok(Flow::Normal)
    }

    fn bind_loop_vars(&mut self, vars: &[String], item: Value) -> Result<(), ExprError> {
        if let [var] = vars {
            self.local.insert(var.clone(), item);
            return Ok(());
        }
        let Value::Array(parts) = item else {
            return Err(ExprError::new(format!(
                "cannot unpack a {} into {} names",
                type_name(&item),
                vars.len()
            )));
        };
        if parts.len() != vars.len() {
            return Err(ExprError::new(format!(
                "cannot unpack {} values into {} names",
                parts.len(),
                vars.len()
            )));
        }
        for (n, v) in vars.iter().zip(parts) {
            self.local.insert(n.clone(), v);
        }
        Ok(())
    }

    /// `target = value` / `target op= value`; returns what the variables grew by.
    fn assign(&mut self, target: &[Seg], op: Option<BinOp>, value: &Expr) -> Result<i64, ExprError> {
        let path = self.resolve(target)?;
        let rhs = self.eval(value)?;
        let m = measure(&rhs);
        self.budget.steps(m.nodes)?;
        self.budget.depth(path.len() - 1 + m.depth)?;
        match op {
            None => self.write(&path, rhs),
            Some(BinOp::Add) if self.grows_in_place(&path, &rhs)? => {
                match self.place_mut(&path)? {
                    Value::String(s) => s.push_str(rhs.as_str().unwrap_or_default()),
                    Value::Array(a) => a.extend(rhs.as_array().into_iter().flatten().cloned()),
                    _ => {}
                }
                Ok(i64::try_from(m.bytes).unwrap_or(i64::MAX))
            }
            Some(op) => {
                let current = self.read(&path)?;
                let new = binary(op, &current, &rhs, self.dialect, &mut self.budget)?;
                self.write(&path, new)
            }
        }
    }

    /// True when `path += rhs` can extend a string or list variable in place (its new size
    /// is then checked and reserved).
    fn grows_in_place(&mut self, path: &[Value], rhs: &Value) -> Result<bool, ExprError> {
        let Ok(current) = self.read_ref(path) else {
            return Ok(false);
        };
        match (current, rhs) {
            (Value::String(s), Value::String(add)) => {
                self.budget.grow_string(s.len() as u64, add.len() as u64)?;
            }
            (Value::Array(a), Value::Array(add)) => {
                self.budget.grow_collection(a.len() as u64, add.len() as u64)?;
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn call_mutator(&mut self, base: &Expr, name: &str, args: &[Expr]) -> Result<i64, ExprError> {
        let Some(target) = expr_path(base) else {
            let b = self.eval(base)?;
            let vals = args.iter().map(|a| self.eval(a)).collect::<Result<Vec<_>, _>>()?;
            method(&b, name, &vals, &mut self.budget)?;
            return Ok(0);
        };
        let path = self.resolve(&target)?;
        let vals = args.iter().map(|a| self.eval(a)).collect::<Result<Vec<_>, _>>()?;
        let mut added = 0;
        let mut depth = 0;
        for v in &vals {
            let m = measure(v);
            self.budget.steps(m.nodes)?;
            added += i64::try_from(m.bytes).unwrap_or(i64::MAX);
            depth = depth.max(m.depth);
        }
        self.budget.depth(path.len() + depth)?;
        let max_len = self.budget.limits.max_collection_len;
        let slot = self.place_mut(&path)?;
        if matches!(name, "append" | "extend" | "insert" | "update") {
            mutate(slot, name, vals, max_len)?;
            return Ok(added);
        }
        // removals shrink the variable (measuring it costs what the removal may cost)
        let before = held(slot);
        mutate(slot, name, vals, max_len)?;
        Ok(held(slot) - before)
    }

    fn resolve(&mut self, target: &[Seg]) -> Result<Vec<Value>, ExprError> {
        target
            .iter()
            .map(|s| match s {
                Seg::Key(k) => Ok(Value::String(k.clone())),
                Seg::Index(e) => self.eval(e),
            })
            .collect()
    }

    fn read_ref(&self, path: &[Value]) -> Result<&Value, ExprError> {
        let Some((Value::String(first), rest)) = path.split_first() else {
            return Err(ExprError::new("empty assignment target".to_string()));
        };
        let mut cur = self
            .lookup(first)
            .ok_or_else(|| ExprError::new(format!("name '{first}' is not defined")))?;
        for seg in rest {
            cur = match (cur, seg) {
                (Value::Object(o), Value::String(k)) => {
                    o.get(k).ok_or_else(|| ExprError::new(format!("key '{k}' not found")))?
                }
                (Value::Array(_), _) => super::ops::index_ref(cur, seg, self.dialect)?,
                _ => return Err(ExprError::new(format!("cannot index a {}", type_name(cur)))),
            };
        }
        Ok(cur)
    }

    fn read(&mut self, path: &[Value]) -> Result<Value, ExprError> {
        let v = self.read_ref(path)?.clone();
        self.budget.copy(&v)?;
        Ok(v)
    }

    /// The variable slot at `path`, in the local layer (a variable of a lower layer is copied
    /// up first, so the write stays local).
    fn place_mut(&mut self, path: &[Value]) -> Result<&mut Value, ExprError> {
        let Some((Value::String(first), rest)) = path.split_first() else {
            return Err(ExprError::new("empty assignment target".to_string()));
        };
        if !self.local.contains_key(first) {
            let base = self
                .below
                .iter()
                .find_map(|l| l.get(first))
                .ok_or_else(|| ExprError::new(format!("name '{first}' is not defined")))?;
            self.budget.copy(base)?;
            self.local.insert(first.clone(), base.clone());
        }
        let mut cur = self
            .local
            .get_mut(first)
            .ok_or_else(|| ExprError::new(format!("name '{first}' is not defined")))?;
        for seg in rest {
            cur = match (cur, seg) {
                (Value::Object(o), Value::String(k)) => o
                    .get_mut(k)
                    .ok_or_else(|| ExprError::new(format!("key '{k}' not found")))?,
                (Value::Array(a), idx) => {
                    let at = array_slot(a.len(), idx)?;
                    &mut a[at]
                }
                (other, _) => return Err(ExprError::new(format!("cannot index a {}", type_name(other)))),
            };
        }
        Ok(cur)
    }

    /// Writes `value` at `path`; returns what the variables grew by.
    fn write(&mut self, path: &[Value], value: Value) -> Result<i64, ExprError> {
        let Some((Value::String(first), rest)) = path.split_first() else {
            return Err(ExprError::new("empty assignment target".to_string()));
        };
        let new = held(&value);
        if rest.is_empty() {
            let old = self.local.insert(first.clone(), value);
            return Ok(new - old.map_or(0, |o| held(&o)));
        }
        if !self.local.contains_key(first) {
            // a nested write into a variable of a lower layer starts from a copy of it
            let base = self
                .below
                .iter()
                .find_map(|l| l.get(first))
                .cloned()
                .unwrap_or_else(|| Value::Object(Map::new()));
            self.budget.copy(&base)?;
            self.local.insert(first.clone(), base);
        }
        let mut cur = self
            .local
            .get_mut(first)
            .ok_or_else(|| ExprError::new(format!("name '{first}' is not defined")))?;
        for (i, seg) in rest.iter().enumerate() {
            let last = i + 1 == rest.len();
            cur = match (cur, seg) {
                (Value::Object(o), Value::String(k)) => {
                    if last {
                        let old = o.insert(k.clone(), value);
                        return Ok(new - old.map_or(0, |o| held(&o)));
                    }
                    o.entry(k.clone()).or_insert_with(|| Value::Object(Map::new()))
                }
                (Value::Array(a), idx) => {
                    let at = array_slot(a.len(), idx)?;
                    let slot = &mut a[at];
                    if last {
                        let old = std::mem::replace(slot, value);
                        return Ok(new - held(&old));
                    }
                    slot
                }
                (other, seg) => {
                    return Err(ExprError::new(format!(
                        "cannot set {} on a {}",
                        to_display_string(seg),
                        type_name(other)
                    )));
                }
            };
        }
        Ok(0)
    }
}

/// The position of an assignment index in a list of `len` items (0-based, negative from the end).
fn array_slot(len: usize, idx: &Value) -> Result<usize, ExprError> {
    let Some(n) = as_i64(idx) else {
        return Err(ExprError::new(format!(
            "list index must be a number, not a {}",
            type_name(idx)
        )));
    };
    list_position(n, len, Dialect::Python)
        .ok_or_else(|| ExprError::new(format!("list assignment index {n} out of range (length {len})")))
}

fn is_mutator(name: &str) -> bool {
    matches!(
        name,
        "append" | "extend" | "insert" | "pop" | "remove" | "update" | "clear"
    )
}

/// The assignable path an expression names (`a`, `a.b`, `a['k']`, `a[i]`), if it is one.
fn expr_path(e: &Expr) -> Option<Vec<Seg>> {
    let mut segs = Vec::new();
    let mut cur = e;
    loop {
        match cur {
            Expr::Var(n) => {
                segs.push(Seg::Key(n.clone()));
                segs.reverse();
                return Some(segs);
            }
            Expr::Attr(b, n) => {
                segs.push(Seg::Key(n.clone()));
                cur = b;
            }
            Expr::Index(b, i) => {
                segs.push(Seg::Index((**i).clone()));
                cur = b;
            }
            _ => return None,
        }
    }
}

fn grown(len: usize, by: usize, max: usize) -> Result<(), ExprError> {
    if len.saturating_add(by) > max {
        return Err(super::limits::exceeded(
            "max_collection_len",
            max,
            &format!("a collection of {} items", len.saturating_add(by)),
        ));
    }
    Ok(())
}

/// Applies a mutating list/dict method in place.
fn mutate(v: &mut Value, name: &str, args: Vec<Value>, max_len: usize) -> Result<(), ExprError> {
    match (v, name) {
        (Value::Array(a), "append") => match <[Value; 1]>::try_from(args) {
            Ok([x]) => {
                grown(a.len(), 1, max_len)?;
                a.push(x);
                Ok(())
            }
            Err(_) => Err(ExprError::new("append() takes exactly one argument".to_string())),
        },
        (Value::Array(a), "extend") => match <[Value; 1]>::try_from(args) {
            Ok([Value::Array(xs)]) => {
                grown(a.len(), xs.len(), max_len)?;
                a.extend(xs);
                Ok(())
            }
            _ => Err(ExprError::new("extend() takes a list".to_string())),
        },
        (Value::Array(a), "insert") => match <[Value; 2]>::try_from(args) {
            Ok([i, x]) => {
                grown(a.len(), 1, max_len)?;
                let len = i64::try_from(a.len()).unwrap_or(i64::MAX);
                let n = as_i64(&i).unwrap_or(len);
                let at = if n < 0 {
                    len.saturating_add(n).max(0)
                } else {
                    n.min(len)
                };
                a.insert(at as usize, x);
                Ok(())
            }
            Err(_) => Err(ExprError::new("insert() takes an index and a value".to_string())),
        },
        (Value::Array(a), "pop") => {
            if a.pop().is_none() {
                return Err(ExprError::new("pop from an empty list".to_string()));
            }
            Ok(())
        }
        (Value::Array(a), "remove") => match args.first() {
            Some(x) => match a.iter().position(|y| equal(x, y)) {
                Some(i) => {
                    a.remove(i);
                    Ok(())
                }
                None => Err(ExprError::new("list.remove(x): x not in list".to_string())),
            },
            None => Err(ExprError::new("remove() takes one argument".to_string())),
        },
        (Value::Array(a), "clear") => {
            a.clear();
            Ok(())
        }
        (Value::Object(o), "update") => match args.into_iter().next() {
            Some(Value::Object(other)) => {
                grown(o.len(), other.len(), max_len)?;
                o.extend(other);
                Ok(())
            }
            _ => Err(ExprError::new("update() takes an object".to_string())),
        },
        (Value::Object(o), "pop") => match args.first() {
            Some(Value::String(k)) => {
                o.remove(k);
                Ok(())
            }
            _ => Err(ExprError::new("pop() takes a key".to_string())),
        },
        (Value::Object(o), "clear") => {
            o.clear();
            Ok(())
        }
        (other, name) => Err(ExprError::new(format!("a {} has no method '{name}'", type_name(other)))),
    }
}
