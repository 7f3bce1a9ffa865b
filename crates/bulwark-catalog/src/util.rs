//! Small helpers shared by catalogers.

use crate::{read_bounded, CatalogError, CatalogInput, CatalogOutput, Cataloger, ScanMode};
use bulwark_core::Package;

/// A pure byte parser, as every format module exposes (so each can be fuzzed alone).
pub type ParseFn = fn(&[u8]) -> Result<Vec<Package>, CatalogError>;

/// A cataloger that reads one whole (bounded) file and hands it to a pure parser.
///
/// Most lock and metadata formats need nothing else, so one shared type keeps the
/// per-format code to a path test and a parser.
pub struct WholeFileCataloger<W = fn(&str, ScanMode) -> bool> {
    /// Cataloger id, also written to `Package::found_by` by the parser.
    pub id: &'static str,
    /// Largest file accepted, in bytes.
    pub limit: u64,
    /// Path test (relative path, no leading `/`).
    pub wants: W,
    /// The parser.
    pub parse: ParseFn,
}

impl<W> Cataloger for WholeFileCataloger<W>
where
    W: Fn(&str, ScanMode) -> bool + Send + Sync,
{
    fn id(&self) -> &'static str {
        self.id
    }

    fn wants(&self, path: &str, _size: u64, mode: u32, scan: ScanMode) -> bool {
        // Only regular files; a zero mode means the caller does not know, so allow it.
        let ftype = mode & 0o170000;
        (ftype == 0 || ftype == 0o100000) && (self.wants)(path, scan)
    }

    fn catalog(&self, input: CatalogInput<'_>) -> Result<CatalogOutput, CatalogError> {
        if input.size > self.limit {
            return Err(CatalogError::TooLarge {
                size: input.size,
                limit: self.limit,
                cataloger: self.id,
            });
        }
        let data = read_bounded(input.reader, self.limit, self.id)?;
        Ok(CatalogOutput {
            packages: (self.parse)(&data)?,
            os: None,
        })
    }
}

/// The final path component.
pub fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// The parent directory ("" for a top-level file).
pub fn parent(path: &str) -> &str {
    path.rsplit_once('/').map(|(p, _)| p).unwrap_or("")
}

/// True when any path component equals `name`.
pub fn has_component(path: &str, name: &str) -> bool {
    path.split('/').any(|c| c == name)
}
