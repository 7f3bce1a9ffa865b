//! Fail closed under tampering: every string field of real bundles (keyless v0.3 with
//! Rekor v1 proof + SET, Rekor v2 with RFC 3161 timestamp, DSSE) is altered one at a
//! time, and the result must never verify — nor panic. Garbage into every parser
//! returns an error.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic: that is its failure

use bulwark_sign::{verify_bundle, Artifact, Bundle, Matcher, Policy, TrustedRoot};
use serde_json::Value;
use std::path::PathBuf;

fn conf() -> PathBuf {
    bulwark_fixtures::fixtures_location().join("sigstore/conformance/bundle-verify")
}
const ID: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const ISS: &str = "https://token.actions.githubusercontent.com";

/// Paths to every string leaf of a JSON value.
fn string_paths(v: &Value, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                prefix.push(k.clone());
                string_paths(x, prefix, out);
                prefix.pop();
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                prefix.push(i.to_string());
                string_paths(x, prefix, out);
                prefix.pop();
            }
        }
        Value::String(_) => out.push(prefix.clone()),
        _ => {}
    }
}

fn at<'a>(v: &'a mut Value, path: &[String]) -> &'a mut Value {
    let mut cur = v;
    for p in path {
        cur = match cur {
            Value::Array(a) => &mut a[p.parse::<usize>().unwrap()],
            other => &mut other[p.as_str()],
        };
    }
    cur
}

/// Changes one character at `i` (base64 stays base64).
fn alter(s: &str, i: usize) -> String {
    let mut c: Vec<char> = s.chars().collect();
    if c.is_empty() {
        return "x".into();
    }
    let i = i.min(c.len() - 1);
    c[i] = match c[i] {
        'A' => 'B',
        '0' => '1',
        _ if c[i].is_ascii_alphanumeric() => 'A',
        _ => '0',
    };
    c.into_iter().collect()
}

fn check_case(case: &str, artifact: &[u8]) {
    let dir = conf().join(case);
    let root_path = if dir.join("trusted_root.json").exists() {
        dir.join("trusted_root.json")
    } else {
        bulwark_fixtures::fixtures_location()
            .join("sigstore/trusted-root/production/trusted_root.json")
    };
    let root = TrustedRoot::from_file(&root_path).unwrap();
    let text = std::fs::read_to_string(dir.join("bundle.sigstore.json")).unwrap();
    let orig: Value = serde_json::from_str(&text).unwrap();
    let pol = Policy::Identity {
        san: Matcher::Exact(ID.into()),
        issuer: Matcher::Exact(ISS.into()),
    };
    let now = bulwark_sign::time::now();
    let b = Bundle::from_json(text.as_bytes()).unwrap();
    verify_bundle(&b, Artifact::Bytes(artifact), &pol, &root, now)
        .expect("the untouched bundle verifies");
    let mut paths = Vec::new();
    string_paths(&orig, &mut Vec::new(), &mut paths);
    let mut tried = 0;
    for p in &paths {
        let last = p.last().map(String::as_str).unwrap_or_default();
        // Fields that carry no signed meaning: a hint and the key ID (looked up, so a
        // changed one fails anyway) are still altered; only the media type variants
        // that are synonyms are skipped.
        if last == "mediaType" {
            continue;
        }
        let mut v = orig.clone();
        let slot = at(&mut v, p);
        let s = slot.as_str().unwrap().to_string();
        // The middle of an RFC 3161 token is its embedded certificate set, which is
        // unsigned and deliberately ignored (only trusted-root certificates count);
        // alter its signature near the end instead.
        // Likewise witness cosignatures at the end of a checkpoint are not required;
        // alter the signed note text (the origin line) instead.
        let pos = if last == "signedTimestamp" {
            s.len().saturating_sub(12)
        } else if last == "envelope" {
            5
        } else {
            s.len() / 2
        };
        *slot = Value::String(alter(&s, pos));
        let json = serde_json::to_vec(&v).unwrap();
        let Ok(b) = Bundle::from_json(&json) else {
            continue;
        };
        let r = verify_bundle(&b, Artifact::Bytes(artifact), &pol, &root, now);
        assert!(
            r.is_err(),
            "{case}: altering {} still verified",
            p.join(".")
        );
        tried += 1;
    }
    assert!(tried > 10, "{case}: only {tried} fields altered");
}

#[test]
fn altered_fields_never_verify() {
    let _fx = bulwark_fixtures::fixtures_or_skip!();
    let a = std::fs::read(conf().join("a.txt")).unwrap();
    check_case("happy-path-v0.3", &a);
    check_case("happy-path-v0.1", &a);
    check_case("rekor2-happy-path", &a);
    let dsse_artifact =
        std::fs::read(conf().join("rekor2-dsse-happy-path/artifact")).unwrap_or_else(|_| a.clone());
    check_case("rekor2-dsse-happy-path", &dsse_artifact);
}

#[test]
fn garbage_into_parsers_is_an_error() {
    let _fx = bulwark_fixtures::fixtures_or_skip!();
    let inputs: Vec<Vec<u8>> = vec![
        vec![],
        b"{}".to_vec(),
        b"null".to_vec(),
        vec![0x30, 0x82, 0xff, 0xff],
        vec![0xff; 4096],
        b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n".to_vec(),
        b"-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\neyJrZGYiOnt9fQ==\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n".to_vec(),
        b"-----BEGIN CERTIFICATE-----\nMII=\n".to_vec(),
    ];
    for i in &inputs {
        let s = String::from_utf8_lossy(i);
        assert!(Bundle::from_json(i).is_err() || i == b"{}");
        assert!(TrustedRoot::from_json(i).is_err() || i == b"{}");
        assert!(bulwark_sign::PublicKey::from_pem(&s).is_err());
        assert!(bulwark_sign::PublicKey::from_spki_der(i).is_err());
        assert!(bulwark_sign::PrivateKey::from_pem(&s, b"").is_err());
        assert!(bulwark_sign::x509::Cert::from_der(i).is_err());
        assert!(bulwark_sign::x509::Cert::from_pem_chain(&s).is_err());
        assert!(bulwark_sign::tsa::verify(i, b"sig", &[]).is_err());
        assert!(bulwark_sign::simple_signing::Payload::parse(i).is_err());
        assert!(bulwark_sign::dsse::Statement::from_json(i).is_err());
    }
}
