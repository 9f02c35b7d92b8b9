//! Telemetry as the OpenTelemetry conventions say, through the `servicetask` binary: OTLP over
//! gRPC to a real tonic receiver when `OTEL_EXPORTER_OTLP_PROTOCOL=grpc`; an unreachable
//! endpoint said once on stderr (never per span) while the run completes; an unsupported
//! protocol is an error naming the variable.

use std::process::Output;

use servicetask_test_support::otlp::TraceReceiver;
use servicetask_test_support::output::{clean_command, run, stderr, text};

/// The demo run in `dir` with only the telemetry variables `vars` set.
fn demo(dir: &std::path::Path, vars: &[(&str, String)]) -> Output {
    let mut c = clean_command(env!("CARGO_BIN_EXE_servicetask"));
    c.args(["demo", "--dir", "d", "--files", "2", "--rows", "20"])
        .current_dir(dir);
    for (k, v) in vars {
        c.env(k, v);
    }
    run(&mut c)
}

#[test]
fn spans_go_over_grpc_when_the_protocol_says_so() {
    let receiver = TraceReceiver::start();
    let dir = tempfile::tempdir().unwrap();
    let out = demo(
        dir.path(),
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint.clone()),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc".into()),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let names = receiver.names();
    assert!(
        names.iter().any(|n| n == "generate_samples") && names.iter().any(|n| n == "file_processing"),
        "the task spans arrived over gRPC: {names:?}\n{}",
        text(&out)
    );
}

#[test]
fn an_unreachable_endpoint_is_said_once_and_the_run_completes() {
    let port = servicetask_test_support::net::closed_port();
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
        let stderr = stderr(&out);
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
