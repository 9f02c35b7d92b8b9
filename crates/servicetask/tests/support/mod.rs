//! An in-process OTLP/HTTP receiver: a real TCP server on 127.0.0.1 that decodes the official
//! protobuf messages (opentelemetry-proto) sent to /v1/traces and /v1/metrics.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;

/// What the receiver got.
#[derive(Default)]
pub struct Received {
    pub traces: Vec<ExportTraceServiceRequest>,
    pub metrics: Vec<ExportMetricsServiceRequest>,
    pub bad_requests: Vec<String>,
}

/// A running receiver.
pub struct Receiver {
    pub endpoint: String,
    pub received: Arc<Mutex<Received>>,
}

impl Receiver {
    pub fn start() -> Receiver {
        Receiver::start_slow(std::time::Duration::ZERO)
    }

    /// A receiver that waits `delay` before answering each trace export (a slow backend).
    pub fn start_slow(delay: std::time::Duration) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let received = Arc::new(Mutex::new(Received::default()));
        let r = received.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let r = r.clone();
                std::thread::spawn(move || serve(stream, r, delay));
            }
        });
        Receiver { endpoint, received }
    }
}

fn serve(stream: TcpStream, received: Arc<Mutex<Received>>, delay: std::time::Duration) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut out = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let path = request_line.split_whitespace().nth(1).unwrap_or("").to_string();
        let mut len = 0usize;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0u8; len];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        {
            let mut r = received.lock().unwrap();
            match path.as_str() {
                "/v1/traces" => match ExportTraceServiceRequest::decode(body.as_slice()) {
                    Ok(m) => r.traces.push(m),
                    Err(e) => r.bad_requests.push(format!("traces: {e}")),
                },
                "/v1/metrics" => match ExportMetricsServiceRequest::decode(body.as_slice()) {
                    Ok(m) => r.metrics.push(m),
                    Err(e) => r.bad_requests.push(format!("metrics: {e}")),
                },
                other => r.bad_requests.push(format!("unexpected path {other}")),
            }
        }
        if path == "/v1/traces" {
            std::thread::sleep(delay);
        }
        let resp = "HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n";
        if out.write_all(resp.as_bytes()).is_err() {
            return;
        }
    }
}
