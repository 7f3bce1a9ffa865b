//! End-to-end matching over the REAL OSV records in `shared/fixtures/osv/`.
//!
//! For each record, packages are placed just below, at and just above its boundaries,
//! and the expectations are derived by hand from the record's events (quoted in each
//! test's comments), never from this crate's output.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic: that is its failure

use bulwark_core::{Ecosystem, FixStatus, OsInfo, Package, Severity, SourcePackage, VulnFinding};
use bulwark_vulndb::matching::{match_package, osv_ecosystem_for, MatchOutcome};
use bulwark_vulndb::osv::{parse_record, OsvRecord};

/// `shared/fixtures/osv/`, with a trailing slash.
fn fix() -> String {
    format!("{}/osv/", bulwark_fixtures::fixtures_location().display())
}

fn load(rel: &str) -> OsvRecord {
    let path = format!("{}{rel}", fix());
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    if rel.ends_with(".yaml") {
        yaml_record(&bytes).unwrap_or_else(|e| panic!("{path}: {e}"))
    } else {
        parse_record(&bytes).unwrap_or_else(|e| panic!("{path}: {e}"))
    }
}

/// The pypa YAML files: read through string-typed mirror types so that plain scalars
/// keep their exact text (`fixed: 1.10` must stay `1.10`, not the float 1.1), then
/// handed to the JSON parser the store uses.
fn yaml_record(bytes: &[u8]) -> Result<OsvRecord, String> {
    use std::collections::BTreeMap;
    #[derive(serde::Deserialize)]
    struct YRange {
        #[serde(rename = "type")]
        kind: String,
        #[serde(default)]
        events: Vec<BTreeMap<String, String>>,
    }
    #[derive(serde::Deserialize)]
    struct YAffected {
        package: BTreeMap<String, String>,
        #[serde(default)]
        ranges: Vec<YRange>,
        #[serde(default)]
        versions: Vec<String>,
    }
    #[derive(serde::Deserialize)]
    struct YRecord {
        id: String,
        #[serde(default)]
        modified: String,
        #[serde(default)]
        withdrawn: Option<String>,
        #[serde(default)]
        aliases: Vec<String>,
        #[serde(default)]
        affected: Vec<YAffected>,
    }
    let y: YRecord = serde_yaml_ng::from_slice(bytes).map_err(|e| e.to_string())?;
    let affected: Vec<serde_json::Value> = y
        .affected
        .into_iter()
        .map(|a| {
            let ranges: Vec<serde_json::Value> = a
                .ranges
                .into_iter()
                .map(|r| serde_json::json!({"type": r.kind, "events": r.events}))
                .collect();
            serde_json::json!({"package": a.package, "ranges": ranges, "versions": a.versions})
        })
        .collect();
    let mut j = serde_json::json!({
        "id": y.id, "modified": y.modified, "aliases": y.aliases, "affected": affected,
    });
    if let (Some(w), Some(obj)) = (y.withdrawn, j.as_object_mut()) {
        obj.insert("withdrawn".into(), w.into());
    }
    parse_record(j.to_string().as_bytes()).map_err(|e| e.to_string())
}

#[test]
fn yaml_scalars_keep_their_text() {
    let doc = b"id: X-1\naffected:\n- package: {name: a, ecosystem: PyPI}\n  ranges:\n  - type: ECOSYSTEM\n    events:\n    - introduced: 0\n    - fixed: 1.10\n";
    let r = yaml_record(doc).expect("yaml");
    let ev = &r.affected[0].ranges[0].events[1];
    assert_eq!(*ev, bulwark_vulndb::osv::Event::Fixed("1.10".into()));
}

fn os(family: &str, version: &str) -> OsInfo {
    OsInfo {
        family: family.into(),
        version: version.into(),
        ..OsInfo::default()
    }
}

fn lang(eco: Ecosystem, name: &str, version: &str) -> Package {
    let mut p = Package::new(eco, name, version, "test");
    p.finalize(None);
    p
}

fn deb(name: &str, version: &str, source: Option<(&str, &str)>, o: &OsInfo) -> Package {
    let mut p = Package::new(Ecosystem::Deb, name, version, "dpkg");
    p.source = source.map(|(n, v)| SourcePackage {
        name: n.into(),
        version: v.into(),
    });
    p.finalize(Some(o));
    p
}

fn rpm(name: &str, version: &str, epoch: Option<u32>, o: &OsInfo) -> Package {
    let mut p = Package::new(Ecosystem::Rpm, name, version, "rpm");
    p.epoch = epoch;
    p.finalize(Some(o));
    p
}

fn one(out: &MatchOutcome) -> Option<&VulnFinding> {
    assert!(out.findings.len() <= 1, "{:?}", out.findings);
    out.findings.first()
}

/// Asserts the package is affected (with exactly `fixed` as fixed versions) or not.
fn check(pkg: &Package, o: Option<&OsInfo>, rec: &OsvRecord, want: Option<&[&str]>) {
    let out = match_package(pkg, o, std::slice::from_ref(rec));
    let got = one(&out);
    match (want, got) {
        (None, None) => {}
        (Some(fixed), Some(f)) => {
            assert_eq!(
                f.fixed_versions, fixed,
                "{} {} vs {}",
                pkg.name, pkg.version, rec.id
            );
            let want_status = if fixed.is_empty() {
                FixStatus::Affected
            } else {
                FixStatus::Fixed
            };
            assert_eq!(f.status, want_status, "{} {}", pkg.name, pkg.version);
        }
        (w, g) => panic!(
            "{} {} ({:?}) vs {}: want affected={:?}, got {:?}",
            pkg.name,
            pkg.version,
            pkg.source,
            rec.id,
            w,
            g.map(|f| &f.fixed_versions)
        ),
    }
}

/// ELA-1072-1 (Freexian ELTS): source `xorg-server`, `Debian:8` fixed
/// `2:1.16.4-1+deb8u16`, `Debian:9` fixed `2:1.19.2-1+deb9u19`; `related` CVEs only.
#[test]
fn debian_ela_source_package_epoch_and_release() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    let rec = load("Debian/debian-elts-advisories/ELA-1072-1.json");
    let d9 = os("debian", "9.13");
    let d8 = os("debian", "8.11");
    let bin = |v: &str, o: &OsInfo| deb("xserver-xorg-core", v, Some(("xorg-server", v)), o);
    // Debian 9: just below, at and above the fix.
    check(
        &bin("2:1.19.2-1+deb9u18", &d9),
        Some(&d9),
        &rec,
        Some(&["2:1.19.2-1+deb9u19"]),
    );
    check(&bin("2:1.19.2-1+deb9u19", &d9), Some(&d9), &rec, None);
    check(&bin("2:1.19.2-1+deb9u20", &d9), Some(&d9), &rec, None);
    // Without its epoch the version is epoch 0, below 2:…: affected although the
    // upstream part is higher.
    check(
        &bin("1.19.2-1+deb9u25", &d9),
        Some(&d9),
        &rec,
        Some(&["2:1.19.2-1+deb9u19"]),
    );
    // The Debian 8 fix is not a fix on Debian 9 (release filter picks Debian:9).
    check(
        &bin("2:1.16.4-1+deb8u16", &d9),
        Some(&d9),
        &rec,
        Some(&["2:1.19.2-1+deb9u19"]),
    );
    check(&bin("2:1.16.4-1+deb8u16", &d8), Some(&d8), &rec, None);
    check(
        &bin("2:1.16.4-1+deb8u15", &d8),
        Some(&d8),
        &rec,
        Some(&["2:1.16.4-1+deb8u16"]),
    );
    // No entry for Debian 12: nothing applies however old the version.
    let d12 = os("debian", "12.5");
    check(&bin("2:1.0-1", &d12), Some(&d12), &rec, None);
    // Keyed by source: the binary name alone never matches.
    let no_src = deb("xserver-xorg-core", "2:1.19.2-1+deb9u18", None, &d9);
    check(&no_src, Some(&d9), &rec, None);
    assert_eq!(
        osv_ecosystem_for(&bin("2:1.19.2-1+deb9u18", &d9), Some(&d9)),
        Some(("Debian".into(), Some("9".into()), "xorg-server".into()))
    );
    // ELA records carry CVEs only in `related`: the finding keeps the ELA id.
    let out = match_package(&bin("2:1.19.2-1+deb9u18", &d9), Some(&d9), &[rec]);
    assert_eq!(one(&out).map(|f| f.id.as_str()), Some("ELA-1072-1"));
}

/// ELA-1034-1: source `linux-4.19`, `Debian:9` fixed `4.19.304-1~deb9u1` (tilde sorts
/// below everything, so `4.19.304-1` is above the fix and `~deb9u0` below it).
#[test]
fn debian_tilde_and_source_version() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    let rec = load("Debian/debian-elts-advisories/ELA-1034-1.json");
    let d9 = os("debian", "9");
    let fix = ["4.19.304-1~deb9u1"];
    let k = |bin_v: &str, src_v: &str| {
        deb(
            "linux-image-4.19.0-26-amd64",
            bin_v,
            Some(("linux-4.19", src_v)),
            &d9,
        )
    };
    check(
        &k("4.19.304-1~deb9u0", "4.19.304-1~deb9u0"),
        Some(&d9),
        &rec,
        Some(&fix),
    );
    check(
        &k("4.19.289-2~deb9u1", "4.19.289-2~deb9u1"),
        Some(&d9),
        &rec,
        Some(&fix),
    );
    check(
        &k("4.19.304-1~deb8u1", "4.19.304-1~deb8u1"),
        Some(&d9),
        &rec,
        Some(&fix),
    );
    check(
        &k("4.19.304-1~deb9u1", "4.19.304-1~deb9u1"),
        Some(&d9),
        &rec,
        None,
    );
    check(&k("4.19.304-1", "4.19.304-1"), Some(&d9), &rec, None);
    // The SOURCE version is compared: a binary with its own, higher version built from an
    // affected source is affected, and vice versa (the bpftool case).
    check(
        &k("7.1.0+4.19.289-2~deb9u1", "4.19.289-2~deb9u1"),
        Some(&d9),
        &rec,
        Some(&fix),
    );
    check(&k("4.19.0-1", "4.19.304-1~deb9u1"), Some(&d9), &rec, None);
}

/// ALSA-2022:6585: `AlmaLinux:9`, binary names `ruby`, `ruby-default-gems`, … fixed
/// `3.0.4-160.el9_0`; summary "Moderate: …".
#[test]
fn almalinux_binary_names_and_severity() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    let rec = load("AlmaLinux/almalinux9/ALSA-2022_6585.json");
    let a9 = os("almalinux", "9.0");
    let fix = ["3.0.4-160.el9_0"];
    check(
        &rpm("ruby", "3.0.4-159.el9", None, &a9),
        Some(&a9),
        &rec,
        Some(&fix),
    );
    check(
        &rpm("ruby", "3.0.3-158.el9", None, &a9),
        Some(&a9),
        &rec,
        Some(&fix),
    );
    check(
        &rpm("ruby-default-gems", "3.0.4-159.el9", None, &a9),
        Some(&a9),
        &rec,
        Some(&fix),
    );
    check(
        &rpm("ruby", "3.0.4-160.el9_0", None, &a9),
        Some(&a9),
        &rec,
        None,
    );
    check(
        &rpm("ruby", "3.0.4-161.el9", None, &a9),
        Some(&a9),
        &rec,
        None,
    );
    // An epoch (1 > 0) puts any version above the epoch-0 fix.
    check(
        &rpm("ruby", "1:3.0.2-1.el9", None, &a9),
        Some(&a9),
        &rec,
        None,
    );
    check(
        &rpm("ruby", "3.0.2-1.el9", Some(1), &a9),
        Some(&a9),
        &rec,
        None,
    );
    // AlmaLinux:9 does not apply to AlmaLinux 8.
    let a8 = os("almalinux", "8.9");
    check(
        &rpm("ruby", "3.0.4-159.el9", None, &a8),
        Some(&a8),
        &rec,
        None,
    );
    let out = match_package(&rpm("ruby", "3.0.4-159.el9", None, &a9), Some(&a9), &[rec]);
    let f = one(&out).expect("affected");
    assert_eq!(f.severity, Severity::Medium);
    assert_eq!(f.severity_source.as_deref(), Some("almalinux"));
}

/// ALSA-2025:20983: `podman` fixed `7:5.6.0-5.el10_1` (epoch 7), "Important".
#[test]
fn almalinux_epoch_in_fixed() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    let rec = load("AlmaLinux/almalinux10/ALSA-2025_20983.json");
    let a10 = os("almalinux", "10.0");
    let fix = ["7:5.6.0-5.el10_1"];
    check(
        &rpm("podman", "7:5.6.0-4.el10_1", None, &a10),
        Some(&a10),
        &rec,
        Some(&fix),
    );
    check(
        &rpm("podman", "7:5.6.0-5.el10_1", None, &a10),
        Some(&a10),
        &rec,
        None,
    );
    check(
        &rpm("podman", "5.6.0-5.el10_1", Some(7), &a10),
        Some(&a10),
        &rec,
        None,
    );
    // Epoch-less = epoch 0 < 7: affected.
    check(
        &rpm("podman", "5.6.0-5.el10_1", None, &a10),
        Some(&a10),
        &rec,
        Some(&fix),
    );
    check(
        &rpm("podman", "8:1.0-1.el10", None, &a10),
        Some(&a10),
        &rec,
        None,
    );
    let out = match_package(
        &rpm("podman", "7:5.6.0-4.el10_1", None, &a10),
        Some(&a10),
        &[rec],
    );
    assert_eq!(one(&out).map(|f| f.severity), Some(Severity::High));
}

/// Older Ubuntu layout CVE-2024-22365 (`pam`): `Ubuntu:Pro:18.04:LTS` fixed
/// `1.1.8-3.6ubuntu2.18.04.6+esm1`, `Ubuntu:22.04:LTS` fixed `1.4.0-11ubuntu2.4`,
/// `ubuntu_priority: medium`, CVSS 5.5.
#[test]
fn ubuntu_releases_pro_and_priority() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    let rec = load("Ubuntu/ubuntu-security-notices/CVE-2024-22365.json");
    let u18 = os("ubuntu", "18.04");
    let u22 = os("ubuntu", "22.04");
    let pam = |v: &str, o: &OsInfo| deb("libpam-modules", v, Some(("pam", v)), o);
    let fix18 = ["1.1.8-3.6ubuntu2.18.04.6+esm1"];
    // 18.04 is past standard support: the Pro record is the only one and still applies.
    check(
        &pam("1.1.8-3.6ubuntu2.18.04.6", &u18),
        Some(&u18),
        &rec,
        Some(&fix18),
    );
    check(
        &pam("1.1.8-3.6ubuntu2.18.04.6+esm1", &u18),
        Some(&u18),
        &rec,
        None,
    );
    check(
        &pam("1.4.0-11ubuntu2.3", &u22),
        Some(&u22),
        &rec,
        Some(&["1.4.0-11ubuntu2.4"]),
    );
    check(&pam("1.4.0-11ubuntu2.4", &u22), Some(&u22), &rec, None);
    check(&pam("1.4.0-11ubuntu2.5", &u22), Some(&u22), &rec, None);
    // No 24.04 entry.
    let u24 = os("ubuntu", "24.04");
    check(&pam("1.0-1", &u24), Some(&u24), &rec, None);
    let out = match_package(&pam("1.4.0-11ubuntu2.3", &u22), Some(&u22), &[rec]);
    let f = one(&out).expect("affected");
    // The distro priority wins over the CVSS v3.1 vector for an OS package.
    assert_eq!(f.severity, Severity::Medium);
    assert_eq!(f.severity_source.as_deref(), Some("ubuntu"));
    assert_eq!(f.id, "CVE-2024-22365");
}

/// UBUNTU-CVE-2025-38094: `linux` on `Ubuntu:Pro:14.04:LTS`, `introduced 0` only (no
/// fix), severity type `Ubuntu` = `medium`, `upstream: [CVE-2025-38094]`.
#[test]
fn ubuntu_unfixed_record() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    let rec = load("Ubuntu/osv.dev-testdata/UBUNTU-CVE-2025-38094.json");
    let u14 = os("ubuntu", "14.04");
    let k = deb(
        "linux-image-generic",
        "3.13.0.170.181",
        Some(("linux", "3.13.0-170.220")),
        &u14,
    );
    check(&k, Some(&u14), &rec, Some(&[]));
    let out = match_package(&k, Some(&u14), std::slice::from_ref(&rec));
    let f = one(&out).expect("affected");
    assert_eq!(f.id, "CVE-2025-38094");
    assert!(f.aliases.contains(&"UBUNTU-CVE-2025-38094".to_string()));
    assert_eq!(f.severity, Severity::Medium);
    let u16 = os("ubuntu", "16.04");
    check(
        &deb("linux-image-generic", "1", Some(("linux", "4.4.0-1")), &u16),
        Some(&u16),
        &rec,
        None,
    );
}

/// RUSTSEC-2023-0090 (`wasmtime`): one SEMVER range `[0.0.0-0, 4.0.1) ∪ [5.0.0, 5.0.1)
/// ∪ [6.0.0, 6.0.1)`.
#[test]
fn rustsec_multi_range_and_prereleases() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    let rec = load("crates.io/rustsec/RUSTSEC-2023-0090.json");
    let w = |v: &str| lang(Ecosystem::Cargo, "wasmtime", v);
    check(&w("0.1.0"), None, &rec, Some(&["4.0.1", "5.0.1", "6.0.1"]));
    check(
        &w("4.0.0-rc.1"),
        None,
        &rec,
        Some(&["4.0.1", "5.0.1", "6.0.1"]),
    );
    check(&w("4.0.0"), None, &rec, Some(&["4.0.1", "5.0.1", "6.0.1"]));
    check(&w("4.0.1"), None, &rec, None);
    check(&w("4.1.0"), None, &rec, None);
    check(&w("5.0.0-beta.1"), None, &rec, None);
    check(&w("5.0.0"), None, &rec, Some(&["5.0.1", "6.0.1"]));
    check(&w("5.0.1"), None, &rec, None);
    check(&w("6.0.0"), None, &rec, Some(&["6.0.1"]));
    check(&w("6.0.1"), None, &rec, None);
    check(&w("7.0.0"), None, &rec, None);
}

/// RUSTSEC-2023-0002 (`git2`, `[0.0.0-0, 0.16.0)`) is withdrawn: it never matches, while
/// the same record without `withdrawn` does.
#[test]
fn withdrawn_records_never_match() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    let rec = load("crates.io/rustsec/RUSTSEC-2023-0002.json");
    assert!(rec.withdrawn.is_some());
    let p = lang(Ecosystem::Cargo, "git2", "0.15.0");
    let out = match_package(&p, None, std::slice::from_ref(&rec));
    assert!(out.findings.is_empty());
    assert_eq!(out.withdrawn, 1);
    let mut live = rec.clone();
    live.withdrawn = None;
    check(&p, None, &live, Some(&["0.16.0"]));
    // pypa YAML: PYSEC-2019-144 (arrayfire `[0, 3.6.0)`) is withdrawn too.
    let py = load("PyPI/pypa-advisory-database/arrayfire/PYSEC-2019-144.yaml");
    let out = match_package(&lang(Ecosystem::Pypi, "arrayfire", "3.5.0"), None, &[py]);
    assert!(out.findings.is_empty());
    // Go: GO-2026-6170 (`github.com/lib/pq`, introduced 1.0.0) is withdrawn.
    let go = load("Go/vulndb/GO-2026-6170.json");
    let out = match_package(
        &lang(Ecosystem::Golang, "github.com/lib/pq", "v1.10.9"),
        None,
        &[go],
    );
    assert!(out.findings.is_empty());
}

/// GO-2022-0515 (`stdlib`): SEMVER without `v`: `[0, 1.17.12) ∪ [1.18.0-0, 1.18.4)`.
#[test]
fn go_stdlib_semver_without_v() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    let rec = load("Go/vulndb/GO-2022-0515.json");
    let s = |v: &str| lang(Ecosystem::Golang, "stdlib", v);
    let both = ["1.17.12", "1.18.4"];
    check(&s("v1.17.11"), None, &rec, Some(&both));
    check(&s("go1.17"), None, &rec, Some(&both));
    check(&s("v1.17.12"), None, &rec, None);
    // go1.18rc1 is 1.18.0-rc.1, inside [1.18.0-0, 1.18.4).
    check(&s("go1.18rc1"), None, &rec, Some(&["1.18.4"]));
    check(&s("v1.18.3"), None, &rec, Some(&["1.18.4"]));
    check(&s("v1.18.4"), None, &rec, None);
    check(&s("v1.19"), None, &rec, None);
    assert_eq!(
        osv_ecosystem_for(&s("v1.18.3"), None),
        Some(("Go".into(), None, "stdlib".into()))
    );
}

/// GO-2026-6179: `toolchain` `[0,1.25.13) ∪ [1.26.0-0,1.26.6) ∪ [1.27.0-0,1.27.0-rc.3)`
/// and `golang.org/x/mod` `[0, 0.40.0)`.
#[test]
fn go_toolchain_and_module() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    let rec = load("Go/vulndb/GO-2026-6179.json");
    let t = |v: &str| lang(Ecosystem::Golang, "toolchain", v);
    check(&t("go1.27rc2"), None, &rec, Some(&["1.27.0-rc.3"]));
    check(&t("go1.27rc3"), None, &rec, None);
    check(&t("go1.26.5"), None, &rec, Some(&["1.26.6", "1.27.0-rc.3"]));
    check(&t("go1.26.6"), None, &rec, None);
    let m = |v: &str| lang(Ecosystem::Golang, "golang.org/x/mod", v);
    check(&m("v0.39.0"), None, &rec, Some(&["0.40.0"]));
    check(&m("v0.40.0"), None, &rec, None);
    check(
        &m("v0.0.0-20200101000000-abcdefabcdef"),
        None,
        &rec,
        Some(&["0.40.0"]),
    );
}

/// PYSEC-2022-48 (pypa YAML, `protobuf`): ECOSYSTEM `[0, 3.15.0)` plus a versions list.
#[test]
fn pypi_yaml_record_and_name_normalization() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    let rec = load("PyPI/pypa-advisory-database/protobuf/PYSEC-2022-48.yaml");
    let p = |n: &str, v: &str| lang(Ecosystem::Pypi, n, v);
    check(&p("protobuf", "3.14.0"), None, &rec, Some(&["3.15.0"]));
    check(&p("protobuf", "3.15.0rc1"), None, &rec, Some(&["3.15.0"]));
    check(&p("protobuf", "3.15.0"), None, &rec, None);
    check(&p("protobuf", "3.15.0.post1"), None, &rec, None);
    check(&p("Protobuf", "2.0.0beta"), None, &rec, Some(&["3.15.0"]));
    let out = match_package(&p("protobuf", "3.14.0"), None, &[rec]);
    assert_eq!(one(&out).map(|f| f.id.as_str()), Some("CVE-2021-22570"));
}

/// PYSEC-2018-27 (`qutebrowser`): a GIT range (skipped, counted) next to ECOSYSTEM
/// `[0, 1.4.1)`.
#[test]
fn pypi_git_ranges_are_skipped_and_counted() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    let rec = load("PyPI/trivy-db-fixtures/PYSEC-2018-27.json");
    let q = |v: &str| lang(Ecosystem::Pypi, "qutebrowser", v);
    let out = match_package(&q("1.4.0"), None, std::slice::from_ref(&rec));
    assert_eq!(out.skipped_git, 1);
    assert_eq!(
        one(&out).map(|f| f.fixed_versions.clone()),
        Some(vec!["1.4.1".to_string()])
    );
    check(&q("1.4.1"), None, &rec, None);
}

/// GHSA-m4h3-7mc2-v295 (Maven `io.atomix:atomix`): `introduced 0`, `last_affected
/// 3.1.5` (inclusive), no fix.
#[test]
fn maven_last_affected_is_inclusive() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    let rec = load("Maven/ghsa-scalibr-zeppelin/GHSA-m4h3-7mc2-v295.json");
    let a = |v: &str| lang(Ecosystem::Maven, "io.atomix:atomix", v);
    check(&a("3.0.0"), None, &rec, Some(&[]));
    check(&a("3.1.5"), None, &rec, Some(&[]));
    check(&a("3.1.5.1"), None, &rec, None);
    check(&a("3.1.6"), None, &rec, None);
}

/// GHSA-266m-wp2v-x7mq (NuGet `Microsoft.NetCore.App.Runtime.linux-arm`): `[9.0.0, 9.0.6)`.
#[test]
fn nuget_range_and_case_insensitive_id() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    let rec = load("NuGet/ghsa-trivy-db-fixtures/GHSA-266m-wp2v-x7mq.json");
    let n = |name: &str, v: &str| lang(Ecosystem::Nuget, name, v);
    let id = "Microsoft.NetCore.App.Runtime.linux-arm";
    check(&n(id, "9.0.5"), None, &rec, Some(&["9.0.6"]));
    check(&n(id, "9.0.0"), None, &rec, Some(&["9.0.6"]));
    check(&n(id, "9.0.0-preview.1"), None, &rec, None);
    check(&n(id, "9.0.6"), None, &rec, None);
    check(&n(id, "8.0.10"), None, &rec, None);
    check(
        &n("microsoft.netcore.app.runtime.linux-arm", "9.0.5"),
        None,
        &rec,
        Some(&["9.0.6"]),
    );
}

/// GHSA-wjx8-cgrm-hh8p (Packagist `contao/core-bundle`): two entries `[4.0.0, 4.4.46)`
/// and `[4.5.0, 4.8.6)`.
#[test]
fn packagist_two_entries() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    let rec = load("Packagist/ghsa-trivy-db-fixtures/GHSA-wjx8-cgrm-hh8p.json");
    let c = |v: &str| lang(Ecosystem::Composer, "contao/core-bundle", v);
    check(&c("3.5.40"), None, &rec, None);
    check(&c("4.4.45"), None, &rec, Some(&["4.4.46"]));
    check(&c("4.4.46"), None, &rec, None);
    check(&c("4.5.0"), None, &rec, Some(&["4.8.6"]));
    check(&c("4.8.5"), None, &rec, Some(&["4.8.6"]));
    check(&c("4.8.6"), None, &rec, None);
}

/// GHSA-h4h5-3hr4-j3g2 (RubyGems `google-protobuf`): `[3.21.0.rc.1, 3.21.7)`,
/// `[3.20.0.rc.1, 3.20.3)`, `[3.17.0.rc.1, 3.19.6)`, `[0, 3.16.3)`.
#[test]
fn rubygems_prerelease_boundaries() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    let rec = load("RubyGems/ghsa-scalibr-zeppelin/GHSA-h4h5-3hr4-j3g2.json");
    let g = |v: &str| lang(Ecosystem::Gem, "google-protobuf", v);
    check(&g("3.21.0.rc.1"), None, &rec, Some(&["3.21.7"]));
    check(&g("3.21.6"), None, &rec, Some(&["3.21.7"]));
    check(&g("3.21.7"), None, &rec, None);
    check(&g("3.20.2"), None, &rec, Some(&["3.20.3"]));
    check(&g("3.20.3"), None, &rec, None);
    check(&g("3.19.5"), None, &rec, Some(&["3.19.6"]));
    check(&g("3.19.6"), None, &rec, None);
    check(&g("3.17.0.rc.0"), None, &rec, None);
    check(&g("3.16.2"), None, &rec, Some(&["3.16.3"]));
    check(&g("3.16.3"), None, &rec, None);
}

/// GHSA-75v8-2h7p-7m2m (npm `formidable`): entry 1 `[3.1.1-canary.20211030, 3.5.3)`;
/// entry 2 `introduced 2.1.0` with no fix and only
/// `database_specific.last_known_affected_version_range: "< 2.1.3"`. OSV semantics (which
/// we follow exactly) make entry 2 cover every version from 2.1.0 on; the GHSA hint is
/// informational and not applied.
#[test]
fn npm_prerelease_and_open_range() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    let rec = load("npm/ghsa-trivy-db-fixtures/GHSA-75v8-2h7p-7m2m.json");
    let f = |v: &str| lang(Ecosystem::Npm, "formidable", v);
    check(&f("2.0.9"), None, &rec, None);
    check(&f("2.1.0"), None, &rec, Some(&[]));
    check(&f("3.1.1-canary.20211030"), None, &rec, Some(&["3.5.3"]));
    check(&f("3.5.2"), None, &rec, Some(&["3.5.3"]));
    // At the fix entry 1 no longer applies; entry 2 (open) still does.
    check(&f("3.5.3"), None, &rec, Some(&[]));
}
