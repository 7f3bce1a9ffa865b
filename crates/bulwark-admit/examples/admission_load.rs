//! Load generator of `bench/admission.sh`: sets up a real registry on loopback
//! (bulwark-testkit: docker-registry, TLS, htpasswd) with one signed image, writes a
//! policy (digest pinning, signature by key, PSS baseline enforced + restricted audit,
//! required label), starts `bulwark admit serve` (the binary named by `BULWARK_BIN`) as
//! its own process, warms the cache, then runs C concurrent clients (one HTTPS
//! keep-alive connection each, all driven by one async thread from bodies built before
//! the clock starts, so the generator takes as little of the shared cores as it can;
//! the clock starts once every client has connected, since the API server keeps its
//! connections open) sending the API server's sequence for a Deployment rollout —
//! Deployment, ReplicaSet and Pod, each through /mutate then /validate — for the given
//! number of rounds. Prints the cold (first) decision latency, the server's
//! peak RSS, and ends with one line:
//! `admission: C clients, p50 X ms, p99 Y ms, max Z ms, R req/s, errors E`.
//!
//! With `BENCH_SERVER=1` the webhook also runs with `--server`: a `bulwark server`
//! (SQLite store, TLS, same binary) is started on loopback with an admission token, and
//! the webhook sends it every decision, the placement of every admitted Pod and the
//! verification it ran; the server's own CPU use is printed too (it shares the cores).
//!
//! Usage: admission_load [CLIENTS=100] [ROUNDS=20]
#![allow(clippy::unwrap_used, clippy::expect_used)] // a bench harness may panic

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bulwark_image::registry::{
    CredentialConfig, Credentials, Reference, RegistryConfig, Repository, Secret,
};
use serde_json::{json, Value};

fn pki(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, KeyUsagePurpose};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])
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

fn push_image(cfg: &RegistryConfig, host: &str) -> String {
    let r = Reference::parse(&format!("{host}/shop/web:1.4")).unwrap();
    let repo = Repository::open(&r, cfg).unwrap();
    let mut b = tar::Builder::new(Vec::new());
    let data = b"bench\n";
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    b.append_data(&mut h, "bench.txt", &data[..]).unwrap();
    let layer = b.into_inner().unwrap();
    let l = repo
        .push_blob_bytes("application/vnd.oci.image.layer.v1.tar", &layer)
        .unwrap();
    let c = serde_json::to_vec(&json!({"architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [l.digest]}, "config": {}}))
    .unwrap();
    let c = repo
        .push_blob_bytes("application/vnd.oci.image.config.v1+json", &c)
        .unwrap();
    let m = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": c.media_type, "digest": c.digest, "size": c.size},
        "layers": [{"mediaType": l.media_type, "digest": l.digest, "size": l.size}]});
    repo.push_manifest(Some("1.4"), &serde_json::to_vec(&m).unwrap())
        .unwrap()
        .digest
}

fn review(uid: u64, ns: &str, object: &Value) -> Vec<u8> {
    let kind = object["kind"].as_str().unwrap();
    let (group, resource) = match kind {
        "Deployment" => ("apps", "deployments"),
        "ReplicaSet" => ("apps", "replicasets"),
        _ => ("", "pods"),
    };
    let k = json!({"group": group, "version": "v1", "kind": kind});
    let r = json!({"group": group, "version": "v1", "resource": resource});
    let uid = format!("00000000-0000-4000-8000-{uid:012x}");
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": uid, "kind": k, "resource": r, "requestKind": k, "requestResource": r,
        "namespace": ns, "operation": "CREATE",
        "userInfo": {"username": if kind == "Deployment" { "alice".to_string() } else {
            format!("system:serviceaccount:kube-system:{}-controller", if kind == "Pod" { "replicaset" } else { "deployment" }) },
            "groups": ["system:authenticated"]},
        "object": object, "oldObject": null, "dryRun": false,
        "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"}}})
    .to_string()
    .into_bytes()
}

fn objects(image: &str, i: usize) -> Vec<Value> {
    let labels = json!({"app": format!("web-{i}"), "team": "shop"});
    let spec = json!({"securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [{"name": "web", "image": image,
            "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}},
            "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"memory": "64Mi"}}}]});
    let tpl = json!({"metadata": {"labels": labels}, "spec": spec});
    vec![
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": format!("web-{i}"), "labels": labels},
               "spec": {"replicas": 1, "selector": {"matchLabels": labels}, "template": tpl}}),
        json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": format!("web-{i}-5d8f7"), "labels": labels},
               "spec": {"replicas": 1, "selector": {"matchLabels": labels}, "template": tpl}}),
        // As the ReplicaSet controller creates it: owned by the ReplicaSet, labelled with
        // the Deployment's pod-template-hash.
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"generateName": format!("web-{i}-5d8f7-"),
                   "labels": {"app": format!("web-{i}"), "team": "shop", "pod-template-hash": "5d8f7"},
                   "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                       "name": format!("web-{i}-5d8f7"), "uid": format!("rs-{i}"), "controller": true}]},
               "spec": spec}),
    ]
}

fn send(a: &ureq::Agent, url: &str, body: &[u8]) -> (Duration, bool, Value) {
    let t = Instant::now();
    let r = a
        .post(url)
        .header("Content-Type", "application/json")
        .send(body);
    let took = t.elapsed();
    match r {
        Ok(resp) if resp.status() == 200 => {
            let v: Value = resp
                .into_body()
                .read_to_string()
                .ok()
                .and_then(|s| serde_json::from_str(&s).ok())
                .unwrap_or(Value::Null);
            let ok = v["response"]["allowed"] == true;
            (took, ok, v)
        }
        _ => (took, false, Value::Null),
    }
}

/// When every client has connected: the time, and the server's and the generator's CPU
/// seconds then. The measurement starts there.
type Start = (Instant, f64, f64);

/// One client: a TLS connection, then — once every client is connected, as the API
/// server's connections are — its requests one after another (closed loop). Returns
/// each request's latency (send to whole response read) and the number of errors (a
/// transport error, a status other than 200, or a review not allowed).
async fn client(
    connector: tokio_rustls::TlsConnector,
    addr: std::net::SocketAddr,
    bodies: Vec<(bool, Vec<u8>)>,
    all_connected: std::sync::Arc<tokio::sync::Barrier>,
    start: std::sync::Arc<std::sync::OnceLock<Start>>,
    server_pid: u32,
) -> (Vec<Duration>, usize) {
    use http_body_util::BodyExt;
    let n = bodies.len();
    let sender = bulwark_testkit::https::connect(&connector, addr, "127.0.0.1").await;
    if all_connected.wait().await.is_leader() {
        let _ = start.set((
            Instant::now(),
            cpu_seconds(server_pid).unwrap_or(0.0),
            cpu_seconds(std::process::id()).unwrap_or(0.0),
        ));
    }
    let Some(mut sender) = sender else {
        return (Vec::new(), n);
    };
    let mut lat = Vec::with_capacity(n);
    let mut errors = 0usize;
    let host = addr.to_string();
    for (mutate, body) in bodies {
        let req = hyper::Request::post(if mutate { "/mutate" } else { "/validate" })
            .header(hyper::header::HOST, &host)
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .body(http_body_util::Full::new(hyper::body::Bytes::from(body)))
            .unwrap();
        let t = Instant::now();
        let ok = match sender.send_request(req).await {
            Ok(resp) if resp.status() == 200 => match resp.into_body().collect().await {
                Ok(b) => {
                    let b = b.to_bytes();
                    const ALLOWED: &[u8] = b"\"allowed\":true";
                    b.windows(ALLOWED.len()).any(|w| w == ALLOWED)
                }
                Err(_) => false,
            },
            _ => false,
        };
        lat.push(t.elapsed());
        errors += usize::from(!ok);
    }
    (lat, errors)
}

/// User + system CPU seconds of a process (clock ticks of 1/100 s, as Linux reports).
fn cpu_seconds(pid: u32) -> Option<f64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = s.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

fn peak_rss_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let clients: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(100);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(20);
    let bin = std::env::var("BULWARK_BIN").expect("BULWARK_BIN: the bulwark binary");

    let reg = bulwark_testkit::Registry::start(bulwark_testkit::RegistryOptions::tls_with_auth(
        "bench", "bench-pw",
    ))
    .expect("docker-registry (install Debian's docker-registry package)");
    let cfg = RegistryConfig {
        ca_file: reg.ca_file(),
        credentials: CredentialConfig {
            explicit: Some(Credentials::Basic {
                username: "bench".into(),
                password: Secret::new("bench-pw"),
            }),
            ..Default::default()
        },
        ..Default::default()
    };
    let host = reg.host();
    let digest = push_image(&cfg, &host);
    let key = bulwark_sign::PrivateKey::generate(bulwark_sign::Algorithm::EcdsaP256);
    let img = bulwark_cosign::location::Image::open(&format!("{host}/shop/web:1.4"), &cfg).unwrap();
    bulwark_cosign::store::sign(
        &img,
        &key,
        &BTreeMap::new(),
        None,
        bulwark_cosign::store::Format::Both,
    )
    .unwrap();

    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::fs::write(d.join("cosign.pub"), key.public_key().to_pem().unwrap()).unwrap();
    std::fs::write(
        d.join("policy.yaml"),
        "apiVersion: bulwark.dev/v1alpha1\nkind: AdmissionPolicy\nexemptions:\n  namespaces: [kube-system]\nrules:\n  - name: pin\n    pinDigests: {}\n  - name: signed\n    verifyImages:\n      - images: [\"127.0.0.1:*/*\"]\n        keys: [cosign.pub]\n  - name: team\n    requireLabels: [team]\n  - name: pss\n    podSecurity: {level: baseline}\n  - name: pss-restricted\n    mode: audit\n    podSecurity: {level: restricted, version: v1.30}\n",
    )
    .unwrap();
    let (ca, cert, tls_key) = pki(d);
    let port = bulwark_testkit::free_port();
    let listen = format!("127.0.0.1:{port}");
    let with_server = std::env::var("BENCH_SERVER").as_deref() == Ok("1");
    let mut inventory = None;
    let (mut auditor, mut server_url) = (String::new(), String::new());
    let mut server_args: Vec<std::ffi::OsString> = Vec::new();
    if with_server {
        let db = format!("sqlite:{}", d.join("inventory.db").display());
        let out = Command::new(&bin)
            .args([
                "server",
                "token",
                "create",
                "--database",
                &db,
                "--role",
                "admission",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "token create: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::write(d.join("admission.token"), &out.stdout).unwrap();
        let out = Command::new(&bin)
            .args([
                "server",
                "token",
                "create",
                "--database",
                &db,
                "--role",
                "auditor",
            ])
            .output()
            .unwrap();
        assert!(out.status.success());
        auditor = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let sport = bulwark_testkit::free_port();
        server_url = format!("https://127.0.0.1:{sport}");
        let child = Command::new(&bin)
            .args(["server", "--database", &db, "--cert"])
            .arg(&cert)
            .arg("--key")
            .arg(&tls_key)
            .args(["--listen", &format!("127.0.0.1:{sport}")])
            .env("BULWARK_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        inventory = Some(child);
        server_args = vec![
            "--server".into(),
            server_url.clone().into(),
            "--server-token-file".into(),
            d.join("admission.token").into(),
            "--server-ca-file".into(),
            ca.clone().into(),
            "--cluster".into(),
            "bench".into(),
        ];
    }
    let mut server = Command::new(&bin)
        .args(["admit", "serve", "--policy"])
        .arg(d.join("policy.yaml"))
        .arg("--cert")
        .arg(&cert)
        .arg("--key")
        .arg(&tls_key)
        .args(["--listen", &listen, "--ca-file"])
        .arg(reg.ca_file().unwrap())
        .args(&server_args)
        .env("BULWARK_USERNAME", "bench")
        .env("BULWARK_PASSWORD", "bench-pw")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pem = std::fs::read(&ca).unwrap();
    let agent = move || -> ureq::Agent {
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(15)))
            .tls_config(
                ureq::tls::TlsConfig::builder()
                    .root_certs(ureq::tls::RootCerts::new_with_certs(&[
                        ureq::tls::Certificate::from_pem(&pem).unwrap(),
                    ]))
                    .build(),
            )
            .build()
            .into()
    };
    let base = format!("https://{listen}");
    let a = agent();
    let start = Instant::now();
    while a.get(format!("{base}/healthz")).call().is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "server did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let image_tag = format!("{host}/shop/web:1.4");
    let pinned = format!("{host}/shop/web:1.4@{digest}");
    // Cold: the first Deployment (tag resolution + signature verification).
    let cold_objs = objects(&image_tag, 0);
    let (cold_m, ok1, _) = send(
        &a,
        &format!("{base}/mutate"),
        &review(1, "shop", &cold_objs[0]),
    );
    let (cold_v, ok2, v) = send(
        &a,
        &format!("{base}/validate"),
        &review(2, "shop", &objects(&pinned, 0)[0]),
    );
    assert!(ok1 && ok2, "warm-up denied: {v}");
    println!(
        "cold: mutate {:.2} ms, validate {:.2} ms",
        cold_m.as_secs_f64() * 1e3,
        cold_v.as_secs_f64() * 1e3
    );

    // Every request body is built before the clock starts: the generator shares the two
    // cores with the server, so it must spend as little as it can while measuring.
    let bodies: Vec<Vec<(bool, Vec<u8>)>> = (0..clients)
        .map(|c| {
            let mut v = Vec::with_capacity(rounds * 6);
            for r in 0..rounds {
                let i = c * rounds + r + 1;
                let tagged = objects(&image_tag, i);
                let pinned_objs = objects(&pinned, i);
                for (k, o) in tagged.iter().enumerate() {
                    let uid = (i * 10 + k) as u64 * 2;
                    v.push((true, review(uid, "shop", o)));
                    v.push((false, review(uid + 1, "shop", &pinned_objs[k])));
                }
            }
            v
        })
        .collect();
    let addr: std::net::SocketAddr = listen.parse().unwrap();
    let connector = bulwark_testkit::https::tls_connector(&std::fs::read(&ca).unwrap());
    // One thread drives every client (async, one keep-alive HTTP/1.1 connection each, as
    // the API server keeps them): at most one of the two cores goes to the generator.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let start = std::sync::Arc::new(std::sync::OnceLock::<Start>::new());
    let all_connected = std::sync::Arc::new(tokio::sync::Barrier::new(clients));
    let server_pid = server.id();
    let st = start.clone();
    let results = rt.block_on(async move {
        let tasks: Vec<_> = bodies
            .into_iter()
            .map(|b| {
                tokio::spawn(client(
                    connector.clone(),
                    addr,
                    b,
                    all_connected.clone(),
                    st.clone(),
                    server_pid,
                ))
            })
            .collect();
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap());
        }
        out
    });
    let (t0, cpu0, gen0) = *start.get().expect("every client reached the barrier");
    let mut all = Vec::new();
    let mut errors = 0;
    for (l, e) in results {
        all.extend(l);
        errors += e;
    }
    let wall = t0.elapsed();
    all.sort();
    let pct = |p: f64| {
        let i = ((all.len() as f64 * p).ceil() as usize).clamp(1, all.len()) - 1;
        all[i].as_secs_f64() * 1e3
    };
    if let Some(cpu) = cpu_seconds(server.id()) {
        println!(
            "server CPU: {:.3} ms per review ({:.1} s for {} reviews)",
            (cpu - cpu0) * 1e3 / all.len().max(1) as f64,
            cpu - cpu0,
            all.len()
        );
    }
    if let Some(cpu) = cpu_seconds(std::process::id()) {
        println!(
            "generator CPU: {:.3} ms per request ({:.1} s)",
            (cpu - gen0) * 1e3 / all.len().max(1) as f64,
            cpu - gen0
        );
    }
    if let Some(kib) = peak_rss_kib(server.id()) {
        println!("server peak RSS: {:.1} MiB", kib as f64 / 1024.0);
    }
    if let Some(inv) = &mut inventory {
        // Give the reporters a moment to drain, then say what the inventory server used.
        std::thread::sleep(Duration::from_secs(2));
        if let Some(cpu) = cpu_seconds(inv.id()) {
            println!("bulwark server (--server) CPU: {cpu:.1} s in total");
        }
        // What it was sent, by route and status (its /metrics).
        let metrics = agent()
            .get(format!("{server_url}/metrics"))
            .header("Authorization", &format!("Bearer {auditor}"))
            .call()
            .ok()
            .and_then(|r| r.into_body().read_to_string().ok())
            .unwrap_or_default();
        for l in metrics.lines().filter(|l| {
            l.starts_with("bulwark_http_requests_total")
                && (l.contains("placements")
                    || l.contains("signatures")
                    || l.contains("admission/decisions"))
        }) {
            println!("bulwark server: {l}");
        }
        let _ = inv.kill();
        let _ = inv.wait();
    }
    let _ = server.kill();
    let _ = server.wait();
    println!(
        "admission: {clients} clients, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms, {:.0} req/s, errors {errors}",
        pct(0.50),
        pct(0.99),
        all.last().map(|d| d.as_secs_f64() * 1e3).unwrap_or(0.0),
        all.len() as f64 / wall.as_secs_f64()
    );
}
