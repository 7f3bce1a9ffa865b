//! Where the documents and blobs of an image live: a directory (OCI layout, containers
//! `dir:` image) or an uncompressed tar read in place (docker-archive, OCI archive).
//!
//! A tar is indexed once — member name to data offset and length — and every later read
//! is a bounded range read of the archive file, so nothing is ever unpacked.

use crate::{BlobLocation, ImageError};
use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// Largest manifest, index or config document accepted.
pub(crate) const MAX_DOCUMENT_BYTES: u64 = 16 << 20;
/// Most members indexed in an outer archive; image archives hold a handful per layer.
const MAX_ARCHIVE_MEMBERS: usize = 1_000_000;

/// A directory or an indexed tar holding an image's files.
#[derive(Debug)]
pub(crate) enum Store {
    /// Files under a directory.
    Dir(PathBuf),
    /// Members of an uncompressed tar.
    Tar {
        /// The archive.
        archive: PathBuf,
        /// Normalised member name → (data offset, length).
        members: HashMap<String, (u64, u64)>,
    },
}

/// Normalises an archive member name: drops `./` and empty components.
fn normalise_member(name: &str) -> String {
    name.split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect::<Vec<_>>()
        .join("/")
}

impl Store {
    /// Indexes the regular-file members of an uncompressed tar.
    pub(crate) fn index_tar(path: &Path) -> Result<Store, ImageError> {
        let shown = path.display().to_string();
        let file = File::open(path).map_err(|source| ImageError::Io {
            path: shown.clone(),
            source,
        })?;
        let mut archive = tar::Archive::new(file);
        let mut members = HashMap::new();
        let entries = archive
            .entries_with_seek()
            .map_err(|e| ImageError::Format {
                what: shown.clone(),
                message: format!("not a readable tar archive: {e}"),
            })?;
        let mut last = String::from("-");
        for entry in entries {
            let entry = entry.map_err(|e| ImageError::Format {
                what: shown.clone(),
                message: format!("corrupt tar after member {last:?}: {e}"),
            })?;
            let kind = entry.header().entry_type();
            if !(kind.is_file() || kind == tar::EntryType::Continuous) {
                continue;
            }
            let name = normalise_member(&String::from_utf8_lossy(&entry.path_bytes()));
            let offset = entry.raw_file_position();
            let len = entry.size();
            if members.len() >= MAX_ARCHIVE_MEMBERS {
                return Err(ImageError::Format {
                    what: shown,
                    message: format!("more than {MAX_ARCHIVE_MEMBERS} members"),
                });
            }
            last.clone_from(&name);
            members.insert(name, (offset, len));
        }
        // Seeking past the end of a file succeeds and the next header read then sees
        // EOF, which tar takes as the end of the archive: a cut-off archive indexes
        // "fine" with its last member running past the end. Catch that here.
        let file_len = std::fs::metadata(path)
            .map_err(|source| ImageError::Io {
                path: shown.clone(),
                source,
            })?
            .len();
        if let Some((name, (offset, len))) = members
            .iter()
            .filter(|(_, (o, l))| o.saturating_add(*l) > file_len)
            .min_by_key(|(_, (o, _))| *o)
        {
            return Err(ImageError::Format {
                what: shown,
                message: format!(
                    "truncated tar archive: member {name:?} needs bytes {offset}..{} but the file ends at {file_len}",
                    offset.saturating_add(*len)
                ),
            });
        }
        Ok(Store::Tar {
            archive: path.to_path_buf(),
            members,
        })
    }

    /// How many regular files an indexed tar holds (0 for a directory store).
    pub(crate) fn member_count(&self) -> usize {
        match self {
            Store::Dir(_) => 0,
            Store::Tar { members, .. } => members.len(),
        }
    }

    /// Whether the store holds a file at `rel`.
    pub(crate) fn contains(&self, rel: &str) -> bool {
        match self {
            Store::Dir(d) => d.join(rel).is_file(),
            Store::Tar { members, .. } => members.contains_key(&normalise_member(rel)),
        }
    }

    /// Where the file at `rel` lives, if present.
    pub(crate) fn locate(&self, rel: &str) -> Option<(BlobLocation, u64)> {
        match self {
            Store::Dir(d) => {
                let p = d.join(rel);
                let md = std::fs::metadata(&p).ok()?;
                md.is_file().then_some((BlobLocation::File(p), md.len()))
            }
            Store::Tar { archive, members } => {
                let (offset, len) = *members.get(&normalise_member(rel))?;
                Some((
                    BlobLocation::TarMember {
                        archive: archive.clone(),
                        offset,
                        len,
                    },
                    len,
                ))
            }
        }
    }

    /// A name for error messages (`index.json in /x/image.tar`).
    pub(crate) fn describe(&self, rel: &str) -> String {
        match self {
            Store::Dir(d) => d.join(rel).display().to_string(),
            Store::Tar { archive, .. } => format!("{rel} in {}", archive.display()),
        }
    }

    /// Reads a small document (manifest, index, config), refusing more than
    /// [`MAX_DOCUMENT_BYTES`]. `None` when absent.
    pub(crate) fn read_document(&self, rel: &str) -> Result<Option<Vec<u8>>, ImageError> {
        let Some((loc, _)) = self.locate(rel) else {
            return Ok(None);
        };
        read_location(&loc, MAX_DOCUMENT_BYTES, &self.describe(rel)).map(Some)
    }
}

/// Opens a blob location as a bounded reader.
/// A compression announced by a blob's or file's first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Magic {
    /// `1f 8b`.
    Gzip,
    /// `28 b5 2f fd`.
    Zstd,
}

/// The compression magic at the start of `head`, if any (the one place bulwark knows
/// these bytes).
pub(crate) fn compression_magic(head: &[u8]) -> Option<Magic> {
    if head.starts_with(&[0x1f, 0x8b]) {
        Some(Magic::Gzip)
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Some(Magic::Zstd)
    } else {
        None
    }
}

/// The file a location reads from, for messages.
pub(crate) fn location_name(loc: &BlobLocation) -> String {
    match loc {
        BlobLocation::File(p) => p.display().to_string(),
        BlobLocation::TarMember { archive, .. } => archive.display().to_string(),
    }
}

pub(crate) fn open_location(loc: &BlobLocation) -> Result<std::io::Take<File>, ImageError> {
    match loc {
        BlobLocation::File(p) => {
            let f = File::open(p).map_err(|source| ImageError::Io {
                path: p.display().to_string(),
                source,
            })?;
            // A blob file is read whole; u64::MAX keeps one reader type for both cases.
            Ok(f.take(u64::MAX))
        }
        BlobLocation::TarMember {
            archive,
            offset,
            len,
        } => {
            let io = |source| ImageError::Io {
                path: archive.display().to_string(),
                source,
            };
            let mut f = File::open(archive).map_err(io)?;
            f.seek(SeekFrom::Start(*offset)).map_err(io)?;
            Ok(f.take(*len))
        }
    }
}

/// Reads a whole location into memory, refusing more than `limit` bytes.
pub(crate) fn read_location(
    loc: &BlobLocation,
    limit: u64,
    what: &str,
) -> Result<Vec<u8>, ImageError> {
    let r = open_location(loc)?;
    let mut buf = Vec::new();
    r.take(limit + 1)
        .read_to_end(&mut buf)
        .map_err(|source| ImageError::Io {
            path: what.to_string(),
            source,
        })?;
    if buf.len() as u64 > limit {
        return Err(ImageError::Format {
            what: what.to_string(),
            message: format!("larger than the {limit}-byte limit for documents"),
        });
    }
    if let BlobLocation::TarMember { len, .. } = loc {
        if (buf.len() as u64) < *len {
            return Err(ImageError::Format {
                what: what.to_string(),
                message: format!("archive member truncated: {} of {len} bytes", buf.len()),
            });
        }
    }
    Ok(buf)
}
