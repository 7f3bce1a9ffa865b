//! Findings end to end: filtering (severity, unfixed, package class), `.bulwarkignore`,
//! OpenVEX and CycloneDX VEX, and how findings render in the table, SARIF, HTML and
//! CycloneDX outputs. Reports are hand-built (`common::findings_report`).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic: that is its failure

mod common;

use bulwark_core::{Report, Severity};
use bulwark_report::filter::{self, FilterOptions, FilterReason, PkgClass};
use bulwark_report::ignore::{IgnoreError, IgnoreFile};
use bulwark_report::vex::{VexDocument, VexError, VexFormat};
use bulwark_report::{write, write_with, Format, WriteOptions};
use serde_json::{json, Value};
use time::macros::date;

const TODAY: time::Date = date!(2025 - 03 - 01);

fn ids(r: &Report) -> Vec<&str> {
    let mut v: Vec<&str> = r.vulnerabilities.iter().map(|v| v.id.as_str()).collect();
    v.sort_unstable();
    v
}

fn render(r: &Report, f: Format) -> String {
    let mut buf = Vec::new();
    write(r, f, &mut buf).unwrap();
    String::from_utf8(buf).unwrap()
}

#[test]
fn severity_unfixed_and_class_filters() {
    let mut r = common::findings_report();
    let mut o = FilterOptions::new(TODAY);
    o.severities = vec![Severity::High, Severity::Critical];
    let s = filter::apply(&mut r, &o);
    assert_eq!(ids(&r), ["CVE-2023-45133", "CVE-2025-26519"]);
    assert_eq!(s.count(FilterReason::Severity), 1);
    assert_eq!(r.misconfigurations.len(), 1);
    assert_eq!(r.secrets.len(), 1);

    let mut r = common::findings_report();
    let mut o = FilterOptions::new(TODAY);
    o.ignore_unfixed = true;
    let s = filter::apply(&mut r, &o);
    assert_eq!(ids(&r), ["CVE-2023-4039", "CVE-2023-45133"]);
    assert_eq!(s.count(FilterReason::Unfixed), 1);

    let mut r = common::findings_report();
    let mut o = FilterOptions::new(TODAY);
    o.pkg_types = vec![PkgClass::Library];
    let s = filter::apply(&mut r, &o);
    assert_eq!(ids(&r), ["CVE-2023-45133"]);
    assert_eq!(s.count(FilterReason::PkgType), 2);

    // Severity filters apply to misconfigurations and secrets too.
    let mut r = common::findings_report();
    let mut o = FilterOptions::new(TODAY);
    o.severities = vec![Severity::Critical];
    filter::apply(&mut r, &o);
    assert!(r.misconfigurations.is_empty());
    assert_eq!(r.secrets.len(), 1);
}

#[test]
fn exit_code_counts_only_unsuppressed_findings_at_threshold() {
    let mut r = common::findings_report();
    assert!(filter::has_findings(&r, Severity::Low));
    r.secrets.clear();
    r.vulnerabilities
        .retain(|v| v.severity != Severity::Critical);
    assert!(!filter::has_findings(&r, Severity::Critical));
    assert!(filter::has_findings(&r, Severity::High));
    r.misconfigurations.clear();
    for v in &mut r.vulnerabilities {
        v.suppressed = Some("VEX fixed (x)".into());
    }
    assert!(!filter::has_findings(&r, Severity::Unknown));
}

const IGNORE: &str = "\
# accepted risks
vulnerabilities:
  - id: GHSA-67hx-6x53-jw92      # alias of CVE-2023-45133
    purl: pkg:npm/%40babel/core  # any version
    reason: build-time only
    expires: 2025-12-31
  - id: CVE-2025-26519
    path: /var/**                # musl is at /lib/apk/db/installed: no match
    reason: wrong path
  - id: CVE-2023-4039
    reason: old acceptance
    expires: 2024-06-30
misconfigurations:
  - id: DS002
    path: \"**/Dockerfile*\"
    reason: root needed for the legacy entrypoint
secrets:
  - id: aws-access-key-id
    path: tests/**
    reason: fake keys in tests
";

#[test]
fn ignore_file_suppresses_by_alias_purl_path_and_expiry() {
    let ign = IgnoreFile::parse(IGNORE, ".bulwarkignore").unwrap();
    let mut r = common::findings_report();
    let mut o = FilterOptions::new(TODAY);
    o.ignore = Some(ign);
    let s = filter::apply(&mut r, &o);

    // babel ignored via alias + versionless purl; musl's rule has a non-matching path;
    // the libgcc rule expired.
    assert_eq!(ids(&r), ["CVE-2023-4039", "CVE-2025-26519"]);
    assert_eq!(s.count(FilterReason::Ignored), 2);
    assert_eq!(s.warnings.len(), 1, "{:?}", s.warnings);
    assert!(s.warnings[0].contains("CVE-2023-4039"), "{}", s.warnings[0]);
    assert!(s.warnings[0].contains("2024-06-30"), "{}", s.warnings[0]);
    assert!(
        s.warnings[0].contains("vulnerabilities[2]"),
        "{}",
        s.warnings[0]
    );

    // The misconfiguration is matched by its alias and path glob; the secret's path
    // (/app/config/settings.py) is not under tests/.
    // Without show_suppressed the suppressed misconfiguration leaves the report (and is
    // counted as ignored above).
    assert!(r.misconfigurations.is_empty());
    assert_eq!(r.secrets.len(), 1);
    assert_eq!(r.secrets[0].suppressed, None);
}

#[test]
fn show_suppressed_keeps_and_marks_findings_in_json() {
    let mut r = common::findings_report();
    let mut o = FilterOptions::new(TODAY);
    o.ignore = Some(IgnoreFile::parse(IGNORE, ".bulwarkignore").unwrap());
    o.show_suppressed = true;
    filter::apply(&mut r, &o);
    assert_eq!(r.vulnerabilities.len(), 3);
    let babel = r
        .vulnerabilities
        .iter()
        .find(|v| v.id == "CVE-2023-45133")
        .unwrap();
    assert_eq!(
        babel.suppressed.as_deref(),
        Some("ignored: build-time only (.bulwarkignore), until 2025-12-31")
    );
    let json: Value = serde_json::from_str(&render(&r, Format::Json)).unwrap();
    let suppressed: Vec<&str> = json["vulnerabilities"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v["suppressed"].as_str())
        .collect();
    assert_eq!(suppressed.len(), 1);
    // Suppressed findings do not fail the build.
    r.vulnerabilities.retain(|v| v.id == "CVE-2023-45133");
    r.misconfigurations.clear();
    r.secrets.clear();
    assert!(!filter::has_findings(&r, Severity::Low));
}

#[test]
fn malformed_ignore_files_name_the_line() {
    let cases = [
        (
            "vulnerabilities:\n  - id: CVE-1\n    reason: x\n    expires: soon\n",
            4,
        ),
        (
            "vulnerabilities:\n  - id: CVE-1\n    reason: x\n    typo: 1\n",
            4,
        ),
        (
            "secrets:\n  - id: r\n    path: \"a/[b\"\n    reason: x\n",
            3,
        ),
        ("misconfigurations:\n  - id: X\n    reason: \"\"\n", 3),
        ("vulnerabilities: [\n", 2),
        // A missing field is reported at the entry.
        ("secrets:\n  - id: ok\n    reason: ok\n  - id: r\n", 4),
    ];
    for (text, want) in cases {
        match IgnoreFile::parse(text, "f.yaml") {
            Err(e @ IgnoreError::Malformed { line, .. }) => {
                assert_eq!(line, want, "{text:?}: {e}");
                assert!(e.to_string().contains("f.yaml"), "{e}");
            }
            other => panic!("{text:?}: expected Malformed, got {other:?}"),
        }
    }
    // Comments only: an empty file.
    let f = IgnoreFile::parse("# nothing yet\n", "f").unwrap();
    assert!(f.vulnerabilities.is_empty());
}

#[test]
fn ignore_file_load_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join(".bulwarkignore");
    std::fs::write(&p, "#".repeat(2 * 1024 * 1024)).unwrap();
    assert!(matches!(
        IgnoreFile::load(&p),
        Err(IgnoreError::TooLarge { .. })
    ));
    std::fs::write(&p, IGNORE).unwrap();
    assert_eq!(IgnoreFile::load(&p).unwrap().vulnerabilities.len(), 3);
}

fn vex(doc: Value) -> VexDocument {
    VexDocument::parse(&serde_json::to_vec(&doc).unwrap(), "vex.json").unwrap()
}

fn apply_vex(docs: Vec<VexDocument>, show: bool) -> (Report, filter::FilterSummary) {
    let mut r = common::findings_report();
    let mut o = FilterOptions::new(TODAY);
    o.vex = docs;
    o.show_suppressed = show;
    let s = filter::apply(&mut r, &o);
    (r, s)
}

#[test]
fn openvex_statements_suppress_by_id_alias_and_purl() {
    let doc = vex(json!({
        "@context": "https://openvex.dev/ns/v0.2.0",
        "@id": "https://example.com/vex/1",
        "author": "Example",
        "timestamp": "2024-01-01T00:00:00Z",
        "version": 1,
        "statements": [
            {
                // By GHSA alias; the product purl carries a qualifier the finding lacks.
                "vulnerability": {"name": "GHSA-67hx-6x53-jw92"},
                "products": [{"@id": "pkg:npm/%40babel/core@7.0.0?foo=bar"}],
                "status": "not_affected",
                "justification": "vulnerable_code_not_present"
            },
            {
                // As a subcomponent of the image, by CVE name, versionless purl.
                "vulnerability": {"@id": "https://nvd.nist.gov/vuln/detail/CVE-2023-4039",
                                  "name": "CVE-2023-4039"},
                "products": [{"@id": "pkg:oci/example",
                              "subcomponents": [{"@id": "pkg:deb/debian/libgcc-s1"}]}],
                "status": "not_affected",
                "justification": "vulnerable_code_not_in_execute_path",
                "impact_statement": "only ARM64 is affected; we ship amd64"
            },
            {
                "vulnerability": {"name": "CVE-2025-26519"},
                "products": [{"@id": "pkg:apk/alpine/musl"}],
                "status": "under_investigation"
            }
        ]
    }));
    assert_eq!(doc.format, VexFormat::OpenVex);
    let (r, s) = apply_vex(vec![doc], true);
    assert_eq!(s.count(FilterReason::Vex), 1);
    let by_id = |id: &str| r.vulnerabilities.iter().find(|v| v.id == id).unwrap();
    // The qualifier in the statement is not on the finding: no match.
    assert_eq!(by_id("CVE-2023-45133").suppressed, None);
    let gcc = by_id("CVE-2023-4039").suppressed.as_deref().unwrap();
    assert!(gcc.starts_with("VEX not_affected: vulnerable_code_not_in_execute_path"));
    assert!(gcc.contains("we ship amd64"), "{gcc}");
    assert!(gcc.contains("vex.json"), "{gcc}");
    assert_eq!(by_id("CVE-2025-26519").suppressed, None);
}

#[test]
fn newest_openvex_statement_wins_and_fixed_suppresses() {
    let doc = |status: &str, ts: &str| {
        json!({
            "@context": "https://openvex.dev/ns/v0.2.0",
            "timestamp": ts,
            "statements": [{
                "vulnerability": {"name": "CVE-2023-45133"},
                "products": [{"@id": "pkg:npm/%40babel/core@7.0.0"}],
                "status": status,
                "justification": "component_not_present"
            }]
        })
    };
    // A later `affected` overrides an earlier `not_affected`, whatever the file order.
    let (r, _) = apply_vex(
        vec![
            vex(doc("affected", "2024-05-01T00:00:00Z")),
            vex(doc("not_affected", "2024-01-01T00:00:00Z")),
        ],
        false,
    );
    assert!(ids(&r).contains(&"CVE-2023-45133"));
    let (r, s) = apply_vex(
        vec![
            vex(doc("affected", "2024-01-01T00:00:00Z")),
            vex(doc("fixed", "2024-05-01T00:00:00Z")),
        ],
        false,
    );
    assert!(!ids(&r).contains(&"CVE-2023-45133"));
    assert_eq!(s.count(FilterReason::Vex), 1);

    // OpenVEX v0.0.x: vulnerability and products as plain strings.
    let old = vex(json!({
        "@context": "https://openvex.dev/ns",
        "statements": [{"vulnerability": "CVE-2025-26519",
                        "products": ["pkg:apk/debian/musl@1.2.4-r2"],
                        "status": "not_affected",
                        "justification": "vulnerable_code_not_present"}]
    }));
    let (r, _) = apply_vex(vec![old], false);
    assert!(!ids(&r).contains(&"CVE-2025-26519"));
}

#[test]
fn cyclonedx_vex_analysis_states() {
    let doc = vex(json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "version": 1,
        "components": [{"type": "library", "bom-ref": "babel", "name": "core",
                        "purl": "pkg:npm/%40babel/core@7.0.0"}],
        "vulnerabilities": [
            {"id": "CVE-2023-45133",
             "analysis": {"state": "not_affected", "justification": "code_not_reachable",
                          "detail": "plugin never loaded"},
             "affects": [{"ref": "urn:cdx:3e671687-395b-41f5-a30f-a58921a69b79/1#babel"}]},
            {"id": "DSA-0000-1",
             "analysis": {"state": "resolved"},
             "affects": [{"ref": "pkg:deb/debian/libgcc-s1@12.2.0-14?epoch=1"}]},
            {"id": "CVE-2025-26519",
             "analysis": {"state": "exploitable"},
             "affects": [{"ref": "pkg:apk/debian/musl"}]}
        ]
    }));
    assert_eq!(doc.format, VexFormat::CycloneDx);
    let (r, s) = apply_vex(vec![doc], true);
    assert_eq!(s.count(FilterReason::Vex), 2);
    let by_id = |id: &str| r.vulnerabilities.iter().find(|v| v.id == id).unwrap();
    let babel = by_id("CVE-2023-45133").suppressed.as_deref().unwrap();
    assert!(
        babel.starts_with("VEX not_affected: code_not_reachable"),
        "{babel}"
    );
    // Matched through the DSA alias; the deb purl in the finding has more qualifiers.
    let gcc = by_id("CVE-2023-4039").suppressed.as_deref().unwrap();
    assert!(gcc.starts_with("VEX fixed"), "{gcc}");
    assert_eq!(by_id("CVE-2025-26519").suppressed, None);
}

#[test]
fn vex_input_errors() {
    let e = VexDocument::parse(b"{\n  \"statements\": [\n  }", "bad.json").unwrap_err();
    assert!(matches!(e, VexError::InvalidJson { line: 3, .. }), "{e}");
    let e = VexDocument::parse(b"{\"hello\": 1}", "x.json").unwrap_err();
    assert!(matches!(e, VexError::UnknownFormat { .. }), "{e}");
    let e = VexDocument::parse(
        br#"{"@context":"https://openvex.dev/ns/v0.2.0","statements":[{"vulnerability":{"name":"CVE-1"},"status":"maybe"}]}"#,
        "x.json",
    )
    .unwrap_err();
    assert!(e.to_string().contains("/statements/0/status"), "{e}");
    let big = vec![b' '; 33 * 1024 * 1024];
    assert!(matches!(
        VexDocument::parse(&big, "big.json"),
        Err(VexError::TooLarge { .. })
    ));
}

#[test]
fn table_lists_findings_with_summary_and_optional_colour() {
    let mut r = common::findings_report();
    r.vulnerabilities[2].suppressed = Some("ignored: accepted (.bulwarkignore)".into());
    let plain = render(&r, Format::Table);
    assert!(!plain.contains('\u{1b}'), "escape codes without colour");
    assert!(plain.contains("Vulnerabilities in /app/package-lock.json (1: CRITICAL: 1"));
    assert!(plain.contains("Vulnerabilities in /var/lib/dpkg/status (1: "));
    let babel_row = plain
        .lines()
        .find(|l| l.contains("CVE-2023-45133"))
        .unwrap();
    for cell in [
        "@babel/core",
        "CRITICAL",
        "7.0.0",
        "7.23.2",
        "Babel vulnerable",
    ] {
        assert!(babel_row.contains(cell), "{babel_row}");
    }
    assert!(
        plain.contains("| BW-DF-0002 | HIGH     | Dockerfile:7 |"),
        "{plain}"
    );
    assert!(plain.contains("/app/config/settings.py:12"));
    assert!(plain.contains("Suppressed vulnerabilities (1)"));
    assert!(plain.contains(
        "Total findings: 4 (CRITICAL: 2, HIGH: 1, MEDIUM: 1, LOW: 0, UNKNOWN: 0); \
         2 vulnerabilities, 1 misconfigurations, 1 secrets, 1 suppressed"
    ));

    let mut buf = Vec::new();
    write_with(&r, Format::Table, &WriteOptions { color: true }, &mut buf).unwrap();
    let coloured = String::from_utf8(buf).unwrap();
    assert!(coloured.contains("\u{1b}["), "no escape codes with colour");
    // Packages without findings print no findings section.
    let r = common::sample_report();
    assert!(!render(&r, Format::Table).contains("Total findings"));
}

#[test]
fn sarif_rules_results_and_fingerprints() {
    let mut r = common::findings_report();
    // Two packages with the same advisory share one rule.
    let mut dup = common::vuln_on(&r, "left-pad", "CVE-2023-45133", Severity::Low);
    dup.fixed_versions = vec!["1.3.1".into()];
    r.vulnerabilities.push(dup);
    r.vulnerabilities[0].suppressed = Some("VEX fixed (vex.json)".into());
    let v: Value = serde_json::from_str(&render(&r, Format::Sarif)).unwrap();
    assert_eq!(v["version"], "2.1.0");
    let run = &v["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    let rule_ids: Vec<&str> = rules.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(rule_ids.len(), 5, "{rule_ids:?}");
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), 6);
    for res in results {
        let idx = res["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[idx]["id"], res["ruleId"]);
        assert!(res["partialFingerprints"]["bulwarkFindingHash/v1"].is_string());
    }
    let babel = rules.iter().find(|r| r["id"] == "CVE-2023-45133").unwrap();
    assert_eq!(babel["properties"]["security-severity"], "9.3");
    let md = babel["help"]["markdown"].as_str().unwrap();
    assert!(md.contains("| @babel/core | 7.0.0 | 7.23.2 |"), "{md}");
    assert!(md.contains("| left-pad | 1.3.0 | 1.3.1 |"), "{md}");
    assert!(babel["help"]["text"]
        .as_str()
        .unwrap()
        .contains("fixed version: 7.23.2"));
    // No CVSS: the severity stand-in score; HIGH is an error-level result.
    let musl = rules.iter().find(|r| r["id"] == "CVE-2025-26519").unwrap();
    assert_eq!(musl["properties"]["security-severity"], "8.0");
    let misconf = results
        .iter()
        .find(|r| r["ruleId"] == "BW-DF-0002")
        .unwrap();
    assert_eq!(misconf["level"], "error");
    let loc = &misconf["locations"][0]["physicalLocation"];
    assert_eq!(loc["artifactLocation"]["uri"], "Dockerfile");
    assert_eq!(loc["region"]["startLine"], 7);
    let secret = results
        .iter()
        .find(|r| r["ruleId"] == "aws-access-key-id")
        .unwrap();
    assert_eq!(
        secret["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "app/config/settings.py"
    );
    let gcc = results
        .iter()
        .find(|r| r["ruleId"] == "CVE-2023-4039")
        .unwrap();
    assert_eq!(gcc["level"], "warning");
    assert_eq!(
        gcc["suppressions"][0]["justification"],
        "VEX fixed (vex.json)"
    );
    // The same findings give the same fingerprints.
    let again: Value = serde_json::from_str(&render(&r, Format::Sarif)).unwrap();
    assert_eq!(
        again["runs"][0]["results"][1]["partialFingerprints"],
        results[1]["partialFingerprints"]
    );
    assert_ne!(
        results[1]["partialFingerprints"],
        results[2]["partialFingerprints"]
    );
}

#[test]
fn cyclonedx_vulnerabilities_point_at_components() {
    let mut r = common::findings_report();
    r.vulnerabilities[0].suppressed =
        Some("VEX not_affected: vulnerable_code_not_in_execute_path; arm64 only (vex.json)".into());
    let v: Value = serde_json::from_str(&render(&r, Format::CycloneDx)).unwrap();
    let vulns = v["vulnerabilities"].as_array().unwrap();
    assert_eq!(vulns.len(), 3);
    let refs: Vec<&str> = v["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["bom-ref"].as_str())
        .collect();
    let babel = vulns.iter().find(|x| x["id"] == "CVE-2023-45133").unwrap();
    let affected = babel["affects"][0]["ref"].as_str().unwrap();
    assert!(refs.contains(&affected));
    assert!(affected.starts_with("pkg:npm/%40babel/core@7.0.0"));
    assert_eq!(babel["ratings"][0]["method"], "CVSSv31");
    assert_eq!(babel["ratings"][0]["score"], 9.3);
    assert_eq!(babel["ratings"][0]["severity"], "critical");
    assert_eq!(babel["references"][0]["id"], "GHSA-67hx-6x53-jw92");
    assert!(babel["recommendation"].as_str().unwrap().contains("7.23.2"));
    assert!(babel.get("analysis").is_none());
    let gcc = vulns.iter().find(|x| x["id"] == "CVE-2023-4039").unwrap();
    assert_eq!(gcc["analysis"]["state"], "not_affected");
    assert_eq!(gcc["analysis"]["justification"], "code_not_reachable");
    // The vendor severity, not a CVSS one, is a rating of method "other".
    let musl = vulns.iter().find(|x| x["id"] == "CVE-2025-26519").unwrap();
    assert_eq!(musl["ratings"][0]["method"], "other");
    assert_eq!(musl["ratings"][0]["severity"], "high");
    assert_eq!(musl["ratings"][0]["source"]["name"], "alpine");
}

#[test]
fn html_is_escaped_and_has_a_row_per_finding() {
    let mut r = common::findings_report();
    r.target.name = "evil<img src=x onerror=alert(1)>".into();
    let html = render(&r, Format::Html);
    assert!(!html.contains("<script>alert"));
    assert!(!html.contains("http://") || html.contains("http://www.w3.org/2000/svg"));
    assert!(!html.contains("https://"), "no external URLs");
    let doc = scraper::Html::parse_document(&html);
    assert!(doc.errors.is_empty(), "{:?}", doc.errors);
    let sel = |s: &str| scraper::Selector::parse(s).unwrap();
    assert_eq!(doc.select(&sel("script")).count(), 0);
    assert_eq!(doc.select(&sel("img")).count(), 0);
    assert_eq!(doc.select(&sel("#vulnerabilities tbody tr")).count(), 3);
    assert_eq!(doc.select(&sel("#misconfigurations tbody tr")).count(), 1);
    assert_eq!(doc.select(&sel("#secrets tbody tr")).count(), 1);
    assert_eq!(doc.select(&sel("svg rect")).count(), 5);
    let babel_row = doc
        .select(&sel("#vulnerabilities tbody tr"))
        .find(|tr| tr.text().any(|t| t == "CVE-2023-45133"))
        .unwrap();
    let cells: Vec<String> = babel_row
        .select(&sel("td"))
        .map(|td| td.text().collect::<String>())
        .collect();
    assert_eq!(cells[0], "@babel/core");
    assert_eq!(cells[2], "CRITICAL");
    assert_eq!(cells[4], "7.23.2");
    assert_eq!(
        cells[5],
        "Babel vulnerable to arbitrary code execution <script>alert(1)</script>"
    );
    let summary: String = doc
        .select(&sel("#summary"))
        .flat_map(|e| e.text())
        .collect();
    assert_eq!(
        summary,
        "CRITICAL: 2, HIGH: 2, MEDIUM: 1, LOW: 0, UNKNOWN: 0"
    );
}

#[test]
fn openvex_products_naming_the_image() {
    const OURS: &str = "sha256:dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd";
    const OTHER: &str = "sha256:eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee";
    let statement = |vuln: &str, image: &str, subs: Value| {
        let mut product = json!({"@id": format!("pkg:oci/app@{}", image.replace(':', "%3A"))});
        if !subs.is_null() {
            product["subcomponents"] = subs;
        }
        json!({"vulnerability": {"name": vuln}, "products": [product],
               "status": "not_affected", "justification": "component_not_present"})
    };
    let doc = vex(json!({
        "@context": "https://openvex.dev/ns/v0.2.0",
        "statements": [
            // The whole image (no subcomponents): every finding of the CVE.
            statement("CVE-2025-26519", OURS, Value::Null),
            // A package inside another image: not ours.
            statement("CVE-2023-45133", OTHER,
                      json!([{"@id": "pkg:npm/%40babel/core"}])),
            // A package inside our image.
            statement("CVE-2023-4039", OURS,
                      json!([{"@id": "pkg:deb/debian/libgcc-s1"}])),
        ]
    }));
    let mut r = common::findings_report();
    if let Some(img) = r.target.image.as_mut() {
        img.repo_digests = vec![format!("example.org/app@{OURS}")];
    }
    let mut o = FilterOptions::new(TODAY);
    o.vex = vec![doc];
    let s = filter::apply(&mut r, &o);
    assert_eq!(ids(&r), ["CVE-2023-45133"]);
    assert_eq!(s.count(FilterReason::Vex), 2);
}

#[test]
fn expired_rule_warns_once() {
    let mut r = common::findings_report();
    let mut dup = common::vuln_on(&r, "left-pad", "CVE-2023-4039", Severity::Medium);
    dup.fixed_versions = vec!["1.3.1".into()];
    r.vulnerabilities.push(dup);
    let mut o = FilterOptions::new(TODAY);
    o.ignore = Some(
        IgnoreFile::parse(
            "vulnerabilities:\n  - id: CVE-2023-4039\n    reason: x\n    expires: 2025-02-28\n",
            "ign",
        )
        .unwrap(),
    );
    let s = filter::apply(&mut r, &o);
    assert_eq!(s.warnings.len(), 1, "{:?}", s.warnings);
    assert_eq!(s.count(FilterReason::Ignored), 0);
    assert_eq!(r.vulnerabilities.len(), 4);
}

/// Trivy's SARIF golden for alpine 3.10, rebuilt as bulwark findings (package, version,
/// fixed version and severity from each result's message; CVSS v3 from the rule's
/// properties), must give the same rules, rule levels, `security-severity` values, tags
/// and per-result rule ids and levels. Deliberately different: message wording, the
/// location (Trivy points every result at the image tarball with a dummy 1:1 region; we
/// use the package's own path and no region), rule `name`, help text and `$schema` URL.
#[test]
fn sarif_agrees_with_trivy_golden() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    let golden: Value = serde_json::from_str(
        &std::fs::read_to_string(common::fixture("trivy-output/alpine-310.sarif.golden")).unwrap(),
    )
    .unwrap();
    let grun = &golden["runs"][0];
    let grules = grun["tool"]["driver"]["rules"].as_array().unwrap();
    let field = |text: &str, key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key))
            .map(str::trim)
            .unwrap_or_default()
            .to_string()
    };
    let mut r = common::sample_report();
    r.packages.clear();
    for res in grun["results"].as_array().unwrap() {
        let msg = res["message"]["text"].as_str().unwrap();
        let id = res["ruleId"].as_str().unwrap();
        let rule = grules.iter().find(|g| g["id"] == id).unwrap();
        let props = &rule["properties"];
        let mut v = common::vuln_on(
            &common::sample_report(),
            "musl",
            id,
            field(msg, "Severity:").parse().unwrap(),
        );
        v.package = field(msg, "Package:");
        v.installed_version = field(msg, "Installed Version:");
        v.fixed_versions = vec![field(msg, "Fixed Version:")];
        v.purl = format!("pkg:apk/alpine/{}@{}", v.package, v.installed_version);
        v.path = Some("lib/apk/db/installed".into());
        v.cvss = vec![bulwark_core::Cvss {
            version: "3.1".into(),
            vector: props["cvssv3_vector"].as_str().unwrap().into(),
            score: props["cvssv3_baseScore"].as_f64().unwrap(),
            source: Some("nvd".into()),
        }];
        v.title = rule["shortDescription"]["text"].as_str().unwrap().into();
        r.vulnerabilities.push(v);
    }
    let ours: Value = serde_json::from_str(&render(&r, Format::Sarif)).unwrap();
    let orun = &ours["runs"][0];
    let orules = orun["tool"]["driver"]["rules"].as_array().unwrap();
    assert_eq!(orules.len(), grules.len());
    for g in grules {
        let o = orules.iter().find(|o| o["id"] == g["id"]).unwrap();
        assert_eq!(
            o["defaultConfiguration"]["level"],
            g["defaultConfiguration"]["level"]
        );
        assert_eq!(o["shortDescription"], g["shortDescription"]);
        for k in ["security-severity", "tags", "precision"] {
            assert_eq!(o["properties"][k], g["properties"][k], "{k} of {}", g["id"]);
        }
    }
    let key = |run: &Value| {
        let mut v: Vec<(String, String)> = run["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| (x["ruleId"].to_string(), x["level"].to_string()))
            .collect();
        v.sort();
        v
    };
    assert_eq!(key(orun), key(grun));
}
