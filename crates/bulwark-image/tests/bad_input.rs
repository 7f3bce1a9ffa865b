//! Malformed and hostile images: every failure is a typed error naming the layer and the
//! path, and nothing hangs or allocates what a header claims.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic: that is its failure

mod common;

use bulwark_image::{open, walk, ImageError, OpenOptions, Target, WalkOptions};
use common::*;
use std::path::Path;

/// Opens a single-layer OCI layout made from `blob` (already compressed as given).
fn image_with_blob(dir: &Path, tar: Vec<u8>, blob: Vec<u8>, comp: Comp) -> (Target, String) {
    let l = Layer { tar, blob, comp };
    let digest = l.digest();
    oci_layout(dir, &[l], "t");
    (
        open(dir.to_str().unwrap(), &OpenOptions::default()).unwrap(),
        digest,
    )
}

fn layer_error(r: Result<bulwark_image::Walk<String>, ImageError>) -> (String, String, String) {
    match r {
        Err(ImageError::Layer {
            digest,
            path,
            message,
        }) => (digest, path, message),
        other => panic!("expected a layer error, got {other:?}"),
    }
}

fn good_tar() -> Vec<u8> {
    layer_tar(&[
        E::File("etc/first", b"1"),
        E::File("etc/second", &[7u8; 5000]),
        E::File("etc/third", b"3"),
    ])
}

#[test]
fn corrupt_tar_names_last_good_entry() {
    let tmp = tempfile::tempdir().unwrap();
    let mut tar = good_tar();
    // Smash the third header's checksum region.
    let third = 512 + 512 + 512 + 5120;
    tar[third + 148..third + 156].copy_from_slice(b"garbage!");
    let (t, d) = image_with_blob(tmp.path(), tar.clone(), tar, Comp::None);
    let (digest, path, message) = layer_error(walk(&t, &Collect::all(), &WalkOptions::default()));
    assert_eq!(digest, d);
    assert_eq!(path, "etc/second", "{message}");
}

#[test]
fn truncated_gzip() {
    let tmp = tempfile::tempdir().unwrap();
    let tar = good_tar();
    let mut gz = compress(&tar, Comp::Gzip);
    gz.truncate(gz.len() / 2);
    let (t, d) = image_with_blob(tmp.path(), tar, gz, Comp::Gzip);
    let (digest, path, message) = layer_error(walk(&t, &Collect::all(), &WalkOptions::default()));
    assert_eq!(digest, d);
    assert!(path.starts_with("etc/") || path == "-", "{path}");
    assert!(
        message.contains("truncated") || message.contains("corrupt"),
        "{message}"
    );
}

#[test]
fn truncated_zstd() {
    let tmp = tempfile::tempdir().unwrap();
    // Incompressible content so the cut lands inside file data.
    let noise: Vec<u8> = (0..400_000u64)
        .map(|i| (i.wrapping_mul(6364136223846793005).rotate_left(29) >> 56) as u8)
        .collect();
    let tar = layer_tar(&[E::File("a/first", b"1"), E::File("a/noise", &noise)]);
    let mut z = compress(&tar, Comp::Zstd);
    z.truncate(z.len() / 2);
    let (t, d) = image_with_blob(tmp.path(), tar, z, Comp::Zstd);
    let (digest, path, _message) = layer_error(walk(&t, &Collect::all(), &WalkOptions::default()));
    assert_eq!(digest, d);
    assert!(path == "a/noise" || path == "a/first", "{path}");
}

#[test]
fn digest_mismatch_fails_the_walk() {
    let tmp = tempfile::tempdir().unwrap();
    let tar = good_tar();
    let gz = compress(&tar, Comp::Gzip);
    let (t, d) = image_with_blob(tmp.path(), tar.clone(), gz, Comp::Gzip);
    // Replace the stored blob with other (valid) content after the manifest was written.
    let blob_path = tmp.path().join("blobs/sha256").join(&d[7..]);
    let other = compress(&layer_tar(&[E::File("etc/first", b"evil")]), Comp::Gzip);
    std::fs::write(&blob_path, &other).unwrap();
    match walk(&t, &Collect::all(), &WalkOptions::default()) {
        Err(ImageError::DigestMismatch {
            what,
            expected,
            actual,
        }) => {
            assert!(what.contains(&d));
            assert_eq!(expected, d);
            assert_eq!(actual, sha256(&other));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn trailing_bytes_are_covered_by_the_digest() {
    // A plain tar whose end-of-archive blocks differ still streams the same entries, but
    // the digest must cover every byte, so a tampered tail is caught.
    let tmp = tempfile::tempdir().unwrap();
    let tar = good_tar();
    let (t, d) = image_with_blob(tmp.path(), tar.clone(), tar.clone(), Comp::None);
    let mut tampered = tar;
    tampered.extend_from_slice(&[0u8; 512]);
    std::fs::write(tmp.path().join("blobs/sha256").join(&d[7..]), &tampered).unwrap();
    assert!(matches!(
        walk(&t, &Collect::all(), &WalkOptions::default()),
        Err(ImageError::DigestMismatch { .. })
    ));
}

#[test]
fn missing_layer_blob() {
    let tmp = tempfile::tempdir().unwrap();
    let l = Layer::new(good_tar(), Comp::Gzip);
    let d = l.digest();
    oci_layout(tmp.path(), &[l], "t");
    std::fs::remove_file(tmp.path().join("blobs/sha256").join(&d[7..])).unwrap();
    match open(tmp.path().to_str().unwrap(), &OpenOptions::default()) {
        Err(ImageError::MissingBlob { digest, what }) => {
            assert_eq!(digest, d);
            assert!(what.contains("layer 0"), "{what}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn manifest_pointing_to_missing_config() {
    let tmp = tempfile::tempdir().unwrap();
    let l = Layer::new(good_tar(), Comp::Gzip);
    let (_md, cd) = oci_layout(tmp.path(), &[l], "t");
    std::fs::remove_file(tmp.path().join("blobs/sha256").join(&cd[7..])).unwrap();
    match open(tmp.path().to_str().unwrap(), &OpenOptions::default()) {
        Err(ImageError::MissingBlob { digest, what }) => {
            assert_eq!(digest, cd);
            assert!(what.contains("config"), "{what}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn tampered_config_is_a_digest_mismatch() {
    let tmp = tempfile::tempdir().unwrap();
    let l = Layer::new(good_tar(), Comp::Gzip);
    let (_md, cd) = oci_layout(tmp.path(), &[l], "t");
    std::fs::write(tmp.path().join("blobs/sha256").join(&cd[7..]), b"{}").unwrap();
    assert!(matches!(
        open(tmp.path().to_str().unwrap(), &OpenOptions::default()),
        Err(ImageError::DigestMismatch { .. })
    ));
}

#[test]
fn path_traversal_entry() {
    let tmp = tempfile::tempdir().unwrap();
    let tar = raw_tar(&[("ok", b"1"), ("a/../../etc/passwd", b"x")]);
    let (t, d) = image_with_blob(tmp.path(), tar.clone(), tar, Comp::None);
    let (digest, path, message) = layer_error(walk(&t, &Collect::all(), &WalkOptions::default()));
    assert_eq!(digest, d);
    assert_eq!(path, "a/../../etc/passwd");
    assert!(message.contains(".."), "{message}");
}

#[test]
fn absolute_path_entry() {
    let tmp = tempfile::tempdir().unwrap();
    let tar = raw_tar(&[("/etc/shadow", b"x")]);
    let (t, d) = image_with_blob(
        tmp.path(),
        tar.clone(),
        compress(&tar, Comp::Gzip),
        Comp::Gzip,
    );
    let (digest, path, message) = layer_error(walk(&t, &Collect::all(), &WalkOptions::default()));
    assert_eq!(digest, d);
    assert_eq!(path, "/etc/shadow");
    assert!(message.contains("absolute"), "{message}");
}

#[test]
fn decompression_bomb() {
    let tmp = tempfile::tempdir().unwrap();
    let zeros = vec![0u8; 8 << 20];
    let tar = layer_tar(&[E::File("zeros", &zeros)]);
    let gz = compress(&tar, Comp::Gzip);
    assert!(gz.len() < 100_000);
    let (t, d) = image_with_blob(tmp.path(), tar, gz, Comp::Gzip);
    let opts = WalkOptions {
        max_layer_bytes: 1 << 20,
        ..WalkOptions::default()
    };
    let (digest, path, message) = layer_error(walk(&t, &Collect::all(), &opts));
    assert_eq!(digest, d);
    assert_eq!(path, "zeros");
    assert!(message.contains("decompression bomb"), "{message}");
    // Not wanted: still a bomb, detected while skipping.
    let none = Collect { filter: |_| false };
    let (_, _, message) = layer_error(walk(&t, &none, &opts));
    assert!(message.contains("decompression bomb"), "{message}");
}

#[test]
fn wanted_file_over_max_file_bytes_is_skipped_with_warning() {
    let tmp = tempfile::tempdir().unwrap();
    let big = vec![b'b'; 10_000];
    let tar = layer_tar(&[E::File("big", &big), E::File("small", b"s")]);
    let (t, d) = image_with_blob(
        tmp.path(),
        tar.clone(),
        compress(&tar, Comp::Zstd),
        Comp::Zstd,
    );
    let opts = WalkOptions {
        max_file_bytes: 1000,
        ..WalkOptions::default()
    };
    let w = walk(&t, &Collect::all(), &opts).unwrap();
    let paths: Vec<&str> = w.merged().iter().map(|m| m.path).collect();
    assert_eq!(paths, vec!["small"]);
    // Listed as skipped (the result misses it), not as a mere warning.
    assert!(w.warnings.is_empty(), "{:?}", w.warnings);
    assert_eq!(w.skipped.len(), 1);
    assert_eq!(w.skipped[0].path.as_deref(), Some("big"));
    assert_eq!(w.skipped[0].layer.as_deref(), Some(d.as_str()));
    assert!(w.skipped[0].message.contains("max_file_bytes"));
}

#[test]
fn header_claiming_ten_gigabytes_in_short_archive() {
    let tmp = tempfile::tempdir().unwrap();
    let mut tar = raw_tar(&[("before", b"ok")]);
    tar.truncate(1024); // drop end-of-archive blocks
    tar.extend_from_slice(&raw_header("huge", 10_000_000_000, tar::EntryType::Regular));
    tar.extend_from_slice(&[1u8; 4096]);
    let (t, d) = image_with_blob(tmp.path(), tar.clone(), tar, Comp::None);
    // Wanted (and above max_file_bytes), wanted below it, and not wanted: all fail cleanly.
    for opts in [
        WalkOptions::default(),
        WalkOptions {
            max_file_bytes: 20_000_000_000,
            spool_threshold: 20_000_000_000,
            ..WalkOptions::default()
        },
    ] {
        let (digest, path, message) = layer_error(walk(&t, &Collect::all(), &opts));
        assert_eq!(digest, d);
        assert!(path == "huge" || path == "before", "{path}: {message}");
    }
    let none = Collect { filter: |_| false };
    let (digest, _, _) = layer_error(walk(&t, &none, &WalkOptions::default()));
    assert_eq!(digest, d);
}

#[test]
fn garbage_index_json_is_a_format_error() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("oci-layout"), b"{}").unwrap();
    std::fs::write(tmp.path().join("index.json"), b"{not json").unwrap();
    match open(tmp.path().to_str().unwrap(), &OpenOptions::default()) {
        Err(ImageError::Format { what, .. }) => assert!(what.contains("index.json")),
        other => panic!("{other:?}"),
    }
}
