//! Scripts: parsed once ([`Script::parse`]), run many times over layers of variables within
//! one [`EvalLimits`] budget per run.

use super::ast::{self, Block};
use super::blocks::{parse_script, Cx};
use super::limits::{Budget, EvalLimits};
use super::registry::Functions;
use super::{exec, push_once, Dialect, ExprError};
use serde_json::{Map, Value};

/// A parsed script: Python-style statements, one per line, with indented `if`/`elif`/`else`,
/// `for`, `while` blocks.
#[derive(Debug, Clone, PartialEq)]
pub struct Script {
    stmts: Block,
    dialect: Dialect,
}

impl Script {
    /// Parses a script; errors name the 1-based line of the script.
    pub fn parse(src: &str) -> Result<Self, ExprError> {
        Self::parse_with(src, &EvalLimits::default())
    }

    /// Parses a script whose expressions are no deeper than `limits.max_depth`.
    pub fn parse_with(src: &str, limits: &EvalLimits) -> Result<Self, ExprError> {
        let (dialect, text) = match src.trim_start().strip_prefix('=') {
            Some(rest) => (Dialect::Feel, rest),
            None => (Dialect::Python, src),
        };
        let cx = Cx {
            dialect,
            max_depth: limits.max_depth,
            in_function: false,
        };
        let stmts = parse_script(text, cx)?;
        Ok(Script { stmts, dialect })
    }

    /// Runs the script, changing `vars` in place. On error, the statements before the failing
    /// one have taken effect.
    pub fn run(&self, vars: &mut Map<String, Value>) -> Result<(), ExprError> {
        self.run_layered(vars, &[])
    }

    /// Runs the script with reads seeing `local` then `below`, and writes going to `local`.
    pub fn run_layered(&self, local: &mut Map<String, Value>, below: &[&Map<String, Value>]) -> Result<(), ExprError> {
        self.run_with(local, below, &EvalLimits::default())
    }

    /// Runs the script as [`Script::run_layered`] does, within `limits`: one step and memory
    /// budget for the whole run.
    pub fn run_with(
        &self,
        local: &mut Map<String, Value>,
        below: &[&Map<String, Value>],
        limits: &EvalLimits,
    ) -> Result<(), ExprError> {
        self.run_in(local, below, limits, &Functions::new())
    }

    /// Runs the script as [`Script::run_with`] does, with the host's registered `functions`
    /// callable. The functions the script defines and the modules it imports are gone when
    /// it ends: only variables are written to `local`.
    pub fn run_in(
        &self,
        local: &mut Map<String, Value>,
        below: &[&Map<String, Value>],
        limits: &EvalLimits,
        functions: &Functions,
    ) -> Result<(), ExprError> {
        let mut budget = Budget::new(*limits);
        let mut exec = exec::Exec {
            local,
            below,
            dialect: self.dialect,
            budget: &mut budget,
            host: functions,
            bindings: Default::default(),
            module: None,
        };
        exec.block(&self.stmts).map(|_| ())
    }

    /// The names of the functions the script calls (not methods) and does not define itself
    /// (with `def` or `from ... import`), in source order, once each.
    pub fn called_functions(&self) -> Vec<String> {
        let mut defined = Vec::new();
        ast::block_defines(&self.stmts, &mut |name| push_once(&mut defined, name));
        let mut out = Vec::new();
        ast::block_calls(&self.stmts, &mut |name| {
            if !defined.iter().any(|d| d == name) {
                push_once(&mut out, name)
            }
        });
        out
    }
}

/// Parses and runs a script over `vars`.
pub fn run_script(src: &str, vars: &mut Map<String, Value>) -> Result<(), ExprError> {
    Script::parse(src)?.run(vars)
}
