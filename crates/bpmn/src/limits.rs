//! What a model may ask of the engine: the expression budget, the largest multi-instance
//! batch, how deep subprocesses nest and how large a file may be. The engine enforces them at run time; `validate` checks the literal values against
//! the same numbers, so a run never fails for a reason `validate` could have seen.

use crate::expr::EvalLimits;
use serde_json::Value;

/// Limits of one engine (or one `validate`) over the models it reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The budget of every expression and script evaluation.
    pub eval: EvalLimits,
    /// Instances one multi-instance activity may start: its `loopCardinality`, or the size
    /// of its input collection. Default 100,000.
    pub max_instances: u64,
    /// Subprocesses an element may sit in, one inside the other. Default
    /// [`crate::MAX_NESTING`] (64); deeper containers are reported at their line and column,
    /// and not read.
    pub max_nesting: usize,
    /// XML nodes (elements, attributes, text) one file may hold. Default 2,000,000.
    pub max_xml_nodes: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            eval: EvalLimits::default(),
            max_instances: 100_000,
            max_nesting: crate::validate::MAX_NESTING,
            max_xml_nodes: 2_000_000,
        }
    }
}

impl Limits {
    /// The number of instances a `loopCardinality` value asks for: a whole, non-negative
    /// number no larger than `max_instances`. The error says which rule the value breaks.
    pub fn instance_count(&self, v: &Value) -> Result<usize, String> {
        let n = match v {
            Value::Number(n) => match (n.as_u64(), n.as_f64()) {
                (Some(n), _) => n,
                (None, Some(f)) if f >= 0.0 && f.fract() == 0.0 => {
                    // a whole float beyond u64 is certainly over the limit
                    if f >= u64::MAX as f64 {
                        u64::MAX
                    } else {
                        f as u64
                    }
                }
                _ => return Err(format!("expected a whole, non-negative number, got {v}")),
            },
            other => return Err(format!("expected a whole, non-negative number, got {other}")),
        };
        self.check_instances(n)
    }

    /// Checks a batch of `n` instances (a cardinality or a collection's size) is allowed.
    pub fn check_instances(&self, n: u64) -> Result<usize, String> {
        match usize::try_from(n) {
            Ok(n) if n as u64 <= self.max_instances => Ok(n),
            _ => Err(format!(
                "{n} instances exceed the limit max_instances = {} (raise Limits::max_instances if this is intended)",
                self.max_instances
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cardinalities_are_whole_bounded_numbers() {
        let l = Limits::default();
        assert_eq!(l.instance_count(&json!(3)), Ok(3));
        assert_eq!(l.instance_count(&json!(3.0)), Ok(3));
        assert_eq!(l.instance_count(&json!(100_000)), Ok(100_000));
        for bad in [
            json!(-1),
            json!(2.5),
            json!("3"),
            json!(null),
            json!(1e12),
            json!(1e20),
            json!(100_001),
        ] {
            assert!(l.instance_count(&bad).is_err(), "{bad}");
        }
        assert!(l
            .instance_count(&json!(1e12))
            .unwrap_err()
            .contains("max_instances = 100000"));
    }
}
