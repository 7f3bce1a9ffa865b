//! Offline verification of a Sigstore bundle (v0.1–v0.3) over an artifact (its bytes
//! or only its SHA-256 digest), with a managed key or a Fulcio certificate identity,
//! against a trusted root. Every check must pass; the first failure is returned as
//! [`Error::Unverified`] naming it.
//!
//! Keyless: the leaf certificate chains to a trusted-root CA valid at every verified
//! time (signed entry timestamps' integrated times, RFC 3161 times), it is a
//! code-signing leaf, at least one embedded SCT verifies against a trusted CT log,
//! and its SAN and OIDC issuer match the policy. Transparency log entries must all
//! verify (body matches the bundle; SET and/or inclusion proof with signed checkpoint)
//! and, unless the policy waives it, at least one must be present.

use crate::b64;
use crate::bundle::{Bundle, Version};
use crate::error::{malformed, unverified, Error, Result};
use crate::keys::{HashAlg, PublicKey};
use crate::time::{self, Nanos};
use crate::tlog::{self, Content, Signer};
use crate::trust::TrustedRoot;
use crate::x509::{self, Cert};
use serde::Serialize;
use sha2::{Digest as _, Sha256};

/// Most log entries or timestamps looked at in one bundle.
const MAX_ENTRIES: usize = 32;

/// What was signed.
#[derive(Debug, Clone, Copy)]
pub enum Artifact<'a> {
    /// The artifact's bytes.
    Bytes(&'a [u8]),
    /// Only its SHA-256 digest.
    Sha256([u8; 32]),
}

impl Artifact<'_> {
    /// The artifact's SHA-256.
    pub fn sha256(&self) -> [u8; 32] {
        match self {
            Artifact::Bytes(b) => Sha256::digest(b).into(),
            Artifact::Sha256(d) => *d,
        }
    }

    /// Parses `sha256:<64 hex>`.
    pub fn parse_digest(s: &str) -> Option<[u8; 32]> {
        let h = s.strip_prefix("sha256:")?;
        let v = hex::decode(h).ok()?;
        v.try_into().ok()
    }
}

/// How a certificate identity is matched.
#[derive(Debug, Clone)]
pub enum Matcher {
    /// Exact string equality.
    Exact(String),
    /// The whole value must match this regular expression.
    Regex(regex::Regex),
}

impl Matcher {
    /// Builds a regular-expression matcher anchored at both ends.
    pub fn regex(re: &str) -> Result<Self> {
        regex::Regex::new(&format!("^(?:{re})$"))
            .map(Matcher::Regex)
            .map_err(|e| malformed(format!("bad regular expression {re:?}: {e}")))
    }

    /// Whether `s` matches.
    pub fn is_match(&self, s: &str) -> bool {
        match self {
            Matcher::Exact(e) => e == s,
            Matcher::Regex(r) => r.is_match(s),
        }
    }
}

impl std::fmt::Display for Matcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Matcher::Exact(s) => write!(f, "{s:?}"),
            Matcher::Regex(r) => write!(f, "/{}/", r.as_str()),
        }
    }
}

/// What must hold for a bundle to verify.
#[derive(Debug, Clone)]
pub enum Policy {
    /// Signed with this managed key.
    Key {
        /// The key.
        key: PublicKey,
        /// Require at least one transparency log entry (cosign's default).
        require_tlog: bool,
    },
    /// Signed with a certificate for this identity.
    Identity {
        /// SAN (e-mail, URI, ...).
        san: Matcher,
        /// OIDC issuer.
        issuer: Matcher,
    },
}

/// What verification established.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// Bundle media type.
    pub media_type: String,
    /// `message-signature` or `dsse`.
    pub content: &'static str,
    /// DSSE payload type, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload_type: Option<String>,
    /// in-toto predicate type, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub predicate_type: Option<String>,
    /// The verified DSSE payload (not serialised).
    #[serde(skip)]
    pub payload: Option<Vec<u8>>,
    /// `key` or `certificate`.
    pub signer: &'static str,
    /// Certificate SANs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub san: Vec<String>,
    /// Certificate OIDC issuer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// Artifact SHA-256, hex.
    pub artifact_sha256: String,
    /// Log indexes of the verified entries.
    pub tlog_entries: Vec<TlogSummary>,
    /// Verified RFC 3161 timestamps (RFC 3339).
    pub timestamps: Vec<String>,
    /// Verified SCT count.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scts: Option<usize>,
}

/// One verified log entry.
#[derive(Debug, Clone, Serialize)]
pub struct TlogSummary {
    /// Log index.
    pub log_index: i64,
    /// Kind and version.
    pub kind: String,
    /// Integrated time (RFC 3339) if a SET authenticated it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub integrated_time: Option<String>,
    /// Inclusion proof + checkpoint verified.
    pub inclusion_proof: bool,
    /// Signed entry timestamp verified.
    pub signed_entry_timestamp: bool,
}

enum Material {
    Key,
    Cert(Box<Cert>),
}

fn material(bundle: &Bundle) -> Result<Material> {
    let vm = &bundle.verification_material;
    if vm.public_key.is_some() {
        return Ok(Material::Key);
    }
    if let Some(c) = &vm.certificate {
        let der = b64::decode(&c.raw_bytes, "certificate")?;
        return Ok(Material::Cert(Box::new(Cert::from_der(&der)?)));
    }
    if let Some(chain) = &vm.x509_certificate_chain {
        // Fulcio chains are 1-3 long; each certificate is parsed and may be checked.
        if chain.certificates.len() > MAX_ENTRIES {
            return Err(malformed(format!(
                "the bundle's certificate chain has {} certificates (at most {MAX_ENTRIES})",
                chain.certificates.len()
            )));
        }
        let mut certs = Vec::new();
        for c in &chain.certificates {
            certs.push(Cert::from_der(&b64::decode(&c.raw_bytes, "certificate")?)?);
        }
        if certs.is_empty() {
            return Err(unverified("the bundle's certificate chain is empty"));
        }
        if certs.iter().any(Cert::is_self_signed) {
            return Err(unverified(
                "the bundle's certificate chain contains a root certificate; roots come only from the trusted root",
            ));
        }
        return Ok(Material::Cert(Box::new(certs.swap_remove(0))));
    }
    Err(malformed(
        "the bundle has no public key, certificate or certificate chain",
    ))
}

/// Verifies `bundle` over `artifact` under `policy` with `root`, at time `now`.
pub fn verify_bundle(
    bundle: &Bundle,
    artifact: Artifact<'_>,
    policy: &Policy,
    root: &TrustedRoot,
    now: Nanos,
) -> Result<Outcome> {
    let version = bundle.version()?;
    let digest = artifact.sha256();
    let mat = material(bundle)?;
    let (key, cert) = match (&mat, policy) {
        (Material::Key, Policy::Key { key, .. }) => (key.clone(), None),
        (Material::Key, Policy::Identity { .. }) => {
            return Err(unverified(
                "the bundle is signed with a managed key; verify it with --key",
            ))
        }
        (Material::Cert(_), Policy::Key { .. }) => {
            return Err(unverified(
                "the bundle is signed with a certificate; verify it with --certificate-identity and --certificate-oidc-issuer",
            ))
        }
        (Material::Cert(c), Policy::Identity { .. }) => (c.public_key()?, Some(&**c)),
    };

    let mut out = Outcome {
        media_type: bundle.media_type.clone(),
        content: "",
        payload_type: None,
        predicate_type: None,
        payload: None,
        signer: if cert.is_some() { "certificate" } else { "key" },
        san: Vec::new(),
        issuer: None,
        artifact_sha256: hex::encode(digest),
        tlog_entries: Vec::new(),
        timestamps: Vec::new(),
        scts: None,
    };

    // 1. The signature over the content.
    let sig: Vec<u8>;
    let dsse_payload: Vec<u8>;
    let content = match (&bundle.message_signature, &bundle.dsse_envelope) {
        (Some(ms), None) => {
            sig = b64::decode(&ms.signature, "bundle signature")?;
            if let Some(md) = &ms.message_digest {
                if md.algorithm != "SHA2_256" {
                    return Err(Error::Unsupported(format!(
                        "message digest algorithm {:?} (only SHA2_256)",
                        md.algorithm
                    )));
                }
                let d = b64::decode(&md.digest, "message digest")?;
                if d != digest {
                    return Err(unverified(
                        "the bundle's message digest does not match the artifact",
                    ));
                }
            }
            // The artifact was hashed above; only Ed25519 (no pre-hashed form) needs the
            // bytes again.
            match (artifact, &key) {
                (Artifact::Bytes(b), PublicKey::Ed25519(_)) => {
                    key.verify_with(HashAlg::Sha256, b, &sig)
                }
                _ => key.verify_prehashed(HashAlg::Sha256, &digest, &sig),
            }
            .map_err(|e| match e {
                Error::Unverified(_) => {
                    unverified("the signature does not verify over the artifact")
                }
                other => other,
            })?;
            out.content = "message-signature";
            Content::Message {
                digest: &digest,
                signature: &sig,
            }
        }
        (None, Some(env)) => {
            if env.signatures.len() != 1 {
                return Err(unverified(format!(
                    "the bundle's DSSE envelope must have exactly one signature, has {}",
                    env.signatures.len()
                )));
            }
            sig = b64::decode(&env.signatures[0].sig, "DSSE signature")?;
            dsse_payload = env.payload_bytes()?;
            key.verify(&crate::dsse::pae(&env.payload_type, &dsse_payload), &sig)
                .map_err(|_| unverified("the DSSE signature does not verify"))?;
            if env.payload_type == crate::dsse::INTOTO_PAYLOAD_TYPE {
                let st = crate::dsse::Statement::from_json(&dsse_payload)?;
                if !st.has_sha256_subject(&digest) {
                    return Err(unverified(
                        "the artifact's digest is not a subject of the in-toto statement",
                    ));
                }
                out.predicate_type = Some(st.predicate_type.clone());
            } else if Sha256::digest(&dsse_payload).as_slice() != digest {
                return Err(unverified("the DSSE payload is not the artifact"));
            }
            out.content = "dsse";
            out.payload_type = Some(env.payload_type.clone());
            out.payload = Some(dsse_payload.clone());
            Content::Dsse {
                payload_type: &env.payload_type,
                payload: &dsse_payload,
                signature: &sig,
            }
        }
        (Some(_), Some(_)) => {
            return Err(malformed(
                "the bundle has both a message signature and a DSSE envelope",
            ))
        }
        (None, None) => {
            return Err(malformed(
                "the bundle has neither a message signature nor a DSSE envelope",
            ))
        }
    };

    // 2. Transparency log entries.
    let vm = &bundle.verification_material;
    if vm.tlog_entries.len() > MAX_ENTRIES {
        return Err(malformed("the bundle has too many log entries"));
    }
    let signer = match cert {
        Some(c) => Signer::Cert(c),
        None => Signer::Key(&key),
    };
    let mut times: Vec<Nanos> = Vec::new();
    for e in &vm.tlog_entries {
        let v = tlog::verify_entry(
            e,
            root,
            content,
            signer,
            version >= Version::V02,
            version == Version::V01,
        )?;
        if let Some(t) = v.integrated_time {
            let tn = time::from_secs(t);
            if tn > now {
                return Err(unverified(format!(
                    "the log entry's integrated time {} is in the future",
                    time::format(tn)
                )));
            }
            times.push(tn);
        }
        out.tlog_entries.push(TlogSummary {
            log_index: v.log_index,
            kind: format!("{} {}", e.kind_version.kind, e.kind_version.version),
            integrated_time: v.integrated_time.map(|t| time::format(time::from_secs(t))),
            inclusion_proof: v.inclusion_proof,
            signed_entry_timestamp: v.set,
        });
    }
    let require_tlog = match policy {
        Policy::Key { require_tlog, .. } => *require_tlog,
        Policy::Identity { .. } => true,
    };
    if require_tlog && vm.tlog_entries.is_empty() {
        return Err(unverified("the bundle has no transparency log entry"));
    }

    // 3. RFC 3161 timestamps.
    if let Some(tvd) = &vm.timestamp_verification_data {
        if tvd.rfc3161_timestamps.len() > MAX_ENTRIES {
            return Err(malformed("the bundle has too many timestamps"));
        }
        for ts in &tvd.rfc3161_timestamps {
            let der = b64::decode(&ts.signed_timestamp, "RFC 3161 timestamp")?;
            let v = crate::tsa::verify(&der, &sig, &root.timestamp_authorities)?;
            if v.time > now {
                return Err(unverified("the RFC 3161 timestamp is in the future"));
            }
            times.push(v.time);
            out.timestamps.push(time::format(v.time));
        }
    }

    // 4. The certificate: chain at every verified time, leaf profile, SCTs, identity.
    if let (Some(c), Policy::Identity { san, issuer }) = (cert, policy) {
        if times.is_empty() {
            return Err(unverified(
                "no verified signing time (no signed entry timestamp or RFC 3161 timestamp) to check the certificate at",
            ));
        }
        let issuing = x509::verify_chain(c, &root.certificate_authorities, &times)?;
        c.check_code_signing_leaf()?;
        out.scts = Some(x509::verify_scts(c, issuing, &root.ctlogs)?);
        let sans = c.san_identities()?;
        if !sans.iter().any(|s| san.is_match(s)) {
            return Err(unverified(format!(
                "certificate identity {sans:?} does not match the expected {san}"
            )));
        }
        let iss = c.fulcio_issuer()?;
        match &iss {
            Some(i) if issuer.is_match(i) => {}
            Some(i) => {
                return Err(unverified(format!(
                    "certificate OIDC issuer {i:?} does not match the expected {issuer}"
                )))
            }
            None => return Err(unverified("the certificate has no OIDC issuer extension")),
        }
        out.san = sans;
        out.issuer = iss;
    }
    Ok(out)
}
