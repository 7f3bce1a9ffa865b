//! HTTPS client connections for the load generators in `examples/` (admission webhook,
//! server): a rustls connector trusting one test CA, and one keep-alive HTTP/1.1
//! connection on it driven by hyper, so that many clients can be async tasks on one
//! thread instead of one OS thread each.

use std::net::SocketAddr;
use std::sync::Arc;

/// A TLS connector that trusts exactly the certificates in `ca_pem` (PEM).
///
/// # Panics
/// On a malformed PEM or certificate: the callers are benchmarks with a CA they made.
#[allow(clippy::unwrap_used)]
pub fn tls_connector(ca_pem: &[u8]) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls_pemfile::certs(&mut &ca_pem[..]) {
        roots.add(c.unwrap()).unwrap();
    }
    let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(cfg))
}

/// Connects to `addr` (TCP_NODELAY), completes TLS for `server_name` and an HTTP/1.1
/// handshake, and spawns the connection task; `None` when any step fails.
pub async fn connect<B>(
    connector: &tokio_rustls::TlsConnector,
    addr: SocketAddr,
    server_name: &str,
) -> Option<hyper::client::conn::http1::SendRequest<B>>
where
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let tcp = tokio::net::TcpStream::connect(addr).await.ok()?;
    tcp.set_nodelay(true).ok()?;
    let name = rustls::pki_types::ServerName::try_from(server_name.to_string()).ok()?;
    let tls = connector.connect(name, tcp).await.ok()?;
    let (sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
        .await
        .ok()?;
    tokio::spawn(conn);
    Some(sender)
}
