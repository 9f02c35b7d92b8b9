//! The breaker's telemetry, wrapped around the state machine from outside: a span event and a
//! counter per transition, and the state gauge (1 for the current state, 0 for each other).

use opentelemetry::KeyValue;
use servicetask_core::semconv::{self, event};
use servicetask_core::TaskContext;

use super::{BreakerState, CircuitBreaker, Transition};

impl CircuitBreaker {
    pub(super) fn report(&self, t: Transition, cx: Option<&TaskContext>) {
        let attrs = [
            KeyValue::new(semconv::SERVICETASK_BREAKER_NAME, self.name.to_string()),
            KeyValue::new(semconv::SERVICETASK_BREAKER_PREVIOUS_STATE, t.from.as_str()),
            KeyValue::new(semconv::SERVICETASK_BREAKER_STATE, t.to.as_str()),
        ];
        if let Some(cx) = cx {
            cx.span().add_event(event::BREAKER_TRANSITION, attrs.to_vec());
        }
        self.telemetry.instruments().breaker_transitions.add(1, &attrs);
        self.record_gauge(t.to);
    }

    pub(super) fn record_gauge(&self, current: BreakerState) {
        let gauge = &self.telemetry.instruments().breaker_state;
        for s in BreakerState::ALL {
            gauge.record(
                i64::from(s == current),
                &[
                    KeyValue::new(semconv::SERVICETASK_BREAKER_NAME, self.name.to_string()),
                    KeyValue::new(semconv::SERVICETASK_BREAKER_STATE, s.as_str()),
                ],
            );
        }
    }
}
