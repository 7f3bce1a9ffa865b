//! Copying a local image (docker-archive tar, OCI layout or archive, or anything
//! [`crate::open`] resolves to an image) to a registry repository.
//!
//! Blobs are sent as stored — no recompression — so layer digests stay what they are.
//! When the source keeps a manifest (OCI layout/archive, a registry) its exact bytes are
//! pushed, so the image keeps its manifest digest and signatures made over the local
//! copy stay valid for the pushed one. A docker-archive has no manifest; an OCI image
//! manifest is written for it (config `application/vnd.oci.image.config.v1+json`, layer
//! media types from the archive's `LayerSources` or sniffed from the first bytes).

use super::client::Payload;
use super::repo::{BlobPush, Repository};
use crate::oci::{self, Descriptor, MT_OCI_MANIFEST};
use crate::{BlobLocation, Image, ImageError};
use std::io::Read;

/// Largest config copied (same limit as when pulling).
const MAX_CONFIG: u64 = 32 << 20;

/// What [`push_image`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyReport {
    /// The pushed manifest.
    pub manifest: Descriptor,
    /// Blobs uploaded.
    pub uploaded: usize,
    /// Blobs the registry already had.
    pub existed: usize,
    /// Blobs mounted from another repository.
    pub mounted: usize,
}

/// Pushes `image` to `repo`, tagged `tag` (by digest only when `None`). `mount_from`
/// names another repository on the same registry to mount blobs from.
pub fn push_image(
    image: &Image,
    repo: &Repository,
    tag: Option<&str>,
    mount_from: Option<&str>,
) -> Result<CopyReport, ImageError> {
    let (config, manifest) = config_and_manifest(image)?;
    let config_digest = oci::sha256_digest(&config);

    let mut report = CopyReport {
        manifest: Descriptor::for_bytes(MT_OCI_MANIFEST, &manifest),
        uploaded: 0,
        existed: 0,
        mounted: 0,
    };
    let mut count = |r: BlobPush| match r {
        BlobPush::Uploaded => report.uploaded += 1,
        BlobPush::Existed => report.existed += 1,
        BlobPush::Mounted => report.mounted += 1,
    };
    for layer in &image.layers {
        let (path, offset, len) = match &layer.location {
            BlobLocation::File(p) => {
                let len = std::fs::metadata(p)
                    .map_err(|source| ImageError::Io {
                        path: p.display().to_string(),
                        source,
                    })?
                    .len();
                (p.as_path(), 0, len)
            }
            BlobLocation::TarMember {
                archive,
                offset,
                len,
            } => (archive.as_path(), *offset, *len),
        };
        let r = repo.push_blob(
            &layer.digest,
            len,
            Payload::File { path, offset, len },
            mount_from,
        )?;
        count(r);
    }
    let r = repo.push_blob(
        &config_digest,
        config.len() as u64,
        Payload::Bytes(&config),
        mount_from,
    )?;
    count(r);
    let pushed = repo.push_manifest(tag, &manifest)?;
    let mut d = pushed.descriptor;
    d.artifact_type = None;
    d.annotations.clear();
    report.manifest = d;
    Ok(report)
}

/// The manifest [`push_image`] pushes for `image` (its digest is the pushed image's).
pub fn manifest_for(image: &Image) -> Result<Vec<u8>, ImageError> {
    config_and_manifest(image).map(|(_, m)| m)
}

/// The config bytes (digest-checked) and the manifest to push.
fn config_and_manifest(image: &Image) -> Result<(Vec<u8>, Vec<u8>), ImageError> {
    let config_loc = image
        .config_location
        .as_ref()
        .ok_or_else(|| ImageError::Format {
            what: format!("image {}", image.meta.id),
            message: "the source keeps no config blob to copy".into(),
        })?;
    let config = crate::store::read_location(config_loc, MAX_CONFIG, "image config")?;
    let config_digest = oci::sha256_digest(&config);
    if config_digest != image.meta.id {
        return Err(ImageError::DigestMismatch {
            what: "image config".into(),
            expected: image.meta.id.clone(),
            actual: config_digest,
        });
    }
    let manifest = match &image.manifest {
        Some(bytes) => {
            check_manifest_matches(bytes, image, &config_digest)?;
            bytes.clone()
        }
        None => synthesize_manifest(image, &config)?,
    };
    Ok((config, manifest))
}

/// The stored manifest must describe this image's config and layers.
fn check_manifest_matches(bytes: &[u8], image: &Image, config: &str) -> Result<(), ImageError> {
    let doc: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| ImageError::Format {
        what: "image manifest".into(),
        message: format!("not JSON: {e}"),
    })?;
    let cfg = doc
        .get("config")
        .and_then(|c| c.get("digest"))
        .and_then(|d| d.as_str());
    let layers: Vec<&str> = doc
        .get("layers")
        .and_then(|l| l.as_array())
        .map(|l| {
            l.iter()
                .filter_map(|d| d.get("digest").and_then(|d| d.as_str()))
                .collect()
        })
        .unwrap_or_default();
    let want: Vec<&str> = image.layers.iter().map(|l| l.digest.as_str()).collect();
    if cfg != Some(config) || layers != want {
        return Err(ImageError::Format {
            what: "image manifest".into(),
            message: "does not describe the image's config and layers".into(),
        });
    }
    Ok(())
}

fn synthesize_manifest(image: &Image, config: &[u8]) -> Result<Vec<u8>, ImageError> {
    let mut layers = Vec::with_capacity(image.layers.len());
    for l in &image.layers {
        let media_type = match &l.media_type {
            Some(m) if !m.is_empty() => m.clone(),
            _ => sniff_layer_type(&l.location)?.to_string(),
        };
        layers.push(serde_json::json!({
            "mediaType": media_type,
            "digest": l.digest,
            "size": l.size,
        }));
    }
    let m = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": MT_OCI_MANIFEST,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": oci::sha256_digest(config),
            "size": config.len(),
        },
        "layers": layers,
    });
    serde_json::to_vec(&m).map_err(|e| ImageError::Format {
        what: "image manifest".into(),
        message: e.to_string(),
    })
}

/// The OCI layer media type by the blob's first bytes.
fn sniff_layer_type(loc: &BlobLocation) -> Result<&'static str, ImageError> {
    let mut head = Vec::new();
    crate::store::open_location(loc)?
        .take(4)
        .read_to_end(&mut head)
        .map_err(|source| ImageError::Io {
            path: crate::store::location_name(loc),
            source,
        })?;
    Ok(match crate::store::compression_magic(&head) {
        Some(crate::store::Magic::Gzip) => "application/vnd.oci.image.layer.v1.tar+gzip",
        Some(crate::store::Magic::Zstd) => "application/vnd.oci.image.layer.v1.tar+zstd",
        None => "application/vnd.oci.image.layer.v1.tar",
    })
}
