//! The secret and misconfiguration scanners of a whole scan, through
//! `Engine::scan` (what `bulwark scan --scanners secret,misconfig` calls): a secret
//! in a deleted layer compared with Trivy, image-config checks, and config files found
//! in a directory target.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic: that is its failure

use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

const BAD_DOCKERFILE: &str =
    "FROM ubuntu:latest\nRUN apt-get update && apt-get install -y curl\nUSER root\n";
const GOOD_POD: &str = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: ok\nspec:\n  securityContext:\n    runAsNonRoot: true\n    seccompProfile:\n      type: RuntimeDefault\n  containers:\n  - name: c\n    image: registry.example/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n    securityContext:\n      allowPrivilegeEscalation: false\n      capabilities:\n        drop: [ALL]\n";
const BAD_POD: &str = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: bad\n  spec:\n    hostNetwork: true\n    containers:\n    - name: c\n      image: nginx\n      securityContext:\n        privileged: true\n";
const BAD_COMPOSE: &str = "services:\n  web:\n    image: nginx\n    privileged: true\n";

fn config_dir() -> tempfile::TempDir {
    let d = tempfile::tempdir().expect("tempdir");
    let w = |p: &str, s: &[u8]| {
        let path = d.path().join(p);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(path, s).expect("write");
    };
    w("app/Dockerfile", BAD_DOCKERFILE.as_bytes());
    w("k8s/good.yaml", GOOD_POD.as_bytes());
    w("k8s/bad.yaml", BAD_POD.as_bytes());
    w("docker-compose.yml", BAD_COMPOSE.as_bytes());
    w(
        "k8s/broken.yaml",
        b"apiVersion: v1\nkind: Pod\nspec: [unclosed\n",
    );
    w("k8s/binary.yaml", b"\x00\x01\x02apiVersion\x00kind\xff");
    w("notes.yaml", b"just: some\nother: yaml\n");
    d
}

// ---------------------------------------------------------------------------------------
// Secrets in a deleted layer, against Trivy.

fn sha(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

fn tar_layer(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(1_700_000_000);
        h.set_cksum();
        b.append_data(&mut h, path, *data).expect("tar");
    }
    b.into_inner().expect("tar")
}

/// A PEM-shaped RSA key body, deterministic and not a real key.
fn fake_private_key() -> String {
    use base64::Engine;
    let mut bytes = Vec::new();
    let mut seed = Sha256::digest(b"bulwark test key").to_vec();
    while bytes.len() < 600 {
        seed = Sha256::digest(&seed).to_vec();
        bytes.extend_from_slice(&seed);
    }
    let b64 = base64::engine::general_purpose::STANDARD.encode(&bytes);
    let mut pem = String::from("-----BEGIN RSA PRIVATE KEY-----\n");
    for line in b64.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str("-----END RSA PRIVATE KEY-----\n");
    pem
}

/// Writes an OCI layout: layer 1 adds `app/creds.txt` (AWS key id + secret, private
/// key), layer 2 deletes it, the config carries a GitHub token and a database URL with
/// a password in ENV. Returns the layer digests.
fn secrets_image(dir: &Path) -> Vec<String> {
    // Assembled at run time so this source file holds no secret-shaped literal.
    let aws_id = format!("AKIA{}", "Q3EGRTXJ4KZL7MNB");
    let aws_secret = format!("{}{}", "wJalrXUtnFEMI/K7MDENG/bPxRfiCY", "zq7Rt2Pm4X");
    let creds = format!(
        "[default]\naws_access_key_id = {aws_id}\naws_secret_access_key = {aws_secret}\n\n{}",
        fake_private_key()
    );
    let l1 = tar_layer(&[
        ("app/creds.txt", creds.as_bytes()),
        ("app/main.py", b"print('hello')\n"),
    ]);
    let l2 = tar_layer(&[("app/.wh.creds.txt", b"")]);
    let gh = format!("ghp_{}", "k3Jx9QvB2mT7LpWz8RnY4cHd6FgA1sE0uVoN");
    let config = serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "Env": [
                "PATH=/usr/local/bin:/usr/bin:/bin",
                format!("GITHUB_TOKEN={gh}"),
                "DATABASE_URL=postgres://admin:Zq8vR2mKx7LpT4wN@db.internal:5432/app",
            ],
            "Cmd": ["python", "/app/main.py"],
        },
        "rootfs": {"type": "layers", "diff_ids": [sha(&l1), sha(&l2)]},
        "history": [
            {"created_by": "COPY creds.txt /app/creds.txt"},
            {"created_by": "RUN rm /app/creds.txt"},
        ],
    });
    let config = serde_json::to_vec(&config).expect("json");
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).expect("mkdir");
    let put = |data: &[u8]| {
        let d = sha(data);
        std::fs::write(blobs.join(d.trim_start_matches("sha256:")), data).expect("blob");
        d
    };
    let layer_desc = |data: &[u8]| {
        serde_json::json!({
            "mediaType": "application/vnd.oci.image.layer.v1.tar",
            "digest": put(data),
            "size": data.len(),
        })
    };
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": put(&config),
            "size": config.len(),
        },
        "layers": [layer_desc(&l1), layer_desc(&l2)],
    });
    let manifest = serde_json::to_vec(&manifest).expect("json");
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": put(&manifest),
            "size": manifest.len(),
            "annotations": {"org.opencontainers.image.ref.name": "secrets:latest"},
        }],
    });
    std::fs::write(
        dir.join("index.json"),
        serde_json::to_vec(&index).expect("json"),
    )
    .expect("index");
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).expect("layout");
    vec![sha(&l1), sha(&l2)]
}

/// Scans like `bulwark scan TARGET --scanners ...` (no vulnerability DB needed) and
/// returns the JSON report.
fn scan_json(target: &str, scanners: &str) -> Value {
    let cache = tempfile::tempdir().expect("tempdir");
    let engine = bulwark_engine::Engine::new(bulwark_engine::EngineConfig::new(cache.path()))
        .expect("engine");
    let req = bulwark_engine::ScanRequest {
        target: bulwark_engine::TargetRequest {
            target: target.to_string(),
            platform: None,
            allow_unknown: false,
        },
        scanners: bulwark_engine::Scanners {
            vuln: false,
            secret: scanners.contains("secret"),
            misconfig: scanners.contains("misconfig"),
        },
        ..Default::default()
    };
    let report = engine
        .scan(&req, &bulwark_engine::Cancel::new())
        .expect("scan")
        .report;
    serde_json::to_value(&report).expect("json")
}

#[test]
fn secret_in_deleted_layer_is_reported_and_covers_trivy() {
    let d = tempfile::tempdir().expect("tempdir");
    let img = d.path().join("img");
    let layers = secrets_image(&img);
    let r = scan_json(&img.display().to_string(), "secret");
    let secrets = r["secrets"].as_array().expect("secrets");
    let in_file: Vec<&Value> = secrets
        .iter()
        .filter(|s| s["path"] == "/app/creds.txt")
        .collect();
    let rules: BTreeSet<&str> = in_file
        .iter()
        .filter_map(|s| s["rule_id"].as_str())
        .collect();
    assert!(rules.contains("aws-access-key-id"), "{rules:?}");
    assert!(rules.contains("private-key"), "{rules:?}");
    for s in &in_file {
        assert_eq!(s["deleted"], true, "{s}");
        assert_eq!(s["layer"].as_str(), layers.first().map(String::as_str));
        assert!(!s["redacted"]
            .as_str()
            .unwrap_or_default()
            .contains("AKIAQ3EG"));
    }
    let cfg: Vec<&Value> = secrets
        .iter()
        .filter(|s| {
            s["path"]
                .as_str()
                .is_some_and(|p| p.starts_with("image config"))
        })
        .collect();
    assert!(cfg.iter().any(|s| s["category"] == "GitHub"), "{cfg:?}");

    // Trivy on the same image: every (category, file) it reports must be in ours.
    let trivy = Path::new("/opt/bench-venv/bin/trivy");
    assert!(trivy.exists(), "Trivy not installed at {}", trivy.display());
    let cache = tempfile::tempdir().expect("tempdir");
    let out = Command::new(trivy)
        .args(["image", "--input"])
        .arg(&img)
        .args([
            "--scanners",
            "secret",
            "--image-config-scanners",
            "secret,misconfig",
            "--format",
            "json",
            "--quiet",
            "--skip-db-update",
            "--offline-scan",
            "--skip-version-check",
            "--disable-telemetry",
            "--cache-dir",
        ])
        .arg(cache.path())
        .output()
        .expect("run trivy");
    assert!(
        out.status.success(),
        "trivy: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let t: Value = serde_json::from_slice(&out.stdout).expect("trivy json");
    let mut theirs = BTreeSet::new();
    for res in t["Results"].as_array().into_iter().flatten() {
        for s in res["Secrets"].as_array().into_iter().flatten() {
            let target = res["Target"].as_str().unwrap_or_default();
            // Trivy names image-config findings after the image (its --input path); ours
            // say `image config: ENV` etc. Both collapse to `image config` here.
            let file = if Path::new(target) == img {
                "image config".to_string()
            } else {
                format!("/{}", target.trim_start_matches('/'))
            };
            // Trivy's category for PEM private keys is `AsymmetricPrivateKey`; ours is
            // `PrivateKey` (which also covers age keys). Same rule, different label.
            let category = match s["Category"].as_str().unwrap_or_default() {
                "AsymmetricPrivateKey" => "PrivateKey",
                c => c,
            };
            theirs.insert((category.to_string(), file));
        }
    }
    assert!(!theirs.is_empty(), "Trivy found nothing: {t}");
    let ours: BTreeSet<(String, String)> = secrets
        .iter()
        .map(|s| {
            let path = s["path"].as_str().unwrap_or_default();
            let file = if path.starts_with("image config") {
                "image config".to_string()
            } else {
                path.to_string()
            };
            (s["category"].as_str().unwrap_or_default().to_string(), file)
        })
        .collect();
    let missing: Vec<_> = theirs.difference(&ours).collect();
    assert!(
        missing.is_empty(),
        "Trivy found, bulwark did not: {missing:?}\nours: {ours:?}"
    );
}

// ---------------------------------------------------------------------------------------
// Misconfigurations in images and directories.

#[test]
fn image_config_checks_fire_on_the_test_image() {
    let d = tempfile::tempdir().expect("tempdir");
    let img = d.path().join("img");
    secrets_image(&img);
    let r = scan_json(&img.display().to_string(), "misconfig");
    let m = r["misconfigurations"]
        .as_array()
        .expect("misconfigurations");
    // No USER in the config: the image runs as root.
    assert!(
        m.iter().any(|f| f["path"] == "image config"
            && f["message"]
                .as_str()
                .is_some_and(|s| s.to_lowercase().contains("root"))),
        "{m:?}"
    );
}

#[test]
fn image_config_checks_fire_on_the_app_image() {
    let app = bulwark_fixtures::images_or_skip!().join("app.oci-dir");
    assert!(app.exists(), "{} missing", app.display());
    let r = scan_json(&app.display().to_string(), "misconfig");
    let m = r["misconfigurations"]
        .as_array()
        .expect("misconfigurations");
    assert!(m.iter().any(|f| f["path"] == "image config"), "{m:?}");
}

#[test]
fn scan_directory_finds_dockerfile_and_manifest() {
    let d = config_dir();
    let r = scan_json(&d.path().display().to_string(), "misconfig");
    let files: BTreeSet<&str> = r["misconfigurations"]
        .as_array()
        .expect("misconfigurations")
        .iter()
        .filter_map(|m| m["path"].as_str())
        .collect();
    assert!(files.contains("app/Dockerfile"), "{files:?}");
    assert!(files.contains("k8s/bad.yaml"), "{files:?}");
    assert!(files.contains("docker-compose.yml"), "{files:?}");
    let warned: BTreeSet<&str> = r["warnings"]
        .as_array()
        .expect("warnings")
        .iter()
        .filter_map(|w| w["path"].as_str())
        .collect();
    assert!(warned.contains("k8s/broken.yaml"), "{warned:?}");
}

#[test]
fn docs_secrets_lists_every_rule() {
    let doc = std::fs::read_to_string(root().join("docs/secrets.md")).expect("docs/secrets.md");
    let scanner =
        bulwark_secrets::Scanner::new(&bulwark_secrets::SecretConfig::default()).expect("scanner");
    let missing: Vec<&str> = scanner
        .rule_ids()
        .filter(|id| !doc.contains(&format!("| `{id}` |")))
        .collect();
    assert!(
        missing.is_empty(),
        "rules missing from docs/secrets.md: {missing:?}"
    );
}
