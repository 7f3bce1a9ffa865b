//! The listener: TCP on 127.0.0.1 by default, TLS with rustls (ring provider), HTTP/1.1
//! and HTTP/2 through hyper-util, and graceful shutdown — on the shutdown signal the
//! listener closes, in-flight requests finish (up to the grace period) and the store's
//! writer commits what it holds before the process exits.
//!
//! Plain HTTP exists only for loopback tests (`--insecure-http`) and is refused on any
//! other address.

use crate::api::{router, App};
use crate::auth::Authenticator;
use crate::oidc::{OidcAuth, OidcConfig, OidcError};
use crate::store::Store;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// How long a client has to finish its TLS handshake, and to send request headers.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// TLS or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    /// HTTPS with this certificate chain and key (PEM files).
    Tls {
        /// Certificate chain, leaf first.
        cert: PathBuf,
        /// Private key (PKCS#8, PKCS#1 or SEC1).
        key: PathBuf,
    },
    /// Plain HTTP: loopback addresses only.
    InsecureHttp,
}

/// mTLS: client certificates signed by this CA identify callers (see
/// [`crate::auth::client_cert_principal`] for how a certificate maps to a role).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MtlsConfig {
    /// CA certificates (PEM) that sign client certificates.
    pub ca: PathBuf,
    /// Refuse the TLS handshake without a client certificate. When false, a connection
    /// without one must authenticate with a bearer token.
    pub required: bool,
}

/// Server settings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// TLS or loopback plain HTTP.
    pub transport: Transport,
    /// Largest upload in bytes.
    pub max_upload: usize,
    /// How long in-flight requests get after the shutdown signal.
    pub grace: Duration,
    /// OIDC JWT bearer tokens, when configured.
    pub oidc: Option<OidcConfig>,
    /// Client certificates (mTLS), when configured (TLS transport only).
    pub mtls: Option<MtlsConfig>,
    /// The vulnerability DB directory (`None`: no matching, no re-match).
    pub vulndb: Option<PathBuf>,
    /// How often the DB's `current` pointer is read for a new generation.
    pub vulndb_poll: Duration,
    /// Webhook delivery settings.
    pub delivery: crate::webhooks::DeliveryConfig,
    /// In-process job workers (`None` or 0 workers: this process runs no jobs; jobs are
    /// still accepted and wait for a `bulwark worker`). Their DB is `vulndb` when they
    /// name none.
    pub jobs: Option<crate::jobs::WorkerConfig>,
}

impl ServerConfig {
    /// Defaults for everything but the address and transport.
    pub fn new(listen: SocketAddr, transport: Transport) -> ServerConfig {
        ServerConfig {
            listen,
            transport,
            max_upload: crate::api::DEFAULT_MAX_UPLOAD,
            grace: Duration::from_secs(30),
            vulndb: None,
            vulndb_poll: Duration::from_secs(2),
            delivery: crate::webhooks::DeliveryConfig::default(),
            oidc: None,
            mtls: None,
            jobs: None,
        }
    }
}

/// Errors starting or running the server.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Plain HTTP on a non-loopback address.
    #[error("--insecure-http is refused on {0}: plain HTTP is for loopback tests only")]
    InsecureNonLoopback(SocketAddr),
    /// mTLS asked for without TLS.
    #[error("client certificates (mTLS) need TLS; --insecure-http has none")]
    MtlsWithoutTls,
    /// Reading the certificate or key.
    #[error("TLS {what} {path}: {message}")]
    TlsFile {
        /// `certificate` or `key`.
        what: &'static str,
        /// File.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// rustls refused the configuration.
    #[error("TLS configuration")]
    Tls(#[source] rustls::Error),
    /// The OIDC configuration or key set.
    #[error("OIDC")]
    Oidc(#[source] OidcError),
    /// Binding the address.
    #[error("listening on {addr}")]
    Bind {
        /// Address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Loads the certificate chain and key into a rustls server configuration (ring).
pub fn tls_config(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> Result<rustls::ServerConfig, ServeError> {
    tls_config_with_clients(cert, key, None)
}

/// As [`tls_config`], verifying client certificates against `mtls.ca` when given.
pub fn tls_config_with_clients(
    cert: &std::path::Path,
    key: &std::path::Path,
    mtls: Option<&MtlsConfig>,
) -> Result<rustls::ServerConfig, ServeError> {
    let file_err = |what, path: &std::path::Path, message: String| ServeError::TlsFile {
        what,
        path: path.to_path_buf(),
        message,
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| file_err("certificate", cert, e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| file_err("certificate", cert, e.to_string()))?;
    if certs.is_empty() {
        return Err(file_err(
            "certificate",
            cert,
            "no PEM certificate in it".into(),
        ));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| file_err("key", key, e.to_string()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(ServeError::Tls)?;
    let builder = match mtls {
        None => builder.with_no_client_auth(),
        Some(m) => {
            let mut roots = rustls::RootCertStore::empty();
            let cas: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&m.ca)
                .map_err(|e| file_err("client CA", &m.ca, e.to_string()))?
                .collect::<Result<_, _>>()
                .map_err(|e| file_err("client CA", &m.ca, e.to_string()))?;
            for c in cas {
                roots
                    .add(c)
                    .map_err(|e| file_err("client CA", &m.ca, e.to_string()))?;
            }
            if roots.is_empty() {
                return Err(file_err(
                    "client CA",
                    &m.ca,
                    "no PEM certificate in it".into(),
                ));
            }
            let v = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            );
            let v = if m.required {
                v
            } else {
                v.allow_unauthenticated()
            };
            let v = v
                .build()
                .map_err(|e| file_err("client CA", &m.ca, e.to_string()))?;
            builder.with_client_cert_verifier(v)
        }
    };
    let mut cfg = builder
        .with_single_cert(certs, key)
        .map_err(ServeError::Tls)?;
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(cfg)
}

/// A bound, not yet running server.
pub struct Bound {
    listener: TcpListener,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    oidc: Option<OidcAuth>,
    config: ServerConfig,
}

impl Bound {
    /// Checks the configuration, loads TLS material and binds the address.
    pub async fn bind(config: ServerConfig) -> Result<Bound, ServeError> {
        let acceptor = match &config.transport {
            Transport::InsecureHttp if !config.listen.ip().is_loopback() => {
                return Err(ServeError::InsecureNonLoopback(config.listen))
            }
            Transport::InsecureHttp if config.mtls.is_some() => {
                return Err(ServeError::MtlsWithoutTls)
            }
            Transport::InsecureHttp => None,
            Transport::Tls { cert, key } => Some(tokio_rustls::TlsAcceptor::from(Arc::new(
                tls_config_with_clients(cert, key, config.mtls.as_ref())?,
            ))),
        };
        let oidc = match config.oidc.clone() {
            None => None,
            Some(c) => Some(
                tokio::task::spawn_blocking(move || OidcAuth::new(c))
                    .await
                    .map_err(|e| ServeError::Oidc(OidcError::Config(e.to_string())))?
                    .map_err(ServeError::Oidc)?,
            ),
        };
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| ServeError::Bind {
                    addr: config.listen,
                    source,
                })?;
        Ok(Bound {
            listener,
            acceptor,
            oidc,
            config,
        })
    }

    /// The address actually bound (port 0 picks one).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.local_addr().ok()
    }

    /// Serves until `shutdown` completes, then drains in-flight requests.
    pub async fn run(self, store: Store, shutdown: impl Future<Output = ()> + Send) {
        let metrics = Arc::new(crate::metrics::Metrics::default());
        let wake = Arc::new(tokio::sync::Notify::new());
        let jobs_wake = Arc::new(tokio::sync::Notify::new());
        let app = Arc::new(App {
            auth: Authenticator {
                tokens: crate::auth::TokenAuth::new(store.clone()),
                oidc: self.oidc,
            },
            store: store.clone(),
            max_upload: self.config.max_upload,
            metrics: metrics.clone(),
            vulndb: self.config.vulndb.clone(),
            rematch_lock: tokio::sync::Mutex::new(()),
            wake: wake.clone(),
            suppressions: Default::default(),
            jobs_wake: jobs_wake.clone(),
        });
        let workers = match self.config.jobs.clone() {
            Some(mut cfg) if cfg.workers > 0 => {
                if cfg.vulndb.is_none() {
                    cfg.vulndb = self.config.vulndb.clone();
                }
                match crate::jobs::spawn(store.clone(), cfg, metrics.clone(), jobs_wake) {
                    Ok(w) => w,
                    Err(e) => {
                        tracing::error!(error = %e, "job workers could not start; jobs wait for a `bulwark worker`");
                        crate::jobs::Workers::default()
                    }
                }
            }
            _ => crate::jobs::Workers::default(),
        };
        // Background work: the DB watcher (re-match on each new generation) and the
        // webhook sender (the outbox). Both stop with the runtime; what they had not
        // committed is redone at the next start.
        let watcher = tokio::spawn(crate::rematch::watch(app.clone(), self.config.vulndb_poll));
        let sender = tokio::spawn(crate::webhooks::deliver_loop(
            store,
            self.config.delivery.clone(),
            metrics,
            wake,
        ));
        let service = router(app);
        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(HANDSHAKE_TIMEOUT);
        builder.http2().max_concurrent_streams(256);
        let builder = Arc::new(builder);
        tokio::pin!(shutdown);
        loop {
            let (tcp, peer) = tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Out of file descriptors and the like: wait a little, keep serving.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            let _ = tcp.set_nodelay(true);
            let service = service.clone();
            let watcher = graceful.watcher();
            let builder = builder.clone();
            let acceptor = self.acceptor.clone();
            tokio::spawn(async move {
                match acceptor {
                    Some(acc) => {
                        let tls =
                            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acc.accept(tcp)).await {
                                Ok(Ok(s)) => s,
                                Ok(Err(e)) => {
                                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                                    return;
                                }
                                Err(_) => {
                                    tracing::debug!(%peer, "TLS handshake timed out");
                                    return;
                                }
                            };
                        // A verified client certificate rides along with every request
                        // of this connection.
                        let client = tls
                            .get_ref()
                            .1
                            .peer_certificates()
                            .and_then(|c| c.first())
                            .map(|c| crate::auth::ClientCert(c.as_ref().to_vec().into()));
                        let svc = TowerToHyperService::new(tower::ServiceExt::map_request(
                            service,
                            move |mut req: hyper::Request<hyper::body::Incoming>| {
                                if let Some(c) = &client {
                                    req.extensions_mut().insert(c.clone());
                                }
                                req
                            },
                        ));
                        let conn = builder
                            .serve_connection_with_upgrades(TokioIo::new(tls), svc)
                            .into_owned();
                        if let Err(e) = watcher.watch(conn).await {
                            tracing::debug!(%peer, error = %e, "connection ended with an error");
                        }
                    }
                    None => {
                        let svc = TowerToHyperService::new(service);
                        let conn = builder
                            .serve_connection_with_upgrades(TokioIo::new(tcp), svc)
                            .into_owned();
                        if let Err(e) = watcher.watch(conn).await {
                            tracing::debug!(%peer, error = %e, "connection ended with an error");
                        }
                    }
                }
            });
        }
        drop(self.listener);
        watcher.abort();
        sender.abort();
        // A job cut off here keeps its lease until it runs out; then it is claimed again.
        workers.stop();
        tracing::info!("shutting down: no new connections; finishing in-flight requests");
        if tokio::time::timeout(self.config.grace, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!(
                grace_s = self.config.grace.as_secs(),
                "in-flight requests did not finish within the grace period"
            );
        }
    }
}

/// Completes on SIGTERM or SIGINT (Ctrl-C).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("SIGINT received"),
        () = term => tracing::info!("SIGTERM received"),
    }
}
