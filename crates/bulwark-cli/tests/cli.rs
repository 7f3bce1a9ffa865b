//! CLI behaviour on bundled and fixture inputs: formats, SBOM round trips, root
//! filesystems against Trivy's reference output, and bad input (exit code 2 with a
//! message saying what and where).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic: that is its failure

mod common;
use common::purls;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fixtures() -> PathBuf {
    bulwark_fixtures::fixtures_location()
}

fn run(args: &[&str]) -> Output {
    let cache = tempfile::tempdir().expect("tempdir");
    Command::new(env!("CARGO_BIN_EXE_bulwark"))
        .args(args)
        .arg("--cache-dir")
        .arg(cache.path())
        .output()
        .expect("run bulwark")
}

fn ok_json(args: &[&str]) -> Value {
    let out = run(args);
    assert!(
        out.status.success(),
        "bulwark {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json")
}

fn demo() -> String {
    root().join("examples/demo-image").display().to_string()
}

#[test]
fn demo_image_packages_and_deleted_layer() {
    let r = ok_json(&["sbom", &demo(), "--format", "json"]);
    assert_eq!(r["os"]["family"], "alpine");
    assert_eq!(r["os"]["version"], "3.19.0");
    let p = purls(&r);
    assert!(p.contains("pkg:apk/alpine/libssl3@3.1.4-r1?arch=x86_64&distro=3.19.0"));
    assert!(p.contains("pkg:pypi/requests@2.25.0"));
    assert!(p.contains("pkg:npm/lodash@4.17.20"));
    // PyYAML's dist-info was deleted by the last layer; only requirements.txt still
    // names it, so its one location must be that file.
    let pyyaml: Vec<&Value> = r["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .filter(|p| p["name"] == "PyYAML")
        .collect();
    assert_eq!(pyyaml.len(), 1);
    let locs = pyyaml[0]["locations"].as_array().expect("locations");
    assert_eq!(locs.len(), 1, "{locs:?}");
    assert_eq!(locs[0]["path"], "/srv/app/requirements.txt");
}

#[test]
fn sbom_round_trip_cyclonedx_and_spdx() {
    let r = ok_json(&["sbom", &demo(), "--format", "json"]);
    let want = purls(&r);
    let dir = tempfile::tempdir().expect("tempdir");
    for fmt in ["cyclonedx", "spdx"] {
        let file = dir.path().join(format!("demo.{fmt}.json"));
        let out = run(&[
            "sbom",
            &demo(),
            "--format",
            fmt,
            "-o",
            file.to_str().expect("utf8"),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Explicit transport and auto-detection both read it back.
        for target in [
            format!("sbom:{}", file.display()),
            file.display().to_string(),
        ] {
            let back = ok_json(&["sbom", &target, "--format", "json"]);
            assert_eq!(purls(&back), want, "{fmt} via {target}");
            assert_eq!(back["target"]["kind"], "sbom");
            assert_eq!(back["os"]["family"], "alpine");
        }
    }
}

/// A real Debian 12 root filesystem: exactly the purls Trivy 0.76 reported for it
/// (the reference output ships with the fixture).
#[test]
fn debian_rootfs_matches_trivy_reference_exactly() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    let rootfs = fixtures().join("dpkg/debian-bookworm-minbase");
    let r = ok_json(&["sbom", rootfs.to_str().expect("utf8"), "--format", "json"]);
    let trivy: Value = serde_json::from_slice(
        &std::fs::read(fixtures().join("dpkg/debian-bookworm-minbase.trivy-0.76.0.cdx.json"))
            .expect("reference"),
    )
    .expect("json");
    let want: BTreeSet<String> = trivy["components"]
        .as_array()
        .expect("components")
        .iter()
        .filter_map(|c| c["purl"].as_str().map(str::to_string))
        .collect();
    assert_eq!(want.len(), 88);
    assert_eq!(purls(&r), want);
    assert_eq!(r["target"]["kind"], "directory");
}

fn assert_input_error(out: &Output, needles: &[&str]) {
    assert_eq!(
        out.status.code(),
        Some(2),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    for n in needles {
        assert!(err.contains(n), "stderr lacks {n:?}: {err}");
    }
    assert!(!err.contains("panicked"), "{err}");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir") {
        let e = e.expect("entry");
        let dest = to.join(e.file_name());
        if e.file_type().expect("type").is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), &dest).expect("copy");
        }
    }
}

#[test]
fn corrupted_blob_is_a_digest_error_naming_the_blob() {
    let dir = tempfile::tempdir().expect("tempdir");
    let img = dir.path().join("demo");
    copy_dir(&root().join("examples/demo-image"), &img);
    // Flip a byte in the largest blob (a layer).
    let blobs = img.join("blobs/sha256");
    let (victim, _) = std::fs::read_dir(&blobs)
        .expect("blobs")
        .map(|e| {
            let p = e.expect("entry").path();
            let n = std::fs::metadata(&p).expect("meta").len();
            (p, n)
        })
        .max_by_key(|(_, n)| *n)
        .expect("a blob");
    let mut bytes = std::fs::read(&victim).expect("read");
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&victim, bytes).expect("write");
    let digest = victim
        .file_name()
        .and_then(|n| n.to_str())
        .expect("name")
        .to_string();
    let out = run(&["sbom", img.to_str().expect("utf8")]);
    assert_input_error(&out, &[&digest]);
}

#[test]
fn missing_blob_and_bad_targets() {
    let dir = tempfile::tempdir().expect("tempdir");
    let img = dir.path().join("demo");
    copy_dir(&root().join("examples/demo-image"), &img);
    let blobs = img.join("blobs/sha256");
    let layer = std::fs::read_dir(&blobs)
        .expect("blobs")
        .map(|e| e.expect("entry").path())
        .max_by_key(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
        .expect("blob");
    std::fs::remove_file(&layer).expect("rm");
    let name = layer.file_name().and_then(|n| n.to_str()).expect("name");
    assert_input_error(&run(&["sbom", img.to_str().expect("utf8")]), &[name]);

    assert_input_error(
        &run(&["sbom", "/definitely/not/here.tar"]),
        &["/definitely/not/here.tar"],
    );
    let garbage = dir.path().join("garbage.tar");
    std::fs::write(&garbage, vec![0x42u8; 3000]).expect("write");
    let t = format!("docker-archive:{}", garbage.display());
    assert_input_error(&run(&["sbom", &t]), &["garbage.tar"]);
    assert_input_error(
        &run(&["sbom", &demo(), "--format", "bogus"]),
        &["--format bogus"],
    );
    let bad_sbom = dir.path().join("bad.cdx.json");
    std::fs::write(
        &bad_sbom,
        b"{\"bomFormat\": \"CycloneDX\", \"components\": [",
    )
    .expect("w");
    let t = format!("sbom:{}", bad_sbom.display());
    assert_input_error(&run(&["sbom", &t]), &["bad.cdx.json"]);
}

#[test]
fn output_file_is_written_atomically() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out_file = dir.path().join("out.json");
    std::fs::write(&out_file, b"previous").expect("write");
    // A failing run leaves the previous file untouched.
    let out = run(&[
        "sbom",
        "/definitely/not/here",
        "-o",
        out_file.to_str().expect("utf8"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(std::fs::read(&out_file).expect("read"), b"previous");
    let out = run(&[
        "sbom",
        &demo(),
        "--format",
        "json",
        "-o",
        out_file.to_str().expect("utf8"),
    ]);
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&std::fs::read(&out_file).expect("read")).expect("json");
    assert!(v["packages"].as_array().is_some_and(|p| !p.is_empty()));
}

/// `-o` onto something that is not a regular file writes through it instead of renaming
/// a temp file over it: `-o /dev/null` once replaced the machine's null device with a
/// regular file. A FIFO stays a FIFO (and its reader gets the report); a symlink stays a
/// symlink and its target gets the report.
#[test]
fn output_onto_fifo_or_symlink_writes_through() {
    use std::os::unix::fs::FileTypeExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let demo = demo();
    let sbom_to = |path: &Path| {
        let path = path.to_str().expect("utf-8");
        let out = run(&["sbom", &demo, "--format", "json", "-o", path]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let fifo = dir.path().join("pipe");
    let st = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(st.success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read(fifo).expect("read fifo"))
    };
    sbom_to(&fifo);
    let got = reader.join().expect("reader");
    let report: Value = serde_json::from_slice(&got).expect("json through the fifo");
    assert!(!purls(&report).is_empty());
    assert!(std::fs::symlink_metadata(&fifo)
        .expect("stat")
        .file_type()
        .is_fifo());

    let target = dir.path().join("real.json");
    std::fs::write(&target, "old content that is longer than nothing").expect("write");
    let link = dir.path().join("link.json");
    std::os::unix::fs::symlink(&target, &link).expect("symlink");
    sbom_to(&link);
    assert!(std::fs::symlink_metadata(&link)
        .expect("stat")
        .file_type()
        .is_symlink());
    let report: Value =
        serde_json::from_slice(&std::fs::read(&target).expect("read")).expect("json in target");
    assert!(!purls(&report).is_empty());
}
