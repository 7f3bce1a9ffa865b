//! Audit-chain tamper tests: an intact chain verifies; an edited, removed, re-ordered or
//! truncated entry is found, each by the check that names it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use bulwark_server::store::audit::{self, NewEntry};
use bulwark_server::Store;
use common::TestDb;

mod common;

fn chain(n: usize) -> (tempfile::TempDir, Store, TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::for_dir(dir.path(), "a.db");
    let store = Store::open(&db.url()).unwrap();
    for i in 0..n {
        store
            .write_blocking(move |c| {
                audit::append(
                    c,
                    NewEntry {
                        actor: format!("tok{i}"),
                        role: "admin".into(),
                        action: "GET /v1/images".into(),
                        resource: "/v1/images".into(),
                        decision: "allow".into(),
                        detail: "{}".into(),
                    },
                    1_700_000_000_000 + i as i64,
                )
            })
            .unwrap();
    }
    (dir, store, db)
}

fn verify(store: &Store) -> audit::Verification {
    store.read_blocking(|c| audit::verify(c, None)).unwrap()
}

fn raw(db: &TestDb, sql: &str) {
    db.batch(sql);
}

#[test]
fn intact_chain_verifies() {
    let (_d, store, _) = chain(5);
    let v = verify(&store);
    assert!(v.ok(), "{:?}", v.breaks);
    assert_eq!((v.entries, v.head_seq), (5, 5));
    assert_eq!(v.head_hash.len(), 64);
}

#[test]
fn edited_entry_is_found() {
    let (_d, store, db) = chain(5);
    raw(&db, "UPDATE audit_log SET decision = 'deny' WHERE seq = 3");
    let v = verify(&store);
    assert!(!v.ok());
    assert_eq!(v.breaks.len(), 1, "{:?}", v.breaks);
    assert_eq!(v.breaks[0].seq, 3);
    assert!(v.breaks[0].problem.contains("edited"));
}

#[test]
fn edited_entry_with_recomputed_hash_breaks_the_next_link() {
    let (_d, store, db) = chain(5);
    // A careful forger recomputes the edited entry's own hash...
    let mut e = store
        .read_blocking(|c| audit::list(c, 1, 1))
        .unwrap()
        .remove(0);
    e.actor = "someone-else".into();
    e.hash = audit::entry_hash(&e);
    // (Both values are plain ASCII: an id and hex.)
    db.batch(&format!(
        "UPDATE audit_log SET actor = '{}', hash = '{}' WHERE seq = 2",
        e.actor, e.hash
    ));
    // ...and the next entry no longer links to it.
    let v = verify(&store);
    assert!(
        v.breaks
            .iter()
            .any(|b| b.seq == 3 && b.problem.contains("prev_hash")),
        "{:?}",
        v.breaks
    );
}

#[test]
fn removed_entry_is_found() {
    let (_d, store, db) = chain(5);
    raw(&db, "DELETE FROM audit_log WHERE seq = 2");
    let v = verify(&store);
    assert!(
        v.breaks
            .iter()
            .any(|b| b.seq == 3 && b.problem.contains("jumps")),
        "{:?}",
        v.breaks
    );
    assert!(v
        .breaks
        .iter()
        .any(|b| b.seq == 3 && b.problem.contains("prev_hash")));
}

#[test]
fn reordered_entries_are_found() {
    let (_d, store, db) = chain(5);
    // Swap the contents of entries 2 and 4 (keeping seq order), as re-ordering would.
    raw(
        &db,
        "UPDATE audit_log SET seq = -2 WHERE seq = 2;
         UPDATE audit_log SET seq = 2 WHERE seq = 4;
         UPDATE audit_log SET seq = 4 WHERE seq = -2;",
    );
    let v = verify(&store);
    assert!(!v.ok());
    assert!(v.breaks.iter().any(|b| b.seq == 2), "{:?}", v.breaks);
    assert!(v.breaks.iter().any(|b| b.seq == 4), "{:?}", v.breaks);
}

#[test]
fn truncated_tail_is_found_by_the_head_row_and_a_recorded_head() {
    let (_d, store, db) = chain(5);
    let before = verify(&store);
    raw(&db, "DELETE FROM audit_log WHERE seq = 5");
    let v = verify(&store);
    assert!(
        v.breaks.iter().any(|b| b.problem.contains("head row")),
        "{:?}",
        v.breaks
    );
    // Even when the forger also rewinds the head row, a head recorded earlier catches it.
    raw(
        &db,
        "UPDATE audit_head SET seq = 4, hash = (SELECT hash FROM audit_log WHERE seq = 4)",
    );
    assert!(verify(&store).ok());
    let head = before.head_hash.clone();
    let v = store
        .read_blocking(move |c| audit::verify(c, Some((5, &head))))
        .unwrap();
    assert!(
        v.breaks.iter().any(|b| b.problem.contains("truncated")),
        "{:?}",
        v.breaks
    );
}

#[test]
fn canonical_encoding_is_unambiguous() {
    let base = audit::Entry {
        seq: 1,
        at: 2,
        actor: "ab".into(),
        role: "c".into(),
        action: String::new(),
        resource: String::new(),
        decision: String::new(),
        detail: String::new(),
        prev_hash: audit::GENESIS.into(),
        hash: String::new(),
    };
    let mut shifted = base.clone();
    shifted.actor = "a".into();
    shifted.role = "bc".into();
    assert_ne!(audit::entry_hash(&base), audit::entry_hash(&shifted));
}
