//! Writing to an OCI image layout directory, so signatures and attestations can be stored
//! next to an image offline (air-gapped signing), and finding them again.
//!
//! - [`OciLayout::add_blob`] writes `blobs/sha256/<hex>` only after the bytes hash to the
//!   digest; [`OciLayout::add_manifest`] stores a manifest blob and, with a tag, an
//!   `index.json` entry annotated `org.opencontainers.image.ref.name` (an entry with the
//!   same tag is replaced, as `docker tag` moves a tag).
//! - Every file is written to a temporary file in the same directory and renamed into
//!   place, so a crash never leaves a half-written blob or `index.json`. Writers are not
//!   locked against each other: two processes updating one layout at once can lose an
//!   `index.json` entry (the last rename wins).
//! - **Referrers.** The image-layout spec has no referrers API, so a manifest with a
//!   `subject` is recorded the way the registry fallback does it: its descriptor is added
//!   to the image index tagged `sha256-<hex of the subject>` (the OCI 1.1 referrers tag
//!   schema), and the manifest itself gets an untagged `index.json` entry so that layout
//!   garbage collectors keep it. [`OciLayout::referrers`] reads that index and, for
//!   layouts written by other tools, also any `index.json` entry whose manifest names the
//!   subject.

use crate::oci::{self, Descriptor, Index, ManifestInfo, ANNOTATION_REF_NAME, MT_OCI_INDEX};
use crate::registry::Reference;
use crate::ImageError;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// Largest `index.json` or manifest read.
const MAX_DOC: u64 = 16 << 20;
/// Most `index.json` entries inspected when looking for referrers.
const MAX_SCAN: usize = 10_000;

/// An OCI image layout directory opened for reading and writing.
#[derive(Debug, Clone)]
pub struct OciLayout {
    root: PathBuf,
}

impl OciLayout {
    /// Opens a layout, creating `oci-layout`, `index.json` and `blobs/sha256` when the
    /// directory is new or empty. Fails on a directory that is not a layout.
    pub fn open_or_create(root: impl Into<PathBuf>) -> Result<OciLayout, ImageError> {
        let root = root.into();
        let l = OciLayout { root };
        std::fs::create_dir_all(l.root.join("blobs").join("sha256"))
            .map_err(|e| l.io(&l.root, e))?;
        let marker = l.root.join("oci-layout");
        match std::fs::read(&marker) {
            Ok(bytes) => {
                let doc: serde_json::Value = serde_json::from_slice(&bytes)
                    .map_err(|e| l.format("oci-layout", e.to_string()))?;
                if doc
                    .get("imageLayoutVersion")
                    .and_then(|v| v.as_str())
                    .is_none()
                {
                    return Err(l.format("oci-layout", "no imageLayoutVersion".into()));
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                l.write_atomic(&marker, br#"{"imageLayoutVersion":"1.0.0"}"#)?;
            }
            Err(e) => return Err(l.io(&marker, e)),
        }
        if !l.root.join("index.json").exists() {
            l.write_index(&Index::default())?;
        }
        Ok(l)
    }

    /// The layout directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn io(&self, path: &Path, source: std::io::Error) -> ImageError {
        ImageError::Io {
            path: path.display().to_string(),
            source,
        }
    }

    fn format(&self, what: &str, message: String) -> ImageError {
        ImageError::Format {
            what: format!("{what} in {}", self.root.display()),
            message,
        }
    }

    fn blob_path(&self, digest: &str) -> Result<PathBuf, ImageError> {
        crate::registry::validate_digest(digest).map_err(|m| self.format("blob", m))?;
        let hex = digest.trim_start_matches("sha256:");
        Ok(self.root.join("blobs").join("sha256").join(hex))
    }

    fn write_atomic(&self, path: &Path, data: &[u8]) -> Result<(), ImageError> {
        let dir = path.parent().unwrap_or(&self.root);
        let mut tmp = tempfile::Builder::new()
            .prefix(".tmp-")
            .tempfile_in(dir)
            .map_err(|e| self.io(dir, e))?;
        tmp.write_all(data).map_err(|e| self.io(path, e))?;
        tmp.as_file().sync_all().map_err(|e| self.io(path, e))?;
        tmp.persist(path).map_err(|e| self.io(path, e.error))?;
        Ok(())
    }

    /// Stores `data` as the blob `digest`, refusing bytes that hash to anything else.
    /// A blob already present with the right size is kept.
    pub fn add_blob(&self, digest: &str, data: &[u8]) -> Result<(), ImageError> {
        let path = self.blob_path(digest)?;
        let actual = oci::sha256_digest(data);
        if actual != digest {
            return Err(ImageError::DigestMismatch {
                what: format!("blob for {}", self.root.display()),
                expected: digest.to_string(),
                actual,
            });
        }
        if std::fs::metadata(&path).is_ok_and(|m| m.is_file() && m.len() == data.len() as u64) {
            return Ok(());
        }
        self.write_atomic(&path, data)
    }

    /// Stores `data` and returns its descriptor with `media_type`.
    pub fn add_blob_bytes(&self, media_type: &str, data: &[u8]) -> Result<Descriptor, ImageError> {
        let d = Descriptor::for_bytes(media_type, data);
        self.add_blob(&d.digest, data)?;
        Ok(d)
    }

    /// Reads a blob of at most `max` bytes, checking its digest.
    pub fn read_blob(&self, digest: &str, max: u64) -> Result<Vec<u8>, ImageError> {
        let path = self.blob_path(digest)?;
        let f = std::fs::File::open(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                ImageError::MissingBlob {
                    digest: digest.to_string(),
                    what: format!("OCI layout {}", self.root.display()),
                }
            } else {
                self.io(&path, e)
            }
        })?;
        let mut buf = Vec::new();
        f.take(max + 1)
            .read_to_end(&mut buf)
            .map_err(|e| self.io(&path, e))?;
        if buf.len() as u64 > max {
            return Err(self.format("blob", format!("{digest} is larger than {max} bytes")));
        }
        let actual = oci::sha256_digest(&buf);
        if actual != digest {
            return Err(ImageError::DigestMismatch {
                what: path.display().to_string(),
                expected: digest.to_string(),
                actual,
            });
        }
        Ok(buf)
    }

    /// The top-level `index.json`.
    pub fn index(&self) -> Result<Index, ImageError> {
        let path = self.root.join("index.json");
        let f = std::fs::File::open(&path).map_err(|e| self.io(&path, e))?;
        let mut buf = Vec::new();
        f.take(MAX_DOC + 1)
            .read_to_end(&mut buf)
            .map_err(|e| self.io(&path, e))?;
        if buf.len() as u64 > MAX_DOC {
            return Err(self.format("index.json", format!("larger than {MAX_DOC} bytes")));
        }
        serde_json::from_slice(&buf).map_err(|e| self.format("index.json", e.to_string()))
    }

    fn write_index(&self, index: &Index) -> Result<(), ImageError> {
        let bytes = serde_json::to_vec_pretty(index)
            .map_err(|e| self.format("index.json", e.to_string()))?;
        self.write_atomic(&self.root.join("index.json"), &bytes)
    }

    /// Stores a manifest (or index) and, with `tag`, points `tag` at it in `index.json`.
    /// A manifest with a `subject` is also added to the subject's referrers (module docs).
    pub fn add_manifest(&self, bytes: &[u8], tag: Option<&str>) -> Result<Descriptor, ImageError> {
        if bytes.len() as u64 > MAX_DOC {
            return Err(self.format("manifest", format!("larger than {MAX_DOC} bytes")));
        }
        if let Some(t) = tag {
            Reference::parse(&format!("x:{t}"))
                .map_err(|_| self.format("index.json", format!("invalid tag {t:?}")))?;
        }
        let info = ManifestInfo::parse(bytes).map_err(|m| self.format("manifest", m))?;
        let referrer = info.referrer_descriptor(bytes);
        let mut entry = Descriptor::for_bytes(info.effective_media_type(), bytes);
        entry.artifact_type = info.artifact_type.clone().filter(|a| !a.is_empty());
        self.add_blob(&entry.digest, bytes)?;
        let mut index = self.index()?;
        match tag {
            Some(t) => {
                index.manifests.retain(|d| {
                    d.annotations.get(ANNOTATION_REF_NAME).map(String::as_str) != Some(t)
                });
                let mut tagged = entry.clone();
                tagged
                    .annotations
                    .insert(ANNOTATION_REF_NAME.to_string(), t.to_string());
                index.manifests.push(tagged);
            }
            None => {
                let present = index.manifests.iter().any(|d| {
                    d.digest == entry.digest && !d.annotations.contains_key(ANNOTATION_REF_NAME)
                });
                if !present {
                    index.manifests.push(entry.clone());
                }
            }
        }
        self.write_index(&index)?;
        if let Some(subject) = &info.subject {
            self.add_referrer(&subject.digest, &referrer)?;
        }
        Ok(entry)
    }

    fn add_referrer(&self, subject: &str, entry: &Descriptor) -> Result<(), ImageError> {
        let tag = oci::referrers_tag(subject);
        let mut list = match self.resolve(&tag)? {
            Some(d) => {
                let bytes = self.read_blob(&d.digest, MAX_DOC)?;
                serde_json::from_slice::<Index>(&bytes)
                    .map_err(|e| self.format(&format!("referrers index {tag}"), e.to_string()))?
            }
            None => Index::default(),
        };
        if list.manifests.iter().any(|d| d.digest == entry.digest) {
            return Ok(());
        }
        list.manifests.push(entry.clone());
        let bytes =
            serde_json::to_vec(&list).map_err(|e| self.format("referrers index", e.to_string()))?;
        self.add_manifest(&bytes, Some(&tag))?;
        Ok(())
    }

    /// The `index.json` entry tagged `tag`.
    pub fn resolve(&self, tag: &str) -> Result<Option<Descriptor>, ImageError> {
        Ok(self
            .index()?
            .manifests
            .into_iter()
            .rev()
            .find(|d| d.annotations.get(ANNOTATION_REF_NAME).map(String::as_str) == Some(tag)))
    }

    /// The referrers of `subject`, optionally only those of `artifact_type`: the
    /// tag-schema index, plus `index.json` entries whose manifest names the subject.
    pub fn referrers(
        &self,
        subject: &str,
        artifact_type: Option<&str>,
    ) -> Result<Vec<Descriptor>, ImageError> {
        let tag = oci::referrers_tag(subject);
        let mut out: Vec<Descriptor> = match self.resolve(&tag)? {
            Some(d) if d.media_type == MT_OCI_INDEX => {
                let bytes = self.read_blob(&d.digest, MAX_DOC)?;
                serde_json::from_slice::<Index>(&bytes)
                    .map_err(|e| self.format(&format!("referrers index {tag}"), e.to_string()))?
                    .manifests
            }
            Some(d) => {
                return Err(self.format(
                    &format!("referrers tag {tag}"),
                    format!("points at a {} rather than an image index", d.media_type),
                ))
            }
            None => Vec::new(),
        };
        for d in self.index()?.manifests.iter().take(MAX_SCAN) {
            if out.iter().any(|o| o.digest == d.digest) || d.media_type == MT_OCI_INDEX {
                continue;
            }
            let Ok(bytes) = self.read_blob(&d.digest, MAX_DOC) else {
                continue;
            };
            let Ok(info) = ManifestInfo::parse(&bytes) else {
                continue;
            };
            if info.subject.as_ref().is_some_and(|s| s.digest == subject) {
                out.push(info.referrer_descriptor(&bytes));
            }
        }
        Ok(oci::filter_artifact_type(out, artifact_type))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oci::{MT_EMPTY, MT_OCI_MANIFEST};

    fn artifact(l: &OciLayout, subject: &Descriptor, kind: &str, payload: &[u8]) -> Vec<u8> {
        let empty = l
            .add_blob_bytes(MT_EMPTY, oci::EMPTY_JSON)
            .unwrap_or_else(|e| panic!("{e}"));
        let layer = l
            .add_blob_bytes("application/octet-stream", payload)
            .unwrap_or_else(|e| panic!("{e}"));
        serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": MT_OCI_MANIFEST,
            "artifactType": kind,
            "config": empty,
            "layers": [layer],
            "subject": subject,
            "annotations": {"created-by": "test"}
        }))
        .unwrap_or_default()
    }

    #[test]
    fn blobs_manifests_tags_and_referrers() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let l = OciLayout::open_or_create(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        // A wrong digest is refused and nothing is written.
        let bad = format!("sha256:{}", "0".repeat(64));
        assert!(matches!(
            l.add_blob(&bad, b"x"),
            Err(ImageError::DigestMismatch { .. })
        ));
        assert!(!dir
            .path()
            .join("blobs/sha256")
            .join("0".repeat(64))
            .exists());
        assert!(l.add_blob("sha256:../../etc", b"x").is_err());

        let image = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2, "mediaType": MT_OCI_MANIFEST,
            "config": {"mediaType": MT_EMPTY, "digest": oci::sha256_digest(b"{}"), "size": 2},
            "layers": []
        }))
        .unwrap_or_default();
        let img = l
            .add_manifest(&image, Some("v1"))
            .unwrap_or_else(|e| panic!("{e}"));
        let again = l
            .add_manifest(&image, Some("v1"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(img, again);
        assert_eq!(
            l.resolve("v1").ok().flatten().map(|d| d.digest),
            Some(img.digest.clone())
        );
        let tagged = l.index().map(|i| i.manifests.len()).unwrap_or_default();
        assert_eq!(tagged, 1, "re-tagging must replace, not add");

        let sig = artifact(&l, &img, "application/x.sig", b"sig");
        let att = artifact(&l, &img, "application/x.att", b"att");
        let sig_d = l.add_manifest(&sig, None).unwrap_or_else(|e| panic!("{e}"));
        l.add_manifest(&att, None).unwrap_or_else(|e| panic!("{e}"));
        l.add_manifest(&sig, None).unwrap_or_else(|e| panic!("{e}"));
        let all = l
            .referrers(&img.digest, None)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(all.len(), 2, "{all:?}");
        let sigs = l
            .referrers(&img.digest, Some("application/x.sig"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(sigs.len(), 1);
        assert_eq!(sigs[0].digest, sig_d.digest);
        assert_eq!(
            sigs[0].annotations.get("created-by").map(String::as_str),
            Some("test")
        );
        // The tag-schema index is a real index in the layout.
        let tag = oci::referrers_tag(&img.digest);
        assert!(l.resolve(&tag).ok().flatten().is_some());
        // Reading back a blob checks its digest.
        std::fs::write(
            dir.path()
                .join("blobs/sha256")
                .join(sig_d.digest.trim_start_matches("sha256:")),
            b"tampered",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(
            l.read_blob(&sig_d.digest, 1 << 20),
            Err(ImageError::DigestMismatch { .. })
        ));
        // And the layout still opens as an image source for the walker's reader.
        let opened = OciLayout::open_or_create(dir.path());
        assert!(opened.is_ok());
    }

    #[test]
    fn refuses_a_directory_that_is_not_a_layout() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(dir.path().join("oci-layout"), "nonsense").unwrap_or_else(|e| panic!("{e}"));
        assert!(OciLayout::open_or_create(dir.path()).is_err());
    }
}
