//! Container image sources and the layer walker.
//!
//! A target (docker-archive tar, OCI layout, OCI archive, registry reference, daemon image,
//! root filesystem) is resolved to an [`Image`]: its config and an ordered list of layer
//! blobs. [`walk`] then streams every layer once — decompressing gzip/zstd/plain tars,
//! checking each blob against its digest — and hands the files a [`Visitor`] asks for to
//! that visitor. Nothing is extracted to disk. The result keeps, per layer, what the
//! visitor returned plus the whiteouts, so [`Walk::merged`] can give the merged view of
//! the image (last layer wins, deleted files gone) without ever holding a file list.

use std::io::{Read, Seek};

/// Anything a visitor can read and rewind.
pub trait ReadSeek: Read + Seek + Send {}
impl<T: Read + Seek + Send> ReadSeek for T {}

/// A file handed to a [`Visitor`].
pub struct FileEntry<'a> {
    /// Normalised path relative to the image root, without a leading `/`
    /// (`var/lib/dpkg/status`).
    pub path: &'a str,
    /// Size in bytes.
    pub size: u64,
    /// Unix mode bits (permission and type bits as in the tar header).
    pub mode: u32,
    /// Whether this is the target of a wanted link, handed over under the link's path
    /// (a visitor that does not follow links ignores these).
    pub via_link: bool,
    /// The content, positioned at the start.
    pub reader: &'a mut dyn ReadSeek,
    /// Where a visitor may put temporary copies of the file (bulwark's cache dir,
    /// [`WalkOptions::spool_dir`]); `None` when the caller gave none.
    pub spool_dir: Option<&'a std::path::Path>,
}

/// Receives the files of an image (or directory) that it asks for.
///
/// `wants` is called for every regular file in every layer, so it must be cheap (a
/// suffix or file-name test). `visit` runs on layer worker threads.
pub trait Visitor: Sync {
    /// What the visitor returns for one file.
    type Output: Send;
    /// Whether the visitor wants this file's content.
    fn wants(&self, path: &str, size: u64, mode: u32) -> bool;
    /// Processes one wanted file.
    fn visit(&self, file: FileEntry<'_>) -> Self::Output;
    /// Whether the walk keeps this output in [`walk::LayerWalk::files`] (default: every
    /// one). A visitor that wants many files but finds something in few (a secret
    /// scanner over a million text files) returns false for an empty output, so the
    /// walk's memory grows with what was found, not with what was read. Dropping an
    /// output changes nothing else: which paths each layer holds, and so which copies
    /// are visible, is recorded apart from the outputs.
    fn keep(&self, _output: &Self::Output) -> bool {
        true
    }
}

pub mod cancel;
pub mod daemon;
pub mod layout;
pub mod oci;
pub mod registry;
mod types;
pub use cancel::Cancel;
pub use stamp::VerifiedStamp;
pub use types::{BlobLocation, Image, ImageError, LayerBlob, Target};

pub mod digest;
mod stamp;
mod store;
pub mod target;
pub mod walk;

pub use target::{docker_archive, docker_archive_ref, oci_archive, oci_layout, open, OpenOptions};
pub use walk::{
    walk, walk_cached, CacheUse, Deleted, LayerCache, LayerRecord, LayerStats, LayerWalk,
    LinkRecord, MergedFile, Walk, WalkOptions,
};
