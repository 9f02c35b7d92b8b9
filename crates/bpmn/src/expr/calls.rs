//! Calls beyond the builtins: functions a script defines with `def` (parameters, defaults,
//! keyword arguments, `return`, recursion), functions of the modules it imports, and the
//! functions the host registered ([`Functions`]); and unpacking a value into a tuple of
//! targets (`a, b = pair`).
//!
//! A call runs the function's body in a frame of its own: its parameters and assignments are
//! its locals, reads fall through to the script's top-level variables, and its `def`s and
//! imports stay in it. Functions are no values: they live beside the variables and are gone
//! when the script ends, as SpiffWorkflow drops callables from a task's data. Every call runs
//! within the script's one budget: each frame takes steps for its statements, its locals count
//! toward `max_bytes` while it runs, and calls nest at most `max_depth` deep (recursion
//! included), on a stack that grows as they nest.

use super::ast::FuncDef;
use super::eval::{iteration_items, Env};
use super::exec::{held, Exec, Flow};
use super::limits::{grow_stack, measure, Budget};
use super::modules::Module;
use super::ops::type_name;
use super::registry::{Functions, HostFunction};
use super::ExprError;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

/// What a name is bound to besides a variable.
#[derive(Debug, Clone)]
pub(crate) enum Binding {
    /// A function the script defined, with its defaults (evaluated when the `def` ran).
    Func(Arc<FuncDef>, Vec<Option<Value>>),
    /// A module (`import time`).
    Module(Module),
    /// A module's function (`from time import time`).
    ModuleFn(Module, String),
}

/// The names one frame bound with `def` and `import`.
pub(crate) type Bindings = BTreeMap<String, Binding>;

impl Binding {
    /// Estimated bytes the binding holds: a function's default values (they count toward
    /// `max_bytes` like variables while the binding lives).
    pub(crate) fn held(&self) -> i64 {
        match self {
            Binding::Func(_, defaults) => defaults.iter().flatten().map(held).sum(),
            Binding::Module(_) | Binding::ModuleFn(..) => 0,
        }
    }
}

/// Estimated bytes the bindings of a frame hold.
pub(crate) fn bindings_held(b: &Bindings) -> i64 {
    b.values().map(Binding::held).sum()
}

/// A script's top level: what its `def` and `import` statements bound and its variables
/// (the globals of the functions it defines).
#[derive(Clone, Copy)]
pub(crate) struct TopLevel<'a> {
    pub bindings: &'a Bindings,
    pub layers: &'a [&'a Map<String, Value>],
}

/// What a call can reach during one evaluation.
#[derive(Clone, Copy)]
pub(crate) struct Calls<'a> {
    /// The functions the host registered.
    pub host: &'a Functions,
    /// The bindings of the frame being run (none for a lone expression).
    pub frame: Option<&'a Bindings>,
    /// The script's top level, when the frame is a function's body.
    pub module: Option<TopLevel<'a>>,
}

impl<'a> Calls<'a> {
    /// The binding of `name`: the frame's, then the script's top level.
    pub(crate) fn binding(&self, name: &str) -> Option<&'a Binding> {
        self.frame
            .and_then(|b| b.get(name))
            .or_else(|| self.module.and_then(|m| m.bindings.get(name)))
    }

    /// The module `name` is bound to, if it is one.
    pub(crate) fn module_named(&self, name: &str) -> Option<Module> {
        match self.binding(name) {
            Some(Binding::Module(m)) => Some(*m),
            _ => None,
        }
    }
}

/// Calls `name` if a binding or a registered function has it; `None` when neither does
/// (the builtins are asked next).
pub(crate) fn call_bound(
    name: &str,
    args: Vec<Value>,
    kwargs: Vec<(String, Value)>,
    env: &mut Env<'_, '_>,
) -> Option<Result<Value, ExprError>> {
    if let Some(b) = env.calls.binding(name) {
        return Some(match b {
            Binding::Func(def, defaults) => call_defined(def, defaults, args, kwargs, env),
            Binding::ModuleFn(m, member) if kwargs.is_empty() => m.call(member, &args, env.budget),
            Binding::ModuleFn(m, member) => Err(ExprError::new(format!(
                "{}.{member}() takes no keyword arguments",
                m.name()
            ))),
            Binding::Module(m) => Err(ExprError::new(format!("'{}' is a module, not a function", m.name()))),
        });
    }
    let f = env.calls.host.get(name)?;
    Some(call_host(name, f, &args, &kwargs, env.budget))
}

/// Calls a function the host registered; its result is charged like a value built here.
fn call_host(
    name: &str,
    f: &HostFunction,
    args: &[Value],
    kwargs: &[(String, Value)],
    budget: &mut Budget,
) -> Result<Value, ExprError> {
    if !kwargs.is_empty() {
        return Err(ExprError::new(format!(
            "{name}() is a registered function: it takes positional arguments only"
        )));
    }
    budget.steps(1)?;
    let v = f(args).map_err(|m| ExprError::new(format!("{name}(): {m}")))?;
    let m = budget.copy(&v)?;
    budget.depth(m.depth)?;
    Ok(v)
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// The parameters' values of a call, in order, with Python's errors for a call that does
/// not fit the definition.
fn bind_args(
    def: &FuncDef,
    defaults: &[Option<Value>],
    args: Vec<Value>,
    kwargs: Vec<(String, Value)>,
    budget: &mut Budget,
) -> Result<Vec<Value>, ExprError> {
    let name = &def.name;
    let n = def.params.len();
    if args.len() > n {
        let required = defaults.iter().filter(|d| d.is_none()).count();
        let takes = if required == n {
            plural(n, "positional argument")
        } else {
            format!("from {required} to {}", plural(n, "positional argument"))
        };
        let given = args.len();
        let verb = if given == 1 { "was" } else { "were" };
        return Err(ExprError::new(format!(
            "{name}() takes {takes} but {given} {verb} given"
        )));
    }
    let mut slots: Vec<Option<Value>> = args.into_iter().map(Some).collect();
    slots.resize(n, None);
    for (k, v) in kwargs {
        match def.params.iter().position(|(p, _)| *p == k) {
            None => {
                return Err(ExprError::new(format!(
                    "{name}() got an unexpected keyword argument '{k}'"
                )))
            }
            Some(i) if slots[i].is_some() => {
                return Err(ExprError::new(format!(
                    "{name}() got multiple values for argument '{k}'"
                )))
            }
            Some(i) => slots[i] = Some(v),
        }
    }
    let mut missing = Vec::new();
    let mut out = Vec::with_capacity(n);
    for (i, slot) in slots.into_iter().enumerate() {
        match (slot, defaults.get(i).and_then(Option::as_ref)) {
            (Some(v), _) => out.push(v),
            (None, Some(d)) => {
                budget.copy(d)?;
                out.push(d.clone());
            }
            (None, None) => missing.push(format!("'{}'", def.params[i].0)),
        }
    }
    if !missing.is_empty() {
        let list = match missing.as_slice() {
            [one] => one.clone(),
            [init @ .., last] => format!("{} and {last}", init.join(", ")),
            [] => String::new(),
        };
        return Err(ExprError::new(format!(
            "{name}() missing {}: {list}",
            plural(missing.len(), "required positional argument")
        )));
    }
    Ok(out)
}

/// Runs a function the script defined; its value is what `return` gave (`None` without one).
fn call_defined(
    def: &Arc<FuncDef>,
    defaults: &[Option<Value>],
    args: Vec<Value>,
    kwargs: Vec<(String, Value)>,
    env: &mut Env<'_, '_>,
) -> Result<Value, ExprError> {
    let values = bind_args(def, defaults, args, kwargs, env.budget)?;
    let empty = Bindings::new();
    let top = env.calls.module.unwrap_or(TopLevel {
        bindings: env.calls.frame.unwrap_or(&empty),
        layers: env.layers,
    });
    let saved = env.budget.enter_call()?;
    let mut locals: Map<String, Value> = def.params.iter().map(|(p, _)| p.clone()).zip(values).collect();
    let budget = &mut *env.budget;
    let (host, dialect) = (env.calls.host, env.dialect);
    // what the frame's own `def`s hold is released with its locals when the call ends
    let mut frame_bindings = 0;
    let flow = grow_stack(|| {
        budget.settle(locals.values().map(held).sum())?;
        let mut frame = Exec {
            local: &mut locals,
            below: top.layers,
            dialect,
            budget: &mut *budget,
            host,
            bindings: Bindings::new(),
            module: Some(top),
        };
        let flow = frame.block(&def.body);
        frame_bindings = bindings_held(&frame.bindings);
        flow
    });
    budget.leave_call(saved, locals.values().map(held).sum::<i64>() + frame_bindings);
    let v = match flow? {
        Flow::Return(v) => v,
        Flow::Normal | Flow::Break | Flow::Continue => Value::Null,
    };
    budget.alloc(measure(&v).bytes)?;
    Ok(v)
}

/// The items of `value` for a tuple of `n` targets, with Python's errors when they do not fit.
pub(crate) fn unpack(value: Value, n: usize, budget: &mut Budget) -> Result<Vec<Value>, ExprError> {
    let items = match value {
        Value::Array(a) => a,
        v @ (Value::String(_) | Value::Object(_)) => iteration_items(v, budget)?,
        other => {
            let class = match &other {
                Value::Null => "NoneType",
                Value::Bool(_) => "bool",
                v if v.is_i64() || v.is_u64() => "int",
                Value::Number(_) => "float",
                v => type_name(v),
            };
            return Err(ExprError::new(format!("cannot unpack non-iterable {class} object")));
        }
    };
    match items.len() {
        len if len > n => Err(ExprError::new(format!("too many values to unpack (expected {n})"))),
        len if len < n => Err(ExprError::new(format!(
            "not enough values to unpack (expected {n}, got {len})"
        ))),
        _ => Ok(items),
    }
}
