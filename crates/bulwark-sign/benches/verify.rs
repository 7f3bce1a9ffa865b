//! Micro-benchmarks for the admission path: a warm verification-cache lookup, and a
//! cold key-based verification of an image signature (payload parse + ECDSA P-256
//! verify + payload checks) and of a managed-key bundle.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic: that is its failure

use bulwark_sign::cache::{Config, Key, VerificationCache};
use bulwark_sign::cosign::{self, Options, SignatureLayer, Verifier};
use bulwark_sign::simple_signing::{Expectation, ReferenceMatch};
use bulwark_sign::{verify_bundle, Algorithm, Artifact, Policy, PrivateKey, TrustedRoot};
use criterion::{criterion_group, criterion_main, Criterion};
use std::collections::BTreeMap;
use std::hint::black_box;

const DIGEST: &str = "sha256:732112270d7e59418a8c080b134b24cabd67d250d0d0147a97ed95ba5c280aa4";

fn bench(c: &mut Criterion) {
    let key = PrivateKey::generate(Algorithm::EcdsaP256);
    let annotations = BTreeMap::from([("env".to_string(), "prod".to_string())]);
    let sig = bulwark_sign::sign::sign_image(DIGEST, "registry.example/app", &annotations, &key)
        .expect("sign");
    let layer = SignatureLayer {
        media_type: bulwark_sign::simple_signing::SIMPLE_SIGNING_MEDIA_TYPE.into(),
        payload: sig.payload.clone(),
        annotations: BTreeMap::from([(
            cosign::ANN_SIGNATURE.to_string(),
            sig.signature_b64.clone(),
        )]),
    };
    let verifier = Verifier::Key(key.public_key());
    let want = Expectation {
        manifest_digest: DIGEST.into(),
        reference: ReferenceMatch::Repository("registry.example/app".into()),
        annotations,
    };
    let opts = Options {
        rekor_keys: vec![],
        require_tlog: false,
        now: bulwark_sign::time::now(),
    };

    c.bench_function("cold: verify cosign signature layer (P-256)", |b| {
        b.iter(|| {
            cosign::verify_layer(black_box(&layer), &verifier, &want, &opts).expect("verifies")
        })
    });

    let policy = Policy::Key {
        key: key.public_key(),
        require_tlog: false,
    };
    let root = TrustedRoot::default();
    c.bench_function("cold: verify managed-key bundle v0.3 (P-256)", |b| {
        b.iter(|| {
            verify_bundle(
                black_box(&sig.bundle),
                Artifact::Bytes(&sig.payload),
                &policy,
                &root,
                opts.now,
            )
            .expect("verifies")
        })
    });

    let cache = VerificationCache::<bool>::new(Config::default());
    for i in 0..5_000 {
        cache.insert(Key::new(&format!("sha256:{i:064x}"), b"policy"), Ok(true));
    }
    let k = Key::new(DIGEST, b"policy");
    cache.insert(k.clone(), Ok(true));
    c.bench_function("warm: cache lookup (5k entries)", |b| {
        b.iter(|| cache.get(black_box(&k)).expect("cached"))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
