//! Feed deltas: each generation `db import` publishes records what it changed against
//! the one before, and a reader that is several generations behind gets the merged
//! changes since the generation it last saw.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic: that is its failure

use std::path::{Path, PathBuf};

use bulwark_vulndb::{import_paths, DeltaKind, ImportOptions, VulnDb};

fn rec(
    id: &str,
    eco: &str,
    name: &str,
    modified: &str,
    fixed: &str,
    withdrawn: Option<&str>,
) -> String {
    let mut v = serde_json::json!({
        "id": id, "modified": modified,
        "affected": [{"package": {"ecosystem": eco, "name": name},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}]}]
    });
    if let Some(w) = withdrawn {
        v["withdrawn"] = serde_json::json!(w);
    }
    v.to_string()
}

fn import(db: &Path, dir: &Path, files: &[(&str, String)], replace: bool) -> String {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).unwrap();
    let paths: Vec<PathBuf> = files
        .iter()
        .map(|(n, body)| {
            let p = dir.join(format!("{n}.json"));
            std::fs::write(&p, body).unwrap();
            p
        })
        .collect();
    let opts = ImportOptions {
        replace,
        ..ImportOptions::default()
    };
    import_paths(db, &paths, &opts).unwrap().generation
}

fn kinds(d: &bulwark_vulndb::Delta) -> Vec<(String, DeltaKind)> {
    d.records.iter().map(|r| (r.id.clone(), r.kind)).collect()
}

#[test]
fn new_changed_withdrawn_removed_and_merged_history() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("db");
    let src = tmp.path().join("src");
    let g1 = import(
        &db,
        &src,
        &[
            (
                "a",
                rec("A-1", "PyPI", "Django", "2026-01-01T00:00:00Z", "4.2", None),
            ),
            (
                "b",
                rec(
                    "B-1",
                    "npm",
                    "lodash",
                    "2026-01-01T00:00:00Z",
                    "4.17.21",
                    None,
                ),
            ),
            (
                "c",
                rec(
                    "C-1",
                    "Debian:12",
                    "openssl",
                    "2026-01-01T00:00:00Z",
                    "3.0.15-1",
                    None,
                ),
            ),
        ],
        false,
    );
    let v1 = VulnDb::open(&db).unwrap();
    assert_eq!(v1.generation(), g1);
    let own = v1.delta_since(None).unwrap().unwrap();
    assert_eq!(own.count(DeltaKind::New), 3);
    assert!(own
        .packages()
        .contains(&("PyPI".to_string(), "django".to_string())));

    // Same content again: no delta records.
    let g2 = import(
        &db,
        &src,
        &[(
            "b",
            rec(
                "B-1",
                "npm",
                "lodash",
                "2026-01-01T00:00:00Z",
                "4.17.21",
                None,
            ),
        )],
        false,
    );
    let v2 = VulnDb::open(&db).unwrap();
    assert_eq!(v2.generation(), g2);
    assert!(v2.delta_since(None).unwrap().unwrap().records.is_empty());

    // Changed range (same modified time), withdrawn, and new.
    let g3 = import(
        &db,
        &src,
        &[
            (
                "a",
                rec(
                    "A-1",
                    "PyPI",
                    "Django",
                    "2026-01-01T00:00:00Z",
                    "4.2.1",
                    None,
                ),
            ),
            (
                "b",
                rec(
                    "B-1",
                    "npm",
                    "lodash",
                    "2026-02-01T00:00:00Z",
                    "4.17.21",
                    Some("2026-02-01T00:00:00Z"),
                ),
            ),
            (
                "d",
                rec(
                    "D-1",
                    "crates.io",
                    "time",
                    "2026-02-01T00:00:00Z",
                    "0.3.5",
                    None,
                ),
            ),
        ],
        false,
    );
    let v3 = VulnDb::open(&db).unwrap();
    assert_eq!(v3.generation(), g3);
    let own = v3.delta_since(None).unwrap().unwrap();
    assert_eq!(
        kinds(&own),
        vec![
            ("A-1".to_string(), DeltaKind::Changed),
            ("B-1".to_string(), DeltaKind::Withdrawn),
            ("D-1".to_string(), DeltaKind::New),
        ]
    );
    assert_eq!(own.since.as_deref(), Some(g2.as_str()));
    // A reader at g1 gets everything since g1 (g2 added nothing).
    let since1 = v3.delta_since(Some(&g1)).unwrap().unwrap();
    assert_eq!(since1.records.len(), 3);
    // Up to date: empty. Unknown generation: None (the caller must re-match everything).
    assert!(v3
        .delta_since(Some(&g3))
        .unwrap()
        .unwrap()
        .records
        .is_empty());
    assert!(v3.delta_since(Some("0-000000000-1")).unwrap().is_none());

    // A replacing import: records not in it are removed; history is carried over.
    let g4 = import(
        &db,
        &src,
        &[(
            "c",
            rec(
                "C-1",
                "Debian:12",
                "openssl",
                "2026-01-01T00:00:00Z",
                "3.0.15-1",
                None,
            ),
        )],
        true,
    );
    let v4 = VulnDb::open(&db).unwrap();
    assert_eq!(v4.generation(), g4);
    let own = v4.delta_since(None).unwrap().unwrap();
    assert_eq!(
        kinds(&own),
        vec![
            ("A-1".to_string(), DeltaKind::Removed),
            ("B-1".to_string(), DeltaKind::Removed),
            ("D-1".to_string(), DeltaKind::Removed),
        ]
    );
    // The removed record's package pairs are named (from the previous generation).
    assert!(own
        .packages()
        .contains(&("crates.io".to_string(), "time".to_string())));
    let since2 = v4.delta_since(Some(&g2)).unwrap().unwrap();
    assert_eq!(since2.records.len(), 3);
    assert!(since2.records.iter().all(|r| r.kind == DeltaKind::Removed));
}
