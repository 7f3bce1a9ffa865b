//! Real archives from `podman save` (docker-archive, oci-archive, oci-dir). Needs podman;
//! run with `BULWARK_PODMAN_TESTS=1`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic: that is its failure

mod common;

use bulwark_image::{open, walk, OpenOptions, Target, WalkOptions};
use std::process::Command;

fn podman(args: &[&str]) {
    let st = Command::new("podman").args(args).status().unwrap();
    assert!(st.success(), "podman {args:?}");
}

#[test]
fn podman_saved_images_open_and_walk() {
    if std::env::var_os("BULWARK_PODMAN_TESTS").is_none() {
        eprintln!("skipped: set BULWARK_PODMAN_TESTS=1");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::write(root.join("etc/os-release"), "ID=bulwarktest\n").unwrap();
    std::os::unix::fs::symlink("etc/os-release", root.join("release-link")).unwrap();
    let rootfs = tmp.path().join("rootfs.tar");
    common::tar_dir(&root, &rootfs);
    let tag = "localhost/bulwark-walk-test:1";
    podman(&["import", rootfs.to_str().unwrap(), tag]);
    let outs = [
        ("docker-archive", tmp.path().join("d.tar")),
        ("oci-archive", tmp.path().join("o.tar")),
        ("oci-dir", tmp.path().join("odir")),
    ];
    for (fmt, out) in &outs {
        podman(&["save", "--format", fmt, "-o", out.to_str().unwrap(), tag]);
        let t = open(out.to_str().unwrap(), &OpenOptions::default())
            .unwrap_or_else(|e| panic!("{fmt}: {e}"));
        let Target::Image(img) = &t else {
            panic!("{fmt}: not an image")
        };
        assert_eq!(img.layers.len(), 1, "{fmt}");
        assert_eq!(
            img.meta
                .platform
                .as_deref()
                .map(|p| p.starts_with("linux/")),
            Some(true)
        );
        let w = walk(&t, &common::Collect::all(), &WalkOptions::default())
            .unwrap_or_else(|e| panic!("{fmt}: {e}"));
        let files: Vec<(&str, &str)> = w
            .merged()
            .into_iter()
            .map(|m| (m.path, m.output.as_str()))
            .collect();
        assert_eq!(
            files,
            vec![
                ("etc/os-release", "ID=bulwarktest\n"),
                ("release-link", "ID=bulwarktest\n")
            ],
            "{fmt}"
        );
    }
    podman(&["rmi", tag]);
}
