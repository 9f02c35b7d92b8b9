//! Element behaviour, one BPMN element kind per file, each an `impl Instance` block.

mod boundary_event;
mod call_activity;
mod collaboration;
mod conditional_event;
mod data_io;
mod end_event;
mod escalation_event;
mod event_gateway;
mod event_subprocess;
mod exclusive_gateway;
mod inclusive_gateway;
mod intermediate_event;
mod message_event;
mod multi_instance;
pub(crate) mod parallel_gateway;
mod script_task;
mod service_task;
mod signal_event;
mod standard_loop;
mod subprocess;
mod wait_task;
pub(crate) use boundary_event::Thrown;
pub(crate) use conditional_event::ConditionWatch;

/// Helpers for the unit tests at the bottom of each element file.
#[cfg(test)]
pub(crate) mod test_support {
    use crate::{Engine, EngineConfig, RunOutcome, StubHandler};
    use serde_json::{Map, Value};
    use std::sync::Arc;

    /// Runs process `p` of the definitions whose content is `body` with `vars` until it waits
    /// or ends; returns the outcome and the variables.
    pub(crate) fn run_definitions(body: &str, vars: Value) -> (RunOutcome, Map<String, Value>) {
        let xml =
            format!(r#"<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="t">{body}</definitions>"#);
        let (defs, diags) = servicetask_bpmn::parse("unit.bpmn", xml.as_bytes());
        assert!(diags.iter().all(|d| !d.is_error()), "{diags:?}");
        let mut inst = Engine::new(Arc::new(StubHandler))
            .start(&defs, "p", vars.as_object().cloned().unwrap_or_default())
            .unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let outcome = rt.block_on(inst.run());
        (outcome, inst.variables())
    }

    /// Wraps process-level XML in definitions, runs process `p` with `vars` (answering waiting
    /// tasks with nothing, at most `answers` times) on a virtual clock, and returns the outcome,
    /// the completed element ids (`[child]` marked) and the variables.
    pub(crate) fn run(process_xml: &str, vars: Value, answers: usize) -> (RunOutcome, Vec<String>, Map<String, Value>) {
        let xml = format!(
            r#"<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="t"><error id="err" errorCode="E"/><signal id="sig" name="go"/><process id="p">{process_xml}</process></definitions>"#
        );
        let (defs, diags) = servicetask_bpmn::parse("unit.bpmn", xml.as_bytes());
        assert!(diags.iter().all(|d| !d.is_error()), "{diags:?}");
        let engine = Engine::builder(Arc::new(StubHandler))
            .config(EngineConfig {
                max_steps: 10_000,
                ..EngineConfig::default()
            })
            .clock(Arc::new(crate::VirtualClock::new()))
            .build();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        rt.block_on(async {
            let mut inst = engine
                .start(&defs, "p", vars.as_object().cloned().unwrap_or_default())
                .unwrap();
            let mut outcome = inst.run().await;
            for _ in 0..answers {
                let RunOutcome::Waiting { tasks, .. } = &outcome else {
                    break;
                };
                let Some(t) = tasks.first() else { break };
                inst.complete_task(&t.token_id.to_string(), Map::new()).unwrap();
                outcome = inst.run().await;
            }
            let ids = inst
                .completed()
                .iter()
                .map(|c| {
                    if c.mi_child {
                        format!("{} [child]", c.element_id)
                    } else {
                        c.element_id.to_string()
                    }
                })
                .collect();
            (outcome, ids, inst.variables())
        })
    }
}
