//! Pulls from a real `docker-registry` (Debian's distribution 2.x) on a loopback port.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic: that is its failure

mod registry_common;

use bulwark_image::registry::open;
use bulwark_image::{BlobLocation, ImageError};
use registry_common::*;

fn cache() -> tempfile::TempDir {
    tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"))
}

fn file_digest(loc: &BlobLocation) -> String {
    match loc {
        BlobLocation::File(p) => sha(&std::fs::read(p).unwrap_or_else(|e| panic!("{e}"))),
        other => panic!("expected a cached file, got {other:?}"),
    }
}

#[test]
fn registry_pull_by_tag_then_by_digest_uses_cache() {
    let Some(reg) = Registry::start(None) else {
        return;
    };
    let img = build_image("amd64", false, "by-tag");
    let mdigest = reg.push_image("team/app", "1.0", &img);
    let c = cache();
    let opts = options(c.path());

    let image = open(&format!("docker://{}/team/app:1.0", reg.host()), &opts)
        .unwrap_or_else(|e| panic!("{e}"));
    let name = format!("{}/team/app", reg.host());
    assert_eq!(image.meta.id, img.config_digest());
    assert_eq!(
        image.meta.manifest_digest.as_deref(),
        Some(mdigest.as_str())
    );
    assert_eq!(image.meta.repo_tags, vec![format!("{name}:1.0")]);
    assert_eq!(image.meta.repo_digests, vec![format!("{name}@{mdigest}")]);
    assert_eq!(image.meta.platform.as_deref(), Some("linux/amd64"));
    let digests: Vec<String> = image.layers.iter().map(|l| l.digest.clone()).collect();
    assert_eq!(digests, img.layer_digests());
    let diff_ids: Vec<String> = image
        .meta
        .layers
        .iter()
        .map(|l| l.diff_id.clone())
        .collect();
    assert_eq!(diff_ids, img.diff_ids);
    let created: Vec<Option<String>> = image
        .meta
        .layers
        .iter()
        .map(|l| l.created_by.clone())
        .collect();
    assert_eq!(
        created,
        vec![
            Some("ADD rootfs /".into()),
            Some("COPY marker by-tag".into())
        ]
    );
    for (l, gz) in image.layers.iter().zip(&img.layers_gz) {
        assert_eq!(l.size, gz.len() as u64);
        assert_eq!(l.media_type.as_deref(), Some(DOCKER_LAYER));
        // The cached file really holds the blob, and sits where the brief says.
        assert_eq!(file_digest(&l.location), l.digest);
        let hex = l.digest.trim_start_matches("sha256:");
        assert_eq!(
            l.location,
            BlobLocation::File(c.path().join("blobs/sha256").join(hex))
        );
    }
    let cfg = image.meta.config.clone().unwrap_or_default();
    assert_eq!(cfg["config"]["Env"][0], "PATH=/usr/bin");
    // No temporary files are left behind.
    let leftovers: Vec<_> = std::fs::read_dir(c.path().join("blobs/sha256"))
        .unwrap_or_else(|e| panic!("{e}"))
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // Pull again by digest with the registry's copy of a layer gone: the cached blobs
    // are reused, so this only works if the cache is used.
    std::fs::remove_file(reg.blob_data_path(&img.layer_digests()[1]))
        .unwrap_or_else(|e| panic!("{e}"));
    let by_digest = open(&format!("{}/team/app@{mdigest}", reg.host()), &opts)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(by_digest.meta.id, img.config_digest());
    assert!(by_digest.meta.repo_tags.is_empty());
    assert_eq!(
        by_digest.meta.manifest_digest.as_deref(),
        Some(mdigest.as_str())
    );

    // A fresh cache must download, and the missing blob is a clear error.
    let c2 = cache();
    match open(&format!("{}/team/app:1.0", reg.host()), &options(c2.path())) {
        Err(ImageError::MissingBlob { digest, .. }) => assert_eq!(digest, img.layer_digests()[1]),
        other => panic!("expected MissingBlob, got {other:?}"),
    }
}

#[test]
fn registry_pull_by_unknown_digest_and_missing_tag_fail_clearly() {
    let Some(reg) = Registry::start(None) else {
        return;
    };
    let img = build_image("amd64", true, "x");
    reg.push_image("lib/thing", "present", &img);
    let c = cache();
    let opts = options(c.path());
    let err = open(&format!("{}/lib/thing:absent", reg.host()), &opts)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("not found") && err.contains("absent"), "{err}");
    let unknown = format!("sha256:{}", "e".repeat(64));
    let err = open(&format!("{}/lib/thing@{unknown}", reg.host()), &opts)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("not found"), "{err}");
    let err = open(&format!("{}/lib/nothing:1", reg.host()), &opts)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("not found"), "{err}");
}

#[test]
fn registry_multi_platform_index_selection() {
    let Some(reg) = Registry::start(None) else {
        return;
    };
    let amd = build_image("amd64", true, "amd");
    let arm = build_image("arm64", true, "arm");
    let repo = "multi/app";
    let amd_digest = reg.push_image(repo, &amd.manifest_digest(), &amd);
    let arm_digest = reg.push_image(repo, &arm.manifest_digest(), &arm);
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            {"mediaType": OCI_MANIFEST, "digest": amd_digest, "size": amd.manifest.len(),
             "platform": {"os": "linux", "architecture": "amd64"}},
            {"mediaType": OCI_MANIFEST, "digest": arm_digest, "size": arm.manifest.len(),
             "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}}
        ]
    });
    let index = serde_json::to_vec(&index).unwrap_or_else(|e| panic!("{e}"));
    let index_digest = reg.push_manifest(repo, "latest", OCI_INDEX, &index);
    let c = cache();
    let mut opts = options(c.path());
    let reference = format!("{}/{repo}", reg.host());

    let default = open(&reference, &opts).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(default.meta.id, amd.config_digest());
    assert_eq!(default.meta.platform.as_deref(), Some("linux/amd64"));
    assert_eq!(
        default.meta.manifest_digest.as_deref(),
        Some(amd_digest.as_str())
    );
    assert_eq!(
        default.meta.repo_digests,
        vec![format!("{reference}@{index_digest}")]
    );

    opts.platform = Some("linux/arm64".into());
    let a = open(&reference, &opts).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(a.meta.id, arm.config_digest());
    assert_eq!(a.meta.platform.as_deref(), Some("linux/arm64"));
    let digests: Vec<String> = a.layers.iter().map(|l| l.digest.clone()).collect();
    assert_eq!(digests, arm.layer_digests());
    for l in &a.layers {
        assert_eq!(file_digest(&l.location), l.digest);
    }

    // Pinning the index by digest works too.
    let pinned =
        open(&format!("{reference}@{index_digest}"), &opts).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(pinned.meta.id, arm.config_digest());

    opts.platform = Some("linux/s390x".into());
    match open(&reference, &opts) {
        Err(ImageError::Target { message, .. }) => {
            assert!(message.contains("linux/s390x"), "{message}");
            assert!(message.contains("linux/amd64"), "{message}");
            assert!(message.contains("linux/arm64"), "{message}");
        }
        other => panic!("expected a platform error, got {other:?}"),
    }
}

#[test]
fn registry_corrupted_blob_is_digest_mismatch() {
    let Some(reg) = Registry::start(None) else {
        return;
    };
    let img = build_image("amd64", false, "corrupt");
    reg.push_image("bad/blob", "1", &img);
    let victim = img.layer_digests()[0].clone();
    let path = reg.blob_data_path(&victim);
    let mut data = std::fs::read(&path).unwrap_or_else(|e| panic!("{e}"));
    // Same length, different bytes, so only the digest check can notice.
    if let Some(b) = data.last_mut() {
        *b ^= 0xff;
    }
    std::fs::write(&path, &data).unwrap_or_else(|e| panic!("{e}"));
    let c = cache();
    match open(&format!("{}/bad/blob:1", reg.host()), &options(c.path())) {
        Err(ImageError::DigestMismatch {
            expected, actual, ..
        }) => {
            assert_eq!(expected, victim);
            assert_eq!(actual, sha(&data));
        }
        other => panic!("expected DigestMismatch, got {other:?}"),
    }
    // Neither the bad blob nor its temporary file is left in the cache.
    let hex = victim.trim_start_matches("sha256:");
    assert!(!c.path().join("blobs/sha256").join(hex).exists());
    let partial = std::fs::read_dir(c.path().join("blobs/sha256"))
        .unwrap_or_else(|e| panic!("{e}"))
        .filter_map(|e| e.ok())
        .any(|e| e.file_name().to_string_lossy().starts_with(".partial"));
    assert!(!partial);
}

#[test]
fn registry_blob_size_limit_is_enforced() {
    let Some(reg) = Registry::start(None) else {
        return;
    };
    let img = build_image("amd64", false, "big");
    reg.push_image("size/limit", "1", &img);
    let c = cache();
    let mut opts = options(c.path());
    opts.max_blob_size = 16;
    let err = open(&format!("{}/size/limit:1", reg.host()), &opts)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("over the limit"), "{err}");
}

#[test]
fn registry_basic_auth_via_docker_config_and_wrong_password() {
    let Some(reg) = Registry::start(Some(("alice", "s3cret-pw"))) else {
        return;
    };
    let img = build_image("amd64", false, "auth");
    reg.push_image("private/app", "1", &img);
    let c = cache();
    let reference = format!("{}/private/app:1", reg.host());

    // Anonymous: a clear 401 naming the missing credentials.
    let err = open(&reference, &options(c.path()))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("no credentials"), "{err}");

    let write_config = |pass: &str| {
        use base64::Engine as _;
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("alice:{pass}"));
        let cfg = serde_json::json!({"auths": {reg.host(): {"auth": auth}}});
        let path = c.path().join(format!("config-{}.json", pass.len()));
        std::fs::write(&path, serde_json::to_vec(&cfg).unwrap_or_default())
            .unwrap_or_else(|e| panic!("{e}"));
        path
    };

    let mut opts = options(c.path());
    opts.config.credentials.docker_config = Some(write_config("s3cret-pw"));
    let image = open(&reference, &opts).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(image.meta.id, img.config_digest());

    let c2 = cache();
    let mut opts = options(c2.path());
    opts.config.credentials.docker_config = Some(write_config("wrong-pw"));
    match open(&reference, &opts) {
        Err(e @ ImageError::Registry(_)) => {
            let msg = e.to_string();
            assert!(msg.contains("401") && msg.contains("alice"), "{msg}");
            assert!(!msg.contains("wrong-pw"), "password leaked: {msg}");
        }
        other => panic!("expected a 401 error, got {other:?}"),
    }
}

#[test]
fn registry_blobs_are_hashed_once_and_cached_ones_reverified() {
    let Some(reg) = Registry::start(None) else {
        return;
    };
    let img = build_image("amd64", false, "stamps");
    reg.push_image("team/stamps", "1", &img);
    let c = cache();
    let opts = options(c.path());
    let reference = format!("{}/team/stamps:1", reg.host());
    let image = open(&reference, &opts).unwrap_or_else(|e| panic!("{e}"));
    // Hashed while downloading: the layers carry verified stamps, and the walk reads
    // them without hashing again.
    assert!(image.layers.iter().all(|l| l.verified.is_some()));
    let target = bulwark_image::Target::Image(image.clone());
    let w = bulwark_image::walk(&target, &AllFiles, &bulwark_image::WalkOptions::default())
        .unwrap_or_else(|e| panic!("{e}"));
    for (l, blob) in w.layers.iter().zip(&image.layers) {
        assert_eq!(l.stats.hashed, 0, "{:?}", l.stats);
        assert_eq!(l.stats.read, blob.size, "{:?}", l.stats);
    }
    let blob_dir = c.path().join("blobs/sha256");
    let config_path = blob_dir.join(img.config_digest().trim_start_matches("sha256:"));
    let layer_path = blob_dir.join(img.layer_digests()[0].trim_start_matches("sha256:"));

    // A cached config of the right size but the wrong bytes is not reused: its stamp no
    // longer matches, so it is hashed, found wrong and downloaded again.
    std::thread::sleep(std::time::Duration::from_millis(20));
    let mut bytes = std::fs::read(&config_path).unwrap_or_else(|e| panic!("{e}"));
    let at = bytes.len() / 2;
    bytes[at] ^= 0x20;
    std::fs::write(&config_path, &bytes).unwrap_or_else(|e| panic!("{e}"));
    // The same for a layer.
    let mut layer = std::fs::read(&layer_path).unwrap_or_else(|e| panic!("{e}"));
    let at = layer.len() / 2;
    layer[at] ^= 0xff;
    std::fs::write(&layer_path, &layer).unwrap_or_else(|e| panic!("{e}"));
    let again = open(&reference, &opts).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(again.meta.id, img.config_digest());
    assert_eq!(
        sha(&std::fs::read(&config_path).unwrap_or_else(|e| panic!("{e}"))),
        img.config_digest()
    );
    assert_eq!(
        file_digest(&again.layers[0].location),
        img.layer_digests()[0]
    );

    // With the stamps gone and the registry's copies deleted, correct cached blobs are
    // re-verified by hashing (no download) and stamped again.
    for d in img.layer_digests() {
        let hex = d.trim_start_matches("sha256:");
        std::fs::remove_file(blob_dir.join(format!("{hex}.verified")))
            .unwrap_or_else(|e| panic!("{e}"));
        let _ = std::fs::remove_file(reg.blob_data_path(&d));
    }
    let third = open(&reference, &opts).unwrap_or_else(|e| panic!("{e}"));
    assert!(third.layers.iter().all(|l| l.verified.is_some()));
    for d in img.layer_digests() {
        let hex = d.trim_start_matches("sha256:");
        assert!(blob_dir.join(format!("{hex}.verified")).is_file());
    }
}

/// Wants every file and keeps nothing.
struct AllFiles;

impl bulwark_image::Visitor for AllFiles {
    type Output = ();
    fn wants(&self, _p: &str, _s: u64, _m: u32) -> bool {
        true
    }
    fn visit(&self, _f: bulwark_image::FileEntry<'_>) {}
}
