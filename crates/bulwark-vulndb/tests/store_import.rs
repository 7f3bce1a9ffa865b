//! Import, lookup, export and enrichment tests of the vulnerability store against the
//! real OSV fixtures and hand-made bad inputs.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic: that is its failure

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bulwark_vulndb::enrich::{import_epss, import_kev};
use bulwark_vulndb::store::{Writer, WriterOptions};
use bulwark_vulndb::{export, import_export, import_paths, ImportOptions, VulnDb, VulnDbError};
use common::{make_zip, osv_fixtures, osv_inputs, record_json};

fn ids(recs: &[bulwark_vulndb::osv::OsvRecord]) -> Vec<&str> {
    recs.iter().map(|r| r.id.as_str()).collect()
}

fn write(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, data).expect("write");
    p
}

#[test]
fn imports_every_fixture_record() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    let db = tempfile::tempdir().expect("tmp");
    let stats = import_paths(db.path(), &osv_inputs(), &ImportOptions::default()).expect("import");
    // Expected numbers were computed from the fixture files with a separate Python
    // script (json + PyYAML, "record" = a mapping with `id` and `modified`), not from
    // our own output. 744 documents; 14 are not OSV (9 Alpine secdb YAML files and 5
    // osv.dev converter-part files, which sit in folders not named `-raw`) and must be
    // skipped. The converter parts are JSON arrays of 19 non-record objects in all, and
    // each array element is counted as one skipped record: 9 + 19 = 28.
    // The other 730 documents are records: 717 distinct ids, 10 of which come in more
    // than one copy (the same GHSA in several bundles; the later copy wins).
    assert_eq!(stats.files, 744, "{:?}", stats.errors);
    assert_eq!(stats.skipped, 28, "{:?}", stats.errors);
    assert_eq!(stats.records, 730);
    assert!(stats.errors.iter().any(|e| e.contains("converter-parts")));
    assert!(stats.errors.iter().any(|e| e.contains("alpine-secdb-yaml")));

    let db = VulnDb::open(db.path()).expect("open");
    let info = db.info().expect("info");
    assert_eq!(info.records, 717);
    assert_eq!(info.withdrawn, 14);
    let per: BTreeMap<String, u64> = info
        .sources
        .iter()
        .map(|s| (s.name.clone(), s.records))
        .collect();
    let want: BTreeMap<String, u64> = [
        ("AlmaLinux", 88),
        ("Debian", 100),
        ("Go", 87),
        ("Maven", 128),
        ("NuGet", 9),
        ("Packagist", 4),
        ("PyPI", 165),
        ("Red Hat", 1),
        ("RubyGems", 12),
        ("SwiftURL", 1),
        ("Ubuntu", 2),
        ("crates.io", 85),
        ("npm", 62),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(per, want);

    // YAML (pypa) and JSON (GHSA) records for the same package, looked up by a
    // spelling that is only equal after PEP 503 normalisation.
    assert_eq!(
        ids(&db.records_for("PyPI", "Django").expect("django")),
        [
            "GHSA-6c3j-c64m-qhgq",
            "PYSEC-2011-3",
            "PYSEC-2014-20",
            "PYSEC-2019-14",
            "PYSEC-2022-19"
        ]
    );
    assert_eq!(
        ids(&db.records_for("PyPI", "WERKZEUG").expect("werkzeug")),
        ["PYSEC-2023-57", "PYSEC-2026-1"]
    );
    // Distro records by source package, all releases (Debian:8, 9, ... together).
    assert_eq!(
        ids(&db.records_for("Debian", "openssl").expect("openssl")),
        ["ELA-1559-1", "ELA-1658-1"]
    );
    assert_eq!(
        ids(&db.records_for("AlmaLinux", "kernel").expect("kernel")),
        ["ALSA-2023:3847", "ALSA-2023:5244", "ALSA-2026:A004"]
    );
    assert_eq!(db.records_for("Go", "stdlib").expect("stdlib").len(), 21);
    assert_eq!(db.records_for("npm", "lodash").expect("lodash").len(), 6);
    // Non-PyPI names are exact.
    assert!(db.records_for("npm", "Lodash").expect("Lodash").is_empty());
    // Withdrawn: stored and retrievable by id, never returned for matching.
    assert!(db
        .records_for("PyPI", "aiohttp")
        .expect("aiohttp")
        .iter()
        .all(|r| r.id != "PYSEC-2022-43059"));
    let w = db
        .record("PYSEC-2022-43059")
        .expect("by id")
        .expect("stored");
    assert!(w.withdrawn.is_some());
    // The YAML record kept its data through the JSON+zstd round trip.
    let django = db.record("PYSEC-2011-3").expect("rec").expect("present");
    assert!(django.affected[0].versions.contains(&"1.2.6".to_string()));
    // Alias table.
    assert!(db
        .ids_for_alias("CVE-2011-4138")
        .expect("alias")
        .contains(&"PYSEC-2011-3".to_string()));
}

#[test]
fn malformed_records_are_counted_and_skipped() {
    let inp = tempfile::tempdir().expect("tmp");
    let d = inp.path();
    write(
        d,
        "good.json",
        &record_json("GOOD-1", "2024-01-01T00:00:00Z", "PyPI", "a", "1.0"),
    );
    write(d, "badjson.json", b"{\"id\": \"X-1\", \"modified\": ");
    write(
        d,
        "unknown-range.json",
        br#"{"id":"X-2","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"PyPI","name":"a"},"ranges":[{"type":"WEIRD","events":[{"introduced":"0"}]}]}]}"#,
    );
    write(
        d,
        "two-keys.json",
        br#"{"id":"X-3","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"PyPI","name":"a"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0","fixed":"1"}]}]}]}"#,
    );
    write(
        d,
        "no-introduced.json",
        br#"{"id":"X-4","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"PyPI","name":"a"},"ranges":[{"type":"ECOSYSTEM","events":[{"fixed":"1"}]}]}]}"#,
    );
    write(d, "no-id.json", br#"{"modified":"2024-01-01T00:00:00Z"}"#);
    write(
        d,
        "affected-not-list.yaml",
        b"id: X-5\nmodified: 2024-01-01T00:00:00Z\naffected: 3\n",
    );
    write(d, "README.txt", b"not a record, not even looked at");
    let db = tempfile::tempdir().expect("tmp");
    let stats =
        import_paths(db.path(), &[d.to_path_buf()], &ImportOptions::default()).expect("import");
    assert_eq!(stats.records, 1, "{:?}", stats.errors);
    assert_eq!(stats.skipped, 6, "{:?}", stats.errors);
    for f in [
        "badjson.json",
        "unknown-range.json",
        "two-keys.json",
        "no-introduced.json",
        "no-id.json",
        "affected-not-list.yaml",
    ] {
        assert!(
            stats.errors.iter().any(|e| e.contains(f)),
            "{f} not reported: {:?}",
            stats.errors
        );
    }
    assert!(stats
        .errors
        .iter()
        .any(|e| e.contains("badjson.json") && e.contains("line 1")));
    assert!(stats
        .errors
        .iter()
        .any(|e| e.contains("unknown range type")));
    let db = VulnDb::open(db.path()).expect("open");
    assert_eq!(ids(&db.records_for("PyPI", "a").expect("a")), ["GOOD-1"]);
}

#[test]
fn git_only_and_capped_versions_are_counted() {
    let inp = tempfile::tempdir().expect("tmp");
    let d = inp.path();
    write(
        d,
        "git.json",
        br#"{"id":"G-1","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"PyPI","name":"g"},"ranges":[{"type":"GIT","repo":"https://x","events":[{"introduced":"abc"}]}]}]}"#,
    );
    let versions: Vec<String> = (0..50).map(|i| format!("\"1.{i}\"")).collect();
    write(
        d,
        "many.json",
        format!(
            r#"{{"id":"V-1","modified":"2024-01-01T00:00:00Z","affected":[{{"package":{{"ecosystem":"PyPI","name":"v"}},"versions":[{}]}}]}}"#,
            versions.join(",")
        )
        .as_bytes(),
    );
    let db = tempfile::tempdir().expect("tmp");
    let opts = ImportOptions {
        max_versions: 10,
        ..ImportOptions::default()
    };
    let stats = import_paths(db.path(), &[d.to_path_buf()], &opts).expect("import");
    assert_eq!(
        (stats.records, stats.git_only, stats.versions_capped),
        (2, 1, 1)
    );
    let db = VulnDb::open(db.path()).expect("open");
    let v = db.record("V-1").expect("get").expect("present");
    assert_eq!(v.affected[0].versions.len(), 10);
}

#[test]
fn zip_import_and_corrupt_zip_leaves_old_db() {
    let inp = tempfile::tempdir().expect("tmp");
    let files: Vec<(String, Vec<u8>)> = (0..20)
        .map(|i| {
            let id = format!("Z-{i}");
            (
                format!("{id}.json"),
                record_json(&id, "2024-01-01T00:00:00Z", "npm", "zpkg", "2.0"),
            )
        })
        .collect();
    let zip = make_zip(&files);
    let good = write(inp.path(), "all.zip", &zip);
    let db = tempfile::tempdir().expect("tmp");
    let stats = import_paths(db.path(), &[good], &ImportOptions::default()).expect("zip import");
    assert_eq!(stats.records, 20);
    let gen = VulnDb::open(db.path())
        .expect("open")
        .generation()
        .to_string();

    // Cut the archive in half: the central directory is gone.
    let cut = write(
        inp.path(),
        "cut.zip",
        zip.get(..zip.len() / 2).expect("half"),
    );
    let err = import_paths(db.path(), &[cut], &ImportOptions::default()).unwrap_err();
    assert!(matches!(err, VulnDbError::BadInput { .. }), "{err}");
    assert!(err.to_string().contains("cut.zip"), "{err}");
    // Damage a byte inside the compressed data of an entry: CRC or inflate error.
    let mut bad = zip.clone();
    let pos = 60.min(bad.len() - 1);
    bad[pos] ^= 0xff;
    let bad = write(inp.path(), "bad.zip", &bad);
    assert!(import_paths(db.path(), &[bad], &ImportOptions::default()).is_err());

    let after = VulnDb::open(db.path()).expect("reopen");
    assert_eq!(after.generation(), gen);
    assert_eq!(after.records_for("npm", "zpkg").expect("lookup").len(), 20);
    // The failed imports left no temp files behind.
    let leftovers: Vec<String> = std::fs::read_dir(db.path())
        .expect("ls")
        .map(|e| e.expect("e").file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn newer_schema_is_a_clear_error() {
    let db = tempfile::tempdir().expect("tmp");
    let inp = tempfile::tempdir().expect("tmp");
    let f = write(
        inp.path(),
        "r.json",
        &record_json("S-1", "2024-01-01T00:00:00Z", "npm", "s", "1"),
    );
    import_paths(db.path(), &[f], &ImportOptions::default()).expect("import");
    let path = VulnDb::open(db.path()).expect("open").path().to_path_buf();
    let conn = rusqlite::Connection::open(&path).expect("rw");
    conn.execute(
        "UPDATE meta SET value = '99' WHERE key = 'schema_version'",
        [],
    )
    .expect("bump");
    drop(conn);
    let err = VulnDb::open(db.path()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "DB schema 99 is newer than this bulwark supports (1); run a newer bulwark or `bulwark db update` to rebuild"
    );
}

#[test]
fn export_import_round_trip_and_tamper_detection() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    let src = tempfile::tempdir().expect("tmp");
    let inputs = vec![osv_fixtures().join("crates.io/rustsec")];
    import_paths(src.path(), &inputs, &ImportOptions::default()).expect("import");
    let out = tempfile::tempdir().expect("tmp");
    let file = out.path().join("db.bulwark");
    let manifest = export(src.path(), &file).expect("export");
    let orig = VulnDb::open(src.path()).expect("open");
    assert_eq!(manifest.generation, orig.generation());

    let dst = tempfile::tempdir().expect("tmp");
    let m2 = import_export(dst.path(), &file).expect("import export");
    assert_eq!(m2, manifest);
    let copy = VulnDb::open(dst.path()).expect("open copy");
    let (a, b) = (orig.info().expect("i"), copy.info().expect("i"));
    assert_eq!(
        (a.records, a.sources.clone()),
        (b.records, b.sources.clone())
    );
    assert_eq!(a.records, 84);
    assert_eq!(
        copy.records_for("crates.io", "wasmtime").expect("q"),
        orig.records_for("crates.io", "wasmtime").expect("q")
    );

    // import_paths recognises an export file by itself.
    let dst2 = tempfile::tempdir().expect("tmp");
    let st = import_paths(
        dst2.path(),
        std::slice::from_ref(&file),
        &ImportOptions::default(),
    )
    .expect("detect");
    assert_eq!(st.records, 84);

    // A flipped byte fails verification (zstd checksum, tar or SHA-256) and the
    // target DB stays as it was.
    let mut bytes = std::fs::read(&file).expect("read");
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    let tampered = out.path().join("tampered.bulwark");
    std::fs::write(&tampered, &bytes).expect("write");
    let gen = copy.generation().to_string();
    let err = import_export(dst.path(), &tampered).unwrap_err();
    assert!(err.to_string().contains("tampered.bulwark"), "{err}");
    assert_eq!(
        VulnDb::open(dst.path()).expect("still there").generation(),
        gen
    );
}

#[test]
fn kev_and_epss_import_and_lookup() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    let db = tempfile::tempdir().expect("tmp");
    let kev = osv_fixtures().join("_enrichment/kev-2022-excerpt.json");
    let raw: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&kev).expect("kev")).expect("json");
    let st = import_kev(db.path(), kev.to_str().expect("utf8")).expect("kev import");
    let want = raw["vulnerabilities"].as_array().expect("list");
    assert_eq!(st.entries as usize, want.len());
    let first = &want[0];
    let cve = first["cveID"].as_str().expect("cve");
    let h = VulnDb::open(db.path()).expect("open");
    let got = h.kev(cve).expect("kev lookup").expect("listed");
    assert_eq!(got.date_added, first["dateAdded"].as_str().expect("date"));
    assert_eq!(
        got.vendor_project,
        first["vendorProject"].as_str().expect("vendor")
    );
    assert_eq!(
        got.known_ransomware_campaign_use, None,
        "the 2022 catalog has no such field"
    );
    assert!(h.kev("CVE-1999-0001").expect("lookup").is_none());

    // EPSS, gzipped, with the comment line.
    let csv = "#model_version:v2025.03.14,score_date:2026-02-12T00:00:00+0000\ncve,epss,percentile\nCVE-2024-1234,0.97000,0.99800\nCVE-2024-5678,0.00043,0.10000\n";
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, csv.as_bytes()).expect("gz");
    let inp = tempfile::tempdir().expect("tmp");
    let f = write(inp.path(), "epss.csv.gz", &gz.finish().expect("gz"));
    let st = import_epss(db.path(), f.to_str().expect("utf8")).expect("epss");
    assert_eq!(st.entries, 2);
    let h = VulnDb::open(db.path()).expect("open");
    let e = h.epss("CVE-2024-1234").expect("q").expect("scored");
    assert!((e.score - 0.97).abs() < 1e-9 && (e.percentile - 0.998).abs() < 1e-9);
    assert_eq!(e.date.as_deref(), Some("2026-02-12T00:00:00+0000"));
    let info = h.info().expect("info");
    // The KEV import survived the EPSS generation (copied forward).
    assert_eq!((info.kev_count as usize, info.epss_count), (want.len(), 2));
}

#[test]
fn read_only_directory_is_a_clear_error() {
    use std::os::unix::fs::PermissionsExt;
    let db = tempfile::tempdir().expect("tmp");
    let inp = tempfile::tempdir().expect("tmp");
    let f = write(
        inp.path(),
        "r.json",
        &record_json("R-1", "2024-01-01T00:00:00Z", "npm", "r", "1"),
    );
    import_paths(
        db.path(),
        std::slice::from_ref(&f),
        &ImportOptions::default(),
    )
    .expect("import");
    std::fs::set_permissions(db.path(), std::fs::Permissions::from_mode(0o555)).expect("chmod");
    let err = import_paths(db.path(), &[f], &ImportOptions::default()).unwrap_err();
    let reader = VulnDb::open(db.path()).map(|d| d.records_for("npm", "r").map(|v| v.len()));
    std::fs::set_permissions(db.path(), std::fs::Permissions::from_mode(0o755))
        .expect("chmod back");
    assert!(matches!(err, VulnDbError::ReadOnly { .. }), "{err}");
    assert!(err.to_string().contains("read-only"), "{err}");
    // Readers need no write access at all.
    assert_eq!(reader.expect("open ro").expect("lookup"), 1);
}

#[test]
fn missing_db_and_dropped_writer() {
    let db = tempfile::tempdir().expect("tmp");
    let err = VulnDb::open(db.path()).unwrap_err();
    assert!(matches!(err, VulnDbError::NotFound { .. }), "{err}");
    // A writer dropped without commit publishes nothing and removes its temp file.
    let w = Writer::begin(db.path(), true, &WriterOptions::default()).expect("begin");
    drop(w);
    assert!(matches!(
        VulnDb::open(db.path()),
        Err(VulnDbError::NotFound { .. })
    ));
    let n = std::fs::read_dir(db.path())
        .expect("ls")
        .filter(|e| {
            e.as_ref()
                .expect("e")
                .file_name()
                .to_string_lossy()
                .starts_with("tmp-")
        })
        .count();
    assert_eq!(n, 0);
    // Two writers at once: the second is told the DB is busy.
    let _w1 = Writer::begin(db.path(), true, &WriterOptions::default()).expect("begin");
    let err = Writer::begin(db.path(), true, &WriterOptions::default())
        .err()
        .expect("busy");
    assert!(matches!(err, VulnDbError::Busy { .. }), "{err}");
}

/// NuGet and Packagist package ids are case-insensitive: a lock file's spelling must find
/// the record whatever case the advisory uses (regression: the store indexed these names
/// exactly, so only the matcher, never reached, compared them case-insensitively).
#[test]
fn nuget_and_packagist_lookups_ignore_case() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    let d = tempfile::tempdir().expect("tempdir");
    let db = d.path().join("db");
    let rec = osv_fixtures().join("NuGet/ghsa-trivy-db-fixtures/GHSA-266m-wp2v-x7mq.json");
    let php = write(
        d.path(),
        "php.json",
        &record_json(
            "PHP-1",
            "2024-01-01T00:00:00Z",
            "Packagist",
            "Acme/Core-Bundle",
            "1.0.1",
        ),
    );
    let npm = write(
        d.path(),
        "npm.json",
        &record_json("NPM-1", "2024-01-01T00:00:00Z", "npm", "Left-Pad", "1.0.1"),
    );
    import_paths(&db, &[rec, php, npm], &ImportOptions::default()).expect("import");
    let db = VulnDb::open(&db).expect("open");
    // The record spells it `Microsoft.NetCore.App.Runtime.linux-arm`.
    for spelling in [
        "Microsoft.NetCore.App.Runtime.linux-arm",
        "Microsoft.NETCore.App.Runtime.linux-arm",
        "microsoft.netcore.app.runtime.linux-arm",
    ] {
        assert_eq!(
            ids(&db.records_for("NuGet", spelling).expect("lookup")),
            ["GHSA-266m-wp2v-x7mq"],
            "{spelling}"
        );
    }
    assert_eq!(
        ids(&db
            .records_for("Packagist", "acme/core-bundle")
            .expect("lookup")),
        ["PHP-1"]
    );
    // npm names stay exact.
    assert_eq!(
        ids(&db.records_for("npm", "Left-Pad").expect("lookup")),
        ["NPM-1"]
    );
    assert!(db
        .records_for("npm", "left-pad")
        .expect("lookup")
        .is_empty());
}
