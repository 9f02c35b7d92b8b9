//! Telemetry helpers shared by the layers: rejection reasons and the attributes every
//! resilience metric carries. The names themselves live in `servicetask_core::semconv`.

use opentelemetry::KeyValue;
use servicetask_core::semconv::{self, event};
use servicetask_core::TaskContext;

/// Why a call was rejected without running (`servicetask.rejection.reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RejectionReason {
    /// A circuit breaker was open (or half-open with every probe out).
    BreakerOpen,
    /// A bulkhead had no free slot within its wait.
    BulkheadFull,
    /// The retry budget was spent.
    BudgetExhausted,
}

impl RejectionReason {
    /// The attribute value: `breaker_open`, `bulkhead_full` or `budget_exhausted`.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectionReason::BreakerOpen => "breaker_open",
            RejectionReason::BulkheadFull => "bulkhead_full",
            RejectionReason::BudgetExhausted => "budget_exhausted",
        }
    }
}

/// `servicetask.name = <task>`.
pub(crate) fn task_attr(cx: &TaskContext) -> KeyValue {
    KeyValue::new(semconv::SERVICETASK_NAME, cx.task_name().to_string())
}

/// Records a rejection: a span event on the execution span and the rejections counter.
/// `scope` names what rejected (the breaker key or the bulkhead key).
pub(crate) fn record_rejection(cx: &TaskContext, reason: RejectionReason, scope: Option<&str>) {
    let reason_kv = KeyValue::new(semconv::SERVICETASK_REJECTION_REASON, reason.as_str());
    let mut event_attrs = vec![reason_kv.clone()];
    if let (RejectionReason::BreakerOpen, Some(name)) = (reason, scope) {
        event_attrs.push(KeyValue::new(semconv::SERVICETASK_BREAKER_NAME, name.to_string()));
    }
    cx.span().add_event(event::REJECTION, event_attrs);
    cx.telemetry()
        .instruments()
        .rejections
        .add(1, &[task_attr(cx), reason_kv]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_names_are_pinned() {
        assert_eq!(RejectionReason::BreakerOpen.as_str(), "breaker_open");
        assert_eq!(RejectionReason::BulkheadFull.as_str(), "bulkhead_full");
        assert_eq!(RejectionReason::BudgetExhausted.as_str(), "budget_exhausted");
    }
}
