//! Secrets and misconfigurations suppressed by the ignore file (or already marked by an
//! inline comment upstream) are kept, marked, with `show_suppressed` and removed
//! otherwise; either way they do not count towards totals or exit codes, and every
//! output format shows the mark. Reports are hand-built (`common::findings_report`).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic: that is its failure

mod common;

use bulwark_core::{Report, Severity};
use bulwark_report::filter::{self, FilterOptions, FilterReason};
use bulwark_report::ignore::IgnoreFile;
use bulwark_report::{write, Format};
use serde_json::Value;
use std::path::Path;
use std::process::Command;
use time::macros::date;

const TODAY: time::Date = date!(2025 - 03 - 01);

/// Suppresses the report's one misconfiguration (by alias and path glob) and its one
/// secret (by rule id and path glob), each with its own reason.
const IGNORE: &str = "\
misconfigurations:
  - id: DS002
    path: \"**/Dockerfile*\"
    reason: root needed for the legacy entrypoint
    expires: 2025-12-31
secrets:
  - id: aws-access-key-id
    path: app/config/*.py
    reason: key of the local test account
";

fn opts(ignore: &str, show: bool) -> FilterOptions {
    let mut o = FilterOptions::new(TODAY);
    o.ignore = Some(IgnoreFile::parse(ignore, ".bulwarkignore").unwrap());
    o.show_suppressed = show;
    o
}

/// The findings report without its vulnerabilities, so only the two kinds under test
/// decide totals and exit codes.
fn report() -> Report {
    let mut r = common::findings_report();
    r.vulnerabilities.clear();
    r
}

fn render(r: &Report, f: Format) -> String {
    let mut buf = Vec::new();
    write(r, f, &mut buf).unwrap();
    String::from_utf8(buf).unwrap()
}

#[test]
fn ignored_secrets_and_misconfigurations_are_dropped_by_default() {
    let mut r = report();
    assert!(filter::has_findings(&r, Severity::Unknown));
    let s = filter::apply(&mut r, &opts(IGNORE, false));
    assert!(r.misconfigurations.is_empty());
    assert!(r.secrets.is_empty());
    assert_eq!(s.count(FilterReason::Ignored), 2);
    assert!(s.warnings.is_empty(), "{:?}", s.warnings);
    assert!(!filter::has_findings(&r, Severity::Unknown));
    let json: Value = serde_json::from_str(&render(&r, Format::Json)).unwrap();
    assert!(json["misconfigurations"]
        .as_array()
        .is_none_or(|a| a.is_empty()));
    assert!(json["secrets"].as_array().is_none_or(|a| a.is_empty()));
}

#[test]
fn show_suppressed_keeps_them_marked_without_failing_the_build() {
    let mut r = report();
    let s = filter::apply(&mut r, &opts(IGNORE, true));
    assert_eq!(s.count(FilterReason::Ignored), 2);
    assert_eq!(r.misconfigurations.len(), 1);
    assert_eq!(r.secrets.len(), 1);
    assert_eq!(
        r.misconfigurations[0].suppressed.as_deref(),
        Some("ignored: root needed for the legacy entrypoint (.bulwarkignore), until 2025-12-31")
    );
    assert_eq!(
        r.secrets[0].suppressed.as_deref(),
        Some("ignored: key of the local test account (.bulwarkignore)")
    );
    assert!(!filter::has_findings(&r, Severity::Unknown));
    assert!(!filter::has_findings(&r, Severity::Unknown));

    let json: Value = serde_json::from_str(&render(&r, Format::Json)).unwrap();
    assert!(json["misconfigurations"][0]["suppressed"]
        .as_str()
        .is_some_and(|t| t.contains("legacy entrypoint")));
    assert!(json["secrets"][0]["suppressed"]
        .as_str()
        .is_some_and(|t| t.contains("local test account")));
    // The JSON reads back into the same report (the field round-trips).
    let back: Report = serde_json::from_value(json).unwrap();
    assert_eq!(back.misconfigurations, r.misconfigurations);
    assert_eq!(back.secrets, r.secrets);
}

#[test]
fn unsuppressed_findings_have_no_suppressed_key() {
    let r = report();
    let json: Value = serde_json::from_str(&render(&r, Format::Json)).unwrap();
    assert!(json["misconfigurations"][0].get("suppressed").is_none());
    assert!(json["secrets"][0].get("suppressed").is_none());
}

#[test]
fn expired_rules_stop_suppressing_and_warn() {
    let expired = IGNORE.replace("2025-12-31", "2025-02-28");
    let mut r = report();
    let s = filter::apply(&mut r, &opts(&expired, true));
    assert_eq!(r.misconfigurations.len(), 1);
    assert_eq!(r.misconfigurations[0].suppressed, None);
    assert_eq!(s.count(FilterReason::Ignored), 1, "only the secret");
    assert_eq!(s.warnings.len(), 1, "{:?}", s.warnings);
    assert!(
        s.warnings[0].contains("misconfigurations[0]") && s.warnings[0].contains("2025-02-28"),
        "{}",
        s.warnings[0]
    );
    assert!(filter::has_findings(&r, Severity::Unknown));
}

#[test]
fn upstream_marks_are_kept_and_not_rematched() {
    // A finding marked by an inline comment keeps that reason; an expired ignore rule
    // for it says nothing, since the finding stays suppressed.
    let expired = IGNORE.replace("2025-12-31", "2025-02-28");
    let mut r = report();
    r.misconfigurations[0].suppressed = Some("inline: # bulwark:ignore=DS002 (line 6)".into());
    let s = filter::apply(&mut r, &opts(&expired, true));
    assert_eq!(
        r.misconfigurations[0].suppressed.as_deref(),
        Some("inline: # bulwark:ignore=DS002 (line 6)")
    );
    assert!(s.warnings.is_empty(), "{:?}", s.warnings);
    assert_eq!(s.count(FilterReason::Ignored), 2);

    let mut r = report();
    r.misconfigurations[0].suppressed = Some("inline: # bulwark:ignore=DS002".into());
    let mut o = FilterOptions::new(TODAY);
    o.show_suppressed = false;
    filter::apply(&mut r, &o);
    assert!(r.misconfigurations.is_empty());
    assert_eq!(r.secrets.len(), 1);
}

#[test]
fn table_lists_suppressed_separately_and_leaves_them_out_of_totals() {
    let mut r = report();
    filter::apply(&mut r, &opts(IGNORE, true));
    let t = render(&r, Format::Table);
    assert!(t.contains("Suppressed misconfigurations (1)"), "{t}");
    assert!(t.contains("Suppressed secrets (1)"), "{t}");
    assert!(t.contains("legacy entrypoint"), "{t}");
    assert!(!t.contains("\nMisconfigurations ("), "{t}");
    assert!(!t.contains("\nSecrets ("), "{t}");
    assert!(
        t.contains(
            "Total findings: 0 (CRITICAL: 0, HIGH: 0, MEDIUM: 0, LOW: 0, UNKNOWN: 0); \
             0 vulnerabilities, 0 misconfigurations, 0 secrets, 2 suppressed"
        ),
        "{t}"
    );

    // Only the secret suppressed: the misconfiguration is in the main table and counted.
    let mut r = report();
    r.secrets[0].suppressed = Some("ignored: x (.bulwarkignore)".into());
    let t = render(&r, Format::Table);
    assert!(t.contains("\nMisconfigurations (1)"), "{t}");
    assert!(t.contains("Suppressed secrets (1)"), "{t}");
    assert!(
        t.contains("0 vulnerabilities, 1 misconfigurations, 0 secrets, 1 suppressed"),
        "{t}"
    );
}

#[test]
fn html_greys_suppressed_rows_and_leaves_them_out_of_the_summary() {
    let mut r = report();
    filter::apply(&mut r, &opts(IGNORE, true));
    let h = render(&r, Format::Html);
    assert_eq!(h.matches("<tr class=\"suppressed\">").count(), 2, "{h}");
    assert!(h.contains("suppressed: ignored: key of the local test account"));
    assert!(
        h.contains("CRITICAL: 0, HIGH: 0, MEDIUM: 0, LOW: 0, UNKNOWN: 0"),
        "{h}"
    );
}

fn python() -> Option<String> {
    let py = std::env::var("BULWARK_TEST_PYTHON")
        .unwrap_or_else(|_| "/opt/bench-venv/bin/python".to_string());
    Path::new(&py).exists().then_some(py)
}

#[test]
fn sarif_marks_suppressed_results_and_stays_schema_valid() {
    let mut r = report();
    filter::apply(&mut r, &opts(IGNORE, true));
    // An inline mark becomes an in-source suppression.
    r.misconfigurations[0].suppressed = Some("inline: # hadolint ignore=DL3002".into());
    let text = render(&r, Format::Sarif);
    let v: Value = serde_json::from_str(&text).unwrap();
    let results = v["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    let by_rule = |id: &str| {
        results
            .iter()
            .find(|r| r["ruleId"] == id)
            .unwrap_or_else(|| panic!("no result for {id}"))
    };
    let m = &by_rule("BW-DF-0002")["suppressions"][0];
    assert_eq!(m["kind"], "inSource");
    assert_eq!(m["status"], "accepted");
    assert_eq!(m["justification"], "inline: # hadolint ignore=DL3002");
    let s = &by_rule("aws-access-key-id")["suppressions"][0];
    assert_eq!(s["kind"], "external");
    assert!(s["justification"]
        .as_str()
        .is_some_and(|j| j.contains("local test account")));

    let Some(py) = python() else {
        panic!("validator python not found: set BULWARK_TEST_PYTHON");
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("out.sarif.json");
    std::fs::write(&file, &text).unwrap();
    let out = Command::new(py)
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/validate.py"))
        .arg("sarif")
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "SARIF validation failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
