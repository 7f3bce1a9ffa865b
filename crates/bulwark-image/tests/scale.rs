//! Memory bound at scale: 1,000,000 files over four layers plus a single 4 GiB file must be
//! walked with peak RSS under 128 MiB. It needs a release build, so it is ignored in the
//! dev run; `scripts/test.sh` (and so CI) runs it as
//! `cargo nextest run --cargo-profile release -p bulwark-image --test scale --run-ignored ignored-only`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic: that is its failure

mod common;

use bulwark_image::{open, walk, FileEntry, OpenOptions, Visitor, WalkOptions};
use common::{put_blob, sha256};
use std::io::{Read, Write};

struct Manifests;

impl Visitor for Manifests {
    type Output = u64;
    fn wants(&self, path: &str, _size: u64, _mode: u32) -> bool {
        path.ends_with("/package.json")
    }
    fn visit(&self, file: FileEntry<'_>) -> u64 {
        let mut s = Vec::new();
        file.reader.read_to_end(&mut s).unwrap();
        s.len() as u64
    }
}

/// Writes a gzip layer blob streamed through a hasher; returns (digest, diff id, size).
fn write_layer(
    dir: &std::path::Path,
    fill: impl FnOnce(&mut tar::Builder<&mut dyn Write>),
) -> (String, String, u64) {
    struct Tee<W: Write> {
        inner: W,
        h: sha2::Sha256,
    }
    impl<W: Write> Write for Tee<W> {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            use sha2::Digest;
            let n = self.inner.write(b)?;
            self.h.update(&b[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            self.inner.flush()
        }
    }
    use sha2::Digest;
    let tmp_path = dir.join("tmp-blob");
    let file = std::io::BufWriter::new(std::fs::File::create(&tmp_path).unwrap());
    let gz = flate2::write::GzEncoder::new(
        Tee {
            inner: file,
            h: sha2::Sha256::new(),
        },
        flate2::Compression::fast(),
    );
    let mut raw = Tee {
        inner: gz,
        h: sha2::Sha256::new(),
    };
    {
        let w: &mut dyn Write = &mut raw;
        let mut b = tar::Builder::new(w);
        fill(&mut b);
        b.finish().unwrap();
    }
    let diff_id = format!("sha256:{}", hex::encode(raw.h.finalize()));
    let mut tee = raw.inner.finish().unwrap();
    tee.flush().unwrap();
    let digest = format!("sha256:{}", hex::encode(tee.h.finalize()));
    let size = std::fs::metadata(&tmp_path).unwrap().len();
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    std::fs::rename(&tmp_path, blobs.join(&digest[7..])).unwrap();
    (digest, diff_id, size)
}

fn peak_rss_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[test]
#[ignore]
fn million_files_and_a_4gib_file_in_bounded_memory() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut layers = Vec::new();
    for l in 0..4u32 {
        layers.push(write_layer(dir, |b| {
            for i in 0..250_000u32 {
                let name = if i % 100 == 0 {
                    format!("l{l}/d{}/m{i}/package.json", i % 1000)
                } else {
                    format!("l{l}/d{}/f{i}.txt", i % 1000)
                };
                let data = format!("{{\"n\":{i}}}");
                let mut h = tar::Header::new_gnu();
                h.set_size(data.len() as u64);
                h.set_mode(0o644);
                b.append_data(&mut h, name, data.as_bytes()).unwrap();
            }
        }));
    }
    layers.push(write_layer(dir, |b| {
        let size = 4u64 << 30;
        let mut h = tar::Header::new_gnu();
        h.set_size(size);
        h.set_mode(0o644);
        b.append_data(&mut h, "big/blob.bin", std::io::repeat(0).take(size))
            .unwrap();
    }));
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": layers.iter().map(|l| l.1.clone()).collect::<Vec<_>>()},
    }))
    .unwrap();
    let cd = put_blob(dir, &config);
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": config.len()},
        "layers": layers.iter().map(|l| serde_json::json!({
            "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": l.0, "size": l.2})).collect::<Vec<_>>(),
    }))
    .unwrap();
    let md = put_blob(dir, &manifest);
    assert_eq!(md, sha256(&manifest));
    std::fs::write(
        dir.join("index.json"),
        serde_json::to_vec(&serde_json::json!({"schemaVersion": 2, "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": manifest.len()}]}))
        .unwrap(),
    )
    .unwrap();
    std::fs::write(
        dir.join("oci-layout"),
        b"{\"imageLayoutVersion\":\"1.0.0\"}",
    )
    .unwrap();

    let before = peak_rss_kib();
    let started = std::time::Instant::now();
    let t = open(dir.to_str().unwrap(), &OpenOptions::default()).unwrap();
    let w = walk(&t, &Manifests, &WalkOptions::default()).unwrap();
    let merged = w.merged();
    let peak = peak_rss_kib();
    eprintln!(
        "walked in {:?}; peak RSS {} MiB (before walk {} MiB); {} wanted files",
        started.elapsed(),
        peak / 1024,
        before / 1024,
        merged.len()
    );
    assert_eq!(merged.len(), 4 * 2500);
    assert!(peak < 128 * 1024, "peak RSS {peak} KiB");
}
