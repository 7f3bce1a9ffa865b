//! Reader for rpm's SQLite backend (`rpmdb.sqlite`, rpm 4.16+: Fedora, RHEL 9, Mariner,
//! Azure Linux), via rusqlite's bundled SQLite: `SELECT blob FROM Packages`.
//!
//! The cataloger gets a reader, not a file, so the bytes go to a private temporary file
//! first. rpm keeps the database in WAL mode; the `-wal` file is not part of what we
//! were given, so the copy is switched to rollback-journal mode in its header and opened
//! read-only and immutable, which makes SQLite neither create nor look for side files.

use super::RpmDbError;
use rusqlite::{Connection, OpenFlags};
use std::io::Write;
use std::path::Path;

/// SQLite header offsets of the file-format write/read versions (2 = WAL).
const WAL_VERSION_BYTES: std::ops::Range<usize> = 18..20;

/// Returns the header blobs of all packages in an rpm SQLite database image.
pub fn parse_rpm_sqlite(data: &[u8]) -> Result<Vec<Vec<u8>>, RpmDbError> {
    if !data.starts_with(b"SQLite format 3\0") {
        return Err(RpmDbError::Format("sqlite", "missing SQLite header".into()));
    }
    let mut copy = data.to_vec();
    if let Some(v) = copy.get_mut(WAL_VERSION_BYTES) {
        if *v == [2, 2] {
            v.copy_from_slice(&[1, 1]);
        }
    }
    let mut tmp = tempfile::NamedTempFile::new()?;
    tmp.write_all(&copy)?;
    tmp.flush()?;
    read_packages(tmp.path())
}

/// Reads the `Packages` table of the database at `path` without modifying it.
pub fn read_packages(path: &Path) -> Result<Vec<Vec<u8>>, RpmDbError> {
    let uri = format!("file:{}?immutable=1", uri_escape(&path.to_string_lossy()));
    let conn = Connection::open_with_flags(
        uri,
        OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    let mut stmt = conn.prepare("SELECT blob FROM Packages")?;
    let rows = stmt.query_map([], |r| r.get::<_, Vec<u8>>(0))?;
    let mut out = Vec::new();
    for row in rows {
        out.push(row?);
    }
    Ok(out)
}

/// Percent-encodes the characters that are special in SQLite URI filenames.
fn uri_escape(p: &str) -> String {
    let mut out = String::with_capacity(p.len());
    for c in p.chars() {
        match c {
            '%' | '?' | '#' => out.push_str(&format!("%{:02X}", c as u32)),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_sqlite_is_error() {
        assert!(parse_rpm_sqlite(b"hello").is_err());
    }

    #[test]
    fn uri_escaping() {
        assert_eq!(uri_escape("/tmp/a?b#c%d"), "/tmp/a%3Fb%23c%25d");
    }
}
