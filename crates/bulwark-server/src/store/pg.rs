//! The PostgreSQL side of the store: parsing and checking `--database postgres://…`,
//! connecting with the synchronous `postgres` client, and running the shared migrations
//! under an advisory lock so that replicas starting together do not race.
//!
//! TLS to PostgreSQL is rustls (ring provider) through `tokio-postgres-rustls`, and it
//! always verifies: `sslmode=require`, `verify-ca` and `verify-full` all check the
//! server's certificate chain against the CA file named by `sslrootcert=FILE` (PEM) and
//! the certificate's name (DNS name or IP address) against the host — libpq's
//! `verify-full`, stricter than its `require` (which encrypts without checking whom to).
//! Without `sslrootcert` a TLS mode is refused: there are no system roots to fall back
//! on, and encryption to an unverified peer is not offered. So that a URL never sends
//! credentials and data in plain text over a network by accident, [`config`] refuses a
//! TCP host that is not a loopback address unless the URL asks for TLS or says
//! `sslmode=disable` explicitly. Unix sockets (`?host=/run/postgresql`) and loopback
//! hosts are accepted in plain text. `sslcert`/`sslkey` present a client certificate
//! (TLS modes only, both or neither); libpq's `options` passes session settings such as
//! `statement_timeout` through to the server.
//!
//! The `postgres` client runs its own small runtime and blocks: it is only called on the
//! store's writer thread, on `spawn_blocking` threads (reads) and at start-up.

use super::sql::PgConn;
use super::{now_ms, StoreError, MIGRATIONS};
use postgres::config::Host;
use std::net::IpAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

/// Where and how to connect: the client configuration and, for TLS, the rustls
/// configuration that verifies the server.
#[derive(Clone)]
pub struct Target {
    config: postgres::Config,
    tls: Option<Arc<rustls::ClientConfig>>,
}

impl Target {
    /// Whether connections use TLS.
    pub fn tls(&self) -> bool {
        self.tls.is_some()
    }
}

/// The advisory lock key the migrations run under (`bulwark` in ASCII, as an i64).
const MIGRATION_LOCK: i64 = 0x0062_756c_7761_726b;

/// The query parameters of a URL, as `(key, value)` pairs (not percent-decoded: only
/// `sslmode` and `host` are looked at here, and their values need no decoding).
fn query_pairs(url: &str) -> Vec<(&str, &str)> {
    let Some((_, q)) = url.split_once('?') else {
        return Vec::new();
    };
    q.split('&')
        .filter_map(|kv| kv.split_once('=').or(Some((kv, ""))))
        .collect()
}

/// The URL with the password (if any) replaced by `***`.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, tail) = match rest.find(['/', '?']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map(|(u, _)| u).unwrap_or(userinfo);
            if userinfo.contains(':') {
                format!("{scheme}://{user}:***@{host}{tail}")
            } else {
                url.to_string()
            }
        }
        None => url.to_string(),
    }
}

fn is_local(host: &Host) -> bool {
    match host {
        Host::Unix(_) => true,
        Host::Tcp(h) => {
            h == "localhost"
                || IpAddr::from_str(h.trim_start_matches('[').trim_end_matches(']'))
                    .is_ok_and(|ip| ip.is_loopback())
        }
    }
}

/// An error of the `postgres` client with what the server said (its own `Display` is
/// only "db error"): `ERROR 25006: cannot execute UPDATE in a read-only transaction`,
/// or the chain of causes for a connection or TLS failure.
pub fn describe(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{} {}: {}", db.severity(), db.code().code(), db.message());
    }
    let mut out = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        out.push_str(": ");
        out.push_str(&s.to_string());
        src = s.source();
    }
    out
}

/// Checks a `postgres://` URL against what this build supports (see the module docs),
/// reading the CA file when TLS is asked for.
pub fn check_url(url: &str) -> Result<(), StoreError> {
    target(url).map(|_| ())
}

/// A minimal percent-decoding of a query value (`%2F` → `/`).
fn percent_decode(v: &str) -> String {
    let bytes = v.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The client certificate chain (`sslcert`) and its private key (`sslkey`), PEM.
type ClientCert = (PathBuf, PathBuf);

/// The CA certificates of `sslrootcert`, as a verifying rustls configuration; with
/// `client`, the certificate this side presents.
fn tls_config(
    ca_file: &std::path::Path,
    client: Option<&ClientCert>,
) -> Result<Arc<rustls::ClientConfig>, StoreError> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let refuse =
        |why: String| StoreError::UrlRefused(format!("sslrootcert {}: {why}", ca_file.display()));
    let mut roots = rustls::RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(ca_file).map_err(|e| refuse(e.to_string()))?;
    for c in certs {
        let c = c.map_err(|e| refuse(e.to_string()))?;
        roots.add(c).map_err(|e| refuse(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(refuse("no certificate in the file".into()));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| refuse(e.to_string()))?
        .with_root_certificates(roots);
    let cfg = match client {
        None => builder.with_no_client_auth(),
        Some((cert_file, key_file)) => {
            let bad = |what: &str, file: &std::path::Path, why: String| {
                StoreError::UrlRefused(format!("{what} {}: {why}", file.display()))
            };
            let chain = CertificateDer::pem_file_iter(cert_file)
                .map_err(|e| bad("sslcert", cert_file, e.to_string()))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| bad("sslcert", cert_file, e.to_string()))?;
            if chain.is_empty() {
                return Err(bad(
                    "sslcert",
                    cert_file,
                    "no certificate in the file".into(),
                ));
            }
            // The key's contents never go into a message: only what kind of failure.
            let key = PrivateKeyDer::from_pem_file(key_file).map_err(|e| {
                bad(
                    "sslkey",
                    key_file,
                    match e {
                        rustls_pki_types::pem::Error::NoItemsFound => {
                            "no private key in the file".to_string()
                        }
                        rustls_pki_types::pem::Error::Io(e) => e.to_string(),
                        _ => "not a PEM private key".to_string(),
                    },
                )
            })?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| bad("sslcert/sslkey", cert_file, e.to_string()))?
        }
    };
    Ok(Arc::new(cfg))
}

/// The connection target of a checked URL.
pub fn target(url: &str) -> Result<Target, StoreError> {
    let mut explicit_disable = false;
    let mut want_tls = false;
    let mut root: Option<PathBuf> = None;
    let mut client_cert: Option<PathBuf> = None;
    let mut client_key: Option<PathBuf> = None;
    for (k, v) in query_pairs(url) {
        match k {
            "sslmode" => match v {
                "disable" => explicit_disable = true,
                "prefer" | "allow" => {}
                "require" | "verify-ca" | "verify-full" => want_tls = true,
                other => return Err(StoreError::UrlRefused(format!("unknown sslmode {other:?}"))),
            },
            "sslrootcert" => root = Some(PathBuf::from(percent_decode(v))),
            "sslcert" => client_cert = Some(PathBuf::from(percent_decode(v))),
            "sslkey" => client_key = Some(PathBuf::from(percent_decode(v))),
            _ => {}
        }
    }
    let client = match (client_cert, client_key) {
        (None, None) => None,
        (Some(c), Some(k)) => Some((c, k)),
        _ => {
            return Err(StoreError::UrlRefused(
                "a client certificate needs both sslcert=CERT.pem and sslkey=KEY.pem".into(),
            ))
        }
    };
    if client.is_some() && !want_tls {
        return Err(StoreError::UrlRefused(
            "sslcert/sslkey need TLS: add sslmode=verify-full&sslrootcert=CA.pem".into(),
        ));
    }
    // tokio-postgres knows neither `sslrootcert`, `sslcert`, `sslkey` nor the verify
    // modes, nor `allow`: hand it the rest, with the TLS decision made here.
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let kept: Vec<&str> = query
        .split('&')
        .filter(|kv| {
            !kv.is_empty()
                && !["sslmode=", "sslrootcert=", "sslcert=", "sslkey="]
                    .iter()
                    .any(|p| kv.starts_with(p))
        })
        .collect();
    let normalised = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    let mut config = postgres::Config::from_str(&normalised)
        .map_err(|e| StoreError::UrlRefused(format!("{}: {e}", redact(url))))?;
    if config.get_hosts().is_empty() {
        return Err(StoreError::UrlRefused(format!(
            "{} names no host (use postgres://USER@HOST:PORT/DB or ?host=/socket/dir)",
            redact(url)
        )));
    }
    let tls = if want_tls {
        let Some(root) = root else {
            return Err(StoreError::UrlRefused(
                "TLS to PostgreSQL needs sslrootcert=CA.pem (the server's certificate is always verified; there are no system roots to fall back on)".into(),
            ));
        };
        if config
            .get_hosts()
            .iter()
            .any(|h| matches!(h, Host::Unix(_)))
        {
            return Err(StoreError::UrlRefused(
                "TLS over a Unix socket: PostgreSQL does not offer it; drop sslmode or use a TCP host".into(),
            ));
        }
        config.ssl_mode(postgres::config::SslMode::Require);
        Some(tls_config(&root, client.as_ref())?)
    } else {
        if !explicit_disable {
            if let Some(h) = config.get_hosts().iter().find(|h| !is_local(h)) {
                let name = match h {
                    Host::Tcp(n) => n.clone(),
                    Host::Unix(p) => p.display().to_string(),
                };
                return Err(StoreError::UrlRefused(format!(
                    "host {name} is not a loopback address: use TLS (sslmode=verify-full&sslrootcert=CA.pem), or sslmode=disable only if the network path is otherwise protected (see docs/server.md)"
                )));
            }
        }
        config.ssl_mode(postgres::config::SslMode::Disable);
        None
    };
    if config.get_application_name().is_none() {
        config.application_name("bulwark-server");
    }
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(std::time::Duration::from_secs(10));
    }
    Ok(Target { config, tls })
}

/// Opens one connection.
pub fn connect(target: &Target) -> Result<PgConn, StoreError> {
    let client = match &target.tls {
        Some(cfg) => target
            .config
            .connect(tokio_postgres_rustls::MakeRustlsConnect::new(
                (**cfg).clone(),
            ))?,
        None => target.config.connect(postgres::NoTls)?,
    };
    let mut conn = PgConn::new(client);
    // The store's times are epoch milliseconds; nothing depends on the session's zone,
    // but a fixed one keeps any server-side rendering the same on every replica.
    conn.batch("SET TIME ZONE 'UTC'")?;
    Ok(conn)
}

/// Most reader connections one store opens at once (plus the writer's one).
pub const MAX_READERS: usize = 16;
/// Idle reader connections kept.
const IDLE_READERS: usize = 8;

/// The readers' connections: at most [`MAX_READERS`] open at once (a burst of reads
/// waits for a free one rather than exhausting the server's `max_connections`), up to
/// 8 kept idle.
pub struct ReaderPool {
    target: Target,
    state: std::sync::Mutex<PoolState>,
    freed: std::sync::Condvar,
}

struct PoolState {
    idle: Vec<PgConn>,
    open: usize,
}

impl ReaderPool {
    /// An empty pool for `target`.
    pub fn new(target: Target) -> ReaderPool {
        ReaderPool {
            target,
            state: std::sync::Mutex::new(PoolState {
                idle: Vec::new(),
                open: 0,
            }),
            freed: std::sync::Condvar::new(),
        }
    }

    fn poisoned<E>(_: E) -> StoreError {
        StoreError::Task("the reader pool's lock is poisoned".into())
    }

    /// A connection: an idle one, a new one, or the next one freed (30 s at most).
    pub fn get(&self) -> Result<PgConn, StoreError> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let mut st = self.state.lock().map_err(Self::poisoned)?;
        loop {
            if let Some(c) = st.idle.pop() {
                if !c.is_closed() {
                    return Ok(c);
                }
                st.open = st.open.saturating_sub(1);
                continue;
            }
            if st.open < MAX_READERS {
                st.open += 1;
                drop(st);
                return match connect(&self.target) {
                    Ok(c) => Ok(c),
                    Err(e) => {
                        if let Ok(mut st) = self.state.lock() {
                            st.open = st.open.saturating_sub(1);
                        }
                        self.freed.notify_one();
                        Err(e)
                    }
                };
            }
            let now = std::time::Instant::now();
            if now >= deadline {
                return Err(StoreError::Task(format!(
                    "no PostgreSQL reader connection free for 30 s ({MAX_READERS} in use)"
                )));
            }
            st = self
                .freed
                .wait_timeout(st, deadline - now)
                .map_err(Self::poisoned)?
                .0;
        }
    }

    /// Gives a connection back; `reusable` false (its transaction did not end cleanly)
    /// closes it.
    pub fn put(&self, c: PgConn, reusable: bool) {
        let mut close = None;
        if let Ok(mut st) = self.state.lock() {
            if reusable && !c.is_closed() && st.idle.len() < IDLE_READERS {
                st.idle.push(c);
            } else {
                st.open = st.open.saturating_sub(1);
                close = Some(c);
            }
        }
        self.freed.notify_one();
        drop(close);
    }

    /// Takes every idle connection out (to close them off the async runtime).
    pub fn drain(&self) -> Vec<PgConn> {
        self.state
            .lock()
            .map(|mut st| {
                let v: Vec<PgConn> = st.idle.drain(..).collect();
                st.open = st.open.saturating_sub(v.len());
                v
            })
            .unwrap_or_default()
    }
}

/// Runs the pending migrations, each in its own transaction under a transaction-level
/// advisory lock: a replica that starts while another is migrating waits, then sees the
/// versions the other applied and skips them.
pub fn migrate(conn: &mut PgConn) -> Result<(), StoreError> {
    let latest = MIGRATIONS.last().map(|m| m.0).unwrap_or(0);
    loop {
        conn.batch(&format!(
            "BEGIN; SELECT pg_advisory_xact_lock({MIGRATION_LOCK});
             CREATE TABLE IF NOT EXISTS schema_migrations (
                version BIGINT PRIMARY KEY,
                name TEXT NOT NULL,
                applied_at BIGINT NOT NULL
             );"
        ))?;
        let step = next_migration(conn, latest);
        match step {
            Ok(Some((version, name))) => {
                tracing::info!(version, name, "applied migration");
            }
            Ok(None) => {
                conn.batch("COMMIT")?;
                return Ok(());
            }
            Err(e) => {
                let _ = conn.batch("ROLLBACK");
                return Err(e);
            }
        }
    }
}

/// Inside the locked transaction: applies the next pending migration and commits, or
/// returns `None` (transaction still open) when there is none.
fn next_migration(
    conn: &mut PgConn,
    latest: i64,
) -> Result<Option<(i64, &'static str)>, StoreError> {
    let current: i64 = conn
        .client()
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            &[],
        )?
        .try_get(0)?;
    if current > latest {
        return Err(StoreError::TooNew(current, latest));
    }
    let Some(&(version, name, sql)) = MIGRATIONS.iter().find(|m| m.0 > current) else {
        return Ok(None);
    };
    let err = |source: StoreError| StoreError::Migration {
        version,
        name,
        source: Box::new(source),
    };
    conn.batch(sql).map_err(err)?;
    conn.batch(&format!(
        "INSERT INTO schema_migrations (version, name, applied_at) VALUES ({version}, '{}', {})",
        name.replace('\'', "''"),
        now_ms()
    ))
    .map_err(err)?;
    conn.batch("COMMIT").map_err(err)?;
    Ok(Some((version, name)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_without_tls_are_refused_off_loopback() {
        assert!(check_url("postgres://u@127.0.0.1:5432/db").is_ok());
        assert!(check_url("postgresql://u@localhost/db").is_ok());
        assert!(check_url("postgres://u@/db?host=/run/postgresql").is_ok());
        assert!(check_url("postgres://u@[::1]:5433/db").is_ok());
        assert!(check_url("postgres://u@db.example:5432/db?sslmode=disable").is_ok());
        for bad in [
            "postgres://u@db.example:5432/db",
            // TLS without a CA to verify against.
            "postgres://u@127.0.0.1/db?sslmode=require",
            "postgres://u@db.example/db?sslmode=verify-full",
            "postgres://u@127.0.0.1/db?sslmode=verify-ca",
            // A CA file that is not there.
            "postgres://u@db.example/db?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem",
            "postgres://u@127.0.0.1/db?sslmode=bogus",
            "postgres:///db",
        ] {
            assert!(
                matches!(check_url(bad), Err(StoreError::UrlRefused(_))),
                "{bad} accepted"
            );
        }
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("postgres://u:secret@h:5/db?x=1"),
            "postgres://u:***@h:5/db?x=1"
        );
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        let e = check_url("postgres://u:hunter2@db.example/db").unwrap_err();
        assert!(!e.to_string().contains("hunter2"));
    }
}
