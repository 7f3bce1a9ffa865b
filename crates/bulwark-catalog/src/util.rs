//! Small helpers shared by catalogers.

use crate::{read_bounded, CatalogError, CatalogInput, CatalogOutput, Cataloger, ScanMode};
use bulwark_core::Package;
use std::io::{BufRead, BufReader, Read};

/// Most record-level warnings kept for one file; the rest are counted in one summary
/// line, so a file of a million broken records does not flood the report.
pub const MAX_RECORD_WARNINGS: usize = 20;

/// Most packages one package-database file yields. Real systems have a few thousand;
/// past this the rest of the file is streamed but not kept, with a warning (so the
/// report is incomplete), and a layer of tiny records cannot fill memory.
pub const MAX_PACKAGES_PER_FILE: usize = 500_000;

/// Collects record-level warnings for one file, capped at [`MAX_RECORD_WARNINGS`].
#[derive(Debug, Default)]
pub struct RecordWarnings {
    kept: Vec<String>,
    dropped: usize,
}

impl RecordWarnings {
    /// Records one problem.
    pub fn push(&mut self, message: impl Into<String>) {
        if self.kept.len() < MAX_RECORD_WARNINGS {
            self.kept.push(message.into());
        } else {
            self.dropped += 1;
        }
    }

    /// The kept warnings plus, when some were dropped, one line counting them.
    pub fn finish(mut self) -> Vec<String> {
        if self.dropped > 0 {
            self.kept.push(format!(
                "{} more problem(s) like these not listed",
                self.dropped
            ));
        }
        self.kept
    }
}

/// One line handed to [`for_each_line`].
pub struct Line<'a> {
    /// 1-based line number.
    pub number: usize,
    /// The text (lossily decoded, without the line ending); cut at the limit when
    /// `too_long`.
    pub text: &'a str,
    /// The line was longer than the limit; the rest of it was skipped.
    pub too_long: bool,
}

/// Streams `r` line by line, never holding more than `max_line` bytes of one line, so a
/// package database of any size is read in bounded memory.
pub fn for_each_line(
    r: &mut dyn Read,
    max_line: usize,
    mut f: impl FnMut(Line<'_>),
) -> std::io::Result<()> {
    let mut br = BufReader::with_capacity(64 * 1024, r);
    let mut buf = Vec::new();
    let mut number = 0usize;
    loop {
        buf.clear();
        let n = (&mut br)
            .take(max_line as u64 + 1)
            .read_until(b'\n', &mut buf)?;
        if n == 0 {
            return Ok(());
        }
        number += 1;
        let mut too_long = false;
        if buf.last() != Some(&b'\n') && buf.len() > max_line {
            too_long = true;
            buf.truncate(max_line);
            br.skip_until(b'\n')?;
        }
        while matches!(buf.last(), Some(b'\n' | b'\r')) {
            buf.pop();
        }
        f(Line {
            number,
            text: &String::from_utf8_lossy(&buf),
            too_long,
        });
    }
}

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
        // Regular files, and symlinks: the walker resolves a wanted link inside the root
        // and hands over the regular file it points to (a symlinked lock file is read
        // through the link; a link leaving the root is a warning, never followed). A
        // zero mode means the caller does not know, so allow it.
        let ftype = mode & 0o170000;
        (ftype == 0 || ftype == 0o100000 || ftype == 0o120000) && (self.wants)(path, scan)
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
            ..Default::default()
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
