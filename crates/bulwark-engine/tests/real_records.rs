//! `Engine::scan` end to end with REAL OSV records from the shared fixtures
//! (imported with `import_paths`) against small directory targets whose versions sit
//! below, at and above the records' fixed / last-affected versions. Expectations are
//! derived by hand from the records:
//!
//! - GHSA-35jh-r3h4-6jhm (CVE-2021-23337): npm lodash and lodash-es `<4.17.21`,
//!   lodash.template `<=4.5.0` (last_affected), RubyGems lodash-rails `<4.17.21`.
//! - GHSA-29mw-wpgm-hmr9 (CVE-2020-28500): npm lodash and lodash-es `>=4.0.0 <4.17.21`,
//!   lodash.trim `>=4.0.0 <=4.5.1`, RubyGems lodash-rails `>=4.0.0 <4.17.21`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic: that is its failure

use std::collections::BTreeSet;
use std::path::PathBuf;

use bulwark_engine::{Cancel, Engine, EngineConfig, ScanRequest, TargetRequest};

/// What these tests vary: the DB directory (and room for more).
#[derive(Default)]
struct ScanOptions {
    db_dir: Option<PathBuf>,
    platform: Option<String>,
}

/// A vulnerability scan through the engine, with a private cache.
fn scan(
    target: &str,
    opts: &ScanOptions,
) -> Result<bulwark_core::Report, bulwark_engine::EngineError> {
    let cache = tempfile::tempdir().expect("tempdir");
    let mut cfg = EngineConfig::new(cache.path());
    cfg.db_dir.clone_from(&opts.db_dir);
    let req = ScanRequest {
        target: TargetRequest {
            target: target.to_string(),
            platform: opts.platform.clone(),
            allow_unknown: false,
        },
        ..ScanRequest::default()
    };
    Engine::new(cfg)?
        .scan(&req, &Cancel::new())
        .map(|o| o.report)
}

fn fixture(rel: &str) -> PathBuf {
    bulwark_fixtures::fixtures_location().join("osv/").join(rel)
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
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
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

    let mut cfg = EngineConfig::new(tmp.path().join("cache"));
    cfg.db_dir = Some(db);
    let engine = Engine::new(cfg).expect("engine");
    let req = ScanRequest {
        target: TargetRequest {
            target: target.display().to_string(),
            platform: None,
            allow_unknown: false,
        },
        ..ScanRequest::default()
    };
    let report = engine.scan(&req, &Cancel::new()).expect("scan").report;
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
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
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

/// A Debian root filesystem: os-release plus a dpkg status with one binary package
/// built from `libreoffice` at `version`.
fn debian_rootfs(dir: &std::path::Path, release: &str, version: &str) {
    std::fs::create_dir_all(dir.join("etc")).expect("mkdir");
    std::fs::create_dir_all(dir.join("var/lib/dpkg")).expect("mkdir");
    std::fs::write(
        dir.join("etc/os-release"),
        format!("PRETTY_NAME=\"Debian GNU/Linux {release}\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"{release}\"\nID=debian\n"),
    )
    .expect("write");
    std::fs::write(
        dir.join("var/lib/dpkg/status"),
        format!("Package: libreoffice-core\nStatus: install ok installed\nPriority: optional\nSection: editors\nInstalled-Size: 100\nMaintainer: Debian LibreOffice Maintainers <debian-openoffice@lists.debian.org>\nArchitecture: amd64\nSource: libreoffice\nVersion: {version}\nDescription: office productivity suite -- arch-dependent files\n\n"),
    )
    .expect("write");
}

/// ELA-1181-1 (Debian ELTS): source `libreoffice`, `Debian:10` fixed
/// `1:6.1.5-3+deb10u13`, `Debian:9` fixed `1:6.1.5-3+deb9u4`. Looked up by source
/// package, compared with the epoch, and only for the detected release.
#[test]
fn real_debian_elts_record_by_source_package_with_epoch() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    let tmp = tempfile::tempdir().expect("tempdir");
    let db = tmp.path().join("db");
    bulwark_vulndb::import_paths(
        &db,
        &[fixture("Debian/debian-elts-advisories/ELA-1181-1.json")],
        &bulwark_vulndb::ImportOptions::default(),
    )
    .expect("import");
    let opts = ScanOptions {
        db_dir: Some(db),
        ..ScanOptions::default()
    };
    let hits = |name: &str, release: &str, version: &str| -> Vec<bulwark_core::VulnFinding> {
        let root = tmp.path().join(name);
        debian_rootfs(&root, release, version);
        let report = scan(&root.display().to_string(), &opts).expect("scan");
        assert_eq!(report.packages.len(), 1, "{:?}", report.packages);
        report.vulnerabilities
    };
    let ids = |f: &bulwark_core::VulnFinding| {
        std::iter::once(f.id.clone())
            .chain(f.aliases.iter().cloned())
            .collect::<Vec<_>>()
    };
    // Just below the Debian 10 fix: affected, offered the Debian 10 fix only.
    let below = hits("below", "10", "1:6.1.5-3+deb10u12");
    assert_eq!(below.len(), 1, "{below:?}");
    let f = below.first().expect("finding");
    assert!(ids(f).contains(&"ELA-1181-1".to_string()), "{:?}", ids(f));
    assert_eq!(f.package, "libreoffice-core");
    assert_eq!(f.fixed_versions, vec!["1:6.1.5-3+deb10u13".to_string()]);
    // At the fix and above: not affected.
    assert!(hits("at", "10", "1:6.1.5-3+deb10u13").is_empty());
    assert!(hits("above", "10", "1:6.1.5-3+deb10u14").is_empty());
    // Without the epoch the version sorts below `1:...`: affected.
    assert_eq!(hits("noepoch", "10", "6.1.5-3+deb10u14").len(), 1);
    // On Debian 9 only the Debian:9 range applies: deb9u4 is its fix.
    assert!(hits("d9fixed", "9", "1:6.1.5-3+deb9u4").is_empty());
    let d9 = hits("d9below", "9", "1:6.1.5-3+deb9u3");
    assert_eq!(
        d9.first().map(|f| f.fixed_versions.clone()),
        Some(vec!["1:6.1.5-3+deb9u4".to_string()])
    );
}
