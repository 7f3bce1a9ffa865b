//! The admission webhook over real TLS (a test CA from rcgen, the server in-process on
//! 127.0.0.1), with AdmissionReview v1 requests shaped as the API server sends them
//! (see `common/mod.rs`): the official Pod Security Standards fixtures at every level
//! and version, exemptions, audit mode, every pod-owning kind and `kubectl debug`,
//! malformed and oversized input, certificate rotation and policy reload on disk.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic: that is its failure

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    v.retain(|p| p.extension().is_some_and(|e| e == "yaml"));
    v.sort();
    v
}

/// Every official PSS fixture, sent as a Pod CREATE into a namespace whose rule asks
/// for that fixture's level and version: pass fixtures admitted, fail fixtures denied
/// with a PSS reason.
#[test]
fn pss_fixtures_every_level_and_version() {
    let fixtures = bulwark_fixtures::fixtures_or_skip!();
    let root = fixtures.join("pss");
    let tmp = tempfile::tempdir().unwrap();
    let mut rules = String::new();
    let mut cases = Vec::new();
    for level in ["baseline", "restricted"] {
        let mut versions: Vec<PathBuf> = std::fs::read_dir(root.join(level))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        versions.sort();
        assert!(versions.len() >= 38, "v1.0..v1.37 expected");
        for v in versions {
            let vname = v.file_name().unwrap().to_str().unwrap().to_string();
            let ns = format!("{level}-{}", vname.replace('.', "-"));
            rules.push_str(&format!(
                "  - name: pss-{ns}\n    match: {{namespaces: [{ns}]}}\n    podSecurity: {{level: {level}, version: {vname}}}\n"
            ));
            for (expect_allowed, sub) in [(true, "pass"), (false, "fail")] {
                for f in yaml_files(&v.join(sub)) {
                    cases.push((ns.clone(), f, expect_allowed));
                }
            }
        }
    }
    let policy = write(
        tmp.path(),
        "policy.yaml",
        &format!("apiVersion: bulwark.dev/v1alpha1\nkind: AdmissionPolicy\nrules:\n{rules}"),
    );
    let pki = make_pki(tmp.path(), "a");
    let hook = Webhook::start(config(&policy, &pki));
    let agent = client(&pki.ca);
    let url = format!("{}/validate", hook.url);
    let mut bad = Vec::new();
    let (mut admitted, mut denied) = (0, 0);
    for (ns, file, expect_allowed) in &cases {
        let items = bulwark_policy::offline::read(file, ns).unwrap();
        let obj = items[0].request.as_ref().unwrap().object.clone();
        let resp = admit(&agent, &url, &review("CREATE", ns, &obj, None, &alice()));
        let allowed = resp["allowed"].as_bool().unwrap();
        if allowed {
            admitted += 1;
        } else {
            denied += 1;
        }
        if allowed != *expect_allowed {
            bad.push(format!(
                "{}: allowed={allowed} {}",
                file.display(),
                resp["status"]
            ));
        } else if !allowed {
            let msg = resp["status"]["message"].as_str().unwrap_or("");
            assert!(msg.contains("BW-PSS-"), "reason names the control: {msg}");
            assert_eq!(resp["status"]["code"], 403);
        }
    }
    eprintln!(
        "{} fixtures over TLS: {admitted} admitted, {denied} denied",
        cases.len()
    );
    assert!(cases.len() > 3000, "only {} fixtures", cases.len());
    assert!(bad.is_empty(), "disagreements:\n{}", bad.join("\n"));
}

const POLICY: &str = r#"apiVersion: bulwark.dev/v1alpha1
kind: AdmissionPolicy
exemptions:
  namespaces: [kube-system]
  groups: ["system:masters"]
  serviceAccounts: ["ci/deployer"]
rules:
  - name: labels
    requireLabels: [team]
    exclude:
      usernames: [bob]
  - name: resources
    requireResources: {requests: [cpu, memory], limits: [memory]}
  - name: pss-restricted-audit
    mode: audit
    podSecurity: {level: restricted, version: v1.30}
  - name: pss-baseline
    podSecurity: {level: baseline}
  - name: registries
    match: {namespaces: ["prod-*"]}
    allowedRegistries: ["registry.example.com/*"]
"#;

fn basic_hook(dir: &Path) -> (Webhook, ureq::Agent, PathBuf) {
    let policy = write(dir, "policy.yaml", POLICY);
    let pki = make_pki(dir, "a");
    let hook = Webhook::start(config(&policy, &pki));
    let agent = client(&pki.ca);
    (hook, agent, policy)
}

/// Exemptions (namespace, group, service account, per-rule user) and audit mode
/// (restricted violations are warnings while baseline ones deny).
#[test]
fn exemptions_and_audit_mode() {
    let tmp = tempfile::tempdir().unwrap();
    let (hook, agent, _) = basic_hook(tmp.path());
    let url = format!("{}/validate", hook.url);
    let unlabelled = pod("p", "nginx:1.27", json!({}));

    // Missing label: denied for alice, with the reason.
    let r = admit(
        &agent,
        &url,
        &review("CREATE", "dev", &unlabelled, None, &alice()),
    );
    assert_eq!(r["allowed"], false);
    assert!(r["status"]["message"]
        .as_str()
        .unwrap()
        .contains("labels: pod label \"team\" is required"));
    // Exempt namespace, group, service account: allowed without checks.
    let r = admit(
        &agent,
        &url,
        &review("CREATE", "kube-system", &unlabelled, None, &alice()),
    );
    assert_eq!(r["allowed"], true, "{r}");
    let admin = User {
        name: "root".into(),
        groups: vec!["system:masters".into()],
    };
    let r = admit(
        &agent,
        &url,
        &review("CREATE", "dev", &unlabelled, None, &admin),
    );
    assert_eq!(r["allowed"], true, "{r}");
    let sa = User {
        name: "system:serviceaccount:ci:deployer".into(),
        groups: vec!["system:serviceaccounts".into()],
    };
    let r = admit(
        &agent,
        &url,
        &review("CREATE", "dev", &unlabelled, None, &sa),
    );
    assert_eq!(r["allowed"], true, "{r}");
    let other_sa = User {
        name: "system:serviceaccount:ci:other".into(),
        groups: vec![],
    };
    let r = admit(
        &agent,
        &url,
        &review("CREATE", "dev", &unlabelled, None, &other_sa),
    );
    assert_eq!(r["allowed"], false, "only ci/deployer is exempt: {r}");
    // Per-rule exclusion: bob skips the label rule only.
    let bob = User {
        name: "bob".into(),
        groups: vec![],
    };
    let r = admit(
        &agent,
        &url,
        &review("CREATE", "dev", &unlabelled, None, &bob),
    );
    assert_eq!(r["allowed"], true, "{r}");

    // Audit mode: the labelled pod passes baseline but not restricted: allowed, with
    // the restricted findings as warnings.
    let labelled = pod("p", "nginx:1.27", json!({"team": "a"}));
    let r = admit(
        &agent,
        &url,
        &review("CREATE", "dev", &labelled, None, &alice()),
    );
    assert_eq!(r["allowed"], true, "{r}");
    let warnings: Vec<&str> = r["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap())
        .collect();
    assert!(
        warnings
            .iter()
            .any(|w| w.starts_with("pss-restricted-audit (audit): BW-PSS-")),
        "{warnings:?}"
    );
    assert!(warnings.iter().all(|w| w.len() <= 256));
    // Enforced baseline: a privileged container is denied.
    let mut privileged = labelled.clone();
    privileged["spec"]["containers"][0]["securityContext"] = json!({"privileged": true});
    let r = admit(
        &agent,
        &url,
        &review("CREATE", "dev", &privileged, None, &alice()),
    );
    assert_eq!(r["allowed"], false);
    assert!(
        r["status"]["message"]
            .as_str()
            .unwrap()
            .contains("BW-PSS-privileged"),
        "{r}"
    );
    // Registry allow-list applies in prod-* only.
    let r = admit(
        &agent,
        &url,
        &review("CREATE", "prod-eu", &labelled, None, &alice()),
    );
    assert_eq!(r["allowed"], false);
    assert!(
        r["status"]["message"]
            .as_str()
            .unwrap()
            .contains("not from an allowed registry"),
        "{r}"
    );
    let ok = pod("p", "registry.example.com/shop/api:1", json!({"team": "a"}));
    let r = admit(
        &agent,
        &url,
        &review("CREATE", "prod-eu", &ok, None, &alice()),
    );
    assert_eq!(r["allowed"], true, "{r}");
}

/// Every pod-owning kind is read at its own pod path; `kubectl debug` (the
/// pods/ephemeralcontainers subresource, an UPDATE of the Pod) is checked including
/// the new ephemeral container; DELETE passes; a kind without a pod is denied.
#[test]
fn every_kind_and_ephemeral_containers() {
    let tmp = tempfile::tempdir().unwrap();
    let (hook, agent, _) = basic_hook(tmp.path());
    let url = format!("{}/validate", hook.url);
    let labels = json!({"team": "a"});
    let bad_spec = json!({"hostNetwork": true, "containers": [{"name": "c", "image": "nginx",
        "resources": {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"memory": "1Gi"}}}]});
    let tpl = json!({"metadata": {"labels": labels}, "spec": bad_spec});
    let objects = vec![
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x", "labels": labels}, "spec": bad_spec}),
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"}, "spec": {"template": tpl}}),
        json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "x"}, "spec": {"template": tpl}}),
        json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "x"}, "spec": {"template": tpl}}),
        json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"generateName": "x-"}, "spec": {"template": tpl}}),
        json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "x"}, "spec": {"template": tpl}}),
        json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "x"},
               "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": tpl}}}}),
        json!({"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "x"}, "spec": {"template": tpl}}),
    ];
    for o in &objects {
        let r = admit(&agent, &url, &review("CREATE", "dev", o, None, &alice()));
        assert_eq!(r["allowed"], false, "{}: {r}", o["kind"]);
        assert!(
            r["status"]["message"]
                .as_str()
                .unwrap()
                .contains("BW-PSS-host-namespaces"),
            "{}: {r}",
            o["kind"]
        );
        // The same object, fixed, is admitted.
        let mut fixed = o.clone();
        let ptr = match o["kind"].as_str().unwrap() {
            "Pod" => "/spec",
            "CronJob" => "/spec/jobTemplate/spec/template/spec",
            _ => "/spec/template/spec",
        };
        fixed
            .pointer_mut(ptr)
            .unwrap()
            .as_object_mut()
            .unwrap()
            .remove("hostNetwork");
        let r = admit(
            &agent,
            &url,
            &review("UPDATE", "dev", &fixed, None, &alice()),
        );
        assert_eq!(r["allowed"], true, "{}: {r}", o["kind"]);
    }
    // kubectl debug: the Pod with a new ephemeral container that is privileged.
    let mut debugged = pod("web", "nginx:1.27", labels.clone());
    debugged["spec"]["ephemeralContainers"] = json!([{"name": "debugger-x", "image": "busybox",
        "targetContainerName": "app", "securityContext": {"privileged": true}}]);
    let r = admit(
        &agent,
        &url,
        &review(
            "UPDATE",
            "dev",
            &debugged,
            Some("ephemeralcontainers"),
            &alice(),
        ),
    );
    assert_eq!(r["allowed"], false, "{r}");
    let msg = r["status"]["message"].as_str().unwrap();
    assert!(
        msg.contains("BW-PSS-privileged") && msg.contains("debugger-x"),
        "{msg}"
    );
    // A plain debug container is admitted (ephemeral containers need no resources).
    debugged["spec"]["ephemeralContainers"][0]
        .as_object_mut()
        .unwrap()
        .remove("securityContext");
    let r = admit(
        &agent,
        &url,
        &review(
            "UPDATE",
            "dev",
            &debugged,
            Some("ephemeralcontainers"),
            &alice(),
        ),
    );
    assert_eq!(r["allowed"], true, "{r}");
    // DELETE: allowed. A Service: denied, well-formed.
    let r = admit(
        &agent,
        &url,
        &review("DELETE", "dev", &objects[0], None, &alice()),
    );
    assert_eq!(r["allowed"], true);
    let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": {}});
    let r = admit(&agent, &url, &review("CREATE", "dev", &svc, None, &alice()));
    assert_eq!(r["allowed"], false);
    assert!(
        r["status"]["message"]
            .as_str()
            .unwrap()
            .contains("does not admit kind"),
        "{r}"
    );
}

/// Malformed and oversized input: 400 without a uid, a well-formed denial with one, 413
/// past the body limit; the server keeps serving.
#[test]
fn malformed_and_huge_requests() {
    let tmp = tempfile::tempdir().unwrap();
    let policy = write(tmp.path(), "policy.yaml", POLICY);
    let pki = make_pki(tmp.path(), "a");
    let mut cfg = config(&policy, &pki);
    cfg.max_body = 256 * 1024;
    let hook = Webhook::start(cfg);
    let agent = client(&pki.ca);
    let url = format!("{}/validate", hook.url);
    let send = |body: &[u8]| {
        let resp = agent
            .post(&url)
            .header("Content-Type", "application/json")
            .send(body)
            .unwrap();
        let s = resp.status().as_u16();
        (s, resp.into_body().read_to_string().unwrap_or_default())
    };
    assert_eq!(send(b"{not json").0, 400);
    assert_eq!(send(b"[]").0, 400);
    assert_eq!(
        send(br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}"#).0,
        400
    );
    // uid present, the rest wrong: a denial echoing the uid.
    for body in [
        json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {"uid": "u1"}}),
        json!({"apiVersion": "admission.k8s.io/v1beta1", "kind": "AdmissionReview",
               "request": {"uid": "u1", "kind": {"kind": "Pod"}, "operation": "CREATE"}}),
        json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
               "request": {"uid": "u1", "kind": {"kind": "Pod"}, "operation": "CREATE", "object": "nope"}}),
        json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
               "request": {"uid": "u1", "kind": {"kind": "Deployment"}, "operation": "CREATE",
                           "object": {"kind": "Deployment", "spec": {"template": 5}}}}),
    ] {
        let (s, text) = send(body.to_string().as_bytes());
        assert_eq!(s, 200, "{text}");
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["response"]["uid"], "u1");
        assert_eq!(v["response"]["allowed"], false, "{v}");
    }
    // Past the body limit: 413 before the body is read. The server may close the
    // connection while the client is still writing, so the client sees either the
    // 413 or a broken pipe / reset — never an answer; the server stays up.
    let mut huge = pod("h", "nginx", json!({"team": "a"}));
    huge["metadata"]["annotations"] = json!({"x": "y".repeat(300 * 1024)});
    let body = review("CREATE", "dev", &huge, None, &alice()).to_string();
    match client(&pki.ca)
        .post(&url)
        .header("Content-Type", "application/json")
        .send(body.as_bytes())
    {
        Ok(resp) => assert_eq!(resp.status().as_u16(), 413),
        Err(e) => {
            let m = e.to_string();
            assert!(
                m.contains("pipe") || m.contains("reset") || m.contains("closed"),
                "{m}"
            );
        }
    }
    // A big object under the limit: a normal decision.
    let mut big = pod("b", "nginx", json!({"team": "a"}));
    big["metadata"]["annotations"] = json!({"x": "y".repeat(100 * 1024)});
    let r = admit(&agent, &url, &review("CREATE", "dev", &big, None, &alice()));
    assert_eq!(r["allowed"], true, "{r}");
    // Deeply nested JSON: refused by the JSON reader, still 400, server alive.
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    assert_eq!(send(deep.as_bytes()).0, 400);
    let r = admit(&agent, &url, &review("CREATE", "dev", &big, None, &alice()));
    assert_eq!(r["allowed"], true);
}

/// A new certificate written over the old files is served to the next connection
/// without a restart; a broken one is refused and the previous pair kept.
#[test]
fn certificate_rotation_on_disk() {
    let tmp = tempfile::tempdir().unwrap();
    let policy = write(tmp.path(), "policy.yaml", POLICY);
    let first = make_pki(tmp.path(), "a");
    let hook = Webhook::start(config(&policy, &first));
    let url = format!("{}/healthz", hook.url);
    let old_client = client(&first.ca);
    assert_eq!(old_client.get(&url).call().unwrap().status(), 200);
    let second = make_pki(tmp.path(), "b");
    let new_client = client(&second.ca);
    assert!(
        new_client.get(&url).call().is_err(),
        "the new CA is not in use yet"
    );

    // A broken pair (key of another certificate) is refused: the old one stays.
    std::fs::copy(&second.cert, &first.cert).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let fresh_old = client(&first.ca);
    assert_eq!(
        fresh_old.get(&url).call().unwrap().status(),
        200,
        "old pair kept"
    );

    // Now the matching key too: rotation.
    std::fs::copy(&second.key, &first.key).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let c = client(&second.ca);
        if c.get(&url)
            .call()
            .map(|r| r.status() == 200)
            .unwrap_or(false)
        {
            break;
        }
        assert!(Instant::now() < deadline, "rotated certificate not served");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        client(&first.ca).get(&url).call().is_err(),
        "old CA no longer served"
    );
}

/// A changed policy file is picked up; an invalid one is logged and the last good
/// policy stays in service.
#[test]
fn policy_reload_keeps_last_good() {
    let tmp = tempfile::tempdir().unwrap();
    let (hook, agent, policy) = basic_hook(tmp.path());
    let url = format!("{}/validate", hook.url);
    let unlabelled = pod("p", "nginx:1.27", json!({}));
    let denied = |agent: &ureq::Agent| {
        !admit(
            agent,
            &url,
            &review("CREATE", "dev", &unlabelled, None, &alice()),
        )["allowed"]
            .as_bool()
            .unwrap()
    };
    assert!(denied(&agent));
    // Invalid: unknown field. Still the old policy.
    std::fs::write(
        &policy,
        POLICY.replace(
            "requireLabels: [team]",
            "requireLabels: [team]\n    colour: red",
        ),
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(600));
    assert!(denied(&agent), "last good policy kept");
    // Valid new policy without the label rule.
    std::fs::write(
        &policy,
        "apiVersion: bulwark.dev/v1alpha1\nkind: AdmissionPolicy\nrules:\n  - name: b\n    podSecurity: {level: baseline}\n",
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while denied(&agent) {
        assert!(Instant::now() < deadline, "new policy not loaded");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A policy that does not load refuses to start, naming the field.
#[test]
fn invalid_policy_refuses_to_start() {
    let tmp = tempfile::tempdir().unwrap();
    let policy = write(
        tmp.path(),
        "policy.yaml",
        "apiVersion: bulwark.dev/v1alpha1\nkind: AdmissionPolicy\nrules:\n  - name: x\n    podSecurity: {level: strict}\n",
    );
    let pki = make_pki(tmp.path(), "a");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let err = rt
        .block_on(bulwark_admit::start(config(&policy, &pki)))
        .err()
        .unwrap();
    let msg = err.to_string();
    assert!(
        msg.contains("policy.yaml")
            && msg.contains("rules[0].podSecurity.level")
            && msg.contains("strict"),
        "{msg}"
    );
}
