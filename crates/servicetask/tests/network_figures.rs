//! Network bytes are among an execution's resource figures: what a task's dependency calls
//! sent and received reaches the execution span (`servicetask.network.*`) and the record the
//! history stores (per dependency, and summed).

use std::sync::Arc;

use servicetask::testing::TestTelemetry;
use servicetask::{task_fn, Runner, TaskConfig, TaskContext, TaskError};
use servicetask_test_support::records::KeepRecords;

#[test]
fn the_span_and_the_record_carry_the_network_bytes() {
    let t = TestTelemetry::new();
    let keep = Arc::new(KeepRecords::default());
    let runner = Runner::builder()
        .telemetry(t.telemetry())
        .record_sink(keep.clone())
        .build();
    let h = runner
        .register(task_fn(
            TaskConfig::named("fetch"),
            |cx: TaskContext, _: ()| async move {
                // what the HTTP client does for each request: a call, then its body bytes
                cx.dependency("api.example.com")
                    .call(async { Ok::<_, TaskError>(()) })
                    .await?;
                cx.stats().add_dependency_bytes("api.example.com", 300, 4_000);
                cx.dependency("api.example.com")
                    .call(async { Ok::<_, TaskError>(()) })
                    .await?;
                cx.stats().add_dependency_bytes("api.example.com", 0, 1_000);
                Ok::<_, TaskError>(())
            },
        ))
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async { h.run(()).await.into_result().unwrap() });
    let records = keep.records();
    let r = &records[0];
    assert_eq!((r.net_bytes_sent(), r.net_bytes_received()), (300, 5_000));
    assert_eq!(r.dependencies[0].calls, 2);
    let spans = t.spans();
    let exec = spans.iter().find(|s| s.name == "fetch").expect("the execution span");
    let attr = |k: &str| {
        exec.attributes
            .iter()
            .find(|kv| kv.key.as_str() == k)
            .map(|kv| kv.value.to_string())
    };
    assert_eq!(attr("servicetask.network.sent_bytes").as_deref(), Some("300"));
    assert_eq!(attr("servicetask.network.received_bytes").as_deref(), Some("5000"));
}
