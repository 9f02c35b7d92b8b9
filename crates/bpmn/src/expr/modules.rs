//! The modules a script may `import`, implemented here rather than by Python: `time` (what
//! SpiffWorkflow's scripts import, e.g. `time.time()` to make a correlation key unique).
//! They reach no file, network, process or environment; a script importing any other module
//! is a parse error naming the module, so `validate` reports it before a run.

use super::limits::Budget;
use super::ops::num;
use super::ExprError;
use serde_json::Value;

/// A module scripts may import.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Module {
    /// Python's `time`: `time()` (seconds since the Unix epoch, a float), `time_ns()`.
    Time,
}

/// The names of the modules scripts may import, for error messages.
pub(crate) const AVAILABLE: &str = "time";

impl Module {
    /// The module `import name` loads, or an error naming it.
    pub(crate) fn named(name: &str) -> Result<Module, ExprError> {
        match name {
            "time" => Ok(Module::Time),
            other => Err(ExprError::new(format!(
                "module '{other}' cannot be imported: scripts run sandboxed and can import only {AVAILABLE}"
            ))),
        }
    }

    /// The module's name in scripts.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Module::Time => "time",
        }
    }

    /// True when `member` is a function of the module.
    pub(crate) fn has(self, member: &str) -> bool {
        match self {
            Module::Time => matches!(member, "time" | "time_ns"),
        }
    }

    /// Checks `from module import member` names a member the module has.
    pub(crate) fn member(self, member: &str) -> Result<(), ExprError> {
        if self.has(member) {
            Ok(())
        } else {
            Err(ExprError::new(format!(
                "cannot import name '{member}' from '{}'",
                self.name()
            )))
        }
    }

    /// Calls `module.member(args)`.
    pub(crate) fn call(self, member: &str, args: &[Value], budget: &mut Budget) -> Result<Value, ExprError> {
        budget.steps(1)?;
        match (self, member) {
            (Module::Time, "time" | "time_ns") => {
                if !args.is_empty() {
                    return Err(ExprError::new(format!(
                        "time.{member}() takes no arguments ({} given)",
                        args.len()
                    )));
                }
                let since = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default();
                if member == "time" {
                    num(since.as_secs_f64())
                } else {
                    Ok(Value::from(i64::try_from(since.as_nanos()).unwrap_or(i64::MAX)))
                }
            }
            (m, other) => Err(ExprError::new(format!(
                "module '{}' has no function '{other}'",
                m.name()
            ))),
        }
    }
}
