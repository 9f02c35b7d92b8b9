//! The Rust side of the connector benchmark (BENCHMARKS.md, scripts/connector-bench.sh):
//! `quality_check` run in process through the runner, and the same task over HTTP against a
//! running `servicetask serve --connector` (one client, then `--concurrency` clients). Prints
//! one JSON object of measurements.
//!
//! ```text
//! connector_bench --calls 20000 [--url http://127.0.0.1:PORT] [--concurrency 8]
//! ```

use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};
use servicetask::{RunOptions, Runner};

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// p50, p99 (µs) and calls per second of sequential latencies over `wall`.
fn summary(mut lat: Vec<Duration>, wall: Duration) -> Value {
    lat.sort_unstable();
    let pick = |q: f64| lat[((lat.len() as f64 - 1.0) * q).round() as usize].as_secs_f64() * 1e6;
    json!({
        "calls": lat.len(),
        "p50_us": pick(0.50),
        "p99_us": pick(0.99),
        "calls_per_s": lat.len() as f64 / wall.as_secs_f64(),
    })
}

fn input() -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("quality_score".into(), json!(1.0));
    m
}

fn main() {
    let calls: usize = arg("--calls").and_then(|c| c.parse().ok()).unwrap_or(20_000);
    let concurrency: usize = arg("--concurrency").and_then(|c| c.parse().ok()).unwrap_or(8);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    // the runner as `servicetask serve` builds it (spans where OTEL_* says, none here; the
    // metrics it serves at /metrics recorded)
    let telemetry = servicetask::telemetry::init_with_prometheus().expect("telemetry");
    let runner = Runner::builder().telemetry(telemetry.telemetry()).build();
    servicetask_examples::register_all(&runner).expect("register the example tasks");
    let mut out = Map::new();

    // in process, one call at a time
    let task = runner.task("quality_check").expect("quality_check is registered");
    let mut lat = Vec::with_capacity(calls);
    let wall = Instant::now();
    rt.block_on(async {
        for _ in 0..calls {
            let t = Instant::now();
            let outcome = task.run_json(input(), RunOptions::default()).await;
            lat.push(t.elapsed());
            assert!(matches!(outcome, servicetask::TaskOutcome::Complete(_)), "{outcome:?}");
        }
    });
    out.insert("inprocess_sequential".into(), summary(lat, wall.elapsed()));

    if let Some(url) = arg("--url") {
        let endpoint = format!("{url}/v1/do/servicetask/quality_check");
        let body = serde_json::to_vec(&Value::Object(input())).unwrap();
        let client = reqwest::blocking::Client::new();
        let one = |client: &reqwest::blocking::Client| {
            let res = client
                .post(&endpoint)
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
                .expect("call");
            assert_eq!(res.status().as_u16(), 200);
            let _ = res.bytes().expect("body");
        };
        for _ in 0..200 {
            one(&client); // warm the connection and the server
        }
        let mut lat = Vec::with_capacity(calls);
        let wall = Instant::now();
        for _ in 0..calls {
            let t = Instant::now();
            one(&client);
            lat.push(t.elapsed());
        }
        out.insert("http_sequential".into(), summary(lat, wall.elapsed()));

        let per = calls / concurrency;
        let wall = Instant::now();
        let lat: Vec<Duration> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..concurrency)
                .map(|_| {
                    s.spawn(|| {
                        let client = reqwest::blocking::Client::new();
                        (0..per)
                            .map(|_| {
                                let t = Instant::now();
                                one(&client);
                                t.elapsed()
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().expect("client thread"))
                .collect()
        });
        let mut s = summary(lat, wall.elapsed());
        s["concurrency"] = concurrency.into();
        out.insert("http_concurrent".into(), s);
    }
    println!("{}", Value::Object(out));
    telemetry.shutdown(Duration::from_secs(1));
}
