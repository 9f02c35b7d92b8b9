//! Runs scripts: statements over a local variable layer, with reads falling through to the
//! layers below. One [`Budget`] covers the whole run (every statement, loop iteration and
//! comprehension), and the memory it counts includes what the script's variables grow by.
//! Appends and `+=` on strings and lists change the variable in place.

use super::ast::{BinOp, Block, Expr, Seg, Stmt, Target};
use super::builtins::{to_display_string, truthy};
use super::calls::{unpack, Binding, Bindings, Calls, TopLevel};
use super::eval::{eval, iteration_items, Env};
use super::limits::{measure, Budget, SLOT};
use super::ops::{as_i64, binary, equal, list_position, type_name};
use super::registry::Functions;
use super::{Dialect, ExprError};
use serde_json::{Map, Value};

/// How a block ended.
pub(crate) enum Flow {
    Normal,
    Break,
    Continue,
    /// A function's body ran `return`.
    Return(Value),
}

/// A script run, or one call of a function it defines: reads see `local` then `below`;
/// writes go to `local`.
pub(crate) struct Exec<'a> {
    pub local: &'a mut Map<String, Value>,
    pub below: &'a [&'a Map<String, Value>],
    pub dialect: Dialect,
    pub budget: &'a mut Budget,
    /// The functions the host registered.
    pub host: &'a Functions,
    /// What this frame's `def` and `import` statements bound.
    pub bindings: Bindings,
    /// The script's top level (its bindings and variables) when this frame is a function's body.
    pub module: Option<TopLevel<'a>>,
}

/// Estimated bytes of a value held in a variable.
pub(crate) fn held(v: &Value) -> i64 {
    i64::try_from(measure(v).bytes).unwrap_or(i64::MAX)
}

impl Exec<'_> {
    fn eval(&mut self, e: &Expr) -> Result<Value, ExprError> {
        let layers: Vec<&Map<String, Value>> = std::iter::once(&*self.local)
            .chain(self.below.iter().copied())
            .collect();
        let mut env = Env {
            layers: &layers,
            locals: Vec::new(),
            dialect: self.dialect,
            budget: &mut *self.budget,
            depth: 0,
            calls: Calls {
                host: self.host,
                frame: Some(&self.bindings),
                module: self.module,
            },
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
                    match self.block(body)? {
                        Flow::Break => break,
                        r @ Flow::Return(_) => return Ok(r),
                        Flow::Normal | Flow::Continue => {}
                    }
                }
                return Ok(Flow::Normal);
            }
            Stmt::For { target, iter, body } => {
                let items = iteration_items(self.eval(iter)?, self.budget)?;
                // the items are held while the loop runs: the one bound moves to the loop
                // variables, the others are dropped when the loop ends
                let mut pool: i64 = items.iter().map(held).sum();
                self.budget.settle(pool)?;
                for item in items {
                    self.budget.steps(1)?;
                    let size = held(&item);
                    pool -= size;
                    let delta = self.assign_target(target, item)?;
                    self.budget.settle(delta - size)?;
                    match self.block(body)? {
                        Flow::Break => break,
                        r @ Flow::Return(_) => {
                            self.budget.settle(-pool)?;
                            return Ok(r);
                        }
                        Flow::Normal | Flow::Continue => {}
                    }
                }
                self.budget.settle(-pool)?;
                return Ok(Flow::Normal);
            }
            Stmt::Expr(Expr::Method(base, name, args)) if is_mutator(name) => self.call_mutator(base, name, args)?.0,
            Stmt::Expr(e) => {
                self.eval(e)?;
                0
            }
            Stmt::Def(def) => {
                let mut defaults = Vec::with_capacity(def.params.len());
                for (_, d) in &def.params {
                    defaults.push(d.as_ref().map(|d| self.eval(d)).transpose()?);
                }
                let new = Binding::Func(def.clone(), defaults);
                let grown = new.held();
                let old = self.bindings.insert(def.name.clone(), new);
                grown - old.map_or(0, |o| o.held())
            }
            Stmt::Import(imports) => {
                let mut delta = 0;
                for i in imports {
                    let b = match &i.member {
                        None => Binding::Module(i.module),
                        Some(m) => Binding::ModuleFn(i.module, m.clone()),
                    };
                    if let Some(old) = self.bindings.insert(i.bound.clone(), b) {
                        delta -= old.held();
                    }
                }
                delta
            }
            Stmt::Return(value) => {
                let v = match value {
                    Some(e) => self.eval(e)?,
                    None => Value::Null,
                };
                return Ok(Flow::Return(v));
            }
            Stmt::Del(names) => {
                let mut delta = 0;
                for n in names {
                    if let Some(old) = self.bindings.remove(n) {
                        delta -= old.held();
                        continue;
                    }
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

    /// Assigns `value` to a target (a tuple target unpacks it, left to right, as Python
    /// does); returns what the variables grew by.
    fn assign_target(&mut self, target: &Target, value: Value) -> Result<i64, ExprError> {
        match target {
            Target::Path(segs) => {
                let path = self.resolve(segs)?;
                self.write(&path, value)
            }
            Target::Tuple(targets) => {
                let items = unpack(value, targets.len(), &mut *self.budget)?;
                let mut delta = 0;
                for (t, v) in targets.iter().zip(items) {
                    delta += self.assign_target(t, v)?;
                }
                Ok(delta)
            }
        }
    }

    /// `target = value` / `target op= value`; returns what the variables grew by.
    fn assign(&mut self, target: &Target, op: Option<BinOp>, value: &Expr) -> Result<i64, ExprError> {
        let target = match target {
            Target::Path(segs) => segs,
            Target::Tuple(_) => {
                // the value first, then the targets left to right
                let (moved, rhs) = self.operand(value)?;
                let m = measure(&rhs);
                self.budget.steps(m.nodes)?;
                self.budget.depth(m.depth)?;
                return Ok(moved + self.assign_target(target, rhs)?);
            }
        };
        let path = self.resolve(target)?;
        let (moved, rhs) = match op {
            None => self.operand(value)?,
            Some(_) => (0, self.eval(value)?),
        };
        let m = measure(&rhs);
        self.budget.steps(m.nodes)?;
        self.budget.depth(path.len() - 1 + m.depth)?;
        match op {
            None => Ok(moved + self.write(&path, rhs)?),
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
                let new = binary(op, &current, &rhs, self.dialect, self.budget)?;
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

    /// The value of an assignment's right side or a mutating method's argument: a mutating
    /// method called on a variable there (`v = xs.pop()`, `seen.append(q.pop(0))`) changes
    /// that variable, as in Python. Returns what the variables grew by, and the value.
    fn operand(&mut self, e: &Expr) -> Result<(i64, Value), ExprError> {
        match e {
            Expr::Method(base, name, args) if is_mutator(name) => self.call_mutator(base, name, args),
            _ => Ok((0, self.eval(e)?)),
        }
    }

    /// Calls a method that changes its receiver (`xs.append(v)`, `xs.pop(i)`, `d.update(o)`);
    /// returns what the variables grew by and the method's result.
    fn call_mutator(&mut self, base: &Expr, name: &str, args: &[Expr]) -> Result<(i64, Value), ExprError> {
        let Some(target) = expr_path(base) else {
            // a receiver that is no variable: the change is lost, as in Python
            let mut b = self.eval(base)?;
            let vals = args.iter().map(|a| self.eval(a)).collect::<Result<Vec<_>, _>>()?;
            let (_, out) = mutate(&mut b, name, vals, self.budget)?;
            return Ok((0, out));
        };
        let path = self.resolve(&target)?;
        let mut vals = Vec::with_capacity(args.len());
        let mut moved = 0;
        for a in args {
            let (delta, v) = self.operand(a)?;
            moved += delta;
            vals.push(v);
        }
        let mut depth = 0;
        for v in &vals {
            let m = measure(v);
            self.budget.steps(m.nodes)?;
            depth = depth.max(m.depth);
        }
        self.budget.depth(path.len() + depth)?;
        // the first call copies a lower layer's variable up (charged); the slot then borrows
        // the variables, so the budget is lent out beside it
        self.place_mut(&path)?;
        let limits = self.budget.limits;
        let mut budget = std::mem::replace(&mut *self.budget, Budget::new(limits));
        let r = self
            .place_mut(&path)
            .and_then(|slot| mutate(slot, name, vals, &mut budget));
        *self.budget = budget;
        r.map(|(delta, out)| (delta + moved, out))
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
            // a variable now holds the name a `def` or `import` bound
            let unbound = self.bindings.remove(first).map_or(0, |b| b.held());
            let old = self.local.insert(first.clone(), value);
            return Ok(new - unbound - old.map_or(0, |o| held(&o)));
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

/// Steps for moving `slots` list items along (an insert or removal shifts the items after
/// it): a step per 8 items, as copying 256 bytes.
fn shift(budget: &mut Budget, slots: usize) -> Result<(), ExprError> {
    budget.steps(slots as u64 / 8)
}

/// The position `list.insert(i, x)` inserts at (clamped into the list, as in Python).
fn insert_position(i: &Value, len: usize) -> Result<usize, ExprError> {
    let Some(n) = as_i64(i) else {
        return Err(ExprError::new(format!(
            "list indices must be integers, not {}",
            type_name(i)
        )));
    };
    let len = i64::try_from(len).unwrap_or(i64::MAX);
    let at = if n < 0 {
        len.saturating_add(n).max(0)
    } else {
        n.min(len)
    };
    Ok(usize::try_from(at).unwrap_or(0))
}

/// Applies a mutating list or object method in place, as Python does; returns what the value
/// grew by (estimated bytes, negative when it shrank) and the method's result (`pop`'s item,
/// else `None`). Every item moved, compared or dropped is charged to the budget.
fn mutate(v: &mut Value, name: &str, args: Vec<Value>, budget: &mut Budget) -> Result<(i64, Value), ExprError> {
    let max_len = budget.limits.max_collection_len;
    let added: i64 = args.iter().map(held).sum();
    match (v, name) {
        (Value::Array(a), "append") => match <[Value; 1]>::try_from(args) {
            Ok([x]) => {
                grown(a.len(), 1, max_len)?;
                a.push(x);
                Ok((added, Value::Null))
            }
            Err(_) => Err(ExprError::new("append() takes exactly one argument".to_string())),
        },
        (Value::Array(a), "extend") => match <[Value; 1]>::try_from(args) {
            Ok([Value::Array(xs)]) => {
                grown(a.len(), xs.len(), max_len)?;
                a.extend(xs);
                Ok((added, Value::Null))
            }
            _ => Err(ExprError::new("extend() takes a list".to_string())),
        },
        (Value::Array(a), "insert") => match <[Value; 2]>::try_from(args) {
            Ok([i, x]) => {
                grown(a.len(), 1, max_len)?;
                let at = insert_position(&i, a.len())?;
                shift(budget, a.len() - at)?;
                let size = held(&x);
                a.insert(at, x);
                Ok((size, Value::Null))
            }
            Err(_) => Err(ExprError::new("insert() takes an index and a value".to_string())),
        },
        (Value::Array(a), "pop") => {
            let at = match args.as_slice() {
                [] => a.len().checked_sub(1),
                [i] => {
                    let n = as_i64(i).ok_or_else(|| {
                        ExprError::new(format!("list indices must be integers, not {}", type_name(i)))
                    })?;
                    list_position(n, a.len(), Dialect::Python)
                }
                _ => {
                    return Err(ExprError::new(format!(
                        "pop expected at most 1 argument, got {}",
                        args.len()
                    )))
                }
            };
            let Some(at) = at else {
                return Err(ExprError::new(if a.is_empty() {
                    "pop from empty list".to_string()
                } else {
                    "pop index out of range".to_string()
                }));
            };
            shift(budget, a.len() - at)?;
            let out = a.remove(at);
            Ok((-held(&out), out))
        }
        (Value::Array(a), "remove") => match <[Value; 1]>::try_from(args) {
            Ok([x]) => {
                let nodes = measure(&x).nodes;
                let Some(at) = a.iter().position(|y| equal(&x, y)) else {
                    budget.steps((a.len() as u64).saturating_mul(nodes))?;
                    return Err(ExprError::new("list.remove(x): x not in list".to_string()));
                };
                budget.steps((at as u64 + 1).saturating_mul(nodes))?;
                shift(budget, a.len() - at)?;
                let out = a.remove(at);
                Ok((-held(&out), Value::Null))
            }
            Err(_) => Err(ExprError::new("remove() takes exactly one argument".to_string())),
        },
        (Value::Array(a), "clear") if args.is_empty() => {
            let m = measure_items(a.iter(), budget)?;
            a.clear();
            Ok((-m, Value::Null))
        }
        (Value::Object(o), "update") => match <[Value; 1]>::try_from(args) {
            Ok([Value::Object(other)]) => {
                grown(o.len(), other.len(), max_len)?;
                o.extend(other);
                Ok((added, Value::Null))
            }
            _ => Err(ExprError::new("update() takes an object".to_string())),
        },
        (Value::Object(o), "pop") => match args.as_slice() {
            [Value::String(k), rest @ ..] if rest.len() <= 1 => match (o.remove(k), rest.first()) {
                (Some(out), _) => Ok((-(held(&out) + k.len() as i64 + SLOT as i64), out)),
                (None, Some(default)) => Ok((0, default.clone())),
                (None, None) => Err(ExprError::new(format!("key '{k}' not found"))),
            },
            _ => Err(ExprError::new("pop() takes a key and an optional default".to_string())),
        },
        (Value::Object(o), "clear") if args.is_empty() => {
            let m = measure_items(o.values(), budget)?;
            let keys: i64 = o.keys().map(|k| k.len() as i64 + SLOT as i64).sum();
            o.clear();
            Ok((-(m + keys), Value::Null))
        }
        (Value::Array(_) | Value::Object(_), "clear") => Err(ExprError::new("clear() takes no arguments".to_string())),
        (other, name) => Err(ExprError::new(format!("a {} has no method '{name}'", type_name(other)))),
    }
}

/// Bytes held by `items`, with a step per 8 nodes measured (they are about to be dropped).
fn measure_items<'v>(items: impl Iterator<Item = &'v Value>, budget: &mut Budget) -> Result<i64, ExprError> {
    let (mut bytes, mut nodes) = (0i64, 0u64);
    for x in items {
        let m = measure(x);
        nodes = nodes.saturating_add(m.nodes);
        bytes = bytes.saturating_add(i64::try_from(m.bytes).unwrap_or(i64::MAX));
    }
    budget.steps(nodes / 8)?;
    Ok(bytes)
}
