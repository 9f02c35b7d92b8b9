//! The span tree, attributes, status, error.type and metric values an execution emits, read
//! from the OpenTelemetry SDK's in-memory exporters.

use opentelemetry::trace::{SpanKind, Status, TraceContextExt, Tracer, TracerProvider as _};
use opentelemetry::Context;
use servicetask::testing::TestTelemetry;
use servicetask::{
    service_task, task_fn, ErrorClass, ProcessInfo, RunOptions, Runner, TaskConfig, TaskContext, TaskError, TaskInput,
    TaskOutcome,
};

#[derive(Clone, serde::Deserialize, serde::Serialize, schemars::JsonSchema, TaskInput)]
struct Login {
    #[task(non_empty)]
    user: String,
    #[task(sensitive)]
    password: String,
    #[task(size)]
    items: Vec<u32>,
}

#[service_task(name = "login", attributes(team = "identity"))]
async fn login(cx: &TaskContext, input: Login) -> Result<u32, TaskError> {
    let n = cx
        .step("hash", async {
            cx.step("salt", async { Ok::<_, TaskError>(1u32) }).await?;
            Ok::<_, TaskError>(input.items.len() as u32)
        })
        .await?;
    cx.metrics().add("logins", 1, &[]);
    if input.user == "mallory" {
        return Err(TaskError::dependency(format!("directory refused user {}", input.user)));
    }
    Ok(n)
}

fn attr(span: &opentelemetry_sdk::trace::SpanData, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.to_string())
}

#[tokio::test]
async fn span_tree_caller_task_steps_with_attributes_and_metrics() {
    let t = TestTelemetry::new();
    let runner = Runner::builder().telemetry(t.telemetry()).build();
    let task = runner.register(LoginTask).unwrap();

    let tracer = t.tracer_provider.tracer("caller");
    let caller = tracer.start("caller");
    let caller_cx = Context::current_with_span(caller);
    let input = Login {
        user: "ann".into(),
        password: "hunter2".into(),
        items: vec![1, 2, 3],
    };
    let out = task
        .run_with(
            input,
            RunOptions {
                parent: Some(caller_cx.clone()),
                process: ProcessInfo {
                    process_id: Some("p".into()),
                    instance_id: Some("i-1".into()),
                    element_id: Some("Login".into()),
                    element_type: Some("serviceTask".into()),
                    ..ProcessInfo::default()
                },
                ..RunOptions::default()
            },
        )
        .await;
    caller_cx.span().end();
    assert!(matches!(out, TaskOutcome::Complete(3)), "{out:?}");

    let caller = t.span("caller");
    let task_span = t.span("login");
    let hash = t.span("hash");
    let salt = t.span("salt");
    assert_eq!(task_span.parent_span_id, caller.span_context.span_id());
    assert_eq!(hash.parent_span_id, task_span.span_context.span_id());
    assert_eq!(salt.parent_span_id, hash.span_context.span_id());
    assert_eq!(task_span.span_context.trace_id(), caller.span_context.trace_id());
    assert_eq!(task_span.span_kind, SpanKind::Internal);
    assert_eq!(attr(&task_span, "servicetask.name").as_deref(), Some("login"));
    assert_eq!(attr(&task_span, "servicetask.outcome").as_deref(), Some("complete"));
    assert_eq!(attr(&task_span, "servicetask.input.size").as_deref(), Some("3"));
    assert_eq!(attr(&task_span, "team").as_deref(), Some("identity"));
    assert_eq!(attr(&task_span, "bpmn.process.id").as_deref(), Some("p"));
    assert_eq!(attr(&task_span, "bpmn.process.instance.id").as_deref(), Some("i-1"));
    assert_eq!(attr(&task_span, "bpmn.element.id").as_deref(), Some("Login"));
    assert_eq!(task_span.status, Status::Unset);
    assert_eq!(attr(&task_span, "error.type"), None);

    let durations = t.metric("servicetask.duration");
    assert_eq!(durations.len(), 1);
    assert_eq!(durations[0].count, 1);
    assert_eq!(durations[0].attr("servicetask.outcome").as_deref(), Some("complete"));
    assert_eq!(durations[0].attr("error.type"), None);
    assert_eq!(t.counter_total("servicetask.executions"), 1.0);
    assert_eq!(t.counter_total("servicetask.in_flight"), 0.0);
    let logins = t.metric("logins");
    assert_eq!(logins.len(), 1);
    assert_eq!(logins[0].value, 1.0);
    assert_eq!(logins[0].attr("servicetask.name").as_deref(), Some("login"));
}

#[tokio::test]
async fn failure_sets_status_error_type_and_failed_metrics_only() {
    let t = TestTelemetry::new();
    let runner = Runner::builder().telemetry(t.telemetry()).build();
    let task = runner.register(LoginTask).unwrap();
    let out = task
        .run(Login {
            user: "mallory".into(),
            password: "s3cret-value".into(),
            items: vec![],
        })
        .await;
    let TaskOutcome::Failure {
        error, retries_left, ..
    } = out
    else {
        panic!("expected failure")
    };
    assert_eq!(error.class(), ErrorClass::Dependency);
    assert_eq!(retries_left, 0);
    assert_eq!(error.context().task.as_deref(), Some("login"));
    assert_eq!(error.context().attempt, Some(1));
    let span = t.span("login");
    assert_eq!(error.context().trace_id, Some(span.span_context.trace_id().to_string()));
    // The non-sensitive input is in the error context; the password is not.
    let input = error.context().input.clone().unwrap();
    assert_eq!(input["user"], "mallory");
    assert!(input.get("password").is_none());
    assert!(!error.report().contains("s3cret-value"));

    assert!(matches!(&span.status, Status::Error { description } if description.contains("directory refused")));
    assert_eq!(attr(&span, "error.type").as_deref(), Some("dependency"));
    assert_eq!(attr(&span, "servicetask.outcome").as_deref(), Some("failure"));
    let d = t.metric("servicetask.duration");
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].attr("error.type").as_deref(), Some("dependency"));
    assert_eq!(d[0].attr("servicetask.outcome").as_deref(), Some("failure"));
}

#[tokio::test]
async fn sensitive_value_never_reaches_exported_telemetry_or_errors() {
    let t = TestTelemetry::new();
    let runner = Runner::builder().telemetry(t.telemetry()).build();
    let task = runner.register(LoginTask).unwrap();
    let secret = "pa55-w0rd-XYZZY";
    for user in ["ann", "mallory", ""] {
        let out = task
            .run(Login {
                user: user.into(),
                password: secret.into(),
                items: vec![1],
            })
            .await;
        if let TaskOutcome::Failure { error, .. } = &out {
            assert!(!error.report().contains(secret));
            assert!(!format!("{error:?}").contains(secret));
        }
    }
    let text = t.all_text();
    assert!(text.contains("login"), "the scan saw the exported telemetry");
    assert!(!text.contains(secret), "the sensitive value leaked into telemetry");
}

#[tokio::test]
async fn validation_failure_is_not_retried_and_named() {
    let t = TestTelemetry::new();
    let runner = Runner::builder().telemetry(t.telemetry()).build();
    let task = runner.register(LoginTask).unwrap();
    let out = task
        .run(Login {
            user: "  ".into(),
            password: "x".into(),
            items: vec![],
        })
        .await;
    let TaskOutcome::Failure {
        error, retries_left, ..
    } = out
    else {
        panic!()
    };
    assert_eq!(error.class(), ErrorClass::Validation);
    assert_eq!(retries_left, 0);
    assert!(error.message().contains("user: must not be empty"));
    assert_eq!(attr(&t.span("login"), "error.type").as_deref(), Some("validation"));
    assert!(t.spans().iter().all(|s| s.name != "hash"), "the task body must not run");
}

#[tokio::test]
async fn a_panicking_task_fails_alone() {
    let t = TestTelemetry::new();
    let runner = Runner::builder().telemetry(t.telemetry()).build();
    let boom = runner
        .register(task_fn(
            TaskConfig::named("boom"),
            |_cx: TaskContext, n: u32| async move {
                if n > 0 {
                    panic!("bad index {n}");
                }
                Ok::<_, TaskError>(n)
            },
        ))
        .unwrap();
    let ok = runner
        .register(task_fn(
            TaskConfig::named("fine"),
            |_cx: TaskContext, n: u32| async move { Ok::<_, TaskError>(n + 1) },
        ))
        .unwrap();
    let (a, b) = tokio::join!(boom.run(3), ok.run(1));
    let TaskOutcome::Failure { error, .. } = a else {
        panic!()
    };
    assert_eq!(error.class(), ErrorClass::Panic);
    // classified, its message (which may hold input) left out
    assert!(
        error.message().contains("task panicked: a panic with a message"),
        "{}",
        error.message()
    );
    assert!(!error.report().contains("bad index 3"));
    assert!(matches!(b, TaskOutcome::Complete(2)));
    let span = t.span("boom");
    assert_eq!(attr(&span, "error.type").as_deref(), Some("panic"));
    assert!(span.events.events.iter().any(|e| e.name == "exception"));
    // The runner still works afterwards.
    assert!(matches!(boom.run(0).await, TaskOutcome::Complete(0)));
}

#[tokio::test]
async fn bpmn_error_is_its_own_outcome_not_a_span_error() {
    let t = TestTelemetry::new();
    let runner = Runner::builder().telemetry(t.telemetry()).build();
    let h = runner
        .register(task_fn(
            TaskConfig::named("stock"),
            |cx: TaskContext, _n: u32| async move { Err::<u32, _>(cx.bpmn_error("OUT_OF_STOCK", "no stock left")) },
        ))
        .unwrap();
    let out = h.run(1).await;
    assert!(matches!(out, TaskOutcome::BpmnError { ref code, .. } if code == "OUT_OF_STOCK"));
    let span = t.span("stock");
    assert_eq!(span.status, Status::Unset);
    assert_eq!(attr(&span, "bpmn.error.code").as_deref(), Some("OUT_OF_STOCK"));
    assert_eq!(attr(&span, "servicetask.outcome").as_deref(), Some("bpmn_error"));
}

#[tokio::test]
async fn traceparent_in_options_continues_the_remote_trace() {
    let t = TestTelemetry::new();
    let runner = Runner::builder().telemetry(t.telemetry()).build();
    let h = runner
        .register(task_fn(TaskConfig::named("remote"), |_cx: TaskContext, _i: ()| async {
            Ok::<_, TaskError>(())
        }))
        .unwrap();
    h.run_with(
        (),
        RunOptions {
            traceparent: Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into()),
            ..RunOptions::default()
        },
    )
    .await;
    let span = t.span("remote");
    assert_eq!(
        span.span_context.trace_id().to_string(),
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
    assert_eq!(span.parent_span_id.to_string(), "00f067aa0ba902b7");
}

#[tokio::test]
async fn run_json_by_name_maps_variables_and_rejects_bad_input() {
    let t = TestTelemetry::new();
    let runner = Runner::builder().telemetry(t.telemetry()).build();
    runner.register(LoginTask).unwrap();
    let vars: serde_json::Map<String, serde_json::Value> =
        serde_json::from_value(serde_json::json!({"user": "ann", "password": "p", "items": [1, 2]})).unwrap();
    let out = runner.run_json("login", vars, RunOptions::default()).await.unwrap();
    let TaskOutcome::Complete(vars) = out else { panic!() };
    assert_eq!(vars["result"], 2);
    let bad: serde_json::Map<String, serde_json::Value> =
        serde_json::from_value(serde_json::json!({"user": 5})).unwrap();
    let out = runner.run_json("login", bad, RunOptions::default()).await.unwrap();
    let TaskOutcome::Failure { error, .. } = out else {
        panic!()
    };
    assert_eq!(error.class(), ErrorClass::Validation);
    assert!(runner
        .run_json("nope", Default::default(), RunOptions::default())
        .await
        .is_none());
    let schema = runner.task("login").unwrap().schema();
    assert_eq!(schema["sensitive_fields"][0], "password");
    assert!(schema["input"]["properties"]["items"].is_object());
}

#[tokio::test]
async fn tracing_spans_inside_a_task_nest_under_the_task_span() {
    use tracing_subscriber::layer::SubscriberExt;
    let t = TestTelemetry::new();
    let layer = tracing_opentelemetry::layer().with_tracer(t.tracer_provider.tracer("tracing"));
    let subscriber = tracing_subscriber::registry().with(layer);
    let _guard = tracing::subscriber::set_default(subscriber);
    let runner = Runner::builder().telemetry(t.telemetry()).build();
    let h = runner
        .register(task_fn(TaskConfig::named("traced"), |_cx: TaskContext, _i: ()| async {
            let span = tracing::info_span!("inner_work");
            let _e = span.enter();
            tracing::info!("working");
            Ok::<_, TaskError>(())
        }))
        .unwrap();
    h.run(()).await;
    let task = t.span("traced");
    let inner = t.span("inner_work");
    assert_eq!(inner.parent_span_id, task.span_context.span_id());
    assert_eq!(inner.span_context.trace_id(), task.span_context.trace_id());
}
