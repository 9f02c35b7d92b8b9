//! Throughput and start-to-end latency of the durable service on one node: instances of
//! start -> 3 no-op service tasks -> end, each started through the `Host` (one committed
//! transition) and run as leased jobs by the `Worker` (three committed job completions),
//! over a real SQLite file (WAL, synchronous=FULL).
//!
//! `cargo bench -p servicetask-worker --bench durable` (BENCH_INSTANCES, BENCH_STARTERS).
//! With `BENCH_DATABASE=postgres://...` and `BENCH_NODES=N` it runs N nodes (each its own
//! host, worker and connection pool, as N processes would) over one fresh PostgreSQL database.
//! Latency is each instance's `started` -> `completed` history events (store clock, ms).
//!
//! `BENCH_SECRETS` starts every instance with a login (a user and a password) and says what
//! the host does with the password: `plain` (not sensitive: stored as it is), `sealed`
//! (sensitive, with a state key: encrypted at rest) or `omitted` (sensitive, no key: kept in
//! memory only); unset, instances start without variables.

use std::sync::Arc;
use std::time::{Duration, Instant};

use servicetask_engine::{ServiceCall, ServiceFuture, ServiceResult};
use servicetask_store::{InstanceQuery, InstanceState, PostgresStore, SqliteStore, Store};
use servicetask_worker::{Host, HostConfig, Metrics, StartRequest, StateKey, Worker, WorkerConfig};

const PROCESS: &str = r#"<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"><process id="p" isExecutable="true">
  <startEvent id="s"/><sequenceFlow id="f1" sourceRef="s" targetRef="a"/>
  <serviceTask id="a" implementation="noop"/><sequenceFlow id="f2" sourceRef="a" targetRef="b"/>
  <serviceTask id="b" implementation="noop"/><sequenceFlow id="f3" sourceRef="b" targetRef="c"/>
  <serviceTask id="c" implementation="noop"/><sequenceFlow id="f4" sourceRef="c" targetRef="e"/>
  <endEvent id="e"/></process></definitions>"#;

fn noop(_: ServiceCall) -> ServiceFuture {
    Box::pin(async { ServiceResult::Complete(Default::default()) })
}

/// A fresh database on the server of `url`; its URL.
async fn fresh_database(url: &str) -> String {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    let name = format!("bench_{}", std::process::id());
    client
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name}"))
        .await
        .unwrap();
    client.batch_execute(&format!("CREATE DATABASE {name}")).await.unwrap();
    let base = url.rsplit_once('/').map_or(url, |(b, _)| b);
    format!("{base}/{name}")
}

fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() {
    let instances = env("BENCH_INSTANCES", 3000);
    let starters = env("BENCH_STARTERS", 16);
    let nodes = env("BENCH_NODES", 1).max(1);
    let database = std::env::var("BENCH_DATABASE").ok();
    let secrets = std::env::var("BENCH_SECRETS").ok();
    let config = match secrets.as_deref() {
        None | Some("plain") => HostConfig::default(),
        Some(mode @ ("sealed" | "omitted")) => HostConfig {
            redact: vec!["password".into()],
            state_key: (mode == "sealed").then(|| StateKey::from_bytes(&[7; 32]).unwrap()),
        },
        Some(other) => panic!("BENCH_SECRETS={other}: plain, sealed or omitted"),
    };
    let mut variables = serde_json::Map::new();
    if secrets.is_some() {
        variables.insert(
            "login".into(),
            serde_json::json!({"user": "ann", "password": "correct horse battery staple"}),
        );
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let url = match &database {
            Some(url) => Some(fresh_database(url).await),
            None => None,
        };
        let mut hosts = Vec::new();
        let mut stops = Vec::new();
        let mut workers = Vec::new();
        for n in 0..nodes {
            let store: Arc<dyn Store> = match &url {
                Some(url) => Arc::new(PostgresStore::connect(url, 24).await.unwrap()),
                None => Arc::new(SqliteStore::open(&dir.path().join("bench.db")).unwrap()),
            };
            let host = Arc::new(Host::new(store, Arc::new(Metrics::new()), config.clone()));
            if n == 0 {
                host.deploy("p.bpmn", PROCESS.as_bytes()).await.unwrap();
            }
            let (stop, stopped) = tokio::sync::watch::channel(false);
            workers.push(tokio::spawn(
                Worker::new(
                    host.clone(),
                    Arc::new(noop),
                    WorkerConfig {
                        node_id: format!("node-{n}"),
                        poll: Duration::from_millis(5),
                        ..WorkerConfig::default()
                    },
                )
                .run(stopped),
            ));
            hosts.push(host);
            stops.push(stop);
        }
        let store = hosts[0].store().clone();
        let began = Instant::now();
        let mut tasks = Vec::new();
        for s in 0..starters {
            let host = hosts[s % nodes].clone();
            let n = instances / starters + usize::from(s < instances % starters);
            let variables = variables.clone();
            tasks.push(tokio::spawn(async move {
                for _ in 0..n {
                    host.start(StartRequest {
                        process_id: "p".into(),
                        variables: variables.clone(),
                        ..StartRequest::default()
                    })
                    .await
                    .unwrap();
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        loop {
            let stats = store.stats(servicetask_store::now_ms()).await.unwrap();
            let done = stats
                .instances
                .iter()
                .find(|(s, _)| *s == InstanceState::Completed)
                .map_or(0, |(_, n)| *n);
            if done as usize == instances {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let elapsed = began.elapsed();
        for stop in stops {
            stop.send(true).unwrap();
        }
        for w in workers {
            w.await.unwrap();
        }
        let rows = store.instances(InstanceQuery::default()).await.unwrap();
        let mut lat = Vec::with_capacity(rows.len());
        for r in &rows {
            let h = store.history(&r.id).await.unwrap();
            let at = |k: &str| h.iter().find(|e| e.event.kind == k).map(|e| e.at_ms);
            if let (Some(a), Some(b)) = (at("started"), at("completed")) {
                lat.push(b - a);
            }
        }
        lat.sort_unstable();
        let pct = |p: f64| lat[((lat.len() as f64 * p).ceil() as usize).clamp(1, lat.len()) - 1];
        let backend = if url.is_some() { "postgresql" } else { "sqlite" };
        let secrets = secrets.map_or(String::new(), |m| format!(" (a password {m})"));
        println!(
            "{backend}, {nodes} node(s){secrets}: {instances} instances (start -> 3 no-op service tasks -> end), {starters} concurrent starters: {:.0} instances/s; start-to-end p50 {} ms, p99 {} ms",
            instances as f64 / elapsed.as_secs_f64(),
            pct(0.50),
            pct(0.99)
        );
    });
}
