//! Catalogers: each one recognises a package database, lock file, manifest or binary
//! format and turns it into [`Package`]s. OS detection lives here too.
//!
//! A cataloger sees one file at a time ([`Cataloger::catalog`]); the image walker
//! (`bulwark-image`) decides which layer's copy of a file is visible, and this crate's
//! assembly step attaches layer locations and purls.

use bulwark_core::{OsInfo, Package};
use std::io::Read;

pub mod assemble;
pub mod dotnet;
pub mod golang;
pub mod java;
pub mod javascript;
pub mod os;
pub mod other;
pub mod php;
pub mod python;
pub mod ruby;
pub mod rust;
pub mod util;

/// Anything a cataloger can read and rewind.
pub use bulwark_image::ReadSeek;

/// One file given to a cataloger.
pub struct CatalogInput<'a> {
    /// Path relative to the scanned root, no leading `/` (`var/lib/dpkg/status`).
    pub path: &'a str,
    /// Size in bytes.
    pub size: u64,
    /// Unix mode bits.
    pub mode: u32,
    /// The content, positioned at the start.
    pub reader: &'a mut dyn ReadSeek,
    /// bulwark's own directory for temporary copies (the cache dir the walk spools to);
    /// a cataloger that needs the file on disk (the rpm SQLite reader) copies it here,
    /// never to the system temp dir. `None` when the caller gave none.
    pub spool_dir: Option<&'a std::path::Path>,
}

/// What a cataloger found in one file. Serialisable so the engine's layer-result cache
/// can keep it.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct CatalogOutput {
    /// Packages, with `locations` left empty: assembly fills in the path and layer.
    /// A cataloger may set `locations` itself when one file holds packages at several
    /// paths (e.g. nested jars: `app.war!/WEB-INF/lib/x.jar`); assembly then prefixes
    /// the layer only.
    pub packages: Vec<Package>,
    /// The OS, for OS-detection catalogers.
    pub os: Option<OsInfo>,
    /// Problems inside the file that did not stop it being read: a malformed record that
    /// was skipped, an entry that was not understood. Assembly turns each into a report
    /// warning naming the file and layer, and marks the report incomplete.
    pub warnings: Vec<String>,
}

/// Errors a cataloger reports for one file. The scan goes on; the error becomes a
/// warning naming the path and layer.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The file could not be read.
    #[error("read error: {0}")]
    Io(#[from] std::io::Error),
    /// The file is larger than this cataloger accepts.
    #[error("file is {size} bytes, over the {limit}-byte limit for {cataloger}")]
    TooLarge {
        /// Actual size.
        size: u64,
        /// The limit.
        limit: u64,
        /// Which cataloger.
        cataloger: &'static str,
    },
    /// bulwark's own temporary storage (the spool dir) is missing or failed: not the
    /// file's fault.
    #[error("temporary copy: {0}")]
    Spool(String),
    /// The content is malformed; `line` when known.
    #[error("{}malformed {format}: {message}", line.map(|l| format!("line {l}: ")).unwrap_or_default())]
    Parse {
        /// Format name (`dpkg status`, `package-lock.json`).
        format: &'static str,
        /// 1-based line number when known.
        line: Option<usize>,
        /// What is wrong.
        message: String,
    },
    /// A limit of this run (a read time limit) or a failure of the machine (out of
    /// memory, disk full, I/O) stopped the reading: not a property of the file, so the
    /// next scan tries again (never kept in the layer-result cache).
    #[error("{0}")]
    Interrupted(String),
    /// A `TooLarge` or `Parse` error recorded by an earlier run of the same catalogers
    /// over the same layer (the engine's layer-result cache), as it was displayed.
    #[error("{0}")]
    Recorded(String),
}

impl CatalogError {
    /// Shorthand for a parse error without a line.
    pub fn parse(format: &'static str, message: impl Into<String>) -> Self {
        CatalogError::Parse {
            format,
            line: None,
            message: message.into(),
        }
    }
}

/// Whether the scan is of an image/root filesystem (installed packages) or of a source
/// tree (lock files). Some formats only make sense in one of them, as in Trivy's
/// image/fs split; bulwark runs both kinds everywhere unless a cataloger says otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanMode {
    /// Container image or root filesystem.
    Image,
    /// Source directory or single file.
    Source,
}

/// A package cataloger.
pub trait Cataloger: Send + Sync {
    /// Stable id, used as [`Package::found_by`] and in warnings (`dpkg`, `npm-lock`).
    fn id(&self) -> &'static str;
    /// Cheap test on every regular file's path (relative, no leading `/`), size and mode.
    fn wants(&self, path: &str, size: u64, mode: u32, scan: ScanMode) -> bool;
    /// Parses one wanted file.
    fn catalog(&self, input: CatalogInput<'_>) -> Result<CatalogOutput, CatalogError>;
}

/// Reads the whole input into memory, refusing more than `limit` bytes.
pub fn read_bounded(
    r: &mut dyn ReadSeek,
    limit: u64,
    cataloger: &'static str,
) -> Result<Vec<u8>, CatalogError> {
    r.rewind()?;
    let mut buf = Vec::new();
    let n = r.take(limit + 1).read_to_end(&mut buf)?;
    if n as u64 > limit {
        return Err(CatalogError::TooLarge {
            size: n as u64,
            limit,
            cataloger,
        });
    }
    Ok(buf)
}

/// Every cataloger bulwark has, in a fixed order (OS first, then languages).
pub fn all_catalogers() -> Vec<Box<dyn Cataloger>> {
    let mut v = os::catalogers();
    v.extend(python::catalogers());
    v.extend(javascript::catalogers());
    v.extend(rust::catalogers());
    v.extend(golang::catalogers());
    v.extend(java::catalogers());
    v.extend(ruby::catalogers());
    v.extend(php::catalogers());
    v.extend(dotnet::catalogers());
    v.extend(other::catalogers());
    v
}
