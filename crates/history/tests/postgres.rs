//! The PostgreSQL history store on a real PostgreSQL: the `HistoryStore` contract the SQLite
//! store keeps (`tests/store.rs`), two nodes writing one history that a third reads whole, the
//! migration run by nodes opening a new database together, a newer schema refused, and calls
//! made from inside a tokio runtime (as the CLI makes them). Needs
//! `SERVICETASK_TEST_POSTGRES_URL` (`.ci/run` starts a PostgreSQL 15 and runs these with
//! `--ignored`; without the variable they fail, so they are ignored).

use std::sync::Arc;

use servicetask_history::{
    open_database, AccessTrait, HistoryError, HistoryStore, HistoryWriter, PostgresStore, RecordQuery, WriterConfig,
};
use servicetask_test_support::records::{every_field, record, SEC};

/// A fresh database on the test server; its URL.
fn fresh_database() -> String {
    servicetask_test_support::postgres::fresh_database("sth")
}

#[test]
#[ignore = "needs PostgreSQL: set SERVICETASK_TEST_POSTGRES_URL (run by .ci/run)"]
fn records_round_trip_and_queries_select_as_on_sqlite() {
    let s = PostgresStore::connect(&fresh_database()).unwrap();
    let r = every_field();
    let ids = s
        .insert_batch(&[r.clone(), record("resize", 20, 10), record("fetch", 15, 1)])
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
        writers[node].record(record(if node == 0 { "a" } else { "b" }, n, 1 + n as u64 % 7));
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
    servicetask_test_support::runtime::current_thread().block_on(async {
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
