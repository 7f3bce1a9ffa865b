//! The composite visitor of the engine's one walk: every file the walker reads is offered
//! to the catalogers and to the secret/misconfiguration visitor, so each layer is read,
//! inflated and hashed once whatever scanners run.
//!
//! A file is read into memory (or spooled) once by the walker; each part rewinds the
//! reader before it looks at it. Link targets (handed over under the link's path) go to
//! the catalogers only: the file scanners report a file where it is, not again under
//! every link to it.

use crate::files::{FileOut, FilesVisitor};
use bulwark_catalog::assemble::{CatalogVisitor, FileResults};
use bulwark_image::{FileEntry, Visitor};

/// What the engine keeps for one file.
#[derive(Debug, Default)]
pub struct FileOutput {
    /// The catalogers' results (empty when none wanted the file).
    pub catalog: FileResults,
    /// The secret/misconfiguration results, when that visitor wanted the file.
    pub files: Option<FileOut>,
}

/// Catalogers plus the file scanners, over one walk.
pub struct EngineVisitor<'a> {
    /// The catalogers (always present: a scan's report lists its packages).
    pub catalog: CatalogVisitor<'a>,
    /// Secrets and misconfigurations, when either scanner runs.
    pub files: Option<FilesVisitor<'a>>,
}

impl Visitor for EngineVisitor<'_> {
    type Output = FileOutput;

    /// A file that no cataloger wanted and in which the file scanners found nothing
    /// leaves no output: a secret scan of a million text files keeps what it found, not
    /// a record per file.
    fn keep(&self, out: &FileOutput) -> bool {
        !out.catalog.is_empty() || out.files.as_ref().is_some_and(|f| !f.is_empty())
    }

    fn wants(&self, path: &str, size: u64, mode: u32) -> bool {
        self.catalog.wants(path, size, mode)
            || self
                .files
                .as_ref()
                .is_some_and(|f| f.wants(path, size, mode))
    }

    fn visit(&self, file: FileEntry<'_>) -> FileOutput {
        // The catalog visitor asks each cataloger itself (nothing wanted: no results).
        let mut out = FileOutput {
            catalog: self.catalog.visit(FileEntry {
                path: file.path,
                size: file.size,
                mode: file.mode,
                via_link: file.via_link,
                reader: &mut *file.reader,
                spool_dir: file.spool_dir,
            }),
            files: None,
        };
        if let Some(f) = &self.files {
            if !file.via_link && f.wants(file.path, file.size, file.mode) {
                out.files = Some(match file.reader.rewind() {
                    Ok(()) => f.visit(FileEntry {
                        path: file.path,
                        size: file.size,
                        mode: file.mode,
                        via_link: false,
                        reader: &mut *file.reader,
                        spool_dir: file.spool_dir,
                    }),
                    Err(e) => FileOut::read_failed(&e),
                });
            }
        }
        out
    }
}

impl FileOutput {
    /// Whether this output may be kept in the layer-result cache: a cataloger that could
    /// not read the file (I/O, spool) or a file scanner read error is this run's failure,
    /// not a property of the layer, and must be retried next time.
    pub fn cacheable(&self) -> bool {
        let catalog_ok = self.catalog.iter().all(|(_, r)| {
            !matches!(
                r,
                Err(bulwark_catalog::CatalogError::Io(_)
                    | bulwark_catalog::CatalogError::Spool(_)
                    | bulwark_catalog::CatalogError::Interrupted(_))
            )
        });
        catalog_ok && self.files.as_ref().is_none_or(FileOut::cacheable)
    }
}

/// How a [`FileOutput`] is written to the layer-result cache: a cataloger's error is kept
/// as the text it displays (only deterministic errors are cached, see
/// [`FileOutput::cacheable`]).
#[derive(serde::Serialize)]
struct FileOutputRef<'a> {
    catalog: Vec<(usize, Result<&'a bulwark_catalog::CatalogOutput, String>)>,
    files: Option<&'a FileOut>,
}

/// A [`FileOutput`] read back from the layer-result cache.
#[derive(serde::Deserialize)]
struct FileOutputOwned {
    catalog: Vec<(usize, Result<bulwark_catalog::CatalogOutput, String>)>,
    files: Option<FileOut>,
}

impl serde::Serialize for FileOutput {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        FileOutputRef {
            catalog: self
                .catalog
                .iter()
                .map(|(i, r)| (*i, r.as_ref().map_err(ToString::to_string)))
                .collect(),
            files: self.files.as_ref(),
        }
        .serialize(s)
    }
}

impl<'de> serde::Deserialize<'de> for FileOutput {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let o = FileOutputOwned::deserialize(d)?;
        Ok(FileOutput {
            catalog: o
                .catalog
                .into_iter()
                .map(|(i, r)| (i, r.map_err(bulwark_catalog::CatalogError::Recorded)))
                .collect(),
            files: o.files,
        })
    }
}
