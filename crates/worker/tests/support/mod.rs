//! Shared by the worker tests: the process of the crash test (3 service tasks, a timer, a user
//! task) and a handler that records every call's idempotency key.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use servicetask_engine::{ServiceCall, ServiceFuture, ServiceResult, TaskHandler};

/// start -> a -> b -> timer (1 s) -> c -> review (user task) -> end.
pub const PROCESS: &str = r#"<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"><process id="p" isExecutable="true">
  <startEvent id="s"/><sequenceFlow id="f1" sourceRef="s" targetRef="a"/>
  <serviceTask id="a" implementation="step"/><sequenceFlow id="f2" sourceRef="a" targetRef="b"/>
  <serviceTask id="b" implementation="step"/><sequenceFlow id="f3" sourceRef="b" targetRef="w"/>
  <intermediateCatchEvent id="w"><timerEventDefinition><timeDuration>PT1S</timeDuration></timerEventDefinition></intermediateCatchEvent>
  <sequenceFlow id="f4" sourceRef="w" targetRef="c"/>
  <serviceTask id="c" implementation="step"/><sequenceFlow id="f5" sourceRef="c" targetRef="review"/>
  <userTask id="review"/><sequenceFlow id="f6" sourceRef="review" targetRef="e"/>
  <endEvent id="e"/></process></definitions>"#;

/// Records calls; fails the first `fail_first` calls of each key with a retry after 200 ms.
#[derive(Default)]
pub struct Recorder {
    /// Every call's idempotency key, in call order.
    pub keys: Mutex<Vec<String>>,
    /// Calls of each key that fail before one completes.
    pub fail_first: usize,
}

impl TaskHandler for Recorder {
    fn call(&self, call: ServiceCall) -> ServiceFuture {
        let key = call.idempotency_key.as_deref().unwrap_or("none").to_string();
        let seen = {
            let mut keys = self.keys.lock().unwrap();
            let n = keys.iter().filter(|k| **k == key).count();
            keys.push(key.clone());
            n
        };
        let fail = seen < self.fail_first;
        Box::pin(async move {
            if fail {
                ServiceResult::Failed {
                    message: "transient".into(),
                    error_class: "network".into(),
                    retries_left: 3,
                    retry_backoff: Some(std::time::Duration::from_millis(200)),
                }
            } else {
                let mut out = serde_json::Map::new();
                out.insert(format!("done_{}", call.element_id), serde_json::Value::Bool(true));
                ServiceResult::Complete(out)
            }
        })
    }
}

/// A recorder that fails the first `fail_first` calls of each key.
pub fn recorder(fail_first: usize) -> Arc<Recorder> {
    Arc::new(Recorder {
        fail_first,
        ..Recorder::default()
    })
}
