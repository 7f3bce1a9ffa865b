//! Signing, as the image commands call it: a cosign simple-signing signature over an
//! image's manifest digest (payload bytes, raw signature, and a Sigstore bundle v0.3
//! carrying the managed-key signature), and attestations (an in-toto Statement v1
//! about the image in a DSSE envelope, also as a bundle). Nothing here uploads to a
//! transparency log: the bundles carry no log entries and verify with a key under
//! `Policy::Key { require_tlog: false, .. }`.

use crate::b64;
use crate::bundle::{
    Bundle, Envelope, HashOutput, MessageSignature, PublicKeyIdentifier, VerificationMaterial,
};
use crate::dsse::{Statement, INTOTO_PAYLOAD_TYPE};
use crate::error::{malformed, Result};
use crate::keys::PrivateKey;
use sha2::{Digest as _, Sha256};
use std::collections::BTreeMap;

/// The v0.3 bundle media type bulwark writes.
pub const BUNDLE_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";

/// A signature over an image.
#[derive(Debug, Clone)]
pub struct ImageSignature {
    /// The simple-signing payload bytes (the blob of a legacy `.sig` layer).
    pub payload: Vec<u8>,
    /// The raw signature over the payload.
    pub signature: Vec<u8>,
    /// The signature base64-encoded (the `dev.cosignproject.cosign/signature` value).
    pub signature_b64: String,
    /// A Sigstore bundle v0.3 with a message signature over the payload.
    pub bundle: Bundle,
}

/// A key-based Sigstore bundle v0.3 for `key` carrying one of a message signature or a
/// DSSE envelope; the public-key hint is the SHA-256 of the key's SPKI.
fn key_bundle(
    key: &PrivateKey,
    message_signature: Option<MessageSignature>,
    dsse_envelope: Option<Envelope>,
) -> Result<Bundle> {
    let hint = b64::encode(&Sha256::digest(key.public_key().to_spki_der()?));
    Ok(Bundle {
        media_type: BUNDLE_MEDIA_TYPE.into(),
        verification_material: VerificationMaterial {
            public_key: Some(PublicKeyIdentifier { hint: Some(hint) }),
            ..Default::default()
        },
        message_signature,
        dsse_envelope,
    })
}

/// Signs image `manifest_digest` (`sha256:<hex>`) for repository `docker_reference`.
pub fn sign_image(
    manifest_digest: &str,
    docker_reference: &str,
    annotations: &BTreeMap<String, String>,
    key: &PrivateKey,
) -> Result<ImageSignature> {
    let payload = crate::simple_signing::build(docker_reference, manifest_digest, annotations)?;
    let signature = key.sign(&payload)?;
    let signature_b64 = b64::encode(&signature);
    let bundle = key_bundle(
        key,
        Some(MessageSignature {
            message_digest: Some(HashOutput {
                algorithm: "SHA2_256".into(),
                digest: b64::encode(&Sha256::digest(&payload)),
            }),
            signature: signature_b64.clone(),
        }),
        None,
    )?;
    Ok(ImageSignature {
        signature_b64,
        payload,
        signature,
        bundle,
    })
}

/// An attestation over an image.
#[derive(Debug, Clone)]
pub struct Attestation {
    /// The statement.
    pub statement: Statement,
    /// The DSSE envelope (the blob of a legacy `.att` layer).
    pub envelope: Envelope,
    /// A Sigstore bundle v0.3 carrying the envelope.
    pub bundle: Bundle,
}

/// Wraps `predicate` in an in-toto Statement v1 whose subject is the image digest, and
/// signs it into a DSSE envelope.
pub fn attest_image(
    manifest_digest: &str,
    subject_name: Option<&str>,
    predicate_type: &str,
    predicate: serde_json::Value,
    key: &PrivateKey,
) -> Result<Attestation> {
    let statement = Statement::for_image(subject_name, manifest_digest, predicate_type, predicate)?;
    let body = serde_json::to_vec(&statement)
        .map_err(|e| malformed(format!("encoding statement: {e}")))?;
    let envelope = Envelope::sign(INTOTO_PAYLOAD_TYPE, &body, key)?;
    let bundle = key_bundle(key, None, Some(envelope.clone()))?;
    Ok(Attestation {
        statement,
        envelope,
        bundle,
    })
}
