//! The trusted root (`dev.sigstore.trustedroot.v1.TrustedRoot`, JSON): Rekor log keys,
//! Fulcio CA chains, CT log keys and timestamp authorities, each with a validity
//! window. Also accepts a `ClientTrustConfig` that wraps one (`trustedRoot` field).
//!
//! Validity windows are closed intervals. A window with no `start` is a malformed
//! trusted root and is refused rather than read as unbounded.

use crate::b64;
use crate::error::{malformed, Result};
use crate::keys::PublicKey;
use crate::time::{self, Nanos};
use crate::x509::{Authority, Cert, CtLogKey};
use serde::Deserialize;

/// Largest trusted root accepted.
pub const MAX_TRUSTED_ROOT: u64 = 8 << 20;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RootJson {
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    tlogs: Vec<LogJson>,
    #[serde(default)]
    certificate_authorities: Vec<CaJson>,
    #[serde(default)]
    ctlogs: Vec<LogJson>,
    #[serde(default)]
    timestamp_authorities: Vec<CaJson>,
    #[serde(default)]
    trusted_root: Option<Box<RootJson>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LogJson {
    #[serde(default)]
    base_url: String,
    #[serde(default)]
    hash_algorithm: Option<String>,
    public_key: KeyJson,
    log_id: LogIdJson,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct KeyJson {
    #[serde(default)]
    raw_bytes: Option<String>,
    #[serde(default)]
    key_details: Option<String>,
    #[serde(default)]
    valid_for: Option<RangeJson>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LogIdJson {
    key_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RangeJson {
    #[serde(default)]
    start: Option<String>,
    #[serde(default)]
    end: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CaJson {
    #[serde(default)]
    uri: String,
    cert_chain: ChainJson,
    #[serde(default)]
    valid_for: Option<RangeJson>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChainJson {
    #[serde(default)]
    certificates: Vec<crate::bundle::RawBytes>,
}

/// A transparency log (Rekor) key.
#[derive(Debug, Clone)]
pub struct LogKey {
    /// The log's base URL (informational).
    pub base_url: String,
    /// Log ID bytes.
    pub log_id: Vec<u8>,
    /// The key.
    pub key: PublicKey,
    /// Validity window (inclusive).
    pub valid: (Option<Nanos>, Option<Nanos>),
}

impl LogKey {
    /// A bare key with no validity window and no log metadata (a key given on the
    /// command line rather than read from a trusted root).
    pub fn unbounded(key: PublicKey) -> Self {
        LogKey {
            base_url: String::new(),
            log_id: Vec::new(),
            key,
            valid: (None, None),
        }
    }

    /// Whether the key's window contains `t`.
    pub fn valid_at(&self, t: Nanos) -> bool {
        !(self.valid.0.is_some_and(|s| t < s) || self.valid.1.is_some_and(|e| t > e))
    }
}

/// Everything offline verification trusts.
#[derive(Debug, Clone, Default)]
pub struct TrustedRoot {
    /// Rekor logs.
    pub tlogs: Vec<LogKey>,
    /// Fulcio CAs.
    pub certificate_authorities: Vec<Authority>,
    /// CT logs.
    pub ctlogs: Vec<CtLogKey>,
    /// Timestamp authorities.
    pub timestamp_authorities: Vec<Authority>,
}

fn range(r: &Option<RangeJson>, what: &str) -> Result<(Option<Nanos>, Option<Nanos>)> {
    let Some(r) = r else {
        return Ok((None, None));
    };
    let Some(start) = &r.start else {
        return Err(malformed(format!(
            "trusted root: {what} has a validFor window without a start"
        )));
    };
    let s = time::parse_rfc3339(start)?;
    let e = r.end.as_deref().map(time::parse_rfc3339).transpose()?;
    Ok((Some(s), e))
}

fn log(l: &LogJson, what: &str) -> Result<Option<LogKey>> {
    if let Some(h) = &l.hash_algorithm {
        if h != "SHA2_256" {
            return Err(malformed(format!(
                "trusted root: {what} {}: hash algorithm {h} unsupported",
                l.base_url
            )));
        }
    }
    let Some(raw) = &l.public_key.raw_bytes else {
        return Ok(None);
    };
    let der = b64::decode(raw, &format!("trusted root: {what} {} key", l.base_url))?;
    let key = match PublicKey::from_spki_der(&der) {
        Ok(k) => k,
        Err(e) => {
            tracing::debug!(
                "trusted root: skipping {what} {} ({:?}): {e}",
                l.base_url,
                l.public_key.key_details
            );
            return Ok(None);
        }
    };
    Ok(Some(LogKey {
        base_url: l.base_url.clone(),
        log_id: b64::decode(
            &l.log_id.key_id,
            &format!("trusted root: {what} {} log ID", l.base_url),
        )?,
        key,
        valid: range(&l.public_key.valid_for, &format!("{what} {}", l.base_url))?,
    }))
}

fn authority(c: &CaJson, what: &str) -> Result<Authority> {
    let mut chain = Vec::new();
    for (i, cert) in c.cert_chain.certificates.iter().enumerate() {
        let where_ = format!("trusted root: {what} {} certificate {i}", c.uri);
        let der = b64::decode(&cert.raw_bytes, &where_)?;
        chain.push(Cert::from_der(&der).map_err(|e| malformed(format!("{where_}: {e}")))?);
    }
    if chain.is_empty() {
        return Err(malformed(format!(
            "trusted root: {what} {} has no certificates",
            c.uri
        )));
    }
    Ok(Authority {
        chain,
        valid: range(&c.valid_for, &format!("{what} {}", c.uri))?,
    })
}

impl TrustedRoot {
    /// Parses trusted root JSON (or a ClientTrustConfig holding one).
    pub fn from_json(data: &[u8]) -> Result<Self> {
        if data.len() as u64 > MAX_TRUSTED_ROOT {
            return Err(malformed("trusted root is larger than 8 MiB"));
        }
        let mut j: RootJson = serde_json::from_slice(data)
            .map_err(|e| malformed(format!("trusted root is not valid JSON: {e}")))?;
        if let Some(inner) = j.trusted_root.take() {
            j = *inner;
        }
        if let Some(mt) = &j.media_type {
            if !mt.starts_with("application/vnd.dev.sigstore.trustedroot") {
                return Err(malformed(format!("trusted root media type {mt:?}")));
            }
        }
        let mut root = TrustedRoot::default();
        for l in &j.tlogs {
            if let Some(k) = log(l, "transparency log")? {
                root.tlogs.push(k);
            }
        }
        for l in &j.ctlogs {
            if let Some(k) = log(l, "CT log")? {
                root.ctlogs.push(CtLogKey {
                    log_id: k.log_id,
                    key: k.key,
                    valid: k.valid,
                });
            }
        }
        for c in &j.certificate_authorities {
            root.certificate_authorities
                .push(authority(c, "certificate authority")?);
        }
        for c in &j.timestamp_authorities {
            root.timestamp_authorities
                .push(authority(c, "timestamp authority")?);
        }
        Ok(root)
    }

    /// Reads a trusted root file.
    pub fn from_file(path: &std::path::Path) -> Result<Self> {
        let data = crate::keys::read_limited(path, MAX_TRUSTED_ROOT)?;
        Self::from_json(&data).map_err(|e| match e {
            crate::Error::Malformed(m) => malformed(format!("{}: {m}", path.display())),
            other => other,
        })
    }

    /// The log with this ID.
    pub fn tlog(&self, log_id: &[u8]) -> Option<&LogKey> {
        self.tlogs.iter().find(|l| l.log_id == log_id)
    }
}
