//! Reading other tools' SBOMs: Trivy 0.76.0's own CycloneDX/SPDX output for a Debian 12
//! minbase root (checked against Trivy's JSON report of the same scan), Trivy's golden
//! CycloneDX/SPDX outputs, and the third-party SBOMs Trivy's SBOM analyzer ingests
//! (checked against that analyzer's expected results).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic: that is its failure

mod common;

use bulwark_core::{Ecosystem, Package};
use bulwark_report::license::{classify, LicenseKind};
use bulwark_report::{read_sbom, ReportError, SbomDocument};
use serde_json::Value;
use std::collections::BTreeSet;

fn read(rel: &str) -> SbomDocument {
    let bytes = std::fs::read(common::fixture(rel)).unwrap();
    read_sbom(&bytes).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn json(rel: &str) -> Value {
    serde_json::from_slice(&std::fs::read(common::fixture(rel)).unwrap()).unwrap()
}

/// Trivy's JSON report packages, keyed by name, in bulwark's conventions.
struct TrivyPkg {
    version: String,
    arch: Option<String>,
    source: Option<(String, String)>,
    licenses: Vec<String>,
    digest: Option<String>,
    supplier: Option<String>,
    purl: String,
}

fn trivy_json_packages() -> Vec<(String, TrivyPkg)> {
    let v = json("dpkg/debian-bookworm-minbase.trivy-0.76.0.license.json");
    let s = |p: &Value, k: &str| p.get(k).and_then(Value::as_str).map(str::to_string);
    let mut out = Vec::new();
    for r in v["Results"].as_array().unwrap() {
        for p in r
            .get("Packages")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            // Trivy splits a deb version into epoch, upstream version and revision.
            let join = |e: Option<i64>, v: String, r: Option<String>| {
                let mut out = String::new();
                if let Some(e) = e.filter(|e| *e != 0) {
                    out.push_str(&format!("{e}:"));
                }
                out.push_str(&v);
                if let Some(r) = r.filter(|r| !r.is_empty()) {
                    out.push('-');
                    out.push_str(&r);
                }
                out
            };
            let version = join(
                p["Epoch"].as_i64(),
                s(p, "Version").unwrap(),
                s(p, "Release"),
            );
            let source = s(p, "SrcName").map(|n| {
                let sv = join(
                    p["SrcEpoch"].as_i64(),
                    s(p, "SrcVersion").unwrap_or_default(),
                    s(p, "SrcRelease"),
                );
                (n, sv)
            });
            let licenses = p["Licenses"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            out.push((
                s(p, "Name").unwrap(),
                TrivyPkg {
                    version,
                    arch: s(p, "Arch"),
                    source,
                    licenses,
                    digest: s(p, "Digest"),
                    supplier: s(p, "Maintainer"),
                    purl: p["Identifier"]["PURL"].as_str().unwrap().to_string(),
                },
            ));
        }
    }
    out
}

fn check_bookworm(doc: &SbomDocument, compare_licenses: bool) {
    let want = trivy_json_packages();
    assert_eq!(want.len(), 88);
    assert_eq!(doc.packages.len(), 88, "{:?}", doc.warnings);
    let os = doc.os.as_ref().expect("os");
    assert_eq!(
        (os.family.as_str(), os.version.as_str()),
        ("debian", "12.15")
    );
    for (name, w) in &want {
        let got: Vec<&Package> = doc.packages.iter().filter(|p| &p.name == name).collect();
        assert_eq!(got.len(), 1, "{name}");
        let g = got[0];
        assert_eq!(g.ecosystem, Ecosystem::Deb);
        assert_eq!(g.purl, w.purl, "{name}");
        assert_eq!(g.version, w.version, "{name}");
        assert_eq!(g.arch, w.arch, "{name}");
        assert_eq!(
            g.source
                .as_ref()
                .map(|s| (s.name.clone(), s.version.clone())),
            w.source,
            "{name}"
        );
        assert_eq!(g.digest, w.digest, "{name}");
        assert_eq!(g.supplier, w.supplier, "{name}");
        if compare_licenses {
            // Trivy's CycloneDX writer rewrites licence names that are not SPDX ids
            // ("GPL-3+ with Bison exception" becomes a `WITH` expression, "and/or"
            // becomes "-and-or"), which its JSON report does not; SPDX ids must match
            // exactly, the rewritten names only by position.
            assert_eq!(g.licenses.len(), w.licenses.len(), "{name}");
            for (gl, wl) in g.licenses.iter().zip(&w.licenses) {
                if matches!(classify(wl), LicenseKind::Id(_)) {
                    assert_eq!(gl, wl, "{name}");
                }
            }
        }
    }
    let bsdutils = doc.packages.iter().find(|p| p.name == "bsdutils").unwrap();
    assert_eq!(bsdutils.version, "1:2.38.1-5+deb12u3");
    assert_eq!(bsdutils.epoch, Some(1));
}

#[test]
fn reads_trivy_cyclonedx_of_debian_bookworm() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    let doc = read("dpkg/debian-bookworm-minbase.trivy-0.76.0.cdx.json");
    check_bookworm(&doc, true);
    assert_eq!(doc.name.as_deref(), Some("vm"));
}

#[test]
fn reads_trivy_spdx_of_debian_bookworm() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    let doc = read("dpkg/debian-bookworm-minbase.trivy-0.76.0.spdx.json");
    // SPDX carries a package's licences as one `licenseDeclared` expression (Trivy's
    // non-SPDX names as LicenseRefs), so they are compared separately below rather than
    // as Trivy's per-licence list.
    check_bookworm(&doc, false);
    let adduser = doc.packages.iter().find(|p| p.name == "adduser").unwrap();
    assert_eq!(adduser.licenses, vec!["GPL-2.0-or-later AND GPL-2.0-only"]);
}

#[test]
fn reads_trivy_golden_cyclonedx_and_spdx() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    let doc = read("trivy-output/npm-cyclonedx.json.golden");
    assert_eq!(doc.packages.len(), 12);
    assert!(doc.packages.iter().all(|p| p.ecosystem == Ecosystem::Npm));
    let jquery = doc
        .packages
        .iter()
        .find(|p| p.purl == "pkg:npm/jquery@3.3.9")
        .unwrap();
    assert_eq!(
        (jquery.name.as_str(), jquery.version.as_str()),
        ("jquery", "3.3.9")
    );
    assert_eq!(jquery.licenses, vec!["MIT"]);
    assert!(doc.os.is_none());

    let doc = read("trivy-output/conda-spdx.json.golden");
    let got: BTreeSet<_> = doc
        .packages
        .iter()
        .map(|p| {
            (
                p.ecosystem,
                p.name.as_str(),
                p.version.as_str(),
                p.purl.as_str(),
            )
        })
        .collect();
    let want: BTreeSet<_> = [
        (
            Ecosystem::Conda,
            "openssl",
            "1.1.1q",
            "pkg:conda/openssl@1.1.1q",
        ),
        (Ecosystem::Conda, "pip", "22.2.2", "pkg:conda/pip@22.2.2"),
    ]
    .into();
    assert_eq!(got, want);
    let openssl = doc.packages.iter().find(|p| p.name == "openssl").unwrap();
    assert_eq!(openssl.licenses, vec!["OpenSSL"]);
}

#[test]
fn non_sbom_trivy_outputs_are_refused() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    for f in [
        "alpine-310.json.golden",
        "alpine-310.sarif.golden",
        "alpine-310.gsbom.golden",
        "alpine-310.junit.golden",
        "cargo.lock.json.golden",
        "centos-7.json.golden",
        "debian-buster.json.golden",
        "dockerfile.json.golden",
        "ubuntu-1804.json.golden",
    ] {
        let bytes = std::fs::read(common::fixture(&format!("trivy-output/{f}"))).unwrap();
        assert!(
            matches!(read_sbom(&bytes), Err(ReportError::NotAnSbom(_))),
            "{f} should not read as an SBOM"
        );
    }
}

/// name, version, arch, licences, source (name, version).
type Row = (
    String,
    String,
    Option<String>,
    Vec<String>,
    Option<(String, String)>,
);

/// Packages Trivy's SBOM analyzer expects from a fixture: (name, version, arch,
/// licences, source name/version) from every `Packages` list in its `want`.
fn analyzer_expected(rel: &str) -> BTreeSet<Row> {
    let v = json(&format!("{rel}.expected.json"));
    let want = &v["cases"][0]["want"];
    let mut out = BTreeSet::new();
    for group in ["Applications", "PackageInfos"] {
        for app in want
            .get(group)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            for p in app["Packages"].as_array().unwrap() {
                let s = |k: &str| p.get(k).and_then(Value::as_str).map(str::to_string);
                // Trivy keeps "NOASSERTION" as a licence; bulwark treats it as "no licence
                // recorded", which is what it means in SPDX.
                let licenses = p["Licenses"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .filter(|l| *l != "NOASSERTION")
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default();
                let source = s("SrcName").map(|n| (n, s("SrcVersion").unwrap_or_default()));
                out.insert((
                    s("Name").unwrap(),
                    s("Version").unwrap(),
                    s("Arch"),
                    licenses,
                    source,
                ));
            }
        }
    }
    out
}

#[test]
fn reads_sboms_trivy_ingests_from_images() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    for f in [
        "cdx.json",
        "ca-certificates.spdx.json",
        "elasticsearch.spdx.json",
        "postgresql.spdx.json",
        "sbom-without-app-component.spdx.json",
    ] {
        let rel = format!("sbom/trivy-analyzer/{f}");
        let doc = read(&rel);
        let got: BTreeSet<_> = doc
            .packages
            .iter()
            .map(|p| {
                (
                    p.name.clone(),
                    p.version.clone(),
                    p.arch.clone(),
                    p.licenses.clone(),
                    p.source
                        .as_ref()
                        .map(|s| (s.name.clone(), s.version.clone())),
                )
            })
            .collect();
        assert_eq!(got, analyzer_expected(&rel), "{f}");
    }
    // The Bitnami ca-certificates SBOM names its OS in an OPERATING-SYSTEM package.
    let doc = read("sbom/trivy-analyzer/ca-certificates.spdx.json");
    let os = doc.os.unwrap();
    assert_eq!(
        (os.family.as_str(), os.version.as_str(), os.inferred),
        ("debian", "12.9", false)
    );
    let doc = read("sbom/trivy-analyzer/postgresql.spdx.json");
    assert!(doc
        .packages
        .iter()
        .any(|p| p.purl == "pkg:bitnami/geos@3.8.3" && p.ecosystem == Ecosystem::Generic));
    let doc = read("sbom/trivy-analyzer/cdx.json");
    assert_eq!(
        doc.packages[0].locations[0].path,
        "modules/apm/elastic-apm-agent-1.36.0.jar"
    );
}

#[test]
fn os_inferred_from_purls_when_not_named() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    // Drop the OPERATING-SYSTEM package: the deb purl's distro qualifier still says it.
    let mut v = json("sbom/trivy-analyzer/ca-certificates.spdx.json");
    let pkgs = v["packages"].as_array_mut().unwrap();
    pkgs.retain(|p| p["primaryPackagePurpose"] != "OPERATING-SYSTEM");
    let doc = read_sbom(&serde_json::to_vec(&v).unwrap()).unwrap();
    let os = doc.os.unwrap();
    assert_eq!(
        (os.family.as_str(), os.version.as_str(), os.inferred),
        ("debian", "12.9", true)
    );
}
