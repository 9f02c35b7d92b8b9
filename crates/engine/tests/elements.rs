//! Element behaviour, one test per element family, over the BPMN files in tests/data/.
//! Timing runs on tokio's paused clock.

use serde_json::{json, Map, Value};
use servicetask_bpmn::{BindingKind, Definitions};
use servicetask_engine::*;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn data(name: &str) -> Definitions {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name);
    let (defs, diags) = servicetask_bpmn::parse_file(&path).unwrap();
    let errors: Vec<String> = diags.iter().filter(|d| d.is_error()).map(ToString::to_string).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    defs
}

fn obj(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

fn ids(inst: &Instance) -> Vec<String> {
    inst.completed()
        .iter()
        .map(|c| {
            if c.mi_child {
                format!("{} [child]", c.element_id)
            } else {
                c.element_id.to_string()
            }
        })
        .collect()
}

fn handler<F>(f: F) -> Arc<dyn TaskHandler>
where
    F: Fn(&ServiceCall) -> ServiceResult + Send + Sync + 'static,
{
    Arc::new(move |call: ServiceCall| -> ServiceFuture {
        let r = f(&call);
        Box::pin(async move { r })
    })
}

#[tokio::test]
async fn zeebe_binding_with_headers_mappings_and_feel_gateway() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let engine = Engine::new(handler(move |c| {
        s.lock().unwrap().push(c.clone());
        ServiceResult::Complete(obj(json!({"receipt": "r-1"})))
    }));
    let mut inst = engine
        .start(
            &data("zeebe_service.bpmn"),
            "order",
            obj(json!({"order": {"total": 150}})),
        )
        .unwrap();
    assert_eq!(inst.run().await, RunOutcome::Completed);
    let calls = seen.lock().unwrap().clone();
    assert_eq!(calls.len(), 1);
    let c = &calls[0];
    assert_eq!(c.binding.kind, BindingKind::Zeebe);
    assert_eq!(c.binding.task_type, "payments.charge");
    assert_eq!(c.binding.retries, Some(3));
    assert_eq!(c.binding.headers.get("currency").map(String::as_str), Some("EUR"));
    assert_eq!(
        Value::Object(c.variables.clone()),
        json!({"amount": 150, "method": "card"})
    );
    assert_eq!(c.element_name.as_deref(), Some("Charge card"));
    let vars = inst.variables();
    assert_eq!(vars.get("receiptId"), Some(&json!("r-1")));
    assert_eq!(vars.get("doubled"), Some(&json!(300)));
    assert!(!vars.contains_key("receipt"), "only mapped outputs are set");
    assert_eq!(ids(&inst), ["start", "charge", "gw", "end_big"]);

    let mut small = engine
        .start(
            &data("zeebe_service.bpmn"),
            "order",
            obj(json!({"order": {"total": 5}})),
        )
        .unwrap();
    assert_eq!(small.run().await, RunOutcome::Completed);
    assert_eq!(ids(&small).last().map(String::as_str), Some("end_small"));
}

#[tokio::test]
async fn every_binding_style_reaches_the_registry() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let recorder = handler(move |c| {
        s.lock().unwrap().push((
            c.element_id.clone(),
            c.binding.kind,
            c.binding.task_type.clone(),
            c.variables.clone(),
        ));
        ServiceResult::Complete(StubHandler::result_for(&c.binding))
    });
    let mut reg = HandlerRegistry::default();
    for t in [
        "topic.camunda",
        "topic.flowable",
        "impl.rules",
        "http/Get",
        "plain_task",
    ] {
        reg.register(t, recorder.clone());
    }
    let engine = Engine::new(Arc::new(reg));
    let mut inst = engine
        .start(&data("bindings.bpmn"), "bindings", obj(json!({"path": "a"})))
        .unwrap();
    assert_eq!(inst.run().await, RunOutcome::Completed);
    let calls = seen.lock().unwrap();
    let kinds: Vec<(String, BindingKind, String)> = calls
        .iter()
        .map(|(e, k, t, _)| (e.to_string(), *k, t.clone()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (
                "camunda_task".into(),
                BindingKind::CamundaExternal,
                "topic.camunda".into()
            ),
            ("flowable_task".into(), BindingKind::Flowable, "topic.flowable".into()),
            ("impl_task".into(), BindingKind::Implementation, "impl.rules".into()),
            ("spiff_task".into(), BindingKind::SpiffOperator, "http/Get".into()),
            ("plain_task".into(), BindingKind::ElementId, "plain_task".into()),
        ]
    );
    assert_eq!(
        Value::Object(calls[3].3.clone()),
        json!({"url": "https://example.invalid/a"}),
        "spiff operators get their evaluated parameters"
    );
    assert_eq!(
        inst.variables().get("response"),
        Some(&json!({"ok": true, "operation": "http/Get"}))
    );
}

#[tokio::test]
async fn a_missing_handler_is_an_incident_naming_the_type() {
    let engine = Engine::new(Arc::new(HandlerRegistry::default()));
    let mut inst = engine
        .start(&data("bindings.bpmn"), "bindings", obj(json!({"path": "a"})))
        .unwrap();
    match inst.run().await {
        RunOutcome::Waiting { incidents, .. } => {
            assert_eq!(incidents.len(), 1);
            assert_eq!(incidents[0].element_id, "camunda_task");
            assert!(
                incidents[0]
                    .message
                    .contains("no handler registered for task type 'topic.camunda'"),
                "{}",
                incidents[0].message
            );
        }
        other => panic!("unexpected {other:?}"),
    }
}

async fn run_errors(code: Option<&'static str>, fail_inner: bool) -> (RunOutcome, Vec<String>, Map<String, Value>) {
    let engine = Engine::new(handler(move |_| match code {
        Some(c) => ServiceResult::BpmnError {
            code: c.to_string(),
            message: "no".to_string(),
            variables: obj(json!({"reason": c})),
        },
        None => ServiceResult::Complete(Map::new()),
    }));
    let mut inst = engine
        .start(&data("errors.bpmn"), "errors", obj(json!({"fail_inner": fail_inner})))
        .unwrap();
    let o = inst.run().await;
    (o, ids(&inst), inst.variables())
}

#[tokio::test]
async fn bpmn_errors_go_to_the_most_specific_boundary_then_catch_all() {
    let (o, done, vars) = run_errors(Some("DECLINED"), false).await;
    assert_eq!(o, RunOutcome::Completed);
    assert_eq!(done, ["start", "declined", "end_declined"]);
    assert_eq!(
        vars.get("reason"),
        Some(&json!("DECLINED")),
        "error variables land where it is caught"
    );

    let (o, done, _) = run_errors(Some("SOMETHING_ELSE"), false).await;
    assert_eq!(o, RunOutcome::Completed);
    assert_eq!(done, ["start", "any_error", "end_other"]);
}

#[tokio::test]
async fn error_end_event_is_caught_on_the_enclosing_subprocess() {
    let (o, done, _) = run_errors(None, true).await;
    assert_eq!(o, RunOutcome::Completed);
    assert_eq!(
        done,
        [
            "start",
            "pay",
            "sub_start",
            "sub_gw",
            "sub_throw",
            "sub",
            "sub_caught",
            "end_inner"
        ]
    );
    let (o, done, _) = run_errors(None, false).await;
    assert_eq!(o, RunOutcome::Completed);
    assert_eq!(done, ["start", "pay", "sub_start", "sub_gw", "sub_end", "sub", "end"]);
}

#[tokio::test]
async fn an_uncaught_bpmn_error_fails_with_its_position() {
    let engine = Engine::new(handler(|_| ServiceResult::BpmnError {
        code: "BOOM".into(),
        message: "broken".into(),
        variables: Map::new(),
    }));
    let mut inst = engine
        .start(&data("bindings.bpmn"), "bindings", obj(json!({"path": "a"})))
        .unwrap();
    match inst.run().await {
        RunOutcome::Failed(e) => {
            let m = e.to_string();
            assert!(m.contains("bindings.bpmn:7:5: element 'camunda_task'"), "{m}");
            assert!(m.contains("BPMN error 'BOOM' was not caught"), "{m}");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(matches!(inst.status(), InstanceStatus::Failed(_)));
}

#[tokio::test]
async fn a_failure_without_retries_is_an_incident_that_can_be_retried() {
    let calls = Arc::new(AtomicU32::new(0));
    let c = calls.clone();
    let engine = Engine::new(handler(move |call| {
        if c.fetch_add(1, Ordering::SeqCst) == 0 {
            ServiceResult::Failed {
                message: "disk full".into(),
                error_class: "io".into(),
                retries_left: 0,
                retry_backoff: None,
            }
        } else {
            ServiceResult::Complete(obj(
                json!({"seen_fix": call.variables.get("fixed").cloned().unwrap_or(Value::Null)}),
            ))
        }
    }));
    let mut inst = engine
        .start(&data("simple_service.bpmn"), "simple", obj(json!({"input": 1})))
        .unwrap();
    match inst.run().await {
        RunOutcome::Waiting { tasks, incidents, .. } => {
            assert!(tasks.is_empty());
            assert_eq!(incidents.len(), 1);
            assert_eq!(incidents[0].element_id, "work");
            assert_eq!(incidents[0].message, "disk full");
            assert_eq!(incidents[0].error_class, "io");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(inst.variables().get("input"), Some(&json!(1)), "nothing is lost");
    assert!(inst.retry_incident("nope", Map::new()).is_err());
    inst.retry_incident("work", obj(json!({"fixed": true}))).unwrap();
    match inst.run().await {
        RunOutcome::Waiting { tasks, incidents, .. } => {
            assert!(incidents.is_empty());
            assert_eq!(
                tasks.iter().map(|t| t.element_id.as_str()).collect::<Vec<_>>(),
                ["approve"]
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(inst.variables().get("seen_fix"), Some(&json!(true)));
    inst.complete_task("approve", obj(json!({"ok": true}))).unwrap();
    assert_eq!(inst.run().await, RunOutcome::Completed);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert!(
        inst.complete_task("approve", Map::new()).is_err(),
        "a finished instance refuses more work"
    );
}

#[tokio::test(start_paused = true)]
async fn failures_with_retries_left_are_retried_after_their_backoff() {
    let calls = Arc::new(AtomicU32::new(0));
    let c = calls.clone();
    let engine = Engine::new(handler(move |_| {
        let n = c.fetch_add(1, Ordering::SeqCst);
        if n < 2 {
            ServiceResult::Failed {
                message: "flaky".into(),
                error_class: "network".into(),
                retries_left: 2 - n,
                retry_backoff: Some(Duration::from_secs(5)),
            }
        } else {
            ServiceResult::Complete(Map::new())
        }
    }));
    let t0 = tokio::time::Instant::now();
    let mut inst = engine
        .start(&data("simple_service.bpmn"), "simple", Map::new())
        .unwrap();
    let o = inst.run().await;
    assert!(
        matches!(o, RunOutcome::Waiting { ref tasks, .. } if tasks.len() == 1),
        "{o:?}"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert_eq!(t0.elapsed(), Duration::from_secs(10));
}

#[tokio::test(start_paused = true)]
async fn timers_catch_remind_and_time_out() {
    let engine = Engine::new(Arc::new(StubHandler));
    let t0 = tokio::time::Instant::now();
    let mut inst = engine
        .start(&data("timers.bpmn"), "timers", obj(json!({"reminders": 0})))
        .unwrap();
    match inst.run().await {
        RunOutcome::Waiting { tasks, next_timer, .. } => {
            assert_eq!(tasks[0].element_id, "review");
            assert_eq!(next_timer, Some(Duration::from_secs(10)));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(
        t0.elapsed(),
        Duration::from_secs(5),
        "the intermediate timer waited PT5S"
    );
    let o = inst.advance(Duration::from_secs(25)).await;
    assert!(matches!(o, RunOutcome::Waiting { .. }));
    assert_eq!(
        inst.variables().get("reminders"),
        Some(&json!(2)),
        "R2/PT10S fired twice, non-interrupting"
    );
    inst.complete_task("review", Map::new()).unwrap();
    assert_eq!(inst.run().await, RunOutcome::Completed);
    assert!(!ids(&inst).contains(&"escalate".to_string()));

    let mut late = engine
        .start(&data("timers.bpmn"), "timers", obj(json!({"reminders": 0})))
        .unwrap();
    let _ = late.run().await;
    assert_eq!(late.advance(Duration::from_secs(61)).await, RunOutcome::Completed);
    assert_eq!(late.variables().get("escalated"), Some(&json!(true)));
    assert!(
        !ids(&late).contains(&"review".to_string()),
        "the interrupted task did not complete"
    );
    assert!(late.waiting_tasks().is_empty());
}

#[derive(Default)]
struct Progress(Mutex<Vec<(String, usize, usize)>>, Mutex<Vec<String>>);

impl EngineObserver for Progress {
    fn on_batch_progress(&self, _instance: &str, element: &str, done: usize, total: usize) {
        self.0.lock().unwrap().push((element.to_string(), done, total));
    }
    fn on_element_started(&self, e: &ElementEvent) {
        self.1.lock().unwrap().push(e.element_id.clone());
    }
}

#[tokio::test]
async fn multi_instance_sequential_and_parallel_with_output_collections() {
    let order = Arc::new(Mutex::new(Vec::new()));
    let o2 = order.clone();
    let progress = Arc::new(Progress::default());
    let engine = Engine::builder(handler(move |c| {
        let item = c.variables.get("item").and_then(Value::as_i64).unwrap_or(0);
        o2.lock().unwrap().push(item);
        ServiceResult::Complete(obj(json!({"result": item * 2})))
    }))
    .observer(progress.clone())
    .build();
    let mut inst = engine
        .start(&data("multi_instance.bpmn"), "batch", obj(json!({"items": [1, 2, 3]})))
        .unwrap();
    assert_eq!(inst.run().await, RunOutcome::Completed);
    assert_eq!(
        *order.lock().unwrap(),
        [1, 2, 3],
        "sequential: one after the other, in order"
    );
    let vars = inst.variables();
    assert_eq!(vars.get("results"), Some(&json!([2, 4, 6])));
    assert_eq!(vars.get("squares"), Some(&json!([4, 16, 36])));
    assert!(
        !vars.contains_key("item") && !vars.contains_key("sq"),
        "instance variables stay in their instance"
    );
    let p = progress.0.lock().unwrap();
    let double: Vec<(usize, usize)> = p
        .iter()
        .filter(|(e, _, _)| e == "double")
        .map(|(_, d, t)| (*d, *t))
        .collect();
    assert_eq!(double, [(0, 3), (1, 3), (2, 3), (3, 3)]);
    assert_eq!(ids(&inst).iter().filter(|i| *i == "square [child]").count(), 3);
    assert!(progress.1.lock().unwrap().contains(&"square".to_string()));
}

#[tokio::test]
async fn standard_loops_run_while_their_condition_holds() {
    let engine = Engine::new(Arc::new(StubHandler));
    let mut inst = engine
        .start(
            &data("loop.bpmn"),
            "loop",
            obj(json!({"count": 0, "runs": 0, "onces": 0})),
        )
        .unwrap();
    assert_eq!(inst.run().await, RunOutcome::Completed);
    assert_eq!(inst.variables().get("count"), Some(&json!(3)), "loops while count < 3");
    assert_eq!(
        inst.variables().get("runs"),
        Some(&json!(5)),
        "loopMaximum bounds a loop whose condition always holds"
    );
    assert_eq!(
        inst.variables().get("onces"),
        Some(&json!(1)),
        "without testBefore the condition is tested after the first iteration"
    );
    assert!(
        !inst.variables().contains_key("never"),
        "testBefore with a false condition skips the activity"
    );
    let done = ids(&inst);
    assert_eq!(done.iter().filter(|i| *i == "inc [child]").count(), 3);
    assert_eq!(done.iter().filter(|i| *i == "inc").count(), 1);
    assert!(!done.contains(&"skipped [child]".to_string()));
}

#[tokio::test]
async fn terminate_end_event_ends_every_branch() {
    let engine = Engine::new(Arc::new(StubHandler));
    let mut inst = engine.start(&data("terminate.bpmn"), "terminate", Map::new()).unwrap();
    assert_eq!(inst.run().await, RunOutcome::Completed);
    assert!(ids(&inst).contains(&"kill".to_string()));
    assert!(!ids(&inst).contains(&"wait".to_string()));
    assert!(inst.waiting_tasks().is_empty());
}

#[tokio::test]
async fn a_join_that_can_never_fire_is_a_clear_error_not_a_hang() {
    let engine = Engine::new(Arc::new(StubHandler));
    let mut inst = engine.start(&data("stuck.bpmn"), "stuck", Map::new()).unwrap();
    match inst.run().await {
        RunOutcome::Failed(EngineError::Stuck { details, .. }) => {
            assert!(details.contains("stuck.bpmn:14:5: element 'join'"), "{details}");
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn inclusive_join_waits_only_for_taken_branches() {
    let engine = Engine::new(Arc::new(StubHandler));
    let defs = data("inclusive_wait.bpmn");
    let mut two = engine.start(&defs, "inclusive", obj(json!({"x": 2}))).unwrap();
    assert!(matches!(two.run().await, RunOutcome::Waiting { .. }));
    assert!(!ids(&two).contains(&"join".to_string()), "the join waits for 'slow'");
    two.complete_task("slow", Map::new()).unwrap();
    assert_eq!(two.run().await, RunOutcome::Completed);
    assert_eq!(ids(&two).iter().filter(|i| *i == "join").count(), 1);

    let mut one = engine.start(&defs, "inclusive", obj(json!({"x": 1}))).unwrap();
    assert_eq!(one.run().await, RunOutcome::Completed);
    assert_eq!(ids(&one), ["start", "split", "fast", "join", "end"]);
}

#[tokio::test(start_paused = true)]
async fn event_based_gateway_takes_the_first_event() {
    let engine = Engine::new(Arc::new(StubHandler));
    let defs = data("event_gateway.bpmn");
    let mut paid = engine.start(&defs, "race", Map::new()).unwrap();
    assert!(matches!(paid.run().await, RunOutcome::Waiting { .. }));
    paid.complete_task("paid", Map::new()).unwrap();
    assert_eq!(paid.run().await, RunOutcome::Completed);
    assert_eq!(ids(&paid).last().map(String::as_str), Some("end_paid"));

    let mut late = engine.start(&defs, "race", Map::new()).unwrap();
    let _ = late.run().await;
    assert_eq!(late.advance(Duration::from_secs(31)).await, RunOutcome::Completed);
    assert_eq!(ids(&late).last().map(String::as_str), Some("end_late"));
    assert!(!ids(&late).contains(&"paid".to_string()));
}

#[tokio::test]
async fn call_activity_calls_a_process_from_another_file_with_mappings() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/calls");
    let (library, diags) = load_dir(&dir).unwrap();
    assert!(diags.is_empty(), "{diags:?}");
    let parent = library.iter().find(|d| d.process("parent").is_some()).unwrap().clone();
    let engine = Engine::builder(Arc::new(StubHandler)).library(library).build();
    let mut inst = engine.start(&parent, "parent", obj(json!({"n": 1}))).unwrap();
    assert_eq!(inst.run().await, RunOutcome::Completed);
    assert_eq!(Value::Object(inst.variables()), json!({"n": 1, "from_child": 20}));
    assert_eq!(ids(&inst), ["start", "c_start", "c_work", "c_end", "call", "end"]);

    // without the library the call cannot be made: refused before anything runs
    let lonely = Engine::new(Arc::new(StubHandler));
    let e = lonely
        .start(&parent, "parent", obj(json!({"n": 1})))
        .expect_err("the called process is nowhere");
    assert!(e.to_string().contains("calls process 'child'"), "{e}");
}

#[tokio::test(start_paused = true)]
async fn parallel_branches_call_their_tasks_concurrently() {
    let xml = br#"<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="par">
      <process id="par"><startEvent id="s"/><sequenceFlow id="f0" sourceRef="s" targetRef="split"/>
      <parallelGateway id="split"/>
      <sequenceFlow id="f1" sourceRef="split" targetRef="a"/><sequenceFlow id="f2" sourceRef="split" targetRef="b"/>
      <serviceTask id="a"/><serviceTask id="b"/>
      <sequenceFlow id="f3" sourceRef="a" targetRef="join"/><sequenceFlow id="f4" sourceRef="b" targetRef="join"/>
      <parallelGateway id="join"/><sequenceFlow id="f5" sourceRef="join" targetRef="e"/><endEvent id="e"/>
      </process></definitions>"#;
    let (defs, diags) = servicetask_bpmn::parse("par.bpmn", xml);
    assert!(diags.iter().all(|d| !d.is_error()), "{diags:?}");
    let engine = Engine::new(Arc::new(|_call: ServiceCall| -> ServiceFuture {
        Box::pin(async {
            tokio::time::sleep(Duration::from_secs(1)).await;
            ServiceResult::Complete(Map::new())
        })
    }));
    let t0 = tokio::time::Instant::now();
    let mut inst = engine.start(&defs, "par", Map::new()).unwrap();
    assert_eq!(inst.run().await, RunOutcome::Completed);
    assert_eq!(t0.elapsed(), Duration::from_secs(1), "both 1 s tasks ran at once");
    assert_eq!(ids(&inst).iter().filter(|i| *i == "join").count(), 1);
}

#[tokio::test]
async fn a_condition_that_cannot_be_evaluated_names_the_flow() {
    let xml = br#"<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="x">
      <process id="p"><startEvent id="s"/><sequenceFlow id="f0" sourceRef="s" targetRef="g"/>
      <exclusiveGateway id="g" default="f2"/>
      <sequenceFlow id="f1" sourceRef="g" targetRef="e"><conditionExpression>missing &gt; 1</conditionExpression></sequenceFlow>
      <sequenceFlow id="f2" sourceRef="g" targetRef="e"/><endEvent id="e"/></process></definitions>"#;
    let (defs, _) = servicetask_bpmn::parse("cond.bpmn", xml);
    let mut inst = Engine::new(Arc::new(StubHandler))
        .start(&defs, "p", Map::new())
        .unwrap();
    match inst.run().await {
        RunOutcome::Failed(e) => {
            let m = e.to_string();
            assert!(m.starts_with("cond.bpmn:4:7: element 'f1'"), "{m}");
            assert!(m.contains("name 'missing' is not defined"), "{m}");
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn invalid_definitions_are_refused_at_start() {
    let xml = br#"<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="x">
      <process id="p"><startEvent id="s"/><sequenceFlow id="f0" sourceRef="s" targetRef="nowhere"/></process></definitions>"#;
    let (defs, _) = servicetask_bpmn::parse("bad.bpmn", xml);
    match Engine::new(Arc::new(StubHandler)).start(&defs, "p", Map::new()) {
        Err(EngineError::Invalid(d)) => assert!(d[0].to_string().contains("targets unknown element 'nowhere'")),
        other => panic!("unexpected {other:?}"),
    }
    match Engine::new(Arc::new(StubHandler)).start(&data("loop.bpmn"), "nope", Map::new()) {
        Err(EngineError::UnknownProcess { process_id, .. }) => assert_eq!(process_id, "nope"),
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_large_parallel_batch_runs_with_bounded_concurrency() {
    let xml = br#"<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="big">
      <process id="big"><startEvent id="s"/><sequenceFlow id="f0" sourceRef="s" targetRef="each"/>
      <serviceTask id="each"><extensionElements><zeebe:taskDefinition type="each"/></extensionElements>
        <multiInstanceLoopCharacteristics><extensionElements>
          <zeebe:loopCharacteristics inputCollection="=files" inputElement="file" outputCollection="sizes" outputElement="=size"/>
        </extensionElements></multiInstanceLoopCharacteristics></serviceTask>
      <sequenceFlow id="f1" sourceRef="each" targetRef="e"/><endEvent id="e"/></process></definitions>"#;
    let (defs, _) = servicetask_bpmn::parse("big.bpmn", xml);
    let in_flight = Arc::new(AtomicU32::new(0));
    let peak = Arc::new(AtomicU32::new(0));
    let saw_collection = Arc::new(AtomicU32::new(0));
    let (f, p, s) = (in_flight.clone(), peak.clone(), saw_collection.clone());
    let engine = Engine::builder(Arc::new(move |call: ServiceCall| -> ServiceFuture {
        let now = f.fetch_add(1, Ordering::SeqCst) + 1;
        p.fetch_max(now, Ordering::SeqCst);
        if call.variables.contains_key("files") {
            s.fetch_add(1, Ordering::SeqCst);
        }
        let n = call.variables.get("file").and_then(Value::as_i64).unwrap_or(-1);
        let f = f.clone();
        Box::pin(async move {
            tokio::time::sleep(Duration::from_millis(10)).await;
            f.fetch_sub(1, Ordering::SeqCst);
            ServiceResult::Complete(obj(json!({"size": n * 10})))
        })
    }))
    .config(EngineConfig {
        max_concurrent_calls: 50,
        ..EngineConfig::default()
    })
    .build();
    let files: Vec<i64> = (0..2000).collect();
    let mut inst = engine.start(&defs, "big", obj(json!({ "files": files }))).unwrap();
    assert_eq!(inst.run().await, RunOutcome::Completed);
    let sizes = inst
        .variables()
        .get("sizes")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    assert_eq!(sizes.len(), 2000);
    assert_eq!(sizes[1999], json!(19990));
    assert_eq!(
        peak.load(Ordering::SeqCst),
        50,
        "at most max_concurrent_calls in flight"
    );
    assert_eq!(
        saw_collection.load(Ordering::SeqCst),
        0,
        "children get their item, not the whole collection"
    );
}

#[tokio::test]
async fn signals_interrupt_and_messages_resume() {
    let engine = Engine::new(Arc::new(StubHandler));
    let mut inst = engine.start(&data("signals.bpmn"), "signals", Map::new()).unwrap();
    match inst.run().await {
        RunOutcome::Waiting { tasks, .. } => {
            assert_eq!(
                tasks.iter().map(|t| t.element_id.as_str()).collect::<Vec<_>>(),
                ["wait_go"]
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    let done = ids(&inst);
    assert!(
        done.contains(&"stopped".to_string()) && !done.contains(&"work".to_string()),
        "{done:?}"
    );
    assert_eq!(inst.send_message("nobody", Map::new()).unwrap(), 0);
    assert_eq!(inst.send_message("go", obj(json!({"go": true}))).unwrap(), 1);
    assert_eq!(inst.run().await, RunOutcome::Completed);
    assert_eq!(inst.variables().get("go"), Some(&json!(true)));
}

#[tokio::test(start_paused = true)]
async fn event_subprocesses_catch_errors_timers_and_signals() {
    let defs = data("event_subprocess.bpmn");
    let engine = Engine::new(handler(|_| ServiceResult::BpmnError {
        code: "E1".into(),
        message: "declined".into(),
        variables: Map::new(),
    }));
    let mut inst = engine.start(&defs, "es_error", Map::new()).unwrap();
    assert_eq!(inst.run().await, RunOutcome::Completed);
    assert_eq!(inst.variables().get("handled"), Some(&json!(true)));
    assert_eq!(ids(&inst), ["start", "err_start", "handle", "err_end", "on_error"]);

    let engine = Engine::new(Arc::new(StubHandler));
    let mut inst = engine.start(&defs, "es_listen", Map::new()).unwrap();
    assert!(matches!(inst.run().await, RunOutcome::Waiting { .. }));
    let o = inst.advance(Duration::from_secs(11)).await;
    assert!(
        matches!(o, RunOutcome::Waiting { ref tasks, .. } if tasks.len() == 1),
        "non-interrupting: still waiting, {o:?}"
    );
    assert_eq!(inst.variables().get("reminded"), Some(&json!(true)));
    assert_eq!(inst.send_signal("cancel", Map::new()).unwrap(), 1);
    assert_eq!(inst.run().await, RunOutcome::Completed);
    let done = ids(&inst);
    assert!(
        done.contains(&"cancelled".to_string()) && !done.contains(&"wait".to_string()),
        "{done:?}"
    );
}

async fn walk_waits(config: EngineConfig) -> Vec<String> {
    let engine = Engine::builder(Arc::new(StubHandler)).config(config).build();
    let mut inst = engine.start(&data("wait_states.bpmn"), "waits", Map::new()).unwrap();
    let mut waited = Vec::new();
    loop {
        match inst.run().await {
            RunOutcome::Waiting { tasks, .. } => {
                assert_eq!(tasks.len(), 1);
                waited.push(format!("{}:{}", tasks[0].element_id, tasks[0].kind.tag()));
                let key = if waited.len() % 2 == 0 {
                    tasks[0].token_id.to_string()
                } else {
                    tasks[0].element_id.clone()
                };
                inst.complete_user_task(&key, obj(json!({ "step": waited.len() })))
                    .unwrap();
            }
            RunOutcome::Completed => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(inst.variables().get("step"), Some(&json!(waited.len())));
    assert!(inst.complete_task("form", Map::new()).is_err());
    waited
}

#[tokio::test]
async fn user_manual_and_receive_tasks_wait_for_the_api() {
    assert_eq!(
        walk_waits(EngineConfig::default()).await,
        ["form:userTask", "sign:manualTask", "receive:receiveTask"]
    );
    let spiff = EngineConfig {
        plain_tasks_wait: true,
        ..EngineConfig::default()
    };
    assert_eq!(
        walk_waits(spiff).await,
        ["form:userTask", "sign:manualTask", "receive:receiveTask", "note:task"]
    );
}

fn mi_xml(loop_chars: &str, script: &str) -> Definitions {
    let xml = format!(
        r#"<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="mi">
      <process id="p"><startEvent id="s"/><sequenceFlow id="f0" sourceRef="s" targetRef="t"/>
      <scriptTask id="t"><multiInstanceLoopCharacteristics>{loop_chars}</multiInstanceLoopCharacteristics><script>{script}</script></scriptTask>
      <sequenceFlow id="f1" sourceRef="t" targetRef="e"/><endEvent id="e"/></process></definitions>"#
    );
    let (defs, diags) = servicetask_bpmn::parse("mi.bpmn", xml.as_bytes());
    assert!(diags.iter().all(|d| !d.is_error()), "{diags:?}");
    defs
}

#[tokio::test]
async fn multi_instance_outputs_follow_spiffworkflow() {
    let engine = Engine::new(Arc::new(StubHandler));
    // an object input gives an object output with the same keys
    let defs = mi_xml(
        "<loopDataInputRef>prices</loopDataInputRef><loopDataOutputRef>taxed</loopDataOutputRef><inputDataItem id=\"price\"/><outputDataItem id=\"with_tax\"/>",
        "with_tax = price * 2",
    );
    let mut inst = engine
        .start(&defs, "p", obj(json!({"prices": {"a": 1, "b": 5}})))
        .unwrap();
    assert_eq!(inst.run().await, RunOutcome::Completed);
    assert_eq!(inst.variables().get("taxed"), Some(&json!({"a": 2, "b": 10})));

    // an output item that an instance does not set is an error naming the element
    let defs = mi_xml(
        "<loopCardinality>2</loopCardinality><loopDataOutputRef>out</loopDataOutputRef><outputDataItem id=\"o\"/>",
        "x = 1",
    );
    let mut inst = engine.start(&defs, "p", Map::new()).unwrap();
    match inst.run().await {
        RunOutcome::Failed(e) => assert!(e.to_string().contains("did not set 'o'"), "{e}"),
        other => panic!("unexpected {other:?}"),
    }

    // without an output collection, each instance's variables merge back
    let defs = mi_xml(
        "<loopCardinality>3</loopCardinality><inputDataItem id=\"i\"/>",
        "last = i",
    );
    let mut inst = engine.start(&defs, "p", Map::new()).unwrap();
    assert_eq!(inst.run().await, RunOutcome::Completed);
    assert_eq!(inst.variables().get("last"), Some(&json!(2)));
}

#[tokio::test]
async fn a_collaboration_runs_its_pools_and_passes_messages() {
    let engine = Engine::new(Arc::new(StubHandler));
    let mut inst = engine.start(&data("collaboration.bpmn"), "trade", Map::new()).unwrap();
    assert_eq!(inst.run().await, RunOutcome::Completed);
    let done = ids(&inst);
    for id in ["send_order", "get_order", "book", "confirm", "wait_confirm", "shop_end"] {
        assert!(done.contains(&id.to_string()), "{id} missing from {done:?}");
    }
    assert_eq!(inst.variables().get("booked"), Some(&json!(true)));
}

#[test]
fn instances_and_their_runs_can_move_between_threads() {
    fn assert_send<T: Send>(_: &T) {}
    let engine = Engine::new(Arc::new(StubHandler));
    let mut inst = engine
        .start(
            &data("loop.bpmn"),
            "loop",
            obj(json!({"count": 0, "runs": 0, "onces": 0})),
        )
        .unwrap();
    assert_send(&engine);
    {
        let fut = inst.run();
        assert_send(&fut);
    }
    assert_send(&inst);
}

#[tokio::test(start_paused = true)]
async fn a_boundary_timer_interrupts_a_slow_service_call() {
    let xml = br#"<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="slow">
      <process id="p"><startEvent id="s"/><sequenceFlow id="f0" sourceRef="s" targetRef="slow"/>
      <serviceTask id="slow"/>
      <boundaryEvent id="too_slow" attachedToRef="slow"><timerEventDefinition><timeDuration>PT10S</timeDuration></timerEventDefinition></boundaryEvent>
      <boundaryEvent id="nudge" attachedToRef="slow" cancelActivity="false"><timerEventDefinition><timeDuration>PT3S</timeDuration></timerEventDefinition></boundaryEvent>
      <sequenceFlow id="f1" sourceRef="slow" targetRef="done"/><endEvent id="done"/>
      <sequenceFlow id="f2" sourceRef="too_slow" targetRef="timed_out"/><endEvent id="timed_out"/>
      <sequenceFlow id="f3" sourceRef="nudge" targetRef="nudged"/><endEvent id="nudged"/>
      </process></definitions>"#;
    let (defs, _) = servicetask_bpmn::parse("slow.bpmn", xml);
    let finished = Arc::new(AtomicU32::new(0));
    let f = finished.clone();
    let engine = Engine::new(Arc::new(move |_call: ServiceCall| -> ServiceFuture {
        let f = f.clone();
        Box::pin(async move {
            tokio::time::sleep(Duration::from_secs(60)).await;
            f.fetch_add(1, Ordering::SeqCst);
            ServiceResult::Complete(Map::new())
        })
    }));
    let t0 = tokio::time::Instant::now();
    let mut inst = engine.start(&defs, "p", Map::new()).unwrap();
    assert_eq!(inst.run().await, RunOutcome::Completed);
    assert_eq!(
        t0.elapsed(),
        Duration::from_secs(10),
        "the PT10S boundary interrupted the 60 s call"
    );
    let done = ids(&inst);
    assert_eq!(done, ["s", "nudge", "nudged", "too_slow", "timed_out"]);
    tokio::time::sleep(Duration::from_secs(120)).await;
    assert_eq!(finished.load(Ordering::SeqCst), 0, "the interrupted call was aborted");
}

#[test]
fn a_binding_without_a_task_type_is_refused_at_start() {
    let xml = br#"<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="x">
      <process id="p"><startEvent id="s"/><sequenceFlow id="f" sourceRef="s" targetRef="t"/>
      <serviceTask id="t"><extensionElements><spiffworkflow:serviceTaskOperator/></extensionElements></serviceTask></process></definitions>"#;
    let (defs, diags) = servicetask_bpmn::parse("op.bpmn", xml);
    assert!(diags
        .iter()
        .any(|d| d.is_error() && d.message.contains("has no id attribute")));
    match Engine::new(Arc::new(StubHandler)).start(&defs, "p", Map::new()) {
        Err(EngineError::Invalid(d)) => assert!(d.iter().any(|d| d.to_string().contains("empty task type")), "{d:?}"),
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_slow_branch_does_not_hold_back_a_fast_one() {
    let xml = br#"<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="w">
      <process id="p"><startEvent id="s"/><sequenceFlow id="f0" sourceRef="s" targetRef="split"/><parallelGateway id="split"/>
      <sequenceFlow id="f1" sourceRef="split" targetRef="slow"/><sequenceFlow id="f2" sourceRef="split" targetRef="fast1"/>
      <serviceTask id="slow"><extensionElements><zeebe:taskDefinition type="slow"/></extensionElements></serviceTask>
      <serviceTask id="fast1"><extensionElements><zeebe:taskDefinition type="fast"/></extensionElements></serviceTask>
      <sequenceFlow id="f3" sourceRef="fast1" targetRef="fast2"/>
      <serviceTask id="fast2"><extensionElements><zeebe:taskDefinition type="fast"/></extensionElements></serviceTask>
      <sequenceFlow id="f4" sourceRef="slow" targetRef="join"/><sequenceFlow id="f5" sourceRef="fast2" targetRef="join"/>
      <parallelGateway id="join"/><sequenceFlow id="f6" sourceRef="join" targetRef="e"/><endEvent id="e"/></process></definitions>"#;
    let (defs, _) = servicetask_bpmn::parse("window.bpmn", xml);
    let t0 = tokio::time::Instant::now();
    let starts = Arc::new(Mutex::new(Vec::new()));
    let st = starts.clone();
    let engine = Engine::new(Arc::new(move |call: ServiceCall| -> ServiceFuture {
        st.lock().unwrap().push((call.element_id.clone(), t0.elapsed()));
        let secs = if call.binding.task_type == "slow" { 60 } else { 1 };
        Box::pin(async move {
            tokio::time::sleep(Duration::from_secs(secs)).await;
            ServiceResult::Complete(Map::new())
        })
    }));
    let mut inst = engine.start(&defs, "p", Map::new()).unwrap();
    assert_eq!(inst.run().await, RunOutcome::Completed);
    let starts = starts.lock().unwrap().clone();
    let fast2 = starts.iter().find(|(e, _)| &**e == "fast2").map(|(_, t)| *t);
    assert_eq!(
        fast2,
        Some(Duration::from_secs(1)),
        "fast2 starts when fast1 ends, not when slow ends: {starts:?}"
    );
    assert_eq!(t0.elapsed(), Duration::from_secs(60));
}

/// An instance resumed from its snapshot in memory (no trip through serde) finds its tokens'
/// elements again: the resumed instance indexes its processes in its own order (here the
/// first called process has finished, so the second moves up), and nothing carried over from
/// the original instance may point at the wrong one.
#[tokio::test]
async fn a_snapshot_resumed_in_memory_continues() {
    let xml = br#"<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL">
      <process id="P" isExecutable="true">
        <startEvent id="s"/><sequenceFlow id="f1" sourceRef="s" targetRef="callC"/>
        <callActivity id="callC" calledElement="C"/><sequenceFlow id="f2" sourceRef="callC" targetRef="callD"/>
        <callActivity id="callD" calledElement="D"/><sequenceFlow id="f3" sourceRef="callD" targetRef="e"/>
        <endEvent id="e"/>
      </process>
      <process id="C"><startEvent id="cs"/><sequenceFlow id="c1" sourceRef="cs" targetRef="ce"/><endEvent id="ce"/></process>
      <process id="D"><startEvent id="ds"/><sequenceFlow id="d1" sourceRef="ds" targetRef="approve"/>
        <userTask id="approve"/><sequenceFlow id="d2" sourceRef="approve" targetRef="de"/><endEvent id="de"/></process>
    </definitions>"#;
    let (defs, diags) = servicetask_bpmn::parse("resume.bpmn", xml);
    assert!(!diags.iter().any(|d| d.is_error()), "{diags:?}");
    let engine = Engine::new(Arc::new(StubHandler));
    let mut first = engine.start(&defs, "P", Map::new()).unwrap();
    assert!(matches!(first.run().await, RunOutcome::Waiting { .. }));
    let mut resumed = engine.resume(&defs, first.snapshot()).unwrap();
    resumed.complete_task("approve", Map::new()).unwrap();
    assert_eq!(resumed.run().await, RunOutcome::Completed);
    let done = ids(&resumed);
    for id in ["callC", "approve", "callD", "e"] {
        assert!(done.iter().any(|d| d == id), "{id} missing from {done:?}");
    }
}

/// BPMN 2.0 §10.5.2: a message start event's trigger instantiates the process; started
/// without the message, the instance waits at the start event, and the message starts it.
#[tokio::test]
async fn a_message_start_event_waits_for_its_message() {
    let xml = br#"<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"><message id="m" name="go"/>
      <process id="p"><startEvent id="s"><messageEventDefinition messageRef="m"/></startEvent>
      <sequenceFlow id="f" sourceRef="s" targetRef="e"/><endEvent id="e"/></process></definitions>"#;
    let (defs, diags) = servicetask_bpmn::parse("msg.bpmn", xml);
    assert!(diags.iter().all(|d| !d.is_error()), "{diags:?}");
    let engine = Engine::new(Arc::new(StubHandler));
    let mut inst = engine.start(&defs, "p", Map::new()).unwrap();
    assert!(matches!(inst.run().await, RunOutcome::Waiting { .. }));
    assert!(ids(&inst).is_empty(), "{:?}", ids(&inst));
    assert_eq!(inst.send_message("go", obj(json!({"n": 1}))).unwrap(), 1);
    assert_eq!(inst.run().await, RunOutcome::Completed);
    assert_eq!(ids(&inst), ["s", "e"]);
    assert_eq!(Value::Object(inst.variables()), json!({"n": 1}));
}
