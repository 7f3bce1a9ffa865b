//! Builders for test images: layer tars, compression, OCI layouts, docker archives.
#![allow(dead_code)]

use bulwark_image::{FileEntry, Visitor};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::Path;

/// How a layer blob is compressed.
#[derive(Clone, Copy, Debug)]
pub enum Comp {
    None,
    Gzip,
    Zstd,
}

impl Comp {
    pub fn media_type(self) -> &'static str {
        match self {
            Comp::None => "application/vnd.oci.image.layer.v1.tar",
            Comp::Gzip => "application/vnd.oci.image.layer.v1.tar+gzip",
            Comp::Zstd => "application/vnd.oci.image.layer.v1.tar+zstd",
        }
    }
}

/// One entry of a test layer.
pub enum E<'a> {
    File(&'a str, &'a [u8]),
    Dir(&'a str),
    Symlink(&'a str, &'a str),
    Hardlink(&'a str, &'a str),
    Fifo(&'a str),
}

pub fn sha256(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

/// A layer tar from entries (GNU headers, mode 0644/0755).
pub fn layer_tar(entries: &[E<'_>]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_gnu();
        h.set_mtime(0);
        match e {
            E::File(p, data) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(0o644);
                h.set_size(data.len() as u64);
                b.append_data(&mut h, p, *data).unwrap();
            }
            E::Dir(p) => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
                h.set_size(0);
                b.append_data(&mut h, p, std::io::empty()).unwrap();
            }
            E::Symlink(p, t) => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_mode(0o777);
                h.set_size(0);
                b.append_link(&mut h, p, t).unwrap();
            }
            E::Hardlink(p, t) => {
                h.set_entry_type(tar::EntryType::Link);
                h.set_mode(0o644);
                h.set_size(0);
                b.append_link(&mut h, p, t).unwrap();
            }
            E::Fifo(p) => {
                h.set_entry_type(tar::EntryType::Fifo);
                h.set_mode(0o644);
                h.set_size(0);
                b.append_data(&mut h, p, std::io::empty()).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

/// A raw 512-byte GNU header with any name and size (the tar crate refuses `..` and
/// absolute names, which is exactly what the bad-input tests need).
pub fn raw_header(name: &str, size: u64, kind: tar::EntryType) -> [u8; 512] {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(0o644);
    h.set_size(size);
    h.set_mtime(0);
    {
        let bytes = h.as_mut_bytes();
        bytes[..100].fill(0);
        bytes[..name.len()].copy_from_slice(name.as_bytes());
    }
    h.set_cksum();
    *h.as_bytes()
}

/// A tar made of raw headers + data, padded and terminated.
pub fn raw_tar(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, data) in members {
        out.extend_from_slice(&raw_header(
            name,
            data.len() as u64,
            tar::EntryType::Regular,
        ));
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.extend_from_slice(&[0u8; 1024]);
    out
}

pub fn compress(data: &[u8], c: Comp) -> Vec<u8> {
    match c {
        Comp::None => data.to_vec(),
        Comp::Gzip => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        Comp::Zstd => zstd::encode_all(data, 3).unwrap(),
    }
}

/// A built layer: uncompressed tar and stored blob.
pub struct Layer {
    pub tar: Vec<u8>,
    pub blob: Vec<u8>,
    pub comp: Comp,
}

impl Layer {
    pub fn new(tar: Vec<u8>, comp: Comp) -> Self {
        let blob = compress(&tar, comp);
        Layer { tar, blob, comp }
    }
    pub fn diff_id(&self) -> String {
        sha256(&self.tar)
    }
    pub fn digest(&self) -> String {
        sha256(&self.blob)
    }
}

pub fn config_json(layers: &[Layer], os: &str, arch: &str, variant: Option<&str>) -> Vec<u8> {
    let mut history = vec![json!({"created_by": "ENV A=1", "empty_layer": true})];
    for i in 0..layers.len() {
        history.push(json!({"created_by": format!("RUN step {i}")}));
    }
    let mut c = json!({
        "architecture": arch,
        "os": os,
        "config": {"Env": ["PATH=/usr/bin"]},
        "rootfs": {"type": "layers", "diff_ids": layers.iter().map(Layer::diff_id).collect::<Vec<_>>()},
        "history": history,
    });
    if let Some(v) = variant {
        c["variant"] = json!(v);
    }
    serde_json::to_vec(&c).unwrap()
}

/// Writes a blob into an OCI layout and returns its digest.
pub fn put_blob(dir: &Path, data: &[u8]) -> String {
    let d = sha256(data);
    let p = dir.join("blobs/sha256");
    std::fs::create_dir_all(&p).unwrap();
    std::fs::write(p.join(&d[7..]), data).unwrap();
    d
}

/// Writes config + manifest for `layers` into an OCI layout; returns (manifest digest,
/// manifest size, config digest).
pub fn put_image(
    dir: &Path,
    layers: &[Layer],
    os: &str,
    arch: &str,
    variant: Option<&str>,
) -> (String, usize, String) {
    let config = config_json(layers, os, arch, variant);
    let cd = put_blob(dir, &config);
    let mut ls = Vec::new();
    for l in layers {
        let d = put_blob(dir, &l.blob);
        ls.push(json!({"mediaType": l.comp.media_type(), "digest": d, "size": l.blob.len()}));
    }
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": config.len()},
        "layers": ls,
    }))
    .unwrap();
    let md = put_blob(dir, &manifest);
    (md, manifest.len(), cd)
}

/// A single-image OCI layout tagged `tag`.
pub fn oci_layout(dir: &Path, layers: &[Layer], tag: &str) -> (String, String) {
    std::fs::create_dir_all(dir).unwrap();
    let (md, size, cd) = put_image(dir, layers, "linux", "amd64", None);
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let index = json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": md, "size": size,
            "annotations": {"org.opencontainers.image.ref.name": tag},
        }],
    });
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    (md, cd)
}

/// Packs a directory into an uncompressed tar (like `tar -C dir -cf out .`).
pub fn tar_dir(dir: &Path, out: &Path) {
    let f = std::fs::File::create(out).unwrap();
    let mut b = tar::Builder::new(f);
    b.append_dir_all(".", dir).unwrap();
    b.finish().unwrap();
}

/// Writes a docker-archive. `classic`: `<id>/layer.tar` + `<hex>.json`; else the
/// `blobs/sha256/` layout of Docker 25+.
pub fn docker_archive(out: &Path, layers: &[Layer], tags: &[&str], classic: bool) -> String {
    let config = config_json(layers, "linux", "amd64", None);
    let cd = sha256(&config);
    let mut b = tar::Builder::new(std::fs::File::create(out).unwrap());
    let mut add = |name: &str, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(0);
        b.append_data(&mut h, name, data).unwrap();
    };
    let config_name = if classic {
        format!("{}.json", &cd[7..])
    } else {
        format!("blobs/sha256/{}", &cd[7..])
    };
    add(&config_name, &config);
    let mut names = Vec::new();
    for (i, l) in layers.iter().enumerate() {
        let name = if classic {
            format!("{:064x}/layer.tar", i + 1)
        } else {
            format!("blobs/sha256/{}", &l.digest()[7..])
        };
        add(&name, &l.blob);
        names.push(name);
    }
    let manifest = json!([{"Config": config_name, "RepoTags": tags, "Layers": names}]);
    add("manifest.json", &serde_json::to_vec(&manifest).unwrap());
    b.finish().unwrap();
    cd
}

/// A visitor that wants everything (or paths passing `filter`) and returns the content.
pub struct Collect {
    pub filter: fn(&str) -> bool,
}

impl Collect {
    pub fn all() -> Self {
        Collect { filter: |_| true }
    }
}

impl Visitor for Collect {
    type Output = String;
    fn wants(&self, path: &str, _size: u64, _mode: u32) -> bool {
        (self.filter)(path)
    }
    fn visit(&self, file: FileEntry<'_>) -> String {
        let mut s = String::new();
        std::io::Read::read_to_string(file.reader, &mut s).unwrap();
        assert_eq!(s.len() as u64, file.size, "size of {}", file.path);
        s
    }
}
