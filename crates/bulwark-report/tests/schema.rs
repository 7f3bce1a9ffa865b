//! Validates bulwark's CycloneDX and SPDX output with the official validators
//! (`tests/validate.py`: the CycloneDX 1.6 strict JSON schema from cyclonedx-python-lib,
//! spdx-tools' full document validation).

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
}
