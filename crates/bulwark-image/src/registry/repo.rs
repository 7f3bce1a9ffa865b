//! Reading and writing one repository: manifests, blobs, tags, deletes and OCI 1.1
//! referrers.
//!
//! **Blob uploads** are monolithic: `HEAD` first (an existing blob is skipped), then
//! `POST /blobs/uploads/` and one `PUT <location>?digest=`. With a mount source the
//! `POST` carries `?mount=&from=`; a `201` means the registry linked the blob, a `202`
//! means it declined and the upload continues normally.
//!
//! **Referrers.** [`Repository::referrers`] asks `GET /v2/<name>/referrers/<digest>`
//! first. A registry with the API answers `200` and an image index (even an empty one);
//! a `404` (or `405`) means it does not have the API — Debian's distribution 2.8 is
//! such a registry — and the list is read from the referrers tag schema instead: the tag
//! `sha256-<hex>` of the subject holds an image index of the referrers. The answer is
//! remembered for the client. When the API honours `artifactType` it says so in
//! `OCI-Filters-Applied`; otherwise the filter is applied here.
//!
//! [`Repository::push_manifest`] of a manifest with a `subject`: when the registry's
//! answer lacks the `OCI-Subject` header it did not index the subject, and the client
//! updates the tag-schema index itself (read, add the descriptor unless present, push),
//! as OCI 1.1 prescribes. That read-modify-write is not atomic (distribution 2.8 has no
//! conditional `PUT`): two writers racing on one subject can lose an entry.

use super::client::{header, read_limited, Access, Client, Op, Payload, RegistryConfig};
use super::error::{ErrorKind, RegistryError};
use super::reference::{validate_digest, Reference};
use crate::oci::{self, Descriptor, Index, ManifestInfo};
use std::sync::Mutex;

/// Largest manifest or index accepted.
pub const MAX_MANIFEST_SIZE: u64 = 4 << 20;
/// Most tags read from a paginated tag list.
const MAX_TAGS: usize = 100_000;

/// A manifest as fetched: bytes verified against the digest.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// The exact bytes.
    pub bytes: Vec<u8>,
    /// Media type (stated in the manifest, else the `Content-Type`).
    pub media_type: String,
    /// `sha256:` of the bytes.
    pub digest: String,
}

/// What [`Repository::push_blob`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobPush {
    /// The registry already had it.
    Existed,
    /// Linked from another repository.
    Mounted,
    /// Uploaded.
    Uploaded,
}

/// What [`Repository::push_manifest`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushedManifest {
    /// Digest of the pushed bytes.
    pub digest: String,
    /// The descriptor of the pushed manifest.
    pub descriptor: Descriptor,
    /// For a manifest with a `subject`: whether the registry indexed it itself
    /// (`OCI-Subject` header); `false` means the tag-schema index was updated instead.
    pub subject_indexed_by_registry: bool,
    /// The tag-schema index was written (`sha256-<hex>`).
    pub fallback_tag_updated: Option<String>,
}

/// Where a referrers list came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReferrersSource {
    /// `GET /v2/<name>/referrers/<digest>`.
    Api,
    /// The `sha256-<hex>` tag.
    TagSchema,
}

/// The referrers of a subject.
#[derive(Debug, Clone)]
pub struct Referrers {
    /// How they were found.
    pub source: ReferrersSource,
    /// Their descriptors (filtered by artifact type when asked).
    pub manifests: Vec<Descriptor>,
}

/// One repository on one registry.
pub struct Repository {
    client: Client,
    repository: String,
    referrers_api: Mutex<Option<bool>>,
}

impl Repository {
    /// A client for the repository of `reference`.
    pub fn open(
        reference: &Reference,
        config: &RegistryConfig,
    ) -> Result<Repository, RegistryError> {
        Ok(Repository {
            client: Client::new(&reference.registry, reference.api_host(), config)?,
            repository: reference.repository.clone(),
            referrers_api: Mutex::new(None),
        })
    }

    /// The registry (as in references).
    pub fn registry(&self) -> &str {
        self.client.registry()
    }

    /// The repository path.
    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// The underlying client (for the pull path).
    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    fn op(&self, what: &str) -> Op<'_> {
        Op {
            repo: &self.repository,
            what: what.to_string(),
            access: Access::Pull,
            also_pull: None,
        }
    }

    fn push_op(&self, what: &str) -> Op<'_> {
        Op {
            access: Access::Push,
            ..self.op(what)
        }
    }

    fn protocol(&self, op: &Op<'_>, m: String) -> RegistryError {
        self.client.error(op, ErrorKind::Protocol(m))
    }

    /// Resolves a tag or digest to the descriptor of the manifest it names (`HEAD`; the
    /// digest comes from `Docker-Content-Digest`, else the manifest is fetched and hashed).
    pub fn resolve(&self, reference: &str) -> Result<Descriptor, RegistryError> {
        let op = self.op(&format!("resolve {reference} in"));
        let url = self.client.url(&self.repository, "manifests", reference);
        let resp = self.client.send(
            &op,
            "HEAD",
            &url,
            &[("Accept", oci::ACCEPT_MANIFESTS)],
            Payload::Empty,
        )?;
        let resp = self.client.check(
            &op,
            resp,
            &[200],
            &format!("manifest {reference:?} not found"),
        )?;
        let digest = header(&resp, "docker-content-digest");
        let size = header(&resp, "content-length").and_then(|v| v.parse::<u64>().ok());
        let media_type = header(&resp, "content-type")
            .map(|c| c.split(';').next().unwrap_or("").trim().to_string());
        match (digest, size, media_type) {
            (Some(d), Some(size), Some(mt)) if validate_digest(&d).is_ok() && !mt.is_empty() => {
                if reference.starts_with("sha256:") && d != reference {
                    return Err(self.client.error(
                        &op,
                        ErrorKind::DigestMismatch {
                            expected: reference.to_string(),
                            actual: d,
                        },
                    ));
                }
                Ok(Descriptor {
                    media_type: mt,
                    digest: d,
                    size,
                    artifact_type: None,
                    annotations: Default::default(),
                    extra: Default::default(),
                })
            }
            _ => {
                let m = self.fetch_manifest(reference)?;
                Ok(Descriptor::for_bytes(&m.media_type, &m.bytes))
            }
        }
    }

    /// GETs a manifest; the bytes must hash to the digest asked for (when `reference` is a
    /// digest) and to the registry's `Docker-Content-Digest` (when sent).
    pub fn fetch_manifest(&self, reference: &str) -> Result<Manifest, RegistryError> {
        let op = self.op(&format!("pull manifest {reference} from"));
        let url = self.client.url(&self.repository, "manifests", reference);
        let resp = self.client.send(
            &op,
            "GET",
            &url,
            &[("Accept", oci::ACCEPT_MANIFESTS)],
            Payload::Empty,
        )?;
        let resp = self.client.check(
            &op,
            resp,
            &[200],
            &format!("manifest {reference:?} not found"),
        )?;
        let content_type = header(&resp, "content-type");
        let header_digest = header(&resp, "docker-content-digest");
        let bytes = read_limited(resp, MAX_MANIFEST_SIZE).map_err(|m| self.protocol(&op, m))?;
        let actual = oci::sha256_digest(&bytes);
        let expect = reference
            .starts_with("sha256:")
            .then(|| reference.to_string());
        for expected in [expect, header_digest].into_iter().flatten() {
            if expected != actual {
                return Err(self
                    .client
                    .error(&op, ErrorKind::DigestMismatch { expected, actual }));
            }
        }
        let info = ManifestInfo::parse(&bytes).map_err(|m| self.protocol(&op, m))?;
        let media_type = match info.media_type.as_deref() {
            Some(m) if !m.is_empty() => m.to_string(),
            _ => content_type
                .map(|c| c.split(';').next().unwrap_or("").trim().to_string())
                .filter(|c| !c.is_empty())
                .unwrap_or_else(|| info.effective_media_type().to_string()),
        };
        Ok(Manifest {
            bytes,
            media_type,
            digest: actual,
        })
    }

    /// GETs a small blob (a signature, an attestation, a config) into memory, refusing more
    /// than `max` bytes and checking the digest.
    pub fn fetch_blob(&self, digest: &str, max: u64) -> Result<Vec<u8>, RegistryError> {
        let (op, resp) = self.get_blob(digest)?;
        let bytes = read_limited(resp, max).map_err(|m| self.protocol(&op, m))?;
        let actual = oci::sha256_digest(&bytes);
        if actual != digest {
            return Err(self.client.error(
                &op,
                ErrorKind::DigestMismatch {
                    expected: digest.to_string(),
                    actual,
                },
            ));
        }
        Ok(bytes)
    }

    /// Streams a blob and hashes it without keeping it (integrity checks of large
    /// layers): returns the SHA-256 digest of what the registry sent and its size.
    /// More than `max` bytes is an error. The caller compares the digest; a mismatch
    /// here is an answer, not an error.
    pub fn hash_blob(&self, digest: &str, max: u64) -> Result<(String, u64), RegistryError> {
        use std::io::Read as _;
        let (op, resp) = self.get_blob(digest)?;
        let mut reader = resp.into_body().into_reader().take(max.saturating_add(1));
        let mut hasher = crate::digest::Hasher::new(crate::digest::Algorithm::Sha256);
        let mut buf = vec![0u8; 256 << 10];
        let mut total = 0u64;
        loop {
            let n = reader
                .read(&mut buf)
                .map_err(|e| self.client.error(&op, ErrorKind::Transport(e.to_string())))?;
            if n == 0 {
                break;
            }
            total += n as u64;
            hasher.update(&buf[..n]);
        }
        if total > max {
            return Err(self.protocol(&op, format!("blob larger than {max} bytes")));
        }
        Ok((hasher.finish(), total))
    }

    /// The GET of blob `digest`, checked for a 200 answer; with its operation name for
    /// the caller's errors.
    fn get_blob(
        &self,
        digest: &str,
    ) -> Result<(Op<'_>, ureq::http::Response<ureq::Body>), RegistryError> {
        let op = self.op(&format!("pull blob {digest} from"));
        validate_digest(digest).map_err(|m| self.protocol(&op, m))?;
        let url = self.client.url(&self.repository, "blobs", digest);
        let resp = self.client.send(&op, "GET", &url, &[], Payload::Empty)?;
        let resp = self
            .client
            .check(&op, resp, &[200], &format!("blob {digest} not found"))?;
        Ok((op, resp))
    }

    /// The size of a blob when the repository has it.
    pub fn blob_exists(&self, digest: &str) -> Result<Option<u64>, RegistryError> {
        let op = self.op(&format!("check blob {digest} in"));
        validate_digest(digest).map_err(|m| self.protocol(&op, m))?;
        let url = self.client.url(&self.repository, "blobs", digest);
        let resp = self.client.send(&op, "HEAD", &url, &[], Payload::Empty)?;
        if resp.status().as_u16() == 404 {
            return Ok(None);
        }
        let resp = self.client.check(&op, resp, &[200], "")?;
        Ok(Some(
            header(&resp, "content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
        ))
    }

    /// Pushes bytes as a blob (skipped when present); returns its descriptor with
    /// `media_type`.
    pub fn push_blob_bytes(
        &self,
        media_type: &str,
        data: &[u8],
    ) -> Result<Descriptor, RegistryError> {
        let d = Descriptor::for_bytes(media_type, data);
        self.push_blob(&d.digest, d.size, Payload::Bytes(data), None)?;
        Ok(d)
    }

    /// Pushes a blob of `size` bytes whose content is `content`: skipped when the
    /// repository has it, mounted from `mount_from` (another repository on this registry)
    /// when given and the registry agrees, else uploaded in one `PUT`. The registry checks
    /// the digest; a wrong one fails the upload.
    pub fn push_blob(
        &self,
        digest: &str,
        size: u64,
        content: Payload<'_>,
        mount_from: Option<&str>,
    ) -> Result<BlobPush, RegistryError> {
        let mut op = self.push_op(&format!("push blob {digest} to"));
        let have = match content {
            Payload::Empty => 0,
            Payload::Bytes(b) => b.len() as u64,
            Payload::File { len, .. } => len,
        };
        if have != size {
            return Err(self.protocol(
                &op,
                format!("the content is {have} bytes but the descriptor says {size}"),
            ));
        }
        if self.blob_exists(digest)?.is_some() {
            return Ok(BlobPush::Existed);
        }
        let mut url = format!(
            "{}/",
            self.client.url(&self.repository, "blobs/uploads", "")
        );
        if let Some(from) = mount_from {
            op.also_pull = Some(from);
            let q = form_urlencoded::Serializer::new(String::new())
                .append_pair("mount", digest)
                .append_pair("from", from)
                .finish();
            url = format!("{url}?{q}");
        }
        let resp = self.client.send(&op, "POST", &url, &[], Payload::Empty)?;
        let status = resp.status().as_u16();
        let resp = self.client.check(
            &op,
            resp,
            &[201, 202],
            &format!("repository {} not found", self.repository),
        )?;
        if status == 201 {
            return Ok(BlobPush::Mounted);
        }
        let location = header(&resp, "location")
            .ok_or_else(|| self.protocol(&op, "upload started without a Location".into()))?;
        drop(resp);
        let location = self.absolute(&location);
        let sep = if location.contains('?') { '&' } else { '?' };
        let q = form_urlencoded::Serializer::new(String::new())
            .append_pair("digest", digest)
            .finish();
        let put_url = format!("{location}{sep}{q}");
        let resp = self.client.send(
            &op,
            "PUT",
            &put_url,
            &[("Content-Type", "application/octet-stream")],
            content,
        )?;
        self.client
            .check(&op, resp, &[201], "upload session not found")?;
        Ok(BlobPush::Uploaded)
    }

    fn absolute(&self, location: &str) -> String {
        if location.starts_with("http://") || location.starts_with("https://") {
            location.to_string()
        } else {
            format!("{}{}", self.client.origin(), location)
        }
    }

    /// PUTs a manifest under `reference` (a tag, or its digest when `None`), with the
    /// `Content-Type` of its `mediaType`. A manifest with a `subject` is added to the
    /// subject's referrers (see the module docs).
    pub fn push_manifest(
        &self,
        reference: Option<&str>,
        bytes: &[u8],
    ) -> Result<PushedManifest, RegistryError> {
        let digest = oci::sha256_digest(bytes);
        let target = reference.unwrap_or(&digest).to_string();
        let op = self.push_op(&format!("push manifest {target} to"));
        if bytes.len() as u64 > MAX_MANIFEST_SIZE {
            return Err(self.protocol(
                &op,
                format!("manifest larger than {MAX_MANIFEST_SIZE} bytes"),
            ));
        }
        let info = ManifestInfo::parse(bytes).map_err(|m| self.protocol(&op, m))?;
        let media_type = info.effective_media_type().to_string();
        let url = self.client.url(&self.repository, "manifests", &target);
        let resp = self.client.send(
            &op,
            "PUT",
            &url,
            &[("Content-Type", &media_type)],
            Payload::Bytes(bytes),
        )?;
        let resp = self.client.check(
            &op,
            resp,
            &[201],
            &format!("repository {} not found", self.repository),
        )?;
        if let Some(d) = header(&resp, "docker-content-digest") {
            if d != digest {
                return Err(self.client.error(
                    &op,
                    ErrorKind::DigestMismatch {
                        expected: digest,
                        actual: d,
                    },
                ));
            }
        }
        let indexed = header(&resp, "oci-subject").is_some();
        drop(resp);
        let descriptor = info.referrer_descriptor(bytes);
        let mut fallback = None;
        if let (Some(subject), false) = (&info.subject, indexed) {
            validate_digest(&subject.digest).map_err(|m| self.protocol(&op, m))?;
            fallback = Some(self.add_to_referrers_tag(&subject.digest, &descriptor)?);
        }
        Ok(PushedManifest {
            digest,
            descriptor,
            subject_indexed_by_registry: indexed,
            fallback_tag_updated: fallback,
        })
    }

    /// Adds `entry` to the tag-schema referrers index of `subject`; returns the tag.
    fn add_to_referrers_tag(
        &self,
        subject: &str,
        entry: &Descriptor,
    ) -> Result<String, RegistryError> {
        let tag = oci::referrers_tag(subject);
        let mut index: Index = self.read_referrers_tag(&tag)?.unwrap_or_default();
        if index.manifests.iter().any(|d| d.digest == entry.digest) {
            return Ok(tag);
        }
        index.manifests.push(entry.clone());
        let bytes = serde_json::to_vec(&index)
            .map_err(|e| self.protocol(&self.push_op("write referrers index to"), e.to_string()))?;
        self.push_manifest(Some(&tag), &bytes)?;
        Ok(tag)
    }

    /// The tag-schema index at `tag`, `None` when the tag does not exist.
    fn read_referrers_tag(&self, tag: &str) -> Result<Option<Index>, RegistryError> {
        let m = match self.fetch_manifest(tag) {
            Ok(m) => m,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        let op = self.op(&format!("read referrers index {tag} from"));
        if m.media_type != oci::MT_OCI_INDEX {
            return Err(self.protocol(
                &op,
                format!(
                    "tag {tag} holds a {} rather than an image index",
                    m.media_type
                ),
            ));
        }
        serde_json::from_slice(&m.bytes)
            .map(Some)
            .map_err(|e| self.protocol(&op, format!("not an image index: {e}")))
    }

    /// The referrers of `subject` (a digest), optionally only those of `artifact_type`.
    pub fn referrers(
        &self,
        subject: &str,
        artifact_type: Option<&str>,
    ) -> Result<Referrers, RegistryError> {
        let op = self.op(&format!("list referrers of {subject} in"));
        validate_digest(subject).map_err(|m| self.protocol(&op, m))?;
        let known = match self.referrers_api.lock() {
            Ok(g) => *g,
            Err(p) => *p.into_inner(),
        };
        if known != Some(false) {
            let mut url = self.client.url(&self.repository, "referrers", subject);
            if let Some(t) = artifact_type {
                let q = form_urlencoded::Serializer::new(String::new())
                    .append_pair("artifactType", t)
                    .finish();
                url = format!("{url}?{q}");
            }
            let resp = self.client.send(
                &op,
                "GET",
                &url,
                &[("Accept", oci::MT_OCI_INDEX)],
                Payload::Empty,
            )?;
            let status = resp.status().as_u16();
            if status == 200 {
                self.remember_api(true);
                let filtered = header(&resp, "oci-filters-applied")
                    .is_some_and(|v| v.split(',').any(|f| f.trim() == "artifactType"));
                let bytes =
                    read_limited(resp, MAX_MANIFEST_SIZE).map_err(|m| self.protocol(&op, m))?;
                let index: Index = serde_json::from_slice(&bytes).map_err(|e| {
                    self.protocol(&op, format!("referrers answer is not an image index: {e}"))
                })?;
                let manifests = if filtered {
                    index.manifests
                } else {
                    oci::filter_artifact_type(index.manifests, artifact_type)
                };
                return Ok(Referrers {
                    source: ReferrersSource::Api,
                    manifests,
                });
            }
            if !matches!(status, 404 | 405) {
                self.client.check(&op, resp, &[200], "")?;
                return Err(self.protocol(&op, format!("unexpected HTTP {status}")));
            }
            tracing::debug!(
                "{}/{}: no referrers API (HTTP {status}); using the tag schema",
                self.registry(),
                self.repository
            );
            self.remember_api(false);
        }
        let tag = oci::referrers_tag(subject);
        let manifests = self
            .read_referrers_tag(&tag)?
            .map(|i| i.manifests)
            .unwrap_or_default();
        Ok(Referrers {
            source: ReferrersSource::TagSchema,
            manifests: oci::filter_artifact_type(manifests, artifact_type),
        })
    }

    fn remember_api(&self, has: bool) {
        match self.referrers_api.lock() {
            Ok(mut g) => *g = Some(has),
            Err(p) => *p.into_inner() = Some(has),
        }
    }

    /// Lists the repository's tags (following `Link` pagination, bounded).
    pub fn list_tags(&self) -> Result<Vec<String>, RegistryError> {
        let op = self.op("list tags of");
        let mut url = self.client.url(&self.repository, "tags/list", "");
        let mut tags = Vec::new();
        for _ in 0..1000 {
            let resp = self.client.send(&op, "GET", &url, &[], Payload::Empty)?;
            let resp = self.client.check(
                &op,
                resp,
                &[200],
                &format!("repository {} not found", self.repository),
            )?;
            let next = header(&resp, "link").and_then(|l| parse_link(&l));
            let bytes = read_limited(resp, 16 << 20).map_err(|m| self.protocol(&op, m))?;
            let doc: serde_json::Value = serde_json::from_slice(&bytes)
                .map_err(|e| self.protocol(&op, format!("tag list is not JSON: {e}")))?;
            if let Some(list) = doc.get("tags").and_then(|t| t.as_array()) {
                tags.extend(list.iter().filter_map(|t| t.as_str().map(str::to_string)));
            }
            if tags.len() > MAX_TAGS {
                return Err(self.protocol(&op, format!("more than {MAX_TAGS} tags")));
            }
            match next {
                Some(n) => url = self.absolute(&n),
                None => return Ok(tags),
            }
        }
        Err(self.protocol(&op, "tag list pagination does not end".into()))
    }

    /// Deletes a manifest by digest (or by tag, where the registry supports that; Debian's
    /// distribution 2.8 deletes by digest only and must run with `delete: enabled`).
    pub fn delete_manifest(&self, reference: &str) -> Result<(), RegistryError> {
        let op = Op {
            access: Access::Delete,
            ..self.op(&format!("delete manifest {reference} from"))
        };
        let url = self.client.url(&self.repository, "manifests", reference);
        let resp = self.client.send(&op, "DELETE", &url, &[], Payload::Empty)?;
        self.client.check(
            &op,
            resp,
            &[200, 202],
            &format!("manifest {reference:?} not found"),
        )?;
        Ok(())
    }

    /// Deletes a blob (distribution with `delete: enabled`; many hosted registries answer
    /// 405 Unsupported, reported as such).
    pub fn delete_blob(&self, digest: &str) -> Result<(), RegistryError> {
        let op = Op {
            access: Access::Delete,
            ..self.op(&format!("delete blob {digest} from"))
        };
        validate_digest(digest).map_err(|m| self.protocol(&op, m))?;
        let url = self.client.url(&self.repository, "blobs", digest);
        let resp = self.client.send(&op, "DELETE", &url, &[], Payload::Empty)?;
        self.client
            .check(&op, resp, &[200, 202], &format!("blob {digest} not found"))?;
        Ok(())
    }
}

/// The target of `Link: </v2/x/tags/list?n=..&last=..>; rel="next"`.
fn parse_link(link: &str) -> Option<String> {
    let (target, params) = link.split_once(';')?;
    if !params.contains("rel=\"next\"") && !params.contains("rel=next") {
        return None;
    }
    let t = target.trim().strip_prefix('<')?.strip_suffix('>')?;
    Some(t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_header() {
        assert_eq!(
            parse_link(r#"</v2/a/tags/list?last=b&n=2>; rel="next""#).as_deref(),
            Some("/v2/a/tags/list?last=b&n=2")
        );
        assert_eq!(parse_link(r#"</x>; rel="prev""#), None);
        assert_eq!(parse_link("garbage"), None);
    }
}
