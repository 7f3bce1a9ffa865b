//! Report → CycloneDX/SPDX → `read_sbom` gives the same packages and OS back.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic: that is its failure

mod common;

use bulwark_core::Package;
use bulwark_report::{read_sbom, write, Format};

fn roundtrip(format: Format) -> bulwark_report::SbomDocument {
    let report = common::sample_report();
    let mut buf = Vec::new();
    write(&report, format, &mut buf).unwrap();
    read_sbom(&buf).unwrap()
}

/// Everything but `epoch`: the reader derives it from the purl's `epoch` qualifier,
/// while the sample only sets it where a cataloger would (dpkg records none separately
/// for bsdutils, so the original has `None` where the read-back has `Some(1)`).
fn key(p: &Package) -> Package {
    let mut p = p.clone();
    p.epoch = None;
    p
}

fn assert_same_packages(format: Format) {
    let report = common::sample_report();
    let doc = roundtrip(format);
    assert!(doc.warnings.is_empty(), "{:?}", doc.warnings);
    let mut want: Vec<Package> = report.packages.iter().map(key).collect();
    let mut got: Vec<Package> = doc.packages.iter().map(key).collect();
    let order = |a: &Package, b: &Package| {
        (&a.purl, &a.locations, &a.name).cmp(&(&b.purl, &b.locations, &b.name))
    };
    want.sort_by(order);
    got.sort_by(order);
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g, w, "{format} round trip of {}", w.purl);
    }
    let os = doc.os.expect("os read back");
    assert_eq!(os, common::sample_os());
    assert_eq!(doc.name.as_deref(), Some("example.org/app:1.0"));
    // Epoch comes back from the qualifier for both epoch'd deb/rpm packages.
    let epoch = |n: &str| {
        doc.packages
            .iter()
            .find(|p| p.name == n)
            .and_then(|p| p.epoch)
    };
    assert_eq!(epoch("bsdutils"), Some(1));
    assert_eq!(epoch("bash"), Some(2));
}

#[test]
fn cyclonedx_round_trip_keeps_packages() {
    assert_same_packages(Format::CycloneDx);
}

#[test]
fn spdx_round_trip_keeps_packages() {
    assert_same_packages(Format::Spdx);
}
