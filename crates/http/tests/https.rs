//! https with no feature flag, against a real local TLS server (axum served by hyper over
//! tokio-rustls on 127.0.0.1:0, its certificate signed by a CA made in the test with rcgen):
//! trusted through `ca_file`, the client span, the bytes, the host's breaker and the trace
//! continued by the server work as over http; the same server's certificate without
//! `ca_file` is a `permission_denied` error with what to do, made once (no retry, the breaker
//! untouched), never a panic. (Without the default `rustls` feature, `src/tls.rs` tests that
//! an https URL is refused saying so.)

#![cfg(feature = "rustls")]

mod support;

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Router;
use opentelemetry::trace::SpanKind;
use opentelemetry_sdk::trace::SpanData;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair};
use servicetask_core::{BreakerConfig, DependencyPolicy, ErrorClass, Jitter, RetryConfig, TaskContext};
use servicetask_http::{HttpClient, HttpSettings};
use servicetask_resilience::{BreakerState, DependencyConfig, ManualClock, Resilience};
use support::{attr, otel, traceparent, Otel};
use tokio_rustls::rustls;

/// What the server saw: TLS handshakes begun, requests, body bytes, traceparents.
#[derive(Default)]
struct Seen {
    connections: AtomicU32,
    requests: AtomicU32,
    /// Requests still to answer 503.
    failing: AtomicU32,
    body_in: AtomicU64,
    body_out: AtomicU64,
    parents: Mutex<Vec<(String, String)>>,
}

async fn handle(State(s): State<Arc<Seen>>, headers: HeaderMap, body: Bytes) -> (StatusCode, String) {
    s.requests.fetch_add(1, Ordering::SeqCst);
    s.body_in.fetch_add(body.len() as u64, Ordering::SeqCst);
    if let Some(p) = traceparent(&headers) {
        s.parents.lock().unwrap().push(p);
    }
    let failing = s
        .failing
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    let (status, out) = if failing {
        (StatusCode::SERVICE_UNAVAILABLE, "down for a moment".to_string())
    } else {
        (StatusCode::OK, format!("secure {} {}", body.len(), "y".repeat(300)))
    };
    s.body_out.fetch_add(out.len() as u64, Ordering::SeqCst);
    (status, out)
}

/// A CA and a certificate for 127.0.0.1 it signed: (CA PEM, server certificate, server key).
fn certificates() -> (
    String,
    rustls::pki_types::CertificateDer<'static>,
    rustls::pki_types::PrivateKeyDer<'static>,
) {
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "servicetask test CA");
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    let mut leaf = CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let key = KeyPair::generate().unwrap();
    let cert = leaf.signed_by(&key, &ca).unwrap();
    let key = rustls::pki_types::PrivatePkcs8KeyDer::from(key.serialize_der()).into();
    (ca.pem(), cert.der().clone(), key)
}

/// Serves `app` over TLS on 127.0.0.1:0, counting every connection accepted.
async fn serve_tls(
    seen: Arc<Seen>,
    cert: rustls::pki_types::CertificateDer<'static>,
    key: rustls::pki_types::PrivateKeyDer<'static>,
) -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new().fallback(handle).with_state(seen.clone());
    let task = tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else { return };
            seen.connections.fetch_add(1, Ordering::SeqCst);
            let (acceptor, app) = (acceptor.clone(), app.clone());
            tokio::spawn(async move {
                // a refused handshake ends here, as the client hangs up
                let Ok(tls) = acceptor.accept(tcp).await else { return };
                let service = hyper_util::service::TowerToHyperService::new(app);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    (addr, task)
}

struct Setup {
    otel: Otel,
    clock: Arc<ManualClock>,
    resilience: Arc<Resilience>,
}

/// In-memory telemetry and a resilience with a breaker per host and `attempts` per request.
fn setup(dep: &str, attempts: u32) -> Setup {
    let otel = otel();
    let clock = Arc::new(ManualClock::default());
    let resilience = Arc::new(
        Resilience::builder()
            .clock(clock.clone())
            .telemetry(otel.telemetry.clone())
            .default_dependency(DependencyConfig {
                breaker: Some(BreakerConfig {
                    window_size: 4,
                    minimum_calls: 4,
                    failure_rate_threshold: 75.0,
                    permitted_calls_in_half_open: 1,
                    wait_in_open: Duration::from_secs(30),
                    ..BreakerConfig::default()
                }),
                bulkhead: None,
            })
            .dependency_retry(
                dep,
                RetryConfig {
                    max_attempts: attempts,
                    initial_delay: Duration::from_millis(5),
                    jitter: Jitter::None,
                    ..RetryConfig::default()
                },
            )
            .build(),
    );
    Setup {
        otel,
        clock,
        resilience,
    }
}

fn context(s: &Setup) -> TaskContext {
    support::context(
        "fetch-secure",
        &s.otel.telemetry,
        s.resilience.clone() as Arc<dyn DependencyPolicy>,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_a_private_ca_is_traced_counted_and_guarded_as_http_is() {
    let (ca_pem, cert, key) = certificates();
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, &ca_pem).unwrap();
    let seen = Arc::new(Seen::default());
    let (addr, server) = serve_tls(seen.clone(), cert, key).await;
    let dep = format!("127.0.0.1:{}", addr.port());
    let s = setup(&dep, 1);
    let cx = context(&s);
    let exec_trace = cx.trace_id().unwrap();
    let client = HttpClient::new(HttpSettings {
        ca_file: Some(ca_file),
        timeout: Duration::from_secs(5),
        ..HttpSettings::default()
    })
    .unwrap();
    let http = client.on(&cx);
    let base = format!("https://{addr}");

    for _ in 0..2 {
        let r = http
            .get(&format!("{base}/rates?token=s3cr3t"))
            .send()
            .await
            .expect("https GET");
        assert_eq!(r.status(), 200);
        assert_eq!(r.dependency(), dep);
    }
    let r = http
        .post(&format!("{base}/rates"))
        .body(vec![1u8; 700])
        .send()
        .await
        .unwrap();
    assert!(r.text().starts_with("secure 700 "), "{}", r.text());

    // the host's breaker: 503s open it over https too, and it recovers after its wait
    let breaker = s.resilience.breaker(&format!("dependency:{dep}")).unwrap();
    seen.failing.store(3, Ordering::SeqCst);
    for _ in 0..3 {
        let e = http.get(&format!("{base}/rates")).send().await.unwrap_err();
        assert_eq!(e.class(), ErrorClass::Dependency, "{e}");
    }
    assert_eq!(breaker.state(), BreakerState::Open);
    let before = seen.requests.load(Ordering::SeqCst);
    let e = http.get(&format!("{base}/rates")).send().await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::CircuitOpen, "{e}");
    assert_eq!(seen.requests.load(Ordering::SeqCst), before);
    s.clock.advance(Duration::from_secs(31));
    assert_eq!(http.get(&format!("{base}/rates")).send().await.unwrap().status(), 200);
    assert_eq!(breaker.state(), BreakerState::Closed);

    // bytes: the bodies the server read and wrote, no TLS framing
    let d = &cx.stats().dependencies()[0];
    assert_eq!(d.name, dep);
    assert_eq!(d.bytes_sent, 700);
    assert_eq!(d.bytes_sent, seen.body_in.load(Ordering::SeqCst));
    assert_eq!(d.bytes_received, seen.body_out.load(Ordering::SeqCst));
    assert_eq!(d.errors.get("dependency"), Some(&3), "{:?}", d.errors);
    assert_eq!(d.errors.get("circuit_open"), Some(&1), "{:?}", d.errors);

    // spans: the HTTP conventions with an https url.full, in the execution's trace
    cx.span().end();
    s.otel.provider.force_flush().unwrap();
    let spans = s.otel.spans.get_finished_spans().unwrap();
    let client_spans: Vec<&SpanData> = spans.iter().filter(|s| s.span_kind == SpanKind::Client).collect();
    // 2 GET + POST + 3 failed + the probe; the rejection makes none
    assert_eq!(client_spans.len(), 7);
    for sp in &client_spans {
        assert_eq!(attr(sp, "http.request.method").as_deref(), Some(&*sp.name));
        assert_eq!(attr(sp, "server.address").as_deref(), Some("127.0.0.1"));
        assert_eq!(attr(sp, "server.port"), Some(addr.port().to_string()));
        assert_eq!(attr(sp, "peer.service"), Some(dep.clone()));
        let url = attr(sp, "url.full").unwrap();
        assert!(url.starts_with(&base) && !url.contains("s3cr3t"), "{url}");
        assert_eq!(sp.span_context.trace_id().to_string(), exec_trace);
    }
    let codes: Vec<String> = client_spans
        .iter()
        .filter_map(|sp| attr(sp, "http.response.status_code"))
        .collect();
    assert_eq!(codes.iter().filter(|c| *c == "503").count(), 3, "{codes:?}");
    assert_eq!(codes.iter().filter(|c| *c == "200").count(), 4, "{codes:?}");

    // traceparent: the server continued the trace under each request's client span
    let parents = seen.parents.lock().unwrap().clone();
    assert_eq!(parents.len() as u32, seen.requests.load(Ordering::SeqCst));
    assert_eq!(parents.len(), 7);
    for (trace, parent) in &parents {
        assert_eq!(trace, &exec_trace);
        assert!(client_spans
            .iter()
            .any(|sp| &sp.span_context.span_id().to_string() == parent));
    }
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_certificate_is_a_classified_error_made_once() {
    let (_, cert, key) = certificates();
    let seen = Arc::new(Seen::default());
    let (addr, server) = serve_tls(seen.clone(), cert, key).await;
    let dep = format!("127.0.0.1:{}", addr.port());
    // a policy that would retry a network failure four times
    let s = setup(&dep, 5);
    let cx = context(&s);
    let client = HttpClient::new(HttpSettings::default()).unwrap();
    let http = client.on(&cx);
    for round in 1..=6u32 {
        let e = http
            .get(&format!("https://{addr}/rates?api_key=k3y"))
            .send()
            .await
            .unwrap_err();
        assert_eq!(e.class(), ErrorClass::PermissionDenied, "{e}");
        assert!(e.message().contains("refused the server's certificate"), "{e}");
        assert!(!e.message().contains("k3y"), "{e}");
        assert!(e.suggestion().is_some_and(|h| h.contains("ca_file")), "{e:?}");
        // one handshake per request: not retried
        assert_eq!(seen.connections.load(Ordering::SeqCst), round);
    }
    assert_eq!(seen.requests.load(Ordering::SeqCst), 0);
    // a trust problem is not the host failing: its breaker stays closed
    let breaker = s.resilience.breaker(&format!("dependency:{dep}")).unwrap();
    assert_eq!(breaker.state(), BreakerState::Closed);
    let d = &cx.stats().dependencies()[0];
    assert_eq!(d.errors.get("permission_denied"), Some(&6), "{:?}", d.errors);
    server.abort();
}

#[test]
fn a_ca_file_that_is_not_a_certificate_is_refused_by_key() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("ca.pem");
    std::fs::write(
        &p,
        "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let e = HttpClient::new(HttpSettings {
        ca_file: Some(p),
        ..HttpSettings::default()
    })
    .unwrap_err();
    assert_eq!(e.class(), ErrorClass::Validation);
    assert!(e.message().starts_with("http.ca_file: "), "{e}");
}
