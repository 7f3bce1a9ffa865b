//! PostgreSQL-only properties of the store (run whenever PostgreSQL is installed): a
//! burst of concurrent reads is served by a bounded number of connections, each read
//! in one read-only snapshot; `COPY` (the re-match's bulk writes) round-trips text with
//! tabs, line breaks and backslashes, NULLs, floats and bytes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use bulwark_server::store::pg::MAX_READERS;
use bulwark_server::{params, DatabaseUrl, Store};
use common::pg::PgCluster;

#[test]
fn a_read_burst_uses_a_bounded_pool_of_read_only_snapshots() {
    let Some(cluster) = PgCluster::shared() else {
        return;
    };
    let url: DatabaseUrl = cluster.database("burst").parse().unwrap();
    let store = Store::open(&url).unwrap();
    // 48 reads at once, each holding its connection for 100 ms and looking at how many
    // connections the store has open (writer included).
    let seen: Vec<i64> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..48)
            .map(|_| {
                let store = store.clone();
                s.spawn(move || {
                    store
                        .read_blocking(|c| {
                            c.query_one("SELECT pg_sleep(0.1)", params![])?;
                            c.query_row(
                                "SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = 'bulwark-server' AND datname = 'burst'",
                                params![],
                                |r| r.get::<i64>(0),
                            )
                        })
                        .unwrap()
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(seen.len(), 48);
    let most = seen.iter().copied().max().unwrap();
    assert!(
        most <= 1 + MAX_READERS as i64,
        "{most} connections open at once"
    );
    assert!(most >= 2, "the reads did not overlap at all: {most}");
    // A reader is read-only: a write through it fails (and the store stays usable).
    let err = store
        .read_blocking(|c| {
            c.execute(
                "UPDATE vulndb_state SET updated_at = 1 WHERE id = 1",
                params![],
            )
        })
        .unwrap_err();
    assert!(err.to_string().contains("read-only"), "{err}");
    let n: i64 = store
        .read_blocking(|c| c.query_row("SELECT COUNT(*) FROM audit_head", params![], |r| r.get(0)))
        .unwrap();
    assert_eq!(n, 1);
}

#[test]
fn reads_and_writes_carry_on_after_a_postgres_restart() {
    use bulwark_server::store::audit::{self, NewEntry};
    let Some(cluster) = PgCluster::shared() else {
        return;
    };
    let url: DatabaseUrl = cluster.database("restart").parse().unwrap();
    let store = Store::open(&url).unwrap();
    let append = |store: &Store, n: i64| {
        store
            .write_blocking(move |c| {
                audit::append(
                    c,
                    NewEntry {
                        actor: format!("t{n}"),
                        role: "admin".into(),
                        action: "test".into(),
                        resource: "/".into(),
                        decision: "done".into(),
                        detail: "{}".into(),
                    },
                    n,
                )
            })
            .map(|e| e.seq)
    };
    let entries = |store: &Store| {
        store.read_blocking(|c| {
            c.query_row("SELECT COUNT(*) FROM audit_log", params![], |r| {
                r.get::<i64>(0)
            })
        })
    };
    // Both the writer and a pooled reader hold a connection now.
    assert_eq!(append(&store, 1).unwrap(), 1);
    assert_eq!(entries(&store).unwrap(), 1);
    cluster.restart();
    // The first read and the first write after the restart succeed: the broken
    // connections are replaced before anything ran on them.
    assert_eq!(entries(&store).unwrap(), 1);
    assert_eq!(append(&store, 2).unwrap(), 2);
    let v = store.read_blocking(|c| audit::verify(c, None)).unwrap();
    assert!(v.ok(), "{:?}", v.breaks);
    assert_eq!(v.entries, 2);
}

#[test]
fn copy_round_trips_awkward_values() {
    use bulwark_server::store::bulk::Rows;
    use bulwark_server::store::sql::Value;
    use bulwark_server::store::Dialect;
    let Some(cluster) = PgCluster::shared() else {
        return;
    };
    let url: DatabaseUrl = cluster.database("copy").parse().unwrap();
    let store = Store::open(&url).unwrap();
    let texts = [
        "tab\there",
        "line\nbreak\r\nand cr",
        "back\\slash \\N \\t",
        "\\N",
        "",
        "ünïcödé \u{1f600} \"quoted\"",
    ];
    type CopyRow = (Option<String>, Option<i64>, Option<f64>, Option<Vec<u8>>);
    let want: Vec<CopyRow> = texts
        .iter()
        .enumerate()
        .map(|(i, t)| {
            (
                Some(t.to_string()),
                Some(i as i64 - 3),
                Some(1e-7 * i as f64),
                Some(vec![0, 9, 10, 92, i as u8]),
            )
        })
        .chain([(None, None, None, None)])
        .collect();
    let rows = want.clone();
    let copied = store
        .write_blocking(move |c| {
            c.batch(
                "CREATE TABLE copy_t (n BIGINT, a TEXT, b BIGINT, c DOUBLE PRECISION, d BYTEA)",
            )?;
            // Three rows per COPY: two full chunks and a rest.
            let mut r = Rows::new(
                "INSERT INTO copy_t VALUES ",
                "($1, $2, $3, $4, $5)",
                5,
                "",
                3,
            )
            .copy(
                Dialect::Postgres,
                "COPY copy_t (n, a, b, c, d) FROM STDIN",
                3,
            );
            for (n, (a, b, c2, d)) in rows.into_iter().enumerate() {
                r.push([
                    Value::I64(n as i64),
                    a.map_or(Value::Null, Value::Text),
                    b.map_or(Value::Null, Value::I64),
                    c2.map_or(Value::Null, Value::F64),
                    d.map_or(Value::Null, Value::Blob),
                ])?;
                if r.is_full() {
                    r.flush(c)?;
                }
            }
            r.flush(c)?;
            Ok(r.changed)
        })
        .unwrap();
    assert_eq!(copied, want.len());
    let got = store
        .read_blocking(|c| {
            c.query_map("SELECT a, b, c, d FROM copy_t ORDER BY n", params![], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
        })
        .unwrap();
    assert_eq!(got, want);
}
