//! The layer-result cache, and the size/age bookkeeping of every cache under the cache
//! directory (`bulwark cache info|prune`).
//!
//! # What is cached, and why it is correct
//!
//! An image is analysed in two steps. Each layer's *first pass* reads its tar stream and
//! hands the files the analyzers want to them; what it produces depends on that layer's
//! bytes alone: the catalogers' results per file (a dpkg `status` file parsed *as it is
//! in this layer*), the secret scanner's and misconfiguration checks' results per file,
//! the layer's whiteouts, opaque directories, symlink and hard-link tables and entry
//! paths, the links the analyzers wanted and the files that were too big. That is the
//! record kept here ([`bulwark_image::LayerRecord`]).
//!
//! Everything that crosses layers is recomputed from the records on every scan: the
//! merged view (whiteouts, opaque directories, later layers overriding files), which copy
//! of a file is visible, which layer introduced a package (a package database rewritten
//! by every `apt-get install` is parsed per layer and its copies compared), which secrets
//! were deleted later, which misconfigurations are visible, link resolution, OS choice,
//! deduplication, matching and the verdict. A package database split over layers is thus
//! still assembled as before, from per-layer per-file results that do not depend on the
//! other layers.
//!
//! Link targets are the one per-file product that depends on other layers (a symlink in
//! one layer names a file that resolution finds in another). Their visits are cached per
//! *target* layer and per request set: the sorted list of (target path, link path,
//! digest of the layer holding the link) is hashed into the key, so another image whose
//! links resolve the same way reuses them, and any difference is a miss.
//!
//! # Keys and invalidation
//!
//! Records live at `<cache>/layers/<analyzer key>/<digest hex>` (link visits beside them,
//! `<digest hex>.links-<request hash>`). The digest is the layer blob's digest, and a
//! record is used only for a blob known to hold it: the blob's verified stamp matches
//! (a registry blob, or a local blob a previous walk hashed: `<cache>/layers/stamps/`),
//! or the walker hashes the blob first (without parsing it). The analyzer key is a hash of
//! [`ANALYZER_VERSION`], the crate version, the catalogers in order, the secret scanner's
//! configuration, the misconfiguration check selection (PSS version, custom Rego checks
//! included) and the walk limits that change results; changing any of them starts a new
//! directory, and the old one ages out through `bulwark cache prune`.
//!
//! # A shared tier
//!
//! [`EngineConfig::shared_layer_results`](crate::EngineConfig::shared_layer_results)
//! adds a second tier behind the local one ([`SharedLayerResults`]; the server keeps it
//! in its database for its scan jobs): same keys, same bodies. A local miss asks it; a
//! walk that analysed a layer gives the record to both. With
//! [`EngineConfig::layer_cache`](crate::EngineConfig::layer_cache) off and a shared tier
//! on, records live only in the shared tier (stamps of local blobs stay on local disk).
//!
//! # Entries on disk
//!
//! An entry is one header line — `bulwark-layer-cache 1 <kind> <body length> <sha256 of
//! body>` — and a JSON body. It is written to a temporary file in the same directory and
//! renamed into place, so concurrent scans never see half an entry (the last writer wins
//! with an equal entry). A reader refuses bodies over [`MAX_ENTRY_BYTES`], and ignores
//! (with a debug log) an entry whose header, length, checksum or JSON is wrong; the walk
//! then analyses the layer and writes the entry again. A hit sets the entry's mtime,
//! which age- and size-based pruning go by.

use crate::pipeline::Analyzers;
use crate::visitor::FileOutput;
use bulwark_image::{BlobLocation, LayerBlob, LayerCache, LayerRecord, LinkRecord, VerifiedStamp};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Bump when any cataloger, secret rule, misconfiguration check or the record layout
/// changes what a layer's analysis produces: old records are then never read again.
pub const ANALYZER_VERSION: u32 = 1;

/// Largest entry body read back (a layer with a million files stays well under it).
pub const MAX_ENTRY_BYTES: u64 = 256 << 20;

/// Largest stamp record read back.
const MAX_STAMP_BYTES: u64 = 4 << 10;

/// First word of an entry's header line.
const MAGIC: &str = "bulwark-layer-cache";

/// Entry format version (the header's second word).
const FORMAT: &str = "1";

/// Prefix of temporary files; `prune` leaves young ones alone.
pub const TMP_PREFIX: &str = ".tmp-";

/// Temporary files younger than this are never pruned: a scan may be about to rename
/// one into place.
pub const TMP_GRACE: Duration = Duration::from_secs(3600);

/// The layer-result cache directory under a cache root.
pub fn layers_dir(cache_root: &Path) -> PathBuf {
    cache_root.join("layers")
}

/// A second tier of layer-result records shared between processes: the server keeps
/// one in its database so that a base layer shared by many images is analysed once
/// across every job and every worker.
///
/// Entries are the same bodies as the local tier's (the JSON of a
/// [`bulwark_image::LayerRecord`] or [`bulwark_image::LinkRecord`]), keyed by the analyzer
/// key (see [`analyzer_key`]), the layer blob's digest and the entry name (`layer`, or
/// `links-<request hash>`). The walk asks for a record only for a blob whose digest it
/// verified (or is about to hash), exactly as for the local tier, so a record is never
/// applied to bytes that do not match its digest. Both calls are best effort: `None`
/// from `load` means "analyse the layer", and a failing `store` loses nothing but the
/// reuse.
pub trait SharedLayerResults: Send + Sync + std::fmt::Debug {
    /// The body stored for `(analyzer_key, digest, entry)`, if any.
    fn load(&self, analyzer_key: &str, digest: &str, entry: &str) -> Option<Vec<u8>>;
    /// Stores a body (an existing equal key is left as it is).
    fn store(&self, analyzer_key: &str, digest: &str, entry: &str, body: &[u8]);
}

/// The layer-result cache of one scan configuration.
#[derive(Debug)]
pub struct LayerResultCache {
    /// `<cache>/layers/<analyzer key>`.
    dir: PathBuf,
    /// `<cache>/layers/stamps`.
    stamps: PathBuf,
    /// The analyzer key (the last component of `dir`).
    key: String,
    /// Whether records are kept on local disk (stamps always are).
    local: bool,
    /// The shared tier, if any.
    shared: Option<std::sync::Arc<dyn SharedLayerResults>>,
}

impl LayerResultCache {
    /// The cache under `cache_root` for the scan configuration described by `fingerprint`
    /// (see [`analyzer_key`]). Directories are created on first write.
    pub fn new(cache_root: &Path, fingerprint: &str) -> LayerResultCache {
        let layers = layers_dir(cache_root);
        LayerResultCache {
            dir: layers.join(fingerprint),
            stamps: layers.join("stamps"),
            key: fingerprint.to_string(),
            local: true,
            shared: None,
        }
    }

    /// Whether records are also kept on local disk (on by default; the verified stamps of
    /// local blobs are kept either way).
    pub fn local(mut self, on: bool) -> LayerResultCache {
        self.local = on;
        self
    }

    /// Adds a shared tier (see [`SharedLayerResults`]).
    pub fn shared(mut self, shared: Option<std::sync::Arc<dyn SharedLayerResults>>) -> Self {
        self.shared = shared;
        self
    }

    /// An entry's body: the local tier, else the shared tier (copied to the local tier on
    /// a hit). `entry` is `layer` or `links-<request>`.
    fn load_body(&self, digest: &str, suffix: &str, kind: &str, entry: &str) -> Option<Vec<u8>> {
        let path = self.entry_path(digest, suffix)?;
        if self.local {
            if let Some(body) = read_entry(&path, kind) {
                return Some(body);
            }
        }
        let body = self.shared.as_ref()?.load(&self.key, digest, entry)?;
        if body.len() as u64 > MAX_ENTRY_BYTES {
            return None;
        }
        if self.local {
            write_entry(&path, kind, &body);
        }
        Some(body)
    }

    /// Writes an entry's body to every tier.
    fn store_body(&self, digest: &str, suffix: &str, kind: &str, entry: &str, body: &[u8]) {
        let Some(path) = self.entry_path(digest, suffix) else {
            return;
        };
        if self.local {
            write_entry(&path, kind, body);
        }
        if let Some(shared) = &self.shared {
            shared.store(&self.key, digest, entry, body);
        }
    }

    fn entry_path(&self, digest: &str, suffix: &str) -> Option<PathBuf> {
        let (alg, hex) = digest.split_once(':')?;
        if !(alg.bytes().all(|b| b.is_ascii_alphanumeric())
            && !hex.is_empty()
            && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            return None;
        }
        Some(self.dir.join(format!("{alg}-{hex}{suffix}")))
    }

    fn stamp_path(&self, blob: &LayerBlob) -> PathBuf {
        let location = match &blob.location {
            BlobLocation::File(p) => format!("file\0{}", absolute(p).display()),
            BlobLocation::TarMember {
                archive,
                offset,
                len,
            } => format!("member\0{}\0{offset}\0{len}", absolute(archive).display()),
        };
        let key =
            bulwark_image::digest::sha256_of(format!("{}\0{location}", blob.digest).as_bytes());
        self.stamps
            .join(key.strip_prefix("sha256:").unwrap_or(&key))
    }
}

fn absolute(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

/// The analyzer key of a scan: a hash of everything that changes a layer's analysis.
pub fn analyzer_key(analyzers: &Analyzers, walk: &bulwark_image::WalkOptions) -> String {
    let catalogers: Vec<&str> = bulwark_catalog::all_catalogers()
        .iter()
        .map(|c| c.id())
        .collect();
    let text = format!(
        "bulwark layer analysis {ANALYZER_VERSION} {}\ncatalogers {}\nsecrets {}\nmisconfig {:?}\nmax_file_bytes {} max_layer_bytes {}\n",
        env!("CARGO_PKG_VERSION"),
        catalogers.join(","),
        analyzers.secret_fingerprint.as_deref().unwrap_or("off"),
        analyzers.checks,
        walk.max_file_bytes,
        walk.max_layer_bytes,
    );
    let h = bulwark_image::digest::sha256_of(text.as_bytes());
    h.strip_prefix("sha256:")
        .unwrap_or(&h)
        .chars()
        .take(32)
        .collect()
}

/// Reads an entry of `kind`, checking its header, length and checksum; `None` (with a
/// debug log) when absent or damaged.
fn read_entry(path: &Path, kind: &str) -> Option<Vec<u8>> {
    let ignore = |why: String| {
        tracing::debug!("layer cache: ignoring {}: {why}", path.display());
        None
    };
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => return ignore(e.to_string()),
    };
    let mut r = std::io::BufReader::new(&file);
    let mut header = Vec::new();
    {
        let mut head = (&mut r).take(512);
        let mut byte = [0u8; 1];
        loop {
            match head.read(&mut byte) {
                Ok(0) => return ignore("no header line".into()),
                Ok(_) if byte[0] == b'\n' => break,
                Ok(_) => header.push(byte[0]),
                Err(e) => return ignore(e.to_string()),
            }
        }
    }
    let header = String::from_utf8_lossy(&header).into_owned();
    let words: Vec<&str> = header.split(' ').collect();
    let [magic, format, k, len, sum] = words.as_slice() else {
        return ignore(format!("bad header {header:?}"));
    };
    if *magic != MAGIC || *format != FORMAT || *k != kind {
        return ignore(format!("bad header {header:?}"));
    }
    let Ok(len) = len.parse::<u64>() else {
        return ignore(format!("bad length in header {header:?}"));
    };
    if len > MAX_ENTRY_BYTES {
        return ignore(format!(
            "body of {len} bytes is over the {MAX_ENTRY_BYTES}-byte limit"
        ));
    }
    let mut body = Vec::with_capacity(usize::try_from(len.min(1 << 20)).unwrap_or(0));
    if let Err(e) = r.take(len.saturating_add(1)).read_to_end(&mut body) {
        return ignore(e.to_string());
    }
    if body.len() as u64 != len {
        return ignore(format!("body is {} bytes, header says {len}", body.len()));
    }
    let actual = bulwark_image::digest::sha256_of(&body);
    if actual != *sum {
        return ignore(format!("checksum {actual} does not match {sum}"));
    }
    // Last use, for pruning. Best effort: a read-only cache still serves hits.
    let _ = file.set_modified(SystemTime::now());
    Some(body)
}

/// Writes an entry atomically: a temporary file in the same directory, renamed into place.
fn write_entry(path: &Path, kind: &str, body: &[u8]) {
    let Some(dir) = path.parent() else { return };
    let result = (|| -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let mut tmp = tempfile::Builder::new()
            .prefix(TMP_PREFIX)
            .tempfile_in(dir)?;
        let header = format!(
            "{MAGIC} {FORMAT} {kind} {} {}\n",
            body.len(),
            bulwark_image::digest::sha256_of(body)
        );
        tmp.write_all(header.as_bytes())?;
        tmp.write_all(body)?;
        tmp.flush()?;
        tmp.persist(path).map_err(|e| e.error)?;
        Ok(())
    })();
    if let Err(e) = result {
        tracing::debug!("layer cache: cannot write {}: {e}", path.display());
    }
}

impl LayerCache<FileOutput> for LayerResultCache {
    fn is_verified(&self, blob: &LayerBlob, stamp: &VerifiedStamp) -> bool {
        let path = self.stamp_path(blob);
        let mut text = String::new();
        let ok = std::fs::File::open(&path)
            .and_then(|f| f.take(MAX_STAMP_BYTES).read_to_string(&mut text))
            .is_ok();
        ok && VerifiedStamp::decode(&text, &blob.digest).as_ref() == Some(stamp)
    }

    fn record_verified(&self, blob: &LayerBlob, stamp: &VerifiedStamp) {
        let path = self.stamp_path(blob);
        let result = (|| -> std::io::Result<()> {
            std::fs::create_dir_all(&self.stamps)?;
            let mut tmp = tempfile::Builder::new()
                .prefix(TMP_PREFIX)
                .tempfile_in(&self.stamps)?;
            tmp.write_all(stamp.encode(&blob.digest).as_bytes())?;
            tmp.persist(&path).map_err(|e| e.error)?;
            Ok(())
        })();
        if let Err(e) = result {
            tracing::debug!("layer cache: cannot record stamp {}: {e}", path.display());
        }
    }

    fn load_layer(&self, digest: &str) -> Option<LayerRecord<FileOutput>> {
        let body = self.load_body(digest, "", "layer", "layer")?;
        match serde_json::from_slice(&body) {
            Ok(r) => Some(r),
            Err(e) => {
                tracing::debug!("layer cache: ignoring the record of {digest}: {e}");
                None
            }
        }
    }

    fn store_layer(&self, digest: &str, record: &LayerRecord<FileOutput>) {
        if !record.files.iter().all(|(_, o)| o.cacheable()) {
            tracing::debug!("layer cache: not storing {digest}: a file could not be read");
            return;
        }
        match serde_json::to_vec(record) {
            Ok(body) if body.len() as u64 <= MAX_ENTRY_BYTES => {
                self.store_body(digest, "", "layer", "layer", &body)
            }
            Ok(body) => tracing::debug!(
                "layer cache: not storing {digest}: {} bytes is over the limit",
                body.len()
            ),
            Err(e) => tracing::debug!("layer cache: cannot encode {digest}: {e}"),
        }
    }

    fn load_links(&self, digest: &str, request: &str) -> Option<LinkRecord<FileOutput>> {
        let body = self.load_body(
            digest,
            &format!(".links-{request}"),
            "links",
            &format!("links-{request}"),
        )?;
        match serde_json::from_slice(&body) {
            Ok(r) => Some(r),
            Err(e) => {
                tracing::debug!("layer cache: ignoring the link record of {digest}: {e}");
                None
            }
        }
    }

    fn store_links(&self, digest: &str, request: &str, record: &LinkRecord<FileOutput>) {
        if !record.visits.iter().flatten().all(FileOutput::cacheable) {
            return;
        }
        match serde_json::to_vec(record) {
            Ok(body) if body.len() as u64 <= MAX_ENTRY_BYTES => self.store_body(
                digest,
                &format!(".links-{request}"),
                "links",
                &format!("links-{request}"),
                &body,
            ),
            Ok(_) => {}
            Err(e) => tracing::debug!("layer cache: cannot encode links of {digest}: {e}"),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Bookkeeping: `bulwark cache info|prune`

/// The kinds of things kept under a cache root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheKind {
    /// Registry blobs and their verified stamps (`blobs/`).
    Blobs,
    /// Images exported from a Docker-compatible daemon (`daemon/`).
    DaemonExports,
    /// Layer analysis results and local blob stamps (`layers/`).
    LayerResults,
}

impl CacheKind {
    /// Every kind, in display order.
    pub const ALL: [CacheKind; 3] = [
        CacheKind::Blobs,
        CacheKind::DaemonExports,
        CacheKind::LayerResults,
    ];

    /// The kind's directory under the cache root.
    pub fn dir(self, root: &Path) -> PathBuf {
        root.join(match self {
            CacheKind::Blobs => "blobs",
            CacheKind::DaemonExports => "daemon",
            CacheKind::LayerResults => "layers",
        })
    }

    /// The kind's name in output.
    pub fn name(self) -> &'static str {
        match self {
            CacheKind::Blobs => "blobs",
            CacheKind::DaemonExports => "daemon exports",
            CacheKind::LayerResults => "layer results",
        }
    }
}

/// Size and count of one kind of cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindInfo {
    /// Which kind.
    pub kind: CacheKind,
    /// Its directory.
    pub dir: PathBuf,
    /// Entries (blobs, exports, layer records; stamp files are counted in bytes only).
    pub entries: u64,
    /// Bytes on disk (file lengths).
    pub bytes: u64,
}

/// One file of a cache, for pruning.
#[derive(Debug, Clone)]
struct CacheFile {
    path: PathBuf,
    kind: CacheKind,
    len: u64,
    /// Last use: the later of mtime and atime.
    used: SystemTime,
    /// A temporary file (a write in progress, or one a crashed run left).
    tmp: bool,
    /// Counted as an entry (not a stamp file beside one).
    entry: bool,
}

fn list_files(root: &Path, kind: CacheKind) -> Vec<CacheFile> {
    let mut out = Vec::new();
    let mut stack = vec![kind.dir(root)];
    while let Some(dir) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in rd.flatten() {
            let Ok(md) = e.metadata() else { continue };
            let path = e.path();
            if md.is_dir() {
                stack.push(path);
                continue;
            }
            if !md.is_file() {
                continue;
            }
            let name = e.file_name().to_string_lossy().into_owned();
            let mtime = md.modified().unwrap_or(SystemTime::UNIX_EPOCH);
            let atime = md.accessed().unwrap_or(SystemTime::UNIX_EPOCH);
            let tmp = name.starts_with(TMP_PREFIX)
                || name.starts_with(".partial-")
                || name.starts_with(".stamp-")
                || name.starts_with(".tmp");
            let in_stamps = path
                .parent()
                .and_then(Path::file_name)
                .is_some_and(|n| n == "stamps");
            let entry = !tmp && !name.ends_with(".verified") && !in_stamps;
            out.push(CacheFile {
                path,
                kind,
                len: md.len(),
                used: mtime.max(atime),
                tmp,
                entry,
            });
        }
    }
    out
}

/// Size and entry counts of each kind of cache under `root`.
pub fn info(root: &Path) -> Vec<KindInfo> {
    CacheKind::ALL
        .iter()
        .map(|&kind| {
            let files = list_files(root, kind);
            KindInfo {
                kind,
                dir: kind.dir(root),
                entries: files.iter().filter(|f| f.entry).count() as u64,
                bytes: files.iter().map(|f| f.len).sum(),
            }
        })
        .collect()
}

/// What `prune` removes.
#[derive(Debug, Clone, Default)]
pub struct PrunePolicy {
    /// Remove files not used for longer than this.
    pub max_age: Option<Duration>,
    /// Then remove the least recently used files until the caches total at most this.
    pub max_size: Option<u64>,
    /// Remove everything (temporary files of running scans excepted).
    pub all: bool,
}

/// What `prune` did.
#[derive(Debug, Default)]
pub struct PruneOutcome {
    /// Files removed.
    pub removed_files: u64,
    /// Bytes freed.
    pub removed_bytes: u64,
    /// Bytes left.
    pub kept_bytes: u64,
    /// Files that could not be removed. Pruning goes on past each one (a size target
    /// is then met by removing more of the others), so one unremovable file does not
    /// leave the rest of the cache unpruned; the caller reports them.
    pub failures: Vec<CacheError>,
}

/// Errors of `prune`.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// A file could not be removed.
    #[error("cannot remove {path}: {source}")]
    Remove {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

/// Prunes the caches under `root`: by age first, then by size, least recently used
/// first. A blob and its `.verified` stamp go together. Temporary files younger than
/// [`TMP_GRACE`] are never removed (a scan may be about to rename one into place); older
/// ones are leftovers of a crashed run and go. Removing a finished entry is safe while
/// another scan runs: an open file stays readable, and a missing one is a miss.
pub fn prune(root: &Path, policy: &PrunePolicy) -> PruneOutcome {
    let now = SystemTime::now();
    let mut files: Vec<CacheFile> = CacheKind::ALL
        .iter()
        .flat_map(|&k| list_files(root, k))
        .collect();
    let age = |f: &CacheFile| now.duration_since(f.used).unwrap_or_default();
    // Young temporary files are another process's write in progress: never touched.
    files.retain(|f| !(f.tmp && age(f) < TMP_GRACE));
    let mut out = PruneOutcome::default();
    // True when the file is gone (removed now, or already by someone else).
    let remove = |f: &CacheFile, out: &mut PruneOutcome| -> bool {
        match std::fs::remove_file(&f.path) {
            Ok(()) => {
                out.removed_files += 1;
                out.removed_bytes += f.len;
                true
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => true,
            Err(source) => {
                out.failures.push(CacheError::Remove {
                    path: f.path.display().to_string(),
                    source,
                });
                false
            }
        }
    };
    let mut keep = Vec::new();
    for f in files {
        let stale = f.tmp || policy.all || policy.max_age.is_some_and(|m| age(&f) > m);
        if !(stale && remove(&f, &mut out)) {
            keep.push(f);
        }
    }
    if let Some(max) = policy.max_size {
        // Oldest first; a blob's stamp file follows its blob.
        keep.sort_by_key(|f| (f.used, f.path.clone()));
        let mut total: u64 = keep.iter().map(|f| f.len).sum();
        let mut left = Vec::new();
        let mut removed_blobs = std::collections::HashSet::new();
        for f in keep {
            if total > max && f.entry && remove(&f, &mut out) {
                total = total.saturating_sub(f.len);
                if f.kind == CacheKind::Blobs {
                    removed_blobs.insert(f.path.clone());
                }
            } else {
                left.push(f);
            }
        }
        keep = Vec::new();
        for f in left {
            let orphan_stamp = f
                .path
                .to_str()
                .and_then(|p| p.strip_suffix(".verified"))
                .is_some_and(|b| removed_blobs.contains(Path::new(b)));
            if !(orphan_stamp && remove(&f, &mut out)) {
                keep.push(f);
            }
        }
    }
    out.kept_bytes = keep.iter().map(|f| f.len).sum();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(path: &Path, len: usize, age_secs: u64) {
        if let Some(d) = path.parent() {
            std::fs::create_dir_all(d).unwrap_or_else(|e| panic!("{e}"));
        }
        std::fs::write(path, vec![b'x'; len]).unwrap_or_else(|e| panic!("{e}"));
        let t = SystemTime::now() - Duration::from_secs(age_secs);
        let f = std::fs::File::options()
            .write(true)
            .open(path)
            .unwrap_or_else(|e| panic!("{e}"));
        f.set_times(std::fs::FileTimes::new().set_accessed(t).set_modified(t))
            .unwrap_or_else(|e| panic!("{e}"));
    }

    #[test]
    fn entries_round_trip_and_damage_is_ignored() {
        let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let p = d.path().join("x/entry");
        write_entry(&p, "layer", b"{\"a\":1}");
        assert_eq!(read_entry(&p, "layer").as_deref(), Some(&b"{\"a\":1}"[..]));
        assert_eq!(read_entry(&p, "links"), None, "kind is checked");
        let mut bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{e}"));
        let last = bytes.len() - 2;
        bytes[last] ^= 1;
        std::fs::write(&p, &bytes).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(read_entry(&p, "layer"), None, "flipped byte");
        bytes.truncate(bytes.len() - 3);
        std::fs::write(&p, &bytes).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(read_entry(&p, "layer"), None, "truncated");
        std::fs::write(
            &p,
            format!("{MAGIC} {FORMAT} layer 99999999999 sha256:00\n"),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(read_entry(&p, "layer"), None, "over the size cap");
        std::fs::write(&p, b"no newline at all").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(read_entry(&p, "layer"), None);
    }

    #[test]
    fn info_counts_and_prune_by_age_then_size() {
        let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let root = d.path();
        put(&root.join("blobs/sha256/aa"), 100, 10 * 86400);
        put(&root.join("blobs/sha256/aa.verified"), 10, 10 * 86400);
        put(&root.join("blobs/sha256/bb"), 100, 60);
        put(&root.join("blobs/sha256/bb.verified"), 10, 60);
        put(&root.join("daemon/cc.tar"), 1000, 3 * 86400);
        put(&root.join("layers/k/sha256-dd"), 50, 30);
        put(&root.join("layers/k/sha256-ee"), 50, 20);
        put(&root.join("layers/stamps/ff"), 5, 20);
        put(&root.join("layers/k/.tmp-young"), 7, 0);
        put(&root.join("layers/k/.tmp-old"), 7, 2 * 3600);
        let i = info(root);
        let get = |k: CacheKind| i.iter().find(|x| x.kind == k).cloned();
        assert_eq!(
            get(CacheKind::Blobs).map(|x| (x.entries, x.bytes)),
            Some((2, 220))
        );
        assert_eq!(
            get(CacheKind::DaemonExports).map(|x| (x.entries, x.bytes)),
            Some((1, 1000))
        );
        assert_eq!(
            get(CacheKind::LayerResults).map(|x| (x.entries, x.bytes)),
            Some((2, 119))
        );

        // Age: the 10-day blob (and its stamp) and the stale temp file go.
        let out = prune(
            root,
            &PrunePolicy {
                max_age: Some(Duration::from_secs(7 * 86400)),
                ..PrunePolicy::default()
            },
        );
        assert!(out.failures.is_empty(), "{out:?}");
        assert_eq!(out.removed_files, 3, "{out:?}");
        assert!(!root.join("blobs/sha256/aa").exists());
        assert!(!root.join("layers/k/.tmp-old").exists());
        assert!(root.join("layers/k/.tmp-young").exists());

        // Size: oldest first — the daemon export, then the blob bb (with its stamp).
        let out = prune(
            root,
            &PrunePolicy {
                max_size: Some(150),
                ..PrunePolicy::default()
            },
        );
        assert!(!root.join("daemon/cc.tar").exists(), "{out:?}");
        assert!(!root.join("blobs/sha256/bb").exists(), "{out:?}");
        assert!(!root.join("blobs/sha256/bb.verified").exists(), "{out:?}");
        assert!(root.join("layers/k/sha256-ee").exists(), "{out:?}");
        assert!(out.kept_bytes <= 150, "{out:?}");

        let out = prune(
            root,
            &PrunePolicy {
                all: true,
                ..PrunePolicy::default()
            },
        );
        assert!(out.failures.is_empty(), "{out:?}");
        assert!(out.removed_files >= 2, "{out:?}");
        assert!(
            root.join("layers/k/.tmp-young").exists(),
            "a running write is left alone"
        );
        let i = info(root);
        assert!(i.iter().all(|x| x.entries == 0), "{i:?}");
    }

    /// A file that cannot be removed (immutable) is reported, and pruning goes on:
    /// the size target is met by removing the others instead.
    #[test]
    fn prune_goes_on_past_a_file_it_cannot_remove() {
        let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let root = d.path();
        put(&root.join("daemon/old.tar"), 100, 30 * 86400);
        put(&root.join("daemon/mid.tar"), 100, 20 * 86400);
        put(&root.join("daemon/new.tar"), 100, 86400);
        let stuck = root.join("daemon/old.tar");
        let chattr = |flag: &str| {
            std::process::Command::new("chattr")
                .arg(flag)
                .arg(&stuck)
                .status()
                .is_ok_and(|s| s.success())
        };
        if !chattr("+i") {
            bulwark_fixtures::absent(
                "chattr +i (root on ext4)",
                "cannot make a file immutable here",
            );
            return;
        }
        let out = prune(
            root,
            &PrunePolicy {
                max_size: Some(250),
                ..PrunePolicy::default()
            },
        );
        chattr("-i");
        assert_eq!(out.failures.len(), 1, "{out:?}");
        assert!(out.failures[0].to_string().contains("old.tar"), "{out:?}");
        // old.tar stayed (immutable), so mid.tar went too; new.tar stays.
        assert!(stuck.exists());
        assert!(!root.join("daemon/mid.tar").exists(), "{out:?}");
        assert!(root.join("daemon/new.tar").exists(), "{out:?}");
        assert_eq!(out.removed_files, 1, "{out:?}");
        assert_eq!(out.kept_bytes, 200, "{out:?}");
    }
}
