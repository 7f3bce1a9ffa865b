//! Rego custom checks: metadata in both forms, Dockerfile and Kubernetes inputs, line
//! numbers from results, and the bad-policy errors.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic: that is its failure

use bulwark_core::Severity;
use bulwark_misconfig::dockerfile::parse;
use bulwark_misconfig::rego::{dockerfile_input, CustomChecks};
use bulwark_misconfig::MisconfigError;
use serde_json::json;

const DF_POLICY: &str = r#"package custom.dockerfile.no_curl_latest

import rego.v1

__bulwark_metadata := {
    "id": "ORG-DF-001",
    "title": "Do not pull :latest images in RUN",
    "severity": "HIGH",
    "remediation": "Pin the image tag.",
}

deny contains result if {
    some inst in input.instructions
    inst.cmd == "run"
    contains(inst.script, ":latest")
    result := {"msg": sprintf("RUN on line %d uses :latest", [inst.startline]), "startline": inst.startline, "endline": inst.endline}
}
"#;

const K8S_POLICY: &str = r#"# METADATA
# title: Deployments need an owner label
# description: Every Deployment must say which team owns it.
# custom:
#   id: ORG-K8S-001
#   severity: MEDIUM
#   recommended_action: Add metadata.labels.owner.
package custom.k8s.owner

deny[msg] {
    input.kind == "Deployment"
    not input.metadata.labels.owner
    msg := sprintf("Deployment %s has no owner label", [input.metadata.name])
}
"#;

fn checks() -> CustomChecks {
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => panic!("{e}"),
    };
    for (n, s) in [
        ("df.rego", DF_POLICY),
        ("k8s.rego", K8S_POLICY),
        ("k8s_test.rego", "not rego at all"),
    ] {
        if let Err(e) = std::fs::write(dir.path().join(n), s) {
            panic!("{e}");
        }
    }
    match CustomChecks::load_dir(dir.path()) {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn loads_both_metadata_forms() {
    let c = checks();
    assert_eq!(c.policies.len(), 2, "_test.rego files are skipped");
    let df = &c.policies[0].meta;
    assert_eq!(
        (df.id.as_str(), df.severity),
        ("ORG-DF-001", Severity::High)
    );
    let k = &c.policies[1].meta;
    assert_eq!(k.id, "ORG-K8S-001");
    assert_eq!(k.severity, Severity::Medium);
    assert_eq!(k.remediation, "Add metadata.labels.owner.");
}

#[test]
fn dockerfile_rule_reports_lines() {
    let src = "FROM a:1\nRUN docker pull x:1\nRUN docker run \\\n  y:latest\n";
    let df = match parse("Dockerfile", src.as_bytes()) {
        Ok(d) => d,
        Err(e) => panic!("{e}"),
    };
    let input = dockerfile_input(&df, "Dockerfile");
    let f = checks().evaluate(&input, "Dockerfile").unwrap_or_default();
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].check_id, "ORG-DF-001");
    assert_eq!((f[0].start_line, f[0].end_line), (Some(3), Some(4)));
    assert_eq!(f[0].message, "RUN on line 3 uses :latest");
}

#[test]
fn kubernetes_rule() {
    let c = checks();
    let bad = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}});
    let f = c.evaluate(&bad, "deploy.yaml").unwrap_or_default();
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].message, "Deployment web has no owner label");
    assert_eq!(f[0].start_line, None);
    let good = json!({"kind": "Deployment", "metadata": {"name": "web", "labels": {"owner": "a"}}});
    assert!(c
        .evaluate(&good, "deploy.yaml")
        .unwrap_or_default()
        .is_empty());
}

#[test]
fn bad_policies_are_errors() {
    let mut c = CustomChecks::default();
    let syntax = c.add("bad.rego", "package x\ndeny[msg] {\n  msg := \n");
    assert!(
        matches!(syntax, Err(MisconfigError::Invalid { ref path, .. }) if path == "bad.rego"),
        "{syntax:?}"
    );
    let no_meta = c.add("nometa.rego", "package y\ndeny[msg] { msg := \"x\" }\n");
    assert!(
        matches!(no_meta, Err(MisconfigError::Invalid { ref message, .. }) if message.contains("METADATA")),
        "{no_meta:?}"
    );
    let big = "#".repeat(bulwark_misconfig::rego::MAX_POLICY_SIZE + 1);
    assert!(matches!(
        c.add("big.rego", &big),
        Err(MisconfigError::TooLarge { .. })
    ));
}
