//! Regression tests for issue 10's crash classes as the engine meets them: overflowing
//! arithmetic from process variables, deep expressions, huge multi-instance cardinalities,
//! growing strings and nested loops in script tasks. Each run ends in a clear error naming its
//! element and the limit, on the default test thread (2 MiB of stack).

use serde_json::{json, Map, Value};
use servicetask_bpmn::expr::EvalLimits;
use servicetask_bpmn::Limits;
use servicetask_engine::*;
use std::sync::Arc;

fn obj(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// start -> gateway (condition `cond` to `yes`, default to `no`) -> end
fn gateway_model(cond: &str) -> String {
    format!(
        r#"<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"><process id="p">
  <startEvent id="s"/><sequenceFlow id="f0" sourceRef="s" targetRef="g"/>
  <exclusiveGateway id="g" default="fno"/>
  <sequenceFlow id="fyes" sourceRef="g" targetRef="yes"><conditionExpression>{}</conditionExpression></sequenceFlow>
  <sequenceFlow id="fno" sourceRef="g" targetRef="no"/>
  <endEvent id="yes"/><endEvent id="no"/></process></definitions>"#,
        xml_escape(cond)
    )
}

/// start -> script task (optionally multi-instance with `cardinality`) -> end
fn script_model(script: &str, cardinality: Option<&str>) -> String {
    let mi = cardinality
        .map(|c| {
            format!("<multiInstanceLoopCharacteristics><loopCardinality>{c}</loopCardinality></multiInstanceLoopCharacteristics>")
        })
        .unwrap_or_default();
    format!(
        r#"<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"><process id="p">
  <startEvent id="s"/><sequenceFlow id="f0" sourceRef="s" targetRef="t"/>
  <scriptTask id="t"><script>{}</script>{mi}</scriptTask>
  <sequenceFlow id="f1" sourceRef="t" targetRef="e"/><endEvent id="e"/></process></definitions>"#,
        xml_escape(script)
    )
}

fn engine(limits: Limits) -> Engine {
    let handler: Arc<dyn TaskHandler> =
        Arc::new(|_call: ServiceCall| -> ServiceFuture { Box::pin(async { ServiceResult::Complete(Map::new()) }) });
    Engine::builder(handler)
        .config(EngineConfig {
            limits,
            ..EngineConfig::default()
        })
        .build()
}

/// Runs process `p` of `xml`: `Ok(ids of the end events reached)` or `Err(the error text)`.
async fn run(xml: &str, vars: Value, limits: Limits) -> Result<Vec<String>, String> {
    let (defs, _) = servicetask_bpmn::parse("limits.bpmn", xml.as_bytes());
    let engine = engine(limits);
    let mut inst = engine.start(&defs, "p", obj(vars)).map_err(|e| e.to_string())?;
    match inst.run().await {
        RunOutcome::Completed => Ok(inst
            .completed()
            .iter()
            .map(|c| c.element_id.to_string())
            .filter(|id| id == "yes" || id == "no" || id == "e")
            .collect()),
        RunOutcome::Failed(e) => Err(e.to_string()),
        other => Err(format!("unexpected outcome {other:?}")),
    }
}

#[tokio::test]
async fn overflowing_conditions_from_variables_fail_cleanly() {
    let vars = json!({"amount": i64::MIN, "divisor": -1});
    let ok = run(&gateway_model("amount % divisor == 0"), vars.clone(), Limits::default()).await;
    assert_eq!(ok, Ok(vec!["yes".to_string()]));
    let e = run(
        &gateway_model("amount // divisor == 0"),
        vars.clone(),
        Limits::default(),
    )
    .await
    .unwrap_err();
    assert!(e.contains("integer overflow") && e.contains("fyes"), "{e}");
    let e = run(&gateway_model("-amount > 0"), vars, Limits::default())
        .await
        .unwrap_err();
    assert!(e.contains("integer overflow"), "{e}");
}

#[tokio::test]
async fn a_20000_term_condition_is_rejected_before_it_runs() {
    let cond = vec!["1"; 20_000].join(" + ") + " > 0";
    let e = run(&gateway_model(&cond), json!({}), Limits::default())
        .await
        .unwrap_err();
    assert!(e.contains("max_depth") && e.contains("limits.bpmn:"), "{e}");
}

#[tokio::test]
async fn huge_cardinalities_end_in_an_error_without_allocating() {
    for n in [
        json!(1e12),
        json!(100_000_000),
        json!(1e20),
        json!(u64::MAX),
        json!(-1),
        json!(2.5),
    ] {
        let e = run(&script_model("x = 1", Some("n")), json!({ "n": n }), Limits::default())
            .await
            .unwrap_err();
        assert!(e.contains("loop cardinality") && e.contains("'t'"), "{n}: {e}");
    }
    let e = run(&script_model("x = 1", Some("n")), json!({"n": 1e12}), Limits::default())
        .await
        .unwrap_err();
    assert!(e.contains("max_instances = 100000"), "{e}");
    // the limit is the engine's to set
    let small = Limits {
        max_instances: 5,
        ..Limits::default()
    };
    assert!(run(&script_model("x = 1", Some("n")), json!({"n": 5}), small)
        .await
        .is_ok());
    let e = run(&script_model("x = 1", Some("n")), json!({"n": 6}), small)
        .await
        .unwrap_err();
    assert!(e.contains("max_instances = 5"), "{e}");
}

#[tokio::test]
async fn literal_huge_cardinalities_are_rejected_before_they_run() {
    for lit in ["1e12", "100000000", "99999999999999999999"] {
        let e = run(&script_model("x = 1", Some(lit)), json!({}), Limits::default())
            .await
            .unwrap_err();
        assert!(e.contains("max_instances"), "{lit}: {e}");
    }
}

#[tokio::test]
async fn runaway_scripts_stop_at_the_engine_budget() {
    let e = run(
        &script_model("s = 'x' * 9000000\nparts = []\nwhile True:\n    parts.append(s)", None),
        json!({}),
        Limits::default(),
    )
    .await
    .unwrap_err();
    assert!(e.contains("max_bytes") && e.contains("'t'"), "{e}");
    let nested = "for i in range(1000000):\n    xs = [j for j in range(1000000)]";
    let e = run(&script_model(nested, None), json!({}), Limits::default())
        .await
        .unwrap_err();
    assert!(e.contains("max_steps") || e.contains("max_bytes"), "{e}");
    let tight = Limits {
        eval: EvalLimits {
            max_steps: 1_000,
            ..EvalLimits::default()
        },
        ..Limits::default()
    };
    let e = run(
        &script_model("t = 0\nfor i in range(2000):\n    t += i", None),
        json!({}),
        tight,
    )
    .await
    .unwrap_err();
    assert!(e.contains("max_steps = 1000"), "{e}");
}
