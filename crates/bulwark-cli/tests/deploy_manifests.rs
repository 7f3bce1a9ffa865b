//! The Kubernetes manifests shipped for `bulwark server` (deploy/kubernetes): they must
//! pass bulwark's own `config` check with nothing at HIGH or above, pass the restricted
//! Pod Security Standard outright, and describe the deployment docs/server.md promises
//! (two replicas, a PDB, default-deny NetworkPolicies, the database URL from a Secret,
//! and a Deployment of `bulwark worker`s that nothing can reach).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic: that is its failure

use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

fn deploy_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/kubernetes")
}

fn config(extra: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_bulwark"))
        .arg("config")
        .arg(deploy_dir())
        .args(["--format", "json"])
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn server_manifests_pass_bulwarks_own_checks() {
    let all = config(&[]);
    let findings = all["misconfigurations"].as_array().unwrap();
    let high: Vec<&Value> = findings
        .iter()
        .filter(|f| matches!(f["severity"].as_str(), Some("HIGH" | "CRITICAL")))
        .collect();
    assert!(high.is_empty(), "HIGH or above: {high:#?}");
    // The checks did run on the Deployment: what remains is known and documented.
    let ids: Vec<&str> = findings
        .iter()
        .filter_map(|f| f["check_id"].as_str())
        .collect();
    assert!(ids.contains(&"BW-K8S-0008"), "{ids:?}"); // not pinned by digest: the user's choice
    let restricted = config(&["--checks", "pss-restricted"]);
    // (the report leaves the list out when it is empty)
    assert!(restricted["target"].is_object(), "{restricted:#}");
    assert_eq!(
        restricted
            .get("misconfigurations")
            .and_then(Value::as_array)
            .map_or(0, Vec::len),
        0,
        "{restricted:#}"
    );
}

#[test]
fn server_manifests_describe_the_documented_deployment() {
    let text = std::fs::read_to_string(deploy_dir().join("bulwark-server.yaml")).unwrap();
    let docs: Vec<Value> = text
        .split("\n---\n")
        .map(|d| serde_yaml_ng::from_str::<Value>(d).unwrap())
        .collect();
    let find = |kind: &str, name: &str| {
        docs.iter()
            .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("no {kind}/{name}"))
    };
    assert_eq!(
        find("Namespace", "bulwark")["metadata"]["labels"]["pod-security.kubernetes.io/enforce"],
        "restricted"
    );
    let dep = find("Deployment", "bulwark-server");
    assert_eq!(dep["spec"]["replicas"], 2);
    let c = &dep["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["env"][0]["name"], "BULWARK_DATABASE");
    assert_eq!(
        c["env"][0]["valueFrom"]["secretKeyRef"]["name"],
        "bulwark-database"
    );
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(
        find("PodDisruptionBudget", "bulwark-server")["spec"]["minAvailable"],
        1
    );
    let deny = find("NetworkPolicy", "default-deny");
    assert_eq!(deny["spec"]["podSelector"], serde_json::json!({}));
    assert_eq!(
        deny["spec"]["policyTypes"],
        serde_json::json!(["Ingress", "Egress"])
    );
    assert_eq!(
        find("NetworkPolicy", "bulwark-server")["spec"]["ingress"][0]["ports"][0]["port"],
        8443
    );
    // The job workers: `bulwark worker` on the same database, listening on nothing.
    let w = find("Deployment", "bulwark-worker");
    let wc = &w["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(wc["args"][0], "worker");
    assert_eq!(wc["env"][0]["name"], "BULWARK_DATABASE");
    assert_eq!(
        wc["env"][0]["valueFrom"]["secretKeyRef"]["name"],
        "bulwark-database"
    );
    assert_eq!(wc["securityContext"]["readOnlyRootFilesystem"], true);
    assert!(wc["ports"].is_null());
    let wp = find("NetworkPolicy", "bulwark-worker");
    assert!(wp["spec"]["ingress"].is_null());
    assert_eq!(
        wp["spec"]["policyTypes"],
        serde_json::json!(["Ingress", "Egress"])
    );
}
