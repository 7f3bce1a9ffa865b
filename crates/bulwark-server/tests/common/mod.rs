//! Test harness: a real server on 127.0.0.1 (ephemeral port, TLS from a fresh test CA),
//! in this process on its own runtime, and a real HTTPS client (ureq) that trusts the CA.

#![allow(dead_code)]

use bulwark_server::serve::{Bound, ServerConfig, Transport};
use bulwark_server::{DatabaseUrl, Store};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Writes `ca.pem`, `cert.pem`, `key.pem` (server cert for 127.0.0.1 and localhost).
pub fn write_pki(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, KeyUsagePurpose};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "bulwark server test CA");
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let params =
        CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    let cert = params.signed_by(&key, &ca).unwrap();
    let ca_path = dir.join("ca.pem");
    std::fs::write(&ca_path, ca.pem()).unwrap();
    let cert_path = dir.join("cert.pem");
    std::fs::write(&cert_path, cert.pem()).unwrap();
    let key_path = dir.join("key.pem");
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    (ca_path, cert_path, key_path)
}

/// An HTTPS client trusting `ca`.
pub fn client(ca: &Path) -> ureq::Agent {
    let pem = std::fs::read(ca).unwrap();
    let certs: Vec<_> = ureq::tls::parse_pem(&pem)
        .filter_map(|i| match i.unwrap() {
            ureq::tls::PemItem::Certificate(c) => Some(c),
            _ => None,
        })
        .collect();
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .tls_config(
            ureq::tls::TlsConfig::builder()
                .root_certs(ureq::tls::RootCerts::new_with_certs(&certs))
                .build(),
        )
        .build()
        .into()
}

pub struct TestServer {
    pub dir: tempfile::TempDir,
    pub base: String,
    pub ca: PathBuf,
    pub db: PathBuf,
    pub agent: ureq::Agent,
    pub store: Store,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    rt: Option<tokio::runtime::Runtime>,
    done: Option<tokio::sync::oneshot::Receiver<()>>,
}

pub struct Resp {
    pub status: u16,
    pub json: serde_json::Value,
}

impl TestServer {
    pub fn start() -> TestServer {
        Self::start_with(bulwark_server::api::DEFAULT_MAX_UPLOAD)
    }

    pub fn start_with(max_upload: usize) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let (ca, cert, key) = write_pki(dir.path());
        let db = dir.path().join("server.db");
        let store = Store::open(&DatabaseUrl::Sqlite(db.clone())).unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let config = ServerConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            transport: Transport::Tls { cert, key },
            max_upload,
            grace: Duration::from_secs(10),
        };
        let bound = rt.block_on(Bound::bind(config)).unwrap();
        let addr = bound.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
        let s = store.clone();
        rt.spawn(async move {
            bound
                .run(s, async {
                    let _ = rx.await;
                })
                .await;
            let _ = done_tx.send(());
        });
        TestServer {
            agent: client(&ca),
            base: format!("https://localhost:{}", addr.port()),
            dir,
            ca,
            db,
            store,
            shutdown: Some(tx),
            rt: Some(rt),
            done: Some(done_rx),
        }
    }

    /// A token with this role and teams, stored directly (as `server token create` does).
    pub fn token(&self, role: &str, teams: &[&str]) -> String {
        self.token_expiring(role, teams, None)
    }

    pub fn token_expiring(&self, role: &str, teams: &[&str], expires: Option<&str>) -> String {
        let new = bulwark_server::api::make_token(
            "test",
            role,
            teams.iter().map(|s| s.to_string()).collect(),
            expires,
            "test",
        )
        .unwrap();
        let row = new.row.clone();
        self.store
            .write_blocking(move |c| bulwark_server::api::insert_token(c, &row, ("test", "admin")))
            .unwrap();
        new.token
    }

    pub fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<(&str, Vec<u8>)>,
    ) -> Resp {
        let url = format!("{}{}", self.base, path);
        let mut b = ureq::http::Request::builder().method(method).uri(&url);
        if let Some(t) = token {
            b = b.header("Authorization", format!("Bearer {t}"));
        }
        let resp = match body {
            Some((ct, bytes)) => {
                let req = b.header("Content-Type", ct).body(bytes).unwrap();
                self.agent.run(req)
            }
            None => self.agent.run(b.body(()).unwrap()),
        };
        let mut resp = resp.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = resp.status().as_u16();
        let text = resp
            .body_mut()
            .with_config()
            .limit(256 << 20)
            .read_to_string()
            .unwrap();
        let json = if text.is_empty() {
            serde_json::Value::Null
        } else {
            // Everything is JSON except /metrics (Prometheus text).
            serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text))
        };
        Resp { status, json }
    }

    pub fn get(&self, path: &str, token: &str) -> Resp {
        self.call("GET", path, Some(token), None)
    }

    pub fn post_json(&self, path: &str, token: &str, body: &[u8]) -> Resp {
        self.call(
            "POST",
            path,
            Some(token),
            Some(("application/json", body.to_vec())),
        )
    }

    /// Count of rows in `table`, read straight from the database file.
    pub fn count(&self, table: &str) -> i64 {
        let conn = rusqlite::Connection::open(&self.db).unwrap();
        conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
            .unwrap()
    }

    pub fn shutdown_sender(&mut self) -> tokio::sync::oneshot::Sender<()> {
        self.shutdown.take().unwrap()
    }

    pub fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let (Some(rt), Some(done)) = (self.rt.as_ref(), self.done.take()) {
            let _ =
                rt.block_on(async { tokio::time::timeout(Duration::from_secs(20), done).await });
        }
        if let Some(rt) = self.rt.take() {
            rt.shutdown_timeout(Duration::from_secs(5));
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop();
    }
}

pub fn digest(n: u32) -> String {
    format!("sha256:{n:064x}")
}

pub fn fixtures() -> Option<PathBuf> {
    bulwark_fixtures::fixtures()
}
