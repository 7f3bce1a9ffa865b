//! Real cosign-made legacy signatures (containers/image's fixtures in
//! `shared/fixtures/sigstore/containers-image`) placed in an OCI layout next to the
//! manifest they sign, found and verified by `verify_signatures`: a key signature, a
//! key signature with a Rekor SET (`--require-tlog` against the production trusted
//! root), a keyless Fulcio + Rekor signature checked by identity, and the negative
//! cases (a signature by an unknown key among valid ones, a manifest that is not the
//! signed one, another identity).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic: that is its failure

use bulwark_cosign::verify::{self, Requirements, Signer};
use bulwark_cosign::Image;
use bulwark_image::layout::OciLayout;
use bulwark_image::oci::MT_OCI_MANIFEST;
use bulwark_image::registry::RegistryConfig;
use bulwark_sign::simple_signing::ReferenceMatch;
use bulwark_sign::{Matcher, PublicKey, TrustedRoot};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn must<T, E: std::fmt::Display>(r: Result<T, E>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

fn fixtures() -> Option<PathBuf> {
    let d = bulwark_fixtures::fixtures_location().join("sigstore/containers-image");
    if d.is_dir() {
        return Some(d);
    }
    bulwark_fixtures::absent("the sigstore fixtures", &d.display().to_string());
    None
}

/// A layout holding `case`'s manifest (tagged `img`) and its signature layers under
/// the `.sig` tag of the manifest's digest.
fn layout(case: &Path, tmp: &Path) -> Image {
    let l = must(OciLayout::open_or_create(tmp));
    let manifest = must(std::fs::read(case.join("manifest.json")));
    must(l.add_manifest(&manifest, Some("img")));
    let digest = bulwark_image::oci::sha256_digest(&manifest);
    let mut layers = Vec::new();
    let mut n = 1;
    while let Ok(raw) = std::fs::read(case.join(format!("signature-{n}"))) {
        let body = raw
            .iter()
            .position(|b| *b == b'\n')
            .map(|i| &raw[i + 1..])
            .unwrap_or_default();
        let v: serde_json::Value = must(serde_json::from_slice(body));
        let payload = must(base64_decode(v["payload"].as_str().unwrap_or_default()));
        let mut d = must(l.add_blob_bytes(v["mimeType"].as_str().unwrap_or_default(), &payload));
        for (k, a) in v["annotations"].as_object().into_iter().flatten() {
            d.annotations
                .insert(k.clone(), a.as_str().unwrap_or_default().to_string());
        }
        layers.push(d);
        n += 1;
    }
    let config = must(l.add_blob_bytes("application/vnd.oci.image.config.v1+json", b"{}"));
    let sig = must(serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": MT_OCI_MANIFEST, "config": config, "layers": layers
    })));
    must(l.add_manifest(
        &sig,
        Some(&bulwark_cosign::store::legacy_tag(&digest, "sig")),
    ));
    must(Image::open(
        &format!("oci:{}:img", tmp.display()),
        &RegistryConfig::default(),
    ))
}

fn base64_decode(s: &str) -> Result<Vec<u8>, String> {
    // The fixtures use standard base64; decode through the DSSE envelope helper.
    bulwark_sign::bundle::Envelope {
        payload: s.to_string(),
        payload_type: String::new(),
        signatures: Vec::new(),
    }
    .payload_bytes()
    .map_err(|e| e.to_string())
}

fn key(dir: &Path, name: &str) -> Signer {
    Signer::Key(must(PublicKey::from_pem(&must(std::fs::read_to_string(
        dir.join(name),
    )))))
}

fn req(signer: Signer) -> Requirements {
    Requirements {
        signer,
        reference: ReferenceMatch::Ignore,
        annotations: BTreeMap::new(),
        require_tlog: false,
        root: None,
    }
}

fn reasons(r: &verify::Report) -> String {
    r.signatures
        .iter()
        .map(|c| c.reason.clone().unwrap_or_else(|| "verified".into()))
        .collect::<Vec<_>>()
        .join(" | ")
}

#[test]
fn cosign_made_signatures_verify_and_negatives_fail() {
    let Some(dir) = fixtures() else { return };
    let root = must(TrustedRoot::from_file(
        &dir.join("../trusted-root/production/trusted_root.json"),
    ));

    let tmp = must(tempfile::tempdir());
    let img = layout(&dir.join("dir-img-cosign-valid"), tmp.path());
    let r = must(verify::verify_signatures(
        &img,
        &req(key(&dir, "cosign.pub")),
    ));
    assert!(r.verified, "{}", reasons(&r));
    // Its docker-reference is checked by repository when asked.
    let mut q = req(key(&dir, "cosign.pub"));
    q.reference =
        ReferenceMatch::Repository("192.168.64.2:5000/cosign-signed-single-sample:x".into());
    assert!(must(verify::verify_signatures(&img, &q)).verified);
    q.reference = ReferenceMatch::Repository("192.168.64.2:5000/other".into());
    assert!(!must(verify::verify_signatures(&img, &q)).verified);
    // Another key.
    let r = must(verify::verify_signatures(
        &img,
        &req(key(&dir, "cosign2.pub")),
    ));
    assert!(
        !r.verified && reasons(&r).contains("does not verify"),
        "{}",
        reasons(&r)
    );

    // One valid and one unknown-key signature: verified, the other listed with its reason.
    let tmp = must(tempfile::tempdir());
    let img = layout(&dir.join("dir-img-cosign-mixed"), tmp.path());
    let r = must(verify::verify_signatures(
        &img,
        &req(key(&dir, "cosign.pub")),
    ));
    assert!(r.verified && r.signatures.len() == 2, "{}", reasons(&r));
    assert_eq!(r.signatures.iter().filter(|c| c.verified).count(), 1);

    // The manifest is not the one signed.
    let tmp = must(tempfile::tempdir());
    let img = layout(
        &dir.join("dir-img-cosign-manifest-digest-error"),
        tmp.path(),
    );
    let r = must(verify::verify_signatures(
        &img,
        &req(key(&dir, "cosign.pub")),
    ));
    assert!(
        !r.verified && reasons(&r).contains("the signature is for manifest"),
        "{}",
        reasons(&r)
    );

    // Key signature with a Rekor SET: verified with --require-tlog and the production
    // root's Rekor key; without a root the tlog requirement cannot be met.
    let tmp = must(tempfile::tempdir());
    let img = layout(&dir.join("dir-img-cosign-key-rekor-valid"), tmp.path());
    let mut q = req(key(&dir, "cosign2.pub"));
    q.require_tlog = true;
    q.root = Some(Box::new(root.clone()));
    let r = must(verify::verify_signatures(&img, &q));
    assert!(r.verified, "{}", reasons(&r));
    q.root = None;
    let r = must(verify::verify_signatures(&img, &q));
    assert!(!r.verified, "{}", reasons(&r));

    // Keyless: Fulcio certificate + chain + Rekor SET, by identity.
    let tmp = must(tempfile::tempdir());
    let img = layout(&dir.join("dir-img-cosign-fulcio-rekor-valid"), tmp.path());
    let identity = |san: &str| {
        req(Signer::Identity {
            san: Matcher::Exact(san.into()),
            issuer: Matcher::Exact("https://github.com/login/oauth".into()),
            root: Box::new(root.clone()),
        })
    };
    let r = must(verify::verify_signatures(
        &img,
        &identity("mitr@redhat.com"),
    ));
    assert!(r.verified, "{}", reasons(&r));
    let r = must(verify::verify_signatures(
        &img,
        &identity("someone@example.com"),
    ));
    assert!(
        !r.verified && reasons(&r).contains("does not match"),
        "{}",
        reasons(&r)
    );
}
