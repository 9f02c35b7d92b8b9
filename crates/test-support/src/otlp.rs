//! [`TraceReceiver`]: a real OTLP/gRPC trace receiver (tonic serving the official protobuf
//! service) on a free local port, keeping every span it is sent, for tests of what a process
//! exports. Behind the `otlp` feature: only the tests that receive spans compile tonic.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{TraceService, TraceServiceServer};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use opentelemetry_proto::tonic::common::v1::any_value::Value;

/// One span as received: ids in lower-case hex (empty when absent), and the `service.name` of
/// its resource (empty when it has none).
#[derive(Debug, Clone, PartialEq)]
pub struct SpanSeen {
    /// The `service.name` of the resource that sent it.
    pub service: String,
    /// The span's name.
    pub name: String,
    /// The trace id.
    pub trace_id: String,
    /// The span id.
    pub span_id: String,
    /// The parent's span id (empty for a root).
    pub parent_span_id: String,
}

/// A running OTLP/gRPC trace receiver on 127.0.0.1, stopped when dropped.
pub struct TraceReceiver {
    /// Where to send spans: `http://127.0.0.1:PORT` (for `OTEL_EXPORTER_OTLP_ENDPOINT`, with
    /// `OTEL_EXPORTER_OTLP_PROTOCOL=grpc`).
    pub endpoint: String,
    spans: Arc<Mutex<Vec<SpanSeen>>>,
    _runtime: tokio::runtime::Runtime,
}

impl TraceReceiver {
    /// Starts a receiver on a free port, served by a runtime of its own.
    pub fn start() -> TraceReceiver {
        let runtime = crate::runtime::two_workers();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("a free local port");
        let port = listener.local_addr().expect("the receiver's address").port();
        let spans = Arc::new(Mutex::new(Vec::new()));
        runtime.spawn(
            tonic::transport::Server::builder()
                .add_service(TraceServiceServer::new(Collect(spans.clone())))
                .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
        );
        TraceReceiver {
            endpoint: format!("http://127.0.0.1:{port}"),
            spans,
            _runtime: runtime,
        }
    }

    /// Every span received so far, in the order received.
    pub fn spans(&self) -> Vec<SpanSeen> {
        self.spans.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The names of the spans received so far.
    pub fn names(&self) -> Vec<String> {
        self.spans().into_iter().map(|s| s.name).collect()
    }

    /// Waits up to `within` until `done` holds for the spans received; returns them either way.
    pub fn wait_for(&self, within: Duration, done: impl Fn(&[SpanSeen]) -> bool) -> Vec<SpanSeen> {
        let start = Instant::now();
        loop {
            let spans = self.spans();
            if done(&spans) || start.elapsed() > within {
                return spans;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// The trace service, keeping what it is sent.
#[derive(Clone)]
struct Collect(Arc<Mutex<Vec<SpanSeen>>>);

#[tonic::async_trait]
impl TraceService for Collect {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut spans = self.0.lock().unwrap_or_else(|p| p.into_inner());
        for rs in &request.get_ref().resource_spans {
            let service = rs
                .resource
                .as_ref()
                .and_then(|r| r.attributes.iter().find(|a| a.key == "service.name"))
                .and_then(|a| a.value.as_ref())
                .and_then(|v| match &v.value {
                    Some(Value::StringValue(s)) => Some(s.clone()),
                    _ => None,
                })
                .unwrap_or_default();
            for ss in &rs.scope_spans {
                spans.extend(ss.spans.iter().map(|s| SpanSeen {
                    service: service.clone(),
                    name: s.name.clone(),
                    trace_id: hex(&s.trace_id),
                    span_id: hex(&s.span_id),
                    parent_span_id: hex(&s.parent_span_id),
                }));
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

/// `bytes` in lower-case hex.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
