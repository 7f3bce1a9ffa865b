//! Latency of verifying a signed image on a loopback registry, cold and warm.
//!
//! Starts Debian's `docker-registry` on 127.0.0.1 (plain HTTP, through
//! bulwark-testkit), pushes a small image, signs it in both layouts, then times:
//!
//! * **cold (new)** — a verification from scratch: open the repository (new client,
//!   new connections), resolve the tag, find the `.sig` tag and the bundle
//!   referrers, fetch and verify everything (`verify::verify_signatures`);
//! * **cold (kept)** — the same with the registry client kept between verifications
//!   (`Image::resolve_again`), as a long-running webhook does;
//! * **warm (digest)** — a pod that names the image by digest: one
//!   `VerificationCache` lookup keyed by (manifest digest, policy), no network;
//! * **warm (tag)** — a pod that names a tag: one `HEAD` to resolve the tag, then the
//!   cache lookup.
//!
//! Prints p50/p90/p99/max in milliseconds. Run: `bench/cosign-verify-latency.sh`
//! (or `cargo run -p bulwark-cosign --example registry_verify_latency -- [ITERATIONS]`).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic: that is its failure

use bulwark_cosign::store::{self, Format};
use bulwark_cosign::verify::{self, Requirements, Signer};
use bulwark_cosign::Image;
use bulwark_image::oci::MT_OCI_MANIFEST;
use bulwark_image::registry::{Reference, RegistryConfig, Repository};
use bulwark_sign::cache::{Config, Key, VerificationCache};
use bulwark_sign::simple_signing::ReferenceMatch;
use bulwark_sign::{Algorithm, PrivateKey};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

fn pct(mut v: Vec<Duration>, name: &str) {
    v.sort();
    let at = |p: f64| {
        let i = ((v.len() as f64 - 1.0) * p).round() as usize;
        v[i.min(v.len() - 1)].as_secs_f64() * 1e3
    };
    println!(
        "{name:<14} n={:<5} p50={:>9.4} ms  p90={:>9.4} ms  p99={:>9.4} ms  max={:>9.4} ms",
        v.len(),
        at(0.5),
        at(0.9),
        at(0.99),
        at(1.0)
    );
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(300);
    let Some(reg) = bulwark_testkit::Registry::start(bulwark_testkit::RegistryOptions::plain())
    else {
        return Err("docker-registry is not installed (scripts/setup-test-env.sh)".into());
    };
    let config = RegistryConfig {
        insecure: true,
        ..Default::default()
    };
    let name = format!("{}/bench/app:1", reg.host());
    let reference = Reference::parse(&name)?;
    let repo = Repository::open(&reference, &config)?;
    // A small two-layer image.
    let cfg = repo.push_blob_bytes(
        "application/vnd.oci.image.config.v1+json",
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#,
    )?;
    let l1 = repo.push_blob_bytes("application/vnd.oci.image.layer.v1.tar", &[1u8; 4096])?;
    let l2 = repo.push_blob_bytes("application/vnd.oci.image.layer.v1.tar", &[2u8; 4096])?;
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": MT_OCI_MANIFEST, "config": cfg, "layers": [l1, l2]
    }))?;
    repo.push_manifest(Some("1"), &manifest)?;
    let key = PrivateKey::generate(Algorithm::EcdsaP256);
    let image = Image::open(&name, &config)?;
    store::sign(&image, &key, &BTreeMap::new(), None, Format::Both)?;
    let req = Requirements {
        signer: Signer::Key(key.public_key()),
        reference: ReferenceMatch::Repository(image.docker_reference.clone()),
        annotations: BTreeMap::new(),
        require_tlog: false,
        root: None,
    };
    let policy = req.describe()?;
    let digest = image.digest().to_string();

    // Cold: a fresh client per verification, as after a cache miss.
    let verify_cold = || -> Result<verify::Report, Box<dyn std::error::Error>> {
        let img = Image::open(&name, &config)?;
        Ok(verify::verify_signatures(&img, &req)?)
    };
    let first = verify_cold()?;
    assert!(first.verified && first.signatures.len() == 2, "{first:?}");
    let mut cold = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let r = verify_cold()?;
        cold.push(t.elapsed());
        assert!(r.verified);
    }

    // Cold with a kept client: the webhook's cache miss (connections and the
    // "no referrers API" answer are reused).
    let mut kept = Image::open(&name, &config)?;
    let mut cold_kept = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        kept.resolve_again("1")?;
        let r = verify::verify_signatures(&kept, &req)?;
        cold_kept.push(t.elapsed());
        assert!(r.verified);
    }

    // Warm: through the cache (filled by one cold verification).
    let cache: VerificationCache<usize> = VerificationCache::new(Config::default());
    let k = Key::new(&digest, policy.as_bytes());
    let v = cache.get_or_verify(&k, || {
        verify_cold()
            .map(|r| r.signatures.iter().filter(|c| c.verified).count())
            .map_err(|e| e.to_string())
    });
    assert_eq!(v, Ok(2));
    let mut warm = Vec::with_capacity(n * 10);
    for _ in 0..n * 10 {
        let t = Instant::now();
        let v = cache.get_or_verify(&Key::new(&digest, policy.as_bytes()), || {
            Err("cache miss".to_string())
        });
        warm.push(t.elapsed());
        assert_eq!(v, Ok(2));
    }
    let mut warm_tag = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let d = repo.resolve("1")?;
        let v = cache.get_or_verify(&Key::new(&d.digest, policy.as_bytes()), || {
            Err("cache miss".to_string())
        });
        warm_tag.push(t.elapsed());
        assert_eq!(v, Ok(2));
    }
    println!(
        "verify a signed image on {} (.sig tag + bundle referrer, ECDSA P-256)",
        reg.host()
    );
    pct(cold, "cold (new)");
    pct(cold_kept, "cold (kept)");
    pct(warm, "warm (digest)");
    pct(warm_tag, "warm (tag)");
    Ok(())
}
