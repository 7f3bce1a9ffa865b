//! The layer walker: streams every layer blob once (in parallel), verifies it against its
//! digest, hands the files a [`Visitor`] wants to it, and keeps just enough per layer —
//! whiteouts, opaque directories, the symlink/hard-link tables and 64-bit hashes of entry
//! paths — to compute the merged view of the image afterwards.
//!
//! Memory is bounded by design: a file is held in memory only up to
//! [`WalkOptions::spool_threshold`] (bigger ones go to an anonymous tempfile), and per
//! layer only the compact tables above are kept, never a file list.

use crate::digest::{Hasher, ParsedDigest};
use crate::store::open_location;
use crate::{Cancel, FileEntry, ImageError, LayerBlob, ReadSeek, Target, VerifiedStamp, Visitor};
use bulwark_core::Warning;
use rayon::prelude::*;
use std::cell::Cell;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::fs::File;
use std::hash::BuildHasher as _;
use std::io::{self, BufRead, BufReader, Cursor, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::{Arc, Mutex};

/// Symlink hops followed before a link is declared a loop.
const MAX_LINK_HOPS: usize = 40;
/// Deepest directory nesting walked in a directory target.
const MAX_DIR_DEPTH: usize = 512;
/// Read buffer for layer blobs.
const BLOB_BUFFER: usize = 256 << 10;
/// Buffer between the tar parser and the decompressed layer stream.
const TAR_BUFFER: usize = 256 << 10;

const S_IFREG: u32 = 0o100_000;
const S_IFLNK: u32 = 0o120_000;

/// Limits and tuning for [`walk`].
#[derive(Debug, Clone)]
pub struct WalkOptions {
    /// Most decompressed bytes one layer may expand to; more is a decompression bomb.
    pub max_layer_bytes: u64,
    /// Largest file handed to a visitor; larger wanted files are skipped with a warning.
    pub max_file_bytes: u64,
    /// Files larger than this are spooled to a tempfile instead of memory.
    pub spool_threshold: u64,
    /// Where spooled files go (the system temp dir when `None`).
    pub spool_dir: Option<PathBuf>,
    /// Worker threads when no `pool` is given; 0 means the available cores.
    pub threads: usize,
    /// The thread pool to run on. An engine shares one pool between all its scans, so
    /// concurrent scans share one thread budget; without one, each walk builds its own
    /// pool of `threads` workers.
    pub pool: Option<Arc<rayon::ThreadPool>>,
    /// Cancellation and deadline, checked between layers, per tar entry and per chunk
    /// of a layer stream.
    pub cancel: Cancel,
}

impl Default for WalkOptions {
    fn default() -> Self {
        WalkOptions {
            max_layer_bytes: 64 << 30,
            max_file_bytes: 1 << 30,
            spool_threshold: 8 << 20,
            spool_dir: None,
            threads: 0,
            pool: None,
            cancel: Cancel::default(),
        }
    }
}

/// The result of walking a target.
#[derive(Debug)]
pub struct Walk<O> {
    /// One entry per layer, bottom first (a single pseudo-layer for directories/files).
    pub layers: Vec<LayerWalk<O>>,
    /// Problems that did not stop the walk and lost nothing a visitor asked for (a wanted
    /// link that leaves the root or dangles).
    pub warnings: Vec<Warning>,
    /// Wanted files that were not handed to the visitor (over `max_file_bytes`, or they
    /// could not be opened): what they hold is missing, so the result is incomplete.
    pub skipped: Vec<Warning>,
}

/// Bytes moved while reading one layer: what `-v` prints, and what tests check to prove
/// that a scan reads, inflates and hashes every layer once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LayerStats {
    /// Stored (possibly compressed) bytes read by the verifying pass.
    pub read: u64,
    /// Bytes the verifying pass inflated (gzip/zstd output; 0 for an uncompressed layer).
    pub inflated: u64,
    /// Bytes fed to the digest by the walk (0 when the blob carried a verified stamp,
    /// for instance a registry blob hashed while it downloaded).
    pub hashed: u64,
    /// Verifying passes over the layer (1 after a walk).
    pub passes: u32,
    /// Stored bytes read again by the link-target pass, which never hashes (the blob's
    /// stamp is checked instead).
    pub revisit_read: u64,
    /// Bytes inflated again by the link-target pass.
    pub revisit_inflated: u64,
    /// Link-target passes over the layer (0 or 1).
    pub revisits: u32,
    /// What the layer-result cache did for this layer (see [`LayerCache`]).
    pub cache: CacheUse,
}

/// What the layer-result cache did for one layer of a walk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CacheUse {
    /// No cache was given to the walk (or the target is not an image).
    #[default]
    Off,
    /// The layer was analysed, and its results stored when they could be.
    Miss,
    /// The layer's results came from the cache; its blob was not read (its verified
    /// stamp still matched).
    Hit,
    /// The layer's results came from the cache; its blob was only hashed (it carried no
    /// verified stamp yet), never parsed.
    HitHashed,
}

impl CacheUse {
    /// Whether the layer's analysis came from the cache.
    pub fn is_hit(self) -> bool {
        matches!(self, CacheUse::Hit | CacheUse::HitHashed)
    }

    /// A word for logs: `off`, `miss`, `hit`, `hit (hashed)`.
    pub fn as_str(self) -> &'static str {
        match self {
            CacheUse::Off => "off",
            CacheUse::Miss => "miss",
            CacheUse::Hit => "hit",
            CacheUse::HitHashed => "hit (blob hashed only)",
        }
    }
}

/// What one layer's first pass found, depending on that layer's bytes alone (and on the
/// visitor): the visitor's outputs for the layer's regular files, its whiteouts and
/// opaque directories, its link tables, the paths of its entries, the links the visitor
/// wanted and the files it skipped. Everything that depends on other layers — the
/// merged view, link resolution, the link-target visits — is computed after the first
/// passes, from these records, on every walk. A [`LayerCache`] stores it.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct LayerRecord<O> {
    /// Visited regular files and the visitor's output, in tar order.
    pub files: Vec<(String, O)>,
    /// Whiteout targets.
    pub whiteouts: BTreeSet<String>,
    /// Opaque directories.
    pub opaque_dirs: BTreeSet<String>,
    /// Symlink path → target.
    pub symlinks: std::collections::BTreeMap<String, String>,
    /// Hard-link path → target.
    pub hardlinks: std::collections::BTreeMap<String, String>,
    /// Non-directory entry paths (sorted, deduplicated).
    pub nondir: Vec<String>,
    /// Directory entry paths (sorted, deduplicated).
    pub dirs: Vec<String>,
    /// Links the visitor wanted: (path, is a hard link), in tar order.
    pub links: Vec<(String, bool)>,
    /// Wanted files that were not visited (too big).
    pub skipped: Vec<Warning>,
}

/// The link-target visits made in one layer for one set of requests: outputs aligned
/// with the request list (`None` where the target was not visited), and the warnings.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct LinkRecord<O> {
    /// One entry per request, in request order.
    pub visits: Vec<Option<O>>,
    /// Targets that were not regular files.
    pub warnings: Vec<Warning>,
    /// Targets over `max_file_bytes`.
    pub skipped: Vec<Warning>,
}

/// A store of per-layer analysis results, keyed by the layer's *verified* blob digest
/// (the implementation adds whatever identifies the visitor's configuration). The walker
/// consults it only for image layers, and uses a loaded record only once the blob is
/// known to hold its digest: its stamp matches one recorded after an earlier walk hashed
/// it ([`LayerCache::is_verified`]) or the registry cache's, or else the walker hashes
/// the blob (without parsing it) first.
///
/// Every method is best effort: a failure to read or write is a miss, never an error.
pub trait LayerCache<O>: Sync {
    /// Whether an earlier walk verified `blob` (its digest) while its file had `stamp`.
    fn is_verified(&self, blob: &LayerBlob, stamp: &VerifiedStamp) -> bool;
    /// Records that this walk hashed `blob`, whose file had `stamp` before the read, and
    /// found its digest right.
    fn record_verified(&self, blob: &LayerBlob, stamp: &VerifiedStamp);
    /// The first-pass record of the layer with this verified digest.
    fn load_layer(&self, digest: &str) -> Option<LayerRecord<O>>;
    /// Stores a first-pass record (the implementation may decline, e.g. when an output
    /// records a transient failure).
    fn store_layer(&self, digest: &str, record: &LayerRecord<O>);
    /// The link-target visits of this layer for the request list hashed as `request`.
    fn load_links(&self, digest: &str, request: &str) -> Option<LinkRecord<O>>;
    /// Stores link-target visits.
    fn store_links(&self, digest: &str, request: &str, record: &LinkRecord<O>);
}

/// What one layer contributed.
#[derive(Debug)]
pub struct LayerWalk<O> {
    /// Position, bottom layer = 0.
    pub index: usize,
    /// Blob digest (empty for directory targets).
    pub digest: String,
    /// Diff id (empty for directory targets).
    pub diff_id: String,
    /// Visited files with the visitor's output, in tar order; wanted links resolved after
    /// the walk follow, under the link's path.
    pub files: Vec<(String, O)>,
    /// Bytes read, inflated and hashed for this layer.
    pub stats: LayerStats,
    /// Paths deleted by whiteout entries in this layer.
    pub whiteouts: BTreeSet<String>,
    /// Directories made opaque in this layer (lower content under them is hidden).
    pub opaque_dirs: BTreeSet<String>,
    symlinks: HashMap<String, String>,
    hardlinks: HashMap<String, String>,
    /// Sorted hashes of non-directory entry paths.
    nondir: Vec<u64>,
    /// Sorted hashes of directory entry paths.
    dirs: Vec<u64>,
    /// The blob's on-disk stamp when it was verified (image layers only).
    stamp: Option<VerifiedStamp>,
}

impl<O> LayerWalk<O> {
    fn new(index: usize, digest: String, diff_id: String) -> Self {
        LayerWalk {
            index,
            digest,
            diff_id,
            files: Vec::new(),
            stats: LayerStats::default(),
            whiteouts: BTreeSet::new(),
            opaque_dirs: BTreeSet::new(),
            symlinks: HashMap::new(),
            hardlinks: HashMap::new(),
            nondir: Vec::new(),
            dirs: Vec::new(),
            stamp: None,
        }
    }

    fn has_nondir(&self, path: &str) -> bool {
        self.nondir.binary_search(&path_hash(path)).is_ok()
    }

    fn has_dir(&self, path: &str) -> bool {
        self.dirs.binary_search(&path_hash(path)).is_ok()
    }

    /// Whether this layer hides copies of `path` in the layers below it.
    fn hides(&self, path: &str) -> bool {
        self.has_nondir(path) || self.removes(path)
    }

    /// Whether this layer removes `path` by other means than putting a new file there:
    /// a whiteout, an opaque or replaced ancestor, a directory in its place.
    fn removes(&self, path: &str) -> bool {
        if self.whiteouts.contains(path) || self.has_dir(path) {
            return true;
        }
        ancestors(path).any(|a| {
            self.whiteouts.contains(a) || self.opaque_dirs.contains(a) || self.has_nondir(a)
        })
    }
}

/// A file visible in the final image.
#[derive(Debug)]
pub struct MergedFile<'a, O> {
    /// Its path.
    pub path: &'a str,
    /// The layer the visible copy comes from.
    pub layer: usize,
    /// The visitor's output for the visible copy.
    pub output: &'a O,
    /// Copies of the same path in lower layers that it overwrote, bottom first: the
    /// unbroken run of kept copies right below it. A layer in between that changed the
    /// path in any other way (a copy the visitor did not keep, see [`Visitor::keep`], a
    /// whiteout) ends the run; copies below it are in [`Walk::deleted`].
    pub lower: Vec<(usize, &'a O)>,
}

/// Visited files not visible in the final image, as `(path, layer, output)`.
pub type Deleted<'a, O> = Vec<(&'a str, usize, &'a O)>;

impl<O> Walk<O> {
    /// The merged view: every visited file visible in the final image, sorted by path.
    pub fn merged(&self) -> Vec<MergedFile<'_, O>> {
        self.classify().0
    }

    /// Visited files that are not visible in the final image (deleted, hidden by an opaque
    /// directory or replaced by a non-file), as `(path, layer, output)`.
    pub fn deleted(&self) -> Vec<(&str, usize, &O)> {
        self.classify().1
    }

    /// [`Walk::merged`] and [`Walk::deleted`] from one pass over the visited files, for a
    /// caller that needs both.
    pub fn merged_and_deleted(&self) -> (Vec<MergedFile<'_, O>>, Deleted<'_, O>) {
        self.classify()
    }

    /// Whether a layer strictly between `from` and `to` hides `path`; with `overwrites`
    /// false, a plain new copy of the path does not count (that is an overwrite, and the
    /// old copy is reported in [`MergedFile::lower`]).
    fn hidden_between(&self, path: &str, from: usize, to: usize, overwrites: bool) -> bool {
        self.layers
            .iter()
            .skip(from + 1)
            .take(to.saturating_sub(from + 1))
            .any(|l| {
                if overwrites {
                    l.hides(path)
                } else {
                    l.removes(path)
                }
            })
    }

    fn classify(&self) -> (Vec<MergedFile<'_, O>>, Deleted<'_, O>) {
        let mut by_path: HashMap<&str, Vec<(usize, &O)>> = HashMap::new();
        for (li, layer) in self.layers.iter().enumerate() {
            for (p, o) in &layer.files {
                by_path.entry(p.as_str()).or_default().push((li, o));
            }
        }
        let n = self.layers.len();
        let mut merged = Vec::new();
        let mut deleted = Vec::new();
        for (path, mut copies) in by_path {
            let Some((top_layer, top)) = copies.pop() else {
                continue;
            };
            let visible = !self.hidden_between(path, top_layer, n, true);
            // The unbroken run of kept copies below the visible one, top down: a layer
            // between two kept copies that put anything at the path (a copy whose output
            // the visitor did not keep, a file it did not want, a whiteout) ends the run.
            let mut lower = Vec::new();
            let mut above = top_layer;
            let mut unbroken = visible;
            for (l, o) in copies.into_iter().rev() {
                unbroken = unbroken && !self.hidden_between(path, l, above, true);
                if unbroken {
                    lower.push((l, o));
                    above = l;
                } else {
                    deleted.push((path, l, o));
                }
            }
            lower.reverse();
            if visible {
                merged.push(MergedFile {
                    path,
                    layer: top_layer,
                    output: top,
                    lower,
                });
            } else {
                deleted.push((path, top_layer, top));
            }
        }
        merged.sort_by(|a, b| a.path.cmp(b.path));
        deleted.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        (merged, deleted)
    }
}

/// A 64-bit hash of a path, keyed randomly once per process. The keys must not be
/// predictable: with fixed keys an image author could search offline for two paths that
/// collide and use one in an upper layer to hide the other (say, a package's metadata)
/// from the SBOM. Random keys leave only the accidental ~n²/2⁶⁵ chance.
fn path_hash(path: &str) -> u64 {
    static KEYS: std::sync::OnceLock<std::hash::RandomState> = std::sync::OnceLock::new();
    KEYS.get_or_init(std::hash::RandomState::new)
        .hash_one(path.as_bytes())
}

/// Strict ancestors of a normalised path, shortest first (`a`, `a/b` for `a/b/c`).
fn ancestors(path: &str) -> impl Iterator<Item = &str> {
    path.match_indices('/')
        .filter_map(move |(i, _)| path.get(..i))
}

/// Normalises a tar entry path; absolute paths and `..` escaping the root are errors.
fn normalise_entry_path(p: &str) -> Result<String, String> {
    if p.starts_with('/') {
        return Err("absolute path in layer".into());
    }
    let mut out: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if out.pop().is_none() {
                    return Err("path escapes the layer root with `..`".into());
                }
            }
            c => out.push(c),
        }
    }
    Ok(out.join("/"))
}

/// Normalises a path that must stay inside the root: `..` past the root stays at the root.
fn clamp_path(p: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    out.join("/")
}

fn join_parent(parent: Option<&str>, name: &str) -> String {
    match parent {
        Some(p) if !p.is_empty() => format!("{p}/{name}"),
        _ => name.to_string(),
    }
}

// ---------------------------------------------------------------------------------------
// Streaming one layer

/// Where the bytes of a hashed stream go: a hasher thread, so that hashing (the largest
/// single cost of reading an uncompressed layer) runs beside decompression and tar
/// parsing on another core instead of in series with them.
struct HashSink {
    tx: Option<std::sync::mpsc::SyncSender<Vec<u8>>>,
    handle: std::thread::JoinHandle<Hasher>,
    /// Bytes handed to the hasher.
    sent: u64,
}

impl HashSink {
    fn new(mut hasher: Hasher) -> Self {
        // A few chunks in flight bound the memory to a few buffers.
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(4);
        let handle = std::thread::spawn(move || {
            for chunk in rx {
                hasher.update(&chunk);
            }
            hasher
        });
        HashSink {
            tx: Some(tx),
            handle,
            sent: 0,
        }
    }

    fn send(&mut self, data: &[u8]) -> io::Result<()> {
        if let Some(tx) = &self.tx {
            if tx.send(data.to_vec()).is_err() {
                return Err(io::Error::other("hasher thread stopped"));
            }
            self.sent = self.sent.saturating_add(data.len() as u64);
        }
        Ok(())
    }

    /// The digest and the number of bytes hashed.
    fn finish(mut self) -> (String, u64) {
        self.tx = None;
        let sent = self.sent;
        let digest = self.handle.join().map(Hasher::finish).unwrap_or_default();
        (digest, sent)
    }
}

/// Counts what passes through, and hashes it when enabled.
struct HashingReader<R> {
    inner: R,
    hasher: Option<HashSink>,
    count: Rc<Cell<u64>>,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get().saturating_add(n as u64));
        if let (Some(h), Some(data)) = (self.hasher.as_mut(), buf.get(..n)) {
            if n > 0 {
                h.send(data)?;
            }
        }
        Ok(n)
    }
}

/// Fails once more than `max` bytes have passed, flagging `tripped`, or once the scan
/// is cancelled (checked per chunk, so one huge file cannot hold a cancelled scan).
struct Limited<R> {
    inner: R,
    count: u64,
    max: u64,
    tripped: Rc<Cell<bool>>,
    cancel: Cancel,
}

impl<R: Read> Read for Limited<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.cancel.check().is_err() {
            // `layer_io_error` turns this into the cancellation error itself.
            return Err(io::Error::other("scan cancelled"));
        }
        let n = self.inner.read(buf)?;
        self.count = self.count.saturating_add(n as u64);
        if self.count > self.max {
            self.tripped.set(true);
            return Err(io::Error::other("decompression bomb"));
        }
        Ok(n)
    }
}

/// The decompressor chosen for a layer.
enum Decomp<R: BufRead> {
    Gzip(Box<flate2::bufread::MultiGzDecoder<R>>),
    Zstd(zstd::stream::read::Decoder<'static, R>),
    Plain(R),
}

impl<R: BufRead> Read for Decomp<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Decomp::Gzip(d) => d.read(buf),
            Decomp::Zstd(d) => d.read(buf),
            Decomp::Plain(r) => r.read(buf),
        }
    }
}

impl<R: BufRead> Decomp<R> {
    fn into_inner(self) -> R {
        match self {
            Decomp::Gzip(d) => (*d).into_inner(),
            Decomp::Zstd(d) => d.finish(),
            Decomp::Plain(r) => r,
        }
    }
}

/// Metadata of one tar entry handed to an entry handler.
struct EntryMeta<'a> {
    path: &'a str,
    kind: tar::EntryType,
    mode: u32,
    size: u64,
    link: Option<&'a str>,
}

fn layer_io_error(
    blob: &LayerBlob,
    path: &str,
    err: &io::Error,
    tripped: bool,
    opts: &WalkOptions,
) -> ImageError {
    if let Err(stop) = opts.cancel.check() {
        return stop;
    }
    let message = if tripped {
        format!(
            "decompression bomb: layer expands beyond max_layer_bytes ({} bytes)",
            opts.max_layer_bytes
        )
    } else if let Some(spool) = err.get_ref().and_then(|e| e.downcast_ref::<SpoolError>()) {
        spool.to_string()
    } else {
        format!("corrupt or truncated layer stream: {err}")
    };
    ImageError::Layer {
        digest: blob.digest.clone(),
        path: path.to_string(),
        message,
    }
}

/// What an entry handler tells the layer reader.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Flow {
    /// Go on with the next entry.
    Next,
    /// Nothing more is wanted from this layer (only honoured by [`revisit_layer`]; a
    /// verifying read always goes to the end, since the digest covers every byte).
    Done,
}

/// Handler for one tar entry and its data.
type OnEntry<'f> = dyn FnMut(EntryMeta<'_>, &mut dyn Read) -> io::Result<Flow> + 'f;

/// Runs `on_entry` over a tar stream's entries; returns the last path seen (for errors).
fn for_each_entry<R: Read>(
    entries: tar::Entries<'_, R>,
    blob: &LayerBlob,
    opts: &WalkOptions,
    tripped: &Cell<bool>,
    on_entry: &mut OnEntry<'_>,
) -> Result<String, ImageError> {
    let mut last = String::from("-");
    for entry in entries {
        opts.cancel.check()?;
        let mut entry = entry.map_err(|e| layer_io_error(blob, &last, &e, tripped.get(), opts))?;
        let raw_path = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let path = normalise_entry_path(&raw_path).map_err(|message| ImageError::Layer {
            digest: blob.digest.clone(),
            path: raw_path.clone(),
            message,
        })?;
        let header = entry.header();
        let kind = header.entry_type();
        let mode = header.mode().unwrap_or(0) & 0o7777;
        let link = entry
            .link_name_bytes()
            .map(|l| String::from_utf8_lossy(&l).into_owned());
        let meta = EntryMeta {
            path: &path,
            kind,
            mode,
            size: entry.size(),
            link: link.as_deref(),
        };
        let flow = on_entry(meta, &mut entry)
            .map_err(|e| layer_io_error(blob, &path, &e, tripped.get(), opts))?;
        if !path.is_empty() {
            last = path;
        }
        if flow == Flow::Done {
            break;
        }
    }
    Ok(last)
}

/// Opens a layer's decompressed stream: sniffs gzip/zstd/plain from the first bytes (the
/// media type is the fallback) and puts the bomb guard on the output. `raw_hash` and
/// `plain_hash` hash the stored and the decompressed bytes.
/// How a layer blob is compressed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Compression {
    Gzip,
    Zstd,
    None,
}

/// Sniffs the compression from the blob's first bytes; the media type is the fallback.
fn compression(head: &[u8], blob: &LayerBlob) -> Compression {
    let media = blob.media_type.as_deref().unwrap_or("");
    match crate::store::compression_magic(head) {
        Some(crate::store::Magic::Gzip) => Compression::Gzip,
        Some(crate::store::Magic::Zstd) => Compression::Zstd,
        None if media.contains("zstd") => Compression::Zstd,
        None if media.contains("gzip") => Compression::Gzip,
        None => Compression::None,
    }
}

/// Whether a layer blob is an uncompressed tar (reads only its first bytes).
fn is_plain_layer(blob: &LayerBlob, opts: &WalkOptions) -> Result<bool, ImageError> {
    let mut head = [0u8; 4];
    let mut r = open_location(&blob.location)?;
    let mut n = 0;
    while n < head.len() {
        let got = r
            .read(head.get_mut(n..).unwrap_or_default())
            .map_err(|e| layer_io_error(blob, "-", &e, false, opts))?;
        if got == 0 {
            break;
        }
        n += got;
    }
    Ok(compression(head.get(..n).unwrap_or_default(), blob) == Compression::None)
}

/// A layer's decompressed, bomb-guarded, optionally hashed byte stream.
type LayerStream = Limited<HashingReader<Decomp<BufReader<HashingReader<io::Take<File>>>>>>;

/// Byte counters of one read of a layer: stored bytes read, decompressed bytes out.
#[derive(Default)]
struct StreamCounts {
    raw: Rc<Cell<u64>>,
    plain: Rc<Cell<u64>>,
}

fn open_layer_stream(
    blob: &LayerBlob,
    opts: &WalkOptions,
    raw_hash: Option<HashSink>,
    plain_hash: Option<HashSink>,
    tripped: Rc<Cell<bool>>,
    counts: &StreamCounts,
) -> Result<(LayerStream, Compression), ImageError> {
    let raw = HashingReader {
        inner: open_location(&blob.location)?,
        hasher: raw_hash,
        count: counts.raw.clone(),
    };
    let mut buffered = BufReader::with_capacity(BLOB_BUFFER, raw);
    let head = buffered
        .fill_buf()
        .map_err(|e| layer_io_error(blob, "-", &e, false, opts))?;
    let kind = compression(head, blob);
    let decomp = match kind {
        Compression::Gzip => Decomp::Gzip(Box::new(flate2::bufread::MultiGzDecoder::new(buffered))),
        Compression::Zstd => Decomp::Zstd(
            zstd::stream::read::Decoder::with_buffer(buffered)
                .map_err(|e| layer_io_error(blob, "-", &e, false, opts))?,
        ),
        Compression::None => Decomp::Plain(buffered),
    };
    Ok((
        Limited {
            inner: HashingReader {
                inner: decomp,
                hasher: plain_hash,
                count: counts.plain.clone(),
            },
            count: 0,
            max: opts.max_layer_bytes,
            tripped,
            cancel: opts.cancel.clone(),
        },
        kind,
    ))
}

/// A forward-only stream that "seeks" by reading past bytes: lets tar skip file data
/// through [`BufRead::consume`] instead of copying it into a scratch buffer.
struct Skipping<R> {
    inner: R,
    /// Bytes passed so far, the position tar expects seeks to report.
    pos: u64,
}

impl<R: BufRead> Read for Skipping<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.pos = self.pos.saturating_add(n as u64);
        Ok(n)
    }
}

impl<R: BufRead> Seek for Skipping<R> {
    fn seek(&mut self, to: io::SeekFrom) -> io::Result<u64> {
        let target = match to {
            io::SeekFrom::Start(n) => Some(n),
            io::SeekFrom::Current(d) => self.pos.checked_add_signed(d),
            io::SeekFrom::End(_) => None,
        }
        .filter(|&n| n >= self.pos)
        .ok_or_else(|| {
            io::Error::new(io::ErrorKind::Unsupported, "layer streams only go forward")
        })?;
        while self.pos < target {
            let avail = self.inner.fill_buf()?;
            if avail.is_empty() {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "layer stream ends inside a file's data",
                ));
            }
            let step = usize::try_from(target - self.pos)
                .unwrap_or(usize::MAX)
                .min(avail.len());
            self.inner.consume(step);
            self.pos = self.pos.saturating_add(step as u64);
        }
        Ok(self.pos)
    }
}

/// Streams one layer blob, calling `on_entry` for each tar entry, then reads to the very
/// end and checks the digest — or, for a blob that carries a verified stamp still
/// matching the file, checks that the stamp is unchanged after the read instead of
/// hashing again. Returns the bytes read, inflated and hashed.
fn stream_layer(
    blob: &LayerBlob,
    pre_verified: Option<&VerifiedStamp>,
    opts: &WalkOptions,
    on_entry: &mut OnEntry<'_>,
) -> Result<LayerStats, ImageError> {
    let expected = ParsedDigest::parse(&blob.digest).map_err(|message| ImageError::Layer {
        digest: blob.digest.clone(),
        path: "-".into(),
        message,
    })?;
    // Docker archives name layers by diff id: then the digest covers the uncompressed tar.
    let hash_decompressed = blob.digest == blob.diff_id;
    // `pre_verified`: the blob cache's stamp still matches the file, so it was hashed
    // when it was downloaded.
    let hash = pre_verified.is_none();
    let tripped = Rc::new(Cell::new(false));
    let counts = StreamCounts::default();
    let (limited, kind) = open_layer_stream(
        blob,
        opts,
        (hash && !hash_decompressed).then(|| HashSink::new(Hasher::new(expected.algorithm))),
        (hash && hash_decompressed).then(|| HashSink::new(Hasher::new(expected.algorithm))),
        tripped.clone(),
        &counts,
    )?;
    // tar asks for 512-byte headers and small data reads. Serving those from a large
    // buffer keeps the decompressor, its CRC and the layer hash working on big chunks
    // (inflate's fast path needs room; SHA-256 and the hasher channel pay per call).
    // Skipping file data tar does not hand out goes through `Skipping`'s seek, which
    // consumes the buffer in place: every byte is still read (and hashed), but not copied
    // again nor preceded by tar's zeroed 32 KiB scratch buffer per entry.
    let mut archive = tar::Archive::new(Skipping {
        inner: BufReader::with_capacity(TAR_BUFFER, limited),
        pos: 0,
    });
    let entries = archive
        .entries_with_seek()
        .map_err(|e| layer_io_error(blob, "-", &e, tripped.get(), opts))?;
    let last = for_each_entry(entries, blob, opts, &tripped, on_entry)?;
    // Read the rest (end-of-archive blocks, padding, compression trailer) so the digest
    // covers every byte of the blob.
    let mut rest = archive.into_inner().inner;
    io::copy(&mut rest, &mut io::sink())
        .map_err(|e| layer_io_error(blob, &last, &e, tripped.get(), opts))?;
    // At end of stream the buffer is empty, so unwrapping it drops nothing.
    let limited = rest.into_inner();
    let decompressed_hasher = limited.inner.hasher;
    let mut buffered = limited.inner.inner.into_inner();
    io::copy(&mut buffered, &mut io::sink())
        .map_err(|e| layer_io_error(blob, &last, &e, false, opts))?;
    let raw_hasher = buffered.into_inner().hasher;
    let mut stats = LayerStats {
        read: counts.raw.get(),
        inflated: if kind == Compression::None {
            0
        } else {
            counts.plain.get()
        },
        passes: 1,
        ..LayerStats::default()
    };
    match decompressed_hasher.or(raw_hasher).map(HashSink::finish) {
        Some((actual, hashed)) => {
            stats.hashed = hashed;
            if actual != expected.to_string() {
                return Err(ImageError::DigestMismatch {
                    what: format!("layer blob {}", blob.digest),
                    expected: blob.digest.clone(),
                    actual,
                });
            }
        }
        None => {
            if pre_verified != Some(&blob_stamp(blob)?) {
                return Err(ImageError::Layer {
                    digest: blob.digest.clone(),
                    path: "-".into(),
                    message: "layer blob changed on disk during the scan".into(),
                });
            }
        }
    }
    Ok(stats)
}

/// The on-disk stamp of the file holding a blob (the archive, for a tar member): if it
/// changed, the file was written to.
fn blob_stamp(blob: &LayerBlob) -> Result<VerifiedStamp, ImageError> {
    let path = match &blob.location {
        crate::BlobLocation::File(p) => p,
        crate::BlobLocation::TarMember { archive, .. } => archive,
    };
    VerifiedStamp::of_path(path).map_err(|source| ImageError::Io {
        path: path.display().to_string(),
        source,
    })
}

/// A byte range of a file, seekable within the range (an uncompressed layer in place).
struct Region {
    file: File,
    start: u64,
    len: u64,
    pos: u64,
    /// Bytes actually read (seeks skip without reading).
    read: u64,
}

impl Read for Region {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.len.saturating_sub(self.pos);
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let Some(buf) = buf.get_mut(..want) else {
            return Ok(0);
        };
        if buf.is_empty() {
            return Ok(0);
        }
        let n = self.file.read(buf)?;
        self.pos = self.pos.saturating_add(n as u64);
        self.read = self.read.saturating_add(n as u64);
        Ok(n)
    }
}

impl Seek for Region {
    fn seek(&mut self, to: io::SeekFrom) -> io::Result<u64> {
        let target = match to {
            io::SeekFrom::Start(n) => Some(n),
            io::SeekFrom::Current(d) => self.pos.checked_add_signed(d),
            io::SeekFrom::End(d) => self.len.checked_add_signed(d),
        }
        .filter(|&n| n <= self.len)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek outside the layer"))?;
        self.file
            .seek(io::SeekFrom::Start(self.start.saturating_add(target)))?;
        self.pos = target;
        Ok(target)
    }
}

/// Reads an already verified layer again, for the entries `on_entry` still wants, and
/// stops as soon as it says [`Flow::Done`]. The first read checked every byte against the
/// digest; instead of hashing again, the blob's [`BlobStamp`] must be unchanged before and
/// after this read. An uncompressed layer is read in place, seeking past file data.
fn revisit_layer(
    blob: &LayerBlob,
    stamp: &VerifiedStamp,
    opts: &WalkOptions,
    on_entry: &mut OnEntry<'_>,
) -> Result<LayerStats, ImageError> {
    let changed = || ImageError::Layer {
        digest: blob.digest.clone(),
        path: "-".into(),
        message: "layer blob changed on disk during the scan".into(),
    };
    if blob_stamp(blob)? != *stamp {
        return Err(changed());
    }
    let tripped = Rc::new(Cell::new(false));
    let mut stats = LayerStats {
        revisits: 1,
        ..LayerStats::default()
    };
    if is_plain_layer(blob, opts)? {
        let (path, start, len) = match &blob.location {
            crate::BlobLocation::File(p) => (p, 0, stamp.len()),
            crate::BlobLocation::TarMember {
                archive,
                offset,
                len,
            } => (archive, *offset, *len),
        };
        let io_err = |source| ImageError::Io {
            path: path.display().to_string(),
            source,
        };
        let mut file = File::open(path).map_err(io_err)?;
        file.seek(io::SeekFrom::Start(start)).map_err(io_err)?;
        let region = Region {
            file,
            start,
            len,
            pos: 0,
            read: 0,
        };
        // No big buffer here: every seek would throw it away.
        let mut archive = tar::Archive::new(region);
        let entries = archive
            .entries_with_seek()
            .map_err(|e| layer_io_error(blob, "-", &e, false, opts))?;
        for_each_entry(entries, blob, opts, &tripped, on_entry)?;
        // Plain layers are read in place: 4 bytes to sniff, then what tar read.
        stats.revisit_read = archive.into_inner().read.saturating_add(4);
    } else {
        let counts = StreamCounts::default();
        let (mut stream, _) = open_layer_stream(blob, opts, None, None, tripped.clone(), &counts)?;
        let mut archive = tar::Archive::new(Skipping {
            inner: BufReader::with_capacity(TAR_BUFFER, &mut stream),
            pos: 0,
        });
        let entries = archive
            .entries_with_seek()
            .map_err(|e| layer_io_error(blob, "-", &e, tripped.get(), opts))?;
        for_each_entry(entries, blob, opts, &tripped, on_entry)?;
        drop(archive);
        stats.revisit_read = counts.raw.get();
        stats.revisit_inflated = counts.plain.get();
    }
    if blob_stamp(blob)? != *stamp {
        return Err(changed());
    }
    Ok(stats)
}

/// A failure to write a spool file (disk full, quota, permissions): the layer is fine,
/// our side is not, and the message must say so rather than blame the image.
#[derive(Debug)]
struct SpoolError {
    dir: PathBuf,
    size: u64,
    source: io::Error,
}

impl std::fmt::Display for SpoolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "cannot spool a {}-byte file to {} (the layer itself is fine): {}",
            self.size,
            self.dir.display(),
            self.source
        )
    }
}

impl std::error::Error for SpoolError {}

fn spool_error(dir: &Path, size: u64, source: io::Error) -> io::Error {
    io::Error::new(
        source.kind(),
        SpoolError {
            dir: dir.to_path_buf(),
            size,
            source,
        },
    )
}

/// Copies `r` into the spool file `w`, telling read errors (the layer stream) from write
/// errors (the spool directory) apart, which `io::copy` does not.
fn spool_copy(r: &mut dyn Read, w: &mut dyn Write, dir: &Path, size: u64) -> io::Result<u64> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let chunk = buf.get(..n).unwrap_or_default();
        w.write_all(chunk).map_err(|e| spool_error(dir, size, e))?;
        total += n as u64;
    }
    w.flush().map_err(|e| spool_error(dir, size, e))?;
    Ok(total)
}

/// A file's content, in memory or spooled, ready to be re-read.
enum Content {
    Memory(Cursor<Vec<u8>>),
    Spooled(File),
}

impl Content {
    fn load(r: &mut dyn Read, size: u64, opts: &WalkOptions) -> io::Result<Content> {
        let short = |n: u64| {
            io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("file data truncated: {n} of {size} bytes"),
            )
        };
        if size <= opts.spool_threshold {
            // The header's size is not trusted for the allocation; the data read is.
            let mut buf = Vec::with_capacity(size.min(1 << 20) as usize);
            r.take(size).read_to_end(&mut buf)?;
            if (buf.len() as u64) < size {
                return Err(short(buf.len() as u64));
            }
            Ok(Content::Memory(Cursor::new(buf)))
        } else {
            let dir = opts.spool_dir.clone().unwrap_or_else(std::env::temp_dir);
            let mut f = tempfile::tempfile_in(&dir).map_err(|e| spool_error(&dir, size, e))?;
            let n = spool_copy(&mut r.take(size), &mut f, &dir, size)?;
            if n < size {
                return Err(short(n));
            }
            Ok(Content::Spooled(f))
        }
    }

    fn reader(&mut self) -> io::Result<&mut dyn ReadSeek> {
        match self {
            Content::Memory(c) => {
                c.rewind()?;
                Ok(c)
            }
            Content::Spooled(f) => {
                f.rewind()?;
                Ok(f)
            }
        }
    }
}

fn too_big_warning(path: &str, layer: &str, size: u64, opts: &WalkOptions) -> Warning {
    Warning {
        path: Some(path.to_string()),
        layer: (!layer.is_empty()).then(|| layer.to_string()),
        message: format!(
            "file of {size} bytes exceeds max_file_bytes ({}); skipped",
            opts.max_file_bytes
        ),
    }
}

/// A wanted link found in the first pass.
struct WantedLink {
    layer: usize,
    path: String,
    hard: bool,
}

/// A layer's tables, its wanted links and its warnings.
/// A first pass: the layer's tables and visits, its wanted links and its skipped files.
type FirstPass<O> = (LayerWalk<O>, Vec<WantedLink>, Vec<Warning>);
/// Link visits made by a second pass, its warnings and its byte counts.
type SecondPass<O> = (
    Vec<(usize, String, O)>,
    Vec<Warning>,
    Vec<Warning>,
    LayerStats,
);

/// First pass over one layer: tables, whiteouts and visits of wanted regular files.
fn first_pass<V: Visitor>(
    index: usize,
    blob: &LayerBlob,
    v: &V,
    opts: &WalkOptions,
    cache: Option<&dyn LayerCache<V::Output>>,
) -> Result<FirstPass<V::Output>, ImageError> {
    let mut lw = LayerWalk::new(index, blob.digest.clone(), blob.diff_id.clone());
    // Taken before the first byte is read: a later revisit must find the blob unchanged,
    // and a verified stamp (the blob cache's, or one a cached walk recorded) is trusted
    // only while it equals this one.
    let stamp = blob_stamp(blob)?;
    let pre_verified = blob.verified.as_ref() == Some(&stamp)
        || cache.is_some_and(|c| c.is_verified(blob, &stamp));
    if let Some(cache) = cache {
        if let Some(record) = cache.load_layer(&blob.digest) {
            // The record is keyed by the digest: use it only for bytes known to match it.
            let stats = if pre_verified {
                LayerStats {
                    cache: CacheUse::Hit,
                    ..LayerStats::default()
                }
            } else {
                let stats = verify_blob(blob, opts)?;
                cache.record_verified(blob, &stamp);
                LayerStats {
                    cache: CacheUse::HitHashed,
                    ..stats
                }
            };
            return Ok(from_record(index, blob, record, stamp, stats));
        }
    }
    let keep_paths = cache.is_some();
    let mut nondir_paths: Vec<String> = Vec::new();
    let mut dir_paths: Vec<String> = Vec::new();
    let mut links = Vec::new();
    let mut skipped = Vec::new();
    let checked = pre_verified.then_some(&stamp);
    let stats = stream_layer(blob, checked, opts, &mut |e, data| {
        if e.path.is_empty() {
            return Ok(Flow::Next);
        }
        if e.kind.is_dir() {
            lw.dirs.push(path_hash(e.path));
            if keep_paths {
                dir_paths.push(e.path.to_string());
            }
            return Ok(Flow::Next);
        }
        let (parent, name) = match e.path.rsplit_once('/') {
            Some((p, n)) => (Some(p), n),
            None => (None, e.path),
        };
        if let Some(target) = name.strip_prefix(".wh.") {
            if target == ".wh..opq" {
                lw.opaque_dirs.insert(parent.unwrap_or("").to_string());
            } else if !target.starts_with(".wh.") && !target.is_empty() {
                lw.whiteouts.insert(join_parent(parent, target));
            }
            return Ok(Flow::Next);
        }
        match e.kind {
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
                lw.nondir.push(path_hash(e.path));
                if keep_paths {
                    nondir_paths.push(e.path.to_string());
                }
                let mode = e.mode | S_IFREG;
                if v.wants(e.path, e.size, mode) {
                    if e.size > opts.max_file_bytes {
                        skipped.push(too_big_warning(e.path, &blob.digest, e.size, opts));
                        return Ok(Flow::Next);
                    }
                    let mut content = Content::load(data, e.size, opts)?;
                    let out = v.visit(FileEntry {
                        path: e.path,
                        size: e.size,
                        mode,
                        via_link: false,
                        reader: content.reader()?,
                        spool_dir: opts.spool_dir.as_deref(),
                    });
                    if v.keep(&out) {
                        lw.files.push((e.path.to_string(), out));
                    }
                }
            }
            tar::EntryType::Symlink => {
                lw.nondir.push(path_hash(e.path));
                if keep_paths {
                    nondir_paths.push(e.path.to_string());
                }
                let target = e.link.unwrap_or("").to_string();
                lw.symlinks.insert(e.path.to_string(), target);
                if v.wants(e.path, 0, e.mode | S_IFLNK) {
                    links.push(WantedLink {
                        layer: index,
                        path: e.path.to_string(),
                        hard: false,
                    });
                }
            }
            tar::EntryType::Link => {
                lw.nondir.push(path_hash(e.path));
                if keep_paths {
                    nondir_paths.push(e.path.to_string());
                }
                lw.hardlinks
                    .insert(e.path.to_string(), clamp_path(e.link.unwrap_or("")));
                if v.wants(e.path, 0, e.mode | S_IFREG) {
                    links.push(WantedLink {
                        layer: index,
                        path: e.path.to_string(),
                        hard: true,
                    });
                }
            }
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
                lw.nondir.push(path_hash(e.path));
                if keep_paths {
                    nondir_paths.push(e.path.to_string());
                }
            }
            // Extension headers and unknown types carry no file of their own.
            _ => {}
        }
        Ok(Flow::Next)
    })?;
    lw.stats = stats;
    lw.stamp = Some(stamp.clone());
    if let Some(cache) = cache {
        if !pre_verified {
            // stream_layer hashed the blob and found it right.
            cache.record_verified(blob, &stamp);
        }
        nondir_paths.sort_unstable();
        nondir_paths.dedup();
        dir_paths.sort_unstable();
        dir_paths.dedup();
        let record = LayerRecord {
            files: std::mem::take(&mut lw.files),
            whiteouts: lw.whiteouts.clone(),
            opaque_dirs: lw.opaque_dirs.clone(),
            symlinks: lw
                .symlinks
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            hardlinks: lw
                .hardlinks
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            nondir: nondir_paths,
            dirs: dir_paths,
            links: links
                .iter()
                .map(|l: &WantedLink| (l.path.clone(), l.hard))
                .collect(),
            skipped: skipped.clone(),
        };
        cache.store_layer(&blob.digest, &record);
        lw.files = record.files;
        lw.stats.cache = CacheUse::Miss;
    }
    lw.nondir.sort_unstable();
    lw.nondir.dedup();
    lw.dirs.sort_unstable();
    lw.dirs.dedup();
    lw.nondir.shrink_to_fit();
    lw.dirs.shrink_to_fit();
    Ok((lw, links, skipped))
}

/// A layer's first-pass result rebuilt from a cached record: the path tables are hashed
/// with this process's keys, the links are re-indexed to this image's layer position.
fn from_record<O>(
    index: usize,
    blob: &LayerBlob,
    record: LayerRecord<O>,
    stamp: VerifiedStamp,
    stats: LayerStats,
) -> FirstPass<O> {
    let mut lw = LayerWalk::new(index, blob.digest.clone(), blob.diff_id.clone());
    lw.files = record.files;
    lw.whiteouts = record.whiteouts;
    lw.opaque_dirs = record.opaque_dirs;
    lw.symlinks = record.symlinks.into_iter().collect();
    lw.hardlinks = record.hardlinks.into_iter().collect();
    lw.nondir = record.nondir.iter().map(|p| path_hash(p)).collect();
    lw.nondir.sort_unstable();
    lw.nondir.dedup();
    lw.dirs = record.dirs.iter().map(|p| path_hash(p)).collect();
    lw.dirs.sort_unstable();
    lw.dirs.dedup();
    lw.stamp = Some(stamp);
    lw.stats = stats;
    let links = record
        .links
        .into_iter()
        .map(|(path, hard)| WantedLink {
            layer: index,
            path,
            hard,
        })
        .collect();
    (lw, links, record.skipped)
}

/// Checks a layer blob against its digest without parsing it (a cache hit on a blob that
/// carries no verified stamp yet): the stored bytes are hashed, or — when the digest
/// covers the uncompressed tar, as in docker archives — the decompressed stream.
fn verify_blob(blob: &LayerBlob, opts: &WalkOptions) -> Result<LayerStats, ImageError> {
    if blob.digest == blob.diff_id {
        return stream_layer(blob, None, opts, &mut |_, _| Ok(Flow::Next));
    }
    let expected = ParsedDigest::parse(&blob.digest).map_err(|message| ImageError::Layer {
        digest: blob.digest.clone(),
        path: "-".into(),
        message,
    })?;
    let count = Rc::new(Cell::new(0u64));
    let mut r = HashingReader {
        inner: open_location(&blob.location)?,
        hasher: Some(HashSink::new(Hasher::new(expected.algorithm))),
        count: count.clone(),
    };
    let mut buf = vec![0u8; BLOB_BUFFER];
    loop {
        opts.cancel.check()?;
        let n = r
            .read(&mut buf)
            .map_err(|e| layer_io_error(blob, "-", &e, false, opts))?;
        if n == 0 {
            break;
        }
    }
    let (actual, hashed) = match r.hasher.take() {
        Some(h) => h.finish(),
        None => (String::new(), 0),
    };
    if actual != expected.to_string() {
        return Err(ImageError::DigestMismatch {
            what: format!("layer blob {}", blob.digest),
            expected: blob.digest.clone(),
            actual,
        });
    }
    Ok(LayerStats {
        read: count.get(),
        hashed,
        passes: 1,
        ..LayerStats::default()
    })
}

/// A resolved link to visit: the link's own path and the layer holding the link.
struct LinkVisit {
    link_path: String,
    link_layer: usize,
}

/// Second pass over one layer: visits the link targets it holds, under the links' paths.
fn second_pass<V: Visitor>(
    blob: &LayerBlob,
    stamp: &VerifiedStamp,
    v: &V,
    opts: &WalkOptions,
    mut targets: HashMap<String, Vec<LinkVisit>>,
) -> Result<SecondPass<V::Output>, ImageError> {
    let mut files = Vec::new();
    let mut warnings = Vec::new();
    let mut skipped = Vec::new();
    let stats = revisit_layer(blob, stamp, opts, &mut |e, data| {
        if !matches!(
            e.kind,
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse
        ) {
            return Ok(Flow::Next);
        }
        let Some(visits) = targets.remove(e.path) else {
            return Ok(Flow::Next);
        };
        if e.size > opts.max_file_bytes {
            for l in &visits {
                skipped.push(too_big_warning(&l.link_path, &blob.digest, e.size, opts));
            }
            return Ok(Flow::Next);
        }
        let mut content = Content::load(data, e.size, opts)?;
        for l in visits {
            // The mode is the target's: what is read is the target file.
            let out = v.visit(FileEntry {
                path: &l.link_path,
                size: e.size,
                mode: e.mode | S_IFREG,
                via_link: true,
                reader: content.reader()?,
                spool_dir: opts.spool_dir.as_deref(),
            });
            if v.keep(&out) {
                files.push((l.link_layer, l.link_path, out));
            }
        }
        Ok(if targets.is_empty() {
            Flow::Done
        } else {
            Flow::Next
        })
    })?;
    for (target, visits) in targets {
        for l in visits {
            warnings.push(Warning {
                path: Some(l.link_path),
                layer: Some(blob.digest.clone()),
                message: format!("link target {target} is not a regular file"),
            });
        }
    }
    Ok((files, warnings, skipped, stats))
}

/// [`second_pass`] through the cache: the requests (target path, link path, digest of
/// the layer holding the link) are put in one canonical order and hashed; a record for
/// that hash in this layer is reused, else the layer is revisited and its visits stored.
/// Either way the visits come out in the canonical order, so a warm and a cold walk give
/// the same result.
fn second_pass_cached<V: Visitor>(
    blob: &LayerBlob,
    stamp: &VerifiedStamp,
    v: &V,
    opts: &WalkOptions,
    targets: HashMap<String, Vec<LinkVisit>>,
    digests: &[String],
    cache: &dyn LayerCache<V::Output>,
) -> Result<SecondPass<V::Output>, ImageError> {
    let layer_digest = |i: usize| digests.get(i).map(String::as_str).unwrap_or("");
    let mut requests: Vec<(String, String, usize)> = targets
        .iter()
        .flat_map(|(t, visits)| {
            visits
                .iter()
                .map(move |l| (t.clone(), l.link_path.clone(), l.link_layer))
        })
        .collect();
    requests.sort_by(|a, b| {
        (a.0.as_str(), a.1.as_str(), layer_digest(a.2), a.2).cmp(&(
            b.0.as_str(),
            b.1.as_str(),
            layer_digest(b.2),
            b.2,
        ))
    });
    let mut key = Hasher::new(crate::digest::Algorithm::Sha256);
    for (t, l, layer) in &requests {
        for part in [t.as_str(), l.as_str(), layer_digest(*layer)] {
            key.update(part.as_bytes());
            key.update(b"\0");
        }
        key.update(b"\n");
    }
    let key = key.finish();
    let key = key.strip_prefix("sha256:").unwrap_or(&key).to_string();
    if let Some(rec) = cache
        .load_links(&blob.digest, &key)
        .filter(|r| r.visits.len() == requests.len())
    {
        let files = requests
            .into_iter()
            .zip(rec.visits)
            .filter_map(|((_, link_path, layer), out)| out.map(|o| (layer, link_path, o)))
            .collect();
        return Ok((files, rec.warnings, rec.skipped, LayerStats::default()));
    }
    let (files, warnings, skipped, stats) = second_pass(blob, stamp, v, opts, targets)?;
    let mut by_link: HashMap<(usize, String), V::Output> = files
        .into_iter()
        .map(|(layer, path, o)| ((layer, path), o))
        .collect();
    let record = LinkRecord {
        visits: requests
            .iter()
            .map(|(_, l, layer)| by_link.remove(&(*layer, l.clone())))
            .collect(),
        warnings,
        skipped,
    };
    cache.store_links(&blob.digest, &key, &record);
    let files = requests
        .into_iter()
        .zip(record.visits)
        .filter_map(|((_, link_path, layer), out)| out.map(|o| (layer, link_path, o)))
        .collect();
    Ok((files, record.warnings, record.skipped, stats))
}

// ---------------------------------------------------------------------------------------
// Link resolution

/// What a path is in the view links are resolved against.
enum Node {
    Symlink(String),
    HardLink(String),
    /// A regular file, in the given layer.
    File(usize),
    Dir,
    /// A device, FIFO or socket: never read.
    Special,
    Missing,
}

/// Why a link could not be resolved.
enum Unresolved {
    Loop,
    Missing(String),
    NotFile(String),
}

trait Lookup {
    fn lookup(&self, path: &str, top: usize) -> Node;
}

struct LayerLookup<'a, O>(&'a [LayerWalk<O>]);

impl<O> Lookup for LayerLookup<'_, O> {
    fn lookup(&self, path: &str, top: usize) -> Node {
        for l in self.0.iter().take(top.saturating_add(1)).rev() {
            if let Some(t) = l.symlinks.get(path) {
                return Node::Symlink(t.clone());
            }
            if let Some(t) = l.hardlinks.get(path) {
                return Node::HardLink(t.clone());
            }
            if l.has_nondir(path) {
                return Node::File(l.index);
            }
            if l.has_dir(path) {
                return Node::Dir;
            }
            if l.hides(path) {
                return Node::Missing;
            }
        }
        Node::Missing
    }
}

struct DirLookup<'a>(&'a Path);

impl Lookup for DirLookup<'_> {
    fn lookup(&self, path: &str, _top: usize) -> Node {
        let full = self.0.join(path);
        let Ok(md) = std::fs::symlink_metadata(&full) else {
            return Node::Missing;
        };
        let ft = md.file_type();
        if ft.is_symlink() {
            match std::fs::read_link(&full) {
                Ok(t) => Node::Symlink(t.to_string_lossy().into_owned()),
                Err(_) => Node::Missing,
            }
        } else if ft.is_file() {
            Node::File(0)
        } else if ft.is_dir() {
            Node::Dir
        } else {
            Node::Special
        }
    }
}

fn components(p: &str) -> impl Iterator<Item = String> + '_ {
    p.split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .map(str::to_string)
}

/// Resolves a link inside the root: `..` past the root stays at the root, symlinks
/// along the way are followed (at most [`MAX_LINK_HOPS`]). Returns the final path and the
/// layer holding it.
fn resolve_link(
    lk: &dyn Lookup,
    link_path: &str,
    target: &str,
    hard: bool,
    top: usize,
) -> Result<(String, usize), Unresolved> {
    let mut resolved: Vec<String> = Vec::new();
    if !hard && !target.starts_with('/') {
        resolved.extend(components(link_path));
        resolved.pop();
    }
    let mut pending: VecDeque<String> = components(target).collect();
    let mut hops = 1usize;
    while let Some(c) = pending.pop_front() {
        if c == ".." {
            resolved.pop();
            continue;
        }
        let cand = if resolved.is_empty() {
            c.clone()
        } else {
            format!("{}/{c}", resolved.join("/"))
        };
        let last = pending.is_empty();
        match lk.lookup(&cand, top) {
            Node::Symlink(t) => {
                hops += 1;
                if hops > MAX_LINK_HOPS {
                    return Err(Unresolved::Loop);
                }
                if t.starts_with('/') {
                    resolved.clear();
                }
                for comp in components(&t).collect::<Vec<_>>().into_iter().rev() {
                    pending.push_front(comp);
                }
            }
            Node::HardLink(t) if last => {
                hops += 1;
                if hops > MAX_LINK_HOPS {
                    return Err(Unresolved::Loop);
                }
                resolved.clear();
                pending.extend(components(&t));
            }
            Node::File(layer) if last => return Ok((cand, layer)),
            Node::Dir => resolved.push(c),
            // Tars often omit directory entries: an unknown intermediate is a directory.
            Node::Missing if !last => resolved.push(c),
            Node::Missing => return Err(Unresolved::Missing(cand)),
            Node::Special | Node::HardLink(_) | Node::File(_) => {
                return Err(Unresolved::NotFile(cand))
            }
        }
    }
    Err(Unresolved::NotFile(resolved.join("/")))
}

fn unresolved_warning(link: &str, layer: Option<&str>, why: Unresolved) -> Warning {
    let message = match why {
        Unresolved::Loop => format!("symlink loop (more than {MAX_LINK_HOPS} hops); skipped"),
        Unresolved::Missing(p) => format!("link target {p} does not exist; skipped"),
        Unresolved::NotFile(p) => format!("link target {p} is not a regular file; skipped"),
    };
    Warning {
        path: Some(link.to_string()),
        layer: layer.filter(|l| !l.is_empty()).map(str::to_string),
        message,
    }
}

// ---------------------------------------------------------------------------------------
// Entry points

/// Walks a target, handing wanted files to `v`. See the module docs.
pub fn walk<V: Visitor>(
    target: &Target,
    v: &V,
    opts: &WalkOptions,
) -> Result<Walk<V::Output>, ImageError> {
    walk_cached(target, v, opts, None)
}

/// [`walk`] with a layer-result cache: an image layer whose verified digest has a record
/// in `cache` is not parsed (nor read, when its stamp is verified), and link-target
/// visits already made for the same requests are reused. The caller's cache must key
/// its records by everything that changes the visitor's output (see [`LayerCache`]).
pub fn walk_cached<V: Visitor>(
    target: &Target,
    v: &V,
    opts: &WalkOptions,
    cache: Option<&dyn LayerCache<V::Output>>,
) -> Result<Walk<V::Output>, ImageError> {
    opts.cancel.check()?;
    let run = || match target {
        Target::Image(image) => walk_layers(&image.layers, v, opts, cache),
        Target::Dir(root) => walk_dir(root, v, opts),
        Target::File(path) => walk_file(path, v, opts),
    };
    match &opts.pool {
        Some(pool) => pool.install(run),
        None => rayon::ThreadPoolBuilder::new()
            .num_threads(opts.threads)
            .build()
            .map_err(|e| ImageError::Format {
                what: "walker thread pool".into(),
                message: e.to_string(),
            })?
            .install(run),
    }
}

fn walk_layers<V: Visitor>(
    blobs: &[LayerBlob],
    v: &V,
    opts: &WalkOptions,
    cache: Option<&dyn LayerCache<V::Output>>,
) -> Result<Walk<V::Output>, ImageError> {
    let firsts = first_passes(blobs, v, opts, cache)?;
    let mut layers = Vec::with_capacity(firsts.len());
    let mut links = Vec::new();
    let mut warnings = Vec::new();
    let mut skipped = Vec::new();
    for (lw, l, s) in firsts {
        layers.push(lw);
        links.extend(l);
        skipped.extend(s);
    }
    // Resolve wanted links against the merged tables, grouped by the layer to re-read.
    let top = layers.len().saturating_sub(1);
    let mut per_layer: HashMap<usize, HashMap<String, Vec<LinkVisit>>> = HashMap::new();
    {
        let lk = LayerLookup(&layers);
        for l in links {
            let Some(lw) = layers.get(l.layer) else {
                continue;
            };
            let target = if l.hard {
                lw.hardlinks.get(&l.path)
            } else {
                lw.symlinks.get(&l.path)
            };
            let target = target.cloned().unwrap_or_default();
            let limit = if l.hard { l.layer } else { top };
            match resolve_link(&lk, &l.path, &target, l.hard, limit) {
                Ok((path, layer)) => per_layer
                    .entry(layer)
                    .or_default()
                    .entry(path)
                    .or_default()
                    .push(LinkVisit {
                        link_path: l.path,
                        link_layer: l.layer,
                    }),
                Err(why) => warnings.push(unresolved_warning(&l.path, Some(&lw.digest), why)),
            }
        }
    }
    let mut jobs: Vec<_> = per_layer
        .into_iter()
        .filter_map(|(i, targets)| {
            let stamp = layers.get(i).and_then(|l| l.stamp.clone())?;
            blobs.get(i).map(|b| (i, b, stamp, targets))
        })
        .collect();
    jobs.sort_by_key(|(i, ..)| *i);
    let digests: Vec<String> = layers.iter().map(|l| l.digest.clone()).collect();
    let seconds: Vec<_> = jobs
        .into_par_iter()
        .map(|(i, b, stamp, targets)| {
            opts.cancel.check()?;
            match cache {
                Some(c) => second_pass_cached(b, &stamp, v, opts, targets, &digests, c),
                None => second_pass(b, &stamp, v, opts, targets),
            }
            .map(|r| (i, r))
        })
        .collect::<Result<_, _>>()?;
    for (i, (files, w, s, stats)) in seconds {
        if let Some(lw) = layers.get_mut(i) {
            lw.stats.revisit_read += stats.revisit_read;
            lw.stats.revisit_inflated += stats.revisit_inflated;
            lw.stats.revisits += stats.revisits;
        }
        warnings.extend(w);
        skipped.extend(s);
        for (layer, link_path, out) in files {
            // The output belongs to the layer that holds the link, not the target.
            if let Some(lw) = layers.get_mut(layer) {
                lw.files.push((link_path, out));
            }
        }
    }
    Ok(Walk {
        layers,
        warnings,
        skipped,
    })
}

/// A layer's first-pass result, once a worker has produced it.
type Slot<O> = Option<Result<FirstPass<O>, ImageError>>;

/// Runs the first pass over every layer on the current pool's workers (the walk runs
/// inside the engine's shared pool, or its own), biggest blob first:
/// one huge layer is the critical path (its hash cannot be split), so it must start at
/// once rather than after the small ones a fixed split happened to put before it.
fn first_passes<V: Visitor>(
    blobs: &[LayerBlob],
    v: &V,
    opts: &WalkOptions,
    cache: Option<&dyn LayerCache<V::Output>>,
) -> Result<Vec<FirstPass<V::Output>>, ImageError> {
    let mut order: Vec<usize> = (0..blobs.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(blobs.get(i).map_or(0, |b| b.size)));
    let queue = Mutex::new(order.into_iter());
    let results: Mutex<Vec<Slot<V::Output>>> = Mutex::new((0..blobs.len()).map(|_| None).collect());
    let failed = std::sync::atomic::AtomicBool::new(false);
    let workers = rayon::current_num_threads().clamp(1, blobs.len().max(1));
    let worker = || loop {
        if failed.load(std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        let next = queue.lock().ok().and_then(|mut q| q.next());
        let Some(i) = next else { return };
        let Some(blob) = blobs.get(i) else { continue };
        let r = opts
            .cancel
            .check()
            .and_then(|()| first_pass(i, blob, v, opts, cache));
        if r.is_err() {
            failed.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        if let Ok(mut res) = results.lock() {
            if let Some(slot) = res.get_mut(i) {
                *slot = Some(r);
            }
        }
    };
    rayon::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|_| worker());
        }
    });
    // A cancelled or expired walk says so, whatever error a layer hit on the way out.
    opts.cancel.check()?;
    let results = results.into_inner().map_err(|_| ImageError::Format {
        what: "layer walker".into(),
        message: "a worker thread panicked".into(),
    })?;
    // The first error in layer order, so the message does not depend on timing.
    let mut out = Vec::with_capacity(results.len());
    for (i, r) in results.into_iter().enumerate() {
        match r {
            Some(r) => out.push(r?),
            None if failed.load(std::sync::atomic::Ordering::Relaxed) => continue,
            None => {
                return Err(ImageError::Format {
                    what: "layer walker".into(),
                    message: format!("layer {i} was not walked"),
                })
            }
        }
    }
    if failed.load(std::sync::atomic::Ordering::Relaxed) {
        return Err(ImageError::Format {
            what: "layer walker".into(),
            message: "a layer failed without an error".into(),
        });
    }
    Ok(out)
}

/// Opens a regular file without following a final symlink and without blocking on a FIFO
/// swapped in since it was examined.
fn open_regular(path: &Path) -> io::Result<File> {
    let mut oo = std::fs::OpenOptions::new();
    oo.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        oo.custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW);
    }
    let f = oo.open(path)?;
    if !f.metadata()?.is_file() {
        return Err(io::Error::other("not a regular file"));
    }
    Ok(f)
}

#[cfg(unix)]
fn mode_of(md: &std::fs::Metadata) -> u32 {
    use std::os::unix::fs::MetadataExt;
    md.mode()
}

#[cfg(not(unix))]
fn mode_of(md: &std::fs::Metadata) -> u32 {
    if md.is_symlink() {
        S_IFLNK | 0o777
    } else {
        S_IFREG | 0o644
    }
}

/// Visits one regular file of a directory target by handing the open file over.
fn visit_fs_file<V: Visitor>(
    v: &V,
    full: &Path,
    rel: &str,
    via_link: bool,
    opts: &WalkOptions,
    skipped: &Mutex<Vec<Warning>>,
) -> Option<V::Output> {
    let warn = |message: String| {
        if let Ok(mut w) = skipped.lock() {
            w.push(Warning {
                path: Some(rel.to_string()),
                layer: None,
                message,
            });
        }
    };
    let mut f = match open_regular(full) {
        Ok(f) => f,
        Err(e) => {
            warn(format!("cannot open: {e}"));
            return None;
        }
    };
    let md = match f.metadata() {
        Ok(m) => m,
        Err(e) => {
            warn(format!("cannot stat: {e}"));
            return None;
        }
    };
    if md.len() > opts.max_file_bytes {
        if let Ok(mut w) = skipped.lock() {
            w.push(too_big_warning(rel, "", md.len(), opts));
        }
        return None;
    }
    Some(v.visit(FileEntry {
        path: rel,
        size: md.len(),
        mode: mode_of(&md),
        via_link,
        reader: &mut f,
        spool_dir: opts.spool_dir.as_deref(),
    }))
}

struct DirCtx<'a, V: Visitor> {
    root: &'a Path,
    v: &'a V,
    opts: &'a WalkOptions,
    files: Mutex<Vec<(String, V::Output)>>,
    links: Mutex<Vec<String>>,
    warnings: Mutex<Vec<Warning>>,
    skipped: Mutex<Vec<Warning>>,
}

fn dir_job<'s, V: Visitor>(
    scope: &rayon::Scope<'s>,
    ctx: &'s DirCtx<'s, V>,
    rel: String,
    depth: usize,
) {
    let warn = |path: &str, message: String| {
        if let Ok(mut w) = ctx.warnings.lock() {
            w.push(Warning {
                path: Some(path.to_string()),
                layer: None,
                message,
            });
        }
    };
    if ctx.opts.cancel.check().is_err() {
        // `walk_dir` reports the cancellation once the scope has drained.
        return;
    }
    if depth > MAX_DIR_DEPTH {
        warn(
            &rel,
            format!("deeper than {MAX_DIR_DEPTH} directories; skipped"),
        );
        return;
    }
    let dir = ctx.root.join(&rel);
    let rd = match std::fs::read_dir(&dir) {
        Ok(rd) => rd,
        Err(e) => {
            warn(&rel, format!("cannot read directory: {e}"));
            return;
        }
    };
    for entry in rd {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                warn(&rel, format!("cannot read directory entry: {e}"));
                continue;
            }
        };
        if ctx.opts.cancel.check().is_err() {
            return;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        let child = join_parent(Some(&rel), &name);
        let Ok(ft) = entry.file_type() else {
            continue;
        };
        if ft.is_dir() {
            scope.spawn(move |s| dir_job(s, ctx, child, depth + 1));
        } else if ft.is_file() {
            let Ok(md) = entry.metadata() else {
                continue;
            };
            if ctx.v.wants(&child, md.len(), mode_of(&md)) {
                if let Some(out) =
                    visit_fs_file(ctx.v, &entry.path(), &child, false, ctx.opts, &ctx.skipped)
                {
                    if ctx.v.keep(&out) {
                        if let Ok(mut f) = ctx.files.lock() {
                            f.push((child, out));
                        }
                    }
                }
            }
        } else if ft.is_symlink() {
            let mode = entry.metadata().map(|m| mode_of(&m)).unwrap_or(S_IFLNK);
            if ctx.v.wants(&child, 0, mode) {
                if let Ok(mut l) = ctx.links.lock() {
                    l.push(child);
                }
            }
        }
        // FIFOs, sockets and devices are never opened: reading one could hang.
    }
}

fn walk_dir<V: Visitor>(
    root: &Path,
    v: &V,
    opts: &WalkOptions,
) -> Result<Walk<V::Output>, ImageError> {
    std::fs::read_dir(root).map_err(|source| ImageError::Io {
        path: root.display().to_string(),
        source,
    })?;
    let ctx = DirCtx {
        root,
        v,
        opts,
        files: Mutex::new(Vec::new()),
        links: Mutex::new(Vec::new()),
        warnings: Mutex::new(Vec::new()),
        skipped: Mutex::new(Vec::new()),
    };
    rayon::scope(|s| dir_job(s, &ctx, String::new(), 0));
    opts.cancel.check()?;
    let mut files = ctx.files.into_inner().unwrap_or_default();
    let mut warnings = ctx.warnings.into_inner().unwrap_or_default();
    let mut skipped = ctx.skipped.into_inner().unwrap_or_default();
    let mut links = ctx.links.into_inner().unwrap_or_default();
    links.sort();
    let lk = DirLookup(root);
    let link_outputs: Vec<_> = links
        .into_par_iter()
        .map(|link| {
            let target = match std::fs::read_link(root.join(&link)) {
                Ok(t) => t.to_string_lossy().into_owned(),
                Err(e) => {
                    return Err(Warning {
                        path: Some(link),
                        layer: None,
                        message: format!("cannot read link: {e}"),
                    })
                }
            };
            let (path, _) = resolve_link(&lk, &link, &target, false, 0)
                .map_err(|why| unresolved_warning(&link, None, why))?;
            let w = Mutex::new(Vec::new());
            let out = visit_fs_file(v, &root.join(&path), &link, true, opts, &w);
            Ok((link, out, w.into_inner().unwrap_or_default()))
        })
        .collect();
    for r in link_outputs {
        match r {
            Ok((link, out, w)) => {
                skipped.extend(w);
                if let Some(out) = out.filter(|o| v.keep(o)) {
                    files.push((link, out));
                }
            }
            Err(w) => warnings.push(w),
        }
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    warnings.sort_by(|a, b| a.path.cmp(&b.path));
    skipped.sort_by(|a, b| a.path.cmp(&b.path));
    let mut lw = LayerWalk::new(0, String::new(), String::new());
    lw.files = files;
    Ok(Walk {
        layers: vec![lw],
        warnings,
        skipped,
    })
}

fn walk_file<V: Visitor>(
    path: &Path,
    v: &V,
    opts: &WalkOptions,
) -> Result<Walk<V::Output>, ImageError> {
    let md = std::fs::metadata(path).map_err(|source| ImageError::Io {
        path: path.display().to_string(),
        source,
    })?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    let mut lw = LayerWalk::new(0, String::new(), String::new());
    let skipped = Mutex::new(Vec::new());
    if v.wants(&name, md.len(), mode_of(&md)) {
        if let Some(out) = visit_fs_file(v, path, &name, false, opts, &skipped) {
            lw.files.push((name, out));
        }
    }
    Ok(Walk {
        layers: vec![lw],
        warnings: Vec::new(),
        skipped: skipped.into_inner().unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_entry_paths() {
        assert_eq!(normalise_entry_path("./a//b/./c").unwrap(), "a/b/c");
        assert_eq!(normalise_entry_path("a/../b").unwrap(), "b");
        assert!(normalise_entry_path("a/../../b").is_err());
        assert!(normalise_entry_path("/etc/passwd").is_err());
        assert_eq!(clamp_path("../../etc/x"), "etc/x");
    }

    /// A writer that fails like a full disk.
    struct Full;
    impl Write for Full {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::from_raw_os_error(28)) // ENOSPC
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn disk_full_while_spooling_is_not_a_corrupt_layer() {
        let data = vec![7u8; 100_000];
        let err = spool_copy(&mut &data[..], &mut Full, Path::new("/spool"), 100_000)
            .expect_err("the write fails");
        let blob = LayerBlob {
            digest: "sha256:ab".into(),
            diff_id: String::new(),
            media_type: None,
            size: 1,
            location: crate::BlobLocation::File(PathBuf::from("/x")),
            verified: None,
        };
        let msg =
            layer_io_error(&blob, "big.bin", &err, false, &WalkOptions::default()).to_string();
        assert!(!msg.contains("corrupt"), "{msg}");
        assert!(
            msg.contains("cannot spool a 100000-byte file to /spool"),
            "{msg}"
        );
        assert!(msg.contains("No space left on device"), "{msg}");
        assert!(msg.contains("big.bin"), "{msg}");
        // A read error is still the layer's fault.
        struct Broken;
        impl Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::new(io::ErrorKind::InvalidData, "bad gzip"))
            }
        }
        let err = spool_copy(&mut Broken, &mut Vec::new(), Path::new("/spool"), 1).unwrap_err();
        let msg = layer_io_error(&blob, "f", &err, false, &WalkOptions::default()).to_string();
        assert!(msg.contains("corrupt or truncated layer stream"), "{msg}");
    }

    #[test]
    fn ancestors_are_strict_prefixes() {
        assert_eq!(ancestors("a/b/c").collect::<Vec<_>>(), vec!["a", "a/b"]);
        assert_eq!(ancestors("a").count(), 0);
    }
}
