//! The engine as one thing: a full scan (vuln, secret, misconfig) reads, inflates and
//! hashes each layer exactly once and finds what each scanner should; the verdict
//! follows the gate; a deadline gives an error and no report; concurrent scans share
//! the engine's pool.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic: that is its failure

use bulwark_engine::{Cancel, Engine, EngineConfig, Gate, ScanRequest, Scanners, TargetRequest};
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn sha(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

fn fixture(rel: &str) -> PathBuf {
    bulwark_fixtures::fixtures_location().join("osv").join(rel)
}

enum Entry<'a> {
    File(&'a str, &'a [u8]),
    Link(&'a str, &'a str),
}

fn tar_layer(entries: &[Entry<'_>]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_gnu();
        h.set_mtime(1_700_000_000);
        match e {
            Entry::File(path, data) => {
                h.set_size(data.len() as u64);
                h.set_mode(0o644);
                h.set_cksum();
                b.append_data(&mut h, path, *data).expect("tar");
            }
            Entry::Link(path, target) => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_size(0);
                h.set_mode(0o777);
                b.append_link(&mut h, path, target).expect("tar");
            }
        }
    }
    b.into_inner().expect("tar")
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).expect("gzip");
    e.finish().expect("gzip")
}

const LOCK: &str = r#"{"name":"t","version":"1.0.0","lockfileVersion":3,"requires":true,
"packages":{"":{"name":"t","version":"1.0.0"},"node_modules/lodash":{"version":"4.17.20"}}}"#;
const DOCKERFILE: &str =
    "FROM ubuntu:latest\nRUN apt-get update && apt-get install -y curl\nUSER root\n";

/// Layers (uncompressed tar, stored gzip blob) of a two-layer app image, written as an
/// OCI layout at `dir`.
fn app_image(dir: &Path, extra: &str) -> Vec<(Vec<u8>, Vec<u8>)> {
    let gh = format!("ghp_{}", "k3Jx9QvB2mT7LpWz8RnY4cHd6FgA1sE0uVoN");
    let env_file = format!("GITHUB_TOKEN={gh}\n");
    let filler: Vec<u8> = (0..200_000u32).flat_map(|i| i.to_le_bytes()).collect();
    let t0 = tar_layer(&[
        Entry::File("app/package-lock.json", LOCK.as_bytes()),
        Entry::File("app/Dockerfile", DOCKERFILE.as_bytes()),
        Entry::File("app/filler.bin", &filler),
        Entry::File(
            "usr/lib/os-release",
            b"ID=debian\nVERSION_ID=\"12\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n",
        ),
    ]);
    let t1 = tar_layer(&[
        Entry::File("app/.env", env_file.as_bytes()),
        Entry::File("app/extra.txt", extra.as_bytes()),
        // A link to a file in the layer below: read by the link-target pass.
        Entry::Link("etc/os-release", "../usr/lib/os-release"),
    ]);
    let layers = vec![(t0.clone(), gzip(&t0)), (t1.clone(), gzip(&t1))];
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "config": {"Env": ["PATH=/usr/bin"], "User": "root"},
        "rootfs": {"type": "layers", "diff_ids": [sha(&t0), sha(&t1)]},
        "history": [{"created_by": "COPY app /app"}, {"created_by": "COPY env /app"}],
    });
    let config = serde_json::to_vec(&config).expect("json");
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).expect("mkdir");
    let put = |data: &[u8]| {
        let d = sha(data);
        std::fs::write(blobs.join(d.trim_start_matches("sha256:")), data).expect("blob");
        d
    };
    let layer_descs: Vec<_> = layers
        .iter()
        .map(|(_, gz)| {
            serde_json::json!({
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": put(gz), "size": gz.len(),
            })
        })
        .collect();
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": put(&config), "size": config.len()},
        "layers": layer_descs,
    });
    let manifest = serde_json::to_vec(&manifest).expect("json");
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "digest": put(&manifest), "size": manifest.len()}],
    });
    std::fs::write(
        dir.join("index.json"),
        serde_json::to_vec(&index).expect("json"),
    )
    .expect("index");
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).expect("layout");
    layers
}

fn engine_with_db(tmp: &Path) -> Engine {
    let db = tmp.join("db");
    let stats = bulwark_vulndb::import_paths(
        &db,
        &[fixture(
            "npm/ghsa-osv-scanner-santatracker/GHSA-35jh-r3h4-6jhm.json",
        )],
        &bulwark_vulndb::ImportOptions::default(),
    )
    .expect("import");
    assert_eq!(stats.records, 1);
    let mut cfg = EngineConfig::new(tmp.join("cache"));
    cfg.db_dir = Some(db);
    cfg.threads = 2;
    Engine::new(cfg).expect("engine")
}

fn full(target: &Path) -> ScanRequest {
    ScanRequest {
        target: TargetRequest {
            target: target.display().to_string(),
            platform: None,
            allow_unknown: false,
        },
        scanners: Scanners {
            vuln: true,
            secret: true,
            misconfig: true,
        },
        gate: Gate {
            exit_code: 3,
            ..Gate::default()
        },
        ..ScanRequest::default()
    }
}

#[test]
fn full_scan_reads_inflates_and_hashes_each_layer_exactly_once() {
    let _fx = bulwark_fixtures::fixtures_or_skip!();
    let tmp = tempfile::tempdir().expect("tempdir");
    let img = tmp.path().join("img");
    let layers = app_image(&img, "one");
    let engine = engine_with_db(tmp.path());
    let out = engine.scan(&full(&img), &Cancel::new()).expect("scan");

    // Every scanner found its part, from the one walk.
    let r = &out.report;
    assert!(r
        .vulnerabilities
        .iter()
        .any(|v| v.id == "CVE-2021-23337" && v.package == "lodash"));
    assert!(
        r.secrets.iter().any(|s| s.path == "/app/.env"),
        "{:?}",
        r.secrets
    );
    assert!(r
        .misconfigurations
        .iter()
        .any(|m| m.path == "/app/Dockerfile"));
    // The link was read through for the catalogers (the OS comes from it).
    assert_eq!(r.os.as_ref().map(|o| o.version.as_str()), Some("12"));
    // The report names the digest-pinned image.
    let meta = r.target.image.as_ref().expect("image meta");
    assert!(meta.id.starts_with("sha256:"));

    assert_eq!(out.stats.walks, 1);
    assert_eq!(out.stats.layers.len(), layers.len());
    for ((tar, gz), l) in layers.iter().zip(&out.stats.layers) {
        let s = &l.stats;
        assert_eq!(l.digest, sha(gz));
        assert_eq!(s.passes, 1, "{s:?}");
        assert_eq!(s.read, gz.len() as u64, "stored bytes read once: {s:?}");
        assert_eq!(s.inflated, tar.len() as u64, "inflated once: {s:?}");
        assert_eq!(s.hashed, gz.len() as u64, "hashed once: {s:?}");
    }
    // The lower layer holds the link's target: re-read once by the link-target pass,
    // which never hashes.
    let s0 = &out.stats.layers[0].stats;
    assert_eq!(s0.revisits, 1, "{s0:?}");
    assert!(s0.revisit_inflated > 0, "{s0:?}");
    assert_eq!(out.stats.layers[1].stats.revisits, 0);

    // Findings remain and the gate has exit code 3: the verdict fails, with reasons.
    assert!(!out.verdict.pass);
    assert_eq!(out.verdict.exit_code, 3);
    assert!(out
        .verdict
        .reasons
        .iter()
        .any(|r| r.contains("vulnerabilities")));
    assert!(out.verdict.reasons.iter().any(|r| r.contains("secrets")));
}

#[test]
fn gate_severities_decide_the_verdict() {
    let _fx = bulwark_fixtures::fixtures_or_skip!();
    let tmp = tempfile::tempdir().expect("tempdir");
    let img = tmp.path().join("img");
    app_image(&img, "gate");
    let engine = engine_with_db(tmp.path());
    let mut req = full(&img);
    req.scanners = Scanners {
        vuln: true,
        secret: false,
        misconfig: false,
    };
    // CVE-2021-23337 is HIGH; asking for CRITICAL only leaves nothing.
    req.gate.severities = vec![bulwark_core::Severity::Critical];
    let out = engine.scan(&req, &Cancel::new()).expect("scan");
    assert!(out.report.vulnerabilities.is_empty());
    assert!(out.verdict.pass);
    assert_eq!(out.verdict.exit_code, 0);
    assert!(out.verdict.reasons.is_empty());
}

#[test]
fn an_expired_deadline_is_an_error_without_a_report() {
    let _fx = bulwark_fixtures::fixtures_or_skip!();
    let tmp = tempfile::tempdir().expect("tempdir");
    let img = tmp.path().join("img");
    app_image(&img, "deadline");
    let engine = engine_with_db(tmp.path());
    let cancel = Cancel::new().with_timeout(Duration::ZERO);
    let err = engine
        .scan(&full(&img), &cancel)
        .expect_err("must not finish");
    assert!(err.is_cancelled(), "{err}");
    assert!(err.to_string().contains("deadline"), "{err}");
    // The engine's own default deadline applies when the caller gives none.
    let mut cfg = engine.config().clone();
    cfg.deadline = Some(Duration::ZERO);
    let strict = Engine::new(cfg).expect("engine");
    let err = strict
        .scan(&full(&img), &Cancel::new())
        .expect_err("must not finish");
    assert!(err.is_cancelled(), "{err}");
    // A cancelled token stops the SBOM path as well.
    let c = Cancel::new();
    c.cancel();
    let err = engine
        .sbom(&full(&img).target, &c)
        .expect_err("must not finish");
    assert!(err.is_cancelled(), "{err}");
}

#[test]
fn concurrent_scans_share_one_engine() {
    let _fx = bulwark_fixtures::fixtures_or_skip!();
    let tmp = tempfile::tempdir().expect("tempdir");
    let engine = engine_with_db(tmp.path());
    let imgs: Vec<PathBuf> = (0..4)
        .map(|i| {
            let p = tmp.path().join(format!("img{i}"));
            app_image(&p, &format!("image {i}"));
            p
        })
        .collect();
    assert_eq!(engine.threads(), 2);
    std::thread::scope(|s| {
        for img in &imgs {
            let engine = &engine;
            s.spawn(move || {
                let out = engine.scan(&full(img), &Cancel::new()).expect("scan");
                assert!(!out.report.vulnerabilities.is_empty());
                assert_eq!(out.stats.walks, 1);
            });
        }
    });
}
