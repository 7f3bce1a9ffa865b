//! A small blocking client for the server's upload endpoints (`bulwark scan --server`).
//!
//! HTTPS only, except plain HTTP to a loopback address (tests). A private CA is trusted
//! with `ca_file`. The token is sent as `Authorization: Bearer` and never logged.

use crate::store::inventory::Stored;
use std::io::Read;
use std::path::Path;
use std::time::Duration;

/// Largest CA file read.
const MAX_CA_FILE: u64 = 1 << 20;
/// Largest response body read.
const MAX_RESPONSE: u64 = 1 << 20;

/// Errors of an upload.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The URL is not usable.
    #[error("server URL {0:?}: use https://HOST[:PORT] (http:// only to a loopback address)")]
    Url(String),
    /// The CA file.
    #[error("CA file {path}: {message}")]
    Ca {
        /// File.
        path: String,
        /// Why.
        message: String,
    },
    /// Connecting or sending.
    #[error("sending to {url}")]
    Transport {
        /// URL.
        url: String,
        /// Why.
        #[source]
        source: ureq::Error,
    },
    /// The server answered with an error.
    #[error("the server refused the upload: HTTP {status} {code}: {message}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// Error code.
        code: String,
        /// Message.
        message: String,
    },
    /// The answer is not what the API documents.
    #[error("unexpected answer from the server (HTTP {status}): {message}")]
    Unexpected {
        /// HTTP status.
        status: u16,
        /// What was wrong.
        message: String,
    },
}

fn loopback_http(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let host = rest.split('/').next().unwrap_or("");
    let host = if host.starts_with('[') {
        host.split(']').next().map(|h| h.trim_start_matches('['))
    } else {
        host.split(':').next()
    }
    .unwrap_or("");
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn load_ca(path: &Path) -> Result<Vec<ureq::tls::Certificate<'static>>, ClientError> {
    let err = |message: String| ClientError::Ca {
        path: path.display().to_string(),
        message,
    };
    let mut pem = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_CA_FILE + 1).read_to_end(&mut pem))
        .map_err(|e| err(e.to_string()))?;
    if pem.len() as u64 > MAX_CA_FILE {
        return Err(err(format!("larger than {MAX_CA_FILE} bytes")));
    }
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        match item {
            Ok(ureq::tls::PemItem::Certificate(c)) => certs.push(c),
            Ok(_) => {}
            Err(e) => return Err(err(e.to_string())),
        }
    }
    if certs.is_empty() {
        return Err(err("no PEM certificate in it".into()));
    }
    Ok(certs)
}

/// Uploads a bulwark JSON report to `server` (`https://host:port`), returning what was
/// stored.
pub fn upload_report(
    server: &str,
    token: &str,
    ca_file: Option<&Path>,
    report_json: &[u8],
) -> Result<Stored, ClientError> {
    let base = server.trim_end_matches('/');
    let https = base.starts_with("https://");
    if !https && !loopback_http(base) {
        return Err(ClientError::Url(server.to_string()));
    }
    let mut cfg = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .https_only(https)
        .max_redirects(0)
        .timeout_connect(Some(Duration::from_secs(15)))
        .timeout_global(Some(Duration::from_secs(300)))
        .user_agent(concat!("bulwark/", env!("CARGO_PKG_VERSION")));
    if let Some(ca) = ca_file {
        let certs = load_ca(ca)?;
        cfg = cfg.tls_config(
            ureq::tls::TlsConfig::builder()
                .root_certs(ureq::tls::RootCerts::new_with_certs(&certs))
                .build(),
        );
    }
    let agent: ureq::Agent = cfg.build().into();
    let url = format!("{base}/v1/reports");
    let mut resp = agent
        .post(&url)
        .header("Authorization", &format!("Bearer {token}"))
        .header("Content-Type", "application/json")
        .send(report_json)
        .map_err(|source| ClientError::Transport {
            url: url.clone(),
            source,
        })?;
    let status = resp.status().as_u16();
    let body = resp
        .body_mut()
        .with_config()
        .limit(MAX_RESPONSE)
        .read_to_string()
        .map_err(|source| ClientError::Transport {
            url: url.clone(),
            source,
        })?;
    if (200..300).contains(&status) {
        return serde_json::from_str(&body).map_err(|e| ClientError::Unexpected {
            status,
            message: e.to_string(),
        });
    }
    let v: serde_json::Value =
        serde_json::from_str(&body).map_err(|_| ClientError::Unexpected {
            status,
            message: "error response without a JSON body".into(),
        })?;
    let field = |k: &str| {
        v.get("error")
            .and_then(|e| e.get(k))
            .and_then(|s| s.as_str())
            .unwrap_or("")
            .to_string()
    };
    Err(ClientError::Refused {
        status,
        code: field("code"),
        message: field("message"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_to_loopback() {
        assert!(loopback_http("http://127.0.0.1:8443"));
        assert!(loopback_http("http://localhost/x"));
        assert!(loopback_http("http://[::1]:80"));
        assert!(!loopback_http("http://10.0.0.1:8443"));
        assert!(!loopback_http("https://127.0.0.1"));
        assert!(matches!(
            upload_report("http://example.com", "t", None, b"{}"),
            Err(ClientError::Url(_))
        ));
    }
}
