//! The webhook against a real registry (bulwark-testkit's `docker-registry` on loopback
//! with TLS from a test CA and htpasswd auth): signed and unsigned images under a key
//! policy (signed admitted, unsigned denied, the repeat answered from the verification
//! cache with no registry call), digest pinning as a JSON patch applied with the
//! json-patch crate and the result re-checked, and registries that are down or hang
//! (the documented failure direction, within the time budget).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic: that is its failure

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bulwark_image::registry::RegistryConfig;
use common::*;
use serde_json::json;

fn policy_text(extra: &str) -> String {
    format!(
        r#"apiVersion: bulwark.dev/v1alpha1
kind: AdmissionPolicy
settings:
  timeouts: {{resolve: 1500ms, signature: 1500ms}}
rules:
  - name: pin
    pinDigests: {{}}
  - name: signed
    verifyImages:
      - images: ["127.0.0.1:*/signed/*", "127.0.0.1:*/unsigned/*"]
        keys: [cosign.pub]
{extra}"#
    )
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

#[test]
fn signed_unsigned_cache_and_pinning() {
    let Some(reg) = bulwark_testkit::Registry::start(
        bulwark_testkit::RegistryOptions::tls_with_auth("ci-bot", "s3cret"),
    ) else {
        return;
    };
    let cfg = registry_config(&reg);
    let host = reg.host();
    let signed_digest = push_image(&cfg, &host, "signed/app", "1", "signed");
    let unsigned_digest = push_image(&cfg, &host, "unsigned/app", "1", "unsigned");
    assert_ne!(signed_digest, unsigned_digest);

    let key = bulwark_sign::PrivateKey::generate(bulwark_sign::Algorithm::EcdsaP256);
    let image =
        bulwark_cosign::location::Image::open(&format!("{host}/signed/app:1"), &cfg).unwrap();
    bulwark_cosign::store::sign(
        &image,
        &key,
        &BTreeMap::new(),
        None,
        bulwark_cosign::store::Format::Both,
    )
    .unwrap();

    let tmp = tempfile::tempdir().unwrap();
    write(
        tmp.path(),
        "cosign.pub",
        &key.public_key().to_pem().unwrap(),
    );
    write(tmp.path(), "policy.yaml", &policy_text(""));
    let pki = make_pki(tmp.path(), "a");
    let mut c = config(&tmp.path().join("policy.yaml"), &pki);
    c.registry = cfg.clone();
    let hook = Webhook::start(c);
    let agent = client(&pki.ca);
    let validate = format!("{}/validate", hook.url);
    let mutate = format!("{}/mutate", hook.url);

    // Mutation: the Deployment's tag is pinned; the patch applies and the patched
    // object passes validation (signature verified).
    let dep = deployment(
        "web",
        &format!("{host}/signed/app:1"),
        json!({"app": "web"}),
    );
    let m = admit(
        &agent,
        &mutate,
        &review("CREATE", "prod", &dep, None, &alice()),
    );
    assert_eq!(m["allowed"], true, "{m}");
    let ops = patch_of(&m).expect("a patch");
    assert_eq!(
        ops,
        json!([{"op": "replace", "path": "/spec/template/spec/containers/0/image",
                "value": format!("{host}/signed/app:1@{signed_digest}")}])
    );
    let mut patched = dep.clone();
    json_patch::patch(
        &mut patched,
        &serde_json::from_value::<json_patch::Patch>(ops).unwrap(),
    )
    .unwrap();
    let v = admit(
        &agent,
        &validate,
        &review("CREATE", "prod", &patched, None, &alice()),
    );
    assert_eq!(v["allowed"], true, "{v}");
    // Re-checked: the mutating webhook has nothing more to pin.
    let again = admit(
        &agent,
        &mutate,
        &review("CREATE", "prod", &patched, None, &alice()),
    );
    assert!(patch_of(&again).is_none(), "{again}");

    // Unsigned: denied with the reason.
    let bad = pod("u", &format!("{host}/unsigned/app:1"), json!({}));
    let v = admit(
        &agent,
        &validate,
        &review("CREATE", "prod", &bad, None, &alice()),
    );
    assert_eq!(v["allowed"], false, "{v}");
    assert!(
        v["status"]["message"]
            .as_str()
            .unwrap()
            .contains("no valid signature"),
        "{v}"
    );

    // The ReplicaSet and the Pod the Deployment leads to: answered from the cache.
    let stats = hook.deps().stats();
    let before = stats.verifications.load(Ordering::Relaxed);
    let hits = stats.cache_hits.load(Ordering::Relaxed);
    let pinned = format!("{host}/signed/app:1@{signed_digest}");
    let mut rs = deployment("web-7d4b9", &pinned, json!({"app": "web"}));
    rs["kind"] = json!("ReplicaSet");
    for obj in [rs, pod("web-7d4b9-x2", &pinned, json!({"app": "web"}))] {
        let t = Instant::now();
        let v = admit(
            &agent,
            &validate,
            &review("CREATE", "prod", &obj, None, &alice()),
        );
        assert_eq!(v["allowed"], true, "{v}");
        eprintln!("warm decision in {:?}", t.elapsed());
    }
    // The failure is cached too.
    let v = admit(
        &agent,
        &validate,
        &review("CREATE", "prod", &bad, None, &alice()),
    );
    assert_eq!(v["allowed"], false);
    assert_eq!(
        stats.verifications.load(Ordering::Relaxed),
        before,
        "no registry verification for cached verdicts"
    );
    assert!(stats.cache_hits.load(Ordering::Relaxed) >= hits + 3);

    // Pinned to another digest of the signed repository (not signed): denied.
    let wrong = pod(
        "w",
        &format!("{host}/signed/app@{unsigned_digest}"),
        json!({}),
    );
    let v = admit(
        &agent,
        &validate,
        &review("CREATE", "prod", &wrong, None, &alice()),
    );
    assert_eq!(v["allowed"], false, "{v}");
}

/// A registry that refuses connections, and one that accepts and never answers: the
/// rule's `onError` decides (deny by default, allow with a warning when set), within
/// the policy's time budget.
#[test]
fn registry_down_or_hanging_fails_as_documented() {
    let hang = bulwark_testkit::hanging_listener();
    let down = format!("127.0.0.1:{}", bulwark_testkit::free_port());
    let tmp = tempfile::tempdir().unwrap();
    let key = bulwark_sign::PrivateKey::generate(bulwark_sign::Algorithm::EcdsaP256);
    write(
        tmp.path(),
        "cosign.pub",
        &key.public_key().to_pem().unwrap(),
    );
    write(
        tmp.path(),
        "policy.yaml",
        r#"apiVersion: bulwark.dev/v1alpha1
kind: AdmissionPolicy
settings:
  timeouts: {resolve: 1s, signature: 1s}
rules:
  - name: signed
    match: {namespaces: [strict]}
    verifyImages:
      - images: ["*"]
        keys: [cosign.pub]
  - name: signed-open
    match: {namespaces: [lenient]}
    onError: allow
    verifyImages:
      - images: ["*"]
        keys: [cosign.pub]
"#,
    );
    let pki = make_pki(tmp.path(), "a");
    let mut c = config(&tmp.path().join("policy.yaml"), &pki);
    // A CA file so the client speaks TLS to the hanging listener (and waits).
    c.registry = RegistryConfig {
        ca_file: Some(pki.ca.clone()),
        ..Default::default()
    };
    let hook = Webhook::start(c);
    let agent = client(&pki.ca);
    let url = format!("{}/validate", hook.url);
    for host in [hang.host().to_string(), down] {
        let digest = format!("sha256:{}", "a".repeat(64));
        for image in [format!("{host}/app:1"), format!("{host}/app@{digest}")] {
            let p = pod("p", &image, json!({}));
            let t = Instant::now();
            let r = admit(
                &agent,
                &url,
                &review("CREATE", "strict", &p, None, &alice()),
            );
            let took = t.elapsed();
            assert_eq!(r["allowed"], false, "{image}: {r}");
            let msg = r["status"]["message"].as_str().unwrap();
            assert!(
                msg.contains("cannot check") && msg.contains("onError: deny"),
                "{msg}"
            );
            assert!(took < Duration::from_millis(3500), "{image}: took {took:?}");
            let t = Instant::now();
            let r = admit(
                &agent,
                &url,
                &review("CREATE", "lenient", &p, None, &alice()),
            );
            assert_eq!(r["allowed"], true, "{image}: {r}");
            let w = r["warnings"].to_string();
            assert!(w.contains("signed-open: not checked"), "{w}");
            assert!(t.elapsed() < Duration::from_millis(3500));
        }
    }
    // Errors are not cached: nothing was remembered.
    assert_eq!(hook.deps().cached_verdicts(), 0);
}

/// Attestations: a signed image without the required attestation is denied; once
/// attested it is admitted (the failure was cached for `failureTtl` only).
#[test]
fn attestation_required() {
    let Some(reg) = bulwark_testkit::Registry::start(
        bulwark_testkit::RegistryOptions::tls_with_auth("ci-bot", "s3cret"),
    ) else {
        return;
    };
    let cfg = registry_config(&reg);
    let host = reg.host();
    let digest = push_image(&cfg, &host, "signed/att", "1", "att");
    let key = bulwark_sign::PrivateKey::generate(bulwark_sign::Algorithm::EcdsaP256);
    let image =
        bulwark_cosign::location::Image::open(&format!("{host}/signed/att:1"), &cfg).unwrap();
    bulwark_cosign::store::sign(
        &image,
        &key,
        &BTreeMap::new(),
        None,
        bulwark_cosign::store::Format::Both,
    )
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    write(
        tmp.path(),
        "cosign.pub",
        &key.public_key().to_pem().unwrap(),
    );
    write(
        tmp.path(),
        "policy.yaml",
        r#"apiVersion: bulwark.dev/v1alpha1
kind: AdmissionPolicy
settings:
  cache: {failureTtl: 200ms}
rules:
  - name: provenance
    verifyImages:
      - images: ["127.0.0.1:*/signed/*"]
        keys: [cosign.pub]
        attestations: ["https://slsa.dev/provenance/v1"]
"#,
    );
    let pki = make_pki(tmp.path(), "a");
    let mut c = config(&tmp.path().join("policy.yaml"), &pki);
    c.registry = cfg.clone();
    let hook = Webhook::start(c);
    let agent = client(&pki.ca);
    let url = format!("{}/validate", hook.url);
    let p = pod("a", &format!("{host}/signed/att@{digest}"), json!({}));
    let r = admit(&agent, &url, &review("CREATE", "prod", &p, None, &alice()));
    assert_eq!(r["allowed"], false, "{r}");
    assert!(
        r["status"]["message"]
            .as_str()
            .unwrap()
            .contains("attestation https://slsa.dev/provenance/v1 missing"),
        "{r}"
    );
    bulwark_cosign::store::attest(
        &image,
        &key,
        "https://slsa.dev/provenance/v1",
        json!({"buildDefinition": {"buildType": "test"}}),
        bulwark_cosign::store::Format::Both,
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let r = admit(&agent, &url, &review("CREATE", "prod", &p, None, &alice()));
    assert_eq!(r["allowed"], true, "{r}");
}

/// Concurrent cold requests for one new image: a single verification, every request
/// answered (the others from the cache the first one filled).
#[test]
fn concurrent_cold_requests_verify_once() {
    let Some(reg) = bulwark_testkit::Registry::start(
        bulwark_testkit::RegistryOptions::tls_with_auth("ci-bot", "s3cret"),
    ) else {
        return;
    };
    let cfg = registry_config(&reg);
    let host = reg.host();
    let digest = push_image(&cfg, &host, "signed/burst", "1", "burst");
    let key = bulwark_sign::PrivateKey::generate(bulwark_sign::Algorithm::EcdsaP256);
    let image =
        bulwark_cosign::location::Image::open(&format!("{host}/signed/burst:1"), &cfg).unwrap();
    bulwark_cosign::store::sign(
        &image,
        &key,
        &BTreeMap::new(),
        None,
        bulwark_cosign::store::Format::Both,
    )
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    write(
        tmp.path(),
        "cosign.pub",
        &key.public_key().to_pem().unwrap(),
    );
    write(tmp.path(), "policy.yaml", &policy_text(""));
    let pki = make_pki(tmp.path(), "a");
    let mut c = config(&tmp.path().join("policy.yaml"), &pki);
    c.registry = cfg.clone();
    let hook = Webhook::start(c);
    let url = format!("{}/validate", hook.url);
    let p = pod("b", &format!("{host}/signed/burst@{digest}"), json!({}));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let agent = client(&pki.ca);
            let url = url.clone();
            let body = review("CREATE", "prod", &p, None, &alice());
            std::thread::spawn(move || admit(&agent, &url, &body)["allowed"].as_bool())
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), Some(true));
    }
    assert_eq!(hook.deps().stats().verifications.load(Ordering::Relaxed), 1);
    assert!(hook.deps().stats().cache_hits.load(Ordering::Relaxed) >= 7);
}
