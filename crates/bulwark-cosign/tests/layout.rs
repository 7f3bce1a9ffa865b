//! Signing, attesting and verifying in an OCI layout built in the test (no registry),
//! and the bad inputs that must fail closed with their reason: another key, a payload
//! for another digest, missing annotations, tampered blobs, a re-pointed tag, and
//! malformed or oversized signature manifests and bundles.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic: that is its failure

use bulwark_cosign::store::{self, Format};
use bulwark_cosign::verify::{self, Requirements, Signer};
use bulwark_cosign::{integrity, Image};
use bulwark_image::layout::OciLayout;
use bulwark_image::oci::{self, MT_OCI_MANIFEST};
use bulwark_image::registry::RegistryConfig;
use bulwark_sign::simple_signing::ReferenceMatch;
use bulwark_sign::{Algorithm, PrivateKey};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::Path;

fn must<T, E: std::fmt::Display>(r: Result<T, E>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

/// A one-layer image tagged `tag`; returns its manifest digest and layer digest.
fn image(dir: &Path, tag: &str, content: &[u8]) -> (String, String) {
    let l = must(OciLayout::open_or_create(dir));
    let config = must(l.add_blob_bytes(
        "application/vnd.oci.image.config.v1+json",
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#,
    ));
    let layer = must(l.add_blob_bytes("application/vnd.oci.image.layer.v1.tar", content));
    let m = must(serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": MT_OCI_MANIFEST, "config": config, "layers": [layer]
    })));
    let d = must(l.add_manifest(&m, Some(tag)));
    (d.digest, layer.digest)
}

fn open(dir: &Path, tag: &str) -> Image {
    must(Image::open(
        &format!("oci:{}:{tag}", dir.display()),
        &RegistryConfig::default(),
    ))
}

fn key_req(k: &PrivateKey) -> Requirements {
    Requirements {
        signer: Signer::Key(k.public_key()),
        reference: ReferenceMatch::Ignore,
        annotations: BTreeMap::new(),
        require_tlog: false,
        root: None,
    }
}

fn reasons(r: &verify::Report) -> String {
    r.signatures
        .iter()
        .filter_map(|c| c.reason.clone())
        .collect::<Vec<_>>()
        .join(" | ")
}

#[test]
fn sign_verify_both_layouts_and_bad_inputs() {
    let tmp = must(tempfile::tempdir());
    let dir = tmp.path();
    let (digest, layer) = image(dir, "app1", b"layer one");
    let key = PrivateKey::generate(Algorithm::EcdsaP256);
    let other = PrivateKey::generate(Algorithm::EcdsaP256);
    let img = open(dir, "app1");
    assert_eq!(img.digest(), digest);
    let ann = BTreeMap::from([("team".to_string(), "shop".to_string())]);
    let stored = must(store::sign(
        &img,
        &key,
        &ann,
        Some("registry.example/shop/app"),
        Format::Both,
    ));
    assert_eq!(
        stored.legacy_tag.as_deref(),
        Some(store::legacy_tag(&digest, "sig").as_str())
    );
    assert!(stored.referrer.is_some());

    // Both layouts verify, with annotations and the reference by repository.
    let mut req = key_req(&key);
    req.annotations = ann.clone();
    req.reference = ReferenceMatch::Repository("registry.example/shop/app:9".into());
    let r = must(verify::verify_signatures(&img, &req));
    let ok: Vec<&str> = r
        .signatures
        .iter()
        .filter(|c| c.verified)
        .map(|c| c.source)
        .collect();
    assert_eq!(ok, ["legacy-tag", "referrer"], "{}", reasons(&r));

    // Another key: nothing verifies, each with its reason.
    let r = must(verify::verify_signatures(&img, &key_req(&other)));
    assert!(!r.verified);
    assert_eq!(r.signatures.len(), 2);
    assert!(reasons(&r).contains("does not verify"), "{}", reasons(&r));

    // A required annotation that is missing, one with another value, another repository.
    let mut req = key_req(&key);
    req.annotations.insert("env".into(), "prod".into());
    let r = must(verify::verify_signatures(&img, &req));
    assert!(
        !r.verified && reasons(&r).contains("required annotation env=prod is missing"),
        "{}",
        reasons(&r)
    );
    let mut req = key_req(&key);
    req.annotations.insert("team".into(), "ops".into());
    let r = must(verify::verify_signatures(&img, &req));
    assert!(
        !r.verified && reasons(&r).contains("annotation team is"),
        "{}",
        reasons(&r)
    );
    let mut req = key_req(&key);
    req.reference = ReferenceMatch::Repository("registry.example/other".into());
    let r = must(verify::verify_signatures(&img, &req));
    assert!(
        !r.verified && reasons(&r).contains("the signature is for"),
        "{}",
        reasons(&r)
    );

    // A second signature is appended to the .sig manifest, not replacing the first.
    must(store::sign(
        &img,
        &other,
        &BTreeMap::new(),
        None,
        Format::Legacy,
    ));
    let r = must(verify::verify_signatures(&img, &key_req(&other)));
    assert_eq!(r.signatures.iter().filter(|c| c.verified).count(), 1);
    assert_eq!(
        r.signatures
            .iter()
            .filter(|c| c.source == "legacy-tag")
            .count(),
        2
    );

    // Integrity: fine, then a tampered layer is named.
    let rep = must(integrity::check_integrity(&img));
    assert!(rep.ok && rep.blobs.len() == 3, "{rep:?}");
    let layer_path = dir
        .join("blobs/sha256")
        .join(layer.trim_start_matches("sha256:"));
    must(std::fs::write(&layer_path, b"layer 0ne"));
    let rep = must(integrity::check_integrity(&img));
    let bad: Vec<&str> = rep
        .blobs
        .iter()
        .filter(|b| !b.ok)
        .map(|b| b.role.as_str())
        .collect();
    assert_eq!(bad, ["layer 0"]);
    assert!(rep.blobs.iter().any(|b| b
        .problem
        .as_deref()
        .is_some_and(|p| p.starts_with("tampered"))));
}

#[test]
fn replayed_and_repointed_signatures_fail() {
    let tmp = must(tempfile::tempdir());
    let dir = tmp.path();
    let (a, _) = image(dir, "a1", b"image a");
    let (b, _) = image(dir, "b1", b"image b");
    let key = PrivateKey::generate(Algorithm::EcdsaP256);
    must(store::sign(
        &open(dir, "a1"),
        &key,
        &BTreeMap::new(),
        None,
        Format::Both,
    ));
    // Re-point tag a:1 at image b: b has no signature.
    let l = must(OciLayout::open_or_create(dir));
    let bm = must(l.read_blob(&b, 1 << 20));
    must(l.add_manifest(&bm, Some("a1")));
    let img = open(dir, "a1");
    assert_eq!(img.digest(), b);
    let r = must(verify::verify_signatures(&img, &key_req(&key)));
    assert!(!r.verified && r.signatures.is_empty());
    // Replay a's .sig manifest onto b's tag: the payload names a.
    let sig = must(l.resolve(&store::legacy_tag(&a, "sig"))).unwrap_or_else(|| panic!("no sig"));
    let sig_bytes = must(l.read_blob(&sig.digest, 1 << 20));
    must(l.add_manifest(&sig_bytes, Some(&store::legacy_tag(&b, "sig"))));
    // And a's bundle referrer with its subject rewritten to b.
    let refs = must(l.referrers(&a, None));
    let mut m: serde_json::Value =
        serde_json::from_slice(&must(l.read_blob(&refs[0].digest, 1 << 20))).unwrap_or_default();
    m["subject"]["digest"] = json!(b);
    must(l.add_manifest(&must(serde_json::to_vec(&m)), None));
    let r = must(verify::verify_signatures(&img, &key_req(&key)));
    assert!(!r.verified);
    assert_eq!(r.signatures.len(), 2, "{}", reasons(&r));
    for c in &r.signatures {
        let why = c.reason.clone().unwrap_or_default();
        assert!(
            why.contains(&format!("the signature is for manifest {a}, not {b}")),
            "{why}"
        );
    }
}

#[test]
fn malformed_and_oversized_storage_fails_closed() {
    let tmp = must(tempfile::tempdir());
    let dir = tmp.path();
    let (digest, _) = image(dir, "x1", b"x");
    let key = PrivateKey::generate(Algorithm::EcdsaP256);
    let l = must(OciLayout::open_or_create(dir));
    let tag = store::legacy_tag(&digest, "sig");

    // A .sig manifest with too many layers.
    let payload = must(l.add_blob_bytes(
        bulwark_sign::simple_signing::SIMPLE_SIGNING_MEDIA_TYPE,
        b"{}",
    ));
    let layers: Vec<_> = (0..300).map(|_| payload.clone()).collect();
    let m = must(serde_json::to_vec(
        &json!({"schemaVersion": 2, "mediaType": MT_OCI_MANIFEST,
        "config": payload, "layers": layers}),
    ));
    must(l.add_manifest(&m, Some(&tag)));
    let img = open(dir, "x1");
    let r = must(verify::verify_signatures(&img, &key_req(&key)));
    assert!(
        !r.verified && reasons(&r).contains("holds 300 layers"),
        "{}",
        reasons(&r)
    );

    // A .sig "manifest" whose layers are not descriptors.
    let m = br#"{"schemaVersion":2,"layers":"nope"}"#;
    must(l.add_manifest(m, Some(&tag)));
    let r = must(verify::verify_signatures(&img, &key_req(&key)));
    assert!(
        !r.verified && reasons(&r).contains("no valid layers"),
        "{}",
        reasons(&r)
    );

    // A layer announcing an oversized payload is refused without reading it.
    let mut big = payload.clone();
    big.size = 2 << 20;
    big.annotations
        .insert("dev.cosignproject.cosign/signature".into(), "AAAA".into());
    let m = must(serde_json::to_vec(
        &json!({"schemaVersion": 2, "mediaType": MT_OCI_MANIFEST,
        "config": payload, "layers": [big]}),
    ));
    must(l.add_manifest(&m, Some(&tag)));
    let r = must(verify::verify_signatures(&img, &key_req(&key)));
    assert!(reasons(&r).contains("at most"), "{}", reasons(&r));

    // A payload signed for another digest, stored under this image's tag.
    let other = format!("sha256:{}", "ab".repeat(32));
    let sig = must(bulwark_sign::sign::sign_image(
        &other,
        "r/x",
        &BTreeMap::new(),
        &key,
    ));
    let mut d = must(l.add_blob_bytes(
        bulwark_sign::simple_signing::SIMPLE_SIGNING_MEDIA_TYPE,
        &sig.payload,
    ));
    d.annotations.insert(
        "dev.cosignproject.cosign/signature".into(),
        sig.signature_b64.clone(),
    );
    let m = must(serde_json::to_vec(
        &json!({"schemaVersion": 2, "mediaType": MT_OCI_MANIFEST,
        "config": payload, "layers": [d]}),
    ));
    must(l.add_manifest(&m, Some(&tag)));
    let r = must(verify::verify_signatures(&img, &key_req(&key)));
    assert!(
        !r.verified && reasons(&r).contains(&format!("for manifest {other}")),
        "{}",
        reasons(&r)
    );

    // A bundle referrer whose bundle is not a bundle.
    let empty = must(l.add_blob_bytes(oci::MT_EMPTY, oci::EMPTY_JSON));
    let junk = must(l.add_blob_bytes(bulwark_sign::sign::BUNDLE_MEDIA_TYPE, b"{\"mediaType\": 5}"));
    let m = must(serde_json::to_vec(
        &json!({"schemaVersion": 2, "mediaType": MT_OCI_MANIFEST,
        "artifactType": bulwark_sign::sign::BUNDLE_MEDIA_TYPE, "config": empty, "layers": [junk],
        "subject": {"mediaType": MT_OCI_MANIFEST, "digest": digest, "size": 1}}),
    ));
    must(l.add_manifest(&m, None));
    let r = must(verify::verify_signatures(&img, &key_req(&key)));
    assert!(
        !r.verified && reasons(&r).contains("not valid bundle JSON"),
        "{}",
        reasons(&r)
    );
}

#[test]
fn attestations_subject_type_and_policy() {
    let tmp = must(tempfile::tempdir());
    let dir = tmp.path();
    let (digest, _) = image(dir, "app1", b"app");
    let key = PrivateKey::generate(Algorithm::EcdsaP256);
    let img = open(dir, "app1");
    must(store::attest(
        &img,
        &key,
        "https://cyclonedx.org/bom",
        json!({"bomFormat": "CycloneDX"}),
        Format::Both,
    ));
    let vuln = json!({"scanner": {"result": {"vulnerabilities": [
        {"id": "CVE-2099-1", "package": "openssl", "installed_version": "1", "severity": "CRITICAL", "fixed_versions": ["2"]}]}}});
    must(store::attest(
        &img,
        &key,
        "https://cosign.sigstore.dev/attestation/vuln/v1",
        vuln,
        Format::Both,
    ));

    let r = must(verify::verify_attestations(
        &img,
        &key_req(&key),
        Some("https://cyclonedx.org/bom"),
    ));
    assert_eq!(
        r.signatures.iter().filter(|c| c.verified).count(),
        2,
        "{}",
        reasons(&r)
    );
    assert!(reasons(&r).contains("not the requested"));
    // Signature verification does not count attestations as signatures.
    let s = must(verify::verify_signatures(&img, &key_req(&key)));
    assert!(!s.verified && s.signatures.is_empty(), "{}", reasons(&s));
    // Another key: nothing.
    let other = PrivateKey::generate(Algorithm::Ed25519);
    let r2 = must(verify::verify_attestations(&img, &key_req(&other), None));
    assert!(!r2.verified && r2.signatures.len() == 4, "{}", reasons(&r2));

    let all = must(verify::verify_attestations(&img, &key_req(&key), None));
    let policy = include_str!("../../../examples/attestation/sbom-and-no-fixable-critical.rego");
    let deny = must(bulwark_cosign::policy::evaluate(
        "p.rego",
        policy,
        &bulwark_cosign::policy::input(&all, &img.docker_reference),
    ));
    assert_eq!(deny, ["CVE-2099-1 in openssl 1 is CRITICAL and fixed in 2"]);
    assert_eq!(all.digest, digest);
}

#[test]
fn cosign_v3_dsse_signature_referrer_and_the_cache() {
    let tmp = must(tempfile::tempdir());
    let dir = tmp.path();
    let (digest, _) = image(dir, "app1", b"app");
    let key = PrivateKey::generate(Algorithm::EcdsaP256);
    let img = open(dir, "app1");
    // cosign v3's image signature: a DSSE statement with predicate type sign/v1 as a
    // bundle referrer (attest with that type produces exactly that shape).
    must(store::attest(
        &img,
        &key,
        store::COSIGN_SIGN_PREDICATE,
        serde_json::Value::Null,
        Format::Bundle,
    ));
    let r = must(verify::verify_signatures(&img, &key_req(&key)));
    assert!(r.verified, "{}", reasons(&r));
    assert_eq!(
        r.signatures[0].predicate_type.as_deref(),
        Some(store::COSIGN_SIGN_PREDICATE)
    );
    // It carries no annotations, so requiring one fails it.
    let mut q = key_req(&key);
    q.annotations.insert("team".into(), "shop".into());
    let r = must(verify::verify_signatures(&img, &q));
    assert!(
        !r.verified && reasons(&r).contains("carries no annotations"),
        "{}",
        reasons(&r)
    );
    // Nor a docker-reference: requiring one fails it too.
    let mut q2 = key_req(&key);
    q2.reference = ReferenceMatch::Repository("example.com/app1".into());
    let r = must(verify::verify_signatures(&img, &q2));
    assert!(
        !r.verified && reasons(&r).contains("carries no docker-reference"),
        "{}",
        reasons(&r)
    );

    // The cache: a miss verifies, a hit answers without reading storage (the layout
    // is removed in between), failures are remembered too.
    let cache = bulwark_sign::cache::VerificationCache::new(bulwark_sign::cache::Config::default());
    let first = must(verify::verify_cached(&cache, &img, &key_req(&key)));
    assert!(first.is_ok_and(|r| r.digest == digest));
    let other = PrivateKey::generate(Algorithm::EcdsaP256);
    let denied = must(verify::verify_cached(&cache, &img, &key_req(&other)));
    assert!(
        denied
            .as_ref()
            .is_err_and(|e| e.contains("does not verify")),
        "{denied:?}"
    );
    must(std::fs::remove_dir_all(dir.join("blobs")));
    assert!(must(verify::verify_cached(&cache, &img, &key_req(&key))).is_ok());
    assert!(must(verify::verify_cached(&cache, &img, &key_req(&other))).is_err());
    // A policy not seen before misses, and the damaged layout verifies nothing.
    let miss = verify::verify_cached(&cache, &img, &q);
    assert!(
        matches!(&miss, Ok(Err(e)) if e.contains("missing blob")),
        "{miss:?}"
    );
}

#[test]
fn an_attestation_verification_could_not_read_is_not_stored() {
    let tmp = must(tempfile::tempdir());
    let dir = tmp.path();
    image(dir, "big", b"big");
    let key = PrivateKey::generate(Algorithm::EcdsaP256);
    let img = open(dir, "big");
    // 25 MiB of predicate: over 32 MiB once base64-encoded in the envelope.
    let predicate = serde_json::Value::String("x".repeat(25 << 20));
    let e = store::attest(&img, &key, "https://example.com/p", predicate, Format::Both)
        .expect_err("an attestation over the read limit must be refused");
    assert!(e.to_string().contains("verification reads at most"), "{e}");
    assert!(store::attest(
        &img,
        &key,
        "https://example.com/p",
        serde_json::json!({"ok": true}),
        Format::Both
    )
    .is_ok());
}
