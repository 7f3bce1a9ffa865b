//! Native executables (ELF, Mach-O, PE): cheap recognition, and the one cataloger,
//! [`ExecutableCataloger`], that opens each of them once and asks every reader of
//! embedded dependency data — Go build info ([`crate::golang::binary`]) and
//! cargo-auditable's `.dep-v0` section ([`super::auditable`]) — of the same parsed file.
//!
//! It lives here rather than in a new top-level module because this module already was
//! what both readers shared (sniffing, the size limit), and so the cataloger list of the
//! crate root stays untouched.
//!
//! The cataloger runs on every executable of an image, so the decision whether a file is
//! worth opening is made from the path and mode alone ([`wants_executable`]), and the
//! decision whether to parse it from its first four bytes ([`sniff`]).

use crate::golang::binary::read_go_packages;
use crate::rust::auditable::read_dep_v0;
use crate::{CatalogError, CatalogInput, CatalogOutput, Cataloger, ReadSeek, ScanMode};
use bulwark_core::Package;
use object::read::ReadCache;
use std::io::SeekFrom;

/// Largest binary we open. Section data is read lazily, so this only bounds the offsets
/// the object parser may seek to, not memory.
pub const MAX_BINARY_SIZE: u64 = 1 << 31;

/// The container format of a native executable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExeFormat {
    /// ELF (Linux, BSD).
    Elf,
    /// Thin Mach-O (macOS); universal ("fat") binaries are not recognised.
    MachO,
    /// PE/COFF (Windows).
    Pe,
}

/// Whether a file looks like it could be a binary: executable bits set or inside a
/// `bin`/`sbin` directory.
pub fn wants_executable(path: &str, size: u64, mode: u32) -> bool {
    if !(64..=MAX_BINARY_SIZE).contains(&size) {
        return false;
    }
    if mode & 0o111 != 0 {
        return true;
    }
    let dir = crate::util::parent(path);
    dir.split('/').any(|c| c == "bin" || c == "sbin")
}

/// Identifies the executable format from the first bytes of a file.
pub fn sniff_bytes(head: &[u8]) -> Option<ExeFormat> {
    match head.get(..4)? {
        [0x7f, b'E', b'L', b'F'] => Some(ExeFormat::Elf),
        [0xfe, 0xed, 0xfa, 0xce | 0xcf] | [0xce | 0xcf, 0xfa, 0xed, 0xfe] => Some(ExeFormat::MachO),
        [b'M', b'Z', _, _] => Some(ExeFormat::Pe),
        _ => None,
    }
}

/// Reads the first four bytes of the input and identifies the format; the reader is
/// rewound afterwards. `None` for anything that is not a native executable.
pub fn sniff(reader: &mut dyn ReadSeek) -> Result<Option<ExeFormat>, CatalogError> {
    reader.seek(SeekFrom::Start(0))?;
    let mut head = [0u8; 4];
    let mut got = 0;
    while got < head.len() {
        let n = reader.read(&mut head[got..])?;
        if n == 0 {
            break;
        }
        got += n;
    }
    reader.seek(SeekFrom::Start(0))?;
    Ok(head.get(..got).and_then(sniff_bytes))
}

/// Finds the packages recorded in native executables: Go modules (`found_by`
/// `go-binary`) and cargo-auditable crates (`found_by` `cargo-auditable`), from one parse
/// of the file.
pub struct ExecutableCataloger;

impl Cataloger for ExecutableCataloger {
    /// Only seen in warnings: packages carry their reader's `found_by`.
    fn id(&self) -> &'static str {
        "executable"
    }

    fn wants(&self, path: &str, size: u64, mode: u32, _scan: ScanMode) -> bool {
        wants_executable(path, size, mode)
    }

    fn catalog(&self, input: CatalogInput<'_>) -> Result<CatalogOutput, CatalogError> {
        if sniff(input.reader)?.is_none() {
            return Ok(CatalogOutput::default());
        }
        let cache = ReadCache::new(&mut *input.reader);
        // A file that merely starts with a magic but does not parse is not ours to judge.
        let Ok(file) = object::File::parse(&cache) else {
            return Ok(CatalogOutput::default());
        };
        Ok(CatalogOutput {
            packages: read_all(&file, input.path)?,
            os: None,
            ..Default::default()
        })
    }
}

/// Pure entry point over a whole binary's bytes (fuzzing, tests): what
/// [`ExecutableCataloger`] reports for it. `Ok(empty)` for anything that is not a
/// binary.
pub fn parse_executable_bytes(data: &[u8]) -> Result<Vec<Package>, CatalogError> {
    if sniff_bytes(data).is_none() {
        return Ok(Vec::new());
    }
    let Ok(file) = object::File::parse(data) else {
        return Ok(Vec::new());
    };
    read_all(&file, "<bytes>")
}

/// Asks every reader of the parsed file and merges what they found.
fn read_all<'d, R: object::ReadRef<'d>>(
    file: &object::File<'d, R>,
    path: &str,
) -> Result<Vec<Package>, CatalogError> {
    merge(vec![read_go_packages(file), read_dep_v0(file)], path)
}

/// Merges the readers' results so that one reader's failure does not hide another's
/// packages.
///
/// When no reader found anything, the first error is the file's result, reported by
/// assembly as a warning exactly as a failing single-format cataloger's was. When some
/// reader did find packages, those are returned; the other readers' errors can then only
/// be logged, because a cataloger's result is either packages or an error (see
/// [`CatalogOutput`]).
fn merge(
    results: Vec<Result<Vec<Package>, CatalogError>>,
    path: &str,
) -> Result<Vec<Package>, CatalogError> {
    let mut packages = Vec::new();
    let mut errors = Vec::new();
    for r in results {
        match r {
            Ok(p) => packages.extend(p),
            Err(e) => errors.push(e),
        }
    }
    let mut errors = errors.into_iter();
    if packages.is_empty() {
        if let Some(first) = errors.next() {
            for e in errors {
                tracing::warn!(path, error = %e, "executable: second reader failed too");
            }
            return Err(first);
        }
    }
    for e in errors {
        tracing::warn!(path, error = %e, "executable: reader failed; other packages kept");
    }
    Ok(packages)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniff_recognises_magics() {
        assert_eq!(sniff_bytes(b"\x7fELF\x02"), Some(ExeFormat::Elf));
        assert_eq!(
            sniff_bytes(&[0xcf, 0xfa, 0xed, 0xfe]),
            Some(ExeFormat::MachO)
        );
        assert_eq!(sniff_bytes(b"MZ\x90\x00"), Some(ExeFormat::Pe));
        assert_eq!(sniff_bytes(b"#!/bin/sh"), None);
        assert_eq!(sniff_bytes(b"\x7fEL"), None);
    }

    #[test]
    fn wants_by_mode_or_dir() {
        assert!(wants_executable("usr/local/app", 1000, 0o755));
        assert!(wants_executable("usr/bin/tool", 1000, 0o644));
        assert!(!wants_executable("usr/share/doc/x", 1000, 0o644));
        assert!(!wants_executable("usr/bin/tiny", 3, 0o755));
    }
}
