//! Sigstore conformance (bundle-verify) through the real `bulwark verify-blob`: every
//! case in shared/fixtures/sigstore/conformance/bundle-verify, once with the
//! artifact file and once with only `sha256:<hex>`. Cases named `*_fail` must be
//! rejected (exit 1 or 2, never a crash), every other case must verify (exit 0).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic: that is its failure

mod common;

use sha2::Digest;
use std::path::Path;

use common::{conf, prod_root};

/// Cases bulwark does not handle yet, each with the reason. They must still fail
/// closed (non-zero exit) — a gap may never turn into a false "verified".
const KNOWN_GAPS: &[(&str, &str)] = &[];

/// For each `_fail` case, a piece of the reason bulwark must give (so a case rejected
/// for an unrelated reason — say, a parse error in the harness — does not count).
const FAIL_REASONS: &[(&str, &str)] = &[
    (
        "bundle-empty-certificate-chain_fail",
        "certificate chain is empty",
    ),
    (
        "bundle-from-wrong-instance_fail",
        "log not in the trusted root",
    ),
    ("bundle-invalid-base64-signature_fail", "invalid base64"),
    ("bundle-malformed-json_fail", "not valid bundle JSON"),
    ("bundle-negative-log-index_fail", "negative log index"),
    ("bundle-unknown-version_fail", "bundle media type"),
    ("bundle-with-root-cert_fail", "contains a root certificate"),
    (
        "checkpoint-bad-keyhint_fail",
        "no valid signature from the log's key",
    ),
    (
        "checkpoint-wrong-roothash_fail",
        "differs from the inclusion proof",
    ),
    ("dsse-invalid-sig_fail", "DSSE signature does not verify"),
    ("dsse-mismatch-envelope_fail", "DSSE payload hash differs"),
    ("dsse-mismatch-sig_fail", "DSSE signature differs"),
    (
        "inclusion-proof-corrupted-hash_fail",
        "audit path does not lead to the root hash",
    ),
    ("incorrect-public-key_fail", "the certificate differs"),
    (
        "integrated-time-in-future_fail",
        "was not valid at the signing time",
    ),
    (
        "intoto-expired-certificate_fail",
        "was not valid at the signing time",
    ),
    ("intoto-log-entry-mismatch_fail", "log entry does not match"),
    ("intoto-missing-inclusion-proof_fail", "no inclusion proof"),
    (
        "intoto-set-outside-signing-cert-validity_fail",
        "was not valid at the signing time",
    ),
    (
        "intoto-tsa-timestamp-outside-cert-validity_fail",
        "was not valid at the signing time",
    ),
    (
        "invalid-checkpoint-signature_fail",
        "no valid signature from the log's key",
    ),
    (
        "invalid-ct-key_fail",
        "no valid signed certificate timestamp",
    ),
    (
        "invalid-inclusion-proof_fail",
        "audit path does not lead to the root hash",
    ),
    ("managed-key-no-key_fail", "signed with a managed key"),
    ("managed-key-wrong-key_fail", "key.pub"),
    (
        "message-digest-mismatch_fail",
        "message digest does not match",
    ),
    (
        "rekor2-checkpoint-missing-log-signature_fail",
        "checkpoint: no signatures",
    ),
    (
        "rekor2-checkpoint-missing-origin_fail",
        "checkpoint: tree size line",
    ),
    (
        "rekor2-checkpoint-missing-root-hash_fail",
        "checkpoint: root hash",
    ),
    (
        "rekor2-checkpoint-missing-size_fail",
        "checkpoint: tree size line",
    ),
    (
        "rekor2-checkpoint-no-matching-signature_fail",
        "no valid signature from the log's key",
    ),
    (
        "rekor2-dsse-invalid-sig_fail",
        "DSSE signature does not verify",
    ),
    (
        "rekor2-dsse-mismatch-envelope_fail",
        "artifact digest differs",
    ),
    ("rekor2-dsse-mismatch-sig_fail", "signature differs"),
    ("rekor2-no-inclusion-proof_fail", "no inclusion proof"),
    ("rekor2-no-timestamp_fail", "no verified signing time"),
    (
        "rekor2-timestamp-outside-trust-root-tsa-validity_fail",
        "timestamp authority is not valid in the trusted root",
    ),
    (
        "rekor2-timestamp-outside-tsa-cert-validity_fail",
        "timestamp authority certificate",
    ),
    (
        "rekor2-timestamp-payload-mismatch_fail",
        "message imprint does not match",
    ),
    (
        "rekor2-timestamp-untrusted-tsa-with-embedded-cert_fail",
        "not signed by a timestamp authority in the trusted root",
    ),
    (
        "rekor2-timestamp-untrusted-tsa-without-embedded-cert_fail",
        "not signed by a timestamp authority in the trusted root",
    ),
    (
        "rekor2-timestamp-with-incorrect-time_fail",
        "was not valid at the signing time",
    ),
    (
        "set-invalid-signature_fail",
        "signed entry timestamp does not verify",
    ),
    (
        "signature-mismatch_fail",
        "signature does not verify over the artifact",
    ),
    (
        "trust-root-tlog-missing-validity-start_fail",
        "validFor window without a start",
    ),
    (
        "wrong-hashedrekord-artifact_fail",
        "artifact digest differs",
    ),
    ("wrong-hashedrekord-cert-and-sig_fail", "signature differs"),
    ("wrong-hashedrekord-entry_fail", "artifact digest differs"),
    ("wrong-material_fail", "message digest does not match"),
];

fn read_trim(p: &Path) -> Option<String> {
    std::fs::read_to_string(p)
        .ok()
        .map(|s| s.trim().to_string())
}

/// What one conformance case gives a verifier.
struct Case {
    name: String,
    bundle: std::path::PathBuf,
    artifact: std::path::PathBuf,
    root: std::path::PathBuf,
    /// The managed key, or else the expected (identity, issuer).
    key: Option<std::path::PathBuf>,
    identity: (String, String),
}

/// Every case of the suite, sorted by name.
fn cases() -> Vec<Case> {
    let mut dirs: Vec<_> = std::fs::read_dir(conf())
        .expect("conformance fixtures")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.join("bundle.sigstore.json").exists())
        .collect();
    dirs.sort();
    assert!(
        dirs.len() >= 70,
        "expected the 70 conformance cases, found {}",
        dirs.len()
    );
    dirs.into_iter()
        .map(|case| Case {
            name: case.file_name().unwrap().to_string_lossy().into_owned(),
            bundle: case.join("bundle.sigstore.json"),
            artifact: if case.join("artifact").exists() {
                case.join("artifact")
            } else {
                Path::new(&conf()).join("a.txt")
            },
            root: if case.join("trusted_root.json").exists() {
                case.join("trusted_root.json")
            } else {
                prod_root().into()
            },
            key: Some(case.join("key.pub")).filter(|k| k.exists()),
            identity: (
                read_trim(&case.join("identity")).unwrap_or(common::CONFORMANCE_IDENTITY.into()),
                read_trim(&case.join("issuer")).unwrap_or(common::CONFORMANCE_ISSUER.into()),
            ),
        })
        .collect()
}

/// `bulwark verify-blob` arguments for a case, less the artifact.
fn verify_blob_args(c: &Case) -> Vec<String> {
    let mut args: Vec<String> = vec![
        "verify-blob".into(),
        "--bundle".into(),
        c.bundle.display().to_string(),
        "--trusted-root".into(),
        c.root.display().to_string(),
    ];
    match &c.key {
        Some(k) => args.extend(["--key".into(), k.display().to_string()]),
        None => args.extend([
            "--certificate-identity".into(),
            c.identity.0.clone(),
            "--certificate-oidc-issuer".into(),
            c.identity.1.clone(),
        ]),
    }
    args
}

#[test]
fn conformance_bundle_verify_cases() {
    let _fx = bulwark_fixtures::fixtures_or_skip!();
    let cases = cases();
    let (mut agree, mut disagree, mut gaps) = (0, Vec::new(), 0);
    for case in &cases {
        let name = case.name.clone();
        let digest = format!(
            "sha256:{}",
            hex::encode(sha2::Sha256::digest(std::fs::read(&case.artifact).unwrap()))
        );
        let base = verify_blob_args(case);
        let expect_ok = !name.ends_with("_fail");
        let gap = KNOWN_GAPS.iter().find(|(n, _)| *n == name);
        for input in [case.artifact.display().to_string(), digest.clone()] {
            let mut args = base.clone();
            args.push(input.clone());
            let argv: Vec<&str> = args.iter().map(String::as_str).collect();
            let out = common::run(&argv);
            let code = out.status.code();
            assert!(
                matches!(code, Some(0..=2)),
                "{name} ({input}): exit {code:?} (crash?)\n{}",
                common::stderr(&out)
            );
            let ok = code == Some(0);
            let mode = if input.starts_with("sha256:") {
                "digest"
            } else {
                "file"
            };
            if let Some((_, why)) = gap {
                assert!(!ok, "{name} is listed as a known gap ({why}) but now verifies: remove it from KNOWN_GAPS");
                gaps += 1;
                eprintln!("GAP   {name} [{mode}]: {why}");
            } else if ok == expect_ok {
                if !expect_ok {
                    let want = FAIL_REASONS
                        .iter()
                        .find(|(n, _)| *n == name)
                        .map(|(_, r)| *r)
                        .unwrap_or_else(|| panic!("{name}: no expected reason in FAIL_REASONS"));
                    let err = common::stderr(&out);
                    if !err.contains(want) {
                        disagree.push(format!(
                            "{name} [{mode}]: rejected, but not because of {want:?}: {}",
                            err.trim()
                        ));
                        continue;
                    }
                }
                agree += 1;
            } else {
                disagree.push(format!(
                    "{name} [{mode}]: expected {}, got exit {code:?}: {}",
                    if expect_ok { "verified" } else { "rejected" },
                    common::stderr(&out).trim()
                ));
            }
        }
    }
    eprintln!(
        "conformance: {} cases x 2 inputs: agree={agree} disagree={} known-gaps={gaps}",
        cases.len(),
        disagree.len()
    );
    assert!(
        disagree.is_empty(),
        "disagreements:\n{}",
        disagree.join("\n")
    );
}

/// Cases where @sigstore/verify (the independent verifier) and the conformance suite
/// disagree, with why bulwark sides with the suite.
const SIGSTORE_JS_DIFFERS: &[(&str, &str)] = &[(
    "trust-root-tlog-missing-validity-start_fail",
    "@sigstore/verify reads a log key whose validFor has no start as valid from the \
     beginning of time; the suite (and bulwark) refuse such a trusted root",
)];

/// The same cases through an independent implementation, @sigstore/verify (npm, driven
/// offline by shared/tools/verify-offline.js, installed by scripts/setup-test-env.sh
/// into /opt/sigstore-js or $BULWARK_SIGSTORE_JS): for every case both verifiers give
/// the same verdict on the artifact file, except the cases listed above.
#[test]
fn sigstore_js_gives_the_same_verdicts_as_bulwark() {
    let _fx = bulwark_fixtures::fixtures_or_skip!();
    let script = bulwark_fixtures::tool_or_skip!(
        bulwark_fixtures::fixtures_location()
            .parent()
            .unwrap()
            .join("tools/verify-offline.js"),
        "the shared tools (../shared/tools)"
    );
    let sigjs = std::env::var_os("BULWARK_SIGSTORE_JS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| "/opt/sigstore-js".into());
    let modules = bulwark_fixtures::tool_or_skip!(
        sigjs.join("node_modules/@sigstore/verify"),
        "run scripts/setup-test-env.sh (npm install @sigstore/verify into /opt/sigstore-js)"
    );
    let node_path = modules.parent().unwrap().parent().unwrap().to_path_buf();
    let cases = cases();
    let (mut agree, mut differ, mut wrong) = (0, 0, Vec::new());
    for case in &cases {
        let name = &case.name;
        let mut js = vec![
            script.display().to_string(),
            "--bundle".into(),
            case.bundle.display().to_string(),
            "--trusted-root".into(),
            case.root.display().to_string(),
        ];
        match &case.key {
            Some(k) => js.extend(["--key".into(), k.display().to_string()]),
            None => js.extend([
                "--identity".into(),
                case.identity.0.clone(),
                "--issuer".into(),
                case.identity.1.clone(),
            ]),
        }
        js.extend(["--artifact".into(), case.artifact.display().to_string()]);
        let mut ours = verify_blob_args(case);
        ours.push(case.artifact.display().to_string());
        let out = std::process::Command::new("node")
            .args(&js)
            .env("NODE_PATH", &node_path)
            .output()
            .expect("running node (scripts/setup-test-env.sh installs it)");
        let said = String::from_utf8_lossy(&out.stdout).trim().to_string();
        assert!(
            said == "OK" || said.starts_with("FAIL"),
            "{name}: verify-offline.js printed {said:?}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let js_ok = said == "OK" && out.status.success();
        let argv: Vec<&str> = ours.iter().map(String::as_str).collect();
        let ours_ok = common::run(&argv).status.code() == Some(0);
        match SIGSTORE_JS_DIFFERS.iter().find(|(n, _)| n == name) {
            Some((_, why)) => {
                assert!(
                    js_ok != ours_ok,
                    "{name} is listed as a difference ({why}) but both now agree"
                );
                differ += 1;
            }
            None if js_ok == ours_ok => agree += 1,
            None => wrong.push(format!(
                "{name}: @sigstore/verify {said:?}, bulwark {}",
                if ours_ok { "verified" } else { "rejected" }
            )),
        }
    }
    eprintln!(
        "@sigstore/verify vs bulwark: {} cases, agree={agree} listed-differences={differ}",
        cases.len()
    );
    assert!(wrong.is_empty(), "verdicts differ:\n{}", wrong.join("\n"));
}
