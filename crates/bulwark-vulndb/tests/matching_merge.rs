//! Alias merging, enrichment and severity precedence over real GHSA/CVE/distro records.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic: that is its failure

use bulwark_core::{Ecosystem, FixStatus, OsInfo, Package, Severity, VulnFinding};
use bulwark_vulndb::matching::{attach_enrichment, identity_ids, match_package, merge_findings};
use bulwark_vulndb::osv::{parse_record, OsvRecord};

/// `shared/fixtures/osv/`, with a trailing slash.
fn fix() -> String {
    format!("{}/osv/", bulwark_fixtures::fixtures_location().display())
}

fn load(rel: &str) -> OsvRecord {
    let path = format!("{}{rel}", fix());
    parse_record(&std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}")))
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn lang(eco: Ecosystem, name: &str, version: &str) -> Package {
    let mut p = Package::new(eco, name, version, "test");
    p.finalize(None);
    p
}

fn ids(f: &VulnFinding) -> Vec<&str> {
    let mut v: Vec<&str> = std::iter::once(f.id.as_str())
        .chain(f.aliases.iter().map(String::as_str))
        .collect();
    v.sort();
    v
}

/// RUSTSEC-2020-0041 (sized-chunks, `[0.0.0-0, 0.6.3)`) lists six CVEs and six GHSAs as
/// aliases, among them GHSA-mp6f-p9gp-vpj9, whose own record (`[0, 0.6.3)`, alias
/// CVE-2020-25792, CVSS 7.5, GHSA severity HIGH) matches the same crate.
#[test]
fn rustsec_and_ghsa_merge_into_one() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    let rs = load("crates.io/rustsec/RUSTSEC-2020-0041.json");
    let gh = load("crates.io/ghsa-trivy-db-fixtures/GHSA-mp6f-p9gp-vpj9.json");
    let p = lang(Ecosystem::Cargo, "sized-chunks", "0.6.2");
    let out = match_package(&p, None, &[rs.clone(), gh.clone()]);
    assert_eq!(out.findings.len(), 2);
    // The GHSA names exactly one CVE: it becomes the primary id.
    let g = out
        .findings
        .iter()
        .find(|f| f.id != rs.id && f.aliases.contains(&gh.id))
        .expect("ghsa");
    assert_eq!(g.id, "CVE-2020-25792");
    let merged = merge_findings(out.findings);
    assert_eq!(merged.len(), 1, "{merged:?}");
    let m = &merged[0];
    // Every id of both records, once.
    let mut want: Vec<&str> = std::iter::once(rs.id.as_str())
        .chain(rs.aliases.iter().map(String::as_str))
        .chain(std::iter::once(gh.id.as_str()))
        .chain(gh.aliases.iter().map(String::as_str))
        .collect();
    want.sort();
    want.dedup();
    assert_eq!(ids(m), want);
    // Six CVEs: no single CVE can stand for the merged finding, the advisory id stays.
    assert_eq!(m.id, "RUSTSEC-2020-0041");
    assert_eq!(m.fixed_versions, vec!["0.6.3"]);
    assert_eq!(m.status, FixStatus::Fixed);
    // CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H = 7.5 → HIGH.
    assert_eq!(m.severity, Severity::High);
    assert_eq!(m.severity_source.as_deref(), Some("cvss-v3.1"));
    assert!(m.cvss.iter().any(|c| c.score == 7.5));
    // Not affected at the fix: nothing to merge.
    let fixed = lang(Ecosystem::Cargo, "sized-chunks", "0.6.3");
    assert!(match_package(&fixed, None, &[rs, gh]).findings.is_empty());
}

/// PYSEC-2022-48 (pypa, aliases CVE-2021-22570 + GHSA-77rm-9x9h-xj3g, no severity) and
/// GHSA-77rm-9x9h-xj3g (osv.dev API copy, aliases CVE-2021-22570 + PYSEC-2022-48, CVSS
/// 7.5) both cover PyPI `protobuf` `[0, 3.15.0)`.
#[test]
fn pysec_and_ghsa_merge_under_the_cve() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    let gh = load("PyPI/ghsa-scalibr-zeppelin/GHSA-77rm-9x9h-xj3g.json");
    let yaml = std::fs::read_to_string(format!(
        "{}PyPI/pypa-advisory-database/protobuf/PYSEC-2022-48.yaml",
        fix()
    ))
    .expect("read");
    // Build the PYSEC record from the YAML's ids and events (see matching_fixtures.rs for
    // the general YAML reader); the YAML says: aliases CVE-2021-22570, GHSA-77rm-9x9h-xj3g;
    // events introduced "0", fixed 3.15.0.
    assert!(yaml.contains("CVE-2021-22570") && yaml.contains("GHSA-77rm-9x9h-xj3g"));
    assert!(yaml.contains("fixed: 3.15.0"));
    let pysec = parse_record(
        br#"{"id":"PYSEC-2022-48","modified":"2022-01-01T00:00:00Z",
        "aliases":["CVE-2021-22570","GHSA-77rm-9x9h-xj3g"],
        "affected":[{"package":{"name":"protobuf","ecosystem":"PyPI"},
        "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"3.15.0"}]}]}]}"#,
    )
    .expect("record");
    let p = lang(Ecosystem::Pypi, "protobuf", "3.14.0");
    let out = match_package(&p, None, &[pysec, gh]);
    assert_eq!(out.findings.len(), 2);
    assert!(out.findings.iter().all(|f| f.id == "CVE-2021-22570"));
    let merged = merge_findings(out.findings);
    assert_eq!(merged.len(), 1);
    let m = &merged[0];
    assert_eq!(m.id, "CVE-2021-22570");
    assert_eq!(m.aliases, vec!["GHSA-77rm-9x9h-xj3g", "PYSEC-2022-48"]);
    assert_eq!(m.fixed_versions, vec!["3.15.0"]);
    // PYSEC has no rating; the GHSA's CVSS 7.5 is kept.
    assert_eq!(m.severity, Severity::High);
}

#[test]
fn different_vulns_or_versions_do_not_merge() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    // GHSA-jf85-cpcp-j695 (CVE-2019-10744, [0, 4.17.12)) and GHSA-35jh-r3h4-6jhm
    // (CVE-2021-23337, [0, 4.17.21)) both hit lodash-rails 4.17.11: two vulnerabilities.
    let a = load("RubyGems/ghsa-osv-scanner-santatracker/GHSA-jf85-cpcp-j695.json");
    let b = load("RubyGems/ghsa-osv-scanner-santatracker/GHSA-35jh-r3h4-6jhm.json");
    let p = lang(Ecosystem::Gem, "lodash-rails", "4.17.11");
    let merged = merge_findings(match_package(&p, None, &[a.clone(), b.clone()]).findings);
    let got: Vec<&str> = merged.iter().map(|f| f.id.as_str()).collect();
    assert_eq!(got, vec!["CVE-2019-10744", "CVE-2021-23337"]);
    // The same vulnerability on two installed versions stays two findings.
    let q = lang(Ecosystem::Gem, "lodash-rails", "4.17.10");
    let mut all = match_package(&p, None, std::slice::from_ref(&b)).findings;
    all.extend(match_package(&q, None, std::slice::from_ref(&b)).findings);
    assert_eq!(merge_findings(all).len(), 2);
}

/// DLA-3623-1 lists 44 CVEs in `upstream`: it is about all of them, not any one, so its
/// CVEs are not identity links (merging through them would glue unrelated findings).
#[test]
fn multi_cve_upstream_is_not_an_identity() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    let dla = load("Debian/osv.dev-testdata/DLA-3623-1.json");
    assert!(dla.upstream.len() > 1);
    assert_eq!(identity_ids(&dla), vec!["DLA-3623-1".to_string()]);
    let ub = load("Ubuntu/osv.dev-testdata/UBUNTU-CVE-2025-38094.json");
    let got = identity_ids(&ub);
    assert!(got.contains(&"CVE-2025-38094".to_string()), "{got:?}");
}

/// KEV by CVE, from the real 2022 excerpt.
#[test]
fn kev_and_epss_attach_by_cve() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    let kev: serde_json::Value = serde_json::from_slice(
        &std::fs::read(format!("{}_enrichment/kev-2022-excerpt.json", fix())).expect("kev"),
    )
    .expect("json");
    let kev_ids: Vec<String> = kev["vulnerabilities"]
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|v| v["cveID"].as_str().map(String::from))
        .collect();
    assert!(!kev_ids.is_empty());
    let listed = kev_ids[0].clone();
    let mk = |id: &str, aliases: &[&str]| VulnFinding {
        id: id.into(),
        aliases: aliases.iter().map(|s| s.to_string()).collect(),
        package: "p".into(),
        purl: "pkg:npm/p".into(),
        installed_version: "1.0.0".into(),
        fixed_versions: vec![],
        status: FixStatus::Affected,
        severity: Severity::Unknown,
        severity_source: None,
        cvss: vec![],
        title: String::new(),
        description: String::new(),
        references: vec![],
        kev: false,
        epss: None,
        path: None,
        layer: None,
        suppressed: None,
    };
    let mut fs = vec![
        mk("GHSA-xxxx-yyyy-zzzz", &[listed.as_str()]),
        mk("CVE-1999-0001", &[]),
    ];
    attach_enrichment(
        &mut fs,
        |c| kev_ids.iter().any(|k| k == c),
        |c| (c == listed).then_some((0.97, 0.999)),
    );
    assert!(fs[0].kev);
    assert_eq!(fs[0].epss, Some((0.97, 0.999)));
    assert!(!fs[1].kev);
    assert_eq!(fs[1].epss, None);
}

/// RHSA-2022:0216 carries CVSS 3.1 `AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H` (8.1, HIGH) and
/// the impact link `…/classification/#low`. The copied test record has no `affected`, so
/// one Red Hat entry in the converter's shape is added to exercise matching.
#[test]
fn red_hat_impact_wins_for_os_packages() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    let mut rec = load("RedHat/osv-schema-testdata/RHSA-2022_0216.json");
    assert!(rec.affected.is_empty());
    let entry: bulwark_vulndb::osv::Affected = serde_json::from_str(
        r#"{"package":{"ecosystem":"Red Hat:enterprise_linux:8::appstream","name":"log4j","purl":"pkg:rpm/redhat/log4j"},
        "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"0:2.17.1-1.el8"}]}]}"#,
    )
    .expect("entry");
    rec.affected.push(entry);
    let rhel8 = OsInfo {
        family: "rhel".into(),
        version: "8.9".into(),
        ..OsInfo::default()
    };
    let mut p = Package::new(Ecosystem::Rpm, "log4j", "2.17.0-1.el8", "rpm");
    p.finalize(Some(&rhel8));
    let out = match_package(&p, Some(&rhel8), std::slice::from_ref(&rec));
    let f = out.findings.first().expect("affected");
    assert_eq!(f.fixed_versions, vec!["0:2.17.1-1.el8"]);
    assert_eq!(f.severity, Severity::Low);
    assert_eq!(f.severity_source.as_deref(), Some("redhat"));
    assert!(f.cvss.iter().any(|c| c.score == 8.1));
    // Related CVEs are not aliases: the RHSA id stays primary.
    assert_eq!(f.id, "RHSA-2022:0216");
    // At the fix (epoch 0 written explicitly) nothing matches; RHEL 9 is another stream.
    let mut at = Package::new(Ecosystem::Rpm, "log4j", "2.17.1-1.el8", "rpm");
    at.finalize(Some(&rhel8));
    assert!(match_package(&at, Some(&rhel8), std::slice::from_ref(&rec))
        .findings
        .is_empty());
    let rhel9 = OsInfo {
        family: "rhel".into(),
        version: "9.3".into(),
        ..OsInfo::default()
    };
    assert!(match_package(&p, Some(&rhel9), &[rec]).findings.is_empty());
}

/// PYSEC-2026-1 (Werkzeug) has a v3.1 vector (`…/C:N/I:N/A:L` = 5.3, MEDIUM) and a
/// v4.0 one: the v3.x score decides.
#[test]
fn v3_preferred_over_v4() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    let rec = load("PyPI/trivy-db-fixtures/PYSEC-2026-1.json");
    let p = lang(Ecosystem::Pypi, "werkzeug", "3.1.4");
    let out = match_package(&p, None, &[rec]);
    let f = out.findings.first().expect("affected ([0, 3.1.5))");
    assert_eq!(f.severity, Severity::Medium);
    assert_eq!(f.severity_source.as_deref(), Some("cvss-v3.1"));
    assert_eq!(f.cvss.len(), 2);
}
