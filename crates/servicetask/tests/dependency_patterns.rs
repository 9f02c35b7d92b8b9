//! Patterns over dependencies as a user meets them: a task calls three real local HTTP servers
//! (axum on 127.0.0.1:0) through `cx`'s client, twenty times, its executions go to a real
//! SQLite history, and what the report is built from, read back from that history, names
//! the dependency called many times per run (batch or cache), the slow one and the flaky one,
//! with the bytes each server counted.

#![cfg(feature = "http")]
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use servicetask::{task_fn, Runner, TaskConfig, TaskContext, TaskError};
use servicetask_analytics::dependencies::Finding;
use servicetask_analytics::recommend::{recommend, RecommendationKind};
use servicetask_analytics::report::{ReportData, ReportOptions};
use servicetask_history::{HistoryStore, HistoryWriter, RecordQuery, SqliteStore, WriterConfig};
use servicetask_http::{HttpClient, HttpSettings};

const RUNS: usize = 20;

/// What one server answered: requests and body bytes sent.
#[derive(Default)]
struct Counted {
    requests: AtomicU64,
    bytes_out: AtomicU64,
}

/// A server whose every answer is `body`, after `delay`; every `fail_every`-th request (if
/// any) is a 503.
async fn serve(body: &'static str, delay: Duration, fail_every: u64) -> (SocketAddr, Arc<Counted>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let counted = Arc::new(Counted::default());
    let c = counted.clone();
    let app = axum::Router::new().fallback(move || {
        let c = c.clone();
        async move {
            let n = c.requests.fetch_add(1, Ordering::SeqCst) + 1;
            tokio::time::sleep(delay).await;
            let (status, text) = if fail_every > 0 && n % fail_every == 0 {
                (StatusCode::SERVICE_UNAVAILABLE, "try later")
            } else {
                (StatusCode::OK, body)
            };
            c.bytes_out.fetch_add(text.len() as u64, Ordering::SeqCst);
            (status, text)
        }
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, counted)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_history_names_chatty_slow_and_flaky_http_dependencies() {
    let (inventory, inv_count) = serve("{\"in_stock\":3}", Duration::ZERO, 0).await;
    let (geo, geo_count) = serve("{\"lat\":52.5,\"lon\":13.4}", Duration::from_millis(200), 0).await;
    let (mail, mail_count) = serve("queued", Duration::ZERO, 10).await;
    let client = HttpClient::new(HttpSettings {
        hosts: [(inventory, "inventory"), (geo, "geo"), (mail, "mail")]
            .into_iter()
            .map(|(a, n)| (a.to_string(), n.to_string()))
            .collect(),
        ..HttpSettings::default()
    })
    .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn HistoryStore> = Arc::new(SqliteStore::open(dir.path().join("history.db")).unwrap());
    let writer = Arc::new(HistoryWriter::spawn(store.clone(), WriterConfig::default()).unwrap());
    let runner = Runner::builder().code_config_only().record_sink(writer.clone()).build();
    let h = runner
        .register(task_fn(
            TaskConfig::named("sync_order"),
            move |cx: TaskContext, _: ()| {
                let client = client.clone();
                async move {
                    let http = client.on(&cx);
                    // one request per order line: 12 calls a run
                    for line in 0..12 {
                        http.get(&format!("http://{inventory}/stock/{line}")).send().await?;
                    }
                    http.get(&format!("http://{geo}/locate")).send().await?;
                    // a notification that may fail without failing the run
                    for _ in 0..3 {
                        let _ = http.post(&format!("http://{mail}/send")).body("hello").send().await;
                    }
                    Ok::<_, TaskError>(())
                }
            },
        ))
        .unwrap();
    for _ in 0..RUNS {
        h.run(()).await.into_result().unwrap();
    }
    writer.flush().unwrap();

    let records: Vec<_> = store
        .query(&RecordQuery::default())
        .unwrap()
        .into_iter()
        .map(|s| s.record)
        .collect();
    assert_eq!(records.len(), RUNS);
    let report = ReportData::from_records(&records, &ReportOptions::default());
    let row = |name: &str| {
        report
            .dependencies
            .iter()
            .find(|d| d.pattern.name == name)
            .unwrap_or_else(|| panic!("{name} in {:#?}", report.dependencies))
    };
    let (inv, g, m) = (row("inventory"), row("geo"), row("mail"));
    // what each server counted is what the history holds
    assert_eq!(inv.pattern.calls, inv_count.requests.load(Ordering::SeqCst));
    assert_eq!(inv.pattern.bytes_received, inv_count.bytes_out.load(Ordering::SeqCst));
    assert_eq!(g.pattern.bytes_received, geo_count.bytes_out.load(Ordering::SeqCst));
    assert_eq!(m.pattern.bytes_received, mail_count.bytes_out.load(Ordering::SeqCst));
    assert_eq!(m.pattern.bytes_sent, 5 * 3 * RUNS as u64);
    assert_eq!((m.pattern.calls, m.pattern.failures), (60, 6));
    assert_eq!(m.pattern.errors.get("dependency"), Some(&6), "{:?}", m.pattern.errors);

    assert!(
        matches!(
            inv.findings[..],
            [Finding::Chatty {
                max_calls_per_run: 12,
                ..
            }]
        ),
        "{:?}",
        inv.findings
    );
    assert!(matches!(g.findings[..], [Finding::Slow { .. }]), "{:?}", g.findings);
    assert!(
        matches!(m.findings[..], [Finding::Flaky { ref top_error, .. }] if top_error == "dependency"),
        "{:?}",
        m.findings
    );

    let recs = recommend(&records, &HashMap::new());
    let named = |kind: RecommendationKind, name: &str| {
        recs.iter()
            .any(|r| r.kind == kind && r.task == "sync_order" && r.message.contains(&format!("'{name}'")))
    };
    assert!(named(RecommendationKind::ChattyDependency, "inventory"), "{recs:#?}");
    assert!(named(RecommendationKind::SlowDependency, "geo"), "{recs:#?}");
    assert!(named(RecommendationKind::FlakyDependency, "mail"), "{recs:#?}");
    writer.shutdown();
}
