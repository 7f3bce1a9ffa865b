//! Resolving a target string to a [`Target`]: the containers/image transports
//! (`docker-archive:`, `oci:`, `oci-archive:`, `dir:`) and auto-detection of bare paths,
//! plus the docker-archive and OCI layout readers themselves.
//!
//! Readers only parse small documents (manifests, indexes, configs), each verified against
//! its digest; layer blobs are located, never read here — [`crate::walk`] streams them.

use crate::digest::{self, ParsedDigest};
use crate::store::{Store, MAX_DOCUMENT_BYTES};
use crate::{BlobLocation, Image, ImageError, LayerBlob, Target};
use bulwark_core::{ImageMeta, LayerMeta};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};

/// How nested OCI indexes may be.
const MAX_INDEX_DEPTH: usize = 8;
/// Most manifests considered across all indexes of one layout.
const MAX_CANDIDATES: usize = 4096;

/// Options for [`open`].
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    /// Wanted platform (`linux/arm64`, `linux/arm/v7`) for multi-platform images.
    pub platform: Option<String>,
    /// Directory for cached registry blobs (used by the registry source).
    pub cache_dir: PathBuf,
    /// How to reach registries (plain HTTP, CA file, credentials, timeouts, retries).
    pub registry: crate::registry::RegistryConfig,
    /// The daemon API socket for `docker-daemon:` targets (default sockets when unset).
    pub daemon_socket: Option<PathBuf>,
    /// Cancellation and deadline for pulls and exports.
    pub cancel: crate::Cancel,
}

/// Resolves `target` (transport-prefixed or a bare path) to something walkable.
pub fn open(target: &str, opts: &OpenOptions) -> Result<Target, ImageError> {
    let platform = opts.platform.as_deref();
    let registry = |reference: &str| {
        let mut ro = crate::registry::RegistryOptions::new(opts.cache_dir.clone());
        ro.config = opts.registry.clone();
        ro.platform = opts.platform.clone();
        ro.cancel = opts.cancel.clone();
        crate::registry::open(reference, &ro).map(Target::Image)
    };
    if let Some(reference) = target.strip_prefix("docker://") {
        return registry(reference);
    }
    if let Some(name) = target.strip_prefix("docker-daemon:") {
        // The daemon exports a docker-archive stream into the cache; it is then read
        // like any other docker-archive, so the same digest checks apply.
        let mut daemon = crate::daemon::DaemonOptions::new(opts.cache_dir.clone());
        daemon.socket.clone_from(&opts.daemon_socket);
        daemon.cancel = opts.cancel.clone();
        let exported = crate::daemon::export_pinned(name, &daemon)?;
        let mut image = docker_archive_ref(&exported.archive, None)?;
        // The archive must hold the image the name was resolved to.
        if image.meta.id != exported.id {
            return Err(ImageError::Target {
                target: target.to_string(),
                message: format!(
                    "the daemon exported image {} but {name} resolved to {}",
                    image.meta.id, exported.id
                ),
            });
        }
        if image.meta.repo_tags.is_empty() && !name.starts_with("sha256:") {
            image.meta.repo_tags.push(name.to_string());
        }
        return Ok(Target::Image(image));
    }
    if let Some(rest) = target.strip_prefix("docker-archive:") {
        let (path, reference) = split_reference(rest);
        return docker_archive_ref(&path, reference.as_deref()).map(Target::Image);
    }
    if let Some(rest) = target.strip_prefix("oci-archive:") {
        let (path, reference) = split_reference(rest);
        return oci_archive(&path, reference.as_deref(), platform).map(Target::Image);
    }
    if let Some(rest) = target.strip_prefix("oci:") {
        let (path, reference) = split_reference(rest);
        return oci_layout(&path, reference.as_deref(), platform).map(Target::Image);
    }
    if let Some(rest) = target.strip_prefix("dir:") {
        let path = PathBuf::from(rest);
        if path.join("manifest.json").is_file() && path.join("version").is_file() {
            return containers_dir(&path, platform).map(Target::Image);
        }
        if path.is_dir() {
            return Ok(Target::Dir(path));
        }
        return Err(ImageError::Target {
            target: target.to_string(),
            message: "not a directory".into(),
        });
    }
    let path = Path::new(target);
    let md = match std::fs::metadata(path) {
        Ok(md) => md,
        Err(_) if looks_like_reference(target) => return registry(target),
        Err(source) => {
            return Err(ImageError::Io {
                path: target.to_string(),
                source,
            })
        }
    };
    if md.is_dir() {
        if path.join("oci-layout").is_file() {
            return oci_layout(path, None, platform).map(Target::Image);
        }
        return Ok(Target::Dir(path.to_path_buf()));
    }
    if md.is_file() {
        if let Some(kind) = sniff_archive(path) {
            return archive_image(path, kind, platform).map(Target::Image);
        }
        return Ok(Target::File(path.to_path_buf()));
    }
    Err(ImageError::Target {
        target: target.to_string(),
        message: "neither a regular file nor a directory".into(),
    })
}

/// Splits `PATH[:REF]`: the whole string when it names an existing path, else at the
/// first `:` whose prefix exists (so `img.tar:repo:tag` keeps `repo:tag` whole).
fn split_reference(s: &str) -> (PathBuf, Option<String>) {
    if Path::new(s).exists() {
        return (PathBuf::from(s), None);
    }
    for (i, _) in s.match_indices(':') {
        let (Some(p), Some(r)) = (s.get(..i), s.get(i + 1..)) else {
            continue;
        };
        if !r.is_empty() && Path::new(p).exists() {
            return (PathBuf::from(p), Some(r.to_string()));
        }
    }
    (PathBuf::from(s), None)
}

/// Whether a non-existent path could be meant as a registry reference (`alpine:3.19`,
/// `ghcr.io/x/y@sha256:...`).
fn looks_like_reference(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('/')
        && !s.starts_with('.')
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'.' | b'/' | b':' | b'_' | b'-' | b'@')
        })
}

/// What the magic bytes and the name of a file say it is, when it is an archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveKind {
    /// A tar by its first header block.
    Tar,
    /// Named like a tar (`.tar`) but without a tar header.
    TarByName,
    /// gzip magic (`1f 8b`) or a `.gz`/`.tgz` name.
    Gzip,
    /// zstd magic (`28 b5 2f fd`) or a `.zst` name.
    Zstd,
}

/// What an image archive must be, for error messages.
const EXPECTED_ARCHIVE: &str =
    "a docker-archive or OCI archive (an uncompressed tar holding manifest.json or index.json)";

/// Sniffs a regular file: `Some` when it is (or is named like) a tar, gzip or zstd archive.
/// Such a file is read as an image or rejected; it is never scanned as a plain "file".
pub fn sniff_archive(path: &Path) -> Option<ArchiveKind> {
    let mut head = Vec::with_capacity(512);
    if let Ok(f) = std::fs::File::open(path) {
        let _ = f.take(512).read_to_end(&mut head);
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    match crate::store::compression_magic(&head) {
        Some(crate::store::Magic::Gzip) => return Some(ArchiveKind::Gzip),
        Some(crate::store::Magic::Zstd) => return Some(ArchiveKind::Zstd),
        None => {}
    }
    if is_tar_header(&head) {
        return Some(ArchiveKind::Tar);
    }
    if name.ends_with(".gz") || name.ends_with(".tgz") {
        return Some(ArchiveKind::Gzip);
    }
    if name.ends_with(".zst") || name.ends_with(".tzst") {
        return Some(ArchiveKind::Zstd);
    }
    if name.ends_with(".tar") {
        return Some(ArchiveKind::TarByName);
    }
    None
}

/// Reads an auto-detected archive as an image, or says precisely why it is not one.
fn archive_image(
    path: &Path,
    kind: ArchiveKind,
    platform: Option<&str>,
) -> Result<Image, ImageError> {
    let not_image = |problem: String| ImageError::NotAnImage {
        path: path.display().to_string(),
        expected: EXPECTED_ARCHIVE.to_string(),
        problem,
    };
    match kind {
        ArchiveKind::Gzip => {
            return Err(not_image(
                "the file is gzip-compressed; decompress it first (gunzip -k) and scan the tar"
                    .into(),
            ))
        }
        ArchiveKind::Zstd => {
            return Err(not_image(
                "the file is zstd-compressed; decompress it first (zstd -d) and scan the tar"
                    .into(),
            ))
        }
        ArchiveKind::TarByName => {
            let len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
            let problem = if len == 0 {
                "the file is empty".to_string()
            } else {
                format!("it is named like a tar but its first block is not a tar header ({len} bytes of other data)")
            };
            return Err(not_image(problem));
        }
        ArchiveKind::Tar => {}
    }
    let store = match Store::index_tar(path) {
        Ok(s) => s,
        Err(ImageError::Format { message, .. }) => return Err(not_image(message)),
        Err(e) => return Err(e),
    };
    if store.contains("manifest.json") {
        return docker_from_store(&store, path, None);
    }
    if store.contains("index.json") || store.contains("oci-layout") {
        return oci_from_store(&store, None, platform);
    }
    Err(not_image(format!(
        "it is a tar archive of {} file(s) without manifest.json (docker-archive) or index.json (OCI archive); to scan a source tree, extract it and scan the directory",
        store.member_count()
    )))
}

/// Whether a block is a tar header (ustar magic or a valid checksum).
fn is_tar_header(block: &[u8]) -> bool {
    if block.len() < 512 || block.iter().all(|b| *b == 0) {
        return false;
    }
    if block.get(257..262) == Some(b"ustar".as_slice()) {
        return true;
    }
    let Some(field) = block.get(148..156) else {
        return false;
    };
    let text = String::from_utf8_lossy(field);
    let Ok(stored) = u32::from_str_radix(text.trim_matches(|c: char| c == '\0' || c == ' '), 8)
    else {
        return false;
    };
    let sum: u32 = block
        .iter()
        .enumerate()
        .map(|(i, b)| {
            if (148..156).contains(&i) {
                32
            } else {
                u32::from(*b)
            }
        })
        .sum();
    sum == stored
}

/// Normalises a Docker reference for comparison: `docker.io/library/x:tag` and `x` both
/// become `x:tag` / `x:latest`.
fn normalise_tag(r: &str) -> String {
    let mut s = r;
    for prefix in [
        "docker.io/library/",
        "index.docker.io/library/",
        "docker.io/",
    ] {
        if let Some(rest) = s.strip_prefix(prefix) {
            s = rest;
            break;
        }
    }
    let last = s.rsplit('/').next().unwrap_or(s);
    if last.contains(':') || last.contains('@') {
        s.to_string()
    } else {
        format!("{s}:latest")
    }
}

fn format_err(what: impl Into<String>, message: impl Into<String>) -> ImageError {
    ImageError::Format {
        what: what.into(),
        message: message.into(),
    }
}

fn parse_json<T: serde::de::DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, ImageError> {
    serde_json::from_slice(bytes).map_err(|e| format_err(what, format!("invalid JSON: {e}")))
}

// ---------------------------------------------------------------------------------------
// Image config (shared by every source)

#[derive(Deserialize, Default)]
struct ConfigDoc {
    #[serde(default)]
    architecture: Option<String>,
    #[serde(default)]
    os: Option<String>,
    #[serde(default)]
    variant: Option<String>,
    #[serde(default)]
    rootfs: Option<RootFs>,
    #[serde(default)]
    history: Vec<History>,
}

#[derive(Deserialize, Default)]
struct RootFs {
    #[serde(default)]
    diff_ids: Vec<String>,
}

#[derive(Deserialize)]
struct History {
    #[serde(default)]
    created_by: Option<String>,
    #[serde(default)]
    empty_layer: bool,
}

/// What an image config tells us, parsed once.
struct ParsedConfig {
    raw: serde_json::Value,
    diff_ids: Vec<String>,
    created_by: Vec<Option<String>>,
    platform: Option<String>,
}

fn parse_config(bytes: &[u8], what: &str) -> Result<ParsedConfig, ImageError> {
    let raw: serde_json::Value = parse_json(bytes, what)?;
    let doc: ConfigDoc =
        serde_json::from_value(raw.clone()).map_err(|e| format_err(what, e.to_string()))?;
    let diff_ids = doc.rootfs.unwrap_or_default().diff_ids;
    for d in &diff_ids {
        ParsedDigest::parse(d).map_err(|m| format_err(what, format!("rootfs.diff_ids: {m}")))?;
    }
    // History entries line up with layers only after dropping the empty ones.
    let created_by = doc
        .history
        .into_iter()
        .filter(|h| !h.empty_layer)
        .map(|h| h.created_by)
        .collect();
    let platform = match (doc.os, doc.architecture) {
        (Some(os), Some(arch)) => Some(match doc.variant {
            Some(v) if !v.is_empty() => format!("{os}/{arch}/{v}"),
            _ => format!("{os}/{arch}"),
        }),
        _ => None,
    };
    Ok(ParsedConfig {
        raw,
        diff_ids,
        created_by,
        platform,
    })
}

/// Builds the [`Image`] from the parsed config and located layers.
#[allow(clippy::too_many_arguments)]
fn assemble(
    id: String,
    manifest_digest: Option<String>,
    repo_tags: Vec<String>,
    config: ParsedConfig,
    layers: Vec<LayerBlob>,
    what: &str,
    config_location: Option<BlobLocation>,
    manifest: Option<Vec<u8>>,
) -> Result<Image, ImageError> {
    if layers.len() != config.diff_ids.len() {
        return Err(format_err(
            what,
            format!(
                "manifest lists {} layers but the config has {} diff_ids",
                layers.len(),
                config.diff_ids.len()
            ),
        ));
    }
    let meta_layers = layers
        .iter()
        .enumerate()
        .map(|(i, l)| LayerMeta {
            digest: l.digest.clone(),
            diff_id: l.diff_id.clone(),
            size: l.size,
            created_by: config.created_by.get(i).cloned().flatten(),
        })
        .collect();
    Ok(Image {
        meta: ImageMeta {
            id,
            manifest_digest,
            repo_tags,
            repo_digests: Vec::new(),
            platform: config.platform,
            layers: meta_layers,
            config: Some(config.raw),
        },
        layers,
        config_location,
        manifest,
    })
}

// ---------------------------------------------------------------------------------------
// docker-archive

#[derive(Deserialize)]
struct DockerManifestEntry {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags", default)]
    repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers", default)]
    layers: Vec<String>,
    #[serde(rename = "LayerSources", default)]
    layer_sources: Option<HashMap<String, DockerLayerSource>>,
}

#[derive(Deserialize)]
struct DockerLayerSource {
    #[serde(rename = "mediaType", default)]
    media_type: Option<String>,
}

/// Reads a `docker save` / `podman save` archive holding exactly one image.
pub fn docker_archive(path: &Path) -> Result<Image, ImageError> {
    docker_archive_ref(path, None)
}

/// Reads a docker-archive, choosing the image by tag (`repo:tag`) or position (`@N`)
/// when the archive holds several.
pub fn docker_archive_ref(path: &Path, reference: Option<&str>) -> Result<Image, ImageError> {
    let store = Store::index_tar(path)?;
    docker_from_store(&store, path, reference)
}

/// A 64-hex digest taken from a member name that content-addresses its data
/// (`blobs/sha256/<hex>`, `<hex>.tar`); `None` for the classic `<v1-id>/layer.tar`.
fn digest_from_member_name(name: &str) -> Option<String> {
    let trimmed = name.trim_start_matches("./");
    if let Some(rest) = trimmed.strip_prefix("blobs/") {
        let (alg, hex) = rest.split_once('/')?;
        return ParsedDigest::parse(&format!("{alg}:{hex}"))
            .ok()
            .map(|d| d.to_string());
    }
    let stem = trimmed.strip_suffix(".tar")?;
    ParsedDigest::parse(&format!("sha256:{stem}"))
        .ok()
        .map(|d| d.to_string())
}

fn docker_from_store(
    store: &Store,
    path: &Path,
    reference: Option<&str>,
) -> Result<Image, ImageError> {
    let what = store.describe("manifest.json");
    let bytes = store
        .read_document("manifest.json")?
        .ok_or_else(|| format_err(path.display().to_string(), "no manifest.json member"))?;
    let entries: Vec<DockerManifestEntry> = parse_json(&bytes, &what)?;
    let tags_of = |e: &DockerManifestEntry| e.repo_tags.clone().unwrap_or_default();
    let listing = || {
        entries
            .iter()
            .enumerate()
            .map(|(i, e)| format!("@{i} {}", tags_of(e).join(",")))
            .collect::<Vec<_>>()
            .join("; ")
    };
    let chosen = match reference {
        Some(r) if r.starts_with('@') => {
            let i: usize = r
                .strip_prefix('@')
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| format_err(&what, format!("bad image index {r:?}")))?;
            entries.get(i)
        }
        Some(r) => {
            let want = normalise_tag(r);
            entries
                .iter()
                .find(|e| tags_of(e).iter().any(|t| normalise_tag(t) == want))
        }
        None if entries.len() == 1 => entries.first(),
        None => {
            return Err(format_err(
                &what,
                format!(
                    "{} images in the archive; choose one of: {}",
                    entries.len(),
                    listing()
                ),
            ))
        }
    };
    let entry = chosen.ok_or_else(|| {
        format_err(
            &what,
            format!(
                "no image matches {:?}; images: {}",
                reference.unwrap_or(""),
                listing()
            ),
        )
    })?;

    let config_what = store.describe(&entry.config);
    let config_bytes =
        store
            .read_document(&entry.config)?
            .ok_or_else(|| ImageError::MissingBlob {
                digest: entry.config.clone(),
                what: format!("config named by {what}"),
            })?;
    let id = match digest_from_member_name(&entry.config).or_else(|| {
        entry
            .config
            .strip_suffix(".json")
            .and_then(|s| ParsedDigest::parse(&format!("sha256:{s}")).ok())
            .map(|d| d.to_string())
    }) {
        Some(d) => {
            digest::verify_bytes(&config_bytes, &d, &config_what)?;
            d
        }
        None => digest::sha256_of(&config_bytes),
    };
    let config = parse_config(&config_bytes, &config_what)?;
    let mut layers = Vec::with_capacity(entry.layers.len());
    for (i, name) in entry.layers.iter().enumerate() {
        let (location, size) = store.locate(name).ok_or_else(|| ImageError::MissingBlob {
            digest: name.clone(),
            what: format!("layer {i} named by {what}"),
        })?;
        let diff_id = config.diff_ids.get(i).cloned().unwrap_or_default();
        // Layers in docker archives are normally the uncompressed tar, so the diff id is
        // the digest; content-addressed names win when present.
        let digest = digest_from_member_name(name).unwrap_or_else(|| diff_id.clone());
        let media_type = entry
            .layer_sources
            .as_ref()
            .and_then(|s| s.get(&diff_id))
            .and_then(|s| s.media_type.clone());
        layers.push(LayerBlob {
            digest,
            diff_id,
            media_type,
            size,
            location,
            verified: None,
        });
    }
    let config_location = store.locate(&entry.config).map(|(l, _)| l);
    assemble(
        id,
        None,
        tags_of(entry),
        config,
        layers,
        &what,
        config_location,
        None,
    )
}

// ---------------------------------------------------------------------------------------
// OCI layout / OCI archive / containers dir

const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const REF_NAME: &str = "org.opencontainers.image.ref.name";
const CONTAINERD_NAME: &str = "io.containerd.image.name";

#[derive(Deserialize, Clone)]
struct Descriptor {
    #[serde(rename = "mediaType", default)]
    media_type: Option<String>,
    digest: String,
    #[serde(default)]
    size: u64,
    #[serde(default)]
    platform: Option<PlatformDoc>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    #[serde(rename = "artifactType", default)]
    artifact_type: Option<String>,
}

/// Whether `name` is a tag that holds something attached to an image rather than an
/// image: the OCI 1.1 referrers tag schema (`sha256-<hex>`) and cosign's
/// `sha256-<hex>.sig` / `.att` / `.sbom` tags.
fn is_attachment_tag(name: &str) -> bool {
    let tag = name.rsplit(':').next().unwrap_or(name);
    let Some(rest) = tag.strip_prefix("sha256-") else {
        return false;
    };
    // `get` rather than `split_at`: the name comes from the layout's index.json, and a
    // multi-byte character across byte 64 must not panic.
    let (Some(hex), Some(suffix)) = (rest.get(..64), rest.get(64..)) else {
        return false;
    };
    hex.bytes().all(|b| b.is_ascii_hexdigit()) && (suffix.is_empty() || suffix.starts_with('.'))
}

#[derive(Deserialize, Clone)]
struct PlatformDoc {
    #[serde(default)]
    architecture: String,
    #[serde(default)]
    os: String,
    #[serde(default)]
    variant: Option<String>,
}

impl PlatformDoc {
    fn render(&self) -> String {
        match &self.variant {
            Some(v) if !v.is_empty() => format!("{}/{}/{v}", self.os, self.architecture),
            _ => format!("{}/{}", self.os, self.architecture),
        }
    }
}

#[derive(Deserialize)]
struct IndexDoc {
    #[serde(rename = "mediaType", default)]
    media_type: Option<String>,
    #[serde(default)]
    manifests: Option<Vec<Descriptor>>,
    #[serde(default)]
    config: Option<Descriptor>,
    #[serde(default)]
    layers: Option<Vec<Descriptor>>,
}

/// One image manifest reachable from `index.json`.
struct Candidate {
    desc: Descriptor,
    names: Vec<String>,
    platform: Option<String>,
}

/// Reads an OCI image layout directory. `reference` matches the
/// `org.opencontainers.image.ref.name` annotation (or a manifest digest); `platform`
/// (`linux/arm64`) picks from a multi-platform index.
pub fn oci_layout(
    dir: &Path,
    reference: Option<&str>,
    platform: Option<&str>,
) -> Result<Image, ImageError> {
    let store = Store::Dir(dir.to_path_buf());
    if !store.contains("index.json") {
        return Err(format_err(
            dir.display().to_string(),
            "not an OCI layout: no index.json",
        ));
    }
    oci_from_store(&store, reference, platform)
}

/// Reads an OCI layout packed in a tar, in place.
pub fn oci_archive(
    path: &Path,
    reference: Option<&str>,
    platform: Option<&str>,
) -> Result<Image, ImageError> {
    let store = Store::index_tar(path)?;
    if !store.contains("index.json") {
        return Err(format_err(
            path.display().to_string(),
            "not an OCI archive: no index.json member",
        ));
    }
    oci_from_store(&store, reference, platform)
}

/// Reads a blob by digest, verifying it.
fn read_blob(store: &Store, digest: &str, what: &str) -> Result<Vec<u8>, ImageError> {
    let parsed = ParsedDigest::parse(digest).map_err(|m| format_err(what, m))?;
    let rel = parsed.blob_path();
    let bytes = store
        .read_document(&rel)?
        .ok_or_else(|| ImageError::MissingBlob {
            digest: digest.to_string(),
            what: what.to_string(),
        })?;
    digest::verify_bytes(
        &bytes,
        digest,
        &format!("{what} ({})", store.describe(&rel)),
    )?;
    Ok(bytes)
}

fn collect_candidates(
    store: &Store,
    descs: &[Descriptor],
    inherited: &[String],
    depth: usize,
    out: &mut Vec<Candidate>,
) -> Result<(), ImageError> {
    if depth > MAX_INDEX_DEPTH {
        return Err(format_err(
            store.describe("index.json"),
            format!("indexes nested deeper than {MAX_INDEX_DEPTH}"),
        ));
    }
    for d in descs {
        if d.annotations
            .get("vnd.docker.reference.type")
            .map(String::as_str)
            == Some("attestation-manifest")
        {
            continue;
        }
        // Signatures, attestations and referrers lists stored next to an image are not
        // images (artifacts carry an artifactType; attachment tags name the rest).
        if d.artifact_type.is_some() {
            continue;
        }
        let mut names = inherited.to_vec();
        for key in [REF_NAME, CONTAINERD_NAME] {
            if let Some(n) = d.annotations.get(key) {
                names.push(n.clone());
            }
        }
        if names.iter().any(|n| is_attachment_tag(n)) {
            continue;
        }
        let mt = d.media_type.as_deref();
        if mt == Some(OCI_INDEX) || mt == Some(DOCKER_LIST) {
            let bytes = read_blob(store, &d.digest, "image index")?;
            let idx: IndexDoc = parse_json(&bytes, &format!("image index {}", d.digest))?;
            let children = idx.manifests.unwrap_or_default();
            collect_candidates(store, &children, &names, depth + 1, out)?;
        } else if mt.is_none() || mt == Some(OCI_MANIFEST) || mt == Some(DOCKER_MANIFEST) {
            if out.len() >= MAX_CANDIDATES {
                return Err(format_err(
                    store.describe("index.json"),
                    format!("more than {MAX_CANDIDATES} manifests"),
                ));
            }
            let platform = d.platform.as_ref().map(PlatformDoc::render);
            if platform.as_deref() == Some("unknown/unknown") {
                continue;
            }
            out.push(Candidate {
                desc: d.clone(),
                names,
                platform,
            });
        }
        // Other media types (signatures, artifacts) are not images.
    }
    Ok(())
}

/// Whether a requested `os/arch[/variant]` matches a candidate's platform.
fn platform_matches(want: &str, have: &str) -> bool {
    if want == have {
        return true;
    }
    let w: Vec<&str> = want.split('/').collect();
    let h: Vec<&str> = have.split('/').collect();
    // A request without a variant accepts any variant (arm64 images say v8).
    w.len() == 2 && h.len() == 3 && w.first() == h.first() && w.get(1) == h.get(1)
}

fn name_matches(reference: &str, name: &str) -> bool {
    reference == name
        || normalise_tag(reference) == normalise_tag(name)
        || name.ends_with(&format!(":{reference}"))
}

fn oci_from_store(
    store: &Store,
    reference: Option<&str>,
    platform: Option<&str>,
) -> Result<Image, ImageError> {
    let what = store.describe("index.json");
    let bytes = store
        .read_document("index.json")?
        .ok_or_else(|| format_err(&what, "missing"))?;
    let index: IndexDoc = parse_json(&bytes, &what)?;
    let mut candidates = Vec::new();
    collect_candidates(
        store,
        &index.manifests.unwrap_or_default(),
        &[],
        0,
        &mut candidates,
    )?;
    let describe = |cs: &[&Candidate]| {
        cs.iter()
            .map(|c| {
                format!(
                    "{} [{}] {}",
                    c.names.first().map(String::as_str).unwrap_or("(untagged)"),
                    c.platform.as_deref().unwrap_or("unknown platform"),
                    c.desc.digest
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    };
    let all: Vec<&Candidate> = candidates.iter().collect();
    if all.is_empty() {
        return Err(format_err(&what, "no image manifests"));
    }
    let by_ref: Vec<&Candidate> = match reference {
        Some(r) => all
            .iter()
            .copied()
            .filter(|c| c.desc.digest == r || c.names.iter().any(|n| name_matches(r, n)))
            .collect(),
        None => {
            let mut names: Vec<&String> = all.iter().filter_map(|c| c.names.first()).collect();
            names.sort();
            names.dedup();
            if names.len() > 1 {
                return Err(format_err(
                    &what,
                    format!("several images; choose one of: {}", describe(&all)),
                ));
            }
            all.clone()
        }
    };
    if by_ref.is_empty() {
        return Err(format_err(
            &what,
            format!(
                "no image named {:?}; images: {}",
                reference.unwrap_or(""),
                describe(&all)
            ),
        ));
    }
    let chosen: &Candidate = match platform {
        Some(p) => {
            let m: Vec<&Candidate> = by_ref
                .iter()
                .copied()
                .filter(|c| c.platform.as_deref().is_none_or(|h| platform_matches(p, h)))
                .collect();
            match m.as_slice() {
                [one] => one,
                [] => {
                    return Err(format_err(
                        &what,
                        format!(
                            "no image for platform {p}; available: {}",
                            describe(&by_ref)
                        ),
                    ))
                }
                _ => {
                    return Err(format_err(
                        &what,
                        format!("several images for platform {p}: {}", describe(&m)),
                    ))
                }
            }
        }
        None => match by_ref.as_slice() {
            [one] => one,
            _ => {
                let amd: Vec<&Candidate> = by_ref
                    .iter()
                    .copied()
                    .filter(|c| c.platform.as_deref() == Some("linux/amd64"))
                    .collect();
                match amd.as_slice() {
                    [one] => one,
                    _ => {
                        return Err(format_err(
                            &what,
                            format!(
                                "multi-platform image; choose a platform: {}",
                                describe(&by_ref)
                            ),
                        ))
                    }
                }
            }
        },
    };
    let tags = chosen.names.clone();
    image_from_manifest(store, &chosen.desc.digest, tags, |d| {
        ParsedDigest::parse(d).map(|p| p.blob_path())
    })
}

/// Reads a manifest (by digest via `blob_rel`) and its config into an [`Image`].
fn image_from_manifest(
    store: &Store,
    manifest_digest: &str,
    repo_tags: Vec<String>,
    blob_rel: impl Fn(&str) -> Result<String, String>,
) -> Result<Image, ImageError> {
    let mwhat = format!("manifest {manifest_digest}");
    let rel = blob_rel(manifest_digest).map_err(|m| format_err(&mwhat, m))?;
    let bytes = store
        .read_document(&rel)?
        .ok_or_else(|| ImageError::MissingBlob {
            digest: manifest_digest.to_string(),
            what: "image manifest".into(),
        })?;
    digest::verify_bytes(&bytes, manifest_digest, &mwhat)?;
    manifest_to_image(
        store,
        &bytes,
        Some(manifest_digest.to_string()),
        repo_tags,
        blob_rel,
    )
}

fn manifest_to_image(
    store: &Store,
    bytes: &[u8],
    manifest_digest: Option<String>,
    repo_tags: Vec<String>,
    blob_rel: impl Fn(&str) -> Result<String, String>,
) -> Result<Image, ImageError> {
    let mwhat = format!(
        "manifest {}",
        manifest_digest.as_deref().unwrap_or("manifest.json")
    );
    let m: IndexDoc = parse_json(bytes, &mwhat)?;
    if matches!(m.media_type.as_deref(), Some(OCI_INDEX) | Some(DOCKER_LIST)) {
        return Err(format_err(&mwhat, "is an index, not an image manifest"));
    }
    let config_desc = m
        .config
        .ok_or_else(|| format_err(&mwhat, "no config descriptor"))?;
    let cwhat = format!("config {} of {mwhat}", config_desc.digest);
    let crel = blob_rel(&config_desc.digest).map_err(|e| format_err(&cwhat, e))?;
    let config_bytes = store
        .read_document(&crel)?
        .ok_or_else(|| ImageError::MissingBlob {
            digest: config_desc.digest.clone(),
            what: format!("config of {mwhat}"),
        })?;
    digest::verify_bytes(&config_bytes, &config_desc.digest, &cwhat)?;
    let config = parse_config(&config_bytes, &cwhat)?;
    let mut layers = Vec::new();
    for (i, d) in m.layers.unwrap_or_default().into_iter().enumerate() {
        let lrel = blob_rel(&d.digest).map_err(|e| format_err(&mwhat, e))?;
        let (location, size) = store.locate(&lrel).ok_or_else(|| ImageError::MissingBlob {
            digest: d.digest.clone(),
            what: format!("layer {i} of {mwhat}"),
        })?;
        layers.push(LayerBlob {
            diff_id: config.diff_ids.get(i).cloned().unwrap_or_default(),
            digest: d.digest,
            media_type: d.media_type,
            size: if d.size > 0 { d.size } else { size },
            location,
            verified: None,
        });
    }
    let config_location = store.locate(&crel).map(|(l, _)| l);
    assemble(
        config_desc.digest.clone(),
        manifest_digest,
        repo_tags,
        config,
        layers,
        &mwhat,
        config_location,
        Some(bytes.to_vec()),
    )
}

/// Reads a containers/image `dir:` image: `manifest.json` plus blobs named by bare hex.
fn containers_dir(dir: &Path, _platform: Option<&str>) -> Result<Image, ImageError> {
    let store = Store::Dir(dir.to_path_buf());
    let bytes = store
        .read_document("manifest.json")?
        .ok_or_else(|| format_err(dir.display().to_string(), "no manifest.json"))?;
    if bytes.len() as u64 > MAX_DOCUMENT_BYTES {
        return Err(format_err(store.describe("manifest.json"), "too large"));
    }
    let digest = digest::sha256_of(&bytes);
    manifest_to_image(&store, &bytes, Some(digest), Vec::new(), |d| {
        ParsedDigest::parse(d).map(|p| p.hex)
    })
}

#[cfg(test)]
mod tests {
    use super::is_attachment_tag;

    #[test]
    fn attachment_tags() {
        let hex = "a".repeat(64);
        assert!(is_attachment_tag(&format!("sha256-{hex}")));
        assert!(is_attachment_tag(&format!("repo:sha256-{hex}.sig")));
        assert!(!is_attachment_tag(&format!("sha256-{}", "a".repeat(63))));
        assert!(!is_attachment_tag(&format!("sha256-{hex}x")));
        assert!(!is_attachment_tag("latest"));
        // A multi-byte character across byte 64 of a crafted ref name: no panic.
        assert!(!is_attachment_tag(&format!("sha256-{}é", "a".repeat(63))));
        assert!(!is_attachment_tag(&format!(
            "sha256-{}é.sig",
            "a".repeat(63)
        )));
    }
}
