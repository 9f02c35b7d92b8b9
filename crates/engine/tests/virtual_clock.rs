//! The virtual clock: timers elapse at once, in due order, deterministically, so timer paths
//! are testable without waiting; while a service call runs, virtual time stands still.
//! (These tests run on a normal tokio runtime: no paused tokio clock.)

use serde_json::{json, Map, Value};
use servicetask_engine::{
    Clock, Engine, Instance, RunOutcome, ServiceCall, ServiceFuture, ServiceResult, StubHandler, TaskHandler,
    VirtualClock,
};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

fn defs(xml: &str) -> servicetask_bpmn::Definitions {
    let xml = format!(
        r#"<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="vc"><message id="m" name="paid"/><process id="p">{xml}</process></definitions>"#
    );
    let (d, diags) = servicetask_bpmn::parse("vc.bpmn", xml.as_bytes());
    assert!(diags.iter().all(|d| !d.is_error()), "{diags:?}");
    d
}

fn data(name: &str) -> servicetask_bpmn::Definitions {
    servicetask_bpmn::load_file(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name)).unwrap()
}

fn ids(inst: &Instance) -> Vec<String> {
    inst.completed().iter().map(|c| c.element_id.to_string()).collect()
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
}

#[test]
fn a_month_long_timer_elapses_at_once() {
    let clock = VirtualClock::new();
    let engine = Engine::builder(Arc::new(StubHandler))
        .clock(Arc::new(clock.clone()))
        .build();
    let d = defs(
        r#"<startEvent id="s"/><sequenceFlow id="a" sourceRef="s" targetRef="w"/>
        <intermediateCatchEvent id="w"><timerEventDefinition><timeDuration>P30D</timeDuration></timerEventDefinition></intermediateCatchEvent>
        <sequenceFlow id="b" sourceRef="w" targetRef="e"/><endEvent id="e"/>"#,
    );
    let mut inst = engine.start(&d, "p", Map::new()).unwrap();
    assert_eq!(rt().block_on(inst.run()), RunOutcome::Completed);
    assert_eq!(ids(&inst), ["s", "w", "e"]);
    assert_eq!(clock.now(), Duration::from_secs(30 * 86_400));
}

#[test]
fn parallel_timers_fire_in_due_order_every_time() {
    for _ in 0..20 {
        let engine = Engine::builder(Arc::new(StubHandler))
            .clock(Arc::new(VirtualClock::new()))
            .build();
        // the longer timer comes first in the document and in the split
        let d = defs(
            r#"<startEvent id="s"/><sequenceFlow id="a" sourceRef="s" targetRef="g"/><parallelGateway id="g"/>
            <sequenceFlow id="b" sourceRef="g" targetRef="late"/><sequenceFlow id="c" sourceRef="g" targetRef="early"/>
            <intermediateCatchEvent id="late"><timerEventDefinition><timeDuration>PT2H</timeDuration></timerEventDefinition></intermediateCatchEvent>
            <intermediateCatchEvent id="early"><timerEventDefinition><timeDuration>PT1H</timeDuration></timerEventDefinition></intermediateCatchEvent>
            <sequenceFlow id="d" sourceRef="late" targetRef="j"/><sequenceFlow id="e" sourceRef="early" targetRef="j"/>
            <parallelGateway id="j"/><sequenceFlow id="f" sourceRef="j" targetRef="end"/><endEvent id="end"/>"#,
        );
        let mut inst = engine.start(&d, "p", Map::new()).unwrap();
        assert_eq!(rt().block_on(inst.run()), RunOutcome::Completed);
        assert_eq!(ids(&inst), ["s", "g", "early", "late", "j", "end"]);
    }
}

/// An event-based gateway whose message never comes: the timer wins once time may pass.
#[test]
fn an_event_based_gateway_timer_wins_when_nothing_else_comes() {
    let engine = Engine::builder(Arc::new(StubHandler))
        .clock(Arc::new(VirtualClock::new()))
        .build();
    let mut inst = engine.start(&data("event_gateway.bpmn"), "race", Map::new()).unwrap();
    let outcome = rt().block_on(async {
        let first = inst.run().await;
        // the message catch waits: run() hands back with the timer's time left
        let RunOutcome::Waiting { next_timer, .. } = &first else {
            panic!("{first:?}")
        };
        assert_eq!(*next_timer, Some(Duration::from_secs(30)));
        inst.run_through_timers(100).await
    });
    assert_eq!(outcome, RunOutcome::Completed);
    assert_eq!(ids(&inst).last().map(String::as_str), Some("end_late"));
    assert!(!ids(&inst).contains(&"paid".to_string()));
}

/// Boundary timers on a waiting user task fire in due order: two reminders (cycle), then the
/// interrupting timeout.
#[test]
fn boundary_timers_on_a_waiting_task_fire_in_due_order() {
    let clock = VirtualClock::new();
    let engine = Engine::builder(Arc::new(StubHandler))
        .clock(Arc::new(clock.clone()))
        .build();
    let mut inst = engine
        .start(
            &data("timers.bpmn"),
            "timers",
            json!({"reminders": 0}).as_object().cloned().unwrap(),
        )
        .unwrap();
    assert_eq!(rt().block_on(inst.run_through_timers(100)), RunOutcome::Completed);
    assert_eq!(inst.variables().get("reminders"), Some(&json!(2)));
    assert_eq!(inst.variables().get("escalated"), Some(&json!(true)));
    assert_eq!(clock.now(), Duration::from_secs(65));
    let done = ids(&inst);
    assert!(!done.contains(&"review".to_string()), "{done:?}");
}

/// A handler that takes several scheduler turns to answer.
struct Slow;

impl TaskHandler for Slow {
    fn call(&self, _call: ServiceCall) -> ServiceFuture {
        Box::pin(async {
            for _ in 0..50 {
                tokio::task::yield_now().await;
            }
            ServiceResult::Complete(Map::from_iter([("answered".to_string(), Value::Bool(true))]))
        })
    }
}

/// Virtual time does not pass while a call is in flight: a boundary timer does not beat a
/// call that answers.
#[test]
fn a_boundary_timer_does_not_beat_a_call_in_flight() {
    let clock = VirtualClock::new();
    let engine = Engine::builder(Arc::new(Slow)).clock(Arc::new(clock.clone())).build();
    let d = defs(
        r#"<startEvent id="s"/><sequenceFlow id="a" sourceRef="s" targetRef="call"/><serviceTask id="call"/>
        <boundaryEvent id="timeout" attachedToRef="call"><timerEventDefinition><timeDuration>PT1S</timeDuration></timerEventDefinition></boundaryEvent>
        <sequenceFlow id="b" sourceRef="call" targetRef="e"/><endEvent id="e"/>
        <sequenceFlow id="c" sourceRef="timeout" targetRef="late"/><endEvent id="late"/>"#,
    );
    let mut inst = engine.start(&d, "p", Map::new()).unwrap();
    assert_eq!(rt().block_on(inst.run()), RunOutcome::Completed);
    assert_eq!(ids(&inst), ["s", "call", "e"]);
    assert_eq!(inst.variables().get("answered"), Some(&json!(true)));
    assert_eq!(clock.now(), Duration::ZERO);
}
