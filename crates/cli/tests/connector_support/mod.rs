//! Shared by the connector tests: a real `servicetask serve --connector` process, and a real
//! OTLP/gRPC trace receiver (tonic, the official protobuf service) keeping every span it gets.

#![allow(dead_code)]

use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{TraceService, TraceServiceServer};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use servicetask_test_support::process::Listening;

/// One span as received: ids in lower-case hex, and the `service.name` of its resource.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanSeen {
    pub service: String,
    pub name: String,
    pub trace_id: String,
    pub span_id: String,
    pub parent_span_id: String,
}

/// A running OTLP/gRPC receiver on 127.0.0.1.
pub struct Receiver {
    pub endpoint: String,
    spans: Arc<Mutex<Vec<SpanSeen>>>,
    _rt: tokio::runtime::Runtime,
}

#[derive(Clone)]
struct Collect(Arc<Mutex<Vec<SpanSeen>>>);

#[tonic::async_trait]
impl TraceService for Collect {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut spans = self.0.lock().unwrap();
        for rs in &request.get_ref().resource_spans {
            let service = rs
                .resource
                .as_ref()
                .and_then(|r| r.attributes.iter().find(|a| a.key == "service.name"))
                .and_then(|a| a.value.as_ref())
                .and_then(|v| match &v.value {
                    Some(opentelemetry_proto::tonic::common::v1::any_value::Value::StringValue(s)) => Some(s.clone()),
                    _ => None,
                })
                .unwrap_or_default();
            for ss in &rs.scope_spans {
                for s in &ss.spans {
                    spans.push(SpanSeen {
                        service: service.clone(),
                        name: s.name.clone(),
                        trace_id: hex(&s.trace_id),
                        span_id: hex(&s.span_id),
                        parent_span_id: hex(&s.parent_span_id),
                    });
                }
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Receiver {
    /// Starts a receiver on a free port.
    pub fn start() -> Receiver {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let port = listener.local_addr().unwrap().port();
        let spans = Arc::new(Mutex::new(Vec::new()));
        rt.spawn(
            tonic::transport::Server::builder()
                .add_service(TraceServiceServer::new(Collect(spans.clone())))
                .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
        );
        Receiver {
            endpoint: format!("http://127.0.0.1:{port}"),
            spans,
            _rt: rt,
        }
    }

    /// Every span received so far.
    pub fn spans(&self) -> Vec<SpanSeen> {
        self.spans.lock().unwrap().clone()
    }

    /// Waits up to `within` until `done` holds for the spans received.
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

/// Starts `servicetask serve --connector` (or the full `serve`) processes: each is a
/// [`Listening`] (`base`, `kill9`, `terminate`), killed when dropped.
pub struct ConnectorServer;

impl ConnectorServer {
    /// Starts `servicetask serve --connector` on a free port with `extra` flags; its spans go to
    /// `otlp` (OTLP/gRPC) when given, else nowhere.
    pub fn start(extra: &[&str], otlp: Option<&str>) -> Listening {
        Self::spawn(&["serve", "--connector", "--bind", "127.0.0.1:0"], extra, otlp)
    }

    /// Starts the full `servicetask serve` over the SQLite file `database`.
    pub fn start_full(database: &std::path::Path, extra: &[&str]) -> Listening {
        let db = database.to_str().unwrap();
        Self::spawn(&["serve", "--bind", "127.0.0.1:0", "--database", db], extra, None)
    }

    fn spawn(args: &[&str], extra: &[&str], otlp: Option<&str>) -> Listening {
        let mut c = Command::new(env!("CARGO_BIN_EXE_servicetask"));
        c.args(args).args(extra);
        for (k, _) in std::env::vars() {
            if k.starts_with("OTEL_") {
                c.env_remove(k);
            }
        }
        match otlp {
            Some(endpoint) => {
                c.env("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
                    .env("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
                    .env("OTEL_BSP_SCHEDULE_DELAY", "50")
                    .env("OTEL_SERVICE_NAME", "servicetask-connector");
            }
            None => {
                c.env("OTEL_SDK_DISABLED", "true");
            }
        }
        Listening::spawn(c)
    }
}
