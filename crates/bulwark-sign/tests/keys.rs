//! Keys against real data: every encrypted key in the shared cosign and sigstore-rs
//! fixtures, the SEC1 negative case, wrong passwords, and interop in both directions
//! with the independent Python decrypter / signer in shared/tools.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic: that is its failure

use bulwark_sign::{Error, KeyRef, PrivateKey, PublicKey};
use std::path::PathBuf;

fn fix(p: &str) -> PathBuf {
    bulwark_fixtures::fixtures_location()
        .join("sigstore")
        .join(p)
}

/// One of the independent implementations in `shared/tools`, beside the fixtures.
fn tool(name: &str) -> PathBuf {
    bulwark_fixtures::fixtures_location()
        .join("../tools")
        .join(name)
}

fn text(p: &str) -> String {
    std::fs::read_to_string(fix(p)).unwrap()
}

fn private(p: &str, pw: &str) -> bulwark_sign::Result<PrivateKey> {
    PrivateKey::from_pem(&text(p), pw.as_bytes())
}

#[test]
fn cosign_fixture_keys_decrypt_and_match_their_public_keys() {
    let _fx = bulwark_fixtures::fixtures_or_skip!();
    for name in ["keys_test-pemcosignkey", "keys_test-pemsigstorekey"] {
        let k = private(&format!("cosign/keys/{name}.key"), "hello").unwrap();
        assert!(matches!(k, PrivateKey::P256(_)), "{name}");
        let want = PublicKey::from_pem(&text(&format!("cosign/keys/{name}.pub"))).unwrap();
        assert_eq!(k.public_key(), want, "{name}");
        // A signature made with it verifies with the published public key.
        let sig = k.sign(b"payload").unwrap();
        want.verify(b"payload", &sig).unwrap();
    }
}

#[test]
fn sec1_key_is_refused_with_a_clear_error() {
    let _fx = bulwark_fixtures::fixtures_or_skip!();
    let e = private("cosign/keys/keys_test-pemcosigneckey-sec1.key", "hello").unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, Error::Malformed(_)), "{e:?}");
    assert!(msg.contains("SEC1") && msg.contains("PKCS#8"), "{msg}");
}

#[test]
fn wrong_password_fails_clearly() {
    let _fx = bulwark_fixtures::fixtures_or_skip!();
    for (p, pw) in [
        ("cosign/keys/keys_test-pemsigstorekey.key", "nothello"),
        ("cosign/keys/cosign-test.key", "hello"),
        ("sigstore-rs/keys/ecdsa_encrypted_private.key", ""),
    ] {
        let e = private(p, pw).unwrap_err();
        assert!(matches!(e, Error::WrongPassword), "{p}: {e:?}");
        assert!(e.to_string().contains("wrong password"), "{e}");
    }
}

#[test]
fn sigstore_rs_fixture_keys_decrypt() {
    let _fx = bulwark_fixtures::fixtures_or_skip!();
    let ec = private("sigstore-rs/keys/ecdsa_encrypted_private.key", "123").unwrap();
    assert!(matches!(ec, PrivateKey::P256(_)));
    let rsa = private("sigstore-rs/keys/rsa_encrypted_private.key", "123").unwrap();
    assert!(matches!(rsa, PrivateKey::Rsa(_)));
    let ed = private("sigstore-rs/keys/ed25519_encrypted_private.key", "123").unwrap();
    assert!(matches!(ed, PrivateKey::Ed25519(_)));
    let empty = private(
        "sigstore-rs/keys/cosign_generated_encrypted_empty_private.key",
        "",
    )
    .unwrap();
    assert!(matches!(empty, PrivateKey::P256(_)));
    for k in [ec, rsa, ed, empty] {
        let sig = k.sign(b"m").unwrap();
        k.public_key().verify(b"m", &sig).unwrap();
        assert!(k.public_key().verify(b"n", &sig).is_err());
    }
    // Unencrypted PKCS#8 ones (the Ed25519 one is PKCS#8 v2 with the public key).
    for f in ["ecdsa_private.key", "ed25519_private.key"] {
        private(&format!("sigstore-rs/keys/{f}"), "").unwrap();
    }
    // PKCS#1 `RSA PRIVATE KEY` is not a cosign key format: refused, naming the label.
    let e = private("sigstore-rs/keys/rsa_private.key", "").unwrap_err();
    assert!(e.to_string().contains("RSA PRIVATE KEY"), "{e}");
    // sigstore-rs key_pair_import: the encrypted key (password `password`) is a P-256
    // key (upstream's files are not all the same key pair, so only the type is checked).
    let k = private(
        "sigstore-rs/key_pair_import/ECDSA_P256_ASN1_ENCRYPTED_PRIVATE_PEM.key",
        "password",
    )
    .unwrap();
    assert!(matches!(k, PrivateKey::P256(_)));
    private(
        "sigstore-rs/key_pair_import/ECDSA_P256_ASN1_PRIVATE_PEM.key",
        "",
    )
    .unwrap();
    PrivateKey::from_pkcs8_der(
        &std::fs::read(fix(
            "sigstore-rs/key_pair_import/ECDSA_P256_ASN1_PRIVATE_DER.key",
        ))
        .unwrap(),
    )
    .unwrap();
}

#[test]
fn env_key_reference_reads_pem() {
    let _fx = bulwark_fixtures::fixtures_or_skip!();
    // The variable name is unique to this test; nothing else reads it.
    let name = "BULWARK_TEST_ENV_KEYREF_PUB";
    std::env::set_var(name, text("cosign/keys/keys_test-pemsigstorekey.pub"));
    let r: KeyRef = format!("env://{name}").parse().unwrap();
    let k = r.public_key().unwrap();
    assert_eq!(
        k,
        PublicKey::from_pem(&text("cosign/keys/keys_test-pemsigstorekey.pub")).unwrap()
    );
    let missing: KeyRef = "env://BULWARK_TEST_SURELY_UNSET_VAR".parse().unwrap();
    assert!(missing
        .public_key()
        .unwrap_err()
        .to_string()
        .contains("not set"));
}

fn python() -> Option<PathBuf> {
    match std::env::var_os("BULWARK_TEST_PYTHON") {
        Some(p) => Some(PathBuf::from(p)),
        None => {
            eprintln!(
                "SKIP: BULWARK_TEST_PYTHON is not set (a python with `cryptography` and `pynacl`); interop not checked"
            );
            None
        }
    }
}

#[test]
fn interop_bulwark_key_decrypted_by_python_tool() {
    let _fx = bulwark_fixtures::fixtures_or_skip!();
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    for alg in [
        bulwark_sign::Algorithm::EcdsaP256,
        bulwark_sign::Algorithm::Ed25519,
    ] {
        let k = PrivateKey::generate(alg);
        let path = dir.path().join("k.key");
        std::fs::write(&path, k.to_encrypted_pem(b"s3cret").unwrap()).unwrap();
        let out = std::process::Command::new(&py)
            .arg(tool("decrypt_cosign_key.py"))
            .arg(&path)
            .arg("s3cret")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.contains("ENCRYPTED SIGSTORE PRIVATE KEY"),
            "{stdout}"
        );
        let want = match alg {
            // cryptography's class name differs between versions.
            bulwark_sign::Algorithm::EcdsaP256 => "ECPrivateKey",
            bulwark_sign::Algorithm::Ed25519 => "Ed25519PrivateKey",
        };
        assert!(
            stdout.contains(": OK plaintext PKCS8 DER -> ")
                && (stdout.contains(want) || stdout.contains("EllipticCurvePrivateKey")),
            "{stdout}"
        );
        // And a wrong password is rejected by the independent tool too.
        let out = std::process::Command::new(&py)
            .arg(tool("decrypt_cosign_key.py"))
            .arg(&path)
            .arg("wrong")
            .output()
            .unwrap();
        assert!(String::from_utf8_lossy(&out.stdout).contains("FAIL"));
    }
}

#[test]
fn interop_python_generated_key_read_by_bulwark() {
    let _fx = bulwark_fixtures::fixtures_or_skip!();
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("pyk");
    let out = std::process::Command::new(&py)
        .arg(tool("cosign_py.py"))
        .arg("genkey")
        .arg(&prefix)
        .arg("pw1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key = KeyRef::File(prefix.with_extension("key"))
        .private_key(b"pw1")
        .unwrap();
    let public = KeyRef::File(prefix.with_extension("pub"))
        .public_key()
        .unwrap();
    assert_eq!(key.public_key(), public);
    assert!(matches!(
        KeyRef::File(prefix.with_extension("key")).private_key(b"pw2"),
        Err(Error::WrongPassword)
    ));
}
