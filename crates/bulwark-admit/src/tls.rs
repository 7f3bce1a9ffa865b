//! The webhook's TLS: rustls (ring provider) with a certificate resolver whose
//! certificate and key are re-read from disk when they change ([`CertStore::reload_if_changed`],
//! called by the server's watcher), so a rotated certificate (cert-manager, a renewed
//! Secret) is served without a restart. A new pair that cannot be read, or whose key
//! does not match the certificate, is refused and the previous pair stays in service.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

/// Largest certificate or key file read.
pub const MAX_PEM_FILE: u64 = 1024 * 1024;

/// Why a certificate or key could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The file could not be read.
    #[error("{path}: cannot read: {source}")]
    Read {
        /// File.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// The file does not hold what it should.
    #[error("{path}: {message}")]
    Invalid {
        /// File.
        path: String,
        /// What is wrong.
        message: String,
    },
}

fn read_pem(path: &Path) -> Result<Vec<u8>, TlsError> {
    let shown = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|source| TlsError::Read {
        path: shown.clone(),
        source,
    })?;
    if meta.len() > MAX_PEM_FILE {
        return Err(TlsError::Invalid {
            path: shown,
            message: format!("{} bytes (at most {MAX_PEM_FILE})", meta.len()),
        });
    }
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: shown,
        source,
    })
}

/// Reads a certificate chain and its private key into a rustls signing pair.
pub fn load_pair(cert: &Path, key: &Path) -> Result<CertifiedKey, TlsError> {
    let cert_shown = cert.display().to_string();
    let key_shown = key.display().to_string();
    let cert_pem = read_pem(cert)?;
    let certs: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut cert_pem.as_slice())
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError::Invalid {
            path: cert_shown.clone(),
            message: format!("malformed PEM: {e}"),
        })?;
    if certs.is_empty() {
        return Err(TlsError::Invalid {
            path: cert_shown,
            message: "no CERTIFICATE block".into(),
        });
    }
    let key_pem = read_pem(key)?;
    let der: PrivateKeyDer<'static> = rustls_pemfile::private_key(&mut key_pem.as_slice())
        .map_err(|e| TlsError::Invalid {
            path: key_shown.clone(),
            message: format!("malformed PEM: {e}"),
        })?
        .ok_or_else(|| TlsError::Invalid {
            path: key_shown.clone(),
            message: "no private key block".into(),
        })?;
    let signing =
        rustls::crypto::ring::sign::any_supported_type(&der).map_err(|e| TlsError::Invalid {
            path: key_shown.clone(),
            message: format!("unsupported private key: {e}"),
        })?;
    let pair = CertifiedKey::new(certs, signing);
    pair.keys_match().map_err(|e| TlsError::Invalid {
        path: key_shown,
        message: format!("does not match the certificate {cert_shown}: {e}"),
    })?;
    Ok(pair)
}

type Stamp = Option<(SystemTime, u64)>;

fn stamp(p: &Path) -> Stamp {
    let m = std::fs::metadata(p).ok()?;
    Some((m.modified().ok()?, m.len()))
}

/// The certificate in service and where it comes from.
#[derive(Debug)]
pub struct CertStore {
    cert: PathBuf,
    key: PathBuf,
    current: RwLock<Arc<CertifiedKey>>,
    seen: RwLock<(Stamp, Stamp)>,
}

impl CertStore {
    /// Loads the pair (an error refuses to start).
    pub fn open(cert: &Path, key: &Path) -> Result<Arc<CertStore>, TlsError> {
        let seen = (stamp(cert), stamp(key));
        let pair = load_pair(cert, key)?;
        Ok(Arc::new(CertStore {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            current: RwLock::new(Arc::new(pair)),
            seen: RwLock::new(seen),
        }))
    }

    /// Re-reads the pair when either file changed (modification time or size). Returns
    /// whether a new pair went into service; a bad new pair is logged and the old one
    /// kept (it is tried again on the next change).
    pub fn reload_if_changed(&self) -> bool {
        self.reload() == Some(crate::metrics::Reload::Ok)
    }

    /// [`CertStore::reload_if_changed`], telling a refused new pair from no change:
    /// `None` when neither file changed, else whether the new pair went into service.
    pub fn reload(&self) -> Option<crate::metrics::Reload> {
        let now = (stamp(&self.cert), stamp(&self.key));
        let changed = self.seen.read().map(|s| *s != now).unwrap_or(true);
        if !changed {
            return None;
        }
        if let Ok(mut s) = self.seen.write() {
            *s = now;
        }
        match load_pair(&self.cert, &self.key) {
            Ok(pair) => {
                if let Ok(mut c) = self.current.write() {
                    *c = Arc::new(pair);
                }
                tracing::info!(cert = %self.cert.display(), "serving the new certificate");
                Some(crate::metrics::Reload::Ok)
            }
            Err(e) => {
                tracing::error!("keeping the previous certificate: {e}");
                Some(crate::metrics::Reload::Failed)
            }
        }
    }

    /// The rustls server configuration that serves this store's pair.
    pub fn server_config(self: &Arc<Self>) -> Result<rustls::ServerConfig, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Invalid {
                path: self.cert.display().to_string(),
                message: e.to_string(),
            })?
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(cfg)
    }
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.current.read().ok().map(|c| c.clone())
    }
}
