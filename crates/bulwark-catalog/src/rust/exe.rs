//! Cheap recognition of native executables (ELF, Mach-O, PE), shared by the Rust and Go
//! binary catalogers.
//!
//! These catalogers run on every executable of an image, so the decision whether a file
//! is worth opening is made from the path and mode alone ([`wants_executable`]), and the
//! decision whether to parse it from its first four bytes ([`sniff`]).

use crate::{CatalogError, ReadSeek};
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
