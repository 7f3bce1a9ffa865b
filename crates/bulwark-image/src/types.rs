//! The resolved forms of a target, shared by every source.

use bulwark_core::ImageMeta;
use std::path::PathBuf;

/// Where the bytes of one blob live once a source has resolved it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobLocation {
    /// A whole file (OCI layout blob, registry blob in the cache).
    File(PathBuf),
    /// A member of an uncompressed tar archive (docker-archive, OCI archive), read in place.
    TarMember {
        /// The archive file.
        archive: PathBuf,
        /// Byte offset of the member's data.
        offset: u64,
        /// Length of the member's data.
        len: u64,
    },
}

/// One layer blob of an image, bottom layer first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerBlob {
    /// Digest of the blob as stored (`sha256:...`); checked while streaming.
    pub digest: String,
    /// Digest of the uncompressed tar from the config's `rootfs.diff_ids`.
    pub diff_id: String,
    /// Media type, when the manifest gives one (decides the decompressor; content sniffing
    /// is the fallback).
    pub media_type: Option<String>,
    /// Size in bytes of the stored blob.
    pub size: u64,
    /// Where to read it.
    pub location: BlobLocation,
    /// Set when the blob's bytes were already checked against `digest` (a registry blob
    /// hashed while it downloaded, or a cached blob whose verified stamp still matches):
    /// the walker then does not hash it again, but requires the file's stamp to be
    /// unchanged before and after it reads it.
    pub verified: Option<crate::VerifiedStamp>,
}

/// A resolved container image: metadata plus layer blobs ready to stream.
#[derive(Debug, Clone)]
pub struct Image {
    /// Metadata for the report (id, tags, layers, config).
    pub meta: ImageMeta,
    /// Layer blobs, bottom first; same order as `meta.layers`.
    pub layers: Vec<LayerBlob>,
    /// Where the config blob's exact bytes are, when the source stores them (every source
    /// but a root filesystem); used to copy the image byte for byte.
    pub config_location: Option<BlobLocation>,
    /// The image manifest's exact bytes when the source stores one (OCI layout, OCI
    /// archive, registry), so a copy keeps the manifest digest.
    pub manifest: Option<Vec<u8>>,
}

/// What a target string resolved to.
// One value per scan; boxing the image would only add an indirection at every match.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Target {
    /// A container image.
    Image(Image),
    /// A root filesystem or source directory, read in place.
    Dir(PathBuf),
    /// A single regular file (a lock file or binary), read as a one-file directory.
    File(PathBuf),
}

/// Errors from resolving or reading an image. Every variant says what and where.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// An I/O error on a named path.
    #[error("{path}: {source}")]
    Io {
        /// The file or archive.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Malformed archive, manifest, index or config.
    #[error("{what}: {message}")]
    Format {
        /// Which document or member (`manifest.json in image.tar`).
        what: String,
        /// What is wrong with it.
        message: String,
    },
    /// A layer could not be read.
    #[error("layer {digest}: {path}: {message}")]
    Layer {
        /// The layer's blob digest.
        digest: String,
        /// The path inside the layer, or `-` when the problem is the stream itself.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A blob's content does not match its digest.
    #[error("digest mismatch for {what}: expected {expected}, got {actual}")]
    DigestMismatch {
        /// The blob (layer, config, manifest).
        what: String,
        /// The digest the manifest promised.
        expected: String,
        /// The digest of the bytes read.
        actual: String,
    },
    /// A blob the manifest names is not there.
    #[error("missing blob {digest} ({what})")]
    MissingBlob {
        /// The blob digest.
        digest: String,
        /// Where it was expected.
        what: String,
    },
    /// The target string could not be understood.
    #[error("cannot use target {target:?}: {message}")]
    Target {
        /// What the user typed.
        target: String,
        /// Why it cannot be used.
        message: String,
    },
    /// The scan was cancelled through its [`crate::Cancel`] token.
    #[error("the scan was cancelled before it finished; no result")]
    Cancelled,
    /// The scan's deadline passed before it finished.
    #[error("the scan did not finish within its {budget_ms} ms deadline; no result")]
    DeadlineExceeded {
        /// The time budget the scan was given, in milliseconds.
        budget_ms: u64,
    },
    /// A path that looks like an image archive (tar by magic or name, gzip, zstd) but is
    /// not a readable image. Never downgraded to a "file" scan: a security tool that
    /// cannot read its input must say so.
    #[error("{path}: not a readable container image: expected {expected}; {problem}")]
    NotAnImage {
        /// The file.
        path: String,
        /// What a file of that kind must be.
        expected: String,
        /// What is wrong with it.
        problem: String,
    },
    /// A registry or daemon request failed.
    #[error("{what}: {message}")]
    Remote {
        /// The request (`GET https://.../v2/.../manifests/...`).
        what: String,
        /// The error or status.
        message: String,
    },
    /// A registry operation failed (typed: 401, 403, 404, 429, 5xx, timeout, ...).
    #[error(transparent)]
    Registry(Box<crate::registry::RegistryError>),
}

impl From<crate::registry::RegistryError> for ImageError {
    fn from(e: crate::registry::RegistryError) -> Self {
        ImageError::Registry(Box::new(e))
    }
}
