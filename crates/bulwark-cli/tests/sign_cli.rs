//! `bulwark key generate` and `bulwark verify-blob` beyond the conformance suite:
//! key files and their interop with the independent Python decrypter, refusing to
//! overwrite, password handling, exit codes, JSON output.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic: that is its failure

mod common;

use std::path::Path;
use std::process::{Command, Output};

fn bulwark(cwd: &Path, args: &[&str], password: Option<&str>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_bulwark"));
    c.args(args)
        .current_dir(cwd)
        .env_remove("COSIGN_PASSWORD")
        .env_remove("BULWARK_TRUSTED_ROOT")
        .stdin(std::process::Stdio::null());
    if let Some(p) = password {
        c.env("COSIGN_PASSWORD", p);
    }
    c.output().expect("run bulwark")
}

#[test]
fn key_generate_writes_cosign_format_and_refuses_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    for (alg, prefix) in [("ecdsa-p256", "k1"), ("ed25519", "k2")] {
        let out = bulwark(
            dir.path(),
            &[
                "key",
                "generate",
                "--algorithm",
                alg,
                "--output-prefix",
                prefix,
            ],
            Some("pw"),
        );
        assert!(out.status.success(), "{}", common::stderr(&out));
        let key = std::fs::read_to_string(dir.path().join(format!("{prefix}.key"))).unwrap();
        assert!(key.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n"));
        let public = std::fs::read_to_string(dir.path().join(format!("{prefix}.pub"))).unwrap();
        let pk = bulwark_sign::PublicKey::from_pem(&public).unwrap();
        let sk = bulwark_sign::PrivateKey::from_pem(&key, b"pw").unwrap();
        assert_eq!(sk.public_key(), pk);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(format!("{prefix}.key")))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "private key readable by others: {mode:o}");
        }
        if let Some(py) = std::env::var_os("BULWARK_TEST_PYTHON") {
            let o = Command::new(py)
                .arg(fixture("../tools/decrypt_cosign_key.py"))
                .arg(dir.path().join(format!("{prefix}.key")))
                .arg("pw")
                .output()
                .unwrap();
            let s = String::from_utf8_lossy(&o.stdout);
            assert!(s.contains(": OK plaintext PKCS8 DER"), "{s}");
        } else {
            eprintln!("SKIP python interop: BULWARK_TEST_PYTHON is not set");
        }
    }
    // Existing files are never overwritten.
    let before = std::fs::read(dir.path().join("k1.key")).unwrap();
    let out = bulwark(
        dir.path(),
        &["key", "generate", "--output-prefix", "k1"],
        Some("pw"),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        common::stderr(&out).contains("already exists"),
        "{}",
        common::stderr(&out)
    );
    assert_eq!(std::fs::read(dir.path().join("k1.key")).unwrap(), before);
}

#[test]
fn key_generate_password_rules() {
    let dir = tempfile::tempdir().unwrap();
    // No COSIGN_PASSWORD and no terminal: refused, nothing written.
    let out = bulwark(
        dir.path(),
        &["key", "generate", "--output-prefix", "np"],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        common::stderr(&out).contains("COSIGN_PASSWORD"),
        "{}",
        common::stderr(&out)
    );
    assert!(!dir.path().join("np.key").exists());
    // COSIGN_PASSWORD set to empty asks for an empty password explicitly.
    let out = bulwark(
        dir.path(),
        &["key", "generate", "--output-prefix", "ep"],
        Some(""),
    );
    assert!(out.status.success(), "{}", common::stderr(&out));
    let key = std::fs::read_to_string(dir.path().join("ep.key")).unwrap();
    bulwark_sign::PrivateKey::from_pem(&key, b"").unwrap();
    // Unknown algorithm: usage error.
    let out = bulwark(
        dir.path(),
        &[
            "key",
            "generate",
            "--algorithm",
            "rsa",
            "--output-prefix",
            "x",
        ],
        Some("pw"),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(common::stderr(&out).contains("ecdsa-p256 or ed25519"));
}

use common::{conf, fixture, prod_root};

#[test]
fn verify_blob_exit_codes_and_json() {
    let _fx = bulwark_fixtures::fixtures_or_skip!();
    let dir = tempfile::tempdir().unwrap();
    let bundle = format!("{}/happy-path-v0.3/bundle.sigstore.json", conf());
    let a = format!("{}/a.txt", conf());
    let ok = bulwark(
        dir.path(),
        &[
            "verify-blob",
            "--bundle",
            &bundle,
            "--trusted-root",
            &prod_root(),
            "--certificate-identity",
            common::CONFORMANCE_IDENTITY,
            "--certificate-oidc-issuer",
            common::CONFORMANCE_ISSUER,
            "--format",
            "json",
            &a,
        ],
        None,
    );
    assert_eq!(ok.status.code(), Some(0), "{}", common::stderr(&ok));
    let v: serde_json::Value = serde_json::from_slice(&ok.stdout).unwrap();
    assert_eq!(v["verified"], true);
    assert_eq!(v["san"][0], common::CONFORMANCE_IDENTITY);
    assert_eq!(v["tlog_entries"][0]["inclusion_proof"], true);
    assert_eq!(v["tlog_entries"][0]["signed_entry_timestamp"], true);

    // Wrong identity: exit 1 with the reason.
    let bad = bulwark(
        dir.path(),
        &[
            "verify-blob",
            "--bundle",
            &bundle,
            "--trusted-root",
            &prod_root(),
            "--certificate-identity",
            "someone@example.com",
            "--certificate-oidc-issuer",
            common::CONFORMANCE_ISSUER,
            &a,
        ],
        None,
    );
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        common::stderr(&bad).contains("does not match"),
        "{}",
        common::stderr(&bad)
    );
    // Regexp identity.
    let re = bulwark(
        dir.path(),
        &[
            "verify-blob",
            "--bundle",
            &bundle,
            "--trusted-root",
            &prod_root(),
            "--certificate-identity-regexp",
            "https://github.com/sigstore-conformance/.*",
            "--certificate-oidc-issuer",
            common::CONFORMANCE_ISSUER,
            &a,
        ],
        None,
    );
    assert_eq!(re.status.code(), Some(0), "{}", common::stderr(&re));

    // No trusted root for keyless: exit 2, never fetched.
    let no_root = bulwark(
        dir.path(),
        &[
            "verify-blob",
            "--bundle",
            &bundle,
            "--certificate-identity",
            common::CONFORMANCE_IDENTITY,
            "--certificate-oidc-issuer",
            common::CONFORMANCE_ISSUER,
            &a,
        ],
        None,
    );
    assert_eq!(no_root.status.code(), Some(2));
    assert!(common::stderr(&no_root).contains("--trusted-root"));
    // Unreadable bundle / artifact: exit 2 naming the path.
    for (b, art) in [
        ("/nonexistent/bundle.json", a.as_str()),
        (bundle.as_str(), "/nonexistent/artifact"),
    ] {
        let o = bulwark(
            dir.path(),
            &[
                "verify-blob",
                "--bundle",
                b,
                "--trusted-root",
                &prod_root(),
                "--certificate-identity",
                common::CONFORMANCE_IDENTITY,
                "--certificate-oidc-issuer",
                common::CONFORMANCE_ISSUER,
                art,
            ],
            None,
        );
        assert_eq!(o.status.code(), Some(2));
        assert!(
            common::stderr(&o).contains("/nonexistent/"),
            "{}",
            common::stderr(&o)
        );
    }
    // An oversized bundle is refused without being read whole.
    let big = dir.path().join("big.json");
    let f = std::fs::File::create(&big).unwrap();
    f.set_len(64 << 20).unwrap();
    let o = bulwark(
        dir.path(),
        &[
            "verify-blob",
            "--bundle",
            big.to_str().unwrap(),
            "--trusted-root",
            &prod_root(),
            "--certificate-identity",
            common::CONFORMANCE_IDENTITY,
            "--certificate-oidc-issuer",
            common::CONFORMANCE_ISSUER,
            &a,
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        common::stderr(&o).contains("limit"),
        "{}",
        common::stderr(&o)
    );
}

#[test]
fn verify_blob_with_a_key_bundle_made_by_the_signing_api() {
    let _fx = bulwark_fixtures::fixtures_or_skip!();
    let dir = tempfile::tempdir().unwrap();
    let key = bulwark_sign::PrivateKey::generate(bulwark_sign::Algorithm::EcdsaP256);
    let s = bulwark_sign::sign::sign_image(
        "sha256:732112270d7e59418a8c080b134b24cabd67d250d0d0147a97ed95ba5c280aa4",
        "reg.example/app",
        &Default::default(),
        &key,
    )
    .unwrap();
    std::fs::write(dir.path().join("payload.json"), &s.payload).unwrap();
    std::fs::write(dir.path().join("b.json"), s.bundle.to_json().unwrap()).unwrap();
    std::fs::write(dir.path().join("k.pub"), key.public_key().to_pem().unwrap()).unwrap();
    fn args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
        let mut v = vec!["verify-blob", "--bundle", "b.json", "--key", "k.pub"];
        v.extend_from_slice(extra);
        v.push("payload.json");
        v
    }
    let ok = bulwark(dir.path(), &args(&["--insecure-ignore-tlog"]), None);
    assert_eq!(ok.status.code(), Some(0), "{}", common::stderr(&ok));
    // Without the explicit waiver, a bundle with no log entry is not verified.
    let root = prod_root();
    let strict = bulwark(dir.path(), &args(&["--trusted-root", &root]), None);
    assert_eq!(strict.status.code(), Some(1));
    assert!(common::stderr(&strict).contains("no transparency log entry"));
    // And without a trusted root to check a log entry against, that is a usage error
    // saying so, not a misleading "not verified".
    let no_root = bulwark(dir.path(), &args(&[]), None);
    assert_eq!(no_root.status.code(), Some(2));
    assert!(common::stderr(&no_root).contains("needs a trusted root"));
    // Tampered artifact.
    let mut t = s.payload.clone();
    t[3] ^= 1;
    std::fs::write(dir.path().join("payload.json"), &t).unwrap();
    let bad = bulwark(dir.path(), &args(&["--insecure-ignore-tlog"]), None);
    assert_eq!(bad.status.code(), Some(1));
    // The key through an env:// reference.
    std::fs::write(dir.path().join("payload.json"), &s.payload).unwrap();
    let mut c = Command::new(env!("CARGO_BIN_EXE_bulwark"));
    c.args([
        "verify-blob",
        "--bundle",
        "b.json",
        "--key",
        "env://BULWARK_TEST_PUB",
        "--insecure-ignore-tlog",
        "payload.json",
    ])
    .current_dir(dir.path())
    .env("BULWARK_TEST_PUB", key.public_key().to_pem().unwrap());
    let o = c.output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", common::stderr(&o));
    // A KMS reference is refused as unsupported (exit 2), never treated as a path.
    let kms = bulwark(
        dir.path(),
        &[
            "verify-blob",
            "--bundle",
            "b.json",
            "--key",
            "awskms:///alias/x",
            "payload.json",
        ],
        None,
    );
    assert_eq!(kms.status.code(), Some(2));
    assert!(
        common::stderr(&kms).contains("awskms://"),
        "{}",
        common::stderr(&kms)
    );
}
