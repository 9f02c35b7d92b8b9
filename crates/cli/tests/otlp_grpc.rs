//! Telemetry as the OpenTelemetry conventions say, through the `servicetask` binary: OTLP over
//! gRPC to a real tonic receiver when `OTEL_EXPORTER_OTLP_PROTOCOL=grpc`; an unreachable
//! endpoint said once on stderr (never per span) while the run completes; an unsupported
//! protocol is an error naming the variable.

use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{TraceService, TraceServiceServer};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};

/// Keeps the names of the spans it receives.
#[derive(Clone, Default)]
struct Receiver {
    names: Arc<Mutex<Vec<String>>>,
}

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut names = self.names.lock().unwrap();
        for rs in &request.get_ref().resource_spans {
            for ss in &rs.scope_spans {
                names.extend(ss.spans.iter().map(|s| s.name.clone()));
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

fn demo(dir: &std::path::Path, vars: &[(&str, String)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_servicetask"));
    c.args(["demo", "--dir", "d", "--files", "2", "--rows", "20"])
        .current_dir(dir)
        .env_remove("OTEL_TRACES_EXPORTER")
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
    for (k, v) in vars {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}\n--- stderr ---\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn spans_go_over_grpc_when_the_protocol_says_so() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let port = listener.local_addr().unwrap().port();
    let receiver = Receiver::default();
    let service = TraceServiceServer::new(receiver.clone());
    rt.spawn(
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    let dir = tempfile::tempdir().unwrap();
    let out = demo(
        dir.path(),
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://127.0.0.1:{port}")),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc".into()),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let names = receiver.names.lock().unwrap().clone();
    assert!(
        names.iter().any(|n| n == "generate_samples") && names.iter().any(|n| n == "file_processing"),
        "the task spans arrived over gRPC: {names:?}\n{}",
        text(&out)
    );
}

#[test]
fn an_unreachable_endpoint_is_said_once_and_the_run_completes() {
    // a port nothing listens on: bind, learn the port, close it
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    for protocol in ["grpc", "http/protobuf"] {
        let out = demo(
            dir.path(),
            &[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://127.0.0.1:{port}")),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol.into()),
                ("OTEL_BSP_SCHEDULE_DELAY", "10".into()),
                ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "4".into()),
            ],
        );
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(0), "{protocol}: {}", text(&out));
        let said = stderr.matches("cannot export spans to").count();
        assert_eq!(said, 1, "{protocol}: said once, not per span or batch:\n{stderr}");
        assert!(stderr.contains(&format!("127.0.0.1:{port} ({protocol})")), "{stderr}");
    }
}

#[test]
fn an_unsupported_protocol_is_an_error_naming_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let out = demo(
        dir.path(),
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317".into()),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "thrift".into()),
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("OTEL_EXPORTER_OTLP_PROTOCOL=thrift: use grpc, http/protobuf or http/json"),
        "{}",
        text(&out)
    );
}
