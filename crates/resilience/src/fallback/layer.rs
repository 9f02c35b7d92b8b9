//! [`FallbackLayer`]: answers a failure with a configured value or function.

use opentelemetry::KeyValue;
use servicetask_core::layer::{AttemptResult, BoxFuture, FallbackValue, Layer, Next, TaskValue};
use servicetask_core::semconv::{self, event};
use servicetask_core::{ErrorClass, FallbackConfig, TaskContext};

use super::{FallbackFn, FallbackMatch};
use crate::telemetry::task_attr;

enum Answer<'a> {
    Value(&'a serde_json::Value),
    Function(&'a FallbackFn),
}

/// The outermost resilience layer: turns a failure into a fallback answer when one is
/// configured for its class (see the [module docs](crate::fallback)).
#[derive(Clone)]
pub struct FallbackLayer {
    values: FallbackConfig,
    functions: Vec<(FallbackMatch, FallbackFn)>,
}

impl std::fmt::Debug for FallbackLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FallbackLayer")
            .field("values", &self.values)
            .field("functions", &self.functions.iter().map(|(m, _)| *m).collect::<Vec<_>>())
            .finish()
    }
}

impl FallbackLayer {
    /// A layer answering with `values` and `functions`.
    pub fn new(values: FallbackConfig, functions: Vec<(FallbackMatch, FallbackFn)>) -> Self {
        FallbackLayer { values, functions }
    }

    /// Whether any fallback is configured.
    pub fn is_empty(&self) -> bool {
        self.values.values.is_empty() && self.functions.is_empty()
    }

    fn function(&self, m: FallbackMatch) -> Option<&FallbackFn> {
        self.functions.iter().find(|(k, _)| *k == m).map(|(_, f)| f)
    }

    fn answer_for(&self, class: ErrorClass) -> Option<Answer<'_>> {
        if let Some(f) = self.function(FallbackMatch::Class(class)) {
            return Some(Answer::Function(f));
        }
        if let Some(v) = self.values.values.get(class.as_str()) {
            return Some(Answer::Value(v));
        }
        if class == ErrorClass::Business {
            return None;
        }
        if let Some(f) = self.function(FallbackMatch::Any) {
            return Some(Answer::Function(f));
        }
        self.values.values.get("*").map(Answer::Value)
    }
}

impl Layer for FallbackLayer {
    fn call<'a>(&'a self, cx: &'a TaskContext, next: Next<'a>) -> BoxFuture<'a, AttemptResult> {
        Box::pin(async move {
            let err = match next.run(cx).await {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            let class = err.class();
            let message = err.message().to_string();
            let value = match self.answer_for(class) {
                None => return Err(err),
                Some(Answer::Value(v)) => FallbackValue(v.clone()),
                Some(Answer::Function(f)) => f(cx.clone(), err).await?,
            };
            report(cx, class, message);
            Ok(Box::new(value) as TaskValue)
        })
    }
}

fn report(cx: &TaskContext, class: ErrorClass, message: String) {
    let reason = KeyValue::new(semconv::SERVICETASK_FALLBACK_REASON, class.as_str());
    cx.stats()
        .fallback_used
        .store(true, std::sync::atomic::Ordering::Relaxed);
    cx.span().add_event(
        event::FALLBACK,
        vec![reason.clone(), KeyValue::new(semconv::EXCEPTION_MESSAGE, message)],
    );
    cx.telemetry().instruments().fallbacks.add(1, &[task_attr(cx), reason]);
}
