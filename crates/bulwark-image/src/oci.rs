//! OCI image-spec documents shared by the registry client and the layout writer:
//! descriptors, image indexes, media types, and the pieces of a manifest that the OCI 1.1
//! referrers mechanism needs (`subject`, `artifactType`, `annotations`).
//!
//! Unknown fields are kept (`extra`) so that rewriting an index someone else wrote — the
//! referrers tag schema's index, a layout's `index.json` — never drops their data.

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use std::collections::BTreeMap;

/// OCI image manifest.
pub const MT_OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index.
pub const MT_OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Docker image manifest (schema 2).
pub const MT_DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker manifest list.
pub const MT_DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// The OCI empty descriptor's media type (config of artifacts without one).
pub const MT_EMPTY: &str = "application/vnd.oci.empty.v1+json";
/// The content of the OCI empty blob.
pub const EMPTY_JSON: &[u8] = b"{}";
/// The annotation naming a tag in a layout's `index.json`.
pub const ANNOTATION_REF_NAME: &str = "org.opencontainers.image.ref.name";
/// Every manifest media type, for `Accept`.
pub const ACCEPT_MANIFESTS: &str = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

/// A content descriptor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Descriptor {
    /// Media type of the referenced content.
    #[serde(rename = "mediaType")]
    pub media_type: String,
    /// `sha256:<hex>`.
    pub digest: String,
    /// Size in bytes.
    pub size: u64,
    /// Artifact type (OCI 1.1), for referrers.
    #[serde(
        rename = "artifactType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub artifact_type: Option<String>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Anything else (`platform`, `urls`, ...), kept as is.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl Descriptor {
    /// A descriptor for `data` of media type `media_type`.
    pub fn for_bytes(media_type: &str, data: &[u8]) -> Descriptor {
        Descriptor {
            media_type: media_type.to_string(),
            digest: sha256_digest(data),
            size: data.len() as u64,
            artifact_type: None,
            annotations: BTreeMap::new(),
            extra: serde_json::Map::new(),
        }
    }
}

/// An image index (also the referrers list).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Index {
    /// Always 2.
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    /// `application/vnd.oci.image.index.v1+json`.
    #[serde(rename = "mediaType", default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The entries.
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Anything else, kept.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl Default for Index {
    fn default() -> Self {
        Index {
            schema_version: 2,
            media_type: Some(MT_OCI_INDEX.to_string()),
            manifests: Vec::new(),
            annotations: BTreeMap::new(),
            extra: serde_json::Map::new(),
        }
    }
}

/// What the referrers mechanism reads from a manifest.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ManifestInfo {
    /// `mediaType`, when the manifest states it.
    #[serde(rename = "mediaType", default)]
    pub media_type: Option<String>,
    /// `artifactType`.
    #[serde(rename = "artifactType", default)]
    pub artifact_type: Option<String>,
    /// The config descriptor (image manifests).
    #[serde(default)]
    pub config: Option<Descriptor>,
    /// `manifests` (indexes).
    #[serde(default)]
    pub manifests: Option<Vec<serde_json::Value>>,
    /// The manifest this one refers to.
    #[serde(default)]
    pub subject: Option<Descriptor>,
    /// Annotations.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

impl ManifestInfo {
    /// Parses the fields above from manifest bytes.
    pub fn parse(bytes: &[u8]) -> Result<ManifestInfo, String> {
        serde_json::from_slice(bytes).map_err(|e| format!("manifest is not valid JSON: {e}"))
    }

    /// The media type to send as `Content-Type`: the stated one, else by shape (an
    /// index has `manifests`).
    pub fn effective_media_type(&self) -> &str {
        match &self.media_type {
            Some(m) if !m.is_empty() => m,
            _ if self.manifests.is_some() => MT_OCI_INDEX,
            _ => MT_OCI_MANIFEST,
        }
    }

    /// The descriptor of this manifest as a referrers-list entry: `artifactType` from the
    /// manifest, else its config's media type; annotations copied (OCI 1.1 rules).
    pub fn referrer_descriptor(&self, bytes: &[u8]) -> Descriptor {
        let mut d = Descriptor::for_bytes(self.effective_media_type(), bytes);
        d.artifact_type = self
            .artifact_type
            .clone()
            .filter(|a| !a.is_empty())
            .or_else(|| self.config.as_ref().map(|c| c.media_type.clone()));
        d.annotations = self.annotations.clone();
        d
    }
}

/// `sha256:<hex>` of `data`.
pub fn sha256_digest(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

/// The referrers tag schema's tag for `digest`: `sha256-<hex>` (algorithm, `-`, hex,
/// truncated to the 128 characters a tag may have).
pub fn referrers_tag(digest: &str) -> String {
    let t = digest.replacen(':', "-", 1);
    t.chars().take(128).collect()
}

/// Keeps the entries whose `artifactType` is `artifact_type` (all when `None`).
pub fn filter_artifact_type(
    entries: Vec<Descriptor>,
    artifact_type: Option<&str>,
) -> Vec<Descriptor> {
    match artifact_type {
        None => entries,
        Some(t) => entries
            .into_iter()
            .filter(|d| d.artifact_type.as_deref() == Some(t))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn referrer_descriptor_follows_oci_rules() {
        let subject = format!("sha256:{}", "a".repeat(64));
        let with_type = format!(
            r#"{{"schemaVersion":2,"mediaType":"{MT_OCI_MANIFEST}","artifactType":"application/x.sig","config":{{"mediaType":"{MT_EMPTY}","digest":"sha256:{e}","size":2}},"layers":[],"subject":{{"mediaType":"{MT_OCI_MANIFEST}","digest":"{subject}","size":9}},"annotations":{{"k":"v"}}}}"#,
            e = "4".repeat(64)
        );
        let info = ManifestInfo::parse(with_type.as_bytes()).unwrap_or_default();
        let d = info.referrer_descriptor(with_type.as_bytes());
        assert_eq!(d.artifact_type.as_deref(), Some("application/x.sig"));
        assert_eq!(d.annotations.get("k").map(String::as_str), Some("v"));
        assert_eq!(d.digest, sha256_digest(with_type.as_bytes()));
        assert_eq!(info.subject.map(|s| s.digest), Some(subject));
        // No artifactType: the config's media type stands in.
        let no_type = r#"{"schemaVersion":2,"config":{"mediaType":"application/x.cfg","digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000","size":2},"layers":[]}"#;
        let info = ManifestInfo::parse(no_type.as_bytes()).unwrap_or_default();
        assert_eq!(info.effective_media_type(), MT_OCI_MANIFEST);
        assert_eq!(
            info.referrer_descriptor(no_type.as_bytes())
                .artifact_type
                .as_deref(),
            Some("application/x.cfg")
        );
        let idx = ManifestInfo::parse(br#"{"schemaVersion":2,"manifests":[]}"#).unwrap_or_default();
        assert_eq!(idx.effective_media_type(), MT_OCI_INDEX);
    }

    #[test]
    fn tag_schema_and_unknown_fields_survive() {
        assert_eq!(
            referrers_tag(&format!("sha256:{}", "b".repeat(64))),
            format!("sha256-{}", "b".repeat(64))
        );
        let text = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"m","digest":"sha256:x","size":1,"platform":{"os":"linux"}}],"x-extra":1}"#;
        let idx: Index = serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}"));
        let back = serde_json::to_value(&idx).unwrap_or_default();
        assert_eq!(back["x-extra"], 1);
        assert_eq!(back["manifests"][0]["platform"]["os"], "linux");
    }
}
