//! The `[http]` table of the configuration file: a runner built from a file with `hosts`
//! installs the settings of `cx.http()`, so a request to a real local server (axum on
//! 127.0.0.1:0) made by a task is a call of the dependency the file names; a bad key or value
//! in the table is reported at its file:line:column.

#![cfg(feature = "http")]
use std::sync::Arc;

use servicetask::{task_fn, ConfigLoader, Runner, TaskConfig, TaskContext, TaskError};
use servicetask_http::{HttpClient, HttpExt};
use servicetask_test_support::records::KeepRecords;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_in_the_file_names_the_dependency_of_cx_http() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().fallback(|| async { "in stock" });
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("servicetask.toml");
    std::fs::write(
        &file,
        format!("[http]\nhosts = {{ \"{addr}\" = \"inventory\" }}\nmax_response_bytes = 4096\n"),
    )
    .unwrap();
    let keep = Arc::new(KeepRecords::default());
    let runner = Runner::builder()
        .config(ConfigLoader::default().with_file(&file).unwrap())
        .record_sink(keep.clone())
        .build();
    runner.check_config().unwrap();
    let url = format!("http://{addr}/stock/42");
    let h = runner
        .register(task_fn(
            TaskConfig::named("check_stock"),
            move |cx: TaskContext, _: ()| {
                let url = url.clone();
                async move { Ok::<_, TaskError>(cx.http().get(&url).send().await?.text()) }
            },
        ))
        .unwrap();
    let body = h.run(()).await.into_result().unwrap();
    assert_eq!(body, "in stock");
    assert_eq!(HttpClient::global().settings().max_response_bytes, 4096);
    let records = keep.records();
    let names: Vec<&str> = records[0].dependencies.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["inventory"]);
    assert_eq!(records[0].dependencies[0].calls, 1);

    // a second runner from the same file agrees with the installed client; other settings
    // cannot silently replace it
    let again = Runner::builder()
        .config(ConfigLoader::default().with_file(&file).unwrap())
        .build();
    again.check_config().unwrap();
    let other = Runner::builder()
        .config(
            ConfigLoader::default()
                .with_toml("other.toml", "[http]\ntimeout = \"1s\"\n")
                .unwrap(),
        )
        .build();
    let err = other.check_config().unwrap_err();
    assert!(err.first().message.contains("already installed"), "{err}");
    server.abort();
}

#[test]
fn a_bad_key_or_value_in_http_is_reported_where_it_is_written() {
    let err = ConfigLoader::default()
        .with_toml("s.toml", "[http]\ntimeout = \"5s\"\ntimout = \"1s\"\n")
        .unwrap_err();
    let p = err.first();
    assert_eq!(p.key, "timout");
    assert_eq!(p.origin, "s.toml:3:1 [http]");
    assert!(
        p.message.starts_with("unknown key") && p.message.contains("max_response_bytes"),
        "{}",
        p.message
    );

    let err = ConfigLoader::default()
        .with_toml("s.toml", "[defaults]\n\n[http]\n  max_response_bytes = 0\n")
        .unwrap_err();
    let p = err.first();
    assert_eq!(
        (p.key.as_str(), p.origin.as_str()),
        ("max_response_bytes", "s.toml:4:3 [http]")
    );

    let err = ConfigLoader::default()
        .with_toml("s.toml", "[http]\nhosts = { \"a.example\" = 7 }\ntimeout = \"soon\"\n")
        .unwrap_err();
    let keys: Vec<&str> = err.problems.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(keys, ["hosts", "timeout"], "{err}");
    assert_eq!(err.problems[1].origin, "s.toml:3:1 [http]");
}
