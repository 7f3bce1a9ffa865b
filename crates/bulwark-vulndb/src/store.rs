//! The on-disk vulnerability store: immutable SQLite generation files in one directory,
//! a `current` pointer swapped by atomic rename, lock-free read-only readers and a
//! single writer that builds each new generation beside the old one.
//!
//! Layout of a DB directory (see `docs/vulndb.md`):
//!
//! ```text
//! current                      one line: the file name of the current generation
//! gen-<secs>-<nanos>-<pid>.db  immutable SQLite generations (old ones kept for a grace period)
//! tmp-<pid>-<nanos>.db         a generation being built (deleted by the next writer if stale)
//! update.lock                  advisory lock held by the one writer; readers never touch it
//! ```
//!
//! Readers resolve `current` once and open that file with `mode=ro&immutable=1`, so
//! SQLite takes no locks and never looks at journals: a reader can never block or be
//! blocked. Writers never modify a file that was ever pointed to; they copy it, change
//! the copy, fsync it and then replace the pointer with a rename.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use serde::{Deserialize, Serialize};

use crate::error::{Result, VulnDbError};
use crate::osv::OsvRecord;

/// Schema version this code writes and the highest it can read.
pub const SCHEMA_VERSION: u32 = 1;
/// Name of the pointer file.
pub const POINTER_FILE: &str = "current";
/// Name of the writers' lock file.
pub const LOCK_FILE: &str = "update.lock";
/// How long a generation that is no longer current is kept before deletion, so a
/// reader that has just read the pointer can still open it.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(15 * 60);

const GEN_PREFIX: &str = "gen-";
const GEN_SUFFIX: &str = ".db";
const TMP_PREFIX: &str = "tmp-";
/// A record blob never legitimately decompresses beyond this.
const MAX_RECORD_BYTES: u64 = 64 << 20;
/// The pointer holds one short file name.
const MAX_POINTER_BYTES: u64 = 256;

const SCHEMA_SQL: &str = "
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE records (
    id TEXT PRIMARY KEY,
    modified TEXT NOT NULL,
    withdrawn TEXT,
    data BLOB NOT NULL
);
CREATE TABLE affected (
    ecosystem_base TEXT NOT NULL,
    ecosystem_full TEXT NOT NULL,
    package_name TEXT NOT NULL,
    package_key TEXT NOT NULL,
    record_id TEXT NOT NULL
);
CREATE TABLE aliases (record_id TEXT NOT NULL, alias TEXT NOT NULL, kind TEXT NOT NULL);
CREATE TABLE ecosystems (name TEXT PRIMARY KEY, records INTEGER NOT NULL, updated INTEGER NOT NULL);
CREATE TABLE feeds (
    name TEXT PRIMARY KEY,
    etag TEXT,
    last_modified TEXT,
    cursor TEXT,
    updated INTEGER NOT NULL
);
CREATE TABLE kev (
    cve TEXT PRIMARY KEY,
    vendor_project TEXT NOT NULL,
    product TEXT NOT NULL,
    vulnerability_name TEXT NOT NULL,
    date_added TEXT NOT NULL,
    short_description TEXT NOT NULL,
    required_action TEXT NOT NULL,
    due_date TEXT NOT NULL,
    known_ransomware_campaign_use TEXT,
    notes TEXT
);
CREATE TABLE epss (cve TEXT PRIMARY KEY, score REAL NOT NULL, percentile REAL NOT NULL, date TEXT);
";

/// Indexes are created after bulk loads of a fresh generation (faster than maintaining
/// them row by row) and are `IF NOT EXISTS` so copied generations keep theirs.
const INDEX_SQL: &str = "
CREATE INDEX IF NOT EXISTS affected_pkg ON affected (ecosystem_base, package_key);
CREATE INDEX IF NOT EXISTS affected_rec ON affected (record_id);
CREATE INDEX IF NOT EXISTS aliases_alias ON aliases (alias);
CREATE INDEX IF NOT EXISTS aliases_rec ON aliases (record_id);
";

/// PEP 503 normalisation, as everywhere in bulwark: [`bulwark_core::purl::normalize_pypi_name`].
pub use bulwark_core::purl::normalize_pypi_name as pep503_normalize;

/// The key a package name is indexed and looked up by: PEP 503 for PyPI (whose names
/// are case- and separator-insensitive), ASCII lower case for NuGet and Packagist (whose
/// package ids are case-insensitive) and Go (whose module paths are case-sensitive, but
/// which SBOM writers often lower-case; the matcher compares them ignoring ASCII case),
/// the name as spelled everywhere else.
pub fn package_key(ecosystem_base: &str, name: &str) -> String {
    match ecosystem_base {
        "PyPI" => pep503_normalize(name),
        "NuGet" | "Packagist" | "Go" => name.to_ascii_lowercase(),
        _ => name.to_string(),
    }
}

/// The part of an OSV ecosystem before the first `:` (`Debian:12` → `Debian`).
pub fn ecosystem_base(ecosystem: &str) -> &str {
    ecosystem.split(':').next().unwrap_or(ecosystem)
}

/// Seconds since the Unix epoch, now.
pub(crate) fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Formats Unix seconds as RFC 3339 UTC (`2026-11-28T14:10:00Z`).
pub fn rfc3339(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    // Civil-from-days (proleptic Gregorian), Howard Hinnant's well-known algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    )
}

/// A record ready for insertion: parsed, indexed and compressed (done in parallel by
/// the importers, inserted sequentially by the writer).
#[derive(Debug, Clone)]
pub struct PreparedRecord {
    /// Record id.
    pub id: String,
    /// `modified` as in the record.
    pub modified: String,
    /// `withdrawn` as in the record.
    pub withdrawn: Option<String>,
    /// `(ecosystem_base, ecosystem_full, package_name, package_key)` rows.
    pub index: Vec<(String, String, String, String)>,
    /// `(alias, kind)` rows; kind is `alias` or `upstream`.
    pub aliases: Vec<(String, &'static str)>,
    /// zstd-compressed JSON of the record.
    pub blob: Vec<u8>,
}

impl PreparedRecord {
    /// Indexes and compresses `rec`.
    pub fn new(rec: &OsvRecord) -> Result<Self> {
        let json = serde_json::to_vec(rec)
            .map_err(|e| VulnDbError::bad(rec.id.clone(), format!("cannot serialise: {e}")))?;
        let blob = zstd::bulk::compress(&json, 3)
            .map_err(|e| VulnDbError::bad(rec.id.clone(), format!("cannot compress: {e}")))?;
        let mut seen = BTreeSet::new();
        for a in &rec.affected {
            let Some(pkg) = &a.package else { continue };
            if pkg.name.is_empty() || pkg.ecosystem.is_empty() {
                continue;
            }
            let base = ecosystem_base(&pkg.ecosystem).to_string();
            let key = package_key(&base, &pkg.name);
            seen.insert((base, pkg.ecosystem.clone(), pkg.name.clone(), key));
        }
        let mut aliases: BTreeSet<(String, &'static str)> = BTreeSet::new();
        aliases.extend(rec.aliases.iter().map(|a| (a.clone(), "alias")));
        aliases.extend(rec.upstream.iter().map(|a| (a.clone(), "upstream")));
        Ok(PreparedRecord {
            id: rec.id.clone(),
            modified: rec.modified.clone(),
            withdrawn: rec.withdrawn.clone(),
            index: seen.into_iter().collect(),
            aliases: aliases.into_iter().collect(),
            blob,
        })
    }
}

/// A CISA KEV catalog entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KevEntry {
    /// CVE id.
    pub cve: String,
    /// Vendor or project.
    pub vendor_project: String,
    /// Product.
    pub product: String,
    /// CISA's name for the vulnerability.
    pub vulnerability_name: String,
    /// Date added to the catalog (YYYY-MM-DD).
    pub date_added: String,
    /// Short description.
    pub short_description: String,
    /// Required action.
    pub required_action: String,
    /// Remediation due date (YYYY-MM-DD).
    pub due_date: String,
    /// `Known` / `Unknown` (absent in older catalogs).
    pub known_ransomware_campaign_use: Option<String>,
    /// Notes (absent in older catalogs).
    pub notes: Option<String>,
}

/// An EPSS score for one CVE.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpssScore {
    /// CVE id.
    pub cve: String,
    /// Probability of exploitation in the next 30 days, 0..=1.
    pub score: f64,
    /// Percentile among all scored CVEs, 0..=1.
    pub percentile: f64,
    /// Score date from the file's comment line, when given.
    pub date: Option<String>,
}

/// Per-ecosystem record counts and update time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceInfo {
    /// Ecosystem base name (`PyPI`, `Debian`, ...).
    pub name: String,
    /// Records with at least one affected package in this ecosystem.
    pub records: u64,
    /// When records of this ecosystem were last written (RFC 3339).
    pub updated: String,
}

/// What `bulwark db info` shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DbInfo {
    /// Schema version of the generation.
    pub schema_version: u32,
    /// Generation id (file name without `gen-` / `.db`).
    pub generation: String,
    /// When the generation was built (RFC 3339).
    pub created: String,
    /// Total records, including withdrawn ones and ones without packages.
    pub records: u64,
    /// Withdrawn records (stored, never returned by lookups).
    pub withdrawn: u64,
    /// Per-ecosystem counts.
    pub sources: Vec<SourceInfo>,
    /// KEV entries.
    pub kev_count: u64,
    /// EPSS scores.
    pub epss_count: u64,
    /// The generation file.
    pub path: PathBuf,
}

/// Reads and validates the pointer; returns the generation file name.
fn read_pointer(dir: &Path) -> Result<Option<String>> {
    let p = dir.join(POINTER_FILE);
    let f = match File::open(&p) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(VulnDbError::io("reading", p, e)),
    };
    let mut s = String::new();
    f.take(MAX_POINTER_BYTES)
        .read_to_string(&mut s)
        .map_err(|e| VulnDbError::io("reading", &p, e))?;
    let name = s.trim();
    if !is_generation_name(name) {
        return Err(VulnDbError::Corrupt {
            path: p,
            reason: format!("pointer names {name:?}, not a generation file"),
        });
    }
    Ok(Some(name.to_string()))
}

fn is_generation_name(name: &str) -> bool {
    name.starts_with(GEN_PREFIX)
        && name.ends_with(GEN_SUFFIX)
        && name.len() > GEN_PREFIX.len() + GEN_SUFFIX.len()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
}

/// Percent-encodes what SQLite's URI parser treats specially in a path.
fn sqlite_uri(path: &Path, query: &str) -> String {
    let mut out = String::from("file:");
    for c in path.to_string_lossy().chars() {
        match c {
            '%' => out.push_str("%25"),
            '?' => out.push_str("%3F"),
            '#' => out.push_str("%23"),
            _ => out.push(c),
        }
    }
    out.push('?');
    out.push_str(query);
    out
}

fn read_schema_version(conn: &Connection, path: &Path) -> Result<u32> {
    let v: Option<String> = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'schema_version'",
            [],
            |r| r.get(0),
        )
        .optional()
        .map_err(|e| VulnDbError::sql(path, e))?;
    let v = v.ok_or_else(|| VulnDbError::Corrupt {
        path: path.to_path_buf(),
        reason: "no schema_version in meta".into(),
    })?;
    v.trim().parse().map_err(|_| VulnDbError::Corrupt {
        path: path.to_path_buf(),
        reason: format!("schema_version {v:?} is not a number"),
    })
}

/// Checks a generation's schema version against this code.
pub(crate) fn check_schema(conn: &Connection, path: &Path) -> Result<u32> {
    let found = read_schema_version(conn, path)?;
    if found > SCHEMA_VERSION {
        return Err(VulnDbError::SchemaTooNew {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    if found < SCHEMA_VERSION {
        // Only version 1 exists; an older one would need a migration or a rebuild.
        return Err(VulnDbError::Corrupt {
            path: path.to_path_buf(),
            reason: format!(
                "schema {found} is older than {SCHEMA_VERSION}; run `bulwark db update` to rebuild"
            ),
        });
    }
    Ok(found)
}

/// Opens a generation file read-only without any locking.
fn open_immutable(path: &Path) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
        | OpenFlags::SQLITE_OPEN_URI
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(sqlite_uri(path, "mode=ro&immutable=1"), flags)
        .map_err(|e| VulnDbError::sql(path, e))?;
    Ok(conn)
}

/// Decompresses a record blob, bounded.
fn decode_blob(blob: &[u8], id: &str, path: &Path) -> Result<OsvRecord> {
    let corrupt = |reason: String| VulnDbError::Corrupt {
        path: path.to_path_buf(),
        reason: format!("record {id}: {reason}"),
    };
    let dec = zstd::stream::read::Decoder::new(blob).map_err(|e| corrupt(e.to_string()))?;
    let mut json = Vec::new();
    dec.take(MAX_RECORD_BYTES + 1)
        .read_to_end(&mut json)
        .map_err(|e| corrupt(e.to_string()))?;
    if json.len() as u64 > MAX_RECORD_BYTES {
        return Err(corrupt("record too large".into()));
    }
    serde_json::from_slice(&json).map_err(|e| corrupt(e.to_string()))
}

/// A read-only handle on one generation of the DB. Cheap to open; one per thread
/// (SQLite connections are not `Sync`); see [`VulnDb::clone_handle`].
pub struct VulnDb {
    conn: Connection,
    dir: PathBuf,
    path: PathBuf,
    generation: String,
}

impl std::fmt::Debug for VulnDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VulnDb")
            .field("path", &self.path)
            .field("generation", &self.generation)
            .finish()
    }
}

impl VulnDb {
    /// Opens the current generation in `dir`.
    pub fn open(dir: impl AsRef<Path>) -> Result<VulnDb> {
        let dir = dir.as_ref();
        // A writer may retire and (after the grace period) delete the generation
        // between our pointer read and open; reading the pointer again resolves that.
        let mut last_err = None;
        for _ in 0..5 {
            let name = read_pointer(dir)?.ok_or_else(|| VulnDbError::NotFound {
                path: dir.to_path_buf(),
            })?;
            let path = dir.join(&name);
            if !path.is_file() {
                last_err = Some(VulnDbError::Corrupt {
                    path: path.clone(),
                    reason: "the current generation file is missing".into(),
                });
                continue;
            }
            let conn = match open_immutable(&path) {
                Ok(c) => c,
                // Deleted between the check and the open: read the pointer again.
                Err(e) if !path.exists() => {
                    last_err = Some(e);
                    continue;
                }
                Err(e) => return Err(e),
            };
            check_schema(&conn, &path)?;
            let generation = generation_id(&name).to_string();
            return Ok(VulnDb {
                conn,
                dir: dir.to_path_buf(),
                path,
                generation,
            });
        }
        Err(last_err.unwrap_or(VulnDbError::NotFound {
            path: dir.to_path_buf(),
        }))
    }

    /// A second handle on the same generation (for another thread).
    pub fn clone_handle(&self) -> Result<VulnDb> {
        let conn = open_immutable(&self.path)?;
        Ok(VulnDb {
            conn,
            dir: self.dir.clone(),
            path: self.path.clone(),
            generation: self.generation.clone(),
        })
    }

    /// The generation id this handle reads.
    pub fn generation(&self) -> &str {
        &self.generation
    }

    /// The generation file this handle reads.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The DB directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn sql(&self, e: rusqlite::Error) -> VulnDbError {
        VulnDbError::sql(&self.path, e)
    }

    /// All live (not withdrawn) records naming package `name` in any release of
    /// `ecosystem_base` (`Debian`, `PyPI`, ...), ordered by id. Names are compared by
    /// [`package_key`]: PEP 503 for PyPI, case-insensitively for NuGet and Packagist,
    /// exactly for the rest.
    pub fn records_for(&self, ecosystem_base: &str, name: &str) -> Result<Vec<OsvRecord>> {
        let key = package_key(ecosystem_base, name);
        let now = rfc3339(now_unix());
        // Generations written before NuGet/Packagist/Go keys were lower-cased hold those
        // names as spelled; asking for the spelling too keeps exact matches working there.
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT r.id, r.data FROM records r
                 WHERE r.id IN (SELECT record_id FROM affected
                                WHERE ecosystem_base = ?1 AND package_key IN (?2, ?4))
                   AND (r.withdrawn IS NULL OR r.withdrawn > ?3)
                 ORDER BY r.id",
            )
            .map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map(params![ecosystem_base, key, now, name], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?))
            })
            .map_err(|e| self.sql(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, blob) = row.map_err(|e| self.sql(e))?;
            out.push(decode_blob(&blob, &id, &self.path)?);
        }
        Ok(out)
    }

    /// One record by id (withdrawn ones included).
    pub fn record(&self, id: &str) -> Result<Option<OsvRecord>> {
        let blob: Option<Vec<u8>> = self
            .conn
            .prepare_cached("SELECT data FROM records WHERE id = ?1")
            .and_then(|mut s| s.query_row([id], |r| r.get(0)).optional())
            .map_err(|e| self.sql(e))?;
        blob.map(|b| decode_blob(&b, id, &self.path)).transpose()
    }

    /// Ids of records that list `alias` in `aliases` or `upstream`.
    pub fn ids_for_alias(&self, alias: &str) -> Result<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT DISTINCT record_id FROM aliases WHERE alias = ?1 ORDER BY 1")
            .map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map([alias], |r| r.get::<_, String>(0))
            .map_err(|e| self.sql(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.sql(e))
    }

    /// The KEV entry for `cve`, if CISA lists it.
    pub fn kev(&self, cve: &str) -> Result<Option<KevEntry>> {
        self.conn
            .prepare_cached(
                "SELECT cve, vendor_project, product, vulnerability_name, date_added,
                        short_description, required_action, due_date,
                        known_ransomware_campaign_use, notes FROM kev WHERE cve = ?1",
            )
            .and_then(|mut s| {
                s.query_row([cve], |r| {
                    Ok(KevEntry {
                        cve: r.get(0)?,
                        vendor_project: r.get(1)?,
                        product: r.get(2)?,
                        vulnerability_name: r.get(3)?,
                        date_added: r.get(4)?,
                        short_description: r.get(5)?,
                        required_action: r.get(6)?,
                        due_date: r.get(7)?,
                        known_ransomware_campaign_use: r.get(8)?,
                        notes: r.get(9)?,
                    })
                })
                .optional()
            })
            .map_err(|e| self.sql(e))
    }

    /// The EPSS score for `cve`, if scored.
    pub fn epss(&self, cve: &str) -> Result<Option<EpssScore>> {
        self.conn
            .prepare_cached("SELECT cve, score, percentile, date FROM epss WHERE cve = ?1")
            .and_then(|mut s| {
                s.query_row([cve], |r| {
                    Ok(EpssScore {
                        cve: r.get(0)?,
                        score: r.get(1)?,
                        percentile: r.get(2)?,
                        date: r.get(3)?,
                    })
                })
                .optional()
            })
            .map_err(|e| self.sql(e))
    }

    fn meta(&self, key: &str) -> Result<Option<String>> {
        self.conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map_err(|e| self.sql(e))
    }

    fn count(&self, sql: &str) -> Result<u64> {
        let n: i64 = self
            .conn
            .query_row(sql, [], |r| r.get(0))
            .map_err(|e| self.sql(e))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Unix time the generation was built.
    pub fn created_unix(&self) -> Result<i64> {
        let v = self.meta("created_unix")?.unwrap_or_default();
        v.parse().map_err(|_| VulnDbError::Corrupt {
            path: self.path.clone(),
            reason: format!("created_unix {v:?} is not a number"),
        })
    }

    /// How old the generation is (zero if its clock is ahead of ours).
    pub fn age(&self) -> Result<Duration> {
        let created = self.created_unix()?;
        Ok(Duration::from_secs(
            u64::try_from(now_unix().saturating_sub(created)).unwrap_or(0),
        ))
    }

    /// True when the generation is older than `max_age` (scans warn then).
    pub fn is_older_than(&self, max_age: Duration) -> Result<bool> {
        Ok(self.age()? > max_age)
    }

    /// Summary of the generation.
    pub fn info(&self) -> Result<DbInfo> {
        let schema_version = read_schema_version(&self.conn, &self.path)?;
        let created = rfc3339(self.created_unix()?);
        let mut stmt = self
            .conn
            .prepare("SELECT name, records, updated FROM ecosystems ORDER BY name")
            .map_err(|e| self.sql(e))?;
        let sources = stmt
            .query_map([], |r| {
                Ok(SourceInfo {
                    name: r.get(0)?,
                    records: u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
                    updated: rfc3339(r.get(2)?),
                })
            })
            .map_err(|e| self.sql(e))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.sql(e))?;
        Ok(DbInfo {
            schema_version,
            generation: self.generation.clone(),
            created,
            records: self.count("SELECT COUNT(*) FROM records")?,
            withdrawn: self.count("SELECT COUNT(*) FROM records WHERE withdrawn IS NOT NULL")?,
            sources,
            kev_count: self.count("SELECT COUNT(*) FROM kev")?,
            epss_count: self.count("SELECT COUNT(*) FROM epss")?,
            path: self.path.clone(),
        })
    }

    /// Update state of a feed (`etag`, `last_modified`, `cursor`), if recorded.
    pub fn feed_state(&self, name: &str) -> Result<Option<FeedState>> {
        feed_state(&self.conn, name).map_err(|e| self.sql(e))
    }

    /// The records changed since generation `since` (exclusive) up to this one, merged;
    /// with `None`, this generation's own delta. `Ok(None)` when the delta history kept in
    /// this generation does not reach back to `since` (see [`crate::delta`]).
    pub fn delta_since(&self, since: Option<&str>) -> Result<Option<crate::delta::Delta>> {
        crate::delta::read(&self.conn, &self.generation, since).map_err(|e| self.sql(e))
    }
}

/// The id of the current generation in `dir` (the pointer, read without opening the
/// generation: cheap enough to poll), or `None` when there is no DB yet.
pub fn current_generation(dir: &Path) -> Result<Option<String>> {
    Ok(read_pointer(dir)?.map(|n| generation_id(&n).to_string()))
}

/// `gen-<id>.db` → `<id>`.
fn generation_id(name: &str) -> &str {
    name.trim_start_matches(GEN_PREFIX)
        .trim_end_matches(GEN_SUFFIX)
}

/// What an incremental update remembers about one feed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedState {
    /// ETag of the last full download.
    pub etag: Option<String>,
    /// Last-Modified of the last full download.
    pub last_modified: Option<String>,
    /// Newest `modified` timestamp processed (from `modified_id.csv`).
    pub cursor: Option<String>,
    /// When the feed was last updated (Unix seconds).
    pub updated: i64,
}

fn feed_state(conn: &Connection, name: &str) -> rusqlite::Result<Option<FeedState>> {
    conn.query_row(
        "SELECT etag, last_modified, cursor, updated FROM feeds WHERE name = ?1",
        [name],
        |r| {
            Ok(FeedState {
                etag: r.get(0)?,
                last_modified: r.get(1)?,
                cursor: r.get(2)?,
                updated: r.get(3)?,
            })
        },
    )
    .optional()
}

/// Refuses directories that cannot be written, before any work is done. Root ignores
/// permission bits, so the mode is checked explicitly: a directory someone made
/// read-only is treated as read-only even for root.
fn ensure_writable(dir: &Path) -> Result<()> {
    match fs::metadata(dir) {
        Ok(m) => {
            if !m.is_dir() {
                return Err(VulnDbError::ReadOnly {
                    path: dir.to_path_buf(),
                    reason: "not a directory".into(),
                });
            }
            if m.permissions().readonly() {
                return Err(VulnDbError::ReadOnly {
                    path: dir.to_path_buf(),
                    reason: "the directory has no write permission".into(),
                });
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            fs::create_dir_all(dir).map_err(|e| map_write_err(dir, "creating", e))?;
        }
        Err(e) => return Err(VulnDbError::io("inspecting", dir, e)),
    }
    Ok(())
}

/// Maps permission and read-only-filesystem errors to [`VulnDbError::ReadOnly`].
pub(crate) fn map_write_err(path: &Path, what: &'static str, e: std::io::Error) -> VulnDbError {
    // EROFS is 30 on Linux; std has no stable ErrorKind for it on every target.
    if e.kind() == std::io::ErrorKind::PermissionDenied || e.raw_os_error() == Some(30) {
        VulnDbError::ReadOnly {
            path: path.to_path_buf(),
            reason: e.to_string(),
        }
    } else {
        VulnDbError::io(what, path, e)
    }
}

fn fsync_dir(dir: &Path) -> Result<()> {
    // Makes the renames durable; opening a directory for fsync is Unix-only.
    #[cfg(unix)]
    {
        let d = File::open(dir).map_err(|e| VulnDbError::io("opening", dir, e))?;
        d.sync_all()
            .map_err(|e| VulnDbError::io("syncing", dir, e))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Deletes stale temp files and retired generations older than `grace`. Callers must
/// hold the writer lock (a live writer's temp file would otherwise be removed).
fn cleanup(dir: &Path, grace: Duration) -> Result<()> {
    let current = read_pointer(dir).ok().flatten();
    let entries = fs::read_dir(dir).map_err(|e| VulnDbError::io("listing", dir, e))?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        let stale_tmp = name.starts_with(TMP_PREFIX)
            || (name.starts_with(POINTER_FILE) && name.len() > POINTER_FILE.len());
        let old_gen = is_generation_name(&name)
            && Some(&name) != current.as_ref()
            && entry
                .metadata()
                .ok()
                .and_then(|m| m.modified().ok())
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age >= grace);
        if stale_tmp || old_gen {
            match fs::remove_file(&path) {
                Ok(()) => tracing::debug!(path = %path.display(), "removed stale DB file"),
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "cannot remove stale DB file")
                }
            }
        }
    }
    Ok(())
}

/// Exclusive writer lock on `update.lock`; released when dropped (or when the process
/// dies, so a killed update never leaves the directory locked).
struct DirLock {
    _file: File,
}

impl DirLock {
    fn acquire(dir: &Path) -> Result<DirLock> {
        let path = dir.join(LOCK_FILE);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| map_write_err(dir, "creating", e))?;
        match file.try_lock() {
            Ok(()) => Ok(DirLock { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => Err(VulnDbError::Busy {
                path: dir.to_path_buf(),
            }),
            Err(std::fs::TryLockError::Error(e)) => Err(VulnDbError::io("locking", path, e)),
        }
    }
}

/// Options for writers.
#[derive(Debug, Clone)]
pub struct WriterOptions {
    /// Keep retired generations at least this long.
    pub grace: Duration,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            grace: DEFAULT_GRACE,
        }
    }
}

/// Builds the next generation: a copy of the current one (or an empty DB) that is
/// changed inside one transaction and then published with [`Writer::commit`]. Dropping
/// a writer without committing deletes its temp file and leaves the DB as it was.
pub struct Writer {
    dir: PathBuf,
    tmp: PathBuf,
    conn: Option<Connection>,
    previous: Option<String>,
    touched: BTreeSet<String>,
    /// Ids put or deleted (compared with the previous generation for the delta).
    changed_ids: BTreeSet<String>,
    /// Started from an empty DB (the delta then compares every record).
    fresh: bool,
    grace: Duration,
    _lock: DirLock,
}

impl Writer {
    /// Starts a new generation in `dir`. With `copy_current`, it starts from the
    /// current generation's content; otherwise from an empty DB.
    pub fn begin(dir: &Path, copy_current: bool, opts: &WriterOptions) -> Result<Writer> {
        ensure_writable(dir)?;
        let lock = DirLock::acquire(dir)?;
        cleanup(dir, opts.grace)?;
        let previous = read_pointer(dir)?;
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let tmp = dir.join(format!("{TMP_PREFIX}{}-{nanos}.db", std::process::id()));
        let mut fresh = true;
        if let (true, Some(prev)) = (copy_current, &previous) {
            let src = dir.join(prev);
            // The old generation is only read here, never opened for writing.
            fs::copy(&src, &tmp).map_err(|e| map_write_err(&tmp, "copying to", e))?;
            fresh = false;
        }
        let conn = Connection::open(&tmp);
        let mut w = Writer {
            dir: dir.to_path_buf(),
            tmp,
            conn: None,
            previous,
            touched: BTreeSet::new(),
            changed_ids: BTreeSet::new(),
            fresh,
            grace: opts.grace,
            _lock: lock,
        };
        // Held by the writer from here on, so any error below deletes the temp file.
        w.conn = Some(conn.map_err(|e| VulnDbError::sql(&w.tmp, e))?);
        let sql = |e| VulnDbError::sql(&w.tmp, e);
        let conn = w.conn()?;
        // A journal is pointless for a file that is thrown away if anything fails.
        conn.execute_batch(
            "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;
             PRAGMA locking_mode = EXCLUSIVE; PRAGMA cache_size = -65536;
             PRAGMA temp_store = MEMORY;",
        )
        .map_err(sql)?;
        if fresh {
            conn.execute_batch(SCHEMA_SQL).map_err(sql)?;
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ('schema_version', ?1)",
                [SCHEMA_VERSION.to_string()],
            )
            .map_err(sql)?;
        } else {
            check_schema(conn, &w.tmp)?;
        }
        // Needed while loading too: every put first deletes the record's old index
        // rows by record_id, which without an index is a full scan per record.
        conn.execute_batch(INDEX_SQL).map_err(sql)?;
        conn.execute_batch("BEGIN").map_err(sql)?;
        Ok(w)
    }

    /// The connection of the generation being built.
    pub(crate) fn conn(&self) -> Result<&Connection> {
        self.conn.as_ref().ok_or_else(|| VulnDbError::Corrupt {
            path: self.tmp.clone(),
            reason: "writer already closed".into(),
        })
    }

    pub(crate) fn tmp_path(&self) -> &Path {
        &self.tmp
    }

    /// The generation this writer started from, if any.
    pub fn previous(&self) -> Option<&str> {
        self.previous.as_deref()
    }

    /// Inserts or replaces a record with its index rows.
    pub fn put(&mut self, rec: &PreparedRecord) -> Result<()> {
        let tmp = self.tmp.clone();
        let sql = |e| VulnDbError::sql(&tmp, e);
        let conn = self.conn.as_ref().ok_or_else(|| VulnDbError::Corrupt {
            path: self.tmp.clone(),
            reason: "writer already closed".into(),
        })?;
        remove_index_rows(conn, &rec.id).map_err(sql)?;
        conn.prepare_cached(
            "INSERT OR REPLACE INTO records (id, modified, withdrawn, data) VALUES (?1, ?2, ?3, ?4)",
        )
        .and_then(|mut s| s.execute(params![rec.id, rec.modified, rec.withdrawn, rec.blob]))
        .map_err(sql)?;
        let mut ins = conn
            .prepare_cached(
                "INSERT INTO affected (ecosystem_base, ecosystem_full, package_name, package_key, record_id)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .map_err(sql)?;
        for (base, full, name, key) in &rec.index {
            ins.execute(params![base, full, name, key, rec.id])
                .map_err(sql)?;
        }
        let mut ins = conn
            .prepare_cached("INSERT INTO aliases (record_id, alias, kind) VALUES (?1, ?2, ?3)")
            .map_err(sql)?;
        for (alias, kind) in &rec.aliases {
            ins.execute(params![rec.id, alias, kind]).map_err(sql)?;
        }
        drop(ins);
        self.touched.extend(rec.index.iter().map(|r| r.0.clone()));
        self.changed_ids.insert(rec.id.clone());
        Ok(())
    }

    /// Deletes a record and its index rows.
    pub fn delete(&mut self, id: &str) -> Result<()> {
        let tmp = self.tmp.clone();
        let conn = self.conn()?;
        let bases = record_bases(conn, id).map_err(|e| VulnDbError::sql(&tmp, e))?;
        remove_index_rows(conn, id).map_err(|e| VulnDbError::sql(&tmp, e))?;
        conn.execute("DELETE FROM records WHERE id = ?1", [id])
            .map_err(|e| VulnDbError::sql(&tmp, e))?;
        self.touched.extend(bases);
        self.changed_ids.insert(id.to_string());
        Ok(())
    }

    /// Ids of all records indexed under `ecosystem_base`.
    pub fn ids_in_ecosystem(&self, ecosystem_base: &str) -> Result<BTreeSet<String>> {
        let conn = self.conn()?;
        let mut stmt = conn
            .prepare("SELECT DISTINCT record_id FROM affected WHERE ecosystem_base = ?1")
            .map_err(|e| VulnDbError::sql(&self.tmp, e))?;
        let rows = stmt
            .query_map([ecosystem_base], |r| r.get::<_, String>(0))
            .map_err(|e| VulnDbError::sql(&self.tmp, e))?;
        rows.collect::<rusqlite::Result<BTreeSet<_>>>()
            .map_err(|e| VulnDbError::sql(&self.tmp, e))
    }

    /// Marks an ecosystem as refreshed even if no record changed.
    pub fn touch(&mut self, ecosystem_base: &str) {
        self.touched.insert(ecosystem_base.to_string());
    }

    /// Update state of a feed in the generation being built.
    pub fn feed_state(&self, name: &str) -> Result<Option<FeedState>> {
        feed_state(self.conn()?, name).map_err(|e| VulnDbError::sql(&self.tmp, e))
    }

    /// Records the update state of a feed.
    pub fn set_feed_state(&mut self, name: &str, st: &FeedState) -> Result<()> {
        self.conn()?
            .execute(
                "INSERT OR REPLACE INTO feeds (name, etag, last_modified, cursor, updated)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![name, st.etag, st.last_modified, st.cursor, st.updated],
            )
            .map_err(|e| VulnDbError::sql(&self.tmp, e))?;
        Ok(())
    }

    /// Finishes the generation, makes it durable and points `current` at it.
    /// Returns the new generation id.
    pub fn commit(mut self) -> Result<String> {
        let now = now_unix();
        let tmp = self.tmp.clone();
        let sql = |e| VulnDbError::sql(&tmp, e);
        let conn = self.conn.take().ok_or_else(|| VulnDbError::Corrupt {
            path: tmp.clone(),
            reason: "writer already closed".into(),
        })?;
        conn.execute_batch(INDEX_SQL).map_err(sql)?;
        refresh_ecosystems(&conn, &self.touched, now).map_err(sql)?;
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let gen_id = format!("{now}-{nanos:09}-{}", std::process::id());
        let gen_name = format!("{GEN_PREFIX}{gen_id}{GEN_SUFFIX}");
        let touched = (!self.fresh).then_some(&self.changed_ids);
        self.record_delta(&conn, touched, &gen_id, now)?;
        for (k, v) in [
            ("created_unix", now.to_string()),
            ("created", rfc3339(now)),
            ("generation", gen_id.clone()),
            ("schema_version", SCHEMA_VERSION.to_string()),
        ] {
            conn.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
                params![k, v],
            )
            .map_err(sql)?;
        }
        conn.execute_batch("COMMIT").map_err(sql)?;
        conn.close().map_err(|(_, e)| VulnDbError::sql(&tmp, e))?;

        let f = File::open(&tmp).map_err(|e| VulnDbError::io("opening", &tmp, e))?;
        f.sync_all()
            .map_err(|e| VulnDbError::io("syncing", &tmp, e))?;
        drop(f);
        let gen_path = self.dir.join(&gen_name);
        fs::rename(&tmp, &gen_path).map_err(|e| VulnDbError::io("renaming", &tmp, e))?;
        fsync_dir(&self.dir)?;
        swap_pointer(&self.dir, &gen_name)?;
        self.retire_previous();
        // The grace clock of the old generation starts now (see retire_previous).
        let _ = cleanup(&self.dir, self.grace);
        Ok(gen_id)
    }

    /// Publishes an already complete generation file (a verified export) instead of
    /// the one this writer built; `file` must be in the DB directory.
    pub(crate) fn commit_file(mut self, file: &Path) -> Result<String> {
        if let Some(conn) = self.conn.take() {
            drop(conn);
            let _ = fs::remove_file(&self.tmp);
        }
        let now = now_unix();
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let gen_id = format!("{now}-{nanos:09}-{}", std::process::id());
        let gen_name = format!("{GEN_PREFIX}{gen_id}{GEN_SUFFIX}");
        {
            let sql = |e| VulnDbError::sql(file, e);
            let conn = Connection::open(file).map_err(sql)?;
            conn.execute_batch("BEGIN").map_err(sql)?;
            self.record_delta(&conn, None, &gen_id, now)?;
            conn.execute_batch("COMMIT").map_err(sql)?;
            conn.close().map_err(|(_, e)| sql(e))?;
            let f = File::open(file).map_err(|e| VulnDbError::io("opening", file, e))?;
            f.sync_all()
                .map_err(|e| VulnDbError::io("syncing", file, e))?;
        }
        let gen_path = self.dir.join(&gen_name);
        fs::rename(file, &gen_path).map_err(|e| VulnDbError::io("renaming", file, e))?;
        fsync_dir(&self.dir)?;
        swap_pointer(&self.dir, &gen_name)?;
        self.retire_previous();
        let _ = cleanup(&self.dir, self.grace);
        Ok(gen_id)
    }

    /// Writes this generation's delta against the previous generation into `conn`.
    fn record_delta(
        &self,
        conn: &Connection,
        touched: Option<&BTreeSet<String>>,
        gen_id: &str,
        now: i64,
    ) -> Result<()> {
        let prev_path = self.previous.as_ref().map(|p| self.dir.join(p));
        let prev_conn = match &prev_path {
            Some(p) if p.is_file() => Some(open_immutable(p)?),
            _ => None,
        };
        let prev_gen = self.previous.as_deref().map(generation_id);
        let counts = crate::delta::record(conn, prev_conn.as_ref(), prev_gen, touched, gen_id, now)
            .map_err(|e| VulnDbError::sql(&self.tmp, e))?;
        tracing::info!(
            generation = gen_id,
            new = counts
                .get(&crate::delta::DeltaKind::New)
                .copied()
                .unwrap_or(0),
            changed = counts
                .get(&crate::delta::DeltaKind::Changed)
                .copied()
                .unwrap_or(0),
            withdrawn = counts
                .get(&crate::delta::DeltaKind::Withdrawn)
                .copied()
                .unwrap_or(0),
            removed = counts
                .get(&crate::delta::DeltaKind::Removed)
                .copied()
                .unwrap_or(0),
            "feed delta recorded"
        );
        Ok(())
    }

    /// Sets the retired generation's mtime to now: the grace period is measured from
    /// the moment it stopped being current, not from when it was built.
    fn retire_previous(&self) {
        if let Some(prev) = &self.previous {
            let p = self.dir.join(prev);
            if let Ok(f) = OpenOptions::new().append(true).open(&p) {
                let _ = f.set_modified(SystemTime::now());
            }
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            drop(conn);
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// Replaces the pointer atomically: write a temp file, fsync, rename over `current`.
fn swap_pointer(dir: &Path, gen_name: &str) -> Result<()> {
    let tmp = dir.join(format!("{POINTER_FILE}.tmp-{}", std::process::id()));
    {
        let mut f = File::create(&tmp).map_err(|e| map_write_err(&tmp, "creating", e))?;
        f.write_all(format!("{gen_name}\n").as_bytes())
            .map_err(|e| VulnDbError::io("writing", &tmp, e))?;
        f.sync_all()
            .map_err(|e| VulnDbError::io("syncing", &tmp, e))?;
    }
    fs::rename(&tmp, dir.join(POINTER_FILE)).map_err(|e| VulnDbError::io("renaming", &tmp, e))?;
    fsync_dir(dir)
}

fn remove_index_rows(conn: &Connection, id: &str) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM affected WHERE record_id = ?1")?
        .execute([id])?;
    conn.prepare_cached("DELETE FROM aliases WHERE record_id = ?1")?
        .execute([id])?;
    Ok(())
}

fn record_bases(conn: &Connection, id: &str) -> rusqlite::Result<Vec<String>> {
    let mut s =
        conn.prepare_cached("SELECT DISTINCT ecosystem_base FROM affected WHERE record_id = ?1")?;
    let rows = s.query_map([id], |r| r.get::<_, String>(0))?;
    rows.collect()
}

/// Recomputes per-ecosystem counts; `updated` moves to `now` only for ecosystems this
/// generation touched and is carried over for the rest.
fn refresh_ecosystems(
    conn: &Connection,
    touched: &BTreeSet<String>,
    now: i64,
) -> rusqlite::Result<()> {
    let mut old: BTreeMap<String, i64> = BTreeMap::new();
    {
        let mut s = conn.prepare("SELECT name, updated FROM ecosystems")?;
        for row in s.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))? {
            let (n, u) = row?;
            old.insert(n, u);
        }
    }
    let mut counts: Vec<(String, i64)> = Vec::new();
    {
        let mut s = conn.prepare(
            "SELECT ecosystem_base, COUNT(DISTINCT record_id) FROM affected GROUP BY ecosystem_base",
        )?;
        for row in s.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))? {
            counts.push(row?);
        }
    }
    conn.execute("DELETE FROM ecosystems", [])?;
    let mut ins =
        conn.prepare("INSERT INTO ecosystems (name, records, updated) VALUES (?1, ?2, ?3)")?;
    for (name, n) in counts {
        let updated = if touched.contains(&name) {
            now
        } else {
            old.get(&name).copied().unwrap_or(now)
        };
        ins.execute(params![name, n, updated])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pep503() {
        assert_eq!(
            pep503_normalize("Django_REST.framework"),
            "django-rest-framework"
        );
        assert_eq!(pep503_normalize("a--_b"), "a-b");
        assert_eq!(package_key("npm", "Foo_Bar"), "Foo_Bar");
    }

    #[test]
    fn rfc3339_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        // 2000-02-29 12:34:56 UTC, a leap day.
        assert_eq!(rfc3339(951_827_696), "2000-02-29T12:34:56Z");
    }

    #[test]
    fn generation_names() {
        assert!(is_generation_name("gen-1-000000001-42.db"));
        assert!(!is_generation_name("gen-../x.db"));
        assert!(!is_generation_name("tmp-1.db"));
    }

    #[test]
    fn uri_escapes() {
        assert_eq!(
            sqlite_uri(Path::new("/a?b#c%d"), "mode=ro"),
            "file:/a%3Fb%23c%25d?mode=ro"
        );
    }
}
