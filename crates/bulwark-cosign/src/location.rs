//! Where an image lives — a repository on a registry or an OCI layout directory — and
//! the handful of reads and writes signing needs, the same for both.
//!
//! Image arguments follow the other commands: `oci:DIR[:REF]` (REF a tag, i.e. an
//! `org.opencontainers.image.ref.name`, or a manifest digest) or a directory holding
//! an `oci-layout` file is a layout; `docker://REF` or a bare `registry/repo:tag` /
//! `registry/repo@sha256:…` is a registry image. The image is resolved to its manifest
//! digest once, in [`Image::open`]; everything after works on that digest.

use crate::error::{malformed, Error, Result};
use bulwark_image::layout::OciLayout;
use bulwark_image::oci::{self, Descriptor, ANNOTATION_REF_NAME};
use bulwark_image::registry::{
    Reference, RegistryConfig, Repository, MAX_REMOTE_MANIFEST_SIZE as MAX_MANIFEST_SIZE,
};
use std::path::{Path, PathBuf};

/// Storage of an image and its signatures.
pub enum Location {
    /// A registry repository.
    Registry(Box<Repository>),
    /// An OCI layout directory.
    Layout(OciLayout),
}

/// An image, resolved once.
pub struct Image {
    /// Where it lives.
    pub location: Location,
    /// The manifest (or index) descriptor: digest, size, media type.
    pub descriptor: Descriptor,
    /// The repository name signatures name (`registry/repo`; for a layout, the
    /// repository of its `ref.name` when that is a full reference, else the
    /// directory's name).
    pub docker_reference: String,
    /// What the user named, for messages.
    pub display: String,
}

/// Splits `PATH[:REF]` of an `oci:` argument: the whole string when it is an existing
/// path, else at the first `:` whose prefix exists.
fn split_layout(s: &str) -> (PathBuf, Option<String>) {
    if Path::new(s).exists() {
        return (PathBuf::from(s), None);
    }
    for (i, _) in s.match_indices([':', '@']) {
        let (Some(p), Some(r)) = (s.get(..i), s.get(i + 1..)) else {
            continue;
        };
        if !r.is_empty() && Path::new(p).exists() {
            return (PathBuf::from(p), Some(r.to_string()));
        }
    }
    (PathBuf::from(s), None)
}

impl Image {
    /// Opens and resolves `target` (see the module docs).
    pub fn open(target: &str, config: &RegistryConfig) -> Result<Image> {
        let layout = if let Some(rest) = target.strip_prefix("oci:") {
            Some(split_layout(rest))
        } else if Path::new(target).join("oci-layout").is_file() {
            Some((PathBuf::from(target), None))
        } else {
            None
        };
        match layout {
            Some((dir, reference)) => Self::open_layout(target, &dir, reference.as_deref()),
            None => {
                let r = Reference::parse(target).map_err(|e| Error::Target {
                    target: target.to_string(),
                    message: e.to_string(),
                })?;
                let repo = Repository::open(&r, config)?;
                let descriptor = repo.resolve(r.manifest_reference())?;
                Ok(Image {
                    location: Location::Registry(Box::new(repo)),
                    descriptor,
                    docker_reference: r.name(),
                    display: r.to_string(),
                })
            }
        }
    }

    fn open_layout(target: &str, dir: &Path, reference: Option<&str>) -> Result<Image> {
        let err = |m: String| Error::Target {
            target: target.to_string(),
            message: m,
        };
        if !dir.join("oci-layout").is_file() {
            return Err(err(
                "not an OCI layout directory (no oci-layout file)".into()
            ));
        }
        let layout = OciLayout::open_or_create(dir)?;
        let index = layout.index()?;
        let found: Vec<&Descriptor> = match reference {
            Some(r) if r.starts_with("sha256:") => {
                index.manifests.iter().filter(|d| d.digest == r).collect()
            }
            Some(r) => index
                .manifests
                .iter()
                .filter(|d| d.annotations.get(ANNOTATION_REF_NAME).map(String::as_str) == Some(r))
                .collect(),
            None => index
                .manifests
                .iter()
                .filter(|d| {
                    d.artifact_type.is_none()
                        && !d
                            .annotations
                            .get(ANNOTATION_REF_NAME)
                            .is_some_and(|n| n.starts_with("sha256-"))
                        && is_image_media_type(&d.media_type)
                })
                .collect(),
        };
        let mut digests: Vec<&str> = found.iter().map(|d| d.digest.as_str()).collect();
        digests.sort_unstable();
        digests.dedup();
        let descriptor = match (digests.len(), found.first()) {
            (1, Some(d)) => Descriptor {
                annotations: Default::default(),
                ..(*d).clone()
            },
            (0, _) => {
                return Err(err(match reference {
                    Some(r) => format!("no image {r:?} in the layout's index.json"),
                    None => "the layout holds no image".into(),
                }))
            }
            _ => {
                return Err(err(
                    "the layout holds several images; name one as oci:DIR:REF".into(),
                ))
            }
        };
        if !is_image_media_type(&descriptor.media_type) {
            return Err(err(format!(
                "{} is a {}, not an image",
                descriptor.digest, descriptor.media_type
            )));
        }
        let ref_name = found
            .iter()
            .find_map(|d| d.annotations.get(ANNOTATION_REF_NAME))
            .cloned()
            .or_else(|| reference.map(str::to_string));
        let docker_reference = ref_name
            .as_deref()
            .filter(|n| n.contains('/'))
            .and_then(|n| Reference::parse(n).ok())
            .map(|r| r.name())
            .unwrap_or_else(|| {
                dir.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "oci-layout".into())
            });
        Ok(Image {
            location: Location::Layout(layout),
            descriptor,
            docker_reference,
            display: target.to_string(),
        })
    }

    /// Resolves `reference` (a tag or digest) again in the same place, keeping the
    /// registry client (its connections and tokens) — what a long-running verifier
    /// (the admission webhook) does on a cache miss instead of [`Image::open`].
    pub fn resolve_again(&mut self, reference: &str) -> Result<()> {
        match &self.location {
            Location::Registry(repo) => {
                self.descriptor = repo.resolve(reference)?;
                Ok(())
            }
            Location::Layout(l) => {
                let root = l.root().to_path_buf();
                *self = Self::open_layout(&self.display, &root, Some(reference))?;
                Ok(())
            }
        }
    }

    /// The manifest digest (`sha256:<hex>`).
    pub fn digest(&self) -> &str {
        &self.descriptor.digest
    }
}

/// Whether a media type is an image manifest or index (what may be signed).
pub fn is_image_media_type(mt: &str) -> bool {
    matches!(
        mt,
        oci::MT_OCI_MANIFEST | oci::MT_OCI_INDEX | oci::MT_DOCKER_MANIFEST | oci::MT_DOCKER_LIST
    )
}

impl Location {
    /// A manifest by tag or digest, `None` when there is none. Bytes are digest-checked
    /// and at most [`MAX_MANIFEST_SIZE`] long.
    pub fn manifest(&self, reference: &str) -> Result<Option<Vec<u8>>> {
        match self {
            Location::Registry(repo) => match repo.fetch_manifest(reference) {
                Ok(m) => Ok(Some(m.bytes)),
                Err(e) if e.is_not_found() => Ok(None),
                Err(e) => Err(e.into()),
            },
            Location::Layout(l) => {
                let digest = if reference.starts_with("sha256:") {
                    reference.to_string()
                } else {
                    match l.resolve(reference)? {
                        Some(d) => d.digest,
                        None => return Ok(None),
                    }
                };
                match l.read_blob(&digest, MAX_MANIFEST_SIZE) {
                    Ok(b) => Ok(Some(b)),
                    Err(bulwark_image::ImageError::MissingBlob { .. }) => Ok(None),
                    Err(e) => Err(e.into()),
                }
            }
        }
    }

    /// A blob of at most `max` bytes, digest-checked.
    pub fn blob(&self, digest: &str, max: u64) -> Result<Vec<u8>> {
        match self {
            Location::Registry(repo) => Ok(repo.fetch_blob(digest, max)?),
            Location::Layout(l) => Ok(l.read_blob(digest, max)?),
        }
    }

    /// Stores a blob; returns its descriptor.
    pub fn put_blob(&self, media_type: &str, data: &[u8]) -> Result<Descriptor> {
        match self {
            Location::Registry(repo) => Ok(repo.push_blob_bytes(media_type, data)?),
            Location::Layout(l) => Ok(l.add_blob_bytes(media_type, data)?),
        }
    }

    /// Stores a manifest under `tag` (or untagged); a manifest with a `subject` is
    /// added to the subject's referrers. Returns its digest.
    pub fn put_manifest(&self, tag: Option<&str>, bytes: &[u8]) -> Result<String> {
        match self {
            Location::Registry(repo) => Ok(repo.push_manifest(tag, bytes)?.digest),
            Location::Layout(l) => Ok(l.add_manifest(bytes, tag)?.digest),
        }
    }

    /// The referrers of `subject`, optionally of one artifact type.
    pub fn referrers(&self, subject: &str, artifact_type: Option<&str>) -> Result<Vec<Descriptor>> {
        match self {
            Location::Registry(repo) => Ok(repo.referrers(subject, artifact_type)?.manifests),
            Location::Layout(l) => Ok(l.referrers(subject, artifact_type)?),
        }
    }

    /// Describes the location for messages.
    pub fn describe(&self) -> String {
        match self {
            Location::Registry(repo) => format!("{}/{}", repo.registry(), repo.repository()),
            Location::Layout(l) => l.root().display().to_string(),
        }
    }
}

/// Parses an OCI manifest's JSON, bounded by the caller's fetch.
pub(crate) fn parse_manifest(bytes: &[u8], what: &str) -> Result<serde_json::Value> {
    let v: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| malformed(format!("{what} is not JSON: {e}")))?;
    if !v.is_object() {
        return Err(malformed(format!("{what} is not a JSON object")));
    }
    Ok(v)
}
