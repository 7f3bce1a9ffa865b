//! A small blocking client for the server's API, used by `bulwark scan --server`
//! (uploads) and `bulwark admit` (image findings for vulnerability gates; decisions for
//! the audit log; placements and signature verifications for the inventory).
//!
//! HTTPS only, except plain HTTP to a loopback address (tests). A private CA is trusted
//! with `ca_file`. The token is sent as `Authorization: Bearer` and never logged.

use crate::store::inventory::{FindingOut, Stored};
use std::io::Read;
use std::path::Path;
use std::time::Duration;

/// Largest CA file read.
pub const MAX_CA_FILE: u64 = 1 << 20;
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
    #[error("the server refused: HTTP {status} {code}: {message}")]
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
    read_ca_pem(path).map_err(|message| ClientError::Ca {
        path: path.display().to_string(),
        message,
    })
}

/// The certificates of a PEM CA file (at most [`MAX_CA_FILE`] bytes, at least one
/// certificate), for a ureq agent that trusts them instead of the system roots; the
/// error says what is wrong with the file.
pub fn read_ca_pem(path: &Path) -> Result<Vec<ureq::tls::Certificate<'static>>, String> {
    let mut pem = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_CA_FILE + 1).read_to_end(&mut pem))
        .map_err(|e| e.to_string())?;
    if pem.len() as u64 > MAX_CA_FILE {
        return Err(format!("larger than {MAX_CA_FILE} bytes"));
    }
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        match item {
            Ok(ureq::tls::PemItem::Certificate(c)) => certs.push(c),
            Ok(_) => {}
            Err(e) => return Err(e.to_string()),
        }
    }
    if certs.is_empty() {
        return Err("no PEM certificate in it".into());
    }
    Ok(certs)
}

/// A connection to one server with one token.
#[derive(Clone)]
pub struct ServerClient {
    base: String,
    token: String,
    agent: ureq::Agent,
}

impl std::fmt::Debug for ServerClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerClient")
            .field("base", &self.base)
            .field("token", &"<redacted>")
            .finish()
    }
}

impl ServerClient {
    /// A client for `server` (`https://host:port`), trusting `ca_file` when given, with
    /// `timeout` for each whole call.
    pub fn new(
        server: &str,
        token: &str,
        ca_file: Option<&Path>,
        timeout: Duration,
    ) -> Result<ServerClient, ClientError> {
        let base = server.trim_end_matches('/').to_string();
        let https = base.starts_with("https://");
        if !https && !loopback_http(&base) {
            return Err(ClientError::Url(server.to_string()));
        }
        let mut cfg = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .https_only(https)
            .max_redirects(0)
            .timeout_connect(Some(timeout.min(Duration::from_secs(15))))
            .timeout_global(Some(timeout))
            .user_agent(concat!("bulwark/", env!("CARGO_PKG_VERSION")));
        if let Some(ca) = ca_file {
            let certs = load_ca(ca)?;
            cfg = cfg.tls_config(
                ureq::tls::TlsConfig::builder()
                    .root_certs(ureq::tls::RootCerts::new_with_certs(&certs))
                    .build(),
            );
        }
        Ok(ServerClient {
            base,
            token: token.to_string(),
            agent: cfg.build().into(),
        })
    }

    /// The server's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// One call — a GET without a body, a JSON POST with one: (status, body) of any
    /// answer the server gave.
    fn call(&self, path: &str, body: Option<&[u8]>) -> Result<(u16, String), ClientError> {
        self.call_with(path, body, false)
    }

    fn call_with(
        &self,
        path: &str,
        body: Option<&[u8]>,
        put: bool,
    ) -> Result<(u16, String), ClientError> {
        let url = format!("{}{path}", self.base);
        let auth = format!("Bearer {}", self.token);
        let transport = |source| ClientError::Transport {
            url: url.clone(),
            source,
        };
        let mut resp = match body {
            None => self
                .agent
                .get(&url)
                .header("Authorization", &auth)
                .call()
                .map_err(transport)?,
            Some(b) if put => self
                .agent
                .put(&url)
                .header("Authorization", &auth)
                .header("Content-Type", "application/json")
                .send(b)
                .map_err(transport)?,
            Some(b) => self
                .agent
                .post(&url)
                .header("Authorization", &auth)
                .header("Content-Type", "application/json")
                .send(b)
                .map_err(transport)?,
        };
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
        Ok((status, body))
    }

    /// Uploads a bulwark JSON report, returning what was stored.
    pub fn upload_report(&self, report_json: &[u8]) -> Result<Stored, ClientError> {
        let (status, body) = self.call("/v1/reports", Some(report_json))?;
        if (200..300).contains(&status) {
            return serde_json::from_str(&body).map_err(|e| ClientError::Unexpected {
                status,
                message: e.to_string(),
            });
        }
        Err(refused(status, &body))
    }

    /// Reports the signatures and attestations verified on the image at `digest`
    /// (`PUT /v1/images/{digest}/signatures`); returns how many the server stored.
    pub fn put_signatures(
        &self,
        digest: &str,
        report: &crate::signatures::SignatureReport,
    ) -> Result<u64, ClientError> {
        if !crate::ingest::is_digest(digest) {
            return Err(ClientError::Unexpected {
                status: 0,
                message: format!("{digest:?} is not a sha256 digest"),
            });
        }
        let body = serde_json::to_vec(report).map_err(|e| ClientError::Unexpected {
            status: 0,
            message: e.to_string(),
        })?;
        let (status, text) = self.call_with(
            &format!("/v1/images/{digest}/signatures"),
            Some(&body),
            true,
        )?;
        if status != 200 {
            return Err(refused(status, &text));
        }
        let v: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| ClientError::Unexpected {
                status,
                message: e.to_string(),
            })?;
        Ok(v["stored"].as_u64().unwrap_or(0))
    }

    /// Reports where images run (`PUT /v1/placements`): `complete` makes the report the
    /// whole picture of its scope (see the server's docs); `node` is the sensor's node,
    /// `None` for admission. Returns how many placements the server stored.
    pub fn put_placements(
        &self,
        cluster: &str,
        node: Option<&str>,
        complete: bool,
        placements: &[crate::store::inventory::Placement],
    ) -> Result<u64, ClientError> {
        self.put_placements_as(None, cluster, node, complete, placements)
    }

    /// [`ServerClient::put_placements`] naming the reporter (`sensor` or `admission`):
    /// needed with an admin token, accepted with the role's own token.
    pub fn put_placements_as(
        &self,
        reporter: Option<&str>,
        cluster: &str,
        node: Option<&str>,
        complete: bool,
        placements: &[crate::store::inventory::Placement],
    ) -> Result<u64, ClientError> {
        let mut body = serde_json::json!({
            "cluster": cluster, "complete": complete, "placements": placements,
        });
        if let Some(n) = node {
            body["node"] = serde_json::Value::String(n.to_string());
        }
        if let Some(r) = reporter {
            body["reporter"] = serde_json::Value::String(r.to_string());
        }
        let bytes = serde_json::to_vec(&body).map_err(|e| ClientError::Unexpected {
            status: 0,
            message: e.to_string(),
        })?;
        let (status, text) = self.call_with("/v1/placements", Some(&bytes), true)?;
        if status != 200 {
            return Err(refused(status, &text));
        }
        let v: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| ClientError::Unexpected {
                status,
                message: e.to_string(),
            })?;
        Ok(v["stored"].as_u64().unwrap_or(0))
    }

    /// The stored findings of the image at `digest`; `None` when the server does not
    /// know the image (or, for a team-scoped caller, may not see it).
    pub fn image_findings(&self, digest: &str) -> Result<Option<Vec<FindingOut>>, ClientError> {
        if !crate::ingest::is_digest(digest) {
            return Err(ClientError::Unexpected {
                status: 0,
                message: format!("{digest:?} is not a sha256 digest"),
            });
        }
        let (status, body) = self.call(&format!("/v1/images/{digest}/findings"), None)?;
        match status {
            200 => {
                #[derive(serde::Deserialize)]
                struct Items {
                    items: Vec<FindingOut>,
                }
                serde_json::from_str::<Items>(&body)
                    .map(|i| Some(i.items))
                    .map_err(|e| ClientError::Unexpected {
                        status,
                        message: e.to_string(),
                    })
            }
            404 => Ok(None),
            _ => Err(refused(status, &body)),
        }
    }

    /// Records admission decisions (`POST /v1/admission/decisions`); returns how many
    /// the server recorded.
    pub fn record_decisions(&self, body: &serde_json::Value) -> Result<u64, ClientError> {
        self.post_for_count("/v1/admission/decisions", body)
    }

    /// Records runtime sensor alerts (`POST /v1/runtime/alerts`, each alert the JSON
    /// object of one alert line) from `node`; returns how many the server recorded.
    pub fn record_runtime_alerts(
        &self,
        node: &str,
        alerts: &[serde_json::Value],
    ) -> Result<u64, ClientError> {
        let body = serde_json::json!({ "node": node, "alerts": alerts });
        self.post_for_count("/v1/runtime/alerts", &body)
    }

    /// POSTs `body` to one of the endpoints that append audit entries and answer
    /// `{"recorded": n}`; returns n.
    fn post_for_count(&self, path: &str, body: &serde_json::Value) -> Result<u64, ClientError> {
        let bytes = serde_json::to_vec(body).map_err(|e| ClientError::Unexpected {
            status: 0,
            message: e.to_string(),
        })?;
        let (status, text) = self.call(path, Some(&bytes))?;
        if !(200..300).contains(&status) {
            return Err(refused(status, &text));
        }
        let v: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| ClientError::Unexpected {
                status,
                message: e.to_string(),
            })?;
        Ok(v.get("recorded").and_then(|n| n.as_u64()).unwrap_or(0))
    }
}

fn refused(status: u16, body: &str) -> ClientError {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(body) else {
        return ClientError::Unexpected {
            status,
            message: "error response without a JSON body".into(),
        };
    };
    let field = |k: &str| {
        v.get("error")
            .and_then(|e| e.get(k))
            .and_then(|s| s.as_str())
            .unwrap_or("")
            .to_string()
    };
    ClientError::Refused {
        status,
        code: field("code"),
        message: field("message"),
    }
}

/// Uploads a bulwark JSON report to `server` (`https://host:port`), returning what was
/// stored.
pub fn upload_report(
    server: &str,
    token: &str,
    ca_file: Option<&Path>,
    report_json: &[u8],
) -> Result<Stored, ClientError> {
    ServerClient::new(server, token, ca_file, Duration::from_secs(300))?.upload_report(report_json)
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
