//! `verify --integrity`: re-hash every blob of an image (its manifest, config and
//! layers; every child manifest of an index) against the digests that name it, and
//! name each blob that is missing, of the wrong size or tampered with.
//!
//! Registry blobs are streamed and hashed without being stored; layout blobs are
//! hashed from their files.

use crate::error::{malformed, Result};
use crate::location::{is_image_media_type, parse_manifest, Image, Location};
use bulwark_image::oci::{Descriptor, MT_DOCKER_LIST, MT_OCI_INDEX};
use serde::Serialize;

/// Largest blob hashed (matches the image reader's default).
pub const MAX_BLOB: u64 = bulwark_image::registry::DEFAULT_MAX_BLOB_SIZE;
/// Most child manifests of an index checked.
const MAX_CHILDREN: usize = 64;

/// One blob's result.
#[derive(Debug, Clone, Serialize)]
pub struct BlobCheck {
    /// `manifest`, `config` or `layer N` (with the platform manifest for indexes).
    pub role: String,
    /// The digest the manifest names.
    pub digest: String,
    /// Size the manifest names.
    pub size: u64,
    /// Hash and size match.
    pub ok: bool,
    /// What is wrong.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// The whole image.
#[derive(Debug, Clone, Serialize)]
pub struct IntegrityReport {
    /// The image as named.
    pub image: String,
    /// Its manifest digest.
    pub digest: String,
    /// Every blob matched.
    pub ok: bool,
    /// Each blob.
    pub blobs: Vec<BlobCheck>,
}

/// Hashes a blob: `Ok(Some((digest, size)))`, `Ok(None)` when missing.
fn hash(loc: &Location, digest: &str) -> Result<Option<(String, u64)>> {
    match loc {
        Location::Registry(repo) => match repo.hash_blob(digest, MAX_BLOB) {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e.into()),
        },
        Location::Layout(l) => {
            bulwark_image::registry::validate_digest(digest).map_err(malformed)?;
            let path = l
                .root()
                .join("blobs")
                .join("sha256")
                .join(digest.trim_start_matches("sha256:"));
            let size = match std::fs::metadata(&path) {
                Ok(m) => m.len(),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => {
                    return Err(bulwark_image::ImageError::Io {
                        path: path.display().to_string(),
                        source: e,
                    }
                    .into())
                }
            };
            let d = bulwark_image::digest::sha256_of_file(&path).map_err(|e| {
                bulwark_image::ImageError::Io {
                    path: path.display().to_string(),
                    source: e,
                }
            })?;
            Ok(Some((d, size)))
        }
    }
}

fn check(loc: &Location, role: String, d: &Descriptor, out: &mut Vec<BlobCheck>) -> Result<()> {
    let problem = match hash(loc, &d.digest)? {
        None => Some("missing".to_string()),
        Some((actual, _)) if actual != d.digest => {
            Some(format!("tampered: content hashes to {actual}"))
        }
        Some((_, size)) if size != d.size => Some(format!(
            "size {size} differs from the {} bytes the manifest names",
            d.size
        )),
        Some(_) => None,
    };
    if let Some(p) = &problem {
        tracing::warn!("{role} {}: {p}", d.digest);
    }
    out.push(BlobCheck {
        role,
        digest: d.digest.clone(),
        size: d.size,
        ok: problem.is_none(),
        problem,
    });
    Ok(())
}

fn check_manifest(
    loc: &Location,
    prefix: &str,
    d: &Descriptor,
    depth: usize,
    out: &mut Vec<BlobCheck>,
) -> Result<()> {
    let role = format!("{prefix}manifest");
    let fetched = match loc.manifest(&d.digest) {
        Ok(Some(b)) => Ok(b),
        Ok(None) => Err("missing".to_string()),
        Err(e) if e.is_unavailable() => return Err(e),
        Err(e) => Err(e.to_string()),
    };
    let bytes = match fetched {
        Ok(b) => b,
        Err(problem) => {
            out.push(BlobCheck {
                role,
                digest: d.digest.clone(),
                size: d.size,
                ok: false,
                problem: Some(problem),
            });
            return Ok(());
        }
    };
    // `manifest()` already checked the bytes against the digest.
    out.push(BlobCheck {
        role,
        digest: d.digest.clone(),
        size: d.size,
        ok: bytes.len() as u64 == d.size,
        problem: (bytes.len() as u64 != d.size)
            .then(|| format!("size {} differs from {}", bytes.len(), d.size)),
    });
    let v = parse_manifest(&bytes, &format!("manifest {}", d.digest))?;
    let list = |k: &str| -> Result<Vec<Descriptor>> {
        serde_json::from_value(v.get(k).cloned().unwrap_or(serde_json::json!([])))
            .map_err(|e| malformed(format!("manifest {}: {k}: {e}", d.digest)))
    };
    let is_index = matches!(d.media_type.as_str(), MT_OCI_INDEX | MT_DOCKER_LIST)
        || v.get("manifests").is_some();
    if is_index {
        if depth > 2 {
            return Err(malformed(format!(
                "index {}: indexes nested more than 3 deep",
                d.digest
            )));
        }
        let children = list("manifests")?;
        // Every child is checked or the check fails: none is skipped in silence.
        if children.len() > MAX_CHILDREN {
            return Err(malformed(format!(
                "index {} lists {} manifests; at most {MAX_CHILDREN} are checked",
                d.digest,
                children.len()
            )));
        }
        for c in &children {
            let short = c.digest.get(7..19).unwrap_or(&c.digest);
            if is_image_media_type(&c.media_type) {
                check_manifest(loc, &format!("{prefix}{short}/"), c, depth + 1, out)?;
            } else {
                // Not an image (an artifact, say): its own bytes are still checked.
                check(loc, format!("{prefix}{short} ({})", c.media_type), c, out)?;
            }
        }
        return Ok(());
    }
    let config: Descriptor =
        serde_json::from_value(v.get("config").cloned().unwrap_or_default())
            .map_err(|e| malformed(format!("manifest {}: config: {e}", d.digest)))?;
    check(loc, format!("{prefix}config"), &config, out)?;
    for (i, l) in list("layers")?.iter().enumerate() {
        check(loc, format!("{prefix}layer {i}"), l, out)?;
    }
    Ok(())
}

/// Re-hashes every blob of `image`.
pub fn check_integrity(image: &Image) -> Result<IntegrityReport> {
    let mut blobs = Vec::new();
    check_manifest(&image.location, "", &image.descriptor, 0, &mut blobs)?;
    Ok(IntegrityReport {
        image: image.display.clone(),
        digest: image.digest().to_string(),
        ok: blobs.iter().all(|b| b.ok),
        blobs,
    })
}
