//! The instance-wide variable budget (`EngineConfig::max_variable_bytes`, issue 10): a script
//! that a loop in the model runs again and again, each pass within its own evaluation budget,
//! grows the instance's variables until they are over the budget; the instance then fails at
//! the script's element (file:line:column) with an error naming the largest variables and
//! their sizes, never their values, within bounded time and memory. Data from outside (start
//! variables, a completed task) that would take the variables over the budget is refused the
//! same way, and the instance is left as it was.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};
use servicetask_engine::*;

/// A recognisable value: no error may quote it.
const CANARY: &str = "CaNaRyBuDgEt";

fn obj(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

/// start -> script `t` -> gateway: back to `t` while `more`, else -> a user task `u` -> end
fn looping(script: &str) -> String {
    format!(
        r#"<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"><process id="p">
  <startEvent id="s"/><sequenceFlow id="f0" sourceRef="s" targetRef="t"/>
  <scriptTask id="t"><script>{script}</script></scriptTask>
  <sequenceFlow id="f1" sourceRef="t" targetRef="g"/>
  <exclusiveGateway id="g" default="out"/>
  <sequenceFlow id="again" sourceRef="g" targetRef="t"><conditionExpression>more</conditionExpression></sequenceFlow>
  <sequenceFlow id="out" sourceRef="g" targetRef="u"/>
  <userTask id="u"/><sequenceFlow id="f2" sourceRef="u" targetRef="e"/><endEvent id="e"/></process></definitions>"#
    )
}

fn engine(max_variable_bytes: u64) -> Engine {
    let handler: Arc<dyn TaskHandler> =
        Arc::new(|_call: ServiceCall| -> ServiceFuture { Box::pin(async { ServiceResult::Complete(Map::new()) }) });
    Engine::builder(handler)
        .config(EngineConfig {
            max_variable_bytes,
            ..EngineConfig::default()
        })
        .build()
}

fn defs(xml: &str) -> servicetask_bpmn::Definitions {
    let (defs, diags) = servicetask_bpmn::parse("budget.bpmn", xml.as_bytes());
    assert!(diags.iter().all(|d| !d.is_error()), "{diags:?}");
    defs
}

/// The peak resident memory of this process (VmHWM), in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Runs the instance; the error it failed with (it must fail).
async fn failure(inst: &mut Instance) -> String {
    match inst.run().await {
        RunOutcome::Failed(e) => e.to_string(),
        other => panic!("expected a failure, got {other:?}"),
    }
}

fn assert_names_not_values(e: &str, variable: &str) {
    assert!(e.contains("max_variable_bytes"), "{e}");
    assert!(
        e.contains(&format!("{variable} (")),
        "the variable and its size are named: {e}"
    );
    assert!(!e.contains(CANARY) && !e.contains("xxxxxxxx"), "a value is quoted: {e}");
}

#[tokio::test]
async fn a_script_loop_that_appends_a_string_each_pass_fails_at_its_element_at_the_default_budget() {
    // each pass appends 4 MB: well within one evaluation's own budget (64 MiB), but without
    // the instance's budget the loop would go on until the engine's million steps
    let script = format!("parts.append('{CANARY}' + 'x' * 4000000)");
    let d = defs(&looping(&script));
    let engine = engine(budget::DEFAULT_MAX_VARIABLE_BYTES);
    let began = Instant::now();
    let mut inst = engine.start(&d, "p", obj(json!({"parts": [], "more": true}))).unwrap();
    let e = failure(&mut inst).await;
    let took = began.elapsed();
    assert_names_not_values(&e, "parts");
    assert!(
        e.contains("budget.bpmn:3:") && e.contains("'t'"),
        "the element's file:line:column: {e}"
    );
    assert!(e.contains("64.0 MiB"), "{e}");
    // 17 passes of 4 MB: the variables never held much more than the budget
    let passes = inst.completed().iter().filter(|c| &*c.element_id == "t").count();
    assert!((14..=17).contains(&passes), "{passes} passes");
    assert!(took < Duration::from_secs(60), "{took:?}");
    let peak = peak_rss();
    assert!(peak < 1 << 30, "peak memory {} MiB", peak >> 20);
    eprintln!(
        "the loop stopped after {passes} passes in {took:?}; peak memory {} MiB",
        peak >> 20
    );
}

#[tokio::test]
async fn a_string_concatenated_each_pass_stops_at_a_configured_budget() {
    // `log = log + chunk`: one string, each pass's copy within the evaluation's own limits
    let d = defs(&looping("log = log + chunk"));
    let engine = engine(1 << 20);
    let chunk = format!("{CANARY}{}", "x".repeat(100_000));
    let mut inst = engine
        .start(&d, "p", obj(json!({"log": "", "chunk": chunk, "more": true})))
        .unwrap();
    let e = failure(&mut inst).await;
    assert_names_not_values(&e, "log");
    assert!(
        e.contains("max_variable_bytes = 1.0 MiB") && e.contains("chunk ("),
        "{e}"
    );
    let passes = inst.completed().iter().filter(|c| &*c.element_id == "t").count();
    assert!((8..=11).contains(&passes), "{passes} passes");
}

#[tokio::test]
async fn data_from_outside_over_the_budget_is_refused_and_the_instance_left_as_it_was() {
    let d = defs(&looping("n = 1"));
    let engine = engine(1 << 20);
    let big = format!("{CANARY}{}", "x".repeat(2 << 20));

    let e = engine
        .start(&d, "p", obj(json!({"blob": big, "more": false})))
        .unwrap_err()
        .to_string();
    assert_names_not_values(&e, "blob");
    assert!(e.contains("start variables") && e.contains("budget.bpmn:"), "{e}");

    let mut inst = engine.start(&d, "p", obj(json!({"more": false}))).unwrap();
    assert!(
        matches!(inst.run().await, RunOutcome::Waiting { .. }),
        "at the user task"
    );
    let key = inst.waiting_tasks()[0].element_id.clone();
    let e = inst
        .complete_task(&key, obj(json!({"blob": big})))
        .unwrap_err()
        .to_string();
    assert_names_not_values(&e, "blob");
    assert!(e.contains("'u'"), "the task is named: {e}");
    assert!(!inst.variables().contains_key("blob"), "nothing was set");
    inst.complete_task(&key, obj(json!({"small": 1}))).unwrap();
    assert!(matches!(inst.run().await, RunOutcome::Completed));
}

#[tokio::test]
async fn multi_instance_outputs_count_toward_the_budget() {
    // 100 instances, each setting a 50 KB output: 5 MB collected in the activity's token
    let xml = format!(
        r#"<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"><process id="p">
  <startEvent id="s"/><sequenceFlow id="f0" sourceRef="s" targetRef="t"/>
  <scriptTask id="t"><multiInstanceLoopCharacteristics isSequential="true"><loopCardinality>100</loopCardinality>
    <loopDataOutputRef>outs</loopDataOutputRef><outputDataItem id="out"/></multiInstanceLoopCharacteristics>
    <script>out = '{CANARY}' + 'x' * 50000</script></scriptTask>
  <sequenceFlow id="f1" sourceRef="t" targetRef="e"/><endEvent id="e"/></process></definitions>"#
    );
    let d = defs(&xml);
    let mut inst = engine(1 << 20).start(&d, "p", Map::new()).unwrap();
    let e = failure(&mut inst).await;
    assert!(e.contains("the outputs of 't' ("), "{e}");
    assert!(e.contains("max_variable_bytes") && !e.contains(CANARY), "{e}");
    let passes = inst.completed().iter().filter(|c| &*c.element_id == "t").count();
    assert!(
        passes < 30,
        "stopped near 1 MiB of outputs, not after all 100: {passes}"
    );

    // within the budget, the same activity completes
    let mut inst = engine(16 << 20).start(&d, "p", Map::new()).unwrap();
    assert!(matches!(inst.run().await, RunOutcome::Completed));
    assert_eq!(inst.variables()["outs"].as_array().map(Vec::len), Some(100));
}

#[tokio::test]
async fn counting_does_not_walk_a_large_collection_once_per_instance() {
    // 20,000 instances over a 20,000-item collection, each setting an output: counting every
    // variable at each instance would walk 20,000 x 40,000 values; the tally counts growth
    let n = 20_000;
    let xml = r#"<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"><process id="p">
  <startEvent id="s"/><sequenceFlow id="f0" sourceRef="s" targetRef="t"/>
  <scriptTask id="t"><multiInstanceLoopCharacteristics isSequential="true"><loopDataInputRef>items</loopDataInputRef>
    <inputDataItem id="item"/><loopDataOutputRef>outs</loopDataOutputRef><outputDataItem id="out"/></multiInstanceLoopCharacteristics>
    <script>out = item + 1</script></scriptTask>
  <sequenceFlow id="f1" sourceRef="t" targetRef="e"/><endEvent id="e"/></process></definitions>"#;
    let d = defs(xml);
    let items: Vec<u64> = (0..n).collect();
    let began = Instant::now();
    let mut inst = engine(budget::DEFAULT_MAX_VARIABLE_BYTES)
        .start(&d, "p", obj(json!({ "items": items })))
        .unwrap();
    assert!(matches!(inst.run().await, RunOutcome::Completed));
    let took = began.elapsed();
    assert_eq!(inst.variables()["outs"][n as usize - 1], json!(n));
    eprintln!("{n} instances over a {n}-item collection: {took:?}");
    assert!(took < Duration::from_secs(60), "{took:?}");
}

#[tokio::test]
async fn a_signal_or_a_message_over_the_budget_is_refused() {
    let xml = r#"<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"><signal id="go" name="go"/><message id="m" name="m"/>
  <process id="p"><startEvent id="s"/><sequenceFlow id="f0" sourceRef="s" targetRef="g"/>
  <parallelGateway id="g"/><sequenceFlow id="f1" sourceRef="g" targetRef="c1"/><sequenceFlow id="f2" sourceRef="g" targetRef="c2"/>
  <intermediateCatchEvent id="c1"><signalEventDefinition signalRef="go"/></intermediateCatchEvent>
  <intermediateCatchEvent id="c2"><messageEventDefinition messageRef="m"/></intermediateCatchEvent>
  <sequenceFlow id="f3" sourceRef="c1" targetRef="e1"/><sequenceFlow id="f4" sourceRef="c2" targetRef="e2"/>
  <endEvent id="e1"/><endEvent id="e2"/></process></definitions>"#;
    let d = defs(xml);
    let mut inst = engine(1 << 20).start(&d, "p", Map::new()).unwrap();
    assert!(matches!(inst.run().await, RunOutcome::Waiting { .. }));
    let big = obj(json!({ "blob": format!("{CANARY}{}", "x".repeat(2 << 20)) }));
    let e = inst.send_signal("go", big.clone()).unwrap_err().to_string();
    assert_names_not_values(&e, "blob");
    assert!(e.contains("signal 'go'"), "{e}");
    let e = inst.send_message("m", big).unwrap_err().to_string();
    assert_names_not_values(&e, "blob");
    assert!(e.contains("message 'm'"), "{e}");
    assert_eq!(*inst.status(), InstanceStatus::Running, "refused, not failed");
    assert_eq!(inst.send_signal("go", obj(json!({"small": 1}))).unwrap(), 1);
    assert_eq!(inst.send_message("m", obj(json!({"small": 2}))).unwrap(), 1);
    assert!(matches!(inst.run().await, RunOutcome::Completed));
}
