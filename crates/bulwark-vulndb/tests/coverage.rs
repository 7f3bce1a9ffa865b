//! Which packages have no advisory source, and why (issue 12, item 5): a package that is
//! not looked up must be listed as "not checked", never silently get 0 vulnerabilities.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic: that is its failure

use bulwark_core::{Ecosystem, IncompleteKind, OsInfo, Package};
use bulwark_vulndb::matching::{coverage_gaps, not_checked_reason, osv_ecosystem_for};

fn os(family: &str, version: &str) -> OsInfo {
    OsInfo {
        family: family.into(),
        version: version.into(),
        ..Default::default()
    }
}

fn pkg(eco: Ecosystem, name: &str) -> Package {
    Package::new(eco, name, "1.0-1", "test")
}

#[test]
fn detected_rpm_distros_without_a_mapping() {
    for (fam, name) in [
        ("amazon", "Amazon Linux"),
        ("oracle", "Oracle Linux"),
        ("fedora", "Fedora"),
    ] {
        let o = os(fam, "2023");
        let p = pkg(Ecosystem::Rpm, "openssl-libs");
        assert_eq!(osv_ecosystem_for(&p, Some(&o)), None, "{fam} is not mapped");
        let why = not_checked_reason(&p, Some(&o)).expect("not checked");
        assert_eq!(
            why,
            format!("{name} ({fam} 2023) is detected but bulwark has no advisory source for it")
        );
    }
}

#[test]
fn mapped_packages_are_checked() {
    let cases = [
        (Ecosystem::Rpm, os("rhel", "9.3")),
        (Ecosystem::Rpm, os("rocky", "9")),
        (Ecosystem::Deb, os("debian", "12.5")),
        (Ecosystem::Deb, os("ubuntu", "22.04")),
        (Ecosystem::Apk, os("alpine", "3.19.1")),
    ];
    for (eco, o) in cases {
        let p = pkg(eco, "x");
        assert!(osv_ecosystem_for(&p, Some(&o)).is_some(), "{o:?}");
        assert_eq!(not_checked_reason(&p, Some(&o)), None, "{o:?}");
    }
    for eco in [
        Ecosystem::Npm,
        Ecosystem::Pypi,
        Ecosystem::Maven,
        Ecosystem::Golang,
    ] {
        assert_eq!(not_checked_reason(&pkg(eco, "x"), None), None, "{eco:?}");
    }
}

#[test]
fn unknown_distro_missing_os_and_unmapped_ecosystems() {
    let p = pkg(Ecosystem::Deb, "bash");
    assert_eq!(
        not_checked_reason(&p, Some(&os("mysteryos", "7"))).as_deref(),
        Some("unknown distribution mysteryos 7: no advisory source for deb packages")
    );
    assert_eq!(
        not_checked_reason(&p, None).as_deref(),
        Some("operating system not detected, so deb packages have no advisory source")
    );
    // A deb package on Alpine (a mapped family, the wrong package type).
    assert_eq!(
        not_checked_reason(&p, Some(&os("alpine", "3.19"))).as_deref(),
        Some("deb packages on alpine 3.19 have no advisory source (alpine 3.19 uses apk)")
    );
    for (eco, t) in [
        (Ecosystem::Conan, "conan"),
        (Ecosystem::Conda, "conda"),
        (Ecosystem::Generic, "generic"),
    ] {
        assert_eq!(
            not_checked_reason(&pkg(eco, "x"), None),
            Some(format!("no advisory source for {t} packages"))
        );
    }
}

#[test]
fn gaps_are_grouped_by_reason_with_counts() {
    let o = os("amazon", "2");
    let pkgs = vec![
        pkg(Ecosystem::Rpm, "a"),
        pkg(Ecosystem::Rpm, "b"),
        pkg(Ecosystem::Npm, "lodash"),
        pkg(Ecosystem::Conan, "zlib"),
    ];
    let (listed, reasons) = coverage_gaps(&pkgs, Some(&o), None);
    let names: Vec<&str> = listed.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["a", "b", "zlib"]);
    assert_eq!(reasons.len(), 2);
    assert!(reasons.iter().all(|r| r.kind == IncompleteKind::NotChecked));
    assert!(reasons.iter().any(|r| r.message
        == "2 package(s) not checked for vulnerabilities: Amazon Linux (amazon 2) is detected but bulwark has no advisory source for it"));
    assert!(reasons.iter().any(|r| r.message
        == "1 package(s) not checked for vulnerabilities: no advisory source for conan packages"));
    let (listed, reasons) = coverage_gaps(&[pkg(Ecosystem::Npm, "x")], None, None);
    assert!(listed.is_empty() && reasons.is_empty());
}
