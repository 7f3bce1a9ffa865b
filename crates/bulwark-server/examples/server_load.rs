//! Load test on loopback: starts a real server (TLS, a fresh test CA, a store in a
//! temporary directory), seeds it with image reports, then runs C concurrent clients
//! reading image findings for S seconds, then U concurrent uploaders for S seconds.
//! Ends with one line:
//! `server load: C clients, p50 X ms, p99 Y ms, errors E, uploads U/s`.
//!
//! `cargo run --release -p bulwark-server --example server_load -- [CLIENTS] [SECONDS]`
//!
//! `BULWARK_LOAD_DATABASE=postgres://…` runs it on that (empty) database instead of a
//! SQLite file.

#![allow(clippy::unwrap_used, clippy::expect_used)]

/// The allocator the `bulwark` binary ships with, so the in-process server costs what
/// `bulwark server` costs.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use bulwark_server::serve::{Bound, ServerConfig, Transport};
use bulwark_server::{DatabaseUrl, Store};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn pki(dir: &std::path::Path) -> (Vec<u8>, std::path::PathBuf, std::path::PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, KeyUsagePurpose};
    let ca_key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign];
    let ca = rcgen::CertifiedIssuer::self_signed(p, ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    let (c, k) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&c, cert.pem()).unwrap();
    std::fs::write(&k, key.serialize_pem()).unwrap();
    (ca.pem().into_bytes(), c, k)
}

fn agent(ca: &[u8]) -> ureq::Agent {
    let certs: Vec<_> = ureq::tls::parse_pem(ca)
        .filter_map(|i| match i.unwrap() {
            ureq::tls::PemItem::Certificate(c) => Some(c),
            _ => None,
        })
        .collect();
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .tls_config(
            ureq::tls::TlsConfig::builder()
                .root_certs(ureq::tls::RootCerts::new_with_certs(&certs))
                .build(),
        )
        .build()
        .into()
}

/// One reader: a TLS connection, then GETs of `paths` in turn until `deadline`. Returns
/// each request's latency in ms (send to whole body read); errors are counted.
async fn reader(
    connector: tokio_rustls::TlsConnector,
    port: u16,
    auth: String,
    paths: Vec<String>,
    deadline: Instant,
    errors: Arc<AtomicUsize>,
) -> Vec<f64> {
    use http_body_util::BodyExt;
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let Some(mut sender) = bulwark_testkit::https::connect(&connector, addr, "localhost").await
    else {
        errors.fetch_add(1, Ordering::Relaxed);
        return Vec::new();
    };
    let mut lat = Vec::new();
    let host = format!("localhost:{port}");
    for path in paths.iter().cycle() {
        if Instant::now() >= deadline {
            break;
        }
        let req = hyper::Request::get(path.as_str())
            .header(hyper::header::HOST, &host)
            .header(hyper::header::AUTHORIZATION, &auth)
            .body(http_body_util::Empty::<hyper::body::Bytes>::new())
            .unwrap();
        let t = Instant::now();
        let ok = match sender.send_request(req).await {
            Ok(r) if r.status() == 200 => r.into_body().collect().await.is_ok(),
            _ => false,
        };
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
        if !ok {
            errors.fetch_add(1, Ordering::Relaxed);
        }
    }
    lat
}

fn report(digest: &str, i: usize) -> Vec<u8> {
    let pkgs: Vec<serde_json::Value> = (0..50)
        .map(|p| {
            serde_json::json!({"name": format!("lib{p}"), "version": format!("1.{}", (i + p) % 7),
                "ecosystem": "npm", "purl": format!("pkg:npm/lib{p}@1.{}", (i + p) % 7),
                "locations": [{"path": "/app/package-lock.json"}], "found_by": "npm-lock"})
        })
        .collect();
    let vulns: Vec<serde_json::Value> = (0..5)
        .map(|p| {
            serde_json::json!({"id": format!("CVE-2026-{p:04}"), "package": format!("lib{p}"),
                "purl": format!("pkg:npm/lib{p}@1.{}", (i + p) % 7),
                "installed_version": format!("1.{}", (i + p) % 7), "fixed_versions": ["9.9"],
                "status": "fixed", "severity": "HIGH"})
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({
        "schema_version": 2, "tool": "load", "created_at": "2026-12-02T00:00:00Z",
        "target": {"name": "load", "kind": "image", "image": {"id": digest, "layers": []}},
        "packages": pkgs, "vulnerabilities": vulns
    }))
    .unwrap()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let clients: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(100);
    let seconds: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(10);
    let uploaders = 8;
    let seed = 200;

    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = pki(dir.path());
    let url: DatabaseUrl = match std::env::var("BULWARK_LOAD_DATABASE") {
        Ok(u) => u.parse().unwrap(),
        Err(_) => DatabaseUrl::Sqlite(dir.path().join("load.db")),
    };
    let store = Store::open(&url).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let bound = rt
        .block_on(Bound::bind(ServerConfig {
            max_upload: 64 << 20,
            grace: Duration::from_secs(5),
            ..ServerConfig::new("127.0.0.1:0".parse().unwrap(), Transport::Tls { cert, key })
        }))
        .unwrap();
    let bound_port = bound.local_addr().unwrap().port();
    let base = format!("https://localhost:{bound_port}");
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let s2 = store.clone();
    let server = rt.spawn(async move {
        bound
            .run(s2, async {
                let _ = stop_rx.await;
            })
            .await
    });
    let mk = |role: &str| {
        let new = bulwark_server::api::make_token("load", role, vec![], None, "load").unwrap();
        let row = new.row.clone();
        store
            .write_blocking(move |c| bulwark_server::api::insert_token(c, &row, ("load", "admin")))
            .unwrap();
        new.token
    };
    let up_token = mk("ci-uploader");
    let read_token = mk("security");
    let a = agent(&ca);
    let digests: Vec<String> = (0..seed).map(|i| format!("sha256:{i:064x}")).collect();
    for (i, d) in digests.iter().enumerate() {
        let r = a
            .post(&format!("{base}/v1/reports"))
            .header("Authorization", &format!("Bearer {up_token}"))
            .header("Content-Type", "application/json")
            .send(&report(d, i)[..])
            .unwrap();
        assert_eq!(r.status(), 201);
    }

    // Readers: every client is a task on one generator thread (one keep-alive HTTPS
    // connection each), so the generator takes at most one of the shared cores and the
    // server's share is what is measured, not the cost of 100 client threads.
    let errors = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let port = bound_port;
    let mut lat: Vec<f64> = {
        let gen = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let connector = bulwark_testkit::https::tls_connector(&ca);
        let digests = Arc::new(digests.clone());
        gen.block_on(async {
            let tasks: Vec<_> = (0..clients)
                .map(|c| {
                    let paths: Vec<String> = (0..digests.len())
                        .map(|k| {
                            format!(
                                "/v1/images/{}/findings",
                                digests[(c + 7 * k) % digests.len()]
                            )
                        })
                        .collect();
                    tokio::spawn(reader(
                        connector.clone(),
                        port,
                        format!("Bearer {read_token}"),
                        paths,
                        deadline,
                        errors.clone(),
                    ))
                })
                .collect();
            let mut all = Vec::new();
            for t in tasks {
                all.extend(t.await.unwrap());
            }
            all
        })
    };
    lat.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];
    let (p50, p99) = (pct(0.50), pct(0.99));
    let reads = lat.len();

    // Uploaders.
    let up_deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let uploads: usize = std::thread::scope(|s| {
        let hs: Vec<_> = (0..uploaders)
            .map(|u| {
                let (a, base, tok, errors) = (agent(&ca), &base, &up_token, errors.clone());
                s.spawn(move || {
                    let mut n = 0;
                    while Instant::now() < up_deadline {
                        let d = format!("sha256:{:064x}", 1_000_000 + u * 100_000 + n);
                        let ok = a
                            .post(&format!("{base}/v1/reports"))
                            .header("Authorization", &format!("Bearer {tok}"))
                            .header("Content-Type", "application/json")
                            .send(&report(&d, n)[..])
                            .map(|r| r.status() == 201)
                            .unwrap_or(false);
                        if ok {
                            n += 1;
                        } else {
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    n
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum()
    });
    let ups = uploads as f64 / started.elapsed().as_secs_f64();
    let _ = stop_tx.send(());
    let _ = rt.block_on(server);
    eprintln!("{reads} reads in {seconds} s ({:.0}/s); {uploads} uploads by {uploaders} uploaders (50 packages, 5 findings each)", reads as f64 / seconds as f64);
    println!(
        "server load: {clients} clients, p50 {p50:.1} ms, p99 {p99:.1} ms, errors {}, uploads {ups:.0}/s",
        errors.load(Ordering::Relaxed)
    );
}
