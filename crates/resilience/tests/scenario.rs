//! A real dependency (a TCP server on 127.0.0.1 started by the test) that is flaky, then down,
//! then back: the `dependency:inventory` breaker opens within its window, rejects without
//! touching the server, probes, and closes; the exported spans and metrics tell that story.

mod support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use servicetask_core::layer::{AttemptResult, BoxFuture, FallbackValue, Invoke, TaskValue};
use servicetask_core::semconv::{self, event, metric};
use servicetask_core::{BreakerConfig, DependencyPolicy, ErrorClass, TaskConfig, TaskContext, TaskError};
use servicetask_resilience::{layers, BreakerState, DependencyConfig, ManualClock, Resilience};
use support::{run, Otel};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

const FLAKY: u8 = 0;
const DOWN: u8 = 1;
const UP: u8 = 2;

/// A line server: answers `OK` or `ERR` per its mode, counting connections.
struct Server {
    addr: SocketAddr,
    mode: Arc<AtomicU8>,
    connections: Arc<AtomicU32>,
}

async fn start_server() -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mode = Arc::new(AtomicU8::new(FLAKY));
    let connections = Arc::new(AtomicU32::new(0));
    let (m, c) = (mode.clone(), connections.clone());
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let n = c.fetch_add(1, Ordering::SeqCst) + 1;
            let ok = match m.load(Ordering::SeqCst) {
                FLAKY => n % 4 != 0, // every 4th call fails: 25%
                DOWN => false,
                _ => true,
            };
            tokio::spawn(async move {
                let (r, mut w) = stream.into_split();
                let mut line = String::new();
                let _ = BufReader::new(r).read_line(&mut line).await;
                let _ = w.write_all(if ok { b"OK\n" } else { b"ERR\n" }).await;
            });
        }
    });
    Server {
        addr,
        mode,
        connections,
    }
}

async fn check_stock(addr: SocketAddr) -> Result<u32, TaskError> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.write_all(b"STOCK sku-1\n").await?;
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).await?;
    match line.trim() {
        "OK" => Ok(42),
        other => Err(TaskError::dependency(format!("inventory answered {other:?}"))),
    }
}

/// The task: one call to the inventory service through `cx.dependency`.
struct Restock(SocketAddr);

impl Invoke for Restock {
    fn invoke<'a>(&'a self, cx: &'a TaskContext) -> BoxFuture<'a, AttemptResult> {
        Box::pin(async move {
            let n = cx.dependency("inventory").call(check_stock(self.0)).await?;
            Ok(Box::new(n) as TaskValue)
        })
    }
}

#[tokio::test]
async fn flaky_then_down_then_back() {
    let server = start_server().await;
    let otel = Otel::new();
    let clock = Arc::new(ManualClock::default());
    let res = Arc::new(
        Resilience::builder()
            .telemetry(otel.telemetry.clone())
            .clock(clock.clone())
            .dependency(
                "inventory",
                DependencyConfig {
                    breaker: Some(BreakerConfig {
                        window_size: 8,
                        minimum_calls: 4,
                        failure_rate_threshold: 50.0,
                        permitted_calls_in_half_open: 2,
                        wait_in_open: Duration::from_secs(30),
                        ..BreakerConfig::default()
                    }),
                    bulkhead: None,
                },
            )
            .build(),
    );
    let config = TaskConfig::builder("restock")
        .fallback_value(ErrorClass::CircuitOpen, json!({"stock": null, "degraded": true}))
        .build();
    let stack = layers(&config, &res);
    let task = Restock(server.addr);
    let breaker = res.breaker("dependency:inventory").expect("made at build");
    let mut execution = 0;
    let mut execute = || {
        execution += 1;
        let cx = otel.context(
            &format!("restock#{execution}"),
            Some(res.clone() as Arc<dyn DependencyPolicy>),
        );
        let (stack, task, otel) = (&stack, &task, &otel);
        async move {
            let r = run(stack, task, &cx).await;
            otel.end(&cx);
            r.map(|v| match v.downcast::<u32>() {
                Ok(n) => json!(*n),
                Err(v) => v.downcast::<FallbackValue>().unwrap().0,
            })
        }
    };

    // Flaky: 8 calls, 2 fail (25%): the breaker stays closed.
    let mut failures = 0;
    for _ in 0..8 {
        failures += u32::from(execute().await.is_err());
    }
    assert_eq!(failures, 2);
    assert_eq!(breaker.state(), BreakerState::Closed);
    assert_eq!(
        (breaker.window_totals().calls, breaker.window_totals().failures),
        (8, 2)
    );

    // Down: the window (last 8 calls) reaches 4 failures of 8 on the 2nd call: it opens.
    server.mode.store(DOWN, Ordering::SeqCst);
    assert!(execute().await.is_err());
    assert_eq!(breaker.state(), BreakerState::Closed);
    assert!(execute().await.is_err());
    assert_eq!(breaker.state(), BreakerState::Open, "opened on execution 10");
    assert_eq!(server.connections.load(Ordering::SeqCst), 10);

    // Open: rejected at once, the server is not touched, the fallback answers.
    for _ in 0..5 {
        assert_eq!(execute().await.unwrap(), json!({"stock": null, "degraded": true}));
    }
    assert_eq!(
        server.connections.load(Ordering::SeqCst),
        10,
        "no connection while open"
    );

    // Back: after the wait, exactly two probes reach the server, then the breaker closes.
    server.mode.store(UP, Ordering::SeqCst);
    clock.advance(Duration::from_secs(30));
    assert_eq!(execute().await.unwrap(), json!(42));
    assert_eq!(breaker.state(), BreakerState::HalfOpen);
    assert_eq!(execute().await.unwrap(), json!(42));
    assert_eq!(breaker.state(), BreakerState::Closed);
    assert_eq!(execute().await.unwrap(), json!(42));
    assert_eq!(server.connections.load(Ordering::SeqCst), 13);

    // The story, as exported.
    let transitions: Vec<(String, String, String)> = otel
        .events_named(event::BREAKER_TRANSITION)
        .into_iter()
        .map(|e| {
            assert_eq!(
                e.attr(semconv::SERVICETASK_BREAKER_NAME).as_deref(),
                Some("dependency:inventory")
            );
            (
                e.span.clone(),
                e.attr(semconv::SERVICETASK_BREAKER_PREVIOUS_STATE).unwrap(),
                e.attr(semconv::SERVICETASK_BREAKER_STATE).unwrap(),
            )
        })
        .collect();
    let t = |s: &str, a: &str, b: &str| (s.to_string(), a.to_string(), b.to_string());
    assert_eq!(
        transitions,
        [
            t("restock#10", "closed", "open"),
            t("restock#16", "open", "half_open"),
            t("restock#17", "half_open", "closed"),
        ]
    );
    let rejected: Vec<String> = otel
        .events_named(event::REJECTION)
        .into_iter()
        .map(|e| e.span)
        .collect();
    assert_eq!(
        rejected,
        ["restock#11", "restock#12", "restock#13", "restock#14", "restock#15"]
    );
    let fallbacks = otel.events_named(event::FALLBACK);
    assert_eq!(fallbacks.len(), 5);
    assert!(fallbacks
        .iter()
        .all(|e| e.attr(semconv::SERVICETASK_FALLBACK_REASON).as_deref() == Some("circuit_open")));
    // One client span per call that reached the server; none for rejected calls.
    let client_spans = otel.spans().into_iter().filter(|s| s.name == "inventory").count();
    assert_eq!(client_spans, 13);

    let name = (semconv::SERVICETASK_BREAKER_NAME, "dependency:inventory");
    assert_eq!(otel.sum(metric::BREAKER_TRANSITIONS, &[name]), 3.0);
    assert_eq!(
        otel.sum(
            metric::REJECTIONS,
            &[
                (semconv::SERVICETASK_NAME, "restock"),
                (semconv::SERVICETASK_REJECTION_REASON, "breaker_open")
            ]
        ),
        5.0
    );
    assert_eq!(
        otel.sum(
            metric::FALLBACKS,
            &[(semconv::SERVICETASK_FALLBACK_REASON, "circuit_open")]
        ),
        5.0
    );
    assert_eq!(
        otel.sum(
            metric::DEPENDENCY_CALLS,
            &[
                (semconv::PEER_SERVICE, "inventory"),
                (semconv::SERVICETASK_OUTCOME, "failure")
            ]
        ),
        4.0
    );
    let gauge = otel.gauge_states("dependency:inventory");
    assert_eq!(
        gauge,
        [
            ("closed".to_string(), 1.0),
            ("forced_closed".to_string(), 0.0),
            ("forced_open".to_string(), 0.0),
            ("half_open".to_string(), 0.0),
            ("open".to_string(), 0.0),
        ]
    );
}
