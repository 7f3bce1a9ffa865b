//! The Sigstore bundle (protobuf-specs `dev.sigstore.bundle.v1.Bundle`, JSON form),
//! versions 0.1, 0.2 and 0.3 under every media type they were published with, and
//! the DSSE envelope. Written as serde structs because no maintained Rust crate
//! carries these types without pulling in a protobuf runtime.

use crate::b64;
use crate::error::{malformed, Error, Result};
use serde::{Deserialize, Deserializer, Serialize};

/// Largest bundle accepted (real ones are a few KiB; a DSSE payload may be larger).
pub const MAX_BUNDLE: u64 = 32 << 20;

/// Bundle format version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Version {
    /// 0.1
    V01,
    /// 0.2
    V02,
    /// 0.3
    V03,
}

/// Protobuf JSON writes 64-bit integers as strings; accept both forms.
fn de_i64<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<i64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum N {
        S(String),
        I(i64),
    }
    match N::deserialize(d)? {
        N::I(i) => Ok(i),
        N::S(s) => s.parse().map_err(serde::de::Error::custom),
    }
}

fn de_opt_i64<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<i64>, D::Error> {
    de_i64(d).map(Some)
}

fn ser_i64<S: serde::Serializer>(v: &i64, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&v.to_string())
}

fn ser_opt_i64<S: serde::Serializer>(
    v: &Option<i64>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.serialize_str(&v.to_string()),
        None => s.serialize_none(),
    }
}

/// A bundle.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Bundle {
    /// Media type naming the version.
    pub media_type: String,
    /// Keys/certificates, log entries, timestamps.
    pub verification_material: VerificationMaterial,
    /// A signature over an artifact digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_signature: Option<MessageSignature>,
    /// A DSSE envelope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dsse_envelope: Option<Envelope>,
}

/// `{"rawBytes": base64}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RawBytes {
    /// Base64 DER.
    pub raw_bytes: String,
}

/// Verification material.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerificationMaterial {
    /// A managed public key (identified by a hint only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<PublicKeyIdentifier>,
    /// A certificate chain (v0.1, v0.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x509_certificate_chain: Option<CertificateChain>,
    /// A single leaf certificate (v0.3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<RawBytes>,
    /// Transparency log entries.
    #[serde(default)]
    pub tlog_entries: Vec<TlogEntry>,
    /// RFC 3161 timestamps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_verification_data: Option<TimestampVerificationData>,
}

/// Public key hint.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublicKeyIdentifier {
    /// Hint (free text, usually a key fingerprint).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

/// Certificate chain.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateChain {
    /// Leaf first.
    #[serde(default)]
    pub certificates: Vec<RawBytes>,
}

/// RFC 3161 timestamps.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TimestampVerificationData {
    /// The timestamps.
    #[serde(default)]
    pub rfc3161_timestamps: Vec<Rfc3161Timestamp>,
}

/// One timestamp.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rfc3161Timestamp {
    /// Base64 DER TimeStampResp (or bare TimeStampToken).
    pub signed_timestamp: String,
}

/// A transparency log entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TlogEntry {
    /// Index in the log.
    #[serde(deserialize_with = "de_i64", serialize_with = "ser_i64")]
    pub log_index: i64,
    /// Log identity.
    pub log_id: LogId,
    /// Entry kind and version.
    pub kind_version: KindVersion,
    /// Seconds since the epoch (Rekor v1; absent or 0 in Rekor v2).
    #[serde(
        default,
        deserialize_with = "de_opt_i64",
        serialize_with = "ser_opt_i64",
        skip_serializing_if = "Option::is_none"
    )]
    pub integrated_time: Option<i64>,
    /// Signed entry timestamp.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inclusion_promise: Option<InclusionPromise>,
    /// Merkle inclusion proof.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inclusion_proof: Option<InclusionProof>,
    /// Base64 of the canonical entry body.
    pub canonicalized_body: String,
}

/// Log ID.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogId {
    /// Base64 key ID.
    pub key_id: String,
}

/// Kind and version.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KindVersion {
    /// `hashedrekord`, `dsse`, `intoto`, ...
    pub kind: String,
    /// `0.0.1`, `0.0.2`.
    pub version: String,
}

/// Signed entry timestamp.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InclusionPromise {
    /// Base64 signature.
    pub signed_entry_timestamp: String,
}

/// Inclusion proof.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InclusionProof {
    /// Leaf index in the tree (may differ from the entry's log index on sharded logs).
    #[serde(deserialize_with = "de_i64", serialize_with = "ser_i64")]
    pub log_index: i64,
    /// Base64 root hash.
    pub root_hash: String,
    /// Tree size.
    #[serde(deserialize_with = "de_i64", serialize_with = "ser_i64")]
    pub tree_size: i64,
    /// Base64 audit path.
    #[serde(default)]
    pub hashes: Vec<String>,
    /// Signed checkpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<Checkpoint>,
}

/// Signed checkpoint (signed-note text).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Checkpoint {
    /// The note.
    pub envelope: String,
}

/// Message signature.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageSignature {
    /// Digest hint (not authenticated, but must match the artifact).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_digest: Option<HashOutput>,
    /// Base64 signature.
    pub signature: String,
}

/// A digest.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HashOutput {
    /// `SHA2_256`, ...
    pub algorithm: String,
    /// Base64 digest.
    pub digest: String,
}

/// DSSE envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope {
    /// Base64 payload.
    pub payload: String,
    /// Payload type.
    pub payload_type: String,
    /// Signatures.
    #[serde(default)]
    pub signatures: Vec<EnvelopeSignature>,
}

/// One DSSE signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvelopeSignature {
    /// Base64 signature.
    pub sig: String,
    /// Optional key ID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyid: Option<String>,
}

impl Bundle {
    /// Parses bundle JSON (bounded by [`MAX_BUNDLE`]).
    pub fn from_json(data: &[u8]) -> Result<Self> {
        if data.len() as u64 > MAX_BUNDLE {
            return Err(malformed("bundle is larger than 32 MiB"));
        }
        serde_json::from_slice(data)
            .map_err(|e| malformed(format!("bundle is not valid bundle JSON: {e}")))
    }

    /// The bundle version from its media type.
    pub fn version(&self) -> Result<Version> {
        match self.media_type.as_str() {
            "application/vnd.dev.sigstore.bundle+json;version=0.1"
            | "application/vnd.dev.sigstore.bundle.v0.1+json" => Ok(Version::V01),
            "application/vnd.dev.sigstore.bundle+json;version=0.2"
            | "application/vnd.dev.sigstore.bundle.v0.2+json" => Ok(Version::V02),
            "application/vnd.dev.sigstore.bundle+json;version=0.3"
            | "application/vnd.dev.sigstore.bundle.v0.3+json" => Ok(Version::V03),
            other => Err(Error::Unsupported(format!("bundle media type {other:?}"))),
        }
    }

    /// JSON text (the v0.3 media type's canonical field names).
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string(self).map_err(|e| malformed(format!("encoding bundle: {e}")))
    }
}

impl Envelope {
    /// The decoded payload.
    pub fn payload_bytes(&self) -> Result<Vec<u8>> {
        b64::decode(&self.payload, "DSSE payload")
    }
}
