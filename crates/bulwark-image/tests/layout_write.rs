//! Offline attachments in a real OCI layout (the app image of
//! `scripts/build-test-images.sh`, copied): a referrer artifact and a cosign-style
//! `sha256-<hex>.sig` tag are written next to the image, found again through the
//! referrers tag schema, and the layout still reads as the same image.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic: that is its failure

use bulwark_image::layout::OciLayout;
use bulwark_image::oci::{self, MT_EMPTY, MT_OCI_MANIFEST};
use std::path::{Path, PathBuf};

fn images() -> PathBuf {
    bulwark_fixtures::images_location()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("{e}"));
    for entry in std::fs::read_dir(from).unwrap_or_else(|e| panic!("{e}")) {
        let entry = entry.unwrap_or_else(|e| panic!("{e}"));
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap_or_else(|e| panic!("{e}"));
        }
    }
}

#[test]
fn attachments_next_to_a_real_image_in_a_layout() {
    let _images = bulwark_fixtures::images_or_skip!();
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let dir = tmp.path().join("app");
    copy_dir(&images().join("app.oci-dir"), &dir);
    let before = bulwark_image::oci_layout(&dir, None, None).unwrap_or_else(|e| panic!("{e}"));
    let image_digest = before.meta.manifest_digest.clone().unwrap_or_default();

    let layout = OciLayout::open_or_create(&dir).unwrap_or_else(|e| panic!("{e}"));
    let subject = layout
        .index()
        .unwrap_or_else(|e| panic!("{e}"))
        .manifests
        .into_iter()
        .find(|d| d.digest == image_digest)
        .unwrap_or_else(|| panic!("image not in index.json"));
    let empty = layout
        .add_blob_bytes(MT_EMPTY, oci::EMPTY_JSON)
        .unwrap_or_else(|e| panic!("{e}"));
    let bundle = layout
        .add_blob_bytes(
            "application/vnd.dev.sigstore.bundle.v0.3+json",
            b"{\"bundle\":1}",
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let mut subject_ref = subject.clone();
    subject_ref.annotations.clear();
    let artifact = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": MT_OCI_MANIFEST,
        "artifactType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "config": empty, "layers": [bundle], "subject": subject_ref
    }))
    .unwrap_or_default();
    let art = layout
        .add_manifest(&artifact, None)
        .unwrap_or_else(|e| panic!("{e}"));
    // A cosign-style legacy signature tag (no subject, no artifactType).
    let legacy = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": MT_OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": empty.digest, "size": empty.size},
        "layers": []
    }))
    .unwrap_or_default();
    let sig_tag = format!("{}.sig", oci::referrers_tag(&image_digest));
    layout
        .add_manifest(&legacy, Some(&sig_tag))
        .unwrap_or_else(|e| panic!("{e}"));

    let found = layout
        .referrers(
            &image_digest,
            Some("application/vnd.dev.sigstore.bundle.v0.3+json"),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].digest, art.digest);
    assert_eq!(
        layout.resolve(&sig_tag).ok().flatten().map(|d| d.digest),
        Some(oci::sha256_digest(&legacy))
    );
    // The layout still reads as the same image, untagged lookup included.
    let after = bulwark_image::oci_layout(&dir, None, None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(after.meta.manifest_digest, before.meta.manifest_digest);
    assert_eq!(after.layers.len(), before.layers.len());
}
