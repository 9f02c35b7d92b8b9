//! `/console/api/batches` over real HTTP: the console's router behind the server's token layer,
//! on a loopback port, listing real `cx.batch` runs reported through the process-wide batch
//! observer (one running, one finished).

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use servicetask_core::batch::FailurePolicy;
use servicetask_core::{TaskContext, TaskError};
use servicetask_worker::{Host, HostConfig, Metrics};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use super::{router, Batches, ConsoleConfig};

const TOKEN: &str = "console-batches-token";

/// GET `path`, with the token when given: the status and the body.
async fn get(addr: std::net::SocketAddr, path: &str, token: Option<&str>) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).await.unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, body.to_string())
}

async fn batches(addr: std::net::SocketAddr) -> Vec<Value> {
    let (status, body) = get(addr, "/console/api/batches", Some(TOKEN)).await;
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    v["batches"].as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_endpoint_lists_running_and_finished_batches_behind_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let store = crate::open_store(dir.path().join("s.db").to_str().unwrap(), 1)
        .await
        .unwrap();
    let host = Arc::new(Host::new(store, Arc::new(Metrics::new()), HostConfig::default()));
    let shown = Arc::new(Batches::default());
    servicetask_core::batch::observe(shown.clone());
    let config = ConsoleConfig {
        batches: shown.clone(),
        ..Default::default()
    };
    let token = Arc::new(Some(TOKEN.to_string()));
    let app = router(host, config, None).layer(axum::middleware::from_fn_with_state(token, crate::auth::require_token));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });

    // the same token as the console's other endpoints
    let (status, _) = get(addr, "/console/api/batches", None).await;
    assert_eq!(status, 401);
    assert!(batches(addr).await.is_empty());

    // a batch that went through: 18 done, 2 failed (tolerated) of 20
    let cx = TaskContext::detached("import_orders");
    let summary = cx
        .batch(1..=20u32)
        .name("rows")
        .progress_every(5)
        .failure_policy(FailurePolicy::Tolerate(5))
        .run(|n| async move {
            if n % 7 == 0 {
                Err(TaskError::validation("bad row"))
            } else {
                Ok(())
            }
        })
        .await
        .unwrap();
    assert_eq!((summary.progress.done, summary.progress.failed), (18, 2));

    // a batch still running: 4 of 10 done, the fifth item waits
    let (release, released) = tokio::sync::watch::channel(false);
    let running = tokio::spawn(async move {
        let cx = TaskContext::detached("scan_files");
        cx.batch(1..=10u32)
            .name("files")
            .concurrency(1)
            .progress_every(1)
            .run(move |n| {
                let mut released = released.clone();
                async move {
                    if n == 5 {
                        let _ = released.wait_for(|r| *r).await;
                    }
                    Ok::<(), TaskError>(())
                }
            })
            .await
    });
    let mut listed = Vec::new();
    for _ in 0..200 {
        listed = batches(addr).await;
        if listed.iter().any(|b| b["task"] == "scan_files" && b["done"] == 4) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(listed.len(), 2, "{listed:?}");
    let (orders, scan) = (&listed[0], &listed[1]);
    assert_eq!(
        (
            &orders["task"],
            &orders["batch"],
            &orders["done"],
            &orders["failed"],
            &orders["total"],
            &orders["finished"]
        ),
        (
            &"import_orders".into(),
            &"rows".into(),
            &18.into(),
            &2.into(),
            &20.into(),
            &true.into()
        ),
        "{orders}"
    );
    assert_eq!(
        (
            &scan["batch"],
            &scan["done"],
            &scan["failed"],
            &scan["total"],
            &scan["finished"]
        ),
        (&"files".into(), &4.into(), &0.into(), &10.into(), &false.into()),
        "{scan}"
    );
    assert!(scan["rate"].as_f64().unwrap() > 0.0, "{scan}");
    assert!(scan["etaSeconds"].as_f64().is_some_and(|s| s >= 0.0), "{scan}");

    release.send(true).unwrap();
    let done = running.await.unwrap().unwrap();
    assert_eq!(done.progress.done, 10);
    let scan = batches(addr)
        .await
        .into_iter()
        .find(|b| b["task"] == "scan_files")
        .unwrap();
    assert_eq!((&scan["done"], &scan["finished"]), (&10.into(), &true.into()), "{scan}");
}
