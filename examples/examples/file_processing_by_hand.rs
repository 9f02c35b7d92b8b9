//! The FileProcessingTask's behaviour hand-written with the raw OpenTelemetry SDK and a retry
//! loop, with no servicetask: the baseline for the lines-of-code comparison in BENCHMARKS.md.
//!
//! Run: `cargo run -p servicetask-examples --example file_processing_by_hand`
//!
//! It does what `file_processing` gets from servicetask for the PRD's use: a span per
//! execution and per file, a duration histogram and an executions counter by outcome, a check
//! that input files exist before work starts, file events with path and bytes, a timeout of 30 s,
//! three retries with exponential backoff and full jitter for transient I/O errors only, error
//! classes on the span. (It still lacks what servicetask adds beyond that: CPU, memory and
//! disk accounting, breakers, bulkheads, fallbacks, history, sensitive-field redaction.)

// ---- begin counted region ----
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use opentelemetry::metrics::{Counter, Histogram, MeterProvider as _};
use opentelemetry::trace::{FutureExt as _, Span as _, Status, TraceContextExt, Tracer, TracerProvider as _};
use opentelemetry::{Context, KeyValue};

struct Instruments {
    tracer: opentelemetry_sdk::trace::SdkTracer,
    duration: Histogram<f64>,
    executions: Counter<u64>,
}

#[derive(Debug)]
enum ProcessError {
    NotFound(PathBuf),
    Io(std::io::Error),
    Timeout,
}

impl ProcessError {
    fn class(&self) -> &'static str {
        match self {
            ProcessError::NotFound(_) => "not_found",
            ProcessError::Io(_) => "io",
            ProcessError::Timeout => "timeout",
        }
    }
    fn message(&self) -> String {
        match self {
            ProcessError::NotFound(p) => format!("{} does not exist", p.display()),
            ProcessError::Io(e) => e.to_string(),
            ProcessError::Timeout => "timed out after 30s".to_string(),
        }
    }
    fn retryable(&self) -> bool {
        matches!(self, ProcessError::Io(e) if e.kind() != std::io::ErrorKind::NotFound && e.kind() != std::io::ErrorKind::PermissionDenied)
    }
}

async fn process_one(i: &Instruments, file: &Path, out_dir: &Path) -> Result<(String, u64), ProcessError> {
    let parent = Context::current();
    let mut span = i.tracer.start_with_context("process_single_file", &parent);
    let text = tokio::fs::read_to_string(file).await.map_err(ProcessError::Io)?;
    span.add_event(
        "file",
        vec![
            KeyValue::new("file.path", file.display().to_string()),
            KeyValue::new("bytes", text.len() as i64),
        ],
    );
    let mut normalised = String::new();
    let mut lines = 0;
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        normalised.push_str(line);
        normalised.push('\n');
        lines += 1;
    }
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let target = out_dir.join(format!("processed_{name}"));
    tokio::fs::write(&target, normalised.as_bytes())
        .await
        .map_err(ProcessError::Io)?;
    span.add_event(
        "file",
        vec![
            KeyValue::new("file.path", target.display().to_string()),
            KeyValue::new("bytes", normalised.len() as i64),
        ],
    );
    span.end();
    Ok((target.display().to_string(), lines))
}

async fn attempt(i: &Instruments, files: &[PathBuf], out_dir: &Path) -> Result<Vec<(String, u64)>, ProcessError> {
    tokio::fs::create_dir_all(out_dir).await.map_err(ProcessError::Io)?;
    let mut out = Vec::new();
    for f in files {
        out.push(process_one(i, f, out_dir).await?);
    }
    Ok(out)
}

async fn process_files(i: &Instruments, files: &[PathBuf], out_dir: &Path) -> Result<Vec<(String, u64)>, ProcessError> {
    let start = Instant::now();
    let span = i.tracer.start("file_processing");
    let cx = Context::current_with_span(span);
    let result = async {
        for f in files {
            if !f.exists() {
                return Err(ProcessError::NotFound(f.clone()));
            }
        }
        let deadline = start + Duration::from_secs(30);
        let mut delay = Duration::from_millis(50);
        let mut attempt_no = 1;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let r = match tokio::time::timeout(left, attempt(i, files, out_dir)).await {
                Ok(r) => r,
                Err(_) => Err(ProcessError::Timeout),
            };
            match r {
                Err(e) if e.retryable() && attempt_no < 4 => {
                    let jittered = delay.mul_f64(rand::random::<f64>());
                    cx.span().add_event(
                        "retry",
                        vec![
                            KeyValue::new("attempt", attempt_no),
                            KeyValue::new("delay_ms", jittered.as_millis() as i64),
                        ],
                    );
                    tokio::time::sleep(jittered.min(left)).await;
                    delay = (delay * 2).min(Duration::from_secs(10));
                    attempt_no += 1;
                }
                other => return other,
            }
        }
    }
    .with_context(cx.clone())
    .await;
    let outcome = if result.is_ok() { "complete" } else { "failure" };
    let mut attrs = vec![
        KeyValue::new("task", "file_processing"),
        KeyValue::new("outcome", outcome),
    ];
    if let Err(e) = &result {
        cx.span().set_status(Status::error(e.message()));
        cx.span().set_attribute(KeyValue::new("error.type", e.class()));
        attrs.push(KeyValue::new("error.type", e.class()));
    }
    i.duration.record(start.elapsed().as_secs_f64(), &attrs);
    i.executions.add(1, &attrs);
    cx.span().end();
    result
}
// ---- end counted region ----

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let tp = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    let mp = opentelemetry_sdk::metrics::SdkMeterProvider::builder().build();
    let meter = mp.meter("by-hand");
    let instruments = Instruments {
        tracer: tp.tracer("by-hand"),
        duration: meter.f64_histogram("duration").with_unit("s").build(),
        executions: meter.u64_counter("executions").build(),
    };
    let dir = std::env::temp_dir().join(format!("servicetask-by-hand-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let input = dir.join("a.csv");
    std::fs::write(&input, " x,1 \n\n y,2\n")?;
    let out = process_files(&instruments, &[input], &dir.join("out")).await;
    println!("{out:?}");
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
