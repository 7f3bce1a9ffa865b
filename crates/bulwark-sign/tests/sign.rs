//! The signing API round-trips through the verifiers, and tampering in each part is
//! caught with the reason named.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic: that is its failure

use bulwark_sign::cosign::{self, Options, SignatureLayer, Verifier};
use bulwark_sign::dsse::Statement;
use bulwark_sign::simple_signing::{Expectation, ReferenceMatch};
use bulwark_sign::{
    verify_bundle, Algorithm, Artifact, Bundle, Error, Policy, PrivateKey, TrustedRoot,
};
use std::collections::BTreeMap;

const D1: &str = "sha256:732112270d7e59418a8c080b134b24cabd67d250d0d0147a97ed95ba5c280aa4";
const D2: &str = "sha256:c811d58de79c92f03214e63aa339484e488d694ae8a6283b5f3f17a9faf50172";

fn reason<T: std::fmt::Debug>(r: bulwark_sign::Result<T>) -> String {
    match r {
        Err(Error::Unverified(m)) => m,
        other => panic!("expected a verification failure, got {other:?}"),
    }
}

#[test]
fn sign_image_round_trips_both_layouts() {
    for alg in [Algorithm::EcdsaP256, Algorithm::Ed25519] {
        let key = PrivateKey::generate(alg);
        let ann = BTreeMap::from([("ci".to_string(), "yes".to_string())]);
        let s = bulwark_sign::sign::sign_image(D1, "reg.example/app", &ann, &key).unwrap();
        // Legacy layer.
        let layer = SignatureLayer {
            media_type: bulwark_sign::simple_signing::SIMPLE_SIGNING_MEDIA_TYPE.into(),
            payload: s.payload.clone(),
            annotations: BTreeMap::from([(
                cosign::ANN_SIGNATURE.to_string(),
                s.signature_b64.clone(),
            )]),
        };
        let want = Expectation {
            manifest_digest: D1.into(),
            reference: ReferenceMatch::Repository("reg.example/app:v1".into()),
            annotations: ann.clone(),
        };
        let opts = Options {
            rekor_keys: vec![],
            require_tlog: false,
            now: bulwark_sign::time::now(),
        };
        let v = Verifier::Key(key.public_key());
        cosign::verify_layer(&layer, &v, &want, &opts).unwrap();
        // Replayed onto another digest, another repository, a missing annotation.
        assert!(reason(cosign::verify_layer(
            &layer,
            &v,
            &Expectation {
                manifest_digest: D2.into(),
                ..want.clone()
            },
            &opts
        ))
        .contains("not sha256:c811"));
        assert!(reason(cosign::verify_layer(
            &layer,
            &v,
            &Expectation {
                reference: ReferenceMatch::Repository("reg.example/other".into()),
                ..want.clone()
            },
            &opts
        ))
        .contains("not \"reg.example/other\""));
        let mut need = ann.clone();
        need.insert("approved".into(), "true".into());
        assert!(reason(cosign::verify_layer(
            &layer,
            &v,
            &Expectation {
                annotations: need,
                ..want.clone()
            },
            &opts
        ))
        .contains("approved=true is missing"));
        // Another key.
        let other = Verifier::Key(PrivateKey::generate(alg).public_key());
        assert!(
            reason(cosign::verify_layer(&layer, &other, &want, &opts)).contains("does not verify")
        );

        // Bundle v0.3: JSON round trip, verifies over the payload bytes with the key.
        let json = s.bundle.to_json().unwrap();
        let b = Bundle::from_json(json.as_bytes()).unwrap();
        assert_eq!(
            b.media_type,
            "application/vnd.dev.sigstore.bundle.v0.3+json"
        );
        let pol = Policy::Key {
            key: key.public_key(),
            require_tlog: false,
        };
        let root = TrustedRoot::default();
        let now = bulwark_sign::time::now();
        verify_bundle(&b, Artifact::Bytes(&s.payload), &pol, &root, now).unwrap();
        let mut tampered = s.payload.clone();
        tampered[5] ^= 1;
        assert!(verify_bundle(&b, Artifact::Bytes(&tampered), &pol, &root, now).is_err());
        // Keyless policy on a key bundle is refused.
        let id = Policy::Identity {
            san: bulwark_sign::Matcher::Exact("x".into()),
            issuer: bulwark_sign::Matcher::Exact("y".into()),
        };
        assert!(reason(verify_bundle(
            &b,
            Artifact::Bytes(&s.payload),
            &id,
            &root,
            now
        ))
        .contains("managed key"));
    }
}

#[test]
fn attestation_round_trips() {
    let key = PrivateKey::generate(Algorithm::EcdsaP256);
    let predicate = serde_json::json!({"bomFormat": "CycloneDX", "specVersion": "1.6"});
    let a = bulwark_sign::sign::attest_image(
        D1,
        Some("reg.example/app"),
        "https://cyclonedx.org/bom",
        predicate.clone(),
        &key,
    )
    .unwrap();
    let payload = a.envelope.verify(&key.public_key()).unwrap();
    let st = Statement::from_json(&payload).unwrap();
    assert_eq!(st, a.statement);
    assert_eq!(st.type_, "https://in-toto.io/Statement/v1");
    assert_eq!(st.predicate, predicate);
    let pol = Policy::Key {
        key: key.public_key(),
        require_tlog: false,
    };
    let root = TrustedRoot::default();
    let now = bulwark_sign::time::now();
    let d1 = Artifact::parse_digest(D1).unwrap();
    let out = verify_bundle(&a.bundle, Artifact::Sha256(d1), &pol, &root, now).unwrap();
    assert_eq!(
        out.predicate_type.as_deref(),
        Some("https://cyclonedx.org/bom")
    );
    // The attestation is not about another image.
    let d2 = Artifact::parse_digest(D2).unwrap();
    assert!(reason(verify_bundle(
        &a.bundle,
        Artifact::Sha256(d2),
        &pol,
        &root,
        now
    ))
    .contains("not a subject"));
    // A predicate edited after signing fails the envelope signature.
    let mut env = a.envelope.clone();
    let mut st2 = a.statement.clone();
    st2.predicate = serde_json::json!({"bomFormat": "CycloneDX", "specVersion": "1.5"});
    use base64::Engine;
    env.payload =
        base64::engine::general_purpose::STANDARD.encode(serde_json::to_vec(&st2).unwrap());
    assert!(env.verify(&key.public_key()).is_err());
}
