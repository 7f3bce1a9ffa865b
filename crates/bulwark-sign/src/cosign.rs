//! cosign's legacy signature layout, one layer at a time: a layer of media type
//! `application/vnd.dev.cosign.simplesigning.v1+json` whose blob is the payload and
//! whose annotations carry the signature, optionally a certificate and chain, and a
//! Rekor "bundle" (signed entry timestamp). Verifies the signature over the exact
//! payload bytes, the Rekor SET (by a log key valid at the entry's integrated time) and
//! that its entry matches, the certificate path at the signing time and its identity,
//! then the payload against the image (digest, reference, annotations).
//!
//! Keyless signatures are checked against a Sigstore trusted root
//! ([`Verifier::TrustedRoot`]) exactly as bundles are in [`crate::verify`]: the chain
//! through a Fulcio authority whose `validFor` window holds the signing time, the
//! code-signing leaf profile, and at least one SCT from a CT log of the root.
//! [`Verifier::Certificate`] is for private PKIs (plain roots and intermediates, no CT).

use crate::b64;
use crate::error::{malformed, unverified, Result};
use crate::keys::PublicKey;
use crate::simple_signing::{self, Expectation, Payload, SIMPLE_SIGNING_MEDIA_TYPE};
use crate::time::{self, Nanos};
use crate::tlog::{Content, Signer};
use crate::trust::{LogKey, TrustedRoot};
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
    /// A Fulcio certificate under a Sigstore trusted root, for an identity: the chain
    /// through one of the root's certificate authorities (its `validFor` window must
    /// hold the signing time; the layer's chain annotation is not trusted), the
    /// code-signing profile, and an SCT from one of the root's CT logs. The Rekor SET
    /// is checked against the root's transparency logs, each within its window.
    TrustedRoot {
        /// The trusted root.
        root: Box<TrustedRoot>,
        /// Required SAN.
        san: Matcher,
        /// Required OIDC issuer (Fulcio extension).
        issuer: Matcher,
    },
    /// A certificate issued under `roots` (intermediates may come from the layer's
    /// chain annotation or `intermediates`), optionally for an identity: a private
    /// PKI, with no certificate-transparency check.
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
    /// Rekor log keys the SET may be signed with (each valid within its window at the
    /// entry's integrated time; [`LogKey::unbounded`] for a bare key). Ignored by
    /// [`Verifier::TrustedRoot`], which uses its root's logs.
    pub rekor_keys: Vec<LogKey>,
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
/// one of `rekor_keys` (chosen by log ID) whose window holds the integrated time, and
/// the entry body matching the payload digest, signature and signer. Returns the
/// integrated time.
pub fn verify_legacy_rekor_bundle(
    json: &str,
    payload: &[u8],
    signature: &[u8],
    signer: Signer<'_>,
    rekor_keys: &[LogKey],
) -> Result<i64> {
    let b: LegacyBundle = serde_json::from_str(json)
        .map_err(|e| malformed(format!("Rekor bundle annotation: {e}")))?;
    let body = b64::decode(&b.payload.body, "Rekor bundle body")?;
    let canonical = format!(
        "{{\"body\":\"{}\",\"integratedTime\":{},\"logID\":\"{}\",\"logIndex\":{}}}",
        b.payload.body, b.payload.integrated_time, b.payload.log_id, b.payload.log_index
    );
    let set = b64::decode(&b.set, "SignedEntryTimestamp")?;
    let signed_by = rekor_keys.iter().find(|k| {
        k.key
            .fingerprint()
            .is_ok_and(|f| f == b.payload.log_id.to_ascii_lowercase())
            && k.key.verify(canonical.as_bytes(), &set).is_ok()
    });
    let Some(log) = signed_by else {
        return Err(unverified(
            "the Rekor signed entry timestamp does not verify with a trusted Rekor key",
        ));
    };
    let t = time::from_secs(b.payload.integrated_time);
    if !log.valid_at(t) {
        return Err(unverified(format!(
            "the Rekor key that signed the entry timestamp was not valid at its integrated time {}",
            time::format(t)
        )));
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
        Verifier::Certificate { .. } | Verifier::TrustedRoot { .. } => {
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
    let rekor_keys = match verifier {
        Verifier::TrustedRoot { root, .. } => &root.tlogs,
        _ => &opts.rekor_keys,
    };
    let require_tlog = opts.require_tlog || matches!(verifier, Verifier::TrustedRoot { .. });
    let integrated_time = match layer.annotations.get(ANN_BUNDLE) {
        Some(b) => Some(verify_legacy_rekor_bundle(
            b,
            &layer.payload,
            &sig,
            signer,
            rekor_keys,
        )?),
        None if require_tlog => {
            return Err(unverified(
                "the signature has no Rekor bundle (transparency log proof)",
            ))
        }
        None => None,
    };
    let mut san = Vec::new();
    if let (
        Some(c),
        Verifier::TrustedRoot {
            root,
            san: want_san,
            issuer,
        },
    ) = (&cert, verifier)
    {
        // Keyless: the SET's integrated time is the only signing time a legacy layer
        // carries, and require_tlog above made sure there is one.
        let t = integrated_time
            .map(time::from_secs)
            .ok_or_else(|| unverified("no verified signing time to check the certificate at"))?;
        if t > opts.now {
            return Err(unverified(format!(
                "the Rekor integrated time {} is in the future",
                time::format(t)
            )));
        }
        let issuing = crate::x509::verify_chain(c, &root.certificate_authorities, &[t])?;
        c.check_code_signing_leaf()?;
        crate::x509::verify_scts(c, issuing, &root.ctlogs)?;
        san = c.san_identities()?;
        if !san.iter().any(|s| want_san.is_match(s)) {
            return Err(unverified(format!(
                "certificate identity {san:?} does not match the expected {want_san}"
            )));
        }
        match c.fulcio_issuer()? {
            Some(i) if issuer.is_match(&i) => {}
            other => {
                return Err(unverified(format!(
                    "certificate OIDC issuer {other:?} does not match the expected {issuer}"
                )))
            }
        }
    }
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
