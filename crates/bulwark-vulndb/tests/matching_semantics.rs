//! OSV evaluation rules on small hand-written records: each case states the rule from
//! the OSV schema (`docs/schema.md`, "Evaluation") it checks.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic: that is its failure

use bulwark_core::{Ecosystem, FixStatus, OsInfo, Package, Severity, SourcePackage};
use bulwark_vulndb::matching::{match_package, osv_ecosystem_for, MatchOutcome};
use bulwark_vulndb::osv::{parse_record, OsvRecord};

fn rec(json: &str) -> OsvRecord {
    parse_record(json.as_bytes()).expect("test record")
}

fn pypi_rec(ranges: &str, versions: &str) -> OsvRecord {
    rec(&format!(
        r#"{{"id":"T-1","modified":"2024-01-01T00:00:00Z","affected":[{{"package":{{"ecosystem":"PyPI","name":"pkg"}},"ranges":{ranges},"versions":{versions}}}]}}"#
    ))
}

fn pypi(v: &str) -> Package {
    Package::new(Ecosystem::Pypi, "pkg", v, "test")
}

fn run(p: &Package, o: Option<&OsInfo>, r: &OsvRecord) -> MatchOutcome {
    match_package(p, o, std::slice::from_ref(r))
}

fn hit(p: &Package, r: &OsvRecord) -> bool {
    !run(p, None, r).findings.is_empty()
}

#[test]
fn events_are_sorted_before_walking() {
    // Unsorted in the file: [fixed 2.0, introduced 1.0] still means [1.0, 2.0).
    let r = pypi_rec(
        r#"[{"type":"ECOSYSTEM","events":[{"fixed":"2.0"},{"introduced":"1.0"}]}]"#,
        "[]",
    );
    assert!(!hit(&pypi("0.9"), &r));
    assert!(hit(&pypi("1.0"), &r));
    assert!(hit(&pypi("1.9"), &r));
    assert!(!hit(&pypi("2.0"), &r));
}

#[test]
fn limit_bounds_a_range() {
    // Unfixed from 1.0, but a limit of 1.5: only [1.0, 1.5) is affected.
    let r = pypi_rec(
        r#"[{"type":"ECOSYSTEM","events":[{"introduced":"1.0"},{"limit":"1.5"}]}]"#,
        "[]",
    );
    assert!(hit(&pypi("1.4"), &r));
    assert!(!hit(&pypi("1.5"), &r));
    // "*" is no limit at all.
    let r = pypi_rec(
        r#"[{"type":"ECOSYSTEM","events":[{"introduced":"1.0"},{"limit":"*"}]}]"#,
        "[]",
    );
    assert!(hit(&pypi("99"), &r));
}

#[test]
fn versions_list_matches_by_scheme_equality() {
    let r = pypi_rec("[]", r#"["1.0", "1.1"]"#);
    assert!(hit(&pypi("1.1"), &r));
    // PEP 440: 1.1.0 == 1.1.
    assert!(hit(&pypi("1.1.0"), &r));
    assert!(!hit(&pypi("1.2"), &r));
}

#[test]
fn unparsable_versions_are_counted_not_matched() {
    let r = pypi_rec(
        r#"[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"2.0"}]}]"#,
        "[]",
    );
    let out = run(&pypi("not a version!"), None, &r);
    assert!(out.findings.is_empty());
    assert_eq!(out.unparsable, 1);
    let long = "1".repeat(5000);
    let out = run(&pypi(&long), None, &r);
    assert!(out.findings.is_empty());
    assert_eq!(out.unparsable, 1);
    // A bad event makes its range unevaluable; a good range next to it still counts.
    let r = pypi_rec(
        r#"[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"%%%"}]},
            {"type":"ECOSYSTEM","events":[{"introduced":"3.0"},{"fixed":"3.1"}]}]"#,
        "[]",
    );
    let out = run(&pypi("1.0"), None, &r);
    assert!(out.findings.is_empty());
    assert_eq!(out.unparsable, 1);
    assert_eq!(run(&pypi("3.0"), None, &r).findings.len(), 1);
}

#[test]
fn introduced_zero_and_semver_without_v() {
    let r = rec(
        r#"{"id":"GO-T","modified":"x","affected":[{"package":{"ecosystem":"Go","name":"example.com/m"},
        "ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.2.3"}]}]}]}"#,
    );
    let g = |v: &str| Package::new(Ecosystem::Golang, "example.com/m", v, "test");
    assert!(!run(&g("v0.0.0-20200101000000-abcdefabcdef"), None, &r)
        .findings
        .is_empty());
    assert!(!run(&g("v1.2.2"), None, &r).findings.is_empty());
    assert!(run(&g("v1.2.3"), None, &r).findings.is_empty());
    assert!(run(&g("v1.2.3+incompatible"), None, &r).findings.is_empty());
}

fn debian(v: &str) -> OsInfo {
    OsInfo {
        family: "debian".into(),
        version: v.into(),
        ..OsInfo::default()
    }
}

fn deb_rec(eco: &str, es: &str, events: &str) -> OsvRecord {
    rec(&format!(
        r#"{{"id":"DEBIAN-CVE-2024-0001","modified":"x","upstream":["CVE-2024-0001"],
        "severity":[{{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}}],
        "affected":[{{"package":{{"ecosystem":"{eco}","name":"src"}},"ecosystem_specific":{es},
        "ranges":[{{"type":"ECOSYSTEM","events":{events}}}]}}]}}"#
    ))
}

fn deb_pkg(o: &OsInfo) -> Package {
    let mut p = Package::new(Ecosystem::Deb, "bin", "1.0-1", "dpkg");
    p.source = Some(SourcePackage {
        name: "src".into(),
        version: "1.0-1".into(),
    });
    p.finalize(Some(o));
    p
}

#[test]
fn debian_urgency_release_and_status() {
    let d12 = debian("12.5");
    let open = r#"[{"introduced":"0"}]"#;
    // Urgency `unimportant` is the distro's rating: LOW, even with a 9.8 CVSS vector.
    let r = deb_rec("Debian:12", r#"{"urgency":"unimportant"}"#, open);
    let f = run(&deb_pkg(&d12), Some(&d12), &r).findings.remove(0);
    assert_eq!(
        (f.severity, f.severity_source.as_deref()),
        (Severity::Low, Some("debian"))
    );
    assert_eq!(f.id, "CVE-2024-0001");
    assert_eq!(f.status, FixStatus::Affected);
    // `not yet assigned` is no rating: the CVSS score decides (9.8 → CRITICAL).
    let r = deb_rec("Debian:12", r#"{"urgency":"not yet assigned"}"#, open);
    let f = run(&deb_pkg(&d12), Some(&d12), &r).findings.remove(0);
    assert_eq!(
        (f.severity, f.severity_source.as_deref()),
        (Severity::Critical, Some("cvss-v3.1"))
    );
    // `end-of-life` without a fix is the end-of-life status.
    let r = deb_rec("Debian:12", r#"{"urgency":"end-of-life"}"#, open);
    assert_eq!(
        run(&deb_pkg(&d12), Some(&d12), &r).findings[0].status,
        FixStatus::EndOfLife
    );
    // Another release's record does not apply; a bare `Debian` one applies to all.
    let r = deb_rec("Debian:11", "{}", open);
    assert!(run(&deb_pkg(&d12), Some(&d12), &r).findings.is_empty());
    let r = deb_rec("Debian", "{}", open);
    assert_eq!(run(&deb_pkg(&d12), Some(&d12), &r).findings.len(), 1);
    // Without a detected OS an OS package cannot be placed in a release: no match.
    assert!(run(&deb_pkg(&d12), None, &r).findings.is_empty());
}

#[test]
fn ecosystem_mapping() {
    let alpine = OsInfo {
        family: "alpine".into(),
        version: "3.19.1".into(),
        ..OsInfo::default()
    };
    let mut p = Package::new(Ecosystem::Apk, "libcrypto3", "3.1.4-r5", "apk");
    p.source = Some(SourcePackage {
        name: "openssl".into(),
        version: "3.1.4-r5".into(),
    });
    assert_eq!(
        osv_ecosystem_for(&p, Some(&alpine)),
        Some(("Alpine".into(), Some("v3.19".into()), "openssl".into()))
    );
    let ubuntu = OsInfo {
        family: "ubuntu".into(),
        version: "22.04".into(),
        ..OsInfo::default()
    };
    let mut d = Package::new(Ecosystem::Deb, "libc6", "2.35-0ubuntu3.6", "dpkg");
    d.source = Some(SourcePackage {
        name: "glibc".into(),
        version: "2.35-0ubuntu3.6".into(),
    });
    assert_eq!(
        osv_ecosystem_for(&d, Some(&ubuntu)),
        Some(("Ubuntu".into(), Some("22.04".into()), "glibc".into()))
    );
    let rocky = OsInfo {
        family: "rocky".into(),
        version: "9.3".into(),
        ..OsInfo::default()
    };
    let mut r = Package::new(Ecosystem::Rpm, "openssl-libs", "1:3.0.7-25.el9_3", "rpm");
    r.source = Some(SourcePackage {
        name: "openssl".into(),
        version: "3.0.7-25.el9_3".into(),
    });
    assert_eq!(
        osv_ecosystem_for(&r, Some(&rocky)),
        Some((
            "Rocky Linux".into(),
            Some("9".into()),
            "openssl-libs".into()
        ))
    );
    let py = Package::new(Ecosystem::Pypi, "Foo_Bar.baz", "1.0", "t");
    assert_eq!(
        osv_ecosystem_for(&py, None),
        Some(("PyPI".into(), None, "foo-bar-baz".into()))
    );
    assert_eq!(
        osv_ecosystem_for(&Package::new(Ecosystem::Conan, "zlib", "1.3", "t"), None),
        None
    );
}

#[test]
fn ubuntu_variants() {
    let r = rec(
        r#"{"id":"UBUNTU-CVE-2024-1","modified":"x","upstream":["CVE-2024-1"],"affected":[
        {"package":{"ecosystem":"Ubuntu:Pro:FIPS-updates:22.04:LTS","name":"openssl"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"3.0.2-0ubuntu1.99+fips"}]}]}]}"#,
    );
    let u22 = OsInfo {
        family: "ubuntu".into(),
        version: "22.04".into(),
        ..OsInfo::default()
    };
    let mk = |v: &str| {
        let mut p = Package::new(Ecosystem::Deb, "libssl3", v, "dpkg");
        p.source = Some(SourcePackage {
            name: "openssl".into(),
            version: v.into(),
        });
        p
    };
    // A FIPS record says nothing about the regular build.
    assert!(run(&mk("3.0.2-0ubuntu1.15"), Some(&u22), &r)
        .findings
        .is_empty());
    assert_eq!(
        run(&mk("3.0.2-0ubuntu1.10+fips"), Some(&u22), &r)
            .findings
            .len(),
        1
    );
}

#[test]
fn hostile_records_do_not_panic() {
    let many: Vec<String> = (0..5000)
        .map(|i| {
            if i % 2 == 0 {
                format!(r#"{{"introduced":"{i}"}}"#)
            } else {
                format!(r#"{{"fixed":"{i}"}}"#)
            }
        })
        .collect();
    let r = pypi_rec(
        &format!(r#"[{{"type":"ECOSYSTEM","events":[{}]}}]"#, many.join(",")),
        "[]",
    );
    assert!(hit(&pypi("10.5"), &r));
    assert!(!hit(&pypi("11.5"), &r));
    let no_pkg = rec(r#"{"id":"X","modified":"x","affected":[{"ranges":[]}]}"#);
    assert!(!hit(&pypi("1"), &no_pkg));
}

#[test]
fn semver_ranges_accept_loose_installed_versions() {
    let r = rec(
        r#"{"id":"GHSA-T","modified":"x","affected":[{"package":{"ecosystem":"npm","name":"left-pad"},
        "ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.2.3"}]}]}]}"#,
    );
    let n = |v: &str| Package::new(Ecosystem::Npm, "left-pad", v, "test");
    assert_eq!(run(&n("v1.2.2"), None, &r).findings.len(), 1);
    assert_eq!(run(&n("1.2.3-beta.1"), None, &r).findings.len(), 1);
    assert!(run(&n("v1.2.3"), None, &r).findings.is_empty());
}
