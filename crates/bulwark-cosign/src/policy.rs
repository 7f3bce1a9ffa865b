//! Rego policies over verified attestations, evaluated with regorus (the engine the
//! misconfiguration checks use).
//!
//! **Input** (`input`):
//! ```json
//! {"image": {"reference": "registry/repo", "digest": "sha256:…"},
//!  "attestations": [{"predicateType": "https://cyclonedx.org/bom",
//!                    "predicate": { … }, "source": "legacy-tag"}]}
//! ```
//! Only attestations whose signature, subject and (if asked) type verified are in
//! `attestations`. **Query**: `data.bulwark.attestation.deny`, a set (or array) of
//! messages; the policy passes when it is empty or undefined. The module must declare
//! `package bulwark.attestation`; Rego v1 syntax is tried first, then v0.

use crate::error::{Error, Result};
use crate::verify::Report;
use std::time::Duration;

/// The rule queried.
pub const DENY_RULE: &str = "data.bulwark.attestation.deny";
/// Largest policy file.
pub const MAX_POLICY: u64 = 1 << 20;
/// Largest input document.
pub const MAX_INPUT: usize = 64 << 20;
/// Evaluation time limit.
const EVAL_LIMIT: Duration = Duration::from_secs(10);

/// The input document for `report` (verified attestations only).
pub fn input(report: &Report, reference: &str) -> serde_json::Value {
    let atts: Vec<serde_json::Value> = report
        .signatures
        .iter()
        .filter(|c| c.verified)
        .map(|c| {
            serde_json::json!({
                "predicateType": c.predicate_type,
                "predicate": c.predicate,
                "source": c.source,
            })
        })
        .collect();
    serde_json::json!({
        "image": {"reference": reference, "digest": report.digest},
        "attestations": atts,
    })
}

/// Evaluates the policy `source` (named `path` in messages) on `input`; returns the
/// deny messages (empty = pass).
pub fn evaluate(path: &str, source: &str, input: &serde_json::Value) -> Result<Vec<String>> {
    let err = |m: String| Error::Policy {
        path: path.to_string(),
        message: m,
    };
    let text = input.to_string();
    if text.len() > MAX_INPUT {
        return Err(err(format!("input larger than {MAX_INPUT} bytes")));
    }
    let (mut engine, package) = bulwark_misconfig::rego::load_policy(path, source, EVAL_LIMIT)?;
    if package != "data.bulwark.attestation" {
        return Err(err(format!(
            "declares {package}; attestation policies must be `package bulwark.attestation`"
        )));
    }
    let items =
        bulwark_misconfig::rego::deny_results(&mut engine, path, DENY_RULE.to_string(), &text)?;
    Ok(items
        .into_iter()
        .map(|i| match i {
            serde_json::Value::String(s) => s,
            other => other.to_string(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str =
        include_str!("../../../examples/attestation/sbom-and-no-fixable-critical.rego");

    fn run(atts: serde_json::Value) -> Vec<String> {
        let input = serde_json::json!({"image": {"reference": "r", "digest": "sha256:00"}, "attestations": atts});
        match evaluate("p.rego", POLICY, &input) {
            Ok(v) => v,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn sbom_and_vuln_policy() {
        assert_eq!(
            run(serde_json::json!([])),
            vec!["no verified SBOM attestation"]
        );
        let sbom =
            serde_json::json!({"predicateType": "https://cyclonedx.org/bom", "predicate": {}});
        assert!(run(serde_json::json!([sbom.clone()])).is_empty());
        let vuln = |sev: &str, fix: &str| {
            serde_json::json!({
            "predicateType": "https://cosign.sigstore.dev/attestation/vuln/v1",
            "predicate": {"scanner": {"result": {"vulnerabilities": [{
                "id": "CVE-1", "package": "openssl", "installed_version": "1.0",
                "severity": sev,
                "fixed_versions": if fix.is_empty() { vec![] } else { vec![fix] }}]}}}})
        };
        assert_eq!(
            run(serde_json::json!([sbom.clone(), vuln("CRITICAL", "1.2")])),
            vec!["CVE-1 in openssl 1.0 is CRITICAL and fixed in 1.2"]
        );
        assert!(run(serde_json::json!([sbom.clone(), vuln("CRITICAL", "")])).is_empty());
        assert!(run(serde_json::json!([sbom, vuln("HIGH", "1.2")])).is_empty());
    }

    #[test]
    fn wrong_package_is_an_error() {
        let e = evaluate(
            "x.rego",
            "package other\ndeny := []",
            &serde_json::json!({}),
        );
        assert!(matches!(e, Err(Error::Policy { .. })), "{e:?}");
    }
}
