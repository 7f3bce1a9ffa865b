//! Pulling an image from an OCI / Docker registry into the local blob cache.
//!
//! [`open`] resolves a reference (`alpine`, `host:5000/repo:tag`, `repo@sha256:...`) to
//! an image manifest — choosing one platform from an index or manifest list — then
//! downloads the config and layer blobs into `<cache_dir>/blobs/sha256/<hex>`. Each blob
//! is streamed to a temporary file in that directory while being hashed and renamed into
//! place only when its digest matches, so the cache never holds a wrong blob under a
//! right name. Each verified blob gets a stamp file beside it (`<hex>.verified`, see
//! [`crate::VerifiedStamp`]): a blob already in the cache is reused without hashing only
//! while its stamp matches, and is re-hashed (and re-downloaded if wrong) otherwise.
//! The returned [`Image`] points at the cached files and carries the stamps, so the
//! layer walker does not hash a pulled blob a second time; the config is small and is
//! checked against its digest again after it is read.
//!
//! Writing (blobs, manifests, tags, deletes, OCI 1.1 referrers) is [`Repository`]; the
//! transport, auth, retries and timeouts every request shares are in [`RegistryConfig`]
//! and described in `docs/registry.md`. [`copy`] pushes a local image to a registry.

mod auth;
mod client;
pub mod copy;
mod error;
mod reference;
mod repo;

pub use auth::{
    docker_config_path, from_docker_config, lookup as lookup_credentials, parse_challenge,
    Challenge, CredentialConfig, Credentials, FoundCredentials, Secret,
};
pub use client::{Payload, RegistryConfig, RetryPolicy, Timeouts};
pub use error::{ErrorKind, RegistryError};
pub use reference::{validate_digest, Reference};
pub use repo::{
    BlobPush, Manifest, PushedManifest, Referrers, ReferrersSource, Repository,
    MAX_MANIFEST_SIZE as MAX_REMOTE_MANIFEST_SIZE,
};

use crate::{BlobLocation, Image, ImageError, LayerBlob, VerifiedStamp};
use bulwark_core::{ImageMeta, LayerMeta};
use client::{error_detail, Access, Client, Op};
use serde::Deserialize;
use sha2::{Digest as _, Sha256};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

/// Default refusal size for one blob (64 GiB).
pub const DEFAULT_MAX_BLOB_SIZE: u64 = 64 << 30;
/// Largest image config we accept; real ones are well under 1 MiB.
const MAX_CONFIG_SIZE: u64 = 32 << 20;
/// Layers downloaded at once: enough to hide latency, few enough to be polite.
const PARALLEL_DOWNLOADS: usize = 3;

use crate::oci::{MT_DOCKER_LIST, MT_DOCKER_MANIFEST, MT_OCI_INDEX, MT_OCI_MANIFEST};

/// How to pull from a registry.
#[derive(Debug, Clone)]
pub struct RegistryOptions {
    /// Cache root; blobs go to `<cache_dir>/blobs/sha256/<hex>`.
    pub cache_dir: PathBuf,
    /// `os/arch[/variant]` to pick from a multi-platform index; `linux/amd64` when unset.
    pub platform: Option<String>,
    /// Transport, credentials, timeouts and retries.
    pub config: RegistryConfig,
    /// Refuse any blob larger than this many bytes.
    pub max_blob_size: u64,
    /// Cancellation and deadline, checked per downloaded chunk.
    pub cancel: crate::Cancel,
}

impl RegistryOptions {
    /// Options with the defaults: TLS with the built-in roots, anonymous, linux/amd64,
    /// 64 GiB limit.
    pub fn new(cache_dir: impl Into<PathBuf>) -> RegistryOptions {
        RegistryOptions {
            cache_dir: cache_dir.into(),
            platform: None,
            config: RegistryConfig::default(),
            max_blob_size: DEFAULT_MAX_BLOB_SIZE,
            cancel: crate::Cancel::default(),
        }
    }
}

/// Pulls `reference` into the blob cache and returns the image, its blobs as cached files.
///
/// `meta.manifest_digest` is the digest of the platform's image manifest;
/// `meta.repo_digests` holds `registry/repo@digest` of what the reference resolved to
/// (the index, for a multi-platform image), which is what one would pull by;
/// `meta.repo_tags` holds `registry/repo:tag` when a tag was given. Names are written in
/// full (`docker.io/library/alpine`) so they are never ambiguous.
pub fn open(reference: &str, opts: &RegistryOptions) -> Result<Image, ImageError> {
    let r = Reference::parse(reference)?;
    let want =
        Platform::parse(opts.platform.as_deref().unwrap_or("linux/amd64")).map_err(|message| {
            ImageError::Target {
                target: reference.to_string(),
                message,
            }
        })?;
    let repo = Repository::open(&r, &opts.config)?;
    let client = Puller {
        client: repo.client(),
        repo: &r.repository,
    };

    let top = fetch_manifest(&repo, r.manifest_reference())?;
    let (manifest, manifest_digest, manifest_bytes) = match top.doc {
        Doc::Image(m) => (m, top.digest.clone(), top.bytes),
        Doc::Index(entries) => {
            let chosen = pick_platform(&entries, &want).map_err(|message| ImageError::Target {
                target: reference.to_string(),
                message,
            })?;
            let child = fetch_manifest(&repo, &chosen.digest)?;
            match child.doc {
                Doc::Image(m) => (m, child.digest, child.bytes),
                Doc::Index(_) => {
                    return Err(ImageError::Format {
                        what: format!("manifest {} of {r}", chosen.digest),
                        message: "an index inside an index is not supported".into(),
                    })
                }
            }
        }
    };

    let blob_dir = opts.cache_dir.join("blobs").join("sha256");
    std::fs::create_dir_all(&blob_dir).map_err(|source| ImageError::Io {
        path: blob_dir.display().to_string(),
        source,
    })?;
    let cache = BlobCache {
        client: &client,
        dir: &blob_dir,
        max: opts.max_blob_size,
        cancel: &opts.cancel,
    };

    let config_desc = &manifest.config;
    if config_desc.size > MAX_CONFIG_SIZE {
        return Err(ImageError::Format {
            what: format!("config {} of {r}", config_desc.digest),
            message: format!(
                "config is {} bytes, limit {MAX_CONFIG_SIZE}",
                config_desc.size
            ),
        });
    }
    let (config_path, _) = cache.ensure(config_desc, "image config")?;
    let config_bytes = read_file_limited(&config_path, MAX_CONFIG_SIZE)?;
    // What is parsed is exactly what the manifest names, whatever happened on disk.
    crate::digest::verify_bytes(
        &config_bytes,
        &config_desc.digest,
        &format!("cached config {}", config_path.display()),
    )?;
    let config: serde_json::Value =
        serde_json::from_slice(&config_bytes).map_err(|e| ImageError::Format {
            what: format!("config {} of {r}", config_desc.digest),
            message: format!("not JSON: {e}"),
        })?;
    let info = ConfigInfo::from_json(&config).map_err(|message| ImageError::Format {
        what: format!("config {} of {r}", config_desc.digest),
        message,
    })?;
    if info.diff_ids.len() != manifest.layers.len() {
        return Err(ImageError::Format {
            what: format!("manifest {manifest_digest} of {r}"),
            message: format!(
                "{} layers but the config lists {} diff_ids",
                manifest.layers.len(),
                info.diff_ids.len()
            ),
        });
    }

    let paths = download_layers(&cache, &manifest.layers)?;
    let mut layers = Vec::with_capacity(paths.len());
    let mut layer_meta = Vec::with_capacity(paths.len());
    for (i, (desc, (path, stamp))) in manifest.layers.iter().zip(paths).enumerate() {
        let diff_id = info.diff_ids.get(i).cloned().unwrap_or_default();
        layer_meta.push(LayerMeta {
            digest: desc.digest.clone(),
            diff_id: diff_id.clone(),
            size: desc.size,
            created_by: info.created_by.get(i).cloned().flatten(),
        });
        layers.push(LayerBlob {
            digest: desc.digest.clone(),
            diff_id,
            media_type: desc.media_type.clone(),
            size: desc.size,
            location: BlobLocation::File(path),
            verified: Some(stamp),
        });
    }

    let name = r.name();
    let meta = ImageMeta {
        id: config_desc.digest.clone(),
        manifest_digest: Some(manifest_digest),
        repo_tags: r.tag.iter().map(|t| format!("{name}:{t}")).collect(),
        repo_digests: vec![format!("{name}@{}", top.digest)],
        platform: info.platform,
        layers: layer_meta,
        config: Some(config),
    };
    Ok(Image {
        meta,
        layers,
        config_location: Some(BlobLocation::File(config_path)),
        manifest: Some(manifest_bytes),
    })
}

/// A content descriptor from a manifest or index.
#[derive(Debug, Clone, Deserialize)]
struct Descriptor {
    #[serde(rename = "mediaType", default)]
    media_type: Option<String>,
    digest: String,
    size: u64,
    #[serde(default)]
    platform: Option<PlatformJson>,
}

#[derive(Debug, Clone, Deserialize)]
struct PlatformJson {
    #[serde(default)]
    os: String,
    #[serde(default)]
    architecture: String,
    #[serde(default)]
    variant: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RawManifest {
    #[serde(rename = "schemaVersion", default)]
    schema_version: Option<u32>,
    #[serde(rename = "mediaType", default)]
    media_type: Option<String>,
    #[serde(default)]
    config: Option<Descriptor>,
    #[serde(default)]
    layers: Option<Vec<Descriptor>>,
    #[serde(default)]
    manifests: Option<Vec<Descriptor>>,
}

/// An image manifest: config plus layers.
#[derive(Debug)]
struct ImageManifest {
    config: Descriptor,
    layers: Vec<Descriptor>,
}

#[derive(Debug)]
enum Doc {
    Image(ImageManifest),
    Index(Vec<Descriptor>),
}

struct Fetched {
    digest: String,
    doc: Doc,
    bytes: Vec<u8>,
}

/// GETs, checks ([`Repository::fetch_manifest`]: digest against a digest reference and
/// the registry's `Docker-Content-Digest`) and parses one manifest.
fn fetch_manifest(repo: &Repository, reference: &str) -> Result<Fetched, ImageError> {
    let m = repo.fetch_manifest(reference)?;
    let doc =
        parse_manifest(&m.bytes, Some(&m.media_type)).map_err(|message| ImageError::Format {
            what: format!(
                "manifest {reference} of {}/{}",
                repo.registry(),
                repo.repository()
            ),
            message,
        })?;
    Ok(Fetched {
        digest: m.digest,
        doc,
        bytes: m.bytes,
    })
}

fn parse_manifest(body: &[u8], content_type: Option<&str>) -> Result<Doc, String> {
    let raw: RawManifest = serde_json::from_slice(body).map_err(|e| format!("not valid: {e}"))?;
    if raw.schema_version == Some(1) {
        return Err("docker schema 1 manifests are not supported (deprecated format)".into());
    }
    let media_type = raw
        .media_type
        .clone()
        .or_else(|| content_type.map(|c| c.split(';').next().unwrap_or(c).trim().to_string()));
    let is_index = match media_type.as_deref() {
        Some(MT_OCI_INDEX | MT_DOCKER_LIST) => true,
        Some(MT_OCI_MANIFEST | MT_DOCKER_MANIFEST) => false,
        // OCI allows omitting mediaType; go by shape then.
        _ => raw.manifests.is_some(),
    };
    if is_index {
        let entries = raw.manifests.ok_or("index without \"manifests\"")?;
        for e in &entries {
            reference::validate_digest(&e.digest)?;
        }
        return Ok(Doc::Index(entries));
    }
    let config = raw.config.ok_or("manifest without \"config\"")?;
    let layers = raw.layers.ok_or("manifest without \"layers\"")?;
    reference::validate_digest(&config.digest).map_err(|e| format!("config: {e}"))?;
    for (i, l) in layers.iter().enumerate() {
        reference::validate_digest(&l.digest).map_err(|e| format!("layer {i}: {e}"))?;
    }
    Ok(Doc::Image(ImageManifest { config, layers }))
}

/// A requested or offered `os/arch[/variant]`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Platform {
    os: String,
    arch: String,
    variant: Option<String>,
}

impl Platform {
    fn parse(s: &str) -> Result<Platform, String> {
        let parts: Vec<&str> = s.split('/').collect();
        match parts.as_slice() {
            [os, arch] if !os.is_empty() && !arch.is_empty() => {
                Ok(Platform::normalised(os, arch, None))
            }
            [os, arch, variant] if !os.is_empty() && !arch.is_empty() && !variant.is_empty() => {
                Ok(Platform::normalised(os, arch, Some(variant)))
            }
            _ => Err(format!("platform {s:?} is not os/arch[/variant]")),
        }
    }

    /// Normalises the aliases seen in the wild so `linux/aarch64` finds `linux/arm64/v8`.
    fn normalised(os: &str, arch: &str, variant: Option<&str>) -> Platform {
        let os = os.to_ascii_lowercase();
        let arch = match arch.to_ascii_lowercase().as_str() {
            "x86_64" | "x86-64" => "amd64".to_string(),
            "aarch64" => "arm64".to_string(),
            "i386" | "i686" => "386".to_string(),
            a => a.to_string(),
        };
        let variant = variant.map(str::to_ascii_lowercase).filter(|v| {
            // arm64's only variant is v8; treat it as no variant.
            !(arch == "arm64" && v == "v8")
        });
        Platform { os, arch, variant }
    }

    fn matches(&self, offered: &Platform) -> bool {
        self.os == offered.os
            && self.arch == offered.arch
            && (self.variant.is_none() || self.variant == offered.variant)
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.arch)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// Chooses the index entry for `want`; when no variant was asked for, an entry without
/// one is preferred over the first variant listed.
fn pick_platform<'a>(entries: &'a [Descriptor], want: &Platform) -> Result<&'a Descriptor, String> {
    let offered: Vec<(Platform, &Descriptor)> = entries
        .iter()
        .filter_map(|d| {
            let p = d.platform.as_ref()?;
            Some((
                Platform::normalised(&p.os, &p.architecture, p.variant.as_deref()),
                d,
            ))
        })
        .collect();
    let mut matching = offered.iter().filter(|(p, _)| want.matches(p));
    let first = matching.next();
    let exact = offered.iter().find(|(p, _)| p == want);
    if let Some((_, d)) = exact.or(first) {
        return Ok(d);
    }
    let mut available: Vec<String> = offered
        .iter()
        // Attestation manifests are listed as unknown/unknown; they are not images.
        .filter(|(p, _)| p.os != "unknown")
        .map(|(p, _)| p.to_string())
        .collect();
    available.dedup();
    Err(format!(
        "no image for platform {want} in the index; available: {}",
        if available.is_empty() {
            "none".to_string()
        } else {
            available.join(", ")
        }
    ))
}

/// What the walker and the report need from the image config.
struct ConfigInfo {
    diff_ids: Vec<String>,
    /// `created_by` per layer (history entries with `empty_layer` skipped), when the
    /// history lines up with the layers.
    created_by: Vec<Option<String>>,
    platform: Option<String>,
}

impl ConfigInfo {
    fn from_json(config: &serde_json::Value) -> Result<ConfigInfo, String> {
        let diff_ids = config
            .get("rootfs")
            .and_then(|r| r.get("diff_ids"))
            .and_then(|d| d.as_array())
            .ok_or("no rootfs.diff_ids")?;
        let diff_ids = diff_ids
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let s = d
                    .as_str()
                    .ok_or(format!("rootfs.diff_ids[{i}] is not a string"))?;
                reference::validate_digest(s).map_err(|e| format!("rootfs.diff_ids[{i}]: {e}"))?;
                Ok(s.to_string())
            })
            .collect::<Result<Vec<_>, String>>()?;
        let created_by: Vec<Option<String>> = config
            .get("history")
            .and_then(|h| h.as_array())
            .map(|h| {
                h.iter()
                    .filter(|e| e.get("empty_layer").and_then(|v| v.as_bool()) != Some(true))
                    .map(|e| {
                        e.get("created_by")
                            .and_then(|c| c.as_str())
                            .map(str::to_string)
                    })
                    .collect()
            })
            .unwrap_or_default();
        // A history that does not line up would attribute commands to the wrong layers.
        let created_by = if created_by.len() == diff_ids.len() {
            created_by
        } else {
            Vec::new()
        };
        let s = |k: &str| {
            config
                .get(k)
                .and_then(|v| v.as_str())
                .filter(|v| !v.is_empty())
        };
        let platform = match (s("os"), s("architecture")) {
            (Some(os), Some(arch)) => Some(match s("variant") {
                Some(v) => format!("{os}/{arch}/{v}"),
                None => format!("{os}/{arch}"),
            }),
            _ => None,
        };
        Ok(ConfigInfo {
            diff_ids,
            created_by,
            platform,
        })
    }
}

/// The client and repository the pull path reads from.
struct Puller<'a> {
    client: &'a Client,
    repo: &'a str,
}

impl Puller<'_> {
    fn op(&self, what: String) -> Op<'_> {
        Op {
            repo: self.repo,
            what,
            access: Access::Pull,
            also_pull: None,
        }
    }
}

/// A [`ImageError::Remote`] for request `what`.
fn remote(what: &str, message: String) -> ImageError {
    ImageError::Remote {
        what: what.to_string(),
        message,
    }
}

/// The content-addressed blob directory and the client that fills it.
struct BlobCache<'a> {
    client: &'a Puller<'a>,
    dir: &'a Path,
    max: u64,
    cancel: &'a crate::Cancel,
}

impl BlobCache<'_> {
    /// Returns the cached file for `desc` and its verified stamp, downloading and
    /// verifying it first if needed. A cached file is reused without hashing only when
    /// its stamp file records this digest for the file as it is now; otherwise it is
    /// hashed again, and downloaded again when that fails.
    fn ensure(
        &self,
        desc: &Descriptor,
        what: &str,
    ) -> Result<(PathBuf, VerifiedStamp), ImageError> {
        let hex = desc
            .digest
            .strip_prefix("sha256:")
            .ok_or_else(|| ImageError::Format {
                what: what.to_string(),
                message: format!("unsupported digest {}", desc.digest),
            })?;
        if desc.size > self.max {
            return Err(ImageError::Format {
                what: format!("{what} {}", desc.digest),
                message: format!(
                    "blob is {} bytes, over the limit of {} bytes",
                    desc.size, self.max
                ),
            });
        }
        let path = self.dir.join(hex);
        let stamp_path = self.dir.join(format!("{hex}.verified"));
        match std::fs::metadata(&path) {
            Ok(m) if m.is_file() && m.len() == desc.size => {
                let now = VerifiedStamp::of_metadata(&m);
                let recorded = std::fs::read_to_string(&stamp_path)
                    .ok()
                    .and_then(|t| VerifiedStamp::decode(&t, &desc.digest));
                if recorded.as_ref() == Some(&now) {
                    tracing::debug!("reusing cached blob {} (stamp matches)", desc.digest);
                    return Ok((path, now));
                }
                match crate::digest::sha256_of_file(&path) {
                    Ok(actual) if actual == desc.digest => {
                        tracing::debug!("reusing cached blob {} (re-verified)", desc.digest);
                        let stamp = self.write_stamp(&path, &stamp_path, &desc.digest)?;
                        return Ok((path, stamp));
                    }
                    _ => {
                        tracing::warn!(
                            "cached blob {} does not match its digest; downloading again",
                            desc.digest
                        );
                        let _ = std::fs::remove_file(&path);
                        let _ = std::fs::remove_file(&stamp_path);
                    }
                }
            }
            Ok(_) => {
                tracing::warn!(
                    "cached blob {} has the wrong size; downloading again",
                    desc.digest
                );
                let _ = std::fs::remove_file(&path);
            }
            Err(_) => {}
        }
        self.download(desc, what, &path)?;
        let stamp = self.write_stamp(&path, &stamp_path, &desc.digest)?;
        Ok((path, stamp))
    }

    /// Records that `path` (just verified) holds `digest`: the stamp file is written to a
    /// temporary file and renamed into place, so readers see a whole stamp or none.
    fn write_stamp(
        &self,
        path: &Path,
        stamp_path: &Path,
        digest: &str,
    ) -> Result<VerifiedStamp, ImageError> {
        let io_err = |p: &Path| {
            let p = p.display().to_string();
            move |source| ImageError::Io { path: p, source }
        };
        let stamp = VerifiedStamp::of_path(path).map_err(io_err(path))?;
        let mut tmp = tempfile::Builder::new()
            .prefix(".stamp-")
            .tempfile_in(self.dir)
            .map_err(io_err(self.dir))?;
        tmp.write_all(stamp.encode(digest).as_bytes())
            .map_err(io_err(stamp_path))?;
        tmp.persist(stamp_path)
            .map_err(|e| io_err(stamp_path)(e.error))?;
        Ok(stamp)
    }

    fn download(&self, desc: &Descriptor, what: &str, path: &Path) -> Result<(), ImageError> {
        let url = self
            .client
            .client
            .url(self.client.repo, "blobs", &desc.digest);
        let req = format!("GET {url}");
        let op = self.client.op(format!("pull {what} {} from", desc.digest));
        let resp = self
            .client
            .client
            .send(&op, "GET", &url, &[], client::Payload::Empty)?;
        let status = resp.status().as_u16();
        if status == 404 {
            let _ = error_detail(resp);
            return Err(ImageError::MissingBlob {
                digest: desc.digest.clone(),
                what: format!("{what}: registry answered 404 for {url}"),
            });
        }
        let resp = self.client.client.check(&op, resp, &[200], "")?;
        if let Some(len) = resp
            .headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
        {
            if len != desc.size {
                return Err(remote(
                    &req,
                    format!(
                        "registry sends {len} bytes but the manifest says {}",
                        desc.size
                    ),
                ));
            }
        }
        let io_err = |source| ImageError::Io {
            path: self.dir.display().to_string(),
            source,
        };
        let mut tmp = tempfile::Builder::new()
            .prefix(".partial-")
            .tempfile_in(self.dir)
            .map_err(io_err)?;
        let mut reader = resp.into_body().into_reader().take(desc.size + 1);
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 256 * 1024];
        let mut total: u64 = 0;
        loop {
            self.cancel.check()?;
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(remote(
                        &req,
                        format!("reading blob after {total} bytes: {e}"),
                    ))
                }
            };
            let chunk = buf.get(..n).unwrap_or_default();
            total += n as u64;
            if total > desc.size {
                return Err(remote(
                    &req,
                    format!(
                        "blob is longer than the {} bytes the manifest says",
                        desc.size
                    ),
                ));
            }
            hasher.update(chunk);
            tmp.write_all(chunk).map_err(io_err)?;
        }
        if total != desc.size {
            return Err(remote(
                &req,
                format!("connection ended after {total} of {} bytes", desc.size),
            ));
        }
        let actual = format!("sha256:{}", hex::encode(hasher.finalize()));
        if actual != desc.digest {
            // Dropping `tmp` removes the partial file.
            return Err(ImageError::DigestMismatch {
                what: format!("{what} from {url}"),
                expected: desc.digest.clone(),
                actual,
            });
        }
        tmp.as_file().sync_all().map_err(io_err)?;
        tmp.persist(path).map_err(|e| ImageError::Io {
            path: path.display().to_string(),
            source: e.error,
        })?;
        Ok(())
    }
}

/// Downloads all layers, a few at a time; stops handing out work after the first error.
fn download_layers(
    cache: &BlobCache<'_>,
    layers: &[Descriptor],
) -> Result<Vec<(PathBuf, VerifiedStamp)>, ImageError> {
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    type Downloaded = Result<(PathBuf, VerifiedStamp), ImageError>;
    let results: Mutex<Vec<(usize, Downloaded)>> = Mutex::new(Vec::new());
    let workers = PARALLEL_DOWNLOADS.min(layers.len());
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                if failed.load(Ordering::Relaxed) {
                    break;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(desc) = layers.get(i) else { break };
                let r = cache.ensure(desc, &format!("layer {i}"));
                if r.is_err() {
                    failed.store(true, Ordering::Relaxed);
                }
                match results.lock() {
                    Ok(mut g) => g.push((i, r)),
                    Err(p) => p.into_inner().push((i, r)),
                }
            });
        }
    });
    let mut results = match results.into_inner() {
        Ok(v) => v,
        Err(p) => p.into_inner(),
    };
    results.sort_by_key(|(i, _)| *i);
    let mut paths = Vec::with_capacity(layers.len());
    for (_, r) in results {
        paths.push(r?);
    }
    if paths.len() != layers.len() {
        return Err(ImageError::Format {
            what: "layer download".into(),
            message: "not every layer was downloaded".into(),
        });
    }
    Ok(paths)
}

fn read_file_limited(path: &Path, limit: u64) -> Result<Vec<u8>, ImageError> {
    let io_err = |source| ImageError::Io {
        path: path.display().to_string(),
        source,
    };
    let mut buf = Vec::new();
    std::fs::File::open(path)
        .map_err(io_err)?
        .take(limit + 1)
        .read_to_end(&mut buf)
        .map_err(io_err)?;
    if buf.len() as u64 > limit {
        return Err(ImageError::Format {
            what: path.display().to_string(),
            message: format!("larger than {limit} bytes"),
        });
    }
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desc(os: &str, arch: &str, variant: Option<&str>) -> Descriptor {
        Descriptor {
            media_type: None,
            digest: format!("sha256:{}", "0".repeat(64)),
            size: 1,
            platform: Some(PlatformJson {
                os: os.into(),
                architecture: arch.into(),
                variant: variant.map(str::to_string),
            }),
        }
    }

    fn want(s: &str) -> Platform {
        Platform::parse(s).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn platform_selection() {
        let entries = vec![
            desc("linux", "arm", Some("v6")),
            desc("linux", "arm", Some("v7")),
            desc("linux", "arm64", Some("v8")),
            desc("linux", "amd64", None),
            desc("unknown", "unknown", None),
        ];
        let arch = |d: &Descriptor| {
            d.platform
                .as_ref()
                .map(|p| format!("{}/{:?}", p.architecture, p.variant))
        };
        let pick = |s: &str| pick_platform(&entries, &want(s)).map(arch);
        assert_eq!(pick("linux/amd64"), Ok(Some("amd64/None".into())));
        assert_eq!(pick("linux/aarch64"), Ok(Some("arm64/Some(\"v8\")".into())));
        assert_eq!(pick("linux/arm/v7"), Ok(Some("arm/Some(\"v7\")".into())));
        assert_eq!(pick("linux/arm"), Ok(Some("arm/Some(\"v6\")".into())));
        let err = pick("linux/s390x").err().unwrap_or_default();
        assert!(err.contains("linux/s390x"), "{err}");
        assert!(
            err.contains("linux/amd64") && err.contains("linux/arm/v7"),
            "{err}"
        );
        assert!(!err.contains("unknown"), "{err}");
        assert!(Platform::parse("linux").is_err());
        assert!(Platform::parse("linux//").is_err());
    }

    #[test]
    fn manifest_kinds_and_schema1() {
        let idx = br#"{"schemaVersion":2,"manifests":[]}"#;
        assert!(matches!(parse_manifest(idx, None), Ok(Doc::Index(_))));
        let m = format!(
            r#"{{"schemaVersion":2,"mediaType":"{MT_DOCKER_MANIFEST}","config":{{"digest":"sha256:{h}","size":1}},"layers":[]}}"#,
            h = "1".repeat(64)
        );
        assert!(matches!(
            parse_manifest(m.as_bytes(), None),
            Ok(Doc::Image(_))
        ));
        let bad =
            r#"{"schemaVersion":2,"config":{"digest":"sha256:../../x","size":1},"layers":[]}"#;
        assert!(parse_manifest(bad.as_bytes(), None).is_err());
        let s1 = br#"{"schemaVersion":1,"fsLayers":[]}"#;
        let e = parse_manifest(s1, None).err().unwrap_or_default();
        assert!(e.contains("schema 1"), "{e}");
    }

    #[test]
    fn config_history_maps_to_layers() {
        let h = |c: char| format!("sha256:{}", c.to_string().repeat(64));
        let cfg = serde_json::json!({
            "os": "linux", "architecture": "arm", "variant": "v7",
            "rootfs": {"type": "layers", "diff_ids": [h('a'), h('b')]},
            "history": [
                {"created_by": "ADD file"},
                {"created_by": "ENV X=1", "empty_layer": true},
                {"created_by": "RUN make"}
            ]
        });
        let info = ConfigInfo::from_json(&cfg).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(info.platform.as_deref(), Some("linux/arm/v7"));
        assert_eq!(
            info.created_by,
            vec![Some("ADD file".to_string()), Some("RUN make".to_string())]
        );
        let bad = serde_json::json!({"rootfs": {"diff_ids": ["md5:x"]}});
        assert!(ConfigInfo::from_json(&bad).is_err());
    }
}
