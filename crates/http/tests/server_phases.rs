//! The HTTP client against a real local server (axum on 127.0.0.1:0) that is fast, then flaky
//! (503 with `Retry-After` in both forms), then down (connection refused), then back: client
//! spans with the HTTP conventions (in-memory OpenTelemetry exporter), the host's breaker
//! opening and recovering, bytes equal to what the server counted, `Retry-After` honoured and
//! bounded by the policy, and the trace continued by the server from `traceparent`.

mod support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Router;
use opentelemetry::trace::Status;
use opentelemetry_sdk::trace::SpanData;
use servicetask_core::{BreakerConfig, DependencyPolicy, ErrorClass, Jitter, RetryConfig};
use servicetask_http::{HttpClient, HttpSettings};
use servicetask_resilience::{BreakerState, DependencyConfig, ManualClock, Resilience};
use support::{attr, otel, traceparent};
use tokio::sync::oneshot;

/// What the server saw and did.
#[derive(Default)]
struct Server {
    /// Requests still to answer 503, and the Retry-After value to send with them.
    flaky: AtomicU32,
    retry_after: Mutex<String>,
    requests: AtomicU32,
    body_in: AtomicU64,
    body_out: AtomicU64,
    /// (trace id, parent span id) read from each request's traceparent.
    parents: Mutex<Vec<(String, String)>>,
}

async fn handle(State(s): State<Arc<Server>>, headers: HeaderMap, body: Bytes) -> impl IntoResponse {
    s.requests.fetch_add(1, Ordering::SeqCst);
    s.body_in.fetch_add(body.len() as u64, Ordering::SeqCst);
    if let Some(p) = traceparent(&headers) {
        s.parents.lock().unwrap().push(p);
    }
    let flaky = s
        .flaky
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    let (status, extra, out) = if flaky {
        let ra = s.retry_after.lock().unwrap().clone();
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Some(ra),
            "busy, come back later".to_string(),
        )
    } else {
        (StatusCode::OK, None, format!("ok {} {}", body.len(), "x".repeat(200)))
    };
    s.body_out.fetch_add(out.len() as u64, Ordering::SeqCst);
    let mut h = HeaderMap::new();
    if let Some(ra) = extra {
        h.insert("retry-after", ra.parse().unwrap());
    }
    (status, h, out)
}

/// A running server; `stop` closes it and waits until the port refuses connections.
struct Running {
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

async fn start(addr: SocketAddr, state: Arc<Server>) -> (SocketAddr, Running) {
    let listener = tokio::net::TcpListener::bind(addr).await.expect("bind");
    let addr = listener.local_addr().unwrap();
    let app = Router::new().fallback(handle).with_state(state);
    let (stop, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .await
            .unwrap();
    });
    (addr, Running { stop, task })
}

impl Running {
    async fn stop(self) {
        let _ = self.stop.send(());
        self.task.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fast_flaky_down_back() {
    let o = otel();
    let state = Arc::new(Server::default());
    let (addr, server) = start("127.0.0.1:0".parse().unwrap(), state.clone()).await;
    let dep = format!("127.0.0.1:{}", addr.port());
    let clock = Arc::new(ManualClock::default());
    let resilience = Arc::new(
        Resilience::builder()
            .clock(clock.clone())
            .telemetry(o.telemetry.clone())
            // every host gets its own breaker from the defaults
            .default_dependency(DependencyConfig {
                breaker: Some(BreakerConfig {
                    window_size: 8,
                    minimum_calls: 4,
                    failure_rate_threshold: 50.0,
                    permitted_calls_in_half_open: 1,
                    wait_in_open: Duration::from_secs(30),
                    ..BreakerConfig::default()
                }),
                bulkhead: None,
            })
            .dependency_retry(
                dep.clone(),
                RetryConfig {
                    max_attempts: 3,
                    initial_delay: Duration::from_millis(20),
                    max_delay: Duration::from_millis(1500),
                    multiplier: 2.0,
                    jitter: Jitter::None,
                    ..RetryConfig::default()
                },
            )
            .build(),
    );
    let cx = support::context(
        "fetch-orders",
        &o.telemetry,
        resilience.clone() as Arc<dyn DependencyPolicy>,
    );
    let exec_trace = cx.trace_id().unwrap();
    let client = HttpClient::new(HttpSettings {
        timeout: Duration::from_secs(5),
        ..HttpSettings::default()
    })
    .unwrap();
    let http = client.on(&cx);
    let base = format!("http://{addr}");
    let secret_url = format!("{base}/orders?token=s3cr3t&page=1");

    // ---- fast
    for _ in 0..3 {
        let r = http.get(&secret_url).send().await.expect("fast GET");
        assert_eq!(r.status(), 200);
        assert_eq!(r.dependency(), dep);
    }
    let r = http
        .post(&format!("{base}/orders"))
        .body(vec![7u8; 1000])
        .send()
        .await
        .unwrap();
    assert!(r.text().starts_with("ok 1000 "), "{}", r.text());

    // ---- flaky: Retry-After in seconds, as an HTTP-date, and over the policy's cap
    // an HTTP-date 2 s ahead has whole seconds, so it asks for between 1 and 2 s
    let in_2s = || httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(2));
    let seconds = |s: &'static str| move || s.to_string();
    let phases: [(&dyn Fn() -> String, u128, u128); 3] = [
        (&seconds("1"), 1000, 1700),
        (&in_2s, 900, 2700),
        (&seconds("3600"), 1500, 2200),
    ];
    for (make, at_least, below) in phases {
        let header = make();
        *state.retry_after.lock().unwrap() = header.clone();
        state.flaky.store(1, Ordering::SeqCst);
        let t = Instant::now();
        let r = http.get(&secret_url).send().await.expect("the retry succeeds");
        let waited = t.elapsed().as_millis();
        assert_eq!(r.status(), 200);
        assert!(
            (at_least..below).contains(&waited),
            "Retry-After {header:?}: waited {waited} ms, expected [{at_least}, {below})"
        );
    }
    let breaker = resilience
        .breaker(&format!("dependency:{dep}"))
        .expect("the host's breaker");
    assert_eq!(breaker.state(), BreakerState::Closed);

    // ---- down: connection refused, retried, then the breaker opens and rejects at once
    server.stop().await;
    let seen_before_down = state.requests.load(Ordering::SeqCst);
    let e = http.get(&secret_url).send().await.unwrap_err();
    assert!(
        matches!(e.class(), ErrorClass::Network | ErrorClass::CircuitOpen),
        "{e}"
    );
    assert!(!e.to_string().contains("s3cr3t"), "{e}");
    assert_eq!(breaker.state(), BreakerState::Open);
    let t = Instant::now();
    let e = http.get(&secret_url).send().await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::CircuitOpen, "{e}");
    assert!(t.elapsed() < Duration::from_millis(200));

    // ---- back: still rejected until the breaker's wait is over, then one probe closes it
    let (_, server) = start(addr, state.clone()).await;
    let e = http.get(&secret_url).send().await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::CircuitOpen);
    assert_eq!(state.requests.load(Ordering::SeqCst), seen_before_down);
    clock.advance(Duration::from_secs(31));
    let r = http.get(&secret_url).send().await.expect("the probe succeeds");
    assert_eq!(r.status(), 200);
    assert_eq!(breaker.state(), BreakerState::Closed);
    server.stop().await;

    // ---- bytes and errors by class in the execution's totals
    let deps = cx.stats().dependencies();
    assert_eq!(deps.len(), 1);
    let d = &deps[0];
    assert_eq!(d.name, dep);
    assert_eq!(d.bytes_sent, state.body_in.load(Ordering::SeqCst));
    assert_eq!(d.bytes_received, state.body_out.load(Ordering::SeqCst));
    assert_eq!(d.bytes_sent, 1000);
    assert_eq!(cx.stats().net_bytes_received.load(Ordering::SeqCst), d.bytes_received);
    assert_eq!(d.errors.get("dependency"), Some(&3), "{:?}", d.errors);
    assert!(d.errors.get("network").is_some_and(|&n| n >= 1), "{:?}", d.errors);
    assert!(d.errors.get("circuit_open").is_some_and(|&n| n >= 2), "{:?}", d.errors);
    assert_eq!(d.failures, d.errors.values().sum::<u32>());

    // ---- spans
    cx.span().end();
    o.provider.force_flush().unwrap();
    let spans = o.spans.get_finished_spans().unwrap();
    let client_spans: Vec<&SpanData> = spans
        .iter()
        .filter(|s| s.span_kind == opentelemetry::trace::SpanKind::Client)
        .collect();
    // 4 fast, 3 x (503 + 200), the down attempts (at least one), the probe; rejections make none
    let least = 4 + 6 + 1 + 1;
    assert!(client_spans.len() >= least, "{}", client_spans.len());
    for s in &client_spans {
        assert!(s.name == "GET" || s.name == "POST", "{}", s.name);
        assert_eq!(attr(s, "http.request.method").as_deref(), Some(&*s.name));
        assert_eq!(attr(s, "server.address").as_deref(), Some("127.0.0.1"));
        assert_eq!(attr(s, "server.port"), Some(addr.port().to_string()));
        assert_eq!(attr(s, "peer.service"), Some(dep.clone()));
        let url = attr(s, "url.full").unwrap();
        assert!(url.starts_with(&base), "{url}");
        for kv in &s.attributes {
            assert!(!kv.value.to_string().contains("s3cr3t"), "{kv:?}");
        }
        assert_eq!(s.span_context.trace_id().to_string(), exec_trace);
    }
    let failed_503: Vec<_> = client_spans
        .iter()
        .filter(|s| attr(s, "http.response.status_code").as_deref() == Some("503"))
        .collect();
    assert_eq!(failed_503.len(), 3);
    for s in &failed_503 {
        assert_eq!(attr(s, "error.type").as_deref(), Some("503"));
        assert!(matches!(s.status, Status::Error { .. }));
    }
    let resent: Vec<_> = client_spans
        .iter()
        .filter(|s| attr(s, "http.request.resend_count").as_deref() == Some("1"))
        .collect();
    assert!(resent.len() >= 3);
    let refused: Vec<_> = client_spans
        .iter()
        .filter(|s| attr(s, "error.type").as_deref() == Some("network"))
        .collect();
    assert!(!refused.is_empty());
    for s in &refused {
        assert_eq!(attr(s, "http.response.status_code"), None);
        let Status::Error { description } = &s.status else {
            panic!("a refused attempt's span is an error: {:?}", s.status)
        };
        assert!(description.contains("could not connect"), "{description}");
        assert!(
            description.contains("token=REDACTED") && !description.contains("s3cr3t"),
            "{description}"
        );
    }
    let ok = client_spans
        .iter()
        .filter(|s| attr(s, "http.response.status_code").as_deref() == Some("200"))
        .count();
    assert_eq!(ok, 4 + 3 + 1);
    let post = client_spans.iter().find(|s| s.name == "POST").unwrap();
    assert_eq!(attr(post, "http.request.body.size").as_deref(), Some("1000"));

    // ---- the server continued the trace: every request it saw names a client span as parent
    let parents = state.parents.lock().unwrap().clone();
    assert_eq!(parents.len() as u32, state.requests.load(Ordering::SeqCst));
    for (trace, parent) in &parents {
        assert_eq!(trace, &exec_trace);
        assert!(
            client_spans
                .iter()
                .any(|s| &s.span_context.span_id().to_string() == parent),
            "the server's parent {parent} is no client span"
        );
    }
}

/// A Retry-After longer than what is left of the dependency's `retry.max_elapsed` ends the
/// request at once with an error that says so (carrying the wait for a later retry), instead
/// of sleeping past the limit; a shorter one is honoured. A spent retry budget ends a request
/// as `budget_exhausted` after its first failure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_stop_at_max_elapsed_and_the_retry_budget() {
    let o = otel();
    let state = Arc::new(Server::default());
    let (addr, server) = start("127.0.0.1:0".parse().unwrap(), state.clone()).await;
    let limited = format!("127.0.0.1:{}", addr.port());
    let retry = RetryConfig {
        max_attempts: 5,
        initial_delay: Duration::from_millis(10),
        max_delay: Duration::from_secs(120),
        jitter: Jitter::None,
        ..RetryConfig::default()
    };
    let resilience = Arc::new(
        Resilience::builder()
            .telemetry(o.telemetry.clone())
            .dependency_retry(
                limited.clone(),
                RetryConfig {
                    max_elapsed: Some(Duration::from_secs(3)),
                    ..retry.clone()
                },
            )
            // the same server under a second name, with a budget that allows no retry
            .dependency_retry(
                "budgeted",
                RetryConfig {
                    budget: Some(servicetask_core::RetryBudgetConfig {
                        ratio: 0.0,
                        min_per_second: 0,
                        ..Default::default()
                    }),
                    ..retry
                },
            )
            .build(),
    );
    let cx = support::context("sync", &o.telemetry, resilience as Arc<dyn DependencyPolicy>);
    let client = HttpClient::new(HttpSettings {
        hosts: [(format!("localhost:{}", addr.port()), "budgeted".to_string())].into(),
        ..HttpSettings::default()
    })
    .unwrap();
    let http = client.on(&cx);

    // a minute asked, 3 s allowed: no sleep, one request, an error naming both
    *state.retry_after.lock().unwrap() = "60".into();
    state.flaky.store(1, Ordering::SeqCst);
    let t = Instant::now();
    let e = http.get(&format!("http://{addr}/a")).send().await.unwrap_err();
    assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
    assert_eq!(state.requests.load(Ordering::SeqCst), 1);
    let text = e.to_string();
    assert!(
        text.contains("503") && text.contains("Retry-After") && text.contains("retry.max_elapsed"),
        "{text}"
    );
    assert_eq!(e.retry_after(), Some(Duration::from_secs(60)));
    assert!(e
        .suggestion()
        .is_some_and(|s| s.contains(&format!("[dependencies.{limited}]"))));

    // one second asked, within the limit: waited, then answered
    *state.retry_after.lock().unwrap() = "1".into();
    state.flaky.store(1, Ordering::SeqCst);
    let t = Instant::now();
    let r = http.get(&format!("http://{addr}/b")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(t.elapsed() >= Duration::from_secs(1), "{:?}", t.elapsed());
    assert_eq!(state.requests.load(Ordering::SeqCst), 3);

    // the budget refuses the first retry: one request, budget_exhausted, the 503 as its cause
    *state.retry_after.lock().unwrap() = "0".into();
    state.flaky.store(1, Ordering::SeqCst);
    let e = http
        .get(&format!("http://localhost:{}/c", addr.port()))
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.class(), ErrorClass::BudgetExhausted, "{e}");
    assert!(e.to_string().contains("503"), "{e}");
    assert_eq!(state.requests.load(Ordering::SeqCst), 4);
    server.stop().await;
}
