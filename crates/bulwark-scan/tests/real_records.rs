//! `bulwark_scan::scan` end to end with REAL OSV records from the shared fixtures
//! (imported with `import_paths`) against small directory targets whose versions sit
//! below, at and above the records' fixed / last-affected versions. Expectations are
//! derived by hand from the records:
//!
//! - GHSA-35jh-r3h4-6jhm (CVE-2021-23337): npm lodash and lodash-es `<4.17.21`,
//!   lodash.template `<=4.5.0` (last_affected), RubyGems lodash-rails `<4.17.21`.
//! - GHSA-29mw-wpgm-hmr9 (CVE-2020-28500): npm lodash and lodash-es `>=4.0.0 <4.17.21`,
//!   lodash.trim `>=4.0.0 <=4.5.1`, RubyGems lodash-rails `>=4.0.0 <4.17.21`.

use std::collections::BTreeSet;
use std::path::PathBuf;

use bulwark_scan::{scan, ScanOptions};

fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/fixtures/osv/"
    ))
    .join(rel)
}

const LOCK: &str = r#"{
  "name": "t", "version": "1.0.0", "lockfileVersion": 3, "requires": true,
  "packages": {
    "": {"name": "t", "version": "1.0.0"},
    "node_modules/lodash": {"version": "4.17.20"},
    "node_modules/lodash-es": {"version": "4.17.21"},
    "node_modules/lodash.template": {"version": "4.5.0"},
    "node_modules/lodash.trim": {"version": "4.5.2"},
    "node_modules/a/node_modules/lodash": {"version": "3.10.1"}
  }
}
"#;

const GEMFILE_LOCK: &str = "GEM\n  remote: https://rubygems.org/\n  specs:\n    lodash-rails (4.17.20)\n\nPLATFORMS\n  ruby\n\nDEPENDENCIES\n  lodash-rails\n\nBUNDLED WITH\n   2.4.10\n";

#[test]
fn real_npm_and_rubygems_records_at_the_range_edges() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let db = tmp.path().join("db");
    let stats = bulwark_vulndb::import_paths(
        &db,
        &[
            fixture("npm/ghsa-osv-scanner-santatracker/GHSA-35jh-r3h4-6jhm.json"),
            fixture("npm/ghsa-osv-scanner-santatracker/GHSA-29mw-wpgm-hmr9.json"),
        ],
        &bulwark_vulndb::ImportOptions::default(),
    )
    .expect("import");
    assert_eq!(stats.records, 2);
    let target = tmp.path().join("app");
    std::fs::create_dir_all(&target).expect("mkdir");
    std::fs::write(target.join("package-lock.json"), LOCK).expect("write");
    std::fs::write(target.join("Gemfile.lock"), GEMFILE_LOCK).expect("write");

    let opts = ScanOptions {
        db_dir: Some(db),
        ..ScanOptions::default()
    };
    let report = scan(&target.display().to_string(), &opts).expect("scan");
    let got: BTreeSet<(String, String, String)> = report
        .vulnerabilities
        .iter()
        .map(|v| (v.id.clone(), v.package.clone(), v.installed_version.clone()))
        .collect();
    let s = |a: &str, b: &str, c: &str| (a.to_string(), b.to_string(), c.to_string());
    let want: BTreeSet<_> = [
        s("CVE-2021-23337", "lodash", "4.17.20"),
        s("CVE-2020-28500", "lodash", "4.17.20"),
        // 3.10.1 is below 28500's introduced 4.0.0, but 23337 starts at 0.
        s("CVE-2021-23337", "lodash", "3.10.1"),
        // At last_affected 4.5.0: affected.
        s("CVE-2021-23337", "lodash.template", "4.5.0"),
        s("CVE-2021-23337", "lodash-rails", "4.17.20"),
        s("CVE-2020-28500", "lodash-rails", "4.17.20"),
        // lodash-es 4.17.21 is the fixed version, lodash.trim 4.5.2 is above
        // last_affected 4.5.1: neither is reported.
    ]
    .into_iter()
    .collect();
    assert_eq!(got, want);
    let f = report
        .vulnerabilities
        .iter()
        .find(|v| {
            v.package == "lodash" && v.installed_version == "4.17.20" && v.id == "CVE-2021-23337"
        })
        .expect("lodash finding");
    assert_eq!(f.fixed_versions, vec!["4.17.21".to_string()]);
    assert!(f.aliases.contains(&"GHSA-35jh-r3h4-6jhm".to_string()));
    assert!(f
        .path
        .as_deref()
        .is_some_and(|p| p.ends_with("package-lock.json")));
}

#[test]
fn missing_db_says_how_to_make_one() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let opts = ScanOptions {
        db_dir: Some(tmp.path().join("none")),
        ..ScanOptions::default()
    };
    let err = scan(&tmp.path().display().to_string(), &opts)
        .expect_err("no DB")
        .to_string();
    assert!(
        err.contains("bulwark db update") && err.contains("bulwark db import"),
        "{err}"
    );
}

/// GHSA-77rm-9x9h-xj3g (CVE-2021-22570): protobuf `<3.15.0` in NuGet, Packagist, Maven
/// and PyPI; GHSA-mp6f-p9gp-vpj9 (CVE-2020-25792): crates.io sized-chunks `<0.6.3`; and
/// a withdrawn copy of the latter (same data, `withdrawn` set), which must never match.
#[test]
fn real_multi_ecosystem_record_below_and_at_the_fix() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let recs = tmp.path().join("recs");
    std::fs::create_dir_all(&recs).expect("mkdir");
    let sized = std::fs::read_to_string(fixture(
        "crates.io/ghsa-trivy-db-fixtures/GHSA-mp6f-p9gp-vpj9.json",
    ))
    .expect("read");
    let mut withdrawn: serde_json::Value = serde_json::from_str(&sized).expect("json");
    withdrawn["id"] = "TEST-WITHDRAWN-1".into();
    withdrawn["aliases"] = serde_json::json!(["CVE-2099-9999"]);
    withdrawn["withdrawn"] = "2021-01-01T00:00:00Z".into();
    std::fs::write(recs.join("withdrawn.json"), withdrawn.to_string()).expect("write");
    let db = tmp.path().join("db");
    bulwark_vulndb::import_paths(
        &db,
        &[
            fixture("Go/ghsa-scalibr-zeppelin/GHSA-77rm-9x9h-xj3g.json"),
            fixture("crates.io/ghsa-trivy-db-fixtures/GHSA-mp6f-p9gp-vpj9.json"),
            recs,
        ],
        &bulwark_vulndb::ImportOptions::default(),
    )
    .expect("import");

    let t = tmp.path().join("app");
    let w = |rel: &str, body: &str| {
        let p = t.join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, body).expect("write");
    };
    w("py-old/requirements.txt", "protobuf==3.14.0\n");
    w("py-new/requirements.txt", "protobuf==3.15.0\n");
    w(
        "php/composer.lock",
        r#"{"packages":[{"name":"google/protobuf","version":"v3.14.0"}],"packages-dev":[]}"#,
    );
    w(
        "dotnet/packages.lock.json",
        r#"{"version":1,"dependencies":{"net6.0":{"Google.Protobuf":{"type":"Direct","requested":"[3.15.0, )","resolved":"3.15.0"}}}}"#,
    );
    w(
        "rust-old/Cargo.lock",
        "version = 3\n\n[[package]]\nname = \"sized-chunks\"\nversion = \"0.6.2\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n",
    );
    w(
        "rust-new/Cargo.lock",
        "version = 3\n\n[[package]]\nname = \"sized-chunks\"\nversion = \"0.6.3\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n",
    );
    let opts = ScanOptions {
        db_dir: Some(db),
        ..ScanOptions::default()
    };
    let report = scan(&t.display().to_string(), &opts).expect("scan");
    let pkgs: BTreeSet<(String, String)> = report
        .packages
        .iter()
        .map(|p| (p.name.clone(), p.version.clone()))
        .collect();
    let got: BTreeSet<(String, String, String)> = report
        .vulnerabilities
        .iter()
        .map(|v| (v.id.clone(), v.package.clone(), v.installed_version.clone()))
        .collect();
    let s = |a: &str, b: &str, c: &str| (a.to_string(), b.to_string(), c.to_string());
    let mut want: BTreeSet<_> = [
        s("CVE-2021-22570", "protobuf", "3.14.0"),
        s("CVE-2020-25792", "sized-chunks", "0.6.2"),
    ]
    .into_iter()
    .collect();
    // composer's version may be recorded with or without the `v`; take the catalog's
    // spelling (the record's range applies either way).
    let (n, v) = pkgs
        .iter()
        .find(|(n, _)| n == "google/protobuf")
        .expect("composer package catalogued");
    want.insert(s("CVE-2021-22570", n, v));
    assert_eq!(got, want, "packages: {pkgs:?}");
    assert!(pkgs.contains(&("Google.Protobuf".to_string(), "3.15.0".to_string())));
    assert!(!got.iter().any(|f| f.0 == "CVE-2099-9999"));
}
