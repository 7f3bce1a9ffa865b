//! `bulwark server` as a process: `server token create` offline, HTTPS with a test CA,
//! `bulwark scan --server` uploading an engine report of a real test image, `kill -9`
//! right after acknowledged uploads losing nothing, SIGTERM stopping cleanly, and
//! `bulwark audit verify|export`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn bulwark() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_bulwark"));
    c.env_remove("BULWARK_DATABASE").env("NO_COLOR", "1");
    c
}

fn write_pki(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, KeyUsagePurpose};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let params =
        CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    let cert = params.signed_by(&key, &ca).unwrap();
    let paths = (
        dir.join("ca.pem"),
        dir.join("cert.pem"),
        dir.join("key.pem"),
    );
    std::fs::write(&paths.0, ca.pem()).unwrap();
    std::fs::write(&paths.1, cert.pem()).unwrap();
    std::fs::write(&paths.2, key.serialize_pem()).unwrap();
    paths
}

fn agent(ca: &Path) -> ureq::Agent {
    let pem = std::fs::read(ca).unwrap();
    let certs: Vec<_> = ureq::tls::parse_pem(&pem)
        .filter_map(|i| match i.unwrap() {
            ureq::tls::PemItem::Certificate(c) => Some(c),
            _ => None,
        })
        .collect();
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .tls_config(
            ureq::tls::TlsConfig::builder()
                .root_certs(ureq::tls::RootCerts::new_with_certs(&certs))
                .build(),
        )
        .build()
        .into()
}

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start(db: &str, pki: &(PathBuf, PathBuf, PathBuf), port: u16, log: &Path) -> Server {
    let child = bulwark()
        .args(["server", "--database", db, "--log-format", "json"])
        .arg("--cert")
        .arg(&pki.1)
        .arg("--key")
        .arg(&pki.2)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap();
    let s = Server {
        child,
        base: format!("https://localhost:{port}"),
    };
    let a = agent(&pki.0);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = a.get(&format!("{}/readyz", s.base)).call() {
            if r.status() == 200 {
                return s;
            }
        }
        assert!(
            Instant::now() < deadline,
            "server did not get ready: {}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn token(db: &str, role: &str) -> String {
    let out = bulwark()
        .args([
            "server",
            "token",
            "create",
            "--database",
            db,
            "--role",
            role,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let t = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(t.starts_with("bwk_"), "{t}");
    t
}

fn report_json(digest: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "schema_version": 2, "tool": "bulwark test", "created_at": "2026-12-02T00:00:00Z",
        "target": {"name": "t", "kind": "image", "image": {"id": digest, "layers": []}},
        "packages": [{"name": "p", "version": "1", "ecosystem": "npm", "purl": "pkg:npm/p@1",
                      "locations": [], "found_by": "npm-lock"}]
    }))
    .unwrap()
}

#[test]
fn kill_9_after_acknowledged_uploads_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let pki = write_pki(dir.path());
    let db = format!("sqlite:{}", dir.path().join("inv.db").display());
    let admin = token(&db, "admin");
    let port = free_port();
    let mut server = start(&db, &pki, port, &dir.path().join("log1"));
    // 8 concurrent uploaders, 5 uploads each; every 201 is an acknowledgement.
    let acked: Vec<String> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..8)
            .map(|t| {
                let (base, admin, ca) = (&server.base, &admin, &pki.0);
                s.spawn(move || {
                    let a = agent(ca);
                    let mut ok = Vec::new();
                    for i in 0..5 {
                        let d = format!("sha256:{:064x}", t * 100 + i);
                        let r = a
                            .post(&format!("{base}/v1/reports"))
                            .header("Authorization", &format!("Bearer {admin}"))
                            .header("Content-Type", "application/json")
                            .send(&report_json(&d)[..])
                            .unwrap();
                        assert_eq!(r.status(), 201);
                        ok.push(d);
                    }
                    ok
                })
            })
            .collect();
        hs.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(acked.len(), 40);
    // kill -9 the moment the last acknowledgement arrived.
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    drop(server);

    let server = start(&db, &pki, free_port(), &dir.path().join("log2"));
    let a = agent(&pki.0);
    for d in &acked {
        let r = a
            .get(&format!("{}/v1/images/{d}", server.base))
            .header("Authorization", &format!("Bearer {admin}"))
            .call()
            .unwrap();
        assert_eq!(r.status(), 200, "{d} lost after kill -9");
    }
    drop(server);
    let out = bulwark()
        .args(["audit", "verify", "--database", &db])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn scan_uploads_to_the_server_and_sigterm_stops_it() {
    let Some(images) = bulwark_fixtures::images() else {
        bulwark_fixtures::absent("test images", &bulwark_fixtures::images_message());
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let pki = write_pki(dir.path());
    let db = format!("sqlite:{}", dir.path().join("inv.db").display());
    let uploader = token(&db, "ci-uploader");
    let reader = token(&db, "security");
    let log = dir.path().join("log");
    let mut server = start(&db, &pki, free_port(), &log);
    let osv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/osv");
    let cache = tempfile::tempdir().unwrap();
    let out_file = dir.path().join("report.json");
    let out = bulwark()
        .arg("scan")
        .arg(images.join("app.docker.tar"))
        .args(["--format", "json", "-o"])
        .arg(&out_file)
        .arg("--osv-dir")
        .arg(&osv)
        .arg("--cache-dir")
        .arg(cache.path())
        .args(["--server", &server.base, "--server-token-env", "MY_TOKEN"])
        .arg("--server-ca-file")
        .arg(&pki.0)
        .env("MY_TOKEN", &uploader)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.code() == Some(0), "{err}");
    assert!(err.contains("uploaded to"), "{err}");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&out_file).unwrap()).unwrap();
    let image = &report["target"]["image"];
    let digest = image["manifest_digest"]
        .as_str()
        .or(image["id"].as_str())
        .unwrap()
        .to_string();
    let a = agent(&pki.0);
    let get = |path: &str| -> serde_json::Value {
        let mut r = a
            .get(&format!("{}{path}", server.base))
            .header("Authorization", &format!("Bearer {reader}"))
            .call()
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
        serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap()
    };
    let pk = get(&format!("/v1/images/{digest}/packages"));
    let listed = pk["items"].as_array().unwrap().len();
    let in_report: usize = report["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["locations"].as_array().map_or(1, |l| l.len().max(1)))
        .sum();
    assert_eq!(listed, in_report);
    let f = get(&format!("/v1/images/{digest}/findings"));
    let vulns = report["vulnerabilities"].as_array().map_or(0, |v| v.len());
    assert!(f["items"].as_array().unwrap().len() <= vulns);
    assert_eq!(f["items"].as_array().unwrap().is_empty(), vulns == 0);
    let img = get(&format!("/v1/images/{digest}"));
    let layers = image["layers"].as_array().unwrap().len();
    assert!(img["layers"].as_array().unwrap().len() >= layers);

    // A missing token fails before scanning, with exit 2.
    let out = bulwark()
        .arg("scan")
        .arg(images.join("app.docker.tar"))
        .args([
            "--server",
            &server.base,
            "--server-token-env",
            "NO_SUCH_VAR_X",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("NO_SUCH_VAR_X"));

    // SIGTERM: the server stops by itself, exit 0, and logs JSON lines.
    let pid = server.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = server.child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "server ignored SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success());
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(lines.iter().any(|l| l["message"] == "SIGTERM received"));
    assert!(
        !text.contains(&uploader[21..]),
        "a token secret reached the log"
    );

    // The audit log exports as JSON lines and verifies.
    let out = bulwark()
        .args(["audit", "export", "--database", &db])
        .output()
        .unwrap();
    assert!(out.status.success());
    let entries: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(entries.iter().any(|e| e["action"] == "report.store"));
    assert!(entries.iter().any(|e| e["action"] == "token.create"));
    let out = bulwark()
        .args(["audit", "verify", "--database", &db])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    // Tamper with one entry: verify says so, exit 1.
    let c = rusqlite_free_edit(&db);
    assert!(c);
    let out = bulwark()
        .args(["audit", "verify", "--database", &db])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// Edits audit entry 2 behind the log's back, through the store's own connection (the
/// CLI crate has no rusqlite dependency of its own).
fn rusqlite_free_edit(db: &str) -> bool {
    let url: bulwark_server::DatabaseUrl = db.parse().unwrap();
    let store = bulwark_server::Store::open(&url).unwrap();
    store
        .write_blocking(|c| {
            c.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = 2", [])?;
            Ok(())
        })
        .unwrap();
    true
}

#[test]
fn insecure_http_is_refused_off_loopback_and_bad_flags_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("x.db").display());
    let out = bulwark()
        .args([
            "server",
            "--database",
            &db,
            "--insecure-http",
            "--listen",
            "0.0.0.0:0",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("loopback"));
    let out = bulwark()
        .args(["server", "--database", "postgres://x/y", "--insecure-http"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = bulwark()
        .args([
            "server",
            "token",
            "create",
            "--database",
            &db,
            "--role",
            "developer",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("team"));
}
