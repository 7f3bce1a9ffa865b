//! Shared by the webhook tests: a test CA and serving certificate (rcgen), the webhook
//! started in-process on 127.0.0.1 over real TLS, an HTTPS client trusting only the
//! test CA, and AdmissionReview v1 requests built exactly as the API server sends them.
//!
//! The request shape (kube-apiserver, admission/v1, `request` fields as serialized by
//! `k8s.io/api/admission/v1.AdmissionRequest`):
//!
//! ```json
//! {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
//!  "request": {
//!    "uid": "<uuid>",
//!    "kind": {"group": "apps", "version": "v1", "kind": "Deployment"},
//!    "resource": {"group": "apps", "version": "v1", "resource": "deployments"},
//!    "subResource": "ephemeralcontainers",            // only for subresources
//!    "requestKind": {...}, "requestResource": {...},  // as sent, before conversion
//!    "requestSubResource": "ephemeralcontainers",     // only for subresources
//!    "name": "web",                                   // omitted for generateName creates
//!    "namespace": "prod",
//!    "operation": "CREATE",                           // CREATE|UPDATE|DELETE|CONNECT
//!    "userInfo": {"username": "alice", "uid": "…", "groups": ["system:authenticated"]},
//!    "object": {…the object, defaults applied…},
//!    "oldObject": null,                               // the old object on UPDATE
//!    "dryRun": false,
//!    "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"}}}
//! ```
#![allow(dead_code)]

pub mod prom;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine as _;
use bulwark_image::registry::{
    CredentialConfig, Credentials, Reference, RegistryConfig, Repository, Secret,
};
use serde_json::{json, Value};

/// A CA and a serving certificate for 127.0.0.1 / localhost signed by it, written to
/// `dir` as `PREFIX-ca.pem`, `PREFIX-cert.pem`, `PREFIX-key.pem`.
pub struct Pki {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

pub fn make_pki(dir: &Path, prefix: &str) -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, KeyUsagePurpose};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca_params.distinguished_name.push(
        rcgen::DnType::CommonName,
        format!("bulwark admit test CA {prefix}"),
    );
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let params =
        CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    let cert = params.signed_by(&key, &ca).unwrap();
    let write = |name: &str, text: String| {
        let p = dir.join(format!("{prefix}-{name}"));
        std::fs::write(&p, text).unwrap();
        p
    };
    Pki {
        ca: write("ca.pem", ca.pem()),
        cert: write("cert.pem", cert.pem()),
        key: write("key.pem", key.serialize_pem()),
    }
}

/// The webhook running in-process on its own multi-threaded runtime.
pub struct Webhook {
    pub running: Option<bulwark_admit::Running>,
    pub rt: tokio::runtime::Runtime,
    pub url: String,
}

impl Webhook {
    pub fn start(cfg: bulwark_admit::Config) -> Webhook {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let running = rt.block_on(bulwark_admit::start(cfg)).unwrap();
        let url = format!("https://127.0.0.1:{}", running.addr.port());
        Webhook {
            running: Some(running),
            rt,
            url,
        }
    }

    pub fn deps(&self) -> &bulwark_policy::Live {
        &self.running.as_ref().unwrap().deps
    }
}

impl Drop for Webhook {
    fn drop(&mut self) {
        let r = self.running.take();
        let _g = self.rt.enter();
        drop(r);
    }
}

/// GETs the webhook's metrics over plain HTTP and parses them strictly.
pub fn scrape(hook: &Webhook) -> prom::Scrape {
    let addr = hook
        .running
        .as_ref()
        .unwrap()
        .metrics_addr
        .expect("metrics are served");
    let resp = ureq::get(&format!("http://{addr}/metrics")).call().unwrap();
    assert_eq!(resp.status(), 200);
    let ct = resp
        .headers()
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(ct.starts_with("text/plain; version=0.0.4"), "{ct}");
    prom::parse(&resp.into_body().read_to_string().unwrap())
}

/// Config on an ephemeral port, reloading fast.
pub fn config(policy: &Path, pki: &Pki) -> bulwark_admit::Config {
    let mut c = bulwark_admit::Config::new(policy.to_path_buf(), pki.cert.clone(), pki.key.clone());
    c.listen = "127.0.0.1:0".parse().unwrap();
    c.reload_interval = Duration::from_millis(100);
    c
}

/// An HTTPS client trusting only `ca`.
pub fn client(ca: &Path) -> ureq::Agent {
    let pem = std::fs::read(ca).unwrap();
    let cert = ureq::tls::Certificate::from_pem(&pem).unwrap();
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .tls_config(
            ureq::tls::TlsConfig::builder()
                .root_certs(ureq::tls::RootCerts::new_with_certs(&[cert]))
                .build(),
        )
        .build()
        .into()
}

static UID: AtomicU64 = AtomicU64::new(1);

/// The group/version/resource of a kind, as the API server names them.
pub fn gvr(kind: &str) -> (&'static str, &'static str, &'static str) {
    match kind {
        "Pod" => ("", "v1", "pods"),
        "ReplicationController" => ("", "v1", "replicationcontrollers"),
        "Deployment" => ("apps", "v1", "deployments"),
        "StatefulSet" => ("apps", "v1", "statefulsets"),
        "DaemonSet" => ("apps", "v1", "daemonsets"),
        "ReplicaSet" => ("apps", "v1", "replicasets"),
        "Job" => ("batch", "v1", "jobs"),
        "CronJob" => ("batch", "v1", "cronjobs"),
        "Service" => ("", "v1", "services"),
        _ => ("", "v1", "unknown"),
    }
}

/// Who sends a request.
#[derive(Clone)]
pub struct User {
    pub name: String,
    pub groups: Vec<String>,
}

pub fn alice() -> User {
    User {
        name: "alice".into(),
        groups: vec!["system:authenticated".into()],
    }
}

/// An AdmissionReview v1 as the API server sends it.
pub fn review(
    operation: &str,
    namespace: &str,
    object: &Value,
    sub_resource: Option<&str>,
    user: &User,
) -> Value {
    let kind = object["kind"].as_str().unwrap_or("Pod");
    let (group, version, resource) = gvr(kind);
    let uid = format!(
        "6a1e2f3c-0000-4000-8000-{:012x}",
        UID.fetch_add(1, Ordering::Relaxed)
    );
    let k = json!({"group": group, "version": version, "kind": kind});
    let r = json!({"group": group, "version": version, "resource": resource});
    let mut req = json!({
        "uid": uid,
        "kind": k,
        "resource": r,
        "requestKind": k,
        "requestResource": r,
        "namespace": namespace,
        "operation": operation,
        "userInfo": {"username": user.name, "uid": "u-1", "groups": user.groups},
        "object": object,
        "oldObject": null,
        "dryRun": false,
        "options": {"apiVersion": "meta.k8s.io/v1",
                    "kind": if operation == "UPDATE" { "UpdateOptions" } else { "CreateOptions" }},
    });
    if let Some(name) = object.pointer("/metadata/name").and_then(Value::as_str) {
        req["name"] = json!(name);
    }
    if let Some(s) = sub_resource {
        req["subResource"] = json!(s);
        req["requestSubResource"] = json!(s);
    }
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": req})
}

/// POSTs a review; returns (HTTP status, body as JSON or Null).
pub fn post(agent: &ureq::Agent, url: &str, body: &Value) -> (u16, Value) {
    let resp = agent
        .post(url)
        .header("Content-Type", "application/json")
        .send(body.to_string().as_bytes())
        .unwrap();
    let status = resp.status().as_u16();
    let text = resp.into_body().read_to_string().unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// POSTs a review and checks the response is a well-formed AdmissionReview v1 for it.
pub fn admit(agent: &ureq::Agent, url: &str, review: &Value) -> Value {
    let (status, body) = post(agent, url, review);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["apiVersion"], "admission.k8s.io/v1", "{body}");
    assert_eq!(body["kind"], "AdmissionReview", "{body}");
    assert_eq!(
        body["response"]["uid"], review["request"]["uid"],
        "uid echoed"
    );
    assert!(body["response"]["allowed"].is_boolean(), "{body}");
    body["response"].clone()
}

/// The decoded JSON patch of a response (checks patchType).
pub fn patch_of(resp: &Value) -> Option<Value> {
    let p = resp.get("patch")?.as_str()?;
    assert_eq!(resp["patchType"], "JSONPatch");
    let bytes = base64::engine::general_purpose::STANDARD.decode(p).unwrap();
    Some(serde_json::from_slice(&bytes).unwrap())
}

/// A Deployment with one container.
pub fn deployment(name: &str, image: &str, labels: Value) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "labels": labels.clone()},
        "spec": {"replicas": 1, "selector": {"matchLabels": labels.clone()},
            "template": {"metadata": {"labels": labels},
                "spec": {"containers": [{"name": "app", "image": image,
                    "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"memory": "64Mi"}}}]}}}
    })
}

/// A Pod with one container.
pub fn pod(name: &str, image: &str, labels: Value) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": labels},
        "spec": {"containers": [{"name": "app", "image": image,
            "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"memory": "64Mi"}}}]}
    })
}

/// Registry settings for the test registry `reg` (its CA and credentials).
pub fn registry_config(reg: &bulwark_testkit::Registry) -> RegistryConfig {
    RegistryConfig {
        insecure: reg.ca_file().is_none(),
        ca_file: reg.ca_file(),
        credentials: CredentialConfig {
            explicit: reg.credentials().map(|(u, p)| Credentials::Basic {
                username: u.to_string(),
                password: Secret::new(p),
            }),
            ..Default::default()
        },
        ..Default::default()
    }
}

/// Pushes a tiny one-layer OCI image (content made unique by `salt`) as `repo:tag`;
/// returns its manifest digest.
pub fn push_image(cfg: &RegistryConfig, host: &str, repo: &str, tag: &str, salt: &str) -> String {
    let r = Reference::parse(&format!("{host}/{repo}:{tag}")).unwrap();
    let repo = Repository::open(&r, cfg).unwrap();
    let layer = {
        let mut b = tar::Builder::new(Vec::new());
        let data = format!("hello {salt}\n");
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, "hello.txt", data.as_bytes()).unwrap();
        b.into_inner().unwrap()
    };
    let layer_d = repo
        .push_blob_bytes("application/vnd.oci.image.layer.v1.tar", &layer)
        .unwrap();
    let diff_id = layer_d.digest.clone();
    let config = json!({"architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [diff_id]}, "config": {}});
    let config_bytes = serde_json::to_vec(&config).unwrap();
    let config_d = repo
        .push_blob_bytes("application/vnd.oci.image.config.v1+json", &config_bytes)
        .unwrap();
    let manifest = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": config_d.media_type, "digest": config_d.digest, "size": config_d.size},
        "layers": [{"mediaType": layer_d.media_type, "digest": layer_d.digest, "size": layer_d.size}]});
    repo.push_manifest(Some(tag), &serde_json::to_vec(&manifest).unwrap())
        .unwrap()
        .digest
}
