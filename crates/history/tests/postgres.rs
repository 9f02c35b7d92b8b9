//! The PostgreSQL history store on a real PostgreSQL: the `HistoryStore` contract the SQLite
//! store keeps (`tests/store.rs`), two nodes writing one history that a third reads whole, the
//! migration run by nodes opening a new database together, a newer schema refused, and calls
//! made from inside a tokio runtime (as the CLI makes them). Needs
//! `SERVICETASK_TEST_POSTGRES_URL` (`.ci/run` starts a PostgreSQL 15 and runs these with
//! `--ignored`; without the variable they fail, so they are ignored).

use std::sync::Arc;

use servicetask_core::record::{DependencyUse, ExecutionRecord, FileAccess, FileAccessKind, OutcomeKind};
use servicetask_history::{
    open_database, AccessTrait, HistoryError, HistoryStore, HistoryWriter, PostgresStore, RecordQuery, WriterConfig,
};

const ENV: &str = "SERVICETASK_TEST_POSTGRES_URL";
const SEC: i64 = 1_000_000_000;

/// A fresh database on the test server; its URL.
fn fresh_database() -> String {
    let url =
        std::env::var(ENV).unwrap_or_else(|_| panic!("{ENV} is not set: start a PostgreSQL (see .ci/postgres.sh)"));
    let name = format!("sth_{:016x}", rand_u64());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(conn);
        client.batch_execute(&format!("CREATE DATABASE {name}")).await.unwrap();
    });
    let base = url.rsplit_once('/').map_or(url.as_str(), |(b, _)| b);
    format!("{base}/{name}")
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
    );
    h.finish()
}

fn rec(task: &str, t: i64, dur_ms: u64) -> ExecutionRecord {
    ExecutionRecord::new(task, t * SEC, dur_ms * 1_000_000, OutcomeKind::Complete)
}

/// A record with every field set, files and dependencies included.
fn full() -> ExecutionRecord {
    let mut r = rec("resize", 10, 5);
    r.outcome = OutcomeKind::Failure;
    r.error_class = Some("timeout".into());
    r.input_size = Some(1234);
    r.cpu_ns = Some(99);
    r.mem_peak_bytes = Some(1 << 20);
    r.bytes_read = 7;
    r.bytes_written = 8;
    r.attempts = 3;
    r.fallback_used = true;
    r.trace_id = Some("0af7651916cd43dd8448eb211c80319c".into());
    r.process_id = Some("proc".into());
    r.process_instance_id = Some("42".into());
    r.element_id = Some("Task_1".into());
    r.anomaly = true;
    r.files.push(FileAccess {
        path: "a.txt".into(),
        kind: FileAccessKind::Read,
        bytes: 7,
        ops: 2,
        file_size: Some(70),
    });
    // every field of a dependency's totals, whatever this build's record holds
    let mut dep = serde_json::json!({ "name": "s3", "calls": 3, "failures": 2, "total_ns": 1000 });
    if let Ok(serde_json::Value::Object(all)) =
        serde_json::to_value(serde_json::from_value::<DependencyUse>(dep.clone()).unwrap())
    {
        for (k, v) in all {
            if v.is_u64() && v.as_u64() == Some(0) {
                dep[k] = serde_json::json!(11);
            }
        }
    }
    r.dependencies.push(serde_json::from_value(dep).unwrap());
    r
}

#[test]
#[ignore = "needs PostgreSQL: set SERVICETASK_TEST_POSTGRES_URL (run by .ci/run)"]
fn records_round_trip_and_queries_select_as_on_sqlite() {
    let s = PostgresStore::connect(&fresh_database()).unwrap();
    let r = full();
    let ids = s
        .insert_batch(&[r.clone(), rec("resize", 20, 10), rec("fetch", 15, 1)])
        .unwrap();
    assert_eq!(ids.len(), 3);
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids in insertion order: {ids:?}");
    let all = s.query(&RecordQuery::default()).unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(all[0].id, ids[0]);
    assert_eq!(all[0].record, r, "every field kept");
    assert_eq!(all[0].batch, all[2].batch, "one batch");
    // ordered by start time, filtered by task and range, limited
    let order: Vec<i64> = all.iter().map(|x| x.record.started_at_unix_ns / SEC).collect();
    assert_eq!(order, [10, 15, 20]);
    let resize = RecordQuery {
        task: Some("resize".into()),
        ..RecordQuery::default()
    };
    assert_eq!(s.count(&resize).unwrap(), 2);
    let range = RecordQuery {
        since_unix_ns: Some(12 * SEC),
        until_unix_ns: Some(20 * SEC),
        ..RecordQuery::default()
    };
    let got = s.query(&range).unwrap();
    assert_eq!((got.len(), got[0].record.task.as_str()), (1, "fetch"));
    let one = RecordQuery {
        limit: Some(1),
        ..RecordQuery::default()
    };
    assert_eq!(s.query(&one).unwrap().len(), 1);
    assert_eq!(s.count(&one).unwrap(), 3, "count ignores the limit");
    assert_eq!(s.tasks().unwrap(), ["fetch", "resize"]);
    assert_eq!(
        s.duration_percentiles(&resize, &[0.0, 0.5, 1.0]).unwrap(),
        Some(vec![5_000_000, 5_000_000, 10_000_000])
    );
    assert_eq!(
        s.duration_percentiles(
            &RecordQuery {
                task: Some("nothing".into()),
                ..RecordQuery::default()
            },
            &[0.5]
        )
        .unwrap(),
        None
    );
    s.mark_anomaly(ids[0], false).unwrap();
    s.mark_anomaly(ids[1], true).unwrap();
    let flags: Vec<bool> = s.query(&resize).unwrap().iter().map(|x| x.record.anomaly).collect();
    assert_eq!(flags, [false, true]);
    let files = s.file_access_patterns(&RecordQuery::default()).unwrap();
    assert_eq!(files.len(), 1);
    assert_eq!(
        (files[0].path.as_str(), files[0].read_executions, files[0].bytes_read),
        ("a.txt", 1, 7)
    );
    assert!(files[0].traits(3).contains(&AccessTrait::ReadHeavy));
    // an empty batch writes nothing
    assert!(s.insert_batch(&[]).unwrap().is_empty());
    assert_eq!(s.count(&RecordQuery::default()).unwrap(), 3);
}

/// Two nodes write one history through their writers; a third connection reads it whole, in
/// chunks (as the report does), from inside a tokio runtime.
#[test]
#[ignore = "needs PostgreSQL: set SERVICETASK_TEST_POSTGRES_URL (run by .ci/run)"]
fn a_fleet_writes_one_history_that_any_node_reads() {
    let url = fresh_database();
    // two nodes opening a new database at once migrate it once
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| PostgresStore::connect(&url).unwrap());
        let b = s.spawn(|| PostgresStore::connect(&url).unwrap());
        (a.join().unwrap(), b.join().unwrap())
    });
    let writers: Vec<HistoryWriter> = [Arc::new(a), Arc::new(b)]
        .into_iter()
        .map(|s| HistoryWriter::spawn(s, WriterConfig::default()).unwrap())
        .collect();
    for n in 0..500i64 {
        use servicetask_core::record::RecordSink as _;
        let node = (n % 2) as usize;
        writers[node].record(rec(if node == 0 { "a" } else { "b" }, n, 1 + n as u64 % 7));
    }
    for w in &writers {
        w.flush().unwrap();
        w.health().unwrap();
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let reader = open_database(&url).unwrap();
        assert_eq!(reader.tasks().unwrap(), ["a", "b"]);
        let mut seen = Vec::new();
        let read = reader
            .for_each_record(&RecordQuery::default(), 64, &mut |r| {
                seen.push(r.record.started_at_unix_ns)
            })
            .unwrap();
        assert_eq!(read, 500);
        assert_eq!(seen, (0..500).map(|n| n * SEC).collect::<Vec<_>>());
    });
}

#[test]
#[ignore = "needs PostgreSQL: set SERVICETASK_TEST_POSTGRES_URL (run by .ci/run)"]
fn a_newer_schema_and_a_bad_url_are_refused_with_clear_errors() {
    let url = fresh_database();
    drop(PostgresStore::connect(&url).unwrap());
    // reopening changes nothing
    drop(PostgresStore::connect(&url).unwrap());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(conn);
        let versions: i64 = client
            .query_one("SELECT COUNT(*) FROM servicetask_history_migrations", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(versions as usize, servicetask_history::PG_MIGRATIONS.len());
        client
            .batch_execute("INSERT INTO servicetask_history_migrations VALUES (99, 0)")
            .await
            .unwrap();
    });
    match PostgresStore::connect(&url) {
        Err(HistoryError::SchemaTooNew { found: 99, .. }) => {}
        other => panic!("{other:?}"),
    }
    let bad = PostgresStore::connect("postgres://nobody@127.0.0.1:1/none").unwrap_err();
    assert!(matches!(bad, HistoryError::Database(_)), "{bad}");
}
