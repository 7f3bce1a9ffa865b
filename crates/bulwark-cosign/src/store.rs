//! Writing signatures and attestations next to an image, in both layouts cosign uses.
//!
//! * **Legacy tag** `sha256-<hex>.sig` (signatures) or `.att` (attestations): an OCI
//!   image manifest whose layers are the signed blobs — simple-signing payloads
//!   (`application/vnd.dev.cosign.simplesigning.v1+json`, annotation
//!   `dev.cosignproject.cosign/signature`) or DSSE envelopes
//!   (`application/vnd.dsse.envelope.v1+json`, annotation `predicateType`). A new
//!   signature is appended to the manifest already under the tag (cosign does the
//!   same), with a config listing the layer digests as `rootfs.diff_ids`.
//! * **Referrer**: an OCI 1.1 artifact manifest, `artifactType`
//!   `application/vnd.dev.sigstore.bundle.v0.3+json`, the empty config, `subject` = the
//!   image, first layer = the Sigstore bundle v0.3, annotations
//!   `dev.sigstore.bundle.content` (`message-signature` or `dsse-envelope`) and
//!   `dev.sigstore.bundle.predicateType`. A message-signature bundle signs the
//!   simple-signing payload, which is stored as the second layer so that verifiers
//!   check the exact bytes. Registries without the referrers API get the OCI 1.1 tag
//!   schema (`sha256-<hex>`), layouts the same index in `index.json`.

use crate::error::{malformed, Result};
use crate::location::{parse_manifest, Image, Location};
use bulwark_image::oci::{self, Descriptor, MT_EMPTY, MT_OCI_MANIFEST};
use bulwark_sign::cosign::ANN_SIGNATURE;
use bulwark_sign::sign::BUNDLE_MEDIA_TYPE;
use bulwark_sign::simple_signing::SIMPLE_SIGNING_MEDIA_TYPE;
use bulwark_sign::PrivateKey;
use serde_json::json;
use std::collections::BTreeMap;

/// Media type of a legacy attestation layer (a DSSE envelope).
pub const DSSE_MEDIA_TYPE: &str = "application/vnd.dsse.envelope.v1+json";
/// Annotation of a legacy attestation layer naming its predicate type.
pub const ANN_PREDICATE_TYPE: &str = "predicateType";
/// Referrer annotation: what the bundle holds.
pub const ANN_BUNDLE_CONTENT: &str = "dev.sigstore.bundle.content";
/// Referrer annotation: the predicate type of a DSSE bundle.
pub const ANN_BUNDLE_PREDICATE: &str = "dev.sigstore.bundle.predicateType";
/// cosign v3's predicate type for image signatures in DSSE bundles.
pub const COSIGN_SIGN_PREDICATE: &str = "https://sigstore.dev/cosign/sign/v1";
/// The predicate type bulwark records for its message-signature bundles.
pub const SIGNATURE_CONTENT: &str = "message-signature";
/// Content annotation of a DSSE bundle.
pub const DSSE_CONTENT: &str = "dsse-envelope";
/// Most layers kept in one legacy signature manifest.
pub const MAX_LEGACY_LAYERS: usize = crate::verify::MAX_SIGNATURES;
const MT_OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";

/// Which layouts to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Only the legacy `.sig` / `.att` tag.
    Legacy,
    /// Only the bundle referrer.
    Bundle,
    /// Both (default).
    Both,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "legacy" => Ok(Format::Legacy),
            "bundle" => Ok(Format::Bundle),
            "both" => Ok(Format::Both),
            o => Err(format!("unknown format {o:?}: use legacy, bundle or both")),
        }
    }
}

impl Format {
    fn legacy(self) -> bool {
        self != Format::Bundle
    }
    fn bundle(self) -> bool {
        self != Format::Legacy
    }
}

/// What was written.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Stored {
    /// The image's manifest digest.
    pub digest: String,
    /// The legacy tag, when written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub legacy_tag: Option<String>,
    /// Digest of the legacy manifest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub legacy_manifest: Option<String>,
    /// Digest of the referrer manifest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub referrer: Option<String>,
}

/// `sha256-<hex>.<suffix>` for a manifest digest.
pub fn legacy_tag(digest: &str, suffix: &str) -> String {
    format!("{}.{suffix}", digest.replacen(':', "-", 1))
}

/// Signs `image` with `key` (simple-signing payload naming `docker_reference`, or the
/// image's own repository) and stores the signature in `format`.
pub fn sign(
    image: &Image,
    key: &PrivateKey,
    annotations: &BTreeMap<String, String>,
    docker_reference: Option<&str>,
    format: Format,
) -> Result<Stored> {
    let reference = docker_reference.unwrap_or(&image.docker_reference);
    let sig = bulwark_sign::sign::sign_image(image.digest(), reference, annotations, key)?;
    let mut out = Stored {
        digest: image.digest().to_string(),
        ..Default::default()
    };
    // The payload blob is shared by the legacy layer and the referrer.
    let payload = image
        .location
        .put_blob(SIMPLE_SIGNING_MEDIA_TYPE, &sig.payload)?;
    if format.legacy() {
        let tag = legacy_tag(image.digest(), "sig");
        let layer = with_annotation(payload.clone(), ANN_SIGNATURE, &sig.signature_b64);
        out.legacy_manifest = Some(append_legacy(&image.location, &tag, layer)?);
        out.legacy_tag = Some(tag);
    }
    if format.bundle() {
        let bundle = sig.bundle.to_json()?;
        out.referrer = Some(put_referrer(
            image,
            bundle.as_bytes(),
            vec![payload],
            SIGNATURE_CONTENT,
            None,
        )?);
    }
    tracing::info!("signed {} ({})", image.display, image.digest());
    Ok(out)
}

/// Attests `predicate` of `predicate_type` about `image` (in-toto Statement v1 in a
/// DSSE envelope) and stores it in `format`.
pub fn attest(
    image: &Image,
    key: &PrivateKey,
    predicate_type: &str,
    predicate: serde_json::Value,
    format: Format,
) -> Result<Stored> {
    let att = bulwark_sign::sign::attest_image(
        image.digest(),
        Some(&image.docker_reference),
        predicate_type,
        predicate,
        key,
    )?;
    // Nothing is stored that verification would refuse to read: the envelope (legacy
    // layer) and the bundle holding it are both bounded on the way back in.
    let env = serde_json::to_vec(&att.envelope)
        .map_err(|e| malformed(format!("encoding the envelope: {e}")))?;
    let bundle = att.bundle.to_json()?;
    if env.len() as u64 > crate::verify::MAX_ENVELOPE_BLOB
        || bundle.len() as u64 > crate::verify::MAX_BUNDLE_BLOB
    {
        return Err(malformed(format!(
            "the {predicate_type} attestation would be {} bytes signed; verification reads at most {} (shrink the predicate)",
            env.len().max(bundle.len()),
            crate::verify::MAX_ENVELOPE_BLOB.min(crate::verify::MAX_BUNDLE_BLOB)
        )));
    }
    let mut out = Stored {
        digest: image.digest().to_string(),
        ..Default::default()
    };
    if format.legacy() {
        let tag = legacy_tag(image.digest(), "att");
        let layer = with_annotation(
            image.location.put_blob(DSSE_MEDIA_TYPE, &env)?,
            ANN_PREDICATE_TYPE,
            predicate_type,
        );
        out.legacy_manifest = Some(append_legacy(&image.location, &tag, layer)?);
        out.legacy_tag = Some(tag);
    }
    if format.bundle() {
        out.referrer = Some(put_referrer(
            image,
            bundle.as_bytes(),
            Vec::new(),
            DSSE_CONTENT,
            Some(predicate_type),
        )?);
    }
    tracing::info!("attested {predicate_type} for {}", image.display);
    Ok(out)
}

fn with_annotation(mut d: Descriptor, k: &str, v: &str) -> Descriptor {
    d.annotations.insert(k.to_string(), v.to_string());
    d
}

/// Appends `layer` (already stored) to the manifest under `tag`, or starts one.
fn append_legacy(loc: &Location, tag: &str, layer: Descriptor) -> Result<String> {
    let mut layers: Vec<Descriptor> = match loc.manifest(tag)? {
        None => Vec::new(),
        Some(bytes) => {
            let v = parse_manifest(&bytes, &format!("the manifest at {tag}"))?;
            let l = v.get("layers").cloned().unwrap_or(json!([]));
            serde_json::from_value(l).map_err(|e| {
                malformed(format!(
                    "{tag} in {} is not a signature manifest ({e}); not overwriting it",
                    loc.describe()
                ))
            })?
        }
    };
    if let Some(existing) = layers
        .iter()
        .find(|d| d.digest == layer.digest && d.annotations == layer.annotations)
    {
        tracing::info!("{tag} already holds this signature ({})", existing.digest);
    } else {
        if layers.len() >= MAX_LEGACY_LAYERS {
            return Err(malformed(format!(
                "{tag} already holds {} signatures (at most {MAX_LEGACY_LAYERS})",
                layers.len()
            )));
        }
        layers.push(layer);
    }
    let diff_ids: Vec<&str> = layers.iter().map(|d| d.digest.as_str()).collect();
    let config = serde_json::to_vec(&json!({
        "architecture": "",
        "config": {},
        "created": "0001-01-01T00:00:00Z",
        "history": [{"created": "0001-01-01T00:00:00Z"}],
        "os": "",
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }))
    .map_err(|e| malformed(e.to_string()))?;
    let config = loc.put_blob(MT_OCI_CONFIG, &config)?;
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": MT_OCI_MANIFEST,
        "config": config,
        "layers": layers,
    }))
    .map_err(|e| malformed(e.to_string()))?;
    loc.put_manifest(Some(tag), &manifest)
}

fn put_referrer(
    image: &Image,
    bundle: &[u8],
    extra_layers: Vec<Descriptor>,
    content: &str,
    predicate_type: Option<&str>,
) -> Result<String> {
    let loc = &image.location;
    let empty = loc.put_blob(MT_EMPTY, oci::EMPTY_JSON)?;
    let mut layers = vec![loc.put_blob(BUNDLE_MEDIA_TYPE, bundle)?];
    layers.extend(extra_layers);
    let mut annotations = BTreeMap::from([(ANN_BUNDLE_CONTENT.to_string(), content.to_string())]);
    if let Some(p) = predicate_type {
        annotations.insert(ANN_BUNDLE_PREDICATE.to_string(), p.to_string());
    }
    if let Ok(now) = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .map_err(|_| ())
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .map_err(|_| ())
        })
    {
        annotations.insert("org.opencontainers.image.created".into(), now);
    }
    let subject = json!({
        "mediaType": image.descriptor.media_type,
        "digest": image.descriptor.digest,
        "size": image.descriptor.size,
    });
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": MT_OCI_MANIFEST,
        "artifactType": BUNDLE_MEDIA_TYPE,
        "config": empty,
        "layers": layers,
        "subject": subject,
        "annotations": annotations,
    }))
    .map_err(|e| malformed(e.to_string()))?;
    loc.put_manifest(None, &manifest)
}
