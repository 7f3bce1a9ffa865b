//! Fail closed on targets that are not what they claim (issue 12, item 4): every archive
//! that is not a readable image, and every single file nothing recognises, is exit 2 with
//! a message naming the file and what is wrong — never a "clean" scan of a "file".
//! Symlinked lock files in a directory are read through the link, inside the root only.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic: that is its failure

mod common;
#[path = "../../bulwark-image/tests/common/mod.rs"]
mod img;

use img::{Comp, Layer, E};
use std::io::Write;
use std::path::Path;
use std::process::Output;

const STATUS: &[u8] = b"Package: tzdata\nStatus: install ok installed\nArchitecture: all\nVersion: 2024a-0+deb12u1\n\nPackage: zlib1g\nStatus: install ok installed\nArchitecture: amd64\nSource: zlib\nVersion: 1:1.2.13.dfsg-1\n";
const OS_RELEASE: &[u8] =
    b"ID=debian\nVERSION_ID=\"12\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n";
const LOCK: &str = r#"{"name":"app","lockfileVersion":3,"requires":true,"packages":{"":{"name":"app"},"node_modules/left-pad":{"version":"1.3.0"}}}"#;

fn base_layer() -> Layer {
    Layer::new(
        img::layer_tar(&[
            E::File("etc/os-release", OS_RELEASE),
            E::File("var/lib/dpkg/status", STATUS),
        ]),
        Comp::None,
    )
}

fn sbom(target: &Path, extra: &[&str]) -> Output {
    let t = target.to_str().expect("utf-8 path");
    let mut args = vec!["sbom", "-f", "json", t];
    args.extend_from_slice(extra);
    common::run(&args)
}

/// Asserts exit 2 and a message naming the file and each of `words`.
fn assert_rejected(o: &Output, file: &Path, words: &[&str]) {
    let err = common::stderr(o);
    assert_eq!(o.status.code(), Some(2), "expected exit 2; stderr: {err}");
    assert!(o.stdout.is_empty(), "no report on a rejected target");
    let name = file.file_name().unwrap().to_str().unwrap();
    assert!(err.contains(name), "message names the file: {err}");
    for w in words {
        assert!(err.contains(w), "message says {w:?}: {err}");
    }
}

fn json(o: &Output) -> serde_json::Value {
    assert_eq!(o.status.code(), Some(0), "stderr: {}", common::stderr(o));
    serde_json::from_slice(&o.stdout).expect("JSON report")
}

#[test]
fn random_bytes_named_tar_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("img.tar");
    // Deterministic noise (an LCG), not a tar header.
    let mut x: u32 = 12345;
    let bytes: Vec<u8> = (0..10_000)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (x >> 16) as u8
        })
        .collect();
    std::fs::write(&p, bytes).unwrap();
    assert_rejected(
        &sbom(&p, &[]),
        &p,
        &[
            "not a readable container image",
            "docker-archive or OCI archive",
            "not a tar header",
        ],
    );
    // --allow-unknown is about unrecognised plain files, never about broken archives.
    assert_rejected(&sbom(&p, &["--allow-unknown"]), &p, &["not a tar header"]);
}

#[test]
fn tar_of_a_source_folder_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("package-lock.json"), LOCK).unwrap();
    std::fs::write(src.join("index.js"), "module.exports = 1;\n").unwrap();
    let p = dir.path().join("source.tar");
    img::tar_dir(&src, &p);
    assert_rejected(
        &sbom(&p, &[]),
        &p,
        &[
            "without manifest.json",
            "index.json",
            "extract it and scan the directory",
        ],
    );
    // The same tar without a .tar name is still sniffed as a tar.
    let q = dir.path().join("source.bin");
    std::fs::copy(&p, &q).unwrap();
    assert_rejected(&sbom(&q, &[]), &q, &["without manifest.json"]);
}

#[test]
fn gzipped_oci_archive_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("layout");
    img::oci_layout(&layout, &[base_layer()], "app:1");
    let tar = dir.path().join("app.oci.tar");
    img::tar_dir(&layout, &tar);
    // Control: the uncompressed archive is a readable image with both packages.
    let r = json(&sbom(&tar, &[]));
    assert_eq!(r["target"]["kind"], "image");
    assert_eq!(r["packages"].as_array().unwrap().len(), 2);

    let gz = dir.path().join("app.oci.tar.gz");
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(&std::fs::read(&tar).unwrap()).unwrap();
    std::fs::write(&gz, e.finish().unwrap()).unwrap();
    assert_rejected(&sbom(&gz, &[]), &gz, &["gzip-compressed", "gunzip"]);
    // Magic, not the name, decides.
    let renamed = dir.path().join("app-oci.tar");
    std::fs::copy(&gz, &renamed).unwrap();
    assert_rejected(&sbom(&renamed, &[]), &renamed, &["gzip-compressed"]);

    let zst = dir.path().join("app.oci.tar.zst");
    std::fs::write(
        &zst,
        zstd::encode_all(&std::fs::read(&tar).unwrap()[..], 3).unwrap(),
    )
    .unwrap();
    assert_rejected(&sbom(&zst, &[]), &zst, &["zstd-compressed"]);
}

#[test]
fn truncated_docker_archive_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let full = dir.path().join("full.docker.tar");
    img::docker_archive(&full, &[base_layer()], &["app:1"], false);
    let bytes = std::fs::read(&full).unwrap();
    // Control: the whole archive reads.
    let r = json(&sbom(&full, &[]));
    assert_eq!(r["packages"].as_array().unwrap().len(), 2);
    // Cut inside the config, inside the layer, inside a header, before manifest.json, and
    // just short of the end-of-archive blocks' predecessor.
    let len = bytes.len();
    for cut in [
        700,
        len / 2,
        512 * 3 + 100,
        len - 1024 - 512 - 10,
        len - 2048,
    ] {
        let p = dir.path().join(format!("cut-{cut}.tar"));
        std::fs::write(&p, &bytes[..cut]).unwrap();
        let o = sbom(&p, &[]);
        let err = common::stderr(&o);
        assert_eq!(o.status.code(), Some(2), "cut at {cut} of {len}: {err}");
        assert!(
            err.contains(&format!("cut-{cut}.tar")),
            "names the file: {err}"
        );
        assert!(
            err.contains("truncated") || err.contains("manifest.json") || err.contains("corrupt"),
            "cut at {cut}: says what is wrong: {err}"
        );
    }
}

#[test]
fn unknown_single_file_is_an_error_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("notes.txt");
    std::fs::write(&p, "just some notes\n").unwrap();
    assert_rejected(
        &sbom(&p, &[]),
        &p,
        &["no cataloger recognises", "--allow-unknown"],
    );

    let o = sbom(&p, &["--allow-unknown"]);
    let r = json(&o);
    assert_eq!(r["target"]["kind"], "file");
    assert!(r["packages"].as_array().unwrap().is_empty());
    let warnings = r["warnings"].to_string();
    assert!(
        warnings.contains("no package cataloger recognises"),
        "{warnings}"
    );
    assert!(common::stderr(&o).contains("notes.txt"), "warning printed");

    // A recognised single file still scans (control).
    let lock = dir.path().join("package-lock.json");
    std::fs::write(&lock, LOCK).unwrap();
    let r = json(&sbom(&lock, &[]));
    assert_eq!(r["packages"][0]["name"], "left-pad");
}

#[cfg(unix)]
#[test]
fn symlinked_lock_file_is_read_inside_the_root_only() {
    use std::os::unix::fs::symlink;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let outside = dir.path().join("outside");
    std::fs::create_dir_all(root.join("app")).unwrap();
    std::fs::create_dir_all(root.join("shared")).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    // Inside the root: app/package-lock.json -> ../shared/lock.json.
    std::fs::write(root.join("shared/lock.json"), LOCK).unwrap();
    symlink("../shared/lock.json", root.join("app/package-lock.json")).unwrap();
    // Outside the root, relative and absolute: never followed.
    let secret_lock = LOCK.replace("left-pad", "outside-pkg");
    std::fs::write(outside.join("package-lock.json"), &secret_lock).unwrap();
    std::fs::create_dir_all(root.join("rel")).unwrap();
    std::fs::create_dir_all(root.join("abs")).unwrap();
    symlink(
        "../../../outside/package-lock.json",
        root.join("rel/package-lock.json"),
    )
    .unwrap();
    symlink(
        outside.join("package-lock.json"),
        root.join("abs/package-lock.json"),
    )
    .unwrap();

    let o = sbom(&root, &[]);
    let r = json(&o);
    let pkgs = r["packages"].as_array().unwrap();
    let names: Vec<&str> = pkgs.iter().filter_map(|p| p["name"].as_str()).collect();
    assert_eq!(names, ["left-pad"], "read through the inside link only");
    assert_eq!(pkgs[0]["locations"][0]["path"], "app/package-lock.json");
    let warnings = r["warnings"].as_array().unwrap();
    for link in ["rel/package-lock.json", "abs/package-lock.json"] {
        let w = warnings
            .iter()
            .find(|w| w["path"] == link)
            .unwrap_or_else(|| panic!("a warning for {link}: {warnings:?}"));
        assert!(w["message"].as_str().unwrap().contains("skipped"), "{w}");
    }
    assert!(common::stderr(&o).contains("abs/package-lock.json"));
}
