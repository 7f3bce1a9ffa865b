//! Test infrastructure shared by bulwark's crates (dev-dependency only, never shipped).
//!
//! - [`Registry`]: a REAL registry — Debian's `docker-registry` (CNCF distribution 2.x),
//!   installed by `scripts/setup-test-env.sh` — started on `127.0.0.1` and a free port,
//!   optionally behind htpasswd basic auth (bcrypt) and/or TLS with a certificate from a
//!   CA generated in the test (rcgen), or behind bearer-token auth with a token service
//!   on another loopback port that signs real ES256 JWTs the registry verifies
//!   ([`RegistryOptions::token`]). It waits until the registry answers and kills it on
//!   drop. Tests talk to it with bulwark's own client, so what they exercise is the wire
//!   protocol a production registry speaks, not a mock.
//! - [`Registry::start`] returns `None` (after printing one line saying why) when the
//!   `docker-registry` binary is absent, so a developer without it sees the test skip
//!   rather than fail; under `CI=true` or `BULWARK_REQUIRE_ALL=1` it panics instead
//!   (`bulwark_fixtures::absent`), so the full suite can never turn green by skipping.
//! - [`hanging_listener`] and [`ScriptedServer`]: loopback servers for failure tests (a
//!   registry that never answers; canned statuses such as 429 and 503).
//! - [`https`]: TLS + HTTP/1.1 client connections for the async load generators.
//!
//! Everything binds 127.0.0.1 only. The loopback servers and the JWT signing are written
//! by hand on purpose: failure tests need byte-level control (a server that never
//! answers, raw status lines), and a token is one ES256 signature with `ring` (already in
//! the tree through rustls), where a JWT crate would add its own crypto backend.

pub mod https;

use base64::Engine as _;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Where Debian's package puts the registry binary.
pub const REGISTRY_BIN: &str = "/usr/bin/docker-registry";

/// How to start a [`Registry`].
#[derive(Debug, Clone, Default)]
pub struct RegistryOptions {
    /// Require HTTP basic auth (htpasswd, bcrypt) for this user and password.
    pub auth: Option<(String, String)>,
    /// Require bearer tokens instead (the Docker token flow): a token service runs on
    /// another loopback port, checks [`RegistryOptions::auth`]'s user and password (any
    /// caller when `auth` is `None`) and grants exactly the scopes asked for, as ES256
    /// JWTs the registry verifies against a certificate made for the test.
    pub token_auth: bool,
    /// Serve HTTPS with a certificate (for `127.0.0.1` and `localhost`) issued by a CA
    /// generated for this registry; the CA is at [`Registry::ca_file`].
    pub tls: bool,
}

impl RegistryOptions {
    /// Plain HTTP, anonymous.
    pub fn plain() -> RegistryOptions {
        RegistryOptions::default()
    }
    /// HTTPS from a test CA plus basic auth for `user`/`password`.
    pub fn tls_with_auth(user: &str, password: &str) -> RegistryOptions {
        RegistryOptions {
            auth: Some((user.to_string(), password.to_string())),
            tls: true,
            token_auth: false,
        }
    }
    /// Plain HTTP, bearer tokens from a token service that wants `user`/`password`.
    pub fn token(user: &str, password: &str) -> RegistryOptions {
        RegistryOptions {
            auth: Some((user.to_string(), password.to_string())),
            tls: false,
            token_auth: true,
        }
    }
}

/// A running `docker-registry`, killed when dropped.
pub struct Registry {
    dir: tempfile::TempDir,
    port: u16,
    child: Child,
    opts: RegistryOptions,
    token_service: Option<TokenService>,
}

impl Registry {
    /// Starts a registry, or returns `None` when the binary is not installed (see the
    /// crate docs). Panics when the binary is there but the registry does not come up
    /// within 20 s (its log is in the message).
    pub fn start(opts: RegistryOptions) -> Option<Registry> {
        if !Path::new(REGISTRY_BIN).exists() {
            bulwark_fixtures::absent(
                REGISTRY_BIN,
                "install Debian's `docker-registry` package (scripts/setup-test-env.sh) to run the registry tests",
            );
            return None;
        }
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let port = free_port();
        let storage = dir.path().join("storage");
        let mut extra = String::new();
        let mut token_service = None;
        if opts.token_auth {
            let svc = TokenService::start(dir.path(), opts.auth.clone());
            extra.push_str(&format!(
                "auth:\n  token:\n    realm: {}\n    service: {TOKEN_SERVICE}\n    issuer: {TOKEN_ISSUER}\n    rootcertbundle: {}\n",
                svc.realm(),
                svc.cert_path.display()
            ));
            token_service = Some(svc);
        } else if let Some((user, pass)) = &opts.auth {
            let hash = bcrypt::hash(pass, 4).unwrap_or_else(|e| panic!("bcrypt: {e}"));
            let htpasswd = dir.path().join("htpasswd");
            std::fs::write(&htpasswd, format!("{user}:{hash}\n"))
                .unwrap_or_else(|e| panic!("htpasswd: {e}"));
            extra.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: bulwark-test\n    path: {}\n",
                htpasswd.display()
            ));
        }
        let mut tls = String::new();
        if opts.tls {
            let (cert, key) = write_test_pki(dir.path());
            tls = format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                cert.display(),
                key.display()
            );
        }
        let config = format!(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n\
             storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
             http:\n  addr: 127.0.0.1:{port}\n{tls}{extra}",
            storage.display()
        );
        let cfg_path = dir.path().join("config.yml");
        std::fs::write(&cfg_path, config).unwrap_or_else(|e| panic!("config: {e}"));
        let log = std::fs::File::create(dir.path().join("registry.log"))
            .unwrap_or_else(|e| panic!("log: {e}"));
        let log2 = log.try_clone().unwrap_or_else(|e| panic!("log: {e}"));
        let child = Command::new(REGISTRY_BIN)
            .arg("serve")
            .arg(&cfg_path)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {REGISTRY_BIN}: {e}"));
        let reg = Registry {
            dir,
            port,
            child,
            opts,
            token_service,
        };
        reg.wait_ready();
        Some(reg)
    }

    fn wait_ready(&self) {
        let agent = self.agent();
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut last = String::new();
        while Instant::now() < deadline {
            match agent.get(&format!("{}/v2/", self.url())).call() {
                Ok(r) if matches!(r.status().as_u16(), 200 | 401) => return,
                Ok(r) => last = format!("HTTP {}", r.status()),
                Err(e) => last = e.to_string(),
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let log = std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default();
        panic!(
            "docker-registry did not come up on port {} ({last}): {log}",
            self.port
        );
    }

    /// An HTTP client that trusts this registry's CA (for tests that poke the raw API).
    pub fn agent(&self) -> ureq::Agent {
        let mut cfg = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)));
        if let Some(ca) = self.ca_file() {
            let pem = std::fs::read(ca).unwrap_or_else(|e| panic!("{e}"));
            let cert = ureq::tls::Certificate::from_pem(&pem).unwrap_or_else(|e| panic!("{e}"));
            cfg = cfg.tls_config(
                ureq::tls::TlsConfig::builder()
                    .root_certs(ureq::tls::RootCerts::new_with_certs(&[cert]))
                    .build(),
            );
        }
        cfg.build().into()
    }

    /// `http://127.0.0.1:PORT` or `https://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        let scheme = if self.opts.tls { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// `127.0.0.1:PORT`, the registry part of an image reference.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The PEM file of the test CA, when started with TLS.
    pub fn ca_file(&self) -> Option<PathBuf> {
        self.opts.tls.then(|| self.dir.path().join("ca.pem"))
    }

    /// The user and password, when started with auth.
    pub fn credentials(&self) -> Option<(&str, &str)> {
        self.opts
            .auth
            .as_ref()
            .map(|(u, p)| (u.as_str(), p.as_str()))
    }

    /// The registry's storage root (`docker/registry/v2/...` below it), for tests that
    /// tamper with stored blobs.
    pub fn storage_dir(&self) -> PathBuf {
        self.dir.path().join("storage")
    }

    /// The stored file of a blob (`sha256:<hex>`), for tamper tests.
    pub fn blob_data_path(&self, digest: &str) -> PathBuf {
        let hex = digest.trim_start_matches("sha256:");
        self.storage_dir()
            .join("docker/registry/v2/blobs/sha256")
            .join(hex.get(..2).unwrap_or(""))
            .join(hex)
            .join("data")
    }

    /// Writes a Docker CLI config directory (for `DOCKER_CONFIG`) whose `auths` entry for
    /// this registry holds `user:password` base64-encoded, as `docker login` writes it.
    /// Returns the directory (the file is `config.json` inside it).
    pub fn write_docker_config(&self, dir: &Path, user: &str, password: &str) -> PathBuf {
        std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{e}"));
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        let doc = format!(r#"{{"auths":{{"{}":{{"auth":"{auth}"}}}}}}"#, self.host());
        std::fs::write(dir.join("config.json"), doc).unwrap_or_else(|e| panic!("{e}"));
        dir.to_path_buf()
    }

    /// The scopes the token service was asked for, one string per token request (scope
    /// parameters joined by spaces), when started with [`RegistryOptions::token_auth`].
    pub fn token_requests(&self) -> Vec<String> {
        self.token_service
            .as_ref()
            .map(|t| t.requests.lock().map(|v| v.clone()).unwrap_or_default())
            .unwrap_or_default()
    }

    /// The registry's log so far (errors only), for assertion messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes `ca.pem`, `cert.pem` and `key.pem` into `dir`: a fresh CA and a server
/// certificate it issued for `127.0.0.1` and `localhost`. Returns the three paths.
pub fn write_pki(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let (cert, key) = write_test_pki(dir);
    (dir.join("ca.pem"), cert, key)
}

/// An HTTPS client trusting only the certificates in the PEM file `ca`, statuses
/// returned as answers (not errors), a 60 s overall timeout.
pub fn https_agent(ca: &Path) -> ureq::Agent {
    let pem = std::fs::read(ca).unwrap_or_else(|e| panic!("{}: {e}", ca.display()));
    let certs: Vec<_> = ureq::tls::parse_pem(&pem)
        .filter_map(
            |i| match i.unwrap_or_else(|e| panic!("{}: {e}", ca.display())) {
                ureq::tls::PemItem::Certificate(c) => Some(c),
                _ => None,
            },
        )
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

/// [`write_pki`] without the CA's path (the registry's own use).
fn write_test_pki(dir: &Path) -> (PathBuf, PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, KeyUsagePurpose};
    let ca_key = KeyPair::generate().unwrap_or_else(|e| panic!("CA key: {e}"));
    let mut ca_params =
        CertificateParams::new(Vec::<String>::new()).unwrap_or_else(|e| panic!("CA params: {e}"));
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "bulwark test CA");
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key)
        .unwrap_or_else(|e| panic!("CA cert: {e}"));
    let key = KeyPair::generate().unwrap_or_else(|e| panic!("server key: {e}"));
    let params = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
        .unwrap_or_else(|e| panic!("server params: {e}"));
    let cert = params
        .signed_by(&key, &ca)
        .unwrap_or_else(|e| panic!("server cert: {e}"));
    let write = |name: &str, text: String| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap_or_else(|e| panic!("{name}: {e}"));
        p
    };
    write("ca.pem", ca.pem());
    (
        write("cert.pem", cert.pem()),
        write("key.pem", key.serialize_pem()),
    )
}

/// A free TCP port on 127.0.0.1 (bound, then released; good enough for tests).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port: {e}"))
}

/// A loopback listener that accepts connections and never answers: a hung registry.
/// Connections are held open until the listener is dropped. Returns the listener's
/// `127.0.0.1:PORT`.
pub struct HangingListener {
    addr: String,
    _held: Arc<Mutex<Vec<TcpStream>>>,
}

impl HangingListener {
    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> &str {
        &self.addr
    }
}

/// Starts a [`HangingListener`].
pub fn hanging_listener() -> HangingListener {
    let l = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
    let addr = l
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_else(|e| panic!("{e}"));
    let held = Arc::new(Mutex::new(Vec::new()));
    let h = held.clone();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            if let Ok(mut v) = h.lock() {
                v.push(s);
            }
        }
    });
    HangingListener { addr, _held: held }
}

/// One canned HTTP response.
#[derive(Debug, Clone)]
pub struct Canned {
    /// Status line after `HTTP/1.1 ` (`"429 Too Many Requests"`).
    pub status: String,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

impl Canned {
    /// A response with a status line and an empty body.
    pub fn status(status: &str) -> Canned {
        Canned {
            status: status.to_string(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }
    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Canned {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }
    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Canned {
        self.body = body.into();
        self
    }
}

/// A loopback HTTP server answering requests with canned responses in order (the last
/// one repeats), recording each request line and whether it carried an `Authorization`
/// header. For retry, error-mapping and credential-scoping tests.
pub struct ScriptedServer {
    addr: String,
    requests: Arc<Mutex<Vec<(String, bool)>>>,
    count: Arc<AtomicUsize>,
}

impl ScriptedServer {
    /// Starts serving `script` on a free loopback port.
    pub fn start(script: Vec<Canned>) -> ScriptedServer {
        let l = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
        let addr = l
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_else(|e| panic!("{e}"));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let count = Arc::new(AtomicUsize::new(0));
        let (r, c) = (requests.clone(), count.clone());
        std::thread::spawn(move || {
            for stream in l.incoming().flatten() {
                let i = c.fetch_add(1, Ordering::SeqCst);
                let Some(reply) = script.get(i).or(script.last()).cloned() else {
                    continue;
                };
                serve_one(stream, &reply, &r);
            }
        });
        ScriptedServer {
            addr,
            requests,
            count,
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> &str {
        &self.addr
    }

    /// How many requests were answered.
    pub fn request_count(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }

    /// The request lines seen (`GET /v2/x/manifests/1 HTTP/1.1`).
    pub fn requests(&self) -> Vec<String> {
        self.seen().into_iter().map(|(line, _)| line).collect()
    }

    /// For each request seen, whether it carried an `Authorization` header.
    pub fn authorized(&self) -> Vec<bool> {
        self.seen().into_iter().map(|(_, auth)| auth).collect()
    }

    fn seen(&self) -> Vec<(String, bool)> {
        self.requests.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

fn serve_one(stream: TcpStream, reply: &Canned, seen: &Mutex<Vec<(String, bool)>>) {
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let mut first = String::new();
    let mut content_length = 0usize;
    let mut authorized = false;
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        if first.is_empty() {
            first = line.trim_end().to_string();
        } else if line == "\r\n" {
            break;
        } else if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                content_length = v.trim().parse().unwrap_or(0);
            }
            authorized |= k.eq_ignore_ascii_case("authorization");
        }
    }
    let mut body = vec![0u8; content_length.min(1 << 20)];
    let _ = std::io::Read::read_exact(&mut reader, &mut body);
    if let Ok(mut v) = seen.lock() {
        v.push((first, authorized));
    }
    let mut out = format!(
        "HTTP/1.1 {}\r\nConnection: close\r\nContent-Length: {}\r\n",
        reply.status,
        reply.body.len()
    );
    for (k, v) in &reply.headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    let mut stream = stream;
    let _ = stream.write_all(out.as_bytes());
    let _ = stream.write_all(&reply.body);
    let _ = stream.flush();
}

/// The `service` the token-auth registry names in its challenge.
pub const TOKEN_SERVICE: &str = "bulwark-test";
const TOKEN_ISSUER: &str = "bulwark-testkit";

/// A Docker token service on loopback: checks basic credentials and grants the scopes
/// asked for, as ES256 JWTs carrying the signing certificate (`x5c`).
struct TokenService {
    addr: String,
    cert_path: PathBuf,
    requests: Arc<Mutex<Vec<String>>>,
}

impl TokenService {
    fn start(dir: &Path, auth: Option<(String, String)>) -> TokenService {
        let key = rcgen::KeyPair::generate().unwrap_or_else(|e| panic!("token key: {e}"));
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new())
            .unwrap_or_else(|e| panic!("token params: {e}"));
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "bulwark test token signer");
        let cert = params
            .self_signed(&key)
            .unwrap_or_else(|e| panic!("token cert: {e}"));
        let cert_path = dir.join("token-signer.pem");
        std::fs::write(&cert_path, cert.pem()).unwrap_or_else(|e| panic!("{e}"));
        let x5c = base64::engine::general_purpose::STANDARD.encode(cert.der());
        let rng = ring::rand::SystemRandom::new();
        let signer = ring::signature::EcdsaKeyPair::from_pkcs8(
            &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &key.serialize_der(),
            &rng,
        )
        .unwrap_or_else(|e| panic!("token signer: {e}"));
        let l = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
        let addr = l
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_else(|e| panic!("{e}"));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        std::thread::spawn(move || {
            for stream in l.incoming().flatten() {
                token_reply(stream, &auth, &signer, &rng, &x5c, &seen);
            }
        });
        TokenService {
            addr,
            cert_path,
            requests,
        }
    }

    fn realm(&self) -> String {
        format!("http://{}/token", self.addr)
    }
}

fn b64url(data: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data)
}

fn token_reply(
    stream: TcpStream,
    auth: &Option<(String, String)>,
    signer: &ring::signature::EcdsaKeyPair,
    rng: &ring::rand::SystemRandom,
    x5c: &str,
    seen: &Mutex<Vec<String>>,
) {
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let mut first = String::new();
    let mut authorization = String::new();
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        if first.is_empty() {
            first = line.trim_end().to_string();
        } else if line == "\r\n" {
            break;
        } else if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("authorization") {
                authorization = v.trim().to_string();
            }
        }
    }
    let target = first.split(' ').nth(1).unwrap_or("/").to_string();
    let query = target.split_once('?').map(|(_, q)| q).unwrap_or("");
    let scopes: Vec<String> = form_urlencoded::parse(query.as_bytes())
        .filter(|(k, _)| k == "scope")
        .map(|(_, v)| v.into_owned())
        .collect();
    if let Ok(mut v) = seen.lock() {
        v.push(scopes.join(" "));
    }
    let allowed = match auth {
        None => true,
        Some((u, p)) => {
            let want = format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
            );
            authorization == want
        }
    };
    let mut stream = stream;
    if !allowed {
        let body = r#"{"details":"incorrect username or password"}"#;
        let _ = write!(
            stream,
            "HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        return;
    }
    let access: Vec<String> = scopes
        .iter()
        .flat_map(|s| s.split(' '))
        .filter_map(|s| {
            let mut parts = s.splitn(3, ':');
            let (kind, name, actions) = (parts.next()?, parts.next()?, parts.next()?);
            let actions: Vec<String> = actions.split(',').map(|a| format!("\"{a}\"")).collect();
            Some(format!(
                r#"{{"type":"{kind}","name":"{name}","actions":[{}]}}"#,
                actions.join(",")
            ))
        })
        .collect();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let header = format!(r#"{{"typ":"JWT","alg":"ES256","x5c":["{x5c}"]}}"#);
    let claims = format!(
        r#"{{"iss":"{TOKEN_ISSUER}","sub":"test","aud":"{TOKEN_SERVICE}","exp":{},"nbf":{},"iat":{now},"jti":"{now}-{}","access":[{}]}}"#,
        now + 300,
        now.saturating_sub(10),
        seen.lock().map(|v| v.len()).unwrap_or(0),
        access.join(",")
    );
    let input = format!(
        "{}.{}",
        b64url(header.as_bytes()),
        b64url(claims.as_bytes())
    );
    let Ok(sig) = signer.sign(rng, input.as_bytes()) else {
        return;
    };
    let token = format!("{input}.{}", b64url(sig.as_ref()));
    let body = format!(r#"{{"token":"{token}","expires_in":300}}"#);
    let _ = write!(
        stream,
        "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
}
