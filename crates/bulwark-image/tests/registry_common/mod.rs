//! Test harness: the testkit's real `docker-registry` on a loopback port, and helpers
//! that build small images and push them over the registry's raw HTTP API.
#![allow(dead_code)]

use sha2::{Digest as _, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

pub fn sha(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

/// A running `docker-registry` (the testkit's, killed on drop), with the basic-auth user
/// the raw-API helpers below send.
pub struct Registry {
    inner: bulwark_testkit::Registry,
    pub auth: Option<(String, String)>,
}

impl Registry {
    /// Starts a plain-HTTP registry; with `auth`, behind htpasswd basic auth for that
    /// user. `None` when `docker-registry` is not installed (outside CI the test skips,
    /// as every testkit user does).
    pub fn start(auth: Option<(&str, &str)>) -> Option<Registry> {
        let auth = auth.map(|(u, p)| (u.to_string(), p.to_string()));
        let opts = bulwark_testkit::RegistryOptions {
            auth: auth.clone(),
            ..bulwark_testkit::RegistryOptions::plain()
        };
        bulwark_testkit::Registry::start(opts).map(|inner| Registry { inner, auth })
    }

    pub fn base(&self) -> String {
        self.inner.url()
    }

    pub fn host(&self) -> String {
        self.inner.host()
    }

    fn auth_header(&self) -> Option<String> {
        use base64::Engine as _;
        self.auth.as_ref().map(|(u, p)| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
            )
        })
    }

    /// Uploads a blob monolithically; returns its digest.
    pub fn push_blob(&self, repo: &str, data: &[u8]) -> String {
        let agent = agent();
        let digest = sha(data);
        let mut req = agent.post(&format!("{}/v2/{repo}/blobs/uploads/", self.base()));
        if let Some(h) = self.auth_header() {
            req = req.header("Authorization", h);
        }
        let resp = req
            .send_empty()
            .unwrap_or_else(|e| panic!("start upload: {e}"));
        assert_eq!(resp.status().as_u16(), 202, "start upload");
        let loc = resp
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("no Location"))
            .to_string();
        let loc = if loc.starts_with("http") {
            loc
        } else {
            format!("{}{loc}", self.base())
        };
        let sep = if loc.contains('?') { '&' } else { '?' };
        let mut req = agent
            .put(&format!("{loc}{sep}digest={digest}"))
            .header("Content-Type", "application/octet-stream");
        if let Some(h) = self.auth_header() {
            req = req.header("Authorization", h);
        }
        let resp = req.send(data).unwrap_or_else(|e| panic!("upload: {e}"));
        assert_eq!(resp.status().as_u16(), 201, "finish upload");
        digest
    }

    /// PUTs a manifest under `reference` (tag or digest); returns its digest.
    pub fn push_manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &str,
        data: &[u8],
    ) -> String {
        let mut req = agent()
            .put(&format!("{}/v2/{repo}/manifests/{reference}", self.base()))
            .header("Content-Type", media_type);
        if let Some(h) = self.auth_header() {
            req = req.header("Authorization", h);
        }
        let resp = req.send(data).unwrap_or_else(|e| panic!("manifest: {e}"));
        let status = resp.status().as_u16();
        if status != 201 {
            let body = resp.into_body().read_to_string().unwrap_or_default();
            panic!("manifest push answered {status}: {body}");
        }
        sha(data)
    }

    /// The registry's storage file for a blob.
    pub fn blob_data_path(&self, digest: &str) -> PathBuf {
        self.inner.blob_data_path(digest)
    }

    /// Pushes a one-layer image; returns what was pushed.
    pub fn push_image(&self, repo: &str, tag: &str, img: &TestImage) -> String {
        for layer in &img.layers_gz {
            self.push_blob(repo, layer);
        }
        self.push_blob(repo, &img.config);
        self.push_manifest(repo, tag, &img.manifest_media_type, &img.manifest)
    }
}

pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

/// A small image built in memory.
pub struct TestImage {
    pub layers_gz: Vec<Vec<u8>>,
    pub diff_ids: Vec<String>,
    pub config: Vec<u8>,
    pub manifest: Vec<u8>,
    pub manifest_media_type: String,
}

impl TestImage {
    pub fn config_digest(&self) -> String {
        sha(&self.config)
    }
    pub fn manifest_digest(&self) -> String {
        sha(&self.manifest)
    }
    pub fn layer_digests(&self) -> Vec<String> {
        self.layers_gz.iter().map(|l| sha(l)).collect()
    }
}

fn layer(files: &[(&str, &str)]) -> (Vec<u8>, String) {
    let mut b = tar::Builder::new(Vec::new());
    for (path, content) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(content.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(1_700_000_000);
        h.set_cksum();
        b.append_data(&mut h, path, content.as_bytes())
            .unwrap_or_else(|e| panic!("tar: {e}"));
    }
    let tar = b.into_inner().unwrap_or_else(|e| panic!("tar: {e}"));
    let diff_id = sha(&tar);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar).unwrap_or_else(|e| panic!("gz: {e}"));
    (gz.finish().unwrap_or_else(|e| panic!("gz: {e}")), diff_id)
}

/// Builds a two-layer image for `arch`; `oci` picks OCI media types over Docker's.
pub fn build_image(arch: &str, oci: bool, marker: &str) -> TestImage {
    let (l1, d1) = layer(&[("etc/os-release", "ID=bulwarktest\nVERSION_ID=1\n")]);
    let (l2, d2) = layer(&[("app/marker.txt", marker)]);
    let config = serde_json::json!({
        "architecture": arch,
        "os": "linux",
        "config": {"Env": ["PATH=/usr/bin"]},
        "rootfs": {"type": "layers", "diff_ids": [d1, d2]},
        "history": [
            {"created_by": "ADD rootfs /"},
            {"created_by": "ENV A=1", "empty_layer": true},
            {"created_by": format!("COPY marker {marker}")}
        ]
    });
    let config = serde_json::to_vec(&config).unwrap_or_else(|e| panic!("{e}"));
    let (mt, cfg_mt, layer_mt) = if oci {
        (OCI_MANIFEST, OCI_CONFIG, OCI_LAYER)
    } else {
        (DOCKER_MANIFEST, DOCKER_CONFIG, DOCKER_LAYER)
    };
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": mt,
        "config": {"mediaType": cfg_mt, "digest": sha(&config), "size": config.len()},
        "layers": [
            {"mediaType": layer_mt, "digest": sha(&l1), "size": l1.len()},
            {"mediaType": layer_mt, "digest": sha(&l2), "size": l2.len()}
        ]
    });
    TestImage {
        layers_gz: vec![l1, l2],
        diff_ids: vec![d1, d2],
        config,
        manifest: serde_json::to_vec(&manifest).unwrap_or_else(|e| panic!("{e}")),
        manifest_media_type: mt.to_string(),
    }
}

/// Options for a loopback registry, anonymous (no docker config is read unless a test
/// names one, so the developer's own `~/.docker/config.json` never leaks into a test).
pub fn options(cache: &Path) -> bulwark_image::registry::RegistryOptions {
    let mut o = bulwark_image::registry::RegistryOptions::new(cache);
    o.config.insecure = true;
    o
}
