//! A blocking registry API client: transport (TLS with a custom CA, plain HTTP for
//! `--insecure`), the Docker auth dance, bounded timeouts, retries, and typed errors.
//!
//! Written on `ureq` rather than taken from an OCI client crate because the maintained
//! ones (`oci-client`) are async and pull in tokio + reqwest, and bulwark's image reader
//! is synchronous and streams blobs straight to disk; the wire protocol needed is small.
//!
//! - **Auth.** Requests go out anonymously, or with what an earlier challenge taught us
//!   (basic auth, or a cached bearer token for the same scope). A `401` with a
//!   `WWW-Authenticate` challenge switches to basic auth or fetches a bearer token from
//!   the challenge's realm for the scope the operation needs (`repository:R:pull`,
//!   `repository:R:pull,push`, plus `repository:SRC:pull` for a cross-repository mount),
//!   and the request is retried once. A second 401 is an [`ErrorKind::Unauthorized`].
//!   `Authorization` values never reach a log line or an error.
//! - **Retries.** 429 and 5xx answers are retried up to [`RetryPolicy::max_retries`] times
//!   with exponential backoff (`initial_backoff`, doubling, capped at `max_backoff`);
//!   a `Retry-After` (seconds or an HTTP date) is honoured up to `max_retry_after`. Timeouts and
//!   connection failures are not retried: a registry that hangs should fail fast.
//! - **Timeouts.** Connect, time to the response head, and per read of a body; all
//!   bounded ([`Timeouts`]).

use super::auth::{parse_challenge, Challenge, CredentialConfig, Credentials, Secret};
use super::error::{ErrorKind, RegistryError};
use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;
use ureq::http::Response;
use ureq::Body;

/// Largest token-server or error response body we read.
const MAX_SMALL_BODY: u64 = 1 << 20;
/// Largest CA file we read.
const MAX_CA_FILE: u64 = 4 << 20;

/// Time limits for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Establishing the TCP (and TLS) connection.
    pub connect: Duration,
    /// From sending the request to receiving the response head.
    pub response: Duration,
    /// Each read of a response body, and each write of a request body.
    pub io: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(10),
            response: Duration::from_secs(60),
            io: Duration::from_secs(60),
        }
    }
}

/// When and how often to retry 429 and 5xx answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (0 = never retry).
    pub max_retries: u32,
    /// Wait before the first retry; doubles each time.
    pub initial_backoff: Duration,
    /// Longest computed wait.
    pub max_backoff: Duration,
    /// Longest wait a `Retry-After` header may ask for; longer asks are cut to this.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 4,
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(4),
            max_retry_after: Duration::from_secs(10),
        }
    }
}

/// How to reach registries: transport, credentials, time limits.
#[derive(Debug, Clone, Default)]
pub struct RegistryConfig {
    /// Plain HTTP instead of HTTPS (for loopback test registries).
    pub insecure: bool,
    /// PEM file of CA certificates to trust instead of the built-in (Mozilla) roots.
    pub ca_file: Option<PathBuf>,
    /// Where credentials come from.
    pub credentials: CredentialConfig,
    /// Time limits.
    pub timeouts: Timeouts,
    /// Retries of 429 and 5xx.
    pub retry: RetryPolicy,
}

/// What an operation needs from a bearer token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Read.
    Pull,
    /// Read and write.
    Push,
    /// Delete (distribution asks for the `delete` action).
    Delete,
}

/// One registry operation, for scopes and error messages.
#[derive(Debug, Clone)]
pub struct Op<'a> {
    /// The repository.
    pub repo: &'a str,
    /// `push manifest 1.0 to` (reads before `registry/repo`).
    pub what: String,
    /// Access needed on `repo`.
    pub access: Access,
    /// Another repository that must be readable (the source of a mount).
    pub also_pull: Option<&'a str>,
}

/// A request body that can be sent again on a retry.
#[derive(Debug, Clone, Copy)]
pub enum Payload<'a> {
    /// No body.
    Empty,
    /// Bytes in memory.
    Bytes(&'a [u8]),
    /// `len` bytes of a file from `offset` (a blob file or a member of a tar).
    File {
        /// The file.
        path: &'a Path,
        /// Where the content starts.
        offset: u64,
        /// How many bytes.
        len: u64,
    },
}

/// How requests are authorised.
#[derive(Debug, Default)]
struct AuthCache {
    /// The registry asked for basic auth once; send it up front from now on.
    basic: bool,
    /// Bearer tokens by scope string.
    tokens: HashMap<String, Secret>,
}

/// A client for one registry host.
pub struct Client {
    agent: ureq::Agent,
    registry: String,
    host: String,
    scheme: &'static str,
    creds: Credentials,
    creds_source: String,
    insecure: bool,
    retry: RetryPolicy,
    timeouts: Timeouts,
    auth: Mutex<AuthCache>,
}

impl Client {
    /// Makes a client for `registry` (as in a reference; `api_host` is where its API is
    /// served). Fails when the CA file cannot be read.
    pub fn new(
        registry: &str,
        api_host: &str,
        config: &RegistryConfig,
    ) -> Result<Client, RegistryError> {
        let err = |kind| RegistryError {
            registry: registry.to_string(),
            repository: String::new(),
            operation: "connect to".into(),
            kind,
        };
        let mut builder = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .https_only(!config.insecure)
            .redirect_auth_headers(ureq::config::RedirectAuthHeaders::SameHost)
            .timeout_connect(Some(config.timeouts.connect))
            .timeout_recv_response(Some(config.timeouts.response))
            .timeout_per_read(Some(config.timeouts.io))
            .timeout_per_write(Some(config.timeouts.io))
            .user_agent(concat!("bulwark/", env!("CARGO_PKG_VERSION")));
        if let Some(ca) = &config.ca_file {
            let certs = load_ca_file(ca).map_err(|m| err(ErrorKind::Config(m)))?;
            builder = builder.tls_config(
                ureq::tls::TlsConfig::builder()
                    .root_certs(ureq::tls::RootCerts::new_with_certs(&certs))
                    .build(),
            );
        }
        let found = super::auth::lookup(registry, &config.credentials);
        let mut cache = AuthCache::default();
        if let Credentials::Bearer(t) = &found.credentials {
            cache.tokens.insert(String::new(), t.clone());
        }
        Ok(Client {
            agent: builder.build().into(),
            registry: registry.to_string(),
            host: api_host.to_string(),
            scheme: if config.insecure { "http" } else { "https" },
            creds: found.credentials,
            creds_source: found.source,
            insecure: config.insecure,
            retry: config.retry,
            timeouts: config.timeouts,
            auth: Mutex::new(cache),
        })
    }

    /// The registry name as written in references.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// `scheme://host`.
    pub fn origin(&self) -> String {
        format!("{}://{}", self.scheme, self.host)
    }

    /// The URL of `kind` (`manifests`, `blobs`, `tags/list`) `name` in `repo`.
    pub fn url(&self, repo: &str, kind: &str, name: &str) -> String {
        if name.is_empty() {
            format!("{}/v2/{repo}/{kind}", self.origin())
        } else {
            format!("{}/v2/{repo}/{kind}/{name}", self.origin())
        }
    }

    /// Makes an error for `op`.
    pub fn error(&self, op: &Op<'_>, kind: ErrorKind) -> RegistryError {
        RegistryError {
            registry: self.registry.clone(),
            repository: op.repo.to_string(),
            operation: op.what.clone(),
            kind,
        }
    }

    /// Sends a request, authenticating on a 401 challenge and retrying 429/5xx. Returns
    /// any other answer for the caller to judge (see [`Client::check`]).
    pub fn send(
        &self,
        op: &Op<'_>,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Payload<'_>,
    ) -> Result<Response<Body>, RegistryError> {
        let scope = self.scope(op);
        let mut fresh_auth = false;
        let mut attempts: u32 = 0;
        loop {
            attempts += 1;
            let resp = self.send_once(op, method, url, headers, body, &scope)?;
            let status = resp.status().as_u16();
            if status == 401 {
                let header = header(&resp, "www-authenticate");
                let detail = error_detail(resp);
                if fresh_auth {
                    return Err(self.error(op, ErrorKind::Unauthorized(self.rejected(&detail))));
                }
                let Some(header) = header else {
                    return Err(self.error(
                        op,
                        ErrorKind::Unauthorized(format!(
                            "no WWW-Authenticate challenge in the answer{detail}"
                        )),
                    ));
                };
                let challenge =
                    parse_challenge(&header).map_err(|m| self.error(op, ErrorKind::Protocol(m)))?;
                self.authenticate(op, &challenge, &scope)?;
                fresh_auth = true;
                attempts -= 1;
                continue;
            }
            if status == 429 || (500..600).contains(&status) {
                if attempts <= self.retry.max_retries {
                    let wait = self.backoff(attempts, header(&resp, "retry-after").as_deref());
                    tracing::debug!("{method} {url}: HTTP {status}, retry {attempts} in {wait:?}");
                    drop(resp);
                    std::thread::sleep(wait);
                    continue;
                }
                let detail = error_detail(resp);
                let kind = if status == 429 {
                    ErrorKind::RateLimited { attempts, detail }
                } else {
                    ErrorKind::Server {
                        status,
                        attempts,
                        detail,
                    }
                };
                return Err(self.error(op, kind));
            }
            return Ok(resp);
        }
    }

    fn send_once(
        &self,
        op: &Op<'_>,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Payload<'_>,
        scope: &str,
    ) -> Result<Response<Body>, RegistryError> {
        let mut req = ureq::http::Request::builder().method(method).uri(url);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        // Credentials go only to this registry: an upload `Location` or a tag-page `Link`
        // may name another host (a storage back end), which must not see the password or
        // token.
        if url.starts_with(&format!("{}/", self.origin())) {
            if let Some(auth) = self.authorization(scope) {
                req = req.header("Authorization", auth);
            }
        }
        let transport = |e: ureq::Error| self.transport_error(op, method, url, e);
        match body {
            Payload::Empty => {
                let needs_length = matches!(method, "POST" | "PUT" | "PATCH");
                if needs_length {
                    req = req.header("Content-Length", "0");
                }
                let req = req.body(()).map_err(|e| {
                    self.error(op, ErrorKind::Protocol(format!("bad request: {e}")))
                })?;
                self.agent.run(req).map_err(transport)
            }
            Payload::Bytes(b) => {
                let req = req.body(b).map_err(|e| {
                    self.error(op, ErrorKind::Protocol(format!("bad request: {e}")))
                })?;
                self.agent.run(req).map_err(transport)
            }
            Payload::File { path, offset, len } => {
                use std::io::Seek;
                let io = |source| {
                    self.error(
                        op,
                        ErrorKind::Io {
                            path: path.display().to_string(),
                            source,
                        },
                    )
                };
                let mut f = std::fs::File::open(path).map_err(io)?;
                f.seek(std::io::SeekFrom::Start(offset)).map_err(io)?;
                let mut reader = f.take(len);
                let req = req
                    .header("Content-Length", len.to_string())
                    .body(ureq::SendBody::from_reader(&mut reader))
                    .map_err(|e| {
                        self.error(op, ErrorKind::Protocol(format!("bad request: {e}")))
                    })?;
                self.agent.run(req).map_err(transport)
            }
        }
    }

    fn transport_error(
        &self,
        op: &Op<'_>,
        method: &str,
        url: &str,
        e: ureq::Error,
    ) -> RegistryError {
        let kind = match &e {
            ureq::Error::Timeout(t) => {
                let limit = match t {
                    ureq::Timeout::Connect | ureq::Timeout::Resolve => self.timeouts.connect,
                    ureq::Timeout::RecvResponse | ureq::Timeout::SendRequest => {
                        self.timeouts.response
                    }
                    _ => self.timeouts.io,
                };
                ErrorKind::Timeout(format!("{method} {url}: {t}"), limit)
            }
            ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => {
                ErrorKind::Timeout(format!("{method} {url}"), self.timeouts.io)
            }
            _ => {
                let text = e.to_string();
                let hint = if text.contains("certificate") {
                    " (a registry whose certificate comes from a private CA needs that CA: --ca-file on the CLI)"
                } else if text.contains("https only") || text.contains("HttpsOnly") {
                    " (plain HTTP needs --insecure)"
                } else {
                    ""
                };
                ErrorKind::Transport(format!("{method} {url}: {text}{hint}"))
            }
        };
        self.error(op, kind)
    }

    /// Maps a finished response: statuses in `ok` pass; 403, 404 and anything else
    /// become typed errors. `missing` describes what a 404 means here.
    pub fn check(
        &self,
        op: &Op<'_>,
        resp: Response<Body>,
        ok: &[u16],
        missing: &str,
    ) -> Result<Response<Body>, RegistryError> {
        let status = resp.status().as_u16();
        if ok.contains(&status) {
            return Ok(resp);
        }
        let detail = error_detail(resp);
        let kind = match status {
            403 => ErrorKind::Forbidden(format!("{} not allowed to do this{detail}", self.who())),
            404 => ErrorKind::NotFound(format!("{missing}{detail}")),
            _ => ErrorKind::Status { status, detail },
        };
        Err(self.error(op, kind))
    }

    fn who(&self) -> String {
        match &self.creds {
            Credentials::Anonymous => "anonymous access is".into(),
            Credentials::Basic { username, .. } => format!("user {username:?} is"),
            Credentials::IdentityToken(_) => "the docker identity token is".into(),
            Credentials::Bearer(_) => "the given bearer token is".into(),
        }
    }

    fn rejected(&self, detail: &str) -> String {
        let from = if self.creds_source.is_empty() {
            String::new()
        } else {
            format!(" (from {})", self.creds_source)
        };
        match &self.creds {
            Credentials::Anonymous => format!(
                "no credentials for {} were found (docker login, a DOCKER_CONFIG directory, or BULWARK_USERNAME/BULWARK_PASSWORD){detail}",
                self.registry
            ),
            Credentials::Basic { username, .. } => {
                format!("the credentials for user {username:?}{from} were rejected{detail}")
            }
            Credentials::IdentityToken(_) => {
                format!("the docker identity token{from} was rejected{detail}")
            }
            Credentials::Bearer(_) => format!("the given bearer token was rejected{detail}"),
        }
    }

    /// The token scope an operation needs.
    fn scope(&self, op: &Op<'_>) -> String {
        let actions = match op.access {
            Access::Pull => "pull",
            Access::Push => "pull,push",
            Access::Delete => "delete",
        };
        let mut s = format!("repository:{}:{actions}", op.repo);
        if let Some(src) = op.also_pull {
            s.push_str(&format!(" repository:{src}:pull"));
        }
        s
    }

    fn authorization(&self, scope: &str) -> Option<String> {
        let cache = match self.auth.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let covering = || {
            cache
                .tokens
                .iter()
                .find(|(granted, _)| scope_covers(granted, scope))
                .map(|(_, t)| t)
        };
        if let Some(t) = cache
            .tokens
            .get(scope)
            .or_else(|| cache.tokens.get(""))
            .or_else(covering)
        {
            return Some(format!("Bearer {}", t.expose()));
        }
        if cache.basic {
            return self.creds.basic_header();
        }
        None
    }

    fn with_cache<T>(&self, f: impl FnOnce(&mut AuthCache) -> T) -> T {
        match self.auth.lock() {
            Ok(mut g) => f(&mut g),
            Err(p) => f(&mut p.into_inner()),
        }
    }

    /// Answers one challenge so that the retried request is authorised.
    fn authenticate(
        &self,
        op: &Op<'_>,
        challenge: &Challenge,
        scope: &str,
    ) -> Result<(), RegistryError> {
        match challenge.scheme.as_str() {
            "basic" => {
                if self.creds.basic_header().is_some() {
                    self.with_cache(|c| c.basic = true);
                    Ok(())
                } else {
                    Err(self.error(
                        op,
                        ErrorKind::Unauthorized(format!(
                            "the registry requires basic authentication; {}",
                            self.rejected("")
                        )),
                    ))
                }
            }
            "bearer" => {
                let token = self.fetch_token(op, challenge, scope)?;
                self.with_cache(|c| {
                    c.tokens.remove("");
                    c.tokens.insert(scope.to_string(), token);
                });
                Ok(())
            }
            other => Err(self.error(
                op,
                ErrorKind::Unauthorized(format!(
                    "the registry asks for unsupported auth scheme {other:?}"
                )),
            )),
        }
    }

    /// The Docker token flow: ask the challenge's realm for a token for `scope` (plus the
    /// challenge's own scope when it names another).
    fn fetch_token(
        &self,
        op: &Op<'_>,
        challenge: &Challenge,
        scope: &str,
    ) -> Result<Secret, RegistryError> {
        if let Credentials::Bearer(_) = self.creds {
            // The ready token was what got refused; another round cannot help.
            return Err(self.error(op, ErrorKind::Unauthorized(self.rejected(""))));
        }
        let protocol = |m: String| self.error(op, ErrorKind::Protocol(m));
        let realm = challenge
            .param("realm")
            .ok_or_else(|| protocol("bearer challenge without a realm".into()))?;
        let realm_lower = realm.to_ascii_lowercase();
        let plain = realm_lower.starts_with("http://");
        if !(realm_lower.starts_with("https://") || plain) {
            return Err(protocol(format!(
                "token realm {realm:?} is not an http(s) URL"
            )));
        }
        if plain && !self.insecure {
            return Err(self.error(
                op,
                ErrorKind::Config(format!(
                    "token realm {realm:?} is plain HTTP; refusing to send credentials without --insecure"
                )),
            ));
        }
        let mut scopes: Vec<&str> = scope.split(' ').collect();
        if let Some(extra) = challenge.param("scope") {
            for s in extra.split(' ') {
                if !s.is_empty() && !scopes.contains(&s) {
                    scopes.push(s);
                }
            }
        }
        let service = challenge.param("service");
        let token_op = Op {
            what: format!("get a token from {realm} for"),
            ..op.clone()
        };
        let terr = |kind| self.error(&token_op, kind);
        let resp = if let Credentials::IdentityToken(tok) = &self.creds {
            let joined = scopes.join(" ");
            let mut form = vec![
                ("grant_type", "refresh_token"),
                ("refresh_token", tok.expose()),
                ("client_id", "bulwark"),
                ("scope", joined.as_str()),
            ];
            if let Some(s) = service {
                form.push(("service", s));
            }
            self.agent
                .post(realm)
                .send_form(form)
                .map_err(|e| self.transport_error(&token_op, "POST", realm, e))?
        } else {
            let mut query = form_urlencoded::Serializer::new(String::new());
            if let Some(s) = service {
                query.append_pair("service", s);
            }
            for s in &scopes {
                query.append_pair("scope", s);
            }
            let sep = if realm.contains('?') { '&' } else { '?' };
            let token_url = format!("{realm}{sep}{}", query.finish());
            let mut req = self.agent.get(&token_url);
            if let Some(h) = self.creds.basic_header() {
                req = req.header("Authorization", h);
            }
            req.call()
                .map_err(|e| self.transport_error(&token_op, "GET", realm, e))?
        };
        let status = resp.status().as_u16();
        if status != 200 {
            let detail = error_detail(resp);
            return Err(terr(match status {
                401 => ErrorKind::Unauthorized(self.rejected(&detail)),
                403 => ErrorKind::Forbidden(format!("{} not granted {scope}{detail}", self.who())),
                _ => ErrorKind::Status { status, detail },
            }));
        }
        let body = read_small(resp).map_err(|m| terr(ErrorKind::Protocol(m)))?;
        let doc: serde_json::Value = serde_json::from_slice(&body).map_err(|e| {
            terr(ErrorKind::Protocol(format!(
                "token response is not JSON: {e}"
            )))
        })?;
        let token = ["token", "access_token"]
            .iter()
            .find_map(|k| {
                doc.get(k)
                    .and_then(|v| v.as_str())
                    .filter(|s| !s.is_empty())
            })
            .ok_or_else(|| {
                terr(ErrorKind::Protocol(
                    "token response has no \"token\" or \"access_token\"".into(),
                ))
            })?;
        tracing::debug!("obtained a token for {scope} from {realm}");
        Ok(Secret::new(token))
    }

    /// The wait before retry number `attempt` (1-based).
    fn backoff(&self, attempt: u32, retry_after: Option<&str>) -> Duration {
        if let Some(v) = retry_after.map(str::trim) {
            if let Ok(secs) = v.parse::<u64>() {
                return Duration::from_secs(secs).min(self.retry.max_retry_after);
            }
            if let Ok(when) = httpdate::parse_http_date(v) {
                let wait = when
                    .duration_since(std::time::SystemTime::now())
                    .unwrap_or(Duration::ZERO);
                return wait.min(self.retry.max_retry_after);
            }
        }
        let factor = 1u32
            .checked_shl(attempt.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.retry
            .initial_backoff
            .saturating_mul(factor)
            .min(self.retry.max_backoff)
    }
}

/// Whether a token asked for `granted` (space-separated `type:name:actions`) also serves
/// `wanted`: every wanted resource is there with at least the wanted actions. (A token
/// for `pull,push` serves the `HEAD` checks of a push, which need `pull`.)
fn scope_covers(granted: &str, wanted: &str) -> bool {
    if granted.is_empty() {
        return false;
    }
    let split = |s: &str| -> Option<(String, Vec<String>)> {
        let (res, actions) = s.rsplit_once(':')?;
        Some((
            res.to_string(),
            actions.split(',').map(str::to_string).collect(),
        ))
    };
    let have: Vec<(String, Vec<String>)> = granted.split(' ').filter_map(split).collect();
    wanted.split(' ').all(|w| {
        split(w).is_some_and(|(res, acts)| {
            have.iter()
                .any(|(r, a)| *r == res && acts.iter().all(|x| a.contains(x)))
        })
    })
}

fn load_ca_file(path: &Path) -> Result<Vec<ureq::tls::Certificate<'static>>, String> {
    let mut pem = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_CA_FILE + 1).read_to_end(&mut pem))
        .map_err(|e| format!("CA file {}: {e}", path.display()))?;
    if pem.len() as u64 > MAX_CA_FILE {
        return Err(format!(
            "CA file {}: larger than {MAX_CA_FILE} bytes",
            path.display()
        ));
    }
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        match item {
            Ok(ureq::tls::PemItem::Certificate(c)) => certs.push(c),
            Ok(_) => {}
            Err(e) => return Err(format!("CA file {}: {e}", path.display())),
        }
    }
    if certs.is_empty() {
        return Err(format!(
            "CA file {}: no PEM certificates in it",
            path.display()
        ));
    }
    Ok(certs)
}

/// A header's value as a string.
pub fn header(resp: &Response<Body>, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Reads a small response body, refusing more than [`MAX_SMALL_BODY`] bytes.
pub fn read_small(resp: Response<Body>) -> Result<Vec<u8>, String> {
    read_limited(resp, MAX_SMALL_BODY)
}

/// Reads a response body of at most `limit` bytes.
pub fn read_limited(resp: Response<Body>, limit: u64) -> Result<Vec<u8>, String> {
    let mut buf = Vec::new();
    resp.into_body()
        .into_reader()
        .take(limit + 1)
        .read_to_end(&mut buf)
        .map_err(|e| format!("reading response: {e}"))?;
    if buf.len() as u64 > limit {
        return Err(format!("response larger than {limit} bytes"));
    }
    Ok(buf)
}

/// A short description of a failed response: the registry's error codes and messages
/// when it sent its JSON error document, else the start of the body. Starts with `": "`
/// when non-empty so it can be appended to a status line.
pub fn error_detail(resp: Response<Body>) -> String {
    let mut buf = Vec::new();
    let _ = resp
        .into_body()
        .into_reader()
        .take(64 * 1024)
        .read_to_end(&mut buf);
    if let Ok(doc) = serde_json::from_slice::<serde_json::Value>(&buf) {
        if let Some(errors) = doc.get("errors").and_then(|e| e.as_array()) {
            let parts: Vec<String> = errors
                .iter()
                .take(5)
                .map(|e| {
                    let code = e.get("code").and_then(|c| c.as_str()).unwrap_or("?");
                    let msg = e.get("message").and_then(|m| m.as_str()).unwrap_or("");
                    format!("{code} {msg}")
                })
                .collect();
            if !parts.is_empty() {
                return format!(": {}", parts.join("; "));
            }
        }
    }
    let text = String::from_utf8_lossy(&buf);
    let text: String = text.trim().chars().take(200).collect();
    if text.is_empty() {
        String::new()
    } else {
        format!(": {text}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(retry: RetryPolicy) -> Client {
        let cfg = RegistryConfig {
            insecure: true,
            retry,
            ..Default::default()
        };
        match Client::new("r.test", "r.test", &cfg) {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn backoff_doubles_caps_and_honours_retry_after() {
        let c = client(RetryPolicy {
            max_retries: 10,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(500),
            max_retry_after: Duration::from_secs(3),
        });
        assert_eq!(c.backoff(1, None), Duration::from_millis(100));
        assert_eq!(c.backoff(2, None), Duration::from_millis(200));
        assert_eq!(c.backoff(3, None), Duration::from_millis(400));
        assert_eq!(c.backoff(4, None), Duration::from_millis(500));
        assert_eq!(c.backoff(40, None), Duration::from_millis(500));
        assert_eq!(c.backoff(1, Some("2")), Duration::from_secs(2));
        assert_eq!(c.backoff(1, Some("3600")), Duration::from_secs(3));
        // An HTTP-date in the past means now; one far ahead is capped; junk is ignored.
        assert_eq!(
            c.backoff(1, Some("Wed, 21 Oct 2015 07:28:00 GMT")),
            Duration::ZERO
        );
        let later =
            httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(3600));
        assert_eq!(c.backoff(1, Some(&later)), Duration::from_secs(3));
        assert_eq!(c.backoff(2, Some("soon")), Duration::from_millis(200));
    }

    #[test]
    fn scopes_per_operation() {
        let c = client(RetryPolicy::default());
        let op = |access, also_pull| Op {
            repo: "team/app",
            what: "x".into(),
            access,
            also_pull,
        };
        assert_eq!(c.scope(&op(Access::Pull, None)), "repository:team/app:pull");
        assert_eq!(
            c.scope(&op(Access::Push, Some("base/img"))),
            "repository:team/app:pull,push repository:base/img:pull"
        );
        assert_eq!(
            c.scope(&op(Access::Delete, None)),
            "repository:team/app:delete"
        );
    }

    #[test]
    fn push_tokens_serve_pull_requests_but_not_the_reverse() {
        let push = "repository:a/b:pull,push repository:c/d:pull";
        assert!(scope_covers(push, "repository:a/b:pull"));
        assert!(scope_covers(push, "repository:a/b:pull,push"));
        assert!(scope_covers(push, "repository:c/d:pull"));
        assert!(!scope_covers(push, "repository:c/d:pull,push"));
        assert!(!scope_covers(push, "repository:a/bb:pull"));
        assert!(!scope_covers(
            "repository:a/b:pull",
            "repository:a/b:pull,push"
        ));
        assert!(!scope_covers("", "repository:a/b:pull"));
    }

    #[test]
    fn unreadable_or_empty_ca_file_is_a_config_error() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate").unwrap_or_else(|e| panic!("{e}"));
        for (path, want) in [
            (dir.path().join("absent.pem"), "absent.pem"),
            (empty, "no PEM certificates"),
        ] {
            let cfg = RegistryConfig {
                ca_file: Some(path),
                ..Default::default()
            };
            match Client::new("r.test", "r.test", &cfg) {
                Err(e) => {
                    assert!(matches!(e.kind, ErrorKind::Config(_)), "{e}");
                    assert!(e.to_string().contains(want), "{e}");
                }
                Ok(_) => panic!("accepted a bad CA file"),
            }
        }
    }
}
