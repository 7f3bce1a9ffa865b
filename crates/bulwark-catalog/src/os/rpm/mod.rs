//! rpm installed-package databases in all three storage formats rpm has used — SQLite
//! (`rpmdb.sqlite`), NDB (`Packages.db`) and Berkeley DB hash (`Packages`) — plus the
//! rpm-less manifest of Mariner distroless images. Everything is read natively: no rpm
//! binary, no librpm.

pub mod bdb;
pub mod header;
pub mod manifest;
pub mod ndb;
pub mod sqlite;

use crate::{read_bounded, CatalogError, CatalogInput, CatalogOutput, Cataloger, ScanMode};
use bulwark_core::{Ecosystem, Package, SourcePackage};
use header::{parse_header, split_source_rpm, RpmHeader};

/// Directories rpm keeps its database in (classic, rpm ≥ 4.16 sysimage, SUSE's old one).
const RPM_DIRS: &[&str] = &["var/lib/rpm", "usr/lib/sysimage/rpm", "usr/share/rpm"];

/// Big RHEL installations have Berkeley DB files of a few hundred MiB.
const MAX_RPMDB_SIZE: u64 = 1024 * 1024 * 1024;

/// Errors from the rpm database readers.
#[derive(Debug, thiserror::Error)]
pub enum RpmDbError {
    /// The storage format (first field) is malformed.
    #[error("malformed {0} rpm database: {1}")]
    Format(&'static str, String),
    /// SQLite refused the database.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// Reading the database failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// No spool directory was given for the temporary copy SQLite needs.
    #[error("no spool directory given for the SQLite database's copy")]
    NoSpoolDir,
    /// Writing the temporary copy into the spool directory failed.
    #[error("writing under {0}: {1}")]
    Spool(String, std::io::Error),
    /// Reading stopped at a limit of this run (SQLite steps or wall-clock time).
    #[error("{0}")]
    Interrupted(String),
}

impl From<RpmDbError> for CatalogError {
    fn from(e: RpmDbError) -> Self {
        match e {
            RpmDbError::Io(io) => CatalogError::Io(io),
            other @ (RpmDbError::NoSpoolDir | RpmDbError::Spool(..)) => {
                CatalogError::Spool(other.to_string())
            }
            RpmDbError::Interrupted(m) => CatalogError::Interrupted(format!("rpmdb: {m}")),
            // The machine failed, not the file: out of memory, disk, I/O.
            RpmDbError::Sqlite(e)
                if matches!(
                    e.sqlite_error_code(),
                    Some(
                        rusqlite::ErrorCode::OutOfMemory
                            | rusqlite::ErrorCode::DiskFull
                            | rusqlite::ErrorCode::SystemIoFailure
                            | rusqlite::ErrorCode::CannotOpen
                            | rusqlite::ErrorCode::DatabaseBusy
                            | rusqlite::ErrorCode::DatabaseLocked
                    )
                ) =>
            {
                CatalogError::Interrupted(format!("rpmdb: sqlite: {e}"))
            }
            other => CatalogError::parse("rpmdb", other.to_string()),
        }
    }
}

/// The storage format of an rpm database file, from its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RpmDbFormat {
    /// `rpmdb.sqlite`.
    Sqlite,
    /// `Packages.db`.
    Ndb,
    /// `Packages` (Berkeley DB hash).
    BerkeleyDb,
}

impl RpmDbFormat {
    /// The format of the rpm database at `path`, if it is one.
    pub fn for_path(path: &str) -> Option<Self> {
        if !RPM_DIRS.contains(&crate::util::parent(path)) {
            return None;
        }
        match crate::util::file_name(path) {
            "rpmdb.sqlite" => Some(RpmDbFormat::Sqlite),
            "Packages.db" => Some(RpmDbFormat::Ndb),
            "Packages" => Some(RpmDbFormat::BerkeleyDb),
            _ => None,
        }
    }
}

/// Catalogs rpm databases.
#[derive(Debug, Default, Clone, Copy)]
pub struct RpmDbCataloger;

impl Cataloger for RpmDbCataloger {
    fn id(&self) -> &'static str {
        "rpm"
    }

    fn wants(&self, path: &str, _size: u64, _mode: u32, _scan: ScanMode) -> bool {
        RpmDbFormat::for_path(path).is_some()
    }

    fn catalog(&self, input: CatalogInput<'_>) -> Result<CatalogOutput, CatalogError> {
        let Some(format) = RpmDbFormat::for_path(input.path) else {
            return Ok(CatalogOutput::default());
        };
        let blobs = if format == RpmDbFormat::Sqlite {
            // Streamed into the spool dir: never held in memory.
            if input.size > MAX_RPMDB_SIZE {
                return Err(CatalogError::TooLarge {
                    size: input.size,
                    limit: MAX_RPMDB_SIZE,
                    cataloger: "rpm",
                });
            }
            let dir = input.spool_dir.ok_or(RpmDbError::NoSpoolDir)?;
            input.reader.rewind()?;
            sqlite::read_rpm_sqlite(input.reader, MAX_RPMDB_SIZE, dir)?
        } else {
            let data = read_bounded(input.reader, MAX_RPMDB_SIZE, "rpm")?;
            header_blobs(&data, format, None)?
        };
        let mut warnings = crate::util::RecordWarnings::default();
        let packages = packages_from_blobs(&blobs, &mut warnings)?;
        Ok(CatalogOutput {
            packages,
            warnings: warnings.finish(),
            ..Default::default()
        })
    }
}

/// The header blobs of an rpm database image; SQLite needs `spool_dir` for its copy.
fn header_blobs(
    data: &[u8],
    format: RpmDbFormat,
    spool_dir: Option<&std::path::Path>,
) -> Result<Vec<Vec<u8>>, RpmDbError> {
    Ok(match format {
        RpmDbFormat::Sqlite => {
            let dir = spool_dir.ok_or(RpmDbError::NoSpoolDir)?;
            sqlite::read_rpm_sqlite(&mut &data[..], MAX_RPMDB_SIZE, dir)?
        }
        RpmDbFormat::Ndb => {
            let blobs = ndb::parse_ndb(data)?;
            // Slots may point at overlapping bytes; copies never add up to more than
            // the file, so the work stays linear in its size.
            let total: usize = blobs.iter().map(|b| b.len()).sum();
            if total > data.len() {
                return Err(RpmDbError::Format(
                    "ndb",
                    format!(
                        "blobs add up to {total} bytes, more than the file's {} (slots overlap)",
                        data.len()
                    ),
                ));
            }
            blobs.into_iter().map(<[u8]>::to_vec).collect()
        }
        RpmDbFormat::BerkeleyDb => bdb::parse_bdb(data)?,
    })
}

/// Parses an rpm database image of the given format into packages. The SQLite format
/// is copied into `spool_dir` first (SQLite reads files); the others are read in place.
///
/// A header that fails to decode is skipped (and logged); if every header fails the
/// whole file is reported as malformed.
pub fn parse_rpmdb(
    data: &[u8],
    format: RpmDbFormat,
    spool_dir: &std::path::Path,
) -> Result<Vec<Package>, CatalogError> {
    packages_from_blobs(
        &header_blobs(data, format, Some(spool_dir))?,
        &mut crate::util::RecordWarnings::default(),
    )
}

fn packages_from_blobs(
    blobs: &[Vec<u8>],
    warnings: &mut crate::util::RecordWarnings,
) -> Result<Vec<Package>, CatalogError> {
    let mut out = Vec::new();
    let mut first_err = None;
    for (i, blob) in blobs.iter().enumerate() {
        match parse_header(blob) {
            Ok(h) if h.name == "gpg-pubkey" => {}
            Ok(h) => out.push(package_from_header(h)),
            Err(e) => {
                warnings.push(format!("rpm header {i} skipped: {e}"));
                first_err.get_or_insert(format!("record {i}: {e}"));
            }
        }
    }
    match first_err {
        Some(e) if out.is_empty() => Err(CatalogError::parse("rpmdb", e)),
        _ => Ok(out),
    }
}

/// Turns a decoded header into a [`Package`]: version `[epoch:]version-release`.
pub fn package_from_header(h: RpmHeader) -> Package {
    let ver_rel = if h.release.is_empty() {
        h.version.clone()
    } else {
        format!("{}-{}", h.version, h.release)
    };
    let version = match h.epoch {
        Some(e) => format!("{e}:{ver_rel}"),
        None => ver_rel,
    };
    let mut p = Package::new(Ecosystem::Rpm, h.name, version, "rpm");
    p.epoch = h.epoch;
    p.arch = h.arch.filter(|a| !a.is_empty());
    p.licenses = h.license.into_iter().filter(|l| !l.is_empty()).collect();
    p.supplier = h.vendor.filter(|v| !v.is_empty());
    p.source = h
        .source_rpm
        .as_deref()
        .and_then(split_source_rpm)
        .map(|(name, version)| SourcePackage { name, version });
    p
}
