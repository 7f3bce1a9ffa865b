//! Reader for rpm's SQLite backend (`rpmdb.sqlite`, rpm 4.16+: Fedora, RHEL 9, Mariner,
//! Azure Linux), via rusqlite's bundled SQLite: `SELECT blob FROM Packages`.
//!
//! SQLite needs a file, and the cataloger gets a reader, so the bytes are streamed (never
//! held in memory) into a private temporary file in bulwark's own spool directory (the
//! cache dir the walk spools to; never the system temp dir), which is deleted when the
//! read ends. rpm keeps the database in WAL mode; the `-wal` file is not part of what we
//! were given, so the copy is switched to rollback-journal mode in its header and opened
//! read-only and immutable, which makes SQLite neither create nor look for side files.
//!
//! The database comes from the image, so it is treated as hostile:
//! - `trusted_schema` is off and defensive mode on, so functions with side effects
//!   cannot run from its schema (views, triggers, generated columns, defaults); SQLite
//!   extensions cannot be loaded (rusqlite is built without that feature, and SQLite's
//!   `load_extension()` SQL function is off by default);
//! - a progress handler aborts any statement after [`MAX_VM_STEPS`] virtual-machine
//!   steps, so a `Packages` view over a recursive CTE cannot hang the scan (reading a
//!   real table takes a few steps per row);
//! - one value may be at most [`MAX_BLOB`] bytes and all of them together at most the
//!   file's size, since a real table cannot hold more than its file.

use super::RpmDbError;
use rusqlite::config::DbConfig;
use rusqlite::limits::Limit;
use rusqlite::{Connection, OpenFlags};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

/// SQLite header offsets of the file-format write/read versions (2 = WAL).
const WAL_VERSION_OFFSET: u64 = 18;

/// Most virtual-machine steps one query may take. Reading the `Packages` table of a
/// large RHEL image takes well under a million; a crafted view that recurses stops here,
/// within a fraction of a second.
pub const MAX_VM_STEPS: u64 = 50_000_000;

/// Longest the query may run, whatever its step count (one step of a built-in function
/// such as `zeroblob` over a large size can itself take long).
pub const MAX_READ_TIME: std::time::Duration = std::time::Duration::from_secs(10);

/// Steps between two progress-handler calls: few enough that the clock is read often
/// when each step is slow (a call costs a closure and a clock read).
const STEPS_PER_CALL: u64 = 100;

/// Largest single value (rpm header) accepted, in bytes. Real headers are at most a few
/// MiB (a kernel package's file list).
pub const MAX_BLOB: i32 = 64 << 20;

/// Streams an rpm SQLite database from `reader` (at most `max` bytes) into a temporary
/// file in `spool_dir`, and returns the header blobs of all its packages.
pub fn read_rpm_sqlite(
    reader: &mut dyn Read,
    max: u64,
    spool_dir: &Path,
) -> Result<Vec<Vec<u8>>, RpmDbError> {
    let mut magic = [0u8; 16];
    reader
        .read_exact(&mut magic)
        .map_err(|_| RpmDbError::Format("sqlite", "missing SQLite header".into()))?;
    if &magic != b"SQLite format 3\0" {
        return Err(RpmDbError::Format("sqlite", "missing SQLite header".into()));
    }
    let mut tmp = tempfile::Builder::new()
        .prefix("rpmdb-")
        .suffix(".sqlite")
        .tempfile_in(spool_dir)
        .map_err(|e| RpmDbError::Spool(spool_dir.display().to_string(), e))?;
    let spool_err = |e| RpmDbError::Spool(spool_dir.display().to_string(), e);
    tmp.write_all(&magic).map_err(spool_err)?;
    // Copied by hand rather than with io::copy so that a failing read (the image) and a
    // failing write (our disk) are told apart.
    let mut copied = magic.len() as u64;
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(RpmDbError::Io(e)),
        };
        copied += n as u64;
        if copied > max {
            return Err(RpmDbError::Format(
                "sqlite",
                format!("database is over the {max}-byte limit"),
            ));
        }
        tmp.write_all(buf.get(..n).unwrap_or_default())
            .map_err(spool_err)?;
    }
    let size = copied;
    // Switch a WAL database to rollback-journal mode in the copy's header.
    let f = tmp.as_file_mut();
    let mut ver = [0u8; 2];
    f.seek(SeekFrom::Start(WAL_VERSION_OFFSET))
        .and_then(|_| f.read_exact(&mut ver))
        .map_err(|_| RpmDbError::Format("sqlite", "database header truncated".into()))?;
    if ver == [2, 2] {
        f.seek(SeekFrom::Start(WAL_VERSION_OFFSET))
            .and_then(|_| f.write_all(&[1, 1]))
            .and_then(|()| f.flush())
            .map_err(spool_err)?;
    }
    read_packages(tmp.path(), size)
}

/// Reads the `Packages` table of the database at `path` (of `size` bytes) without
/// modifying it, under the limits in the module docs.
pub fn read_packages(path: &Path, size: u64) -> Result<Vec<Vec<u8>>, RpmDbError> {
    let uri = format!("file:{}?immutable=1", uri_escape(&path.to_string_lossy()));
    let conn = Connection::open_with_flags(
        uri,
        OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_TRUSTED_SCHEMA, false)?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_DEFENSIVE, true)?;
    conn.pragma_update(None, "trusted_schema", false)?;
    conn.set_limit(Limit::SQLITE_LIMIT_LENGTH, MAX_BLOB)?;
    // Steps and wall-clock time: one step of a built-in function can take long.
    let started = std::time::Instant::now();
    let mut calls = 0u64;
    conn.progress_handler(
        STEPS_PER_CALL as i32,
        Some(move || {
            calls += 1;
            calls.saturating_mul(STEPS_PER_CALL) > MAX_VM_STEPS || started.elapsed() > MAX_READ_TIME
        }),
    );
    let interrupted = |e: rusqlite::Error| {
        match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::OperationInterrupted) => RpmDbError::Interrupted(
            format!(
                "reading Packages took more than {MAX_VM_STEPS} SQLite steps or {} s (a crafted schema?); aborted",
                MAX_READ_TIME.as_secs()
            ),
        ),
        _ => RpmDbError::Sqlite(e),
    }
    };
    let mut stmt = conn
        .prepare("SELECT blob FROM Packages")
        .map_err(interrupted)?;
    let mut rows = stmt.query([]).map_err(interrupted)?;
    let mut out = Vec::new();
    let mut total = 0u64;
    while let Some(row) = rows.next().map_err(interrupted)? {
        let blob: Vec<u8> = row.get(0).map_err(interrupted)?;
        total = total.saturating_add(blob.len() as u64);
        if total > size {
            return Err(RpmDbError::Format(
                "sqlite",
                format!("Packages yields more than the file's {size} bytes"),
            ));
        }
        out.push(blob);
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
        let dir = tempfile::tempdir().unwrap();
        let e = read_rpm_sqlite(&mut &b"hello"[..], 1 << 20, dir.path()).unwrap_err();
        assert!(e.to_string().contains("missing SQLite header"), "{e}");
        // Nothing is left in the spool dir.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn uri_escaping() {
        assert_eq!(uri_escape("/tmp/a?b#c%d"), "/tmp/a%3Fb%23c%25d");
    }
}
