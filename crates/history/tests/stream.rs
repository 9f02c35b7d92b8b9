//! `HistoryStore::for_each_record` reads the same records as `query`, in the same order, a chunk
//! at a time, whatever the ties in start time, filters and limits.

use servicetask_core::record::{ExecutionRecord, FileAccess, FileAccessKind, OutcomeKind};
use servicetask_history::{HistoryStore, RecordQuery, SqliteStore};

fn store() -> SqliteStore {
    let s = SqliteStore::open_in_memory().unwrap();
    // 40 records over 12 distinct start times (7 share the time 5: more than a chunk), two tasks,
    // inserted out of time order, each with a file
    let mut recs = Vec::new();
    for i in 0..40i64 {
        let t = if (10..17).contains(&i) { 5 } else { (i * 7) % 11 };
        let mut r = ExecutionRecord::new(if i % 3 == 0 { "a" } else { "b" }, t, i as u64, OutcomeKind::Complete);
        r.files.push(FileAccess {
            path: format!("f{i}"),
            kind: FileAccessKind::Read,
            bytes: i as u64,
            ops: 1,
            file_size: None,
        });
        recs.push(r);
    }
    s.insert_batch(&recs[..25]).unwrap();
    s.insert_batch(&recs[25..]).unwrap();
    s
}

fn streamed(s: &SqliteStore, q: &RecordQuery, chunk: usize) -> Vec<(i64, u64, String)> {
    let mut out = Vec::new();
    let n = s
        .for_each_record(q, chunk, &mut |r| {
            out.push((r.id, r.record.duration_ns, r.record.files[0].path.clone()));
        })
        .unwrap();
    assert_eq!(n as usize, out.len());
    out
}

#[test]
fn streaming_reads_what_query_reads_in_order() {
    let s = store();
    let queries = [
        RecordQuery::default(),
        RecordQuery {
            task: Some("b".into()),
            ..Default::default()
        },
        RecordQuery {
            since_unix_ns: Some(5),
            until_unix_ns: Some(9),
            ..Default::default()
        },
        RecordQuery {
            limit: Some(13),
            ..Default::default()
        },
    ];
    for q in &queries {
        let all: Vec<(i64, u64, String)> = s
            .query(q)
            .unwrap()
            .into_iter()
            .map(|r| (r.id, r.record.duration_ns, r.record.files[0].path.clone()))
            .collect();
        assert!(!all.is_empty());
        for chunk in [1, 3, 4, 100] {
            assert_eq!(streamed(&s, q, chunk), all, "{q:?} chunk {chunk}");
        }
    }
}
