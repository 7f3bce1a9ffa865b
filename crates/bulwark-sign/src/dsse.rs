//! DSSE (Dead Simple Signing Envelope) and in-toto Statements: the pre-authentication
//! encoding (PAE), envelope verification with a key, and Statement v0.1 / v1 parsing
//! with subject digest checks. Envelope signatures are accepted in every encoding the
//! key type allows (ECDSA DER or raw r||s, RSA PKCS#1 v1.5 or PSS, Ed25519).

use crate::b64;
use crate::bundle::{Envelope, EnvelopeSignature};
use crate::error::{malformed, unverified, Result};
use crate::keys::{PrivateKey, PublicKey};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The in-toto payload type.
pub const INTOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// in-toto Statement v1.
pub const STATEMENT_V1: &str = "https://in-toto.io/Statement/v1";
/// in-toto Statement v0.1 (cosign attestations).
pub const STATEMENT_V01: &str = "https://in-toto.io/Statement/v0.1";
/// Largest envelope accepted.
pub const MAX_ENVELOPE: usize = 32 << 20;

/// `"DSSEv1" SP len(type) SP type SP len(body) SP body`.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + payload_type.len() + 32);
    out.extend_from_slice(b"DSSEv1 ");
    out.extend_from_slice(payload_type.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload_type.as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload);
    out
}

impl Envelope {
    /// Parses envelope JSON.
    pub fn from_json(data: &[u8]) -> Result<Self> {
        if data.len() > MAX_ENVELOPE {
            return Err(malformed("DSSE envelope is larger than 32 MiB"));
        }
        serde_json::from_slice(data).map_err(|e| malformed(format!("not a DSSE envelope: {e}")))
    }

    /// Verifies that at least one signature verifies over the PAE with `key`; returns
    /// the payload.
    pub fn verify(&self, key: &PublicKey) -> Result<Vec<u8>> {
        let payload = self.payload_bytes()?;
        let msg = pae(&self.payload_type, &payload);
        if self.signatures.is_empty() {
            return Err(unverified("DSSE envelope has no signatures"));
        }
        for s in &self.signatures {
            let Ok(sig) = b64::decode(&s.sig, "DSSE signature") else {
                continue;
            };
            if key.verify(&msg, &sig).is_ok() {
                return Ok(payload);
            }
        }
        Err(unverified("no DSSE signature verifies with the key"))
    }

    /// Signs `payload` into a new envelope with one signature.
    pub fn sign(payload_type: &str, payload: &[u8], key: &PrivateKey) -> Result<Self> {
        let sig = key.sign(&pae(payload_type, payload))?;
        Ok(Envelope {
            payload: b64::encode(payload),
            payload_type: payload_type.to_string(),
            signatures: vec![EnvelopeSignature {
                sig: b64::encode(&sig),
                keyid: None,
            }],
        })
    }
}

/// An in-toto Statement (v0.1 or v1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Statement {
    /// `https://in-toto.io/Statement/v1` or `/v0.1`.
    #[serde(rename = "_type")]
    pub type_: String,
    /// What the statement is about.
    pub subject: Vec<Subject>,
    /// Predicate type URI.
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    /// Predicate (any JSON).
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub predicate: serde_json::Value,
}

/// A statement subject.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subject {
    /// Name (optional; cosign v3 leaves it out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Digests by algorithm (`sha256` → hex).
    pub digest: BTreeMap<String, String>,
}

impl Statement {
    /// Parses a statement and checks its type.
    pub fn from_json(data: &[u8]) -> Result<Self> {
        let s: Statement = serde_json::from_slice(data)
            .map_err(|e| malformed(format!("not an in-toto Statement: {e}")))?;
        if s.type_ != STATEMENT_V1 && s.type_ != STATEMENT_V01 {
            return Err(malformed(format!(
                "unknown in-toto Statement type {:?}",
                s.type_
            )));
        }
        Ok(s)
    }

    /// Whether some subject has this SHA-256 digest.
    pub fn has_sha256_subject(&self, digest: &[u8; 32]) -> bool {
        let want = hex::encode(digest);
        self.subject.iter().any(|s| {
            s.digest
                .get("sha256")
                .is_some_and(|d| d.eq_ignore_ascii_case(&want))
        })
    }

    /// A v1 statement about one image (`sha256:<hex>` manifest digest).
    pub fn for_image(
        name: Option<&str>,
        manifest_digest: &str,
        predicate_type: &str,
        predicate: serde_json::Value,
    ) -> Result<Self> {
        let hexd = manifest_digest
            .strip_prefix("sha256:")
            .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| malformed(format!("not a sha256 digest: {manifest_digest}")))?;
        Ok(Statement {
            type_: STATEMENT_V1.into(),
            subject: vec![Subject {
                name: name.map(str::to_string),
                digest: BTreeMap::from([("sha256".to_string(), hexd.to_ascii_lowercase())]),
            }],
            predicate_type: predicate_type.to_string(),
            predicate,
        })
    }
}
