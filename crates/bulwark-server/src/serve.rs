//! The listener: TCP on 127.0.0.1 by default, TLS with rustls (ring provider), HTTP/1.1
//! and HTTP/2 through hyper-util, and graceful shutdown — on the shutdown signal the
//! listener closes, in-flight requests finish (up to the grace period) and the store's
//! writer commits what it holds before the process exits.
//!
//! Plain HTTP exists only for loopback tests (`--insecure-http`) and is refused on any
//! other address.

use crate::api::{router, App};
use crate::auth::{Authenticator, TokenAuth};
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
}

/// Errors starting or running the server.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Plain HTTP on a non-loopback address.
    #[error("--insecure-http is refused on {0}: plain HTTP is for loopback tests only")]
    InsecureNonLoopback(SocketAddr),
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
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(ServeError::Tls)?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(ServeError::Tls)?;
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(cfg)
}

/// A bound, not yet running server.
pub struct Bound {
    listener: TcpListener,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    config: ServerConfig,
}

impl Bound {
    /// Checks the configuration, loads TLS material and binds the address.
    pub async fn bind(config: ServerConfig) -> Result<Bound, ServeError> {
        let acceptor = match &config.transport {
            Transport::InsecureHttp if !config.listen.ip().is_loopback() => {
                return Err(ServeError::InsecureNonLoopback(config.listen))
            }
            Transport::InsecureHttp => None,
            Transport::Tls { cert, key } => Some(tokio_rustls::TlsAcceptor::from(Arc::new(
                tls_config(cert, key)?,
            ))),
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
            config,
        })
    }

    /// The address actually bound (port 0 picks one).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.local_addr().ok()
    }

    /// Serves until `shutdown` completes, then drains in-flight requests.
    pub async fn run(self, store: Store, shutdown: impl Future<Output = ()> + Send) {
        let app = Arc::new(App {
            auth: Authenticator::ApiTokens(TokenAuth::new(store.clone())),
            store,
            max_upload: self.config.max_upload,
            metrics: crate::metrics::Metrics::default(),
        });
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
            let svc = TowerToHyperService::new(service.clone());
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
                        let conn = builder
                            .serve_connection_with_upgrades(TokioIo::new(tls), svc)
                            .into_owned();
                        if let Err(e) = watcher.watch(conn).await {
                            tracing::debug!(%peer, error = %e, "connection ended with an error");
                        }
                    }
                    None => {
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
