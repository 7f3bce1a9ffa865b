//! The merged view across layers: whiteouts, opaque directories, overwrites, replaced
//! directories, links — with gzip, zstd and plain layers in one image.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic: that is its failure

mod common;

use bulwark_image::{open, walk, OpenOptions, Target, WalkOptions};
use common::*;
use std::collections::BTreeMap;

fn layers() -> Vec<Layer> {
    let l0 = layer_tar(&[
        E::Dir("etc"),
        E::File("etc/a", b"a0"),
        E::File("etc/b", b"b0"),
        E::Dir("opt/dir"),
        E::File("opt/dir/x", b"x0"),
        E::File("var/lib/secret", b"s0"),
        E::File("data/keep/k", b"k0"),
        E::File("usr/lib/real", b"real"),
        E::File("./usr//lib/other", b"other"),
    ]);
    let l1 = layer_tar(&[
        E::File("etc/.wh.b", b""),
        E::File("etc/a", b"a1"),
        E::File("opt/dir", b"now a file"),
        E::File("data/.wh..wh..opq", b""),
        E::File("data/new", b"n1"),
        E::File("bin/tool", b"tool"),
        E::Hardlink("bin/tool2", "bin/tool"),
        E::Symlink("lnk", "usr/lib/real"),
        E::Symlink("loop1", "loop2"),
        E::Symlink("loop2", "loop1"),
        E::Symlink("esc", "../../../../usr/lib/real"),
        E::Symlink("libdir", "/usr/lib"),
        E::Symlink("via-dir", "libdir/other"),
        E::Symlink("dangling", "nowhere/at/all"),
        E::Fifo("run/fifo"),
    ]);
    let l2 = layer_tar(&[
        E::File("var/lib/.wh.secret", b""),
        E::File("etc/a", b"a2"),
        E::File("etc/.wh..wh.plnk.123", b""),
    ]);
    vec![
        Layer::new(l0, Comp::Gzip),
        Layer::new(l1, Comp::Zstd),
        Layer::new(l2, Comp::None),
    ]
}

fn merged_map(w: &bulwark_image::Walk<String>) -> BTreeMap<String, (usize, String)> {
    w.merged()
        .into_iter()
        .map(|m| (m.path.to_string(), (m.layer, m.output.clone())))
        .collect()
}

fn check_merged(w: &bulwark_image::Walk<String>) {
    let m = merged_map(w);
    let expect: BTreeMap<String, (usize, String)> = [
        ("etc/a", 2, "a2"),
        ("opt/dir", 1, "now a file"),
        ("usr/lib/real", 0, "real"),
        ("usr/lib/other", 0, "other"),
        ("data/new", 1, "n1"),
        ("bin/tool", 1, "tool"),
        ("bin/tool2", 1, "tool"),
        ("lnk", 1, "real"),
        ("esc", 1, "real"),
        ("via-dir", 1, "other"),
    ]
    .into_iter()
    .map(|(p, l, c)| (p.to_string(), (l, c.to_string())))
    .collect();
    assert_eq!(m, expect);

    let a = w.merged().into_iter().find(|m| m.path == "etc/a").unwrap();
    let lower: Vec<(usize, &str)> = a.lower.iter().map(|(l, o)| (*l, o.as_str())).collect();
    assert_eq!(lower, vec![(0, "a0"), (1, "a1")]);

    let deleted: Vec<(String, usize, String)> = w
        .deleted()
        .into_iter()
        .map(|(p, l, o)| (p.to_string(), l, o.clone()))
        .collect();
    let want_deleted: Vec<(String, usize, String)> = [
        ("data/keep/k", 0, "k0"),
        ("etc/b", 0, "b0"),
        ("opt/dir/x", 0, "x0"),
        ("var/lib/secret", 0, "s0"),
    ]
    .into_iter()
    .map(|(p, l, o)| (p.to_string(), l, o.to_string()))
    .collect();
    assert_eq!(deleted, want_deleted);

    // Whiteouts and opaque markers are recorded, never visited.
    assert!(w.layers[1].whiteouts.contains("etc/b"));
    assert!(w.layers[1].opaque_dirs.contains("data"));
    assert!(w.layers[2].whiteouts.contains("var/lib/secret"));
    assert!(w
        .layers
        .iter()
        .all(|l| l.files.iter().all(|(p, _)| !p.contains(".wh."))));

    let warned: Vec<&str> = w
        .warnings
        .iter()
        .filter_map(|x| x.path.as_deref())
        .collect();
    assert!(
        warned.contains(&"loop1") && warned.contains(&"loop2"),
        "{warned:?}"
    );
    assert!(warned.contains(&"dangling"), "{warned:?}");
    let loop_warning = w
        .warnings
        .iter()
        .find(|x| x.path.as_deref() == Some("loop1"))
        .unwrap();
    assert!(loop_warning.message.contains("loop"));
    assert_eq!(
        loop_warning.layer.as_deref(),
        Some(w.layers[1].digest.as_str())
    );
}

#[test]
fn oci_layout_merged_view() {
    let tmp = tempfile::tempdir().unwrap();
    let ls = layers();
    let dir = tmp.path().join("layout");
    let (md, cd) = oci_layout(&dir, &ls, "v1");
    let t = open(dir.to_str().unwrap(), &OpenOptions::default()).unwrap();
    let Target::Image(img) = &t else {
        panic!("not an image: {t:?}")
    };
    assert_eq!(img.meta.id, cd);
    assert_eq!(img.meta.manifest_digest.as_deref(), Some(md.as_str()));
    assert_eq!(img.meta.platform.as_deref(), Some("linux/amd64"));
    assert_eq!(img.meta.repo_tags, vec!["v1".to_string()]);
    assert_eq!(img.meta.layers.len(), 3);
    for (i, (lm, l)) in img.meta.layers.iter().zip(&ls).enumerate() {
        assert_eq!(lm.digest, l.digest());
        assert_eq!(lm.diff_id, l.diff_id());
        assert_eq!(lm.size, l.blob.len() as u64);
        assert_eq!(
            lm.created_by.as_deref(),
            Some(format!("RUN step {i}").as_str())
        );
    }
    assert!(img.meta.config.as_ref().unwrap()["config"]["Env"].is_array());

    for threads in [1, 3] {
        let opts = WalkOptions {
            threads,
            ..WalkOptions::default()
        };
        let w = walk(&t, &Collect::all(), &opts).unwrap();
        check_merged(&w);
    }
}

#[test]
fn oci_archive_merged_view() {
    let tmp = tempfile::tempdir().unwrap();
    let ls = layers();
    let dir = tmp.path().join("layout");
    oci_layout(&dir, &ls, "v1");
    let archive = tmp.path().join("img.tar");
    tar_dir(&dir, &archive);
    let t = open(
        &format!("oci-archive:{}:v1", archive.display()),
        &OpenOptions::default(),
    )
    .unwrap();
    let Target::Image(img) = &t else {
        panic!("not an image")
    };
    // Blobs are read in place from the outer tar.
    assert!(img
        .layers
        .iter()
        .all(|l| matches!(l.location, bulwark_image::BlobLocation::TarMember { .. })));
    check_merged(&walk(&t, &Collect::all(), &WalkOptions::default()).unwrap());
    // Auto-detected as an OCI archive when given bare.
    let t2 = open(archive.to_str().unwrap(), &OpenOptions::default()).unwrap();
    assert!(matches!(t2, Target::Image(_)));
}

#[test]
fn docker_archive_both_layouts() {
    let tmp = tempfile::tempdir().unwrap();
    // docker save writes uncompressed layers; the new layout is also tried with gzip.
    for (classic, comp) in [(true, Comp::None), (false, Comp::None), (false, Comp::Gzip)] {
        let ls: Vec<Layer> = layers()
            .into_iter()
            .map(|l| Layer::new(l.tar, comp))
            .collect();
        let out = tmp.path().join(format!("d-{classic}-{comp:?}.tar"));
        let cd = docker_archive(&out, &ls, &["example/app:1.0"], classic);
        let t = open(out.to_str().unwrap(), &OpenOptions::default()).unwrap();
        let Target::Image(img) = &t else {
            panic!("not an image")
        };
        assert_eq!(img.meta.id, cd);
        assert_eq!(img.meta.repo_tags, vec!["example/app:1.0".to_string()]);
        assert_eq!(img.meta.manifest_digest, None);
        let diff_ids: Vec<String> = img.meta.layers.iter().map(|l| l.diff_id.clone()).collect();
        assert_eq!(diff_ids, ls.iter().map(Layer::diff_id).collect::<Vec<_>>());
        check_merged(&walk(&t, &Collect::all(), &WalkOptions::default()).unwrap());
    }
}

#[test]
fn docker_archive_several_images_pick_by_tag() {
    let tmp = tempfile::tempdir().unwrap();
    let ls = vec![Layer::new(layer_tar(&[E::File("f", b"1")]), Comp::None)];
    let config = config_json(&ls, "linux", "amd64", None);
    let cd = sha256(&config);
    let out = tmp.path().join("multi.tar");
    {
        let mut b = tar::Builder::new(std::fs::File::create(&out).unwrap());
        let mut add = |name: &str, data: &[u8]| {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            b.append_data(&mut h, name, data).unwrap();
        };
        add(&format!("{}.json", &cd[7..]), &config);
        add("l1/layer.tar", &ls[0].blob);
        let m = serde_json::json!([
            {"Config": format!("{}.json", &cd[7..]), "RepoTags": ["a:1"], "Layers": ["l1/layer.tar"]},
            {"Config": format!("{}.json", &cd[7..]), "RepoTags": ["b:2"], "Layers": ["l1/layer.tar"]},
        ]);
        add("manifest.json", &serde_json::to_vec(&m).unwrap());
        b.finish().unwrap();
    }
    let err = bulwark_image::docker_archive(&out).unwrap_err().to_string();
    assert!(err.contains("a:1") && err.contains("b:2"), "{err}");
    let img = bulwark_image::docker_archive_ref(&out, Some("b:2")).unwrap();
    assert_eq!(img.meta.repo_tags, vec!["b:2".to_string()]);
    let t = open(
        &format!("docker-archive:{}:a:1", out.display()),
        &OpenOptions::default(),
    )
    .unwrap();
    let Target::Image(img) = t else { panic!() };
    assert_eq!(img.meta.repo_tags, vec!["a:1".to_string()]);
    let t = open(
        &format!("docker-archive:{}:@1", out.display()),
        &OpenOptions::default(),
    )
    .unwrap();
    let Target::Image(img) = t else { panic!() };
    assert_eq!(img.meta.repo_tags, vec!["b:2".to_string()]);
}

#[test]
fn oci_layout_multi_platform_index() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("mp");
    let amd = vec![Layer::new(
        layer_tar(&[E::File("arch", b"amd64")]),
        Comp::Gzip,
    )];
    let arm = vec![Layer::new(
        layer_tar(&[E::File("arch", b"arm64")]),
        Comp::Zstd,
    )];
    let (amd_md, amd_sz, _) = put_image(&dir, &amd, "linux", "amd64", None);
    let (arm_md, arm_sz, _) = put_image(&dir, &arm, "linux", "arm64", Some("v8"));
    let nested = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": amd_md, "size": amd_sz,
             "platform": {"os": "linux", "architecture": "amd64"}},
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": arm_md, "size": arm_sz,
             "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
        ],
    }))
    .unwrap();
    let nd = put_blob(&dir, &nested);
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.index.v1+json", "digest": nd, "size": nested.len(),
         "annotations": {"org.opencontainers.image.ref.name": "multi"}}]});
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();

    let arch_of = |img: bulwark_image::Image| {
        let w = walk(
            &Target::Image(img),
            &Collect::all(),
            &WalkOptions::default(),
        )
        .unwrap();
        w.merged()[0].output.clone()
    };
    // Default: linux/amd64.
    let img = bulwark_image::oci_layout(&dir, None, None).unwrap();
    assert_eq!(img.meta.manifest_digest.as_deref(), Some(amd_md.as_str()));
    assert_eq!(img.meta.repo_tags, vec!["multi".to_string()]);
    assert_eq!(arch_of(img), "amd64");
    // Explicit platform, variant optional.
    let img = bulwark_image::oci_layout(&dir, Some("multi"), Some("linux/arm64")).unwrap();
    assert_eq!(img.meta.platform.as_deref(), Some("linux/arm64/v8"));
    assert_eq!(arch_of(img), "arm64");
    // Through open() with the transport and the option.
    let opts = OpenOptions {
        platform: Some("linux/arm64/v8".into()),
        ..OpenOptions::default()
    };
    let Target::Image(img) = open(&format!("oci:{}:multi", dir.display()), &opts).unwrap() else {
        panic!()
    };
    assert_eq!(img.meta.manifest_digest.as_deref(), Some(arm_md.as_str()));
    // Unknown platform: error listing what exists.
    let err = bulwark_image::oci_layout(&dir, None, Some("linux/s390x"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("linux/amd64") && err.contains("linux/arm64/v8"),
        "{err}"
    );
    // Unknown tag: error listing the names.
    let err = bulwark_image::oci_layout(&dir, Some("nope"), None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("multi"), "{err}");
}

#[test]
fn directory_target() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    std::fs::create_dir_all(root.join("etc/sub")).unwrap();
    std::fs::create_dir_all(root.join("usr/lib")).unwrap();
    std::fs::write(root.join("etc/os-release"), "ID=test\n").unwrap();
    std::fs::write(root.join("usr/lib/real"), "real").unwrap();
    std::fs::write(root.join("etc/sub/deep"), "deep").unwrap();
    std::os::unix::fs::symlink("../usr/lib/real", root.join("etc/lnk")).unwrap();
    std::os::unix::fs::symlink("../../../../../usr/lib/real", root.join("esc")).unwrap();
    std::os::unix::fs::symlink("loop2", root.join("loop1")).unwrap();
    std::os::unix::fs::symlink("loop1", root.join("loop2")).unwrap();
    // A symlinked directory is never followed by the walk itself.
    std::os::unix::fs::symlink("/etc", root.join("hostetc")).unwrap();
    let st = std::process::Command::new("mkfifo")
        .arg(root.join("fifo"))
        .status()
        .unwrap();
    assert!(st.success());
    let t = open(root.to_str().unwrap(), &OpenOptions::default()).unwrap();
    assert!(matches!(t, Target::Dir(_)));
    let w = walk(&t, &Collect::all(), &WalkOptions::default()).unwrap();
    let m = merged_map(&w);
    let got: Vec<(&str, &str)> = m
        .iter()
        .map(|(p, (_, c))| (p.as_str(), c.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("esc", "real"),
            ("etc/lnk", "real"),
            ("etc/os-release", "ID=test\n"),
            ("etc/sub/deep", "deep"),
            ("usr/lib/real", "real"),
        ]
    );
    let warned: Vec<&str> = w
        .warnings
        .iter()
        .filter_map(|x| x.path.as_deref())
        .collect();
    assert!(warned.contains(&"loop1"), "{warned:?}");
    assert!(w.deleted().is_empty());
}

#[test]
fn file_target() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("Cargo.lock");
    std::fs::write(&p, "version = 3\n").unwrap();
    let t = open(p.to_str().unwrap(), &OpenOptions::default()).unwrap();
    assert!(matches!(t, Target::File(_)));
    let w = walk(&t, &Collect::all(), &WalkOptions::default()).unwrap();
    let m = merged_map(&w);
    assert_eq!(
        m.get("Cargo.lock").map(|x| x.1.as_str()),
        Some("version = 3\n")
    );
}

#[test]
fn spooled_large_file_is_seekable() {
    let tmp = tempfile::tempdir().unwrap();
    let big = vec![b'z'; 300_000];
    let ls = vec![Layer::new(
        layer_tar(&[E::File("big", &big), E::File("small", b"s")]),
        Comp::Gzip,
    )];
    let dir = tmp.path().join("l");
    oci_layout(&dir, &ls, "t");
    let t = open(dir.to_str().unwrap(), &OpenOptions::default()).unwrap();
    let spool = tmp.path().join("spool");
    std::fs::create_dir_all(&spool).unwrap();
    let opts = WalkOptions {
        spool_threshold: 1000,
        spool_dir: Some(spool),
        ..WalkOptions::default()
    };
    let w = walk(&t, &Collect::all(), &opts).unwrap();
    let m = merged_map(&w);
    assert_eq!(m["big"].1.len(), 300_000);
    assert_eq!(m["small"].1, "s");
}

#[test]
fn transports_route_and_detection() {
    // Registry references (with or without docker://) go to the registry client: port 1
    // on loopback refuses the connection, and the error names the request.
    let o = OpenOptions {
        registry: bulwark_image::registry::RegistryConfig {
            insecure: true,
            ..Default::default()
        },
        cache_dir: tempfile::tempdir().unwrap().keep(),
        ..Default::default()
    };
    for t in ["docker://127.0.0.1:1/x/y:1", "127.0.0.1:1/x/y:1"] {
        match open(t, &o) {
            Err(e @ bulwark_image::ImageError::Registry(_)) => {
                let what = e.to_string();
                assert!(what.contains("127.0.0.1:1"), "{t}: {what}")
            }
            other => panic!("{t}: {other:?}"),
        }
    }
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("plain");
    std::fs::create_dir_all(&d).unwrap();
    assert!(matches!(
        open(&format!("dir:{}", d.display()), &o),
        Ok(Target::Dir(_))
    ));
    assert!(open("/definitely/not/here", &o).is_err());
}

#[test]
fn symlink_follows_the_merged_view_upper_layer_wins() {
    let tmp = tempfile::tempdir().unwrap();
    let ls = vec![
        Layer::new(
            layer_tar(&[
                E::File("usr/lib/real", b"old"),
                E::File("usr/lib/gone", b"gone"),
            ]),
            Comp::Gzip,
        ),
        Layer::new(
            layer_tar(&[
                E::Symlink("etc/link", "../usr/lib/real"),
                E::Symlink("etc/to-gone", "/usr/lib/gone"),
                E::Hardlink("etc/hard", "usr/lib/real"),
            ]),
            Comp::None,
        ),
        Layer::new(
            layer_tar(&[
                E::File("usr/lib/real", b"new"),
                E::File("usr/lib/.wh.gone", b""),
            ]),
            Comp::Zstd,
        ),
    ];
    let dir = tmp.path().join("l");
    oci_layout(&dir, &ls, "t");
    let t = open(dir.to_str().unwrap(), &OpenOptions::default()).unwrap();
    let w = walk(&t, &Collect::all(), &WalkOptions::default()).unwrap();
    let m = merged_map(&w);
    // The symlink reads the final image; the hard link shares the inode it was made
    // with, which lives in its own layer or below.
    assert_eq!(m["etc/link"], (1, "new".to_string()));
    assert_eq!(m["etc/hard"], (1, "old".to_string()));
    assert!(!m.contains_key("etc/to-gone"));
    let gone = w
        .warnings
        .iter()
        .find(|x| x.path.as_deref() == Some("etc/to-gone"))
        .unwrap();
    assert!(gone.message.contains("does not exist"), "{}", gone.message);
}

#[test]
fn containers_dir_transport() {
    // containers/image `dir:` format: manifest.json, version, blobs named by bare hex.
    let tmp = tempfile::tempdir().unwrap();
    let layout = tmp.path().join("layout");
    let ls = vec![Layer::new(layer_tar(&[E::File("etc/x", b"x")]), Comp::Gzip)];
    let (md, cd) = oci_layout(&layout, &ls, "t");
    let d = tmp.path().join("dirimg");
    std::fs::create_dir_all(&d).unwrap();
    for digest in [&cd, &ls[0].digest()] {
        std::fs::copy(
            layout.join("blobs/sha256").join(&digest[7..]),
            d.join(&digest[7..]),
        )
        .unwrap();
    }
    std::fs::copy(
        layout.join("blobs/sha256").join(&md[7..]),
        d.join("manifest.json"),
    )
    .unwrap();
    std::fs::write(d.join("version"), "Directory Transport Version: 1.1\n").unwrap();
    let t = open(&format!("dir:{}", d.display()), &OpenOptions::default()).unwrap();
    let Target::Image(img) = &t else {
        panic!("not an image: {t:?}")
    };
    assert_eq!(img.meta.id, cd);
    assert_eq!(img.meta.manifest_digest.as_deref(), Some(md.as_str()));
    let w = walk(&t, &Collect::all(), &WalkOptions::default()).unwrap();
    assert_eq!(merged_map(&w)["etc/x"].1, "x");
}

/// Link targets are read again from their (already verified) layer: an uncompressed layer
/// in place with seeks, both inside a docker-archive and as an OCI blob file, with big
/// files around the target so skipping their data matters.
#[test]
fn link_targets_in_plain_layers_are_revisited_by_seeking() {
    let tmp = tempfile::tempdir().unwrap();
    let big = vec![7u8; 3 << 20];
    let ls = vec![
        Layer::new(
            layer_tar(&[
                E::File("opt/before.bin", &big),
                E::File("usr/lib/os-release", b"ID=debian\n"),
                E::File("opt/after.bin", &big),
                E::File("usr/lib/second", b"two"),
            ]),
            Comp::None,
        ),
        Layer::new(
            layer_tar(&[
                E::Symlink("etc/os-release", "../usr/lib/os-release"),
                E::Symlink("etc/second", "/usr/lib/second"),
            ]),
            Comp::None,
        ),
    ];
    let wanted = Collect {
        filter: |p| p.starts_with("etc/"),
    };
    let archive = tmp.path().join("img.tar");
    docker_archive(&archive, &ls, &["t:1"], false);
    let layout = tmp.path().join("layout");
    oci_layout(&layout, &ls, "t");
    for target in [archive, layout] {
        let t = open(target.to_str().unwrap(), &OpenOptions::default()).unwrap();
        let w = walk(&t, &wanted, &WalkOptions::default()).unwrap();
        let m = merged_map(&w);
        assert_eq!(
            m["etc/os-release"],
            (1, "ID=debian\n".to_string()),
            "{target:?}"
        );
        assert_eq!(m["etc/second"], (1, "two".to_string()), "{target:?}");
        assert!(w.warnings.is_empty(), "{:?}", w.warnings);
    }
}

/// The revisit does not hash again, so it insists that the blob is unchanged since it was
/// verified: a blob written to between the two reads is an error, not silent trust.
#[test]
fn blob_changed_between_verify_and_revisit_is_an_error() {
    struct Toucher(std::path::PathBuf);
    impl bulwark_image::Visitor for Toucher {
        type Output = ();
        fn wants(&self, path: &str, _size: u64, _mode: u32) -> bool {
            path.starts_with("etc/") || path == "opt/marker"
        }
        fn visit(&self, file: bulwark_image::FileEntry<'_>) {
            if file.path == "opt/marker" {
                // Rewrite the archive's first byte with the same value: the content stays
                // valid, but the write moves mtime/ctime as any tampering would.
                let data = std::fs::read(&self.0).unwrap();
                std::thread::sleep(std::time::Duration::from_millis(20));
                std::fs::write(&self.0, data).unwrap();
            }
        }
    }
    let tmp = tempfile::tempdir().unwrap();
    let ls = vec![
        // The marker sits in the target's own layer, after the target: the write happens
        // after that layer's stamp was taken, whatever order the layers are walked in.
        Layer::new(
            layer_tar(&[
                E::File("usr/lib/os-release", b"ID=debian\n"),
                E::File("opt/marker", b"x"),
            ]),
            Comp::None,
        ),
        Layer::new(
            layer_tar(&[E::Symlink("etc/os-release", "../usr/lib/os-release")]),
            Comp::None,
        ),
    ];
    let archive = tmp.path().join("img.tar");
    docker_archive(&archive, &ls, &["t:1"], false);
    let t = open(archive.to_str().unwrap(), &OpenOptions::default()).unwrap();
    let opts = WalkOptions {
        threads: 1,
        ..WalkOptions::default()
    };
    let err = walk(&t, &Toucher(archive.clone()), &opts).unwrap_err();
    assert!(err.to_string().contains("changed on disk"), "{err}");
}

/// An in-memory layer cache (JSON records, as the engine's on-disk one).
#[derive(Default)]
struct MemCache {
    entries: std::sync::Mutex<BTreeMap<String, Vec<u8>>>,
    stamps: std::sync::Mutex<BTreeMap<String, String>>,
    trust_stamps: bool,
}

impl bulwark_image::LayerCache<String> for MemCache {
    fn is_verified(
        &self,
        blob: &bulwark_image::LayerBlob,
        stamp: &bulwark_image::VerifiedStamp,
    ) -> bool {
        self.trust_stamps
            && self.stamps.lock().unwrap().get(&blob.digest) == Some(&stamp.encode(&blob.digest))
    }
    fn record_verified(
        &self,
        blob: &bulwark_image::LayerBlob,
        stamp: &bulwark_image::VerifiedStamp,
    ) {
        self.stamps
            .lock()
            .unwrap()
            .insert(blob.digest.clone(), stamp.encode(&blob.digest));
    }
    fn load_layer(&self, digest: &str) -> Option<bulwark_image::LayerRecord<String>> {
        let e = self.entries.lock().unwrap();
        e.get(digest).map(|b| serde_json::from_slice(b).unwrap())
    }
    fn store_layer(&self, digest: &str, record: &bulwark_image::LayerRecord<String>) {
        self.entries
            .lock()
            .unwrap()
            .insert(digest.to_string(), serde_json::to_vec(record).unwrap());
    }
    fn load_links(&self, digest: &str, request: &str) -> Option<bulwark_image::LinkRecord<String>> {
        let e = self.entries.lock().unwrap();
        e.get(&format!("{digest} {request}"))
            .map(|b| serde_json::from_slice(b).unwrap())
    }
    fn store_links(&self, digest: &str, request: &str, record: &bulwark_image::LinkRecord<String>) {
        self.entries.lock().unwrap().insert(
            format!("{digest} {request}"),
            serde_json::to_vec(record).unwrap(),
        );
    }
}

/// The merged view (whiteouts, opaque directories, overwrites, links, loops) is the same
/// from a cold cache, a warm one (nothing read) and a warm one whose stamps are not
/// trusted (blobs hashed, not parsed); link-target visits come from the cache too.
#[test]
fn layer_cache_gives_the_same_walk() {
    use bulwark_image::{walk_cached, CacheUse, LayerCache};
    let tmp = tempfile::tempdir().unwrap();
    let ls = layers();
    let dir = tmp.path().join("layout");
    oci_layout(&dir, &ls, "v1");
    let t = open(dir.to_str().unwrap(), &OpenOptions::default()).unwrap();
    let opts = WalkOptions::default();
    let mut cache = MemCache {
        trust_stamps: true,
        ..MemCache::default()
    };
    let cold = walk_cached(
        &t,
        &Collect::all(),
        &opts,
        Some(&cache as &dyn LayerCache<String>),
    )
    .unwrap();
    check_merged(&cold);
    assert!(cold.layers.iter().all(|l| l.stats.cache == CacheUse::Miss));
    assert!(
        cold.layers.iter().any(|l| l.stats.revisits == 1),
        "links read a layer again"
    );

    let warm = walk_cached(
        &t,
        &Collect::all(),
        &opts,
        Some(&cache as &dyn LayerCache<String>),
    )
    .unwrap();
    check_merged(&warm);
    for l in &warm.layers {
        assert_eq!(l.stats.cache, CacheUse::Hit);
        assert_eq!((l.stats.read, l.stats.inflated, l.stats.hashed), (0, 0, 0));
        assert_eq!((l.stats.revisits, l.stats.revisit_read), (0, 0));
    }
    assert_eq!(
        format!("{:?}", cold.warnings),
        format!("{:?}", warm.warnings)
    );

    cache.trust_stamps = false;
    let hashed = walk_cached(
        &t,
        &Collect::all(),
        &opts,
        Some(&cache as &dyn LayerCache<String>),
    )
    .unwrap();
    check_merged(&hashed);
    for (l, layer) in hashed.layers.iter().zip(&ls) {
        assert_eq!(l.stats.cache, CacheUse::HitHashed);
        let size = layer.blob.len() as u64;
        assert_eq!(
            (l.stats.read, l.stats.inflated, l.stats.hashed),
            (size, 0, size)
        );
    }
}

/// Keeps every output but the ones named: what a visitor that drops empty outputs does.
struct KeepAllBut(&'static [&'static str]);

impl bulwark_image::Visitor for KeepAllBut {
    type Output = String;
    fn wants(&self, path: &str, size: u64, mode: u32) -> bool {
        Collect::all().wants(path, size, mode)
    }
    fn visit(&self, file: bulwark_image::FileEntry<'_>) -> String {
        Collect::all().visit(file)
    }
    fn keep(&self, out: &String) -> bool {
        !self.0.contains(&out.as_str())
    }
}

#[test]
fn outputs_the_visitor_does_not_keep_change_no_visibility() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("layout");
    oci_layout(&dir, &layers(), "v1");
    let t = open(dir.to_str().unwrap(), &OpenOptions::default()).unwrap();
    let w = walk(&t, &KeepAllBut(&["a1", "n1"]), &WalkOptions::default()).unwrap();
    assert!(w
        .layers
        .iter()
        .all(|l| l.files.iter().all(|(_, o)| o != "a1" && o != "n1")));
    // The same merged view as keeping everything, less the two dropped copies.
    let mut expect = merged_map(&walk(&t, &Collect::all(), &WalkOptions::default()).unwrap());
    expect.remove("data/new");
    assert_eq!(merged_map(&w), expect);
    // etc/a: a2 (layer 2) over a1 (layer 1, not kept) over a0. The unkept copy in between
    // ends the run of overwritten copies, so a0 is no longer a copy a2 overwrote but a
    // deleted one (it was not what layer 2 replaced).
    let a = w.merged().into_iter().find(|m| m.path == "etc/a").unwrap();
    assert!(a.lower.is_empty(), "{:?}", a.lower);
    let deleted: Vec<(String, usize, String)> = w
        .deleted()
        .into_iter()
        .map(|(p, l, o)| (p.to_string(), l, o.clone()))
        .collect();
    assert!(
        deleted.contains(&("etc/a".to_string(), 0, "a0".to_string())),
        "{deleted:?}"
    );
}
