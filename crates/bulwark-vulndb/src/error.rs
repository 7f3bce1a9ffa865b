//! Errors of the vulnerability store, its import, update, export and enrichment feeds.
//!
//! Every variant names the file, directory or URL it is about, so a failed
//! `bulwark db ...` command tells the user what to look at without a backtrace.

use std::path::PathBuf;

/// Result alias for this crate's store operations.
pub type Result<T, E = VulnDbError> = std::result::Result<T, E>;

/// What went wrong in the store, an import or an update.
#[derive(Debug, thiserror::Error)]
pub enum VulnDbError {
    /// A file-system operation failed.
    #[error("{what} {path}: {source}")]
    Io {
        /// What was being done ("reading", "creating", ...).
        what: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The DB directory cannot be written (read-only mount or no write permission).
    #[error("vulnerability DB directory {path} is read-only ({reason}); choose a writable directory with BULWARK_DB or --db")]
    ReadOnly {
        /// The directory.
        path: PathBuf,
        /// Why it is considered read-only.
        reason: String,
    },
    /// There is no DB yet in this directory.
    #[error("no vulnerability DB in {path}; run `bulwark db update` or `bulwark db import` first")]
    NotFound {
        /// The DB directory.
        path: PathBuf,
    },
    /// The `current` pointer or a generation file is not what this code writes.
    #[error("corrupt vulnerability DB at {path}: {reason}")]
    Corrupt {
        /// The offending file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The DB was written by a newer bulwark.
    #[error("DB schema {found} is newer than this bulwark supports ({supported}); run a newer bulwark or `bulwark db update` to rebuild")]
    SchemaTooNew {
        /// Schema version in the DB.
        found: u32,
        /// Highest version this code knows.
        supported: u32,
    },
    /// SQLite reported an error.
    #[error("SQLite error on {path}: {source}")]
    Sqlite {
        /// The generation file.
        path: PathBuf,
        /// The SQLite error.
        #[source]
        source: rusqlite::Error,
    },
    /// Writing the DB failed for lack of room: a full disk, a quota or a file-size limit.
    /// The DB being built is discarded; the current one is untouched.
    #[error("cannot write {path}: no room left (disk full, quota or file-size limit: {source}); the previous DB is unchanged")]
    NoSpace {
        /// The generation file being written.
        path: PathBuf,
        /// The SQLite error.
        #[source]
        source: rusqlite::Error,
    },
    /// Another process is updating the DB right now.
    #[error("another bulwark is updating the vulnerability DB in {path}; try again when it has finished")]
    Busy {
        /// The DB directory.
        path: PathBuf,
    },
    /// An input (file, zip entry, export, feed) is malformed as a whole.
    #[error("invalid input {path}: {reason}")]
    BadInput {
        /// The input, possibly `archive.zip!entry`.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// An input exceeded a size limit.
    #[error("{path} is larger than the limit of {limit} bytes")]
    TooLarge {
        /// The input.
        path: String,
        /// The limit that was hit.
        limit: u64,
    },
    /// An HTTP request failed or returned an unexpected status.
    #[error("download of {url} failed: {reason}")]
    Http {
        /// The URL.
        url: String,
        /// What went wrong (status or transport error).
        reason: String,
    },
    /// An export file failed verification.
    #[error("export file {path} failed verification: {reason}")]
    Verify {
        /// The export file.
        path: PathBuf,
        /// Which check failed.
        reason: String,
    },
}

impl VulnDbError {
    /// Builds an [`VulnDbError::Io`] for `path`.
    pub(crate) fn io(what: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        VulnDbError::Io {
            what,
            path: path.into(),
            source,
        }
    }

    /// Builds a [`VulnDbError::Sqlite`] for `path`.
    pub(crate) fn sql(path: impl Into<PathBuf>, source: rusqlite::Error) -> Self {
        // SQLite reports ENOSPC as SQLITE_FULL, but EFBIG and EDQUOT from write(2) as a
        // plain write I/O error; to the user all three mean "no room".
        const SQLITE_IOERR_WRITE: std::ffi::c_int = 778;
        let no_room = match &source {
            rusqlite::Error::SqliteFailure(e, _) => {
                e.code == rusqlite::ErrorCode::DiskFull || e.extended_code == SQLITE_IOERR_WRITE
            }
            _ => false,
        };
        if no_room {
            VulnDbError::NoSpace {
                path: path.into(),
                source,
            }
        } else {
            VulnDbError::Sqlite {
                path: path.into(),
                source,
            }
        }
    }

    /// Builds a [`VulnDbError::BadInput`].
    pub(crate) fn bad(path: impl Into<String>, reason: impl Into<String>) -> Self {
        VulnDbError::BadInput {
            path: path.into(),
            reason: reason.into(),
        }
    }
}
