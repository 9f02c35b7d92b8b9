//! Functions the embedding application registers for expressions and scripts, as a
//! SpiffWorkflow user adds functions to its script engine's environment (its TimerCycleTest
//! registers `custom_function`). A registered name is a function of the language for both
//! `validate` and runs; it shadows a builtin of the same name, as Python globals do.

use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// A registered function: positional arguments in, a value or an error message out.
pub type HostFunction = dyn Fn(&[Value]) -> Result<Value, String> + Send + Sync;

/// The functions registered for expressions and scripts (empty by default). The engine takes
/// them as `EngineConfig::functions`; [`crate::validate_in`] and [`crate::parse_in`] know them.
///
/// ```
/// use servicetask_bpmn::expr::{EvalLimits, Functions, Script};
/// use serde_json::{json, Map, Value};
///
/// let mut functions = Functions::new();
/// functions.register("vat", |args: &[Value]| match args {
///     [amount] => amount.as_f64().map(|a| json!(a * 0.2)).ok_or("vat() takes a number".to_string()),
///     _ => Err(format!("vat() takes 1 argument ({} given)", args.len())),
/// });
/// let script = Script::parse("total = net + vat(net)").unwrap();
/// let mut vars = Map::new();
/// vars.insert("net".into(), json!(100.0));
/// script.run_in(&mut vars, &[], &EvalLimits::default(), &functions).unwrap();
/// assert_eq!(vars["total"], json!(120.0));
/// // without the registration, `validate` reports the call at its file:line:column
/// assert_eq!(script.called_functions(), ["vat"]);
/// ```
#[derive(Clone, Default)]
pub struct Functions {
    map: BTreeMap<String, Arc<HostFunction>>,
}

impl Functions {
    /// No registered function.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `f` under `name` (replacing a function registered before under it).
    pub fn register(
        &mut self,
        name: impl Into<String>,
        f: impl Fn(&[Value]) -> Result<Value, String> + Send + Sync + 'static,
    ) -> &mut Self {
        self.map.insert(name.into(), Arc::new(f));
        self
    }

    /// True when a function is registered under `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.map.contains_key(name)
    }

    /// The registered names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.map.keys().map(String::as_str)
    }

    pub(crate) fn get(&self, name: &str) -> Option<&HostFunction> {
        self.map.get(name).map(|f| &**f)
    }
}

/// Two registries are equal when they hold the same names bound to the same functions.
impl PartialEq for Functions {
    fn eq(&self, other: &Self) -> bool {
        self.map.len() == other.map.len()
            && self
                .map
                .iter()
                .zip(&other.map)
                .all(|((a, f), (b, g))| a == b && Arc::ptr_eq(f, g))
    }
}

impl Eq for Functions {}

impl fmt::Debug for Functions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.map.keys()).finish()
    }
}
