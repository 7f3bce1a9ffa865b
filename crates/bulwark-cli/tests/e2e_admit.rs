//! End to end: `bulwark policy test` (verdicts, table and JSON, exit codes 0/1/2) and
//! `bulwark admit serve` as a real process over HTTPS (certificate from a CA made
//! here with rcgen) answering an AdmissionReview v1 and counting it in its metrics
//! (`--metrics-listen`, plain HTTP), and `bulwark admit manifests` (with
//! `--metrics-port` it still has nothing HIGH in bulwark's own `config` check).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic: that is its failure

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

fn bulwark(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bulwark"))
        .args(args)
        .current_dir(cwd)
        .env_remove("BULWARK_DB")
        .stdin(Stdio::null())
        .output()
        .expect("run bulwark")
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

const POLICY: &str = "apiVersion: bulwark.dev/v1alpha1
kind: AdmissionPolicy
rules:
  - name: team
    requireLabels: [team]
  - name: pss
    podSecurity: {level: baseline, version: v1.30}
  - name: pss-audit
    mode: audit
    podSecurity: {level: restricted}
";

const GOOD: &str = "apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  template:
    metadata: {labels: {team: a}}
    spec:
      containers: [{name: c, image: nginx}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cm}
";

const BAD: &str = "apiVersion: v1
kind: Pod
metadata: {name: bad, labels: {team: a}}
spec:
  hostPID: yes
  containers: [{name: c, image: nginx}]
";

#[test]
fn policy_test_verdicts_and_exit_codes() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::fs::write(d.join("policy.yaml"), POLICY).unwrap();
    std::fs::write(d.join("good.yaml"), GOOD).unwrap();
    std::fs::write(d.join("bad.yaml"), BAD).unwrap();
    let o = bulwark(d, &["policy", "test", "policy.yaml", "good.yaml"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("admitted  Deployment/web"), "{out}");
    assert!(out.contains("warn: pss-audit (audit): BW-PSS-"), "{out}");
    assert!(
        out.contains("skipped") && out.contains("kind ConfigMap carries no pod"),
        "{out}"
    );

    let o = bulwark(
        d,
        &[
            "policy",
            "test",
            "policy.yaml",
            "good.yaml",
            "bad.yaml",
            "--format",
            "json",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["denied"], 1);
    let bad = &v["objects"][2];
    assert_eq!(bad["verdict"], "denied");
    assert!(
        bad["decision"]["reasons"][0]
            .as_str()
            .unwrap()
            .contains("BW-PSS-host-namespaces"),
        "{bad}"
    );

    // Invalid policy, unreadable input: exit 2, nothing admitted.
    std::fs::write(
        d.join("broken.yaml"),
        POLICY.replace("level: baseline", "level: base"),
    )
    .unwrap();
    let o = bulwark(d, &["policy", "test", "broken.yaml", "good.yaml"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("broken.yaml: rules[1].podSecurity.level"),
        "{}",
        text(&o)
    );
    assert!(o.stdout.is_empty());
    let o = bulwark(
        d,
        &["policy", "test", "policy.yaml", "good.yaml", "missing.yaml"],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        o.stdout.is_empty(),
        "no verdict printed before the unreadable file"
    );
}

fn pki(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, KeyUsagePurpose};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    let w = |n: &str, t: String| {
        let p = dir.join(n);
        std::fs::write(&p, t).unwrap();
        p
    };
    (
        w("ca.pem", ca.pem()),
        w("tls.crt", cert.pem()),
        w("tls.key", key.serialize_pem()),
    )
}

struct Child(std::process::Child);
impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn admit_serve_answers_over_https() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::fs::write(d.join("policy.yaml"), POLICY).unwrap();
    let (ca, cert, key) = pki(d);
    let port = bulwark_testkit::free_port();
    let listen = format!("127.0.0.1:{port}");
    let metrics = format!("127.0.0.1:{}", bulwark_testkit::free_port());
    let child = Child(
        Command::new(env!("CARGO_BIN_EXE_bulwark"))
            .args(["admit", "serve", "--policy", "policy.yaml", "--cert"])
            .arg(&cert)
            .arg("--key")
            .arg(&key)
            .args(["--listen", &listen])
            .args(["--metrics-listen", &metrics])
            .current_dir(d)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(d.join("server.log")).unwrap())
            .spawn()
            .unwrap(),
    );
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .tls_config(
            ureq::tls::TlsConfig::builder()
                .root_certs(ureq::tls::RootCerts::new_with_certs(&[
                    ureq::tls::Certificate::from_pem(&std::fs::read(&ca).unwrap()).unwrap(),
                ]))
                .build(),
        )
        .build()
        .into();
    let base = format!("https://{listen}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while agent.get(format!("{base}/healthz")).call().is_err() {
        assert!(Instant::now() < deadline, "webhook did not come up");
        std::thread::sleep(Duration::from_millis(100));
    }
    let review = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {"uid": "0f0e", "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "requestKind": {"group": "", "version": "v1", "kind": "Pod"},
            "requestResource": {"group": "", "version": "v1", "resource": "pods"},
            "name": "bad", "namespace": "dev", "operation": "CREATE",
            "userInfo": {"username": "alice", "groups": ["system:authenticated"]},
            "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bad", "labels": {"team": "a"}},
                       "spec": {"hostPID": true, "containers": [{"name": "c", "image": "nginx"}]}},
            "oldObject": null, "dryRun": false,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"}}});
    let resp = agent
        .post(format!("{base}/validate"))
        .header("Content-Type", "application/json")
        .send(review.to_string().as_bytes())
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let v: Value = serde_json::from_str(&resp.into_body().read_to_string().unwrap()).unwrap();
    assert_eq!(v["response"]["uid"], "0f0e");
    assert_eq!(v["response"]["allowed"], false);
    assert!(v["response"]["status"]["message"]
        .as_str()
        .unwrap()
        .contains("BW-PSS-host-namespaces"));
    // The denial is in the metrics, served over plain HTTP on their own address.
    let scrape = ureq::get(&format!("http://{metrics}/metrics"))
        .call()
        .unwrap()
        .into_body()
        .read_to_string()
        .unwrap();
    for line in [
        "# TYPE bulwark_admit_reviews_total counter",
        "bulwark_admit_reviews_total{phase=\"validate\",outcome=\"denied\"} 1",
        "bulwark_admit_reviews_total{phase=\"validate\",outcome=\"allowed\"} 0",
        "bulwark_admit_review_duration_seconds_count{phase=\"validate\"} 1",
        "bulwark_admit_policy_rules 3",
    ] {
        assert!(scrape.lines().any(|l| l == line), "{line} in:\n{scrape}");
    }
    drop(child);
    // One structured line per decision, at the default verbosity.
    let log = std::fs::read_to_string(d.join("server.log")).unwrap();
    let line = log
        .lines()
        .find(|l| l.contains("decision") && l.contains("uid=0f0e"))
        .unwrap_or_else(|| panic!("no decision line in:\n{log}"));
    for field in [
        "kind=\"Pod\"",
        "namespace=\"dev\"",
        "user=\"alice\"",
        "allowed=false",
        "BW-PSS-host-namespaces",
    ] {
        assert!(line.contains(field), "{field} in {line}");
    }

    let o = bulwark(d, &["admit", "manifests", "--namespace", "sec"]);
    assert_eq!(o.status.code(), Some(0));
    let m = String::from_utf8_lossy(&o.stdout);
    for k in [
        "ValidatingWebhookConfiguration",
        "MutatingWebhookConfiguration",
        "kind: Deployment",
        "kind: Service",
        "PodDisruptionBudget",
        "failurePolicy: Fail",
        "namespace: sec",
    ] {
        assert!(m.contains(k), "{k}");
    }
    assert!(!m.contains("metrics"), "no metrics unless asked for");
    // With metrics: the argument, the port and the annotations, and bulwark's own
    // config check still finds nothing HIGH.
    let o = bulwark(d, &["admit", "manifests", "--metrics-port", "9090"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let m = String::from_utf8_lossy(&o.stdout).to_string();
    for k in [
        "--metrics-listen=0.0.0.0:9090",
        "{name: metrics, containerPort: 9090}",
        "prometheus.io/scrape: \"true\"",
        "prometheus.io/port: \"9090\"",
    ] {
        assert!(m.contains(k), "{k} in:\n{m}");
    }
    let mdir = d.join("manifests");
    std::fs::create_dir(&mdir).unwrap();
    std::fs::write(mdir.join("admit.yaml"), &m).unwrap();
    let o = bulwark(d, &["config", "manifests", "--format", "json"]);
    assert!(o.status.success(), "{}", text(&o));
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    let findings = report
        .get("misconfigurations")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    assert!(
        report["target"].is_object(),
        "the config check ran: {report:#}"
    );
    let high: Vec<&Value> = findings
        .iter()
        .filter(|f| matches!(f["severity"].as_str(), Some("HIGH" | "CRITICAL")))
        .collect();
    assert!(high.is_empty(), "HIGH or above: {high:#?}");
    // It did check the Deployment: the digest pin is the user's to add.
    assert!(
        findings.iter().any(|f| f["check_id"] == "BW-K8S-0008"),
        "{findings:#?}"
    );
    // A bad policy refuses to start, with exit 2.
    std::fs::write(d.join("policy.yaml"), "apiVersion: x\n").unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_bulwark"))
        .args(["admit", "serve", "--policy", "policy.yaml", "--cert"])
        .arg(&cert)
        .arg("--key")
        .arg(&key)
        .args(["--listen", &listen])
        .current_dir(d)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("policy.yaml"),
        "{}",
        text(&o)
    );
}
