//! Import of OSV records into a new DB generation: JSON files (one record, an array,
//! or an osv.dev API `{"vulns": [...]}` bundle), OSV-in-YAML files (pypa's advisory
//! database), directories walked recursively, zip archives (osv.dev's `all.zip`), and
//! bulwark's own export files for air-gapped machines.
//!
//! Bad records are counted and logged and the import goes on; a bad container (a
//! truncated zip, an unreadable file, a failed export checksum) fails the whole import
//! and leaves the current generation untouched.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{BufReader, BufWriter, Read, Seek, Write};
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Result, VulnDbError};
use crate::osv::{parse_record, OsvRecord, RangeType};
use crate::store::{check_schema, PreparedRecord, VulnDb, Writer, WriterOptions};

/// zstd frame magic: the first bytes of every bulwark export file.
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];
/// Directory recursion limit (symlinks are never followed, so this only bounds depth).
const MAX_DEPTH: usize = 32;
/// How many bad-record messages [`ImportStats::errors`] keeps.
const MAX_ERROR_MESSAGES: usize = 200;
/// Raw bytes collected before a parallel parse batch is run.
const BATCH_BYTES: usize = 32 << 20;
/// Documents collected before a parallel parse batch is run.
const BATCH_DOCS: usize = 4096;

const EXPORT_FORMAT: &str = "bulwark-vulndb-export";
const EXPORT_MANIFEST: &str = "manifest.json";
const EXPORT_DB: &str = "vulndb.sqlite";

/// Limits and behaviour of an import.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Largest single JSON/YAML file (or zip entry) read.
    pub max_file_bytes: u64,
    /// Largest total decompressed size of one zip archive.
    pub max_zip_total_bytes: u64,
    /// Most entries in one zip archive.
    pub max_zip_entries: usize,
    /// Largest decompressed DB in an export file.
    pub max_export_bytes: u64,
    /// `affected[].versions` lists longer than this are cut (with a warning).
    pub max_versions: usize,
    /// Start from an empty DB instead of merging into the current generation.
    pub replace: bool,
    /// Writer options (grace period of retired generations).
    pub writer: WriterOptions,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            max_file_bytes: 64 << 20,
            max_zip_total_bytes: 16 << 30,
            max_zip_entries: 5_000_000,
            max_export_bytes: 64 << 30,
            max_versions: 100_000,
            replace: false,
            writer: WriterOptions::default(),
        }
    }
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportStats {
    /// Files (and zip entries) read.
    pub files: u64,
    /// Records stored (a record seen twice counts twice; the later copy wins).
    pub records: u64,
    /// Records skipped as malformed.
    pub skipped: u64,
    /// Withdrawn records among those stored.
    pub withdrawn: u64,
    /// Stored records whose only ranges are GIT ranges and that list no versions
    /// (they cannot match an installed version).
    pub git_only: u64,
    /// Records whose `versions` list was cut to [`ImportOptions::max_versions`].
    pub versions_capped: u64,
    /// Stored records per ecosystem base.
    pub per_ecosystem: BTreeMap<String, u64>,
    /// Messages for the first skipped records (`path: reason`).
    pub errors: Vec<String>,
    /// The generation that was published.
    pub generation: String,
}

impl ImportStats {
    fn skip(&mut self, label: &str, reason: &str) {
        self.skipped += 1;
        tracing::warn!(input = label, reason, "skipping OSV record");
        if self.errors.len() < MAX_ERROR_MESSAGES {
            self.errors.push(format!("{label}: {reason}"));
        }
    }
}

/// Serialisation format of one document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Yaml,
}

fn format_of(name: &str) -> Option<Format> {
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".json") {
        Some(Format::Json)
    } else if lower.ends_with(".yaml") || lower.ends_with(".yml") {
        Some(Format::Yaml)
    } else {
        None
    }
}

/// A JSON document holding several records.
#[derive(Deserialize)]
#[serde(untagged)]
enum Bundle {
    Vulns { vulns: Vec<serde_json::Value> },
    List(Vec<serde_json::Value>),
}

/// Outcome of parsing one document.
struct Parsed {
    label: String,
    ok: Vec<(PreparedRecord, Notes)>,
    bad: Vec<String>,
}

/// Per-record facts for the statistics.
#[derive(Default)]
struct Notes {
    withdrawn: bool,
    git_only: bool,
    capped: bool,
}

fn parse_document(label: &str, bytes: &[u8], fmt: Format, max_versions: usize) -> Parsed {
    let mut out = Parsed {
        label: label.to_string(),
        ok: Vec::new(),
        bad: Vec::new(),
    };
    let records: Vec<std::result::Result<OsvRecord, String>> = match fmt {
        // Through a JSON value: serde_yaml_ng wants `!tag` syntax for enums, while
        // OSV-in-YAML writes events as maps (`- introduced: "0"`), as JSON does.
        Format::Yaml => vec![serde_yaml_ng::from_slice::<serde_json::Value>(bytes)
            .map_err(|e| match e.location() {
                Some(l) => format!(
                    "invalid YAML at line {}, column {}: {e}",
                    l.line(),
                    l.column()
                ),
                None => format!("invalid YAML: {e}"),
            })
            .and_then(|v| {
                serde_json::from_value::<OsvRecord>(v)
                    .map_err(|e| format!("invalid OSV record: {e}"))
            })],
        Format::Json => match parse_record(bytes) {
            Ok(r) => vec![Ok(r)],
            Err(first) => match serde_json::from_slice::<Bundle>(bytes) {
                Ok(Bundle::Vulns { vulns }) | Ok(Bundle::List(vulns)) => vulns
                    .into_iter()
                    .enumerate()
                    .map(|(i, v)| {
                        serde_json::from_value::<OsvRecord>(v)
                            .map_err(|e| format!("record #{i}: invalid OSV: {e}"))
                    })
                    .collect(),
                Err(_) => vec![Err(first.to_string())],
            },
        },
    };
    for r in records {
        match r.and_then(|rec| check_record(rec, max_versions)) {
            Ok((rec, notes)) => match PreparedRecord::new(&rec) {
                Ok(p) => out.ok.push((p, notes)),
                Err(e) => out.bad.push(e.to_string()),
            },
            Err(e) => out.bad.push(e),
        }
    }
    out
}

/// Validates what serde cannot: required values, known range types, range shapes.
fn check_record(
    mut rec: OsvRecord,
    max_versions: usize,
) -> std::result::Result<(OsvRecord, Notes), String> {
    if rec.id.trim().is_empty() {
        return Err("record has an empty id".into());
    }
    if rec.id.len() > 256 || rec.id.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(format!("record id {:?} is not a valid OSV id", rec.id));
    }
    let id = rec.id.clone();
    if rec.modified.trim().is_empty() {
        return Err(format!("{id}: missing `modified`"));
    }
    let mut notes = Notes {
        withdrawn: rec.withdrawn.is_some(),
        ..Notes::default()
    };
    let mut any_range = false;
    let mut any_linear = false;
    let mut any_versions = false;
    for (ai, a) in rec.affected.iter_mut().enumerate() {
        for (ri, r) in a.ranges.iter().enumerate() {
            any_range = true;
            match r.kind {
                RangeType::Other => {
                    return Err(format!(
                        "{id}: affected[{ai}].ranges[{ri}] has an unknown range type"
                    ))
                }
                RangeType::Git => {}
                RangeType::Ecosystem | RangeType::Semver => any_linear = true,
            }
            let introduced = r
                .events
                .iter()
                .filter(|e| matches!(e, crate::osv::Event::Introduced(_)))
                .count();
            if introduced == 0 {
                return Err(format!(
                    "{id}: affected[{ai}].ranges[{ri}] has no `introduced` event"
                ));
            }
        }
        if !a.versions.is_empty() {
            any_versions = true;
        }
        if a.versions.len() > max_versions {
            tracing::warn!(id = %id, count = a.versions.len(), max_versions, "capping affected versions list");
            a.versions.truncate(max_versions);
            notes.capped = true;
        }
    }
    notes.git_only = any_range && !any_linear && !any_versions;
    Ok((rec, notes))
}

/// Raw documents waiting to be parsed in parallel, then written in order.
struct Sink<'w> {
    writer: &'w mut Writer,
    docs: Vec<(String, Vec<u8>, Format)>,
    bytes: usize,
    stats: ImportStats,
    max_versions: usize,
    /// Ids stored, when the caller needs them (full refresh of an ecosystem).
    ids: Option<std::collections::BTreeSet<String>>,
}

impl Sink<'_> {
    fn push(&mut self, label: String, bytes: Vec<u8>, fmt: Format) -> Result<()> {
        self.stats.files += 1;
        self.bytes += bytes.len();
        self.docs.push((label, bytes, fmt));
        if self.docs.len() >= BATCH_DOCS || self.bytes >= BATCH_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        let docs = std::mem::take(&mut self.docs);
        self.bytes = 0;
        let max_versions = self.max_versions;
        let parsed: Vec<Parsed> = docs
            .par_iter()
            .map(|(label, bytes, fmt)| parse_document(label, bytes, *fmt, max_versions))
            .collect();
        for p in parsed {
            for reason in &p.bad {
                self.stats.skip(&p.label, reason);
            }
            for (rec, notes) in &p.ok {
                self.writer.put(rec)?;
                if let Some(ids) = &mut self.ids {
                    ids.insert(rec.id.clone());
                }
                self.stats.records += 1;
                self.stats.withdrawn += u64::from(notes.withdrawn);
                self.stats.git_only += u64::from(notes.git_only);
                self.stats.versions_capped += u64::from(notes.capped);
                let mut bases: Vec<&str> = rec.index.iter().map(|r| r.0.as_str()).collect();
                bases.dedup();
                for b in bases {
                    *self.stats.per_ecosystem.entry(b.to_string()).or_default() += 1;
                }
            }
        }
        Ok(())
    }
}

/// Reads at most `limit` bytes of `path`; larger files are an error.
fn read_file_bounded(path: &Path, limit: u64) -> Result<Vec<u8>> {
    let f = File::open(path).map_err(|e| VulnDbError::io("opening", path, e))?;
    read_bounded(f, limit, &path.display().to_string()).map_err(|e| match e {
        BoundedErr::Io(e) => VulnDbError::io("reading", path, e),
        BoundedErr::TooLarge => VulnDbError::TooLarge {
            path: path.display().to_string(),
            limit,
        },
    })
}

enum BoundedErr {
    Io(std::io::Error),
    TooLarge,
}

fn read_bounded(
    r: impl Read,
    limit: u64,
    _label: &str,
) -> std::result::Result<Vec<u8>, BoundedErr> {
    let mut buf = Vec::new();
    r.take(limit.saturating_add(1))
        .read_to_end(&mut buf)
        .map_err(BoundedErr::Io)?;
    if buf.len() as u64 > limit {
        return Err(BoundedErr::TooLarge);
    }
    Ok(buf)
}

fn has_magic(path: &Path, magic: &[u8]) -> bool {
    let mut head = [0u8; 4];
    File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .map(|()| head[..magic.len()] == *magic)
        .unwrap_or(false)
}

fn is_zip(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("zip"))
        || has_magic(path, b"PK\x03\x04")
}

/// True if `path` looks like a bulwark export file.
pub fn is_export_file(path: &Path) -> bool {
    path.is_file() && has_magic(path, &ZSTD_MAGIC)
}

fn add_zip(sink: &mut Sink<'_>, path: &Path, opts: &ImportOptions) -> Result<()> {
    let label = path.display().to_string();
    let f = File::open(path).map_err(|e| VulnDbError::io("opening", path, e))?;
    let mut zip = zip::ZipArchive::new(BufReader::new(f))
        .map_err(|e| VulnDbError::bad(label.clone(), format!("not a readable zip archive: {e}")))?;
    if zip.len() > opts.max_zip_entries {
        return Err(VulnDbError::bad(
            label,
            format!(
                "{} entries, more than the limit of {}",
                zip.len(),
                opts.max_zip_entries
            ),
        ));
    }
    let mut total: u64 = 0;
    for i in 0..zip.len() {
        let entry = zip
            .by_index(i)
            .map_err(|e| VulnDbError::bad(label.clone(), format!("entry #{i}: {e}")))?;
        if entry.is_dir() {
            continue;
        }
        let name = entry.name().map(|n| n.into_owned()).map_err(|e| {
            VulnDbError::bad(label.clone(), format!("entry #{i} has a bad name: {e}"))
        })?;
        let Some(fmt) = format_of(&name) else {
            continue;
        };
        let elabel = format!("{label}!{name}");
        let bytes = read_bounded(entry, opts.max_file_bytes, &elabel).map_err(|e| match e {
            // A CRC mismatch or a cut deflate stream surfaces here: the archive is bad.
            BoundedErr::Io(e) => {
                VulnDbError::bad(elabel.clone(), format!("cannot decompress: {e}"))
            }
            BoundedErr::TooLarge => VulnDbError::TooLarge {
                path: elabel.clone(),
                limit: opts.max_file_bytes,
            },
        })?;
        total += bytes.len() as u64;
        if total > opts.max_zip_total_bytes {
            return Err(VulnDbError::TooLarge {
                path: label,
                limit: opts.max_zip_total_bytes,
            });
        }
        sink.push(elabel, bytes, fmt)?;
    }
    Ok(())
}

fn add_path(sink: &mut Sink<'_>, path: &Path, opts: &ImportOptions, depth: usize) -> Result<()> {
    if depth > MAX_DEPTH {
        return Err(VulnDbError::bad(
            path.display().to_string(),
            format!("directories nested deeper than {MAX_DEPTH} levels"),
        ));
    }
    let meta = fs::symlink_metadata(path).map_err(|e| VulnDbError::io("reading", path, e))?;
    if meta.is_dir() {
        let mut entries: Vec<PathBuf> = fs::read_dir(path)
            .map_err(|e| VulnDbError::io("listing", path, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                !p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            })
            .collect();
        entries.sort();
        for p in entries {
            let m = fs::symlink_metadata(&p).map_err(|e| VulnDbError::io("reading", &p, e))?;
            if m.is_dir() {
                add_path(sink, &p, opts, depth + 1)?;
            } else if m.is_file() {
                let name = p
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                if format_of(&name).is_some() || name.to_ascii_lowercase().ends_with(".zip") {
                    add_path(sink, &p, opts, depth + 1)?;
                }
            }
        }
        return Ok(());
    }
    if !meta.is_file() {
        // Symlinks and special files given inside a tree are ignored; a top-level
        // symlink is resolved by the caller via canonicalize.
        return Ok(());
    }
    if is_zip(path) {
        return add_zip(sink, path, opts);
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let fmt = format_of(&name).unwrap_or(Format::Json);
    let bytes = read_file_bounded(path, opts.max_file_bytes)?;
    sink.push(path.display().to_string(), bytes, fmt)
}

/// Imports OSV files, directories and zips (or one export file) into a new generation
/// of the DB in `db_dir`, merged into the current one unless `opts.replace`.
pub fn import_paths(db_dir: &Path, paths: &[PathBuf], opts: &ImportOptions) -> Result<ImportStats> {
    if let [single] = paths {
        if is_export_file(single) {
            import_export_with(db_dir, single, opts)?;
            let db = VulnDb::open(db_dir)?;
            let info = db.info()?;
            return Ok(ImportStats {
                files: 1,
                records: info.records,
                withdrawn: info.withdrawn,
                per_ecosystem: info
                    .sources
                    .into_iter()
                    .map(|s| (s.name, s.records))
                    .collect(),
                generation: info.generation,
                ..ImportStats::default()
            });
        }
    }
    let mut writer = Writer::begin(db_dir, !opts.replace, &opts.writer)?;
    let mut sink = Sink {
        writer: &mut writer,
        docs: Vec::new(),
        bytes: 0,
        stats: ImportStats::default(),
        max_versions: opts.max_versions,
        ids: None,
    };
    for p in paths {
        let resolved = fs::canonicalize(p).map_err(|e| VulnDbError::io("opening", p, e))?;
        add_path(&mut sink, &resolved, opts, 0)?;
    }
    sink.flush()?;
    let mut stats = sink.stats;
    stats.generation = writer.commit()?;
    tracing::info!(
        records = stats.records,
        skipped = stats.skipped,
        generation = %stats.generation,
        "import finished"
    );
    Ok(stats)
}

/// Imports the records of a zip archive into an open writer (used by `update`).
pub(crate) fn import_zip_into(
    writer: &mut Writer,
    path: &Path,
    opts: &ImportOptions,
) -> Result<(ImportStats, std::collections::BTreeSet<String>)> {
    let mut sink = Sink {
        writer,
        docs: Vec::new(),
        bytes: 0,
        stats: ImportStats::default(),
        max_versions: opts.max_versions,
        ids: None,
    };
    sink.ids = Some(std::collections::BTreeSet::new());
    add_zip(&mut sink, path, opts)?;
    sink.flush()?;
    let ids = sink.ids.take().unwrap_or_default();
    Ok((sink.stats, ids))
}

/// Imports single JSON documents (already downloaded) into an open writer.
pub(crate) fn import_docs_into(
    writer: &mut Writer,
    docs: Vec<(String, Vec<u8>)>,
    opts: &ImportOptions,
) -> Result<ImportStats> {
    let mut sink = Sink {
        writer,
        docs: Vec::new(),
        bytes: 0,
        stats: ImportStats::default(),
        max_versions: opts.max_versions,
        ids: None,
    };
    for (label, bytes) in docs {
        sink.push(label, bytes, Format::Json)?;
    }
    sink.flush()?;
    Ok(sink.stats)
}

/// The manifest inside an export file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportManifest {
    /// Always `bulwark-vulndb-export`.
    pub format: String,
    /// Export format version (1).
    pub format_version: u32,
    /// Schema version of the DB inside.
    pub schema_version: u32,
    /// Generation id it was exported from.
    pub generation: String,
    /// When that generation was built (RFC 3339).
    pub created: String,
    /// Size of the DB file in bytes.
    pub db_size: u64,
    /// Lower-case hex SHA-256 of the DB file.
    pub db_sha256: String,
}

/// Writes the current generation of `db_dir` to `file` as one zstd-compressed tar
/// holding `manifest.json` and `vulndb.sqlite`.
pub fn export(db_dir: &Path, file: &Path) -> Result<ExportManifest> {
    let db = VulnDb::open(db_dir)?;
    let info = db.info()?;
    let src = db.path().to_path_buf();
    // The generation is immutable, so hashing and then copying it cannot disagree.
    let mut hasher = Sha256::new();
    let mut f = File::open(&src).map_err(|e| VulnDbError::io("opening", &src, e))?;
    let db_size =
        std::io::copy(&mut f, &mut hasher).map_err(|e| VulnDbError::io("reading", &src, e))?;
    let manifest = ExportManifest {
        format: EXPORT_FORMAT.into(),
        format_version: 1,
        schema_version: info.schema_version,
        generation: info.generation,
        created: info.created,
        db_size,
        db_sha256: hex::encode(hasher.finalize()),
    };
    let mjson = serde_json::to_vec_pretty(&manifest)
        .map_err(|e| VulnDbError::bad(file.display().to_string(), e.to_string()))?;
    // A new or regular file is written beside and renamed into place; anything else at the
    // path (a device such as /dev/null, a FIFO, a symlink) is written through, never
    // replaced by a rename.
    let in_place = fs::symlink_metadata(file).is_ok_and(|m| !m.file_type().is_file());
    let tmp = if in_place {
        file.to_path_buf()
    } else {
        file.with_extension("partial")
    };
    let w_err = |e: std::io::Error| VulnDbError::io("writing", &tmp, e);
    let out = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(!in_place || fs::metadata(file).is_ok_and(|m| m.is_file()))
        .open(&tmp)
        .map_err(|e| VulnDbError::io("creating", &tmp, e))?;
    let enc = zstd::stream::write::Encoder::new(BufWriter::new(out), 9).map_err(w_err)?;
    let mut tar = tar::Builder::new(enc);
    let mut h = tar::Header::new_gnu();
    h.set_size(mjson.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    tar.append_data(&mut h, EXPORT_MANIFEST, mjson.as_slice())
        .map_err(w_err)?;
    f.rewind()
        .map_err(|e| VulnDbError::io("reading", &src, e))?;
    let mut h = tar::Header::new_gnu();
    h.set_size(db_size);
    h.set_mode(0o644);
    h.set_cksum();
    tar.append_data(&mut h, EXPORT_DB, f.take(db_size))
        .map_err(w_err)?;
    let enc = tar.into_inner().map_err(w_err)?;
    let mut bw = enc.finish().map_err(w_err)?;
    bw.flush().map_err(w_err)?;
    let out = bw.into_inner().map_err(|e| w_err(e.into_error()))?;
    if !in_place {
        out.sync_all().map_err(w_err)?;
        fs::rename(&tmp, file).map_err(|e| VulnDbError::io("renaming", &tmp, e))?;
    }
    Ok(manifest)
}

/// Replaces the DB in `db_dir` with the content of an export file, after checking its
/// manifest, size, SHA-256 and schema. Returns the manifest.
pub fn import_export(db_dir: &Path, file: &Path) -> Result<ExportManifest> {
    import_export_with(db_dir, file, &ImportOptions::default())
}

fn import_export_with(db_dir: &Path, file: &Path, opts: &ImportOptions) -> Result<ExportManifest> {
    let writer = Writer::begin(db_dir, false, &opts.writer)?;
    let verr = |reason: String| VulnDbError::Verify {
        path: file.to_path_buf(),
        reason,
    };
    let f = File::open(file).map_err(|e| VulnDbError::io("opening", file, e))?;
    let dec =
        zstd::stream::read::Decoder::new(BufReader::new(f)).map_err(|e| verr(e.to_string()))?;
    let mut ar = tar::Archive::new(dec);
    let mut manifest: Option<ExportManifest> = None;
    let staged = writer.tmp_path().with_extension("import");
    let mut staged_ok: Option<(u64, String)> = None;
    let entries = ar.entries().map_err(|e| verr(e.to_string()))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| verr(format!("damaged archive: {e}")))?;
        let name = entry
            .path()
            .map(|p| p.to_string_lossy().into_owned())
            .map_err(|e| verr(e.to_string()))?;
        match name.as_str() {
            EXPORT_MANIFEST => {
                let bytes = read_bounded(&mut entry, 1 << 20, EXPORT_MANIFEST)
                    .map_err(|_| verr("manifest unreadable or too large".into()))?;
                let m: ExportManifest = serde_json::from_slice(&bytes)
                    .map_err(|e| verr(format!("bad manifest: {e}")))?;
                if m.format != EXPORT_FORMAT || m.format_version != 1 {
                    return Err(verr(format!(
                        "unknown export format {} v{}",
                        m.format, m.format_version
                    )));
                }
                manifest = Some(m);
            }
            EXPORT_DB => {
                let mut out =
                    File::create(&staged).map_err(|e| VulnDbError::io("creating", &staged, e))?;
                let mut hasher = Sha256::new();
                let mut limited = (&mut entry).take(opts.max_export_bytes.saturating_add(1));
                let mut buf = vec![0u8; 1 << 20];
                let mut size: u64 = 0;
                loop {
                    let n = limited
                        .read(&mut buf)
                        .map_err(|e| verr(format!("damaged archive: {e}")))?;
                    if n == 0 {
                        break;
                    }
                    let chunk = buf.get(..n).unwrap_or_default();
                    hasher.update(chunk);
                    out.write_all(chunk)
                        .map_err(|e| VulnDbError::io("writing", &staged, e))?;
                    size += n as u64;
                }
                if size > opts.max_export_bytes {
                    let _ = fs::remove_file(&staged);
                    return Err(VulnDbError::TooLarge {
                        path: file.display().to_string(),
                        limit: opts.max_export_bytes,
                    });
                }
                out.sync_all()
                    .map_err(|e| VulnDbError::io("syncing", &staged, e))?;
                staged_ok = Some((size, hex::encode(hasher.finalize())));
            }
            _ => {}
        }
    }
    let result = (|| -> Result<ExportManifest> {
        let m = manifest.ok_or_else(|| verr("no manifest.json".into()))?;
        let (size, sha) = staged_ok.ok_or_else(|| verr("no vulndb.sqlite".into()))?;
        if size != m.db_size {
            return Err(verr(format!(
                "size {size} differs from the manifest's {}",
                m.db_size
            )));
        }
        if sha != m.db_sha256 {
            return Err(verr(format!(
                "SHA-256 {sha} differs from the manifest's {}",
                m.db_sha256
            )));
        }
        {
            let conn = rusqlite::Connection::open_with_flags(
                &staged,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
            )
            .map_err(|e| VulnDbError::sql(&staged, e))?;
            check_schema(&conn, &staged)?;
            let ok: String = conn
                .query_row("PRAGMA quick_check", [], |r| r.get(0))
                .map_err(|e| VulnDbError::sql(&staged, e))?;
            if ok != "ok" {
                return Err(verr(format!("SQLite quick_check: {ok}")));
            }
        }
        writer.commit_file(&staged)?;
        Ok(m)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&staged);
    }
    result
}
