//! Image signatures, DSSE and bundles from the shared fixtures, through the library:
//! cosign-made signature layers (containers/image fixtures), sigstore-rs simple-signing
//! vectors, DSSE vectors (spec, in-toto-golang, sigstore-go), cosign attestation and
//! cosign v3 image-signature bundles.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic: that is its failure

use bulwark_sign::bundle::Envelope;
use bulwark_sign::cosign::{self, Options, SignatureLayer, Verifier};
use bulwark_sign::simple_signing::{Expectation, ReferenceMatch};
use bulwark_sign::trust::LogKey;
use bulwark_sign::x509::Cert;
use bulwark_sign::{
    verify_bundle, Artifact, Bundle, Error, Matcher, Policy, PublicKey, TrustedRoot,
};
use sha2::Digest;
use std::collections::BTreeMap;
use std::path::PathBuf;

fn fix(p: &str) -> PathBuf {
    bulwark_fixtures::fixtures_location()
        .join("sigstore")
        .join(p)
}
fn text(p: &str) -> String {
    std::fs::read_to_string(fix(p)).unwrap()
}
fn key(p: &str) -> PublicKey {
    PublicKey::from_pem(&text(p)).unwrap()
}
fn prod_root() -> TrustedRoot {
    TrustedRoot::from_file(&fix("trusted-root/production/trusted_root.json")).unwrap()
}

/// A containers/image `signature-N` file: `\0sigstore-json\n` + JSON.
fn layer(p: &str) -> SignatureLayer {
    let raw = std::fs::read(fix(p)).unwrap();
    let json = raw
        .strip_prefix(b"\x00sigstore-json\n")
        .expect("sigstore-json prefix");
    let v: serde_json::Value = serde_json::from_slice(json).unwrap();
    let payload = base64_decode(v["payload"].as_str().unwrap());
    let annotations: BTreeMap<String, String> = v["annotations"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect();
    SignatureLayer {
        media_type: v["mimeType"].as_str().unwrap().to_string(),
        payload,
        annotations,
    }
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

fn manifest_digest(dir: &str) -> String {
    let m = std::fs::read(fix(&format!("containers-image/{dir}/manifest.json"))).unwrap();
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(m)))
}

fn expect(digest: &str) -> Expectation {
    Expectation {
        manifest_digest: digest.to_string(),
        reference: ReferenceMatch::Ignore,
        annotations: BTreeMap::new(),
    }
}

fn opts(rekor: bool) -> Options {
    Options {
        rekor_keys: if rekor {
            vec![LogKey::unbounded(key("containers-image/rekor.pub"))]
        } else {
            vec![]
        },
        require_tlog: rekor,
        now: bulwark_sign::time::now(),
    }
}

fn unverified_reason(r: bulwark_sign::Result<impl std::fmt::Debug>) -> String {
    match r {
        Err(Error::Unverified(m)) => m,
        other => panic!("expected a verification failure, got {other:?}"),
    }
}

#[test]
fn containers_image_key_signed() {
    let _fx = bulwark_fixtures::fixtures_or_skip!();
    let k = Verifier::Key(key("containers-image/cosign.pub"));
    let d = manifest_digest("dir-img-cosign-valid");
    let v = cosign::verify_layer(
        &layer("containers-image/dir-img-cosign-valid/signature-1"),
        &k,
        &Expectation {
            reference: ReferenceMatch::Repository(
                "192.168.64.2:5000/cosign-signed-single-sample".into(),
            ),
            ..expect(&d)
        },
        &opts(false),
    )
    .unwrap();
    assert_eq!(v.payload.critical.image.docker_manifest_digest, d);

    // Wrong docker-reference and a missing annotation are named.
    let l = layer("containers-image/dir-img-cosign-valid/signature-1");
    let r = cosign::verify_layer(
        &l,
        &k,
        &Expectation {
            reference: ReferenceMatch::Repository("192.168.64.2:5000/other".into()),
            ..expect(&d)
        },
        &opts(false),
    );
    assert!(unverified_reason(r).contains("not \"192.168.64.2:5000/other\""));
    let r = cosign::verify_layer(
        &l,
        &k,
        &Expectation {
            annotations: BTreeMap::from([("env".into(), "prod".into())]),
            ..expect(&d)
        },
        &opts(false),
    );
    assert!(unverified_reason(r).contains("env=prod is missing"));
    // The same signature replayed onto another image.
    let other = manifest_digest("dir-img-cosign-modified-manifest");
    let r = cosign::verify_layer(&l, &k, &expect(&other), &opts(false));
    assert!(unverified_reason(r).contains("the signature is for manifest"));
    // A tampered payload byte.
    let mut t = l.clone();
    t.payload[10] ^= 1;
    assert!(
        unverified_reason(cosign::verify_layer(&t, &k, &expect(&d), &opts(false)))
            .contains("does not verify")
    );
    // Another key.
    let other_key = Verifier::Key(key("containers-image/cosign2.pub"));
    assert!(unverified_reason(cosign::verify_layer(
        &l,
        &other_key,
        &expect(&d),
        &opts(false)
    ))
    .contains("does not verify"));

    // valid-2: both signatures verify.
    let d2 = manifest_digest("dir-img-cosign-valid-2");
    for n in 1..=2 {
        cosign::verify_layer(
            &layer(&format!(
                "containers-image/dir-img-cosign-valid-2/signature-{n}"
            )),
            &k,
            &expect(&d2),
            &opts(false),
        )
        .unwrap();
    }
    // mixed: exactly one of the two verifies.
    let dm = manifest_digest("dir-img-cosign-mixed");
    let results: Vec<bool> = (1..=2)
        .map(|n| {
            cosign::verify_layer(
                &layer(&format!(
                    "containers-image/dir-img-cosign-mixed/signature-{n}"
                )),
                &k,
                &expect(&dm),
                &opts(false),
            )
            .is_ok()
        })
        .collect();
    assert_eq!(results.iter().filter(|b| **b).count(), 1, "{results:?}");
    // valid-with-tag: the reference carries a tag; repository matching ignores it.
    let dt = manifest_digest("dir-img-cosign-valid-with-tag");
    cosign::verify_layer(
        &layer("containers-image/dir-img-cosign-valid-with-tag/signature-1"),
        &k,
        &Expectation {
            reference: ReferenceMatch::Repository("192.168.64.2:5000/skopeo-signed".into()),
            ..expect(&dt)
        },
        &opts(false),
    )
    .unwrap();
}

#[test]
fn containers_image_negative_cases() {
    let _fx = bulwark_fixtures::fixtures_or_skip!();
    let k = Verifier::Key(key("containers-image/cosign.pub"));
    for dir in [
        "dir-img-cosign-modified-manifest",
        "dir-img-cosign-manifest-digest-error",
    ] {
        let r = cosign::verify_layer(
            &layer(&format!("containers-image/{dir}/signature-1")),
            &k,
            &expect(&manifest_digest(dir)),
            &opts(false),
        );
        assert!(
            unverified_reason(r).contains("the signature is for manifest"),
            "{dir}"
        );
    }
    let r = cosign::verify_layer(
        &layer("containers-image/dir-img-cosign-other-attachment/signature-1"),
        &k,
        &expect(&manifest_digest("dir-img-cosign-other-attachment")),
        &opts(false),
    );
    assert!(unverified_reason(r).contains("not a signature layer"));
}

#[test]
fn containers_image_rekor_and_certificates() {
    let _fx = bulwark_fixtures::fixtures_or_skip!();
    // Key + Rekor SET.
    let d = manifest_digest("dir-img-cosign-key-rekor-valid");
    let l = layer("containers-image/dir-img-cosign-key-rekor-valid/signature-1");
    let v = cosign::verify_layer(
        &l,
        &Verifier::Key(key("containers-image/cosign2.pub")),
        &expect(&d),
        &opts(true),
    )
    .unwrap();
    assert!(v.integrated_time.is_some());
    // A SET that does not match: another Rekor key.
    let mut o = opts(true);
    o.rekor_keys = vec![LogKey::unbounded(key("containers-image/cosign.pub"))];
    assert!(unverified_reason(cosign::verify_layer(
        &l,
        &Verifier::Key(key("containers-image/cosign2.pub")),
        &expect(&d),
        &o
    ))
    .contains("signed entry timestamp"));

    // Fulcio certificate + chain + SET.
    let d = manifest_digest("dir-img-cosign-fulcio-rekor-valid");
    let l = layer("containers-image/dir-img-cosign-fulcio-rekor-valid/signature-1");
    let fulcio = Verifier::Certificate {
        roots: Cert::from_pem_chain(&text("containers-image/fulcio_v1.crt.pem")).unwrap(),
        intermediates: vec![],
        san: Some(Matcher::Exact("mitr@redhat.com".into())),
        issuer: Some(Matcher::Exact("https://github.com/login/oauth".into())),
    };
    let v = cosign::verify_layer(&l, &fulcio, &expect(&d), &opts(true)).unwrap();
    assert_eq!(v.san, vec!["mitr@redhat.com".to_string()]);
    // The same signature against the production trusted root: Fulcio CA window at the
    // SET's time, code-signing leaf, the embedded SCT by a CT log of the root.
    let keyless = |san: &str| Verifier::TrustedRoot {
        root: Box::new(prod_root()),
        san: Matcher::Exact(san.into()),
        issuer: Matcher::Exact("https://github.com/login/oauth".into()),
    };
    let v =
        cosign::verify_layer(&l, &keyless("mitr@redhat.com"), &expect(&d), &opts(false)).unwrap();
    assert_eq!(v.san, vec!["mitr@redhat.com".to_string()]);
    assert!(unverified_reason(cosign::verify_layer(
        &l,
        &keyless("someone@else.example"),
        &expect(&d),
        &opts(false)
    ))
    .contains("does not match"));
    let with_root = |edit: &dyn Fn(&mut TrustedRoot)| {
        let mut root = prod_root();
        edit(&mut root);
        let v = Verifier::TrustedRoot {
            root: Box::new(root),
            san: Matcher::Exact("mitr@redhat.com".into()),
            issuer: Matcher::Exact("https://github.com/login/oauth".into()),
        };
        unverified_reason(cosign::verify_layer(&l, &v, &expect(&d), &opts(false)))
    };
    let t = v
        .integrated_time
        .map(bulwark_sign::time::from_secs)
        .unwrap();
    // Every Fulcio CA's window closed before the signing time.
    let r = with_root(&|root| {
        for a in &mut root.certificate_authorities {
            a.valid.1 = Some(t - 1);
        }
    });
    assert!(r.contains("not valid in the trusted root"), "{r}");
    // No CT log in the root: the embedded SCT vouches for nothing.
    let r = with_root(&|root| root.ctlogs.clear());
    assert!(r.contains("SCT from unknown log"), "{r}");
    // The Rekor key's window closed before the entry's integrated time.
    let r = with_root(&|root| {
        for l in &mut root.tlogs {
            l.valid.1 = Some(t - 1);
        }
    });
    assert!(r.contains("not valid at its integrated time"), "{r}");
    // No Rekor bundle: keyless needs the SET's time, whatever the options say.
    let mut no_set = l.clone();
    no_set.annotations.remove(cosign::ANN_BUNDLE);
    let r = unverified_reason(cosign::verify_layer(
        &no_set,
        &keyless("mitr@redhat.com"),
        &expect(&d),
        &opts(false),
    ));
    assert!(r.contains("no Rekor bundle"), "{r}");
    let wrong_id = Verifier::Certificate {
        roots: Cert::from_pem_chain(&text("containers-image/fulcio_v1.crt.pem")).unwrap(),
        intermediates: vec![],
        san: Some(Matcher::Exact("someone@else.example".into())),
        issuer: None,
    };
    assert!(unverified_reason(cosign::verify_layer(
        &l,
        &wrong_id,
        &expect(&d),
        &opts(true)
    ))
    .contains("does not match"));
    // Without the SET's time the short-lived certificate has expired: fails closed.
    let mut no_set = l.clone();
    no_set.annotations.remove(cosign::ANN_BUNDLE);
    assert!(unverified_reason(cosign::verify_layer(
        &no_set,
        &fulcio,
        &expect(&d),
        &opts(false)
    ))
    .contains("was not valid at"));

    // Private PKI (RSA), no Rekor.
    let d = manifest_digest("dir-img-cosign-pki-valid");
    let pki = Verifier::Certificate {
        roots: Cert::from_pem_chain(&text("containers-image/pki_root_crts.pem")).unwrap(),
        intermediates: Cert::from_pem_chain(&text("containers-image/pki_intermediate_crts.pem"))
            .unwrap(),
        san: Some(Matcher::Exact("qiwan@redhat.com".into())),
        issuer: None,
    };
    cosign::verify_layer(
        &layer("containers-image/dir-img-cosign-pki-valid/signature-1"),
        &pki,
        &Expectation {
            reference: ReferenceMatch::Exact("localhost:5000/test".into()),
            ..expect(&d)
        },
        &opts(false),
    )
    .unwrap();
    // The Fulcio root does not vouch for the private PKI.
    let r = cosign::verify_layer(
        &layer("containers-image/dir-img-cosign-pki-valid/signature-1"),
        &fulcio,
        &expect(&d),
        &opts(false),
    );
    assert!(r.is_err());
}

#[test]
fn sigstore_rs_simple_signing_vectors() {
    let _fx = bulwark_fixtures::fixtures_or_skip!();
    for dir in ["ecdsa-p256", "rsa-pkcs1v15-sha256"] {
        let k = key(&format!("sigstore-rs/simple-signing/{dir}/key.pub"));
        let payload = std::fs::read(fix(&format!(
            "sigstore-rs/simple-signing/{dir}/payload.json"
        )))
        .unwrap();
        let sig =
            base64_decode(text(&format!("sigstore-rs/simple-signing/{dir}/payload.sig")).trim());
        k.verify(&payload, &sig).unwrap();
        assert!(k.verify(b"hello world", &sig).is_err(), "{dir}");
        let p = bulwark_sign::simple_signing::Payload::parse(&payload).unwrap();
        assert_eq!(
            p.critical.type_,
            bulwark_sign::simple_signing::COSIGN_SIGNATURE_TYPE
        );
    }
    // The upstream negative key.
    let other = PublicKey::from_spki_der(&base64_decode(
        "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEJsB89BPhZYch0U0hKANx5TY+ncrm0s8bfJxxHoenAEFhwhuXeb4PqIrtoQ==",
    ));
    if let Ok(o) = other {
        let payload =
            std::fs::read(fix("sigstore-rs/simple-signing/ecdsa-p256/payload.json")).unwrap();
        let sig = base64_decode(text("sigstore-rs/simple-signing/ecdsa-p256/payload.sig").trim());
        assert!(o.verify(&payload, &sig).is_err());
    }

    // Keyless, legacy `rekord` entry with SET, 2021 Fulcio root from the production trusted root.
    let dir = "sigstore-rs/simple-signing/keyless-legacy-rekord";
    let cert = Cert::from_pem_chain(&text(&format!("{dir}/cert.pem")))
        .unwrap()
        .remove(0);
    let payload = std::fs::read(fix(&format!("{dir}/payload.json"))).unwrap();
    let sig_b64 = text(&format!("{dir}/payload.sig")).trim().to_string();
    let root = prod_root();
    let rekor = root.tlogs.clone();
    let roots: Vec<Cert> = root
        .certificate_authorities
        .iter()
        .flat_map(|a| a.chain.clone())
        .collect();
    let p = bulwark_sign::simple_signing::Payload::parse(&payload).unwrap();
    let l = SignatureLayer {
        media_type: bulwark_sign::simple_signing::SIMPLE_SIGNING_MEDIA_TYPE.into(),
        payload: payload.clone(),
        annotations: BTreeMap::from([
            (cosign::ANN_SIGNATURE.to_string(), sig_b64),
            (
                cosign::ANN_CERTIFICATE.to_string(),
                text(&format!("{dir}/cert.pem")),
            ),
            (
                cosign::ANN_BUNDLE.to_string(),
                text(&format!("{dir}/bundle.json")),
            ),
        ]),
    };
    let v = cosign::verify_layer(
        &l,
        &Verifier::Certificate {
            roots,
            intermediates: vec![],
            san: Some(Matcher::Exact("flavio@castelli.me".into())),
            issuer: None,
        },
        &expect(&p.critical.image.docker_manifest_digest),
        &Options {
            rekor_keys: rekor,
            require_tlog: true,
            now: bulwark_sign::time::now(),
        },
    )
    .unwrap();
    assert!(v.integrated_time.is_some());
    assert!(cert
        .san_identities()
        .unwrap()
        .contains(&"flavio@castelli.me".to_string()));
    // Against the trusted root itself (what `bulwark verify --certificate-identity` uses),
    // the CA window and certificate transparency are checked too.
    let keyless = |san: &str| Verifier::TrustedRoot {
        root: Box::new(root.clone()),
        san: Matcher::Exact(san.into()),
        issuer: Matcher::Regex(regex::Regex::new(".*").unwrap()),
    };
    let r = cosign::verify_layer(
        &l,
        &keyless("flavio@castelli.me"),
        &expect(&p.critical.image.docker_manifest_digest),
        &opts(false),
    );
    // This 2021 certificate predates Fulcio's embedded SCTs: with no certificate
    // transparency proof it does not verify (cosign refuses it too without
    // --insecure-ignore-sct), even though its chain and SET are good.
    assert!(unverified_reason(r).contains("no signed certificate timestamp"));
}

#[test]
fn dsse_spec_vector_and_in_toto_golang() {
    let _fx = bulwark_fixtures::fixtures_or_skip!();
    let k = key("dsse/spec-test-vector/key.pub");
    for f in ["envelope.json", "envelope-with-keyid.json"] {
        let e =
            Envelope::from_json(text(&format!("dsse/spec-test-vector/{f}")).as_bytes()).unwrap();
        assert_eq!(e.verify(&k).unwrap(), b"hello world");
        // PAE bytes equal the published ones.
        assert_eq!(
            bulwark_sign::dsse::pae(&e.payload_type, b"hello world"),
            std::fs::read(fix("dsse/spec-test-vector/pae.bin")).unwrap()
        );
        let mut t = e.clone();
        t.payload = "aGVsbG8gd29ybGQh".into();
        assert!(t.verify(&k).is_err());
    }
    let alice = key("dsse/in-toto-golang/alice.pub");
    let carol = key("dsse/in-toto-golang/carol.pub");
    for f in ["demo.dsse.layout", "dsse-only.root.layout"] {
        let e = Envelope::from_json(text(&format!("dsse/in-toto-golang/{f}")).as_bytes()).unwrap();
        e.verify(&alice).unwrap();
        assert!(e.verify(&carol).is_err(), "{f}");
    }
    // Links are signed by functionaries whose keys the root layout lists by key ID.
    let layout = Envelope::from_json(text("dsse/in-toto-golang/dsse-only.root.layout").as_bytes())
        .unwrap()
        .verify(&alice)
        .unwrap();
    let layout: serde_json::Value = serde_json::from_slice(&layout).unwrap();
    let keys = layout["keys"].as_object().unwrap();
    let mut verified = 0;
    for f in [
        "package-dsse.2f89b927.link",
        "clone-dsse.776a00e2.link",
        "update-version-dsse.776a00e2.link",
    ] {
        let e = Envelope::from_json(text(&format!("dsse/in-toto-golang/{f}")).as_bytes()).unwrap();
        let keyid = e.signatures[0].keyid.clone().unwrap();
        let pem = keys[&keyid]["keyval"]["public"].as_str().unwrap();
        let k = PublicKey::from_pem(pem).unwrap();
        e.verify(&k).unwrap();
        assert!(e.verify(&alice).is_err(), "{f}");
        verified += 1;
    }
    assert_eq!(verified, 3);
}

#[test]
fn bundles_from_sigstore_go_cosign_and_sigstore_rs() {
    let _fx = bulwark_fixtures::fixtures_or_skip!();
    // v0.1 DSSE bundle with a public key and no log entries.
    let b = Bundle::from_json(
        text("dsse/sigstore-go-bundle-public-key/bundle-public-key.json").as_bytes(),
    )
    .unwrap();
    let k = key("dsse/sigstore-go-bundle-public-key/public-key.pem");
    let p = Policy::Key {
        key: k.clone(),
        require_tlog: false,
    };
    let now = bulwark_sign::time::now();
    let empty = TrustedRoot::default();
    verify_bundle(&b, Artifact::Bytes(b"hello, world!"), &p, &empty, now).unwrap();
    assert!(verify_bundle(&b, Artifact::Bytes(b"hello, world?"), &p, &empty, now).is_err());
    // Without the explicit waiver a bundle with no log entry does not verify.
    let strict = Policy::Key {
        key: k,
        require_tlog: true,
    };
    assert!(verify_bundle(&b, Artifact::Bytes(b"hello, world!"), &strict, &empty, now).is_err());

    // cosign attestation (in-toto Statement v0.1), keyless.
    let b =
        Bundle::from_json(text("cosign/oci-attestation/oci-attestation.sigstore.json").as_bytes())
            .unwrap();
    let root =
        TrustedRoot::from_file(&fix("cosign/oci-attestation/trusted_root_pgi.json")).unwrap();
    let digest = Artifact::parse_digest(
        "sha256:732112270d7e59418a8c080b134b24cabd67d250d0d0147a97ed95ba5c280aa4",
    )
    .unwrap();
    let id = |san: &str| Policy::Identity {
        san: Matcher::Exact(san.into()),
        issuer: Matcher::Exact("https://github.com/login/oauth".into()),
    };
    let out = verify_bundle(
        &b,
        Artifact::Sha256(digest),
        &id("cody@soyland.com"),
        &root,
        now,
    )
    .unwrap();
    assert_eq!(
        out.predicate_type.as_deref(),
        Some("https://cosign.sigstore.dev/attestation/v1")
    );
    verify_bundle(
        &b,
        Artifact::Sha256(digest),
        &id("cody@soyland.com"),
        &prod_root(),
        now,
    )
    .unwrap();
    assert!(verify_bundle(
        &b,
        Artifact::Sha256(digest),
        &id("someone@else"),
        &root,
        now
    )
    .is_err());
    let mut other = digest;
    other[0] ^= 1;
    assert!(verify_bundle(
        &b,
        Artifact::Sha256(other),
        &id("cody@soyland.com"),
        &root,
        now
    )
    .is_err());

    // cosign v3 image signature bundle (DSSE, Rekor dsse entry + RFC 3161 timestamp).
    let b = Bundle::from_json(text("sigstore-rs/bundle_v03.json").as_bytes()).unwrap();
    let d = Artifact::parse_digest(
        "sha256:c811d58de79c92f03214e63aa339484e488d694ae8a6283b5f3f17a9faf50172",
    )
    .unwrap();
    let pol = Policy::Identity {
        san: Matcher::Exact("https://github.com/kubewarden/kubewarden-controller/.github/workflows/release.yml@refs/tags/v1.34.0".into()),
        issuer: Matcher::Exact("https://token.actions.githubusercontent.com".into()),
    };
    let out = verify_bundle(&b, Artifact::Sha256(d), &pol, &prod_root(), now).unwrap();
    assert_eq!(
        out.predicate_type.as_deref(),
        Some("https://sigstore.dev/cosign/sign/v1")
    );
    assert!(!out.timestamps.is_empty());
    let re = Policy::Identity {
        san: Matcher::regex("https://github.com/kubewarden/.*").unwrap(),
        issuer: Matcher::Exact("https://token.actions.githubusercontent.com".into()),
    };
    verify_bundle(&b, Artifact::Sha256(d), &re, &prod_root(), now).unwrap();
    let re_partial = Policy::Identity {
        san: Matcher::regex("kubewarden").unwrap(),
        issuer: Matcher::Exact("https://token.actions.githubusercontent.com".into()),
    };
    assert!(verify_bundle(&b, Artifact::Sha256(d), &re_partial, &prod_root(), now).is_err());
}
