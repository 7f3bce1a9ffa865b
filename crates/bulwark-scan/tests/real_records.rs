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
