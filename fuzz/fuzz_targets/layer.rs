//! Fuzz target `layer`: arbitrary bytes as a layer blob (gzip, zstd or plain tar — the
//! walker sniffs), walked with a visitor that wants every file. The blob's digest is
//! computed here so the walk reaches the decompressor and tar parser instead of stopping
//! at the digest check. Any panic, hang or runaway allocation is a bug.
#![no_main]

use bulwark_core::ImageMeta;
use bulwark_image::{
    walk, BlobLocation, FileEntry, Image, LayerBlob, Target, Visitor, WalkOptions,
};
use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha256};
use std::io::Write;

struct ReadAll;

impl Visitor for ReadAll {
    type Output = u64;
    fn wants(&self, _path: &str, _size: u64, _mode: u32) -> bool {
        true
    }
    fn visit(&self, file: FileEntry<'_>) -> u64 {
        let mut buf = Vec::new();
        file.reader
            .read_to_end(&mut buf)
            .map(|n| n as u64)
            .unwrap_or(0)
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(mut f) = tempfile::NamedTempFile::new() else {
        return;
    };
    if f.write_all(data).is_err() {
        return;
    }
    let digest = format!("sha256:{}", hex::encode(Sha256::digest(data)));
    let image = Image {
        meta: ImageMeta::default(),
        layers: vec![LayerBlob {
            digest,
            diff_id: String::new(),
            media_type: None,
            size: data.len() as u64,
            location: BlobLocation::File(f.path().to_path_buf()),
            verified: None,
        }],
        // A walk reads layers only; the config and manifest bytes are for copying.
        config_location: None,
        manifest: None,
    };
    let opts = WalkOptions {
        max_layer_bytes: 64 << 20,
        max_file_bytes: 16 << 20,
        spool_threshold: 1 << 20,
        threads: 1,
        ..WalkOptions::default()
    };
    let _ = walk(&Target::Image(image), &ReadAll, &opts);
});
