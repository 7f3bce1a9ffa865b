//! Test harness: a real server on 127.0.0.1 (ephemeral port, TLS from a fresh test CA),
//! in this process on its own runtime, and a real HTTPS client (ureq) that trusts the CA.

#![allow(dead_code)]

pub mod pg;

use bulwark_server::serve::{Bound, ServerConfig, Transport};
use bulwark_server::{DatabaseUrl, Store};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The database a test runs on: a SQLite file (the default) or, with
/// `BULWARK_TEST_BACKEND=postgres`, a database in this process's throwaway PostgreSQL
/// cluster (see `common/pg.rs`), named after the test's directory so that a restarted
/// server finds the same store.
#[derive(Debug, Clone)]
pub enum TestDb {
    Sqlite(PathBuf),
    Postgres(String),
}

impl TestDb {
    /// The database for a test directory (`file` names the SQLite file in it).
    pub fn for_dir(dir: &Path, file: &str) -> TestDb {
        if pg::requested() {
            let cluster = pg::PgCluster::shared().unwrap_or_else(|| {
                panic!("BULWARK_TEST_BACKEND=postgres but PostgreSQL is not installed")
            });
            TestDb::Postgres(cluster.database(&pg::db_name_for(&dir.join(file))))
        } else {
            TestDb::Sqlite(dir.join(file))
        }
    }

    pub fn url(&self) -> DatabaseUrl {
        match self {
            TestDb::Sqlite(p) => DatabaseUrl::Sqlite(p.clone()),
            TestDb::Postgres(u) => u.parse().unwrap(),
        }
    }

    /// The `--database` argument.
    pub fn arg(&self) -> String {
        match self {
            TestDb::Sqlite(p) => format!("sqlite:{}", p.display()),
            TestDb::Postgres(u) => u.clone(),
        }
    }

    fn pg(url: &str) -> postgres::Client {
        postgres::Client::connect(url, postgres::NoTls).unwrap()
    }

    /// Runs statements straight on the database, behind the store's back (tampering).
    pub fn batch(&self, sql: &str) {
        match self {
            TestDb::Sqlite(p) => rusqlite::Connection::open(p)
                .unwrap()
                .execute_batch(sql)
                .unwrap(),
            TestDb::Postgres(u) => Self::pg(u).batch_execute(sql).unwrap(),
        }
    }

    /// The first column of the first row, an integer.
    pub fn query_i64(&self, sql: &str) -> i64 {
        match self {
            TestDb::Sqlite(p) => rusqlite::Connection::open(p)
                .unwrap()
                .query_row(sql, [], |r| r.get(0))
                .unwrap(),
            TestDb::Postgres(u) => Self::pg(u).query_one(sql, &[]).unwrap().get(0),
        }
    }

    /// The first column of every row, as text.
    pub fn query_strings(&self, sql: &str) -> Vec<String> {
        match self {
            TestDb::Sqlite(p) => {
                let c = rusqlite::Connection::open(p).unwrap();
                let mut st = c.prepare(sql).unwrap();
                st.query_map([], |r| r.get(0))
                    .unwrap()
                    .collect::<Result<_, _>>()
                    .unwrap()
            }
            TestDb::Postgres(u) => Self::pg(u)
                .query(sql, &[])
                .unwrap()
                .iter()
                .map(|r| r.get(0))
                .collect(),
        }
    }

    /// The query plan of `sql` as text (on PostgreSQL with sequential scans disabled,
    /// so that a usable index shows even on a small table).
    pub fn plan(&self, sql: &str) -> String {
        match self {
            TestDb::Sqlite(p) => rusqlite::Connection::open(p)
                .unwrap()
                .query_row(&format!("EXPLAIN QUERY PLAN {sql}"), [], |r| {
                    r.get::<_, String>(3)
                })
                .unwrap(),
            TestDb::Postgres(u) => {
                let mut c = Self::pg(u);
                c.batch_execute("SET enable_seqscan = off").unwrap();
                c.query(&format!("EXPLAIN {sql}"), &[])
                    .unwrap()
                    .iter()
                    .map(|r| r.get::<_, String>(0))
                    .collect::<Vec<_>>()
                    .join("\n")
            }
        }
    }
}

/// Writes `ca.pem`, `cert.pem`, `key.pem` (server cert for 127.0.0.1 and localhost).
#[allow(unused_imports)] // each test binary uses its own subset
pub use bulwark_testkit::write_pki;

/// An HTTPS client trusting `ca`.
pub fn client(ca: &Path) -> ureq::Agent {
    bulwark_testkit::https_agent(ca)
}

/// Optional server settings.
#[derive(Default)]
pub struct Extras {
    pub oidc: Option<bulwark_server::oidc::OidcConfig>,
    pub mtls: Option<bulwark_server::serve::MtlsConfig>,
}

pub struct TestServer {
    pub dir: std::sync::Arc<tempfile::TempDir>,
    pub base: String,
    pub ca: PathBuf,
    pub db: TestDb,
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
        Self::start_cfg(None, |c| c.max_upload = max_upload)
    }

    /// A server with the OIDC and mTLS settings `extras` makes in the test's directory.
    pub fn start_configured(max_upload: usize, extras: impl FnOnce(&Path) -> Extras) -> TestServer {
        let dir = std::sync::Arc::new(tempfile::tempdir().unwrap());
        write_pki(dir.path());
        let Extras { oidc, mtls } = extras(dir.path());
        Self::start_cfg(Some(dir), move |c| {
            c.max_upload = max_upload;
            c.oidc = oidc;
            c.mtls = mtls;
        })
    }
    /// A server in `dir` (a fresh one when `None`; pass an old server's `dir` to restart
    /// on its store and DB), its configuration adjusted by `adjust`.
    pub fn start_cfg(
        dir: Option<std::sync::Arc<tempfile::TempDir>>,
        adjust: impl FnOnce(&mut ServerConfig),
    ) -> TestServer {
        let max_upload = bulwark_server::api::DEFAULT_MAX_UPLOAD;
        let fresh = dir.is_none();
        let dir = dir.unwrap_or_else(|| std::sync::Arc::new(tempfile::tempdir().unwrap()));
        let (ca, cert, key) = if fresh {
            write_pki(dir.path())
        } else {
            (
                dir.path().join("ca.pem"),
                dir.path().join("cert.pem"),
                dir.path().join("key.pem"),
            )
        };
        let db = TestDb::for_dir(dir.path(), "server.db");
        let store = Store::open(&db.url()).unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let mut config = ServerConfig {
            max_upload,
            grace: Duration::from_secs(10),
            vulndb: Some(dir.path().join("vulndb")),
            vulndb_poll: Duration::from_millis(100),
            ..ServerConfig::new("127.0.0.1:0".parse().unwrap(), Transport::Tls { cert, key })
        };
        config.delivery.base_backoff = Duration::from_millis(50);
        config.delivery.poll = Duration::from_millis(50);
        adjust(&mut config);
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

    /// Sends only the request head, announcing a `Content-Length` of `length` bytes with
    /// `Expect: 100-continue`, and reads the answer. A server that refuses on the
    /// announced size answers at once; one that waited for the body would time out here
    /// (10 s), and the test fails.
    pub fn call_head_only(
        &self,
        method: &str,
        path: &str,
        token: &str,
        content_type: &str,
        length: usize,
    ) -> Resp {
        use std::io::{Read, Write};
        use std::sync::Arc;
        let pem = std::fs::read(&self.ca).unwrap();
        let mut roots = rustls::RootCertStore::empty();
        for item in ureq::tls::parse_pem(&pem) {
            if let ureq::tls::PemItem::Certificate(c) = item.unwrap() {
                roots
                    .add(rustls_pki_types::CertificateDer::from(c.der().to_vec()))
                    .unwrap();
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let cfg = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let port = self.base.rsplit(':').next().unwrap();
        let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
        let conn = rustls::ClientConnection::new(Arc::new(cfg), name).unwrap();
        let sock = std::net::TcpStream::connect(format!("127.0.0.1:{port}")).unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut tls = rustls::StreamOwned::new(conn, sock);
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: localhost:{port}\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: {content_type}\r\nContent-Length: {length}\r\nExpect: 100-continue\r\n\
             Connection: close\r\n\r\n"
        );
        tls.write_all(head.as_bytes()).unwrap();
        tls.flush().unwrap();
        let mut raw = Vec::new();
        match tls.read_to_end(&mut raw) {
            Ok(_) => {}
            // The server may close without a TLS close_notify once it has answered.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {}
            Err(e) => panic!(
                "{method} {path}: reading the answer: {e} (after {} bytes)",
                raw.len()
            ),
        }
        let text = String::from_utf8_lossy(&raw);
        let status: u16 = text
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("{method} {path}: no status line in {text:?}"));
        let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
        let json = serde_json::from_str(body).unwrap_or(serde_json::Value::String(body.into()));
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

    /// Count of rows in `table`, read straight from the database.
    pub fn count(&self, table: &str) -> i64 {
        self.db.query_i64(&format!("SELECT COUNT(*) FROM {table}"))
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
