//! cosign's legacy signature layout, one layer at a time: a layer of media type
//! `application/vnd.dev.cosign.simplesigning.v1+json` whose blob is the payload and
//! whose annotations carry the signature, optionally a certificate and chain, and a
//! Rekor "bundle" (signed entry timestamp). Verifies the signature over the exact
//! payload bytes, the Rekor SET and that its entry matches, the certificate path to
//! the given roots at the signing time and its identity, then the payload against the
//! image (digest, reference, annotations).

use crate::b64;
use crate::error::{malformed, unverified, Result};
use crate::keys::PublicKey;
use crate::simple_signing::{self, Expectation, Payload, SIMPLE_SIGNING_MEDIA_TYPE};
use crate::time::{self, Nanos};
use crate::tlog::{Content, Signer};
use crate::verify::Matcher;
use crate::x509::Cert;
use serde::Deserialize;
use sha2::{Digest as _, Sha256};
use std::collections::BTreeMap;

/// Signature annotation (base64).
pub const ANN_SIGNATURE: &str = "dev.cosignproject.cosign/signature";
/// Leaf certificate annotation (PEM).
pub const ANN_CERTIFICATE: &str = "dev.sigstore.cosign/certificate";
/// Chain annotation (PEM).
pub const ANN_CHAIN: &str = "dev.sigstore.cosign/chain";
/// Rekor bundle annotation (JSON).
pub const ANN_BUNDLE: &str = "dev.sigstore.cosign/bundle";

/// Most certificates taken from a layer's chain annotation.
const MAX_CHAIN: usize = 16;

/// One signature layer.
#[derive(Debug, Clone)]
pub struct SignatureLayer {
    /// The layer's media type.
    pub media_type: String,
    /// The blob: the payload bytes as stored.
    pub payload: Vec<u8>,
    /// The layer descriptor's annotations.
    pub annotations: BTreeMap<String, String>,
}

/// Who may have signed.
#[derive(Debug, Clone)]
pub enum Verifier {
    /// A public key.
    Key(PublicKey),
    /// A certificate issued under `roots` (intermediates may come from the layer's
    /// chain annotation or `intermediates`), optionally for an identity.
    Certificate {
        /// Trust anchors.
        roots: Vec<Cert>,
        /// Extra intermediates.
        intermediates: Vec<Cert>,
        /// Required SAN.
        san: Option<Matcher>,
        /// Required OIDC issuer (Fulcio extension).
        issuer: Option<Matcher>,
    },
}

/// Options for layer verification.
#[derive(Debug, Clone)]
pub struct Options {
    /// Rekor public keys the SET may be signed with.
    pub rekor_keys: Vec<PublicKey>,
    /// Require a verified Rekor SET.
    pub require_tlog: bool,
    /// The current time (certificates without a Rekor time are checked at it).
    pub now: Nanos,
}

/// What a verified layer established.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The payload.
    pub payload: Payload,
    /// Rekor integrated time, if a SET verified.
    pub integrated_time: Option<i64>,
    /// Certificate SANs, if certificate-signed.
    pub san: Vec<String>,
}

#[derive(Deserialize)]
struct LegacyBundle {
    #[serde(rename = "SignedEntryTimestamp")]
    set: String,
    #[serde(rename = "Payload")]
    payload: LegacyPayload,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LegacyPayload {
    body: String,
    integrated_time: i64,
    log_index: i64,
    #[serde(rename = "logID")]
    log_id: String,
}

/// Verifies a legacy Rekor bundle (SET) for a message signature: the SET signature by
/// one of `rekor_keys` (chosen by log ID), and the entry body matching the payload
/// digest, signature and signer. Returns the integrated time.
pub fn verify_legacy_rekor_bundle(
    json: &str,
    payload: &[u8],
    signature: &[u8],
    signer: Signer<'_>,
    rekor_keys: &[PublicKey],
) -> Result<i64> {
    let b: LegacyBundle = serde_json::from_str(json)
        .map_err(|e| malformed(format!("Rekor bundle annotation: {e}")))?;
    let body = b64::decode(&b.payload.body, "Rekor bundle body")?;
    let canonical = format!(
        "{{\"body\":\"{}\",\"integratedTime\":{},\"logID\":\"{}\",\"logIndex\":{}}}",
        b.payload.body, b.payload.integrated_time, b.payload.log_id, b.payload.log_index
    );
    let set = b64::decode(&b.set, "SignedEntryTimestamp")?;
    let mut ok = false;
    for k in rekor_keys {
        if k.fingerprint()? != b.payload.log_id.to_ascii_lowercase() {
            continue;
        }
        if k.verify(canonical.as_bytes(), &set).is_ok() {
            ok = true;
            break;
        }
    }
    if !ok {
        return Err(unverified(
            "the Rekor signed entry timestamp does not verify with a trusted Rekor key",
        ));
    }
    let v: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| unverified(format!("Rekor entry body is not JSON: {e}")))?;
    let kind = v.get("kind").and_then(|k| k.as_str()).unwrap_or_default();
    let version = v
        .get("apiVersion")
        .and_then(|k| k.as_str())
        .unwrap_or_default();
    let digest: [u8; 32] = Sha256::digest(payload).into();
    crate::tlog::check_body(
        &body,
        kind,
        version,
        Content::Message {
            digest: &digest,
            signature,
        },
        signer,
    )?;
    Ok(b.payload.integrated_time)
}

/// Finds a path from `leaf` to one of `roots` through `pool`, every certificate valid
/// at `t` and every issuer a CA.
pub fn verify_path(leaf: &Cert, pool: &[Cert], roots: &[Cert], t: Nanos) -> Result<()> {
    if !leaf.valid_at(t) {
        let (nb, na) = leaf.validity();
        return Err(unverified(format!(
            "the signing certificate (valid {} to {}) was not valid at {}",
            time::format(nb),
            time::format(na),
            time::format(t)
        )));
    }
    let mut cur = leaf.clone();
    for _ in 0..8 {
        for r in roots {
            if r.valid_at(t)
                && r.public_key()
                    .and_then(|k| cur.verify_signed_by(&k))
                    .is_ok()
            {
                return Ok(());
            }
        }
        // Names first: a signature is checked only on a CA that could have issued it.
        let next = pool.iter().find(|c| {
            c.cert.tbs_certificate.subject == cur.cert.tbs_certificate.issuer
                && c.is_ca()
                && c.valid_at(t)
                && *c != &cur
                && c.public_key()
                    .and_then(|k| cur.verify_signed_by(&k))
                    .is_ok()
        });
        match next {
            Some(n) => cur = n.clone(),
            None => break,
        }
    }
    Err(unverified(
        "the signing certificate does not chain to a trusted root",
    ))
}

/// Verifies one signature layer for the image described by `want`.
pub fn verify_layer(
    layer: &SignatureLayer,
    verifier: &Verifier,
    want: &Expectation,
    opts: &Options,
) -> Result<Verified> {
    if layer.media_type != SIMPLE_SIGNING_MEDIA_TYPE {
        return Err(unverified(format!(
            "not a signature layer (media type {})",
            layer.media_type
        )));
    }
    let sig_b64 = layer
        .annotations
        .get(ANN_SIGNATURE)
        .ok_or_else(|| unverified("the layer has no signature annotation"))?;
    let sig = b64::decode_wrapped(sig_b64, "signature annotation")?;
    let cert = match verifier {
        Verifier::Key(_) => None,
        Verifier::Certificate { .. } => {
            let pem = layer
                .annotations
                .get(ANN_CERTIFICATE)
                .ok_or_else(|| unverified("the signature has no certificate"))?;
            let mut certs = Cert::from_pem_chain(pem)?;
            Some(certs.swap_remove(0))
        }
    };
    let key = match (verifier, &cert) {
        (Verifier::Key(k), _) => k.clone(),
        (_, Some(c)) => c.public_key()?,
        _ => return Err(unverified("no key to verify with")),
    };
    key.verify(&layer.payload, &sig)
        .map_err(|_| unverified("the signature does not verify over the payload"))?;
    let signer = match &cert {
        Some(c) => Signer::Cert(c),
        None => Signer::Key(&key),
    };
    let integrated_time = match layer.annotations.get(ANN_BUNDLE) {
        Some(b) => Some(verify_legacy_rekor_bundle(
            b,
            &layer.payload,
            &sig,
            signer,
            &opts.rekor_keys,
        )?),
        None if opts.require_tlog => {
            return Err(unverified(
                "the signature has no Rekor bundle (transparency log proof)",
            ))
        }
        None => None,
    };
    let mut san = Vec::new();
    if let (
        Some(c),
        Verifier::Certificate {
            roots,
            intermediates,
            san: want_san,
            issuer,
        },
    ) = (&cert, verifier)
    {
        let t = integrated_time.map(time::from_secs).unwrap_or(opts.now);
        if t > opts.now {
            return Err(unverified(format!(
                "the Rekor integrated time {} is in the future",
                time::format(t)
            )));
        }
        let mut pool = intermediates.clone();
        if let Some(chain) = layer.annotations.get(ANN_CHAIN) {
            let certs = Cert::from_pem_chain(chain)?;
            // The chain annotation comes from the registry: real ones hold 1-3 CAs.
            if certs.len() > MAX_CHAIN {
                return Err(malformed(format!(
                    "the {ANN_CHAIN} annotation holds {} certificates (at most {MAX_CHAIN})",
                    certs.len()
                )));
            }
            pool.extend(certs);
        }
        verify_path(c, &pool, roots, t)?;
        san = c.san_identities()?;
        if let Some(m) = want_san {
            if !san.iter().any(|s| m.is_match(s)) {
                return Err(unverified(format!(
                    "certificate identity {san:?} does not match the expected {m}"
                )));
            }
        }
        if let Some(m) = issuer {
            match c.fulcio_issuer()? {
                Some(i) if m.is_match(&i) => {}
                other => {
                    return Err(unverified(format!(
                        "certificate OIDC issuer {other:?} does not match the expected {m}"
                    )))
                }
            }
        }
    }
    let payload = Payload::parse(&layer.payload)?;
    simple_signing::check(&payload, want)?;
    Ok(Verified {
        payload,
        integrated_time,
        san,
    })
}
