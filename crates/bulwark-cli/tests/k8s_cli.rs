//! `bulwark k8s` through the binary: exit codes (1 paths at or above --severity, 0 none,
//! 2 unreadable input named with file and line), output formats, who-can, netpol with
//! sensitive workloads, diff, suggest fed back to netpol, and scan's image list.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic: that is its failure

use std::path::PathBuf;
use std::process::{Command, Output};

fn bulwark(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bulwark"))
        .args(args)
        .env(
            "BULWARK_CACHE_DIR",
            std::env::temp_dir().join("bulwark-k8s-cli-cache"),
        )
        .output()
        .expect("run bulwark")
}

fn rbac_data(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../bulwark-k8s/tests/data/rbac")
        .join(name)
        .display()
        .to_string()
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn rbac_exit_codes_and_formats() {
    let esc = rbac_data("escalation.yaml");
    let o = bulwark(&["k8s", "rbac", &esc]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}{err}");
    assert!(out.contains("User:alice"), "{out}");
    assert!(out.contains("cluster-admin equivalent:"), "{out}");
    let lp = rbac_data("least-privilege.yaml");
    let o = bulwark(&["k8s", "rbac", &lp]);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    assert!(text(&o).0.contains("No escalation paths"));
    // lee's MEDIUM wildcard alone does not fail at the default HIGH threshold, and
    // CRITICAL paths still fail at --severity CRITICAL.
    let o = bulwark(&["k8s", "rbac", &esc, "--severity", "CRITICAL"]);
    assert_eq!(o.status.code(), Some(1));
    for (fmt, needle) in [
        ("json", "\"cluster_admin\": true"),
        ("sarif", "\"ruleId\": \"BW-RBAC-0004\""),
        ("dot", "digraph rbac"),
        ("mermaid", "flowchart LR"),
    ] {
        let o = bulwark(&["k8s", "rbac", &esc, "--format", fmt]);
        let (out, err) = text(&o);
        assert_eq!(o.status.code(), Some(1), "{fmt}: {err}");
        assert!(out.contains(needle), "{fmt}: {out}");
    }
    let o = bulwark(&[
        "k8s",
        "rbac",
        &esc,
        "--who-can",
        "create",
        "pods",
        "-n",
        "ci",
    ]);
    let (out, _) = text(&o);
    assert_eq!(o.status.code(), Some(0));
    assert!(
        out.contains("User:alice") && out.contains("RoleBinding/ci/alice-pods"),
        "{out}"
    );
    assert!(!out.contains("User:carol"), "{out}");
}

#[test]
fn unreadable_input_is_exit_2_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(rbac_data("escalation.yaml"), dir.path().join("good.yaml")).unwrap();
    std::fs::write(
        dir.path().join("chart.yaml"),
        "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: {{ .Values.name }\n",
    )
    .unwrap();
    let d = dir.path().display().to_string();
    for cmd in [&["k8s", "rbac"][..], &["k8s", "netpol"][..]] {
        let mut args = cmd.to_vec();
        args.push(&d);
        let o = bulwark(&args);
        let (out, err) = text(&o);
        assert_eq!(o.status.code(), Some(2), "{cmd:?}: {out}{err}");
        assert!(err.contains("chart.yaml:5: invalid YAML"), "{cmd:?}: {err}");
        // The readable rest is still analysed.
        if cmd[1] == "rbac" {
            assert!(out.contains("User:alice"));
        }
    }
    let o = bulwark(&["k8s", "rbac", "/nonexistent/k8s"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("/nonexistent/k8s"));
}

const APP: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "registry.example/web:1.2", ports: [{name: http, containerPort: 8080}]}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: shop}
spec:
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      initContainers: [{name: init, image: "busybox:1.36"}]
      containers: [{name: db, image: "postgres:16"}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  type: LoadBalancer
  selector: {app: web}
  ports: [{port: 80, targetPort: http}]
"#;

#[test]
fn netpol_sensitive_diff_and_suggest_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("old");
    let new = dir.path().join("new");
    std::fs::create_dir_all(&old).unwrap();
    std::fs::create_dir_all(&new).unwrap();
    std::fs::write(old.join("app.yaml"), APP).unwrap();
    std::fs::write(
        old.join("deny.yaml"),
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny, namespace: shop}\nspec:\n  podSelector: {}\n  policyTypes: [Ingress]\n  ingress: []\n---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: web-in, namespace: shop}\nspec:\n  podSelector: {matchLabels: {app: web}}\n  ingress: [{ports: [{port: http}]}]\n",
    )
    .unwrap();
    std::fs::write(new.join("app.yaml"), APP).unwrap();
    std::fs::copy(old.join("deny.yaml"), new.join("deny.yaml")).unwrap();
    std::fs::write(
        new.join("db.yaml"),
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: db-from-web, namespace: shop}\nspec:\n  podSelector: {matchLabels: {app: db}}\n  ingress: [{from: [{podSelector: {matchLabels: {app: web}}}], ports: [{port: 5432}]}]\n",
    )
    .unwrap();
    let (o, n) = (old.display().to_string(), new.display().to_string());
    // Before: the database is closed, no lateral path (exit 0); after: web -> db.
    let r = bulwark(&["k8s", "netpol", &o, "--sensitive", "app=db"]);
    assert_eq!(r.status.code(), Some(0), "{:?}", text(&r));
    let r = bulwark(&["k8s", "netpol", &n, "--sensitive", "app=db", "--matrix"]);
    let (out, err) = text(&r);
    assert_eq!(r.status.code(), Some(1), "{out}{err}");
    assert!(
        out.contains("shop/Deployment/web -> shop/StatefulSet/db (TCP/5432)"),
        "{out}"
    );
    assert!(
        out.contains("exposed by Service/shop/web type LoadBalancer"),
        "{out}"
    );
    let r = bulwark(&["k8s", "netpol", "diff", &o, &n]);
    let (out, _) = text(&r);
    assert_eq!(r.status.code(), Some(1));
    assert_eq!(
        out.trim(),
        "this change opens shop/Deployment/web -> shop/StatefulSet/db on TCP/5432"
    );
    let r = bulwark(&["k8s", "netpol", "--format", "json", &n]);
    let v: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(v["report"]["policies"], 3);

    // suggest -> netpol: the written policies load and allow the observed flow only.
    let flows = dir.path().join("flows.json");
    std::fs::write(
        &flows,
        r#"{"version": 1, "flows": [{"source": {"namespace": "shop", "workload": "Deployment/web", "labels": {"app": "web"}}, "destination": {"namespace": "shop", "workload": "StatefulSet/db", "labels": {"app": "db"}}, "port": 5432, "protocol": "TCP", "count": 3}]}"#,
    )
    .unwrap();
    let rt = dir.path().join("rt");
    std::fs::create_dir_all(&rt).unwrap();
    std::fs::write(rt.join("app.yaml"), APP).unwrap();
    let pol = rt.join("suggested.yaml");
    let r = bulwark(&[
        "k8s",
        "netpol",
        "suggest",
        &flows.display().to_string(),
        "-o",
        &pol.display().to_string(),
    ]);
    assert_eq!(r.status.code(), Some(0), "{:?}", text(&r));
    let r = bulwark(&["k8s", "netpol", "--matrix", &rt.display().to_string()]);
    let (out, err) = text(&r);
    assert_eq!(r.status.code(), Some(0), "{out}{err}");
    let allowed: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.starts_with("Allowed connections"))
        .skip(1)
        .collect();
    assert_eq!(
        allowed,
        ["  shop/Deployment/web -> shop/StatefulSet/db: TCP/5432"],
        "{out}"
    );
    let r = bulwark(&["k8s", "netpol", "suggest", "/nonexistent/flows.json"]);
    assert_eq!(r.status.code(), Some(2));
}

#[test]
fn scan_lists_images_and_runs_every_analysis() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("app.yaml"), APP).unwrap();
    std::fs::copy(rbac_data("escalation.yaml"), dir.path().join("rbac.yaml")).unwrap();
    let d = dir.path().display().to_string();
    let r = bulwark(&["k8s", "scan", &d, "--format", "images"]);
    let (out, err) = text(&r);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["busybox:1.36", "postgres:16", "registry.example/web:1.2"],
        "{err}"
    );
    assert_eq!(r.status.code(), Some(1), "RBAC paths fail the scan: {err}");
    let r = bulwark(&["k8s", "scan", &d, "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    assert!(!v["misconfigurations"].as_array().unwrap().is_empty());
    assert!(!v["rbac"]["paths"].as_array().unwrap().is_empty());
    assert_eq!(v["netpol"]["pods"], 2);
    assert_eq!(v["images"].as_array().unwrap().len(), 3);
    let r = bulwark(&["k8s", "scan", &d]);
    let (out, _) = text(&r);
    assert!(
        out.contains("== Config checks")
            && out.contains("== RBAC")
            && out.contains("== NetworkPolicies")
            && out.contains("== Images (3)"),
        "{out}"
    );
}
