//! End to end: `bulwark sign`, `verify`, `attest`, `verify-attestation`, `verify
//! --integrity` and `sbom --attest` against a real `docker-registry` (TLS from a test
//! CA, htpasswd auth, from bulwark-testkit) and against an OCI layout directory; then
//! tampering with a layer, the signature, the payload and the tag, each of which must
//! fail with its reason and exit code. Interop with the independent Python signer
//! (`shared/tools/cosign_py.py`) in both directions on a plain-HTTP loopback registry.
//!
//! Needs the images of `scripts/build-test-images.sh` in `BULWARK_TEST_IMAGES`, the
//! registry binary, and for interop `BULWARK_TEST_PYTHON` (a python with
//! `cryptography` and `pynacl`).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic: that is its failure

use bulwark_image::registry::{
    CredentialConfig, Credentials, Reference, RegistryConfig, Repository, Secret,
};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs bulwark in `cwd` with the signing password and `DOCKER_CONFIG`.
fn bulwark(cwd: &Path, args: &[&str], docker_config: Option<&Path>) -> Output {
    let cache = tempfile::tempdir().expect("tempdir");
    let mut c = Command::new(env!("CARGO_BIN_EXE_bulwark"));
    c.args(args)
        .current_dir(cwd)
        .env("COSIGN_PASSWORD", "pw")
        .env_remove("BULWARK_TRUSTED_ROOT")
        .env_remove("BULWARK_USERNAME")
        .env_remove("BULWARK_PASSWORD")
        .env_remove("BULWARK_REGISTRY_TOKEN")
        .env_remove("BULWARK_DB")
        .env("BULWARK_CACHE_DIR", cache.path())
        .env("XDG_CACHE_HOME", cache.path())
        .stdin(std::process::Stdio::null());
    match docker_config {
        Some(d) => c.env("DOCKER_CONFIG", d),
        None => c.env("DOCKER_CONFIG", cwd.join("no-docker-config")),
    };
    c.output().expect("run bulwark")
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn expect(o: &Output, code: i32, what: &str) -> String {
    assert_eq!(o.status.code(), Some(code), "{what}: {}", text(o));
    text(o)
}

fn json_of(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(o)))
}

fn verified_sources(v: &Value) -> Vec<String> {
    v["signatures"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["verified"] == true)
        .map(|s| s["source"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn keys(dir: &Path) {
    for p in ["k", "other"] {
        let o = bulwark(dir, &["key", "generate", "--output-prefix", p], None);
        expect(&o, 0, "key generate");
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to.join("blobs/sha256")).expect("mkdir");
    for f in ["oci-layout", "index.json"] {
        std::fs::copy(from.join(f), to.join(f)).expect("copy");
    }
    for e in std::fs::read_dir(from.join("blobs/sha256"))
        .expect("read_dir")
        .flatten()
    {
        std::fs::copy(e.path(), to.join("blobs/sha256").join(e.file_name())).expect("copy blob");
    }
}

fn repo(reg: &bulwark_testkit::Registry, name: &str) -> Repository {
    let r = Reference::parse(&format!("{}/{name}:x", reg.host())).expect("ref");
    let credentials = CredentialConfig {
        explicit: reg.credentials().map(|(u, p)| Credentials::Basic {
            username: u.to_string(),
            password: Secret::new(p),
        }),
        ..Default::default()
    };
    let cfg = RegistryConfig {
        insecure: reg.ca_file().is_none(),
        ca_file: reg.ca_file(),
        credentials,
        ..Default::default()
    };
    Repository::open(&r, &cfg).expect("repository")
}

/// The manifest at `tag` as JSON.
fn manifest(repo: &Repository, tag: &str) -> Value {
    let m = repo.fetch_manifest(tag).expect("manifest");
    serde_json::from_slice(&m.bytes).expect("json")
}

fn tag_of(digest: &str, suffix: &str) -> String {
    format!("{}.{suffix}", digest.replacen(':', "-", 1))
}

#[test]
fn registry_sign_attest_verify_then_tamper() {
    let images = bulwark_fixtures::images_or_skip!();
    let Some(reg) = bulwark_testkit::Registry::start(
        bulwark_testkit::RegistryOptions::tls_with_auth("ci-bot", "s3cret"),
    ) else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    keys(dir);
    let dc = reg.write_docker_config(&dir.join("dc"), "ci-bot", "s3cret");
    let ca = reg.ca_file().expect("ca");
    let ca = ca.to_str().expect("utf-8");
    let run = |args: &[&str]| {
        let mut a: Vec<&str> = args.to_vec();
        a.extend(["--ca-file", ca]);
        bulwark(dir, &a, Some(&dc))
    };

    // Push the app image (OCI layout keeps its digest) and sign it.
    let src = format!("oci:{}", images.join("app.oci-dir").display());
    let image = format!("{}/e2e/app:1", reg.host());
    let pushed = expect(
        &run(&["push", &src, &format!("docker://{image}")]),
        0,
        "push",
    );
    let digest = pushed
        .split('@')
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .expect("digest")
        .to_string();
    expect(
        &run(&["sign", "--key", "k.key", "-a", "team=shop", &image]),
        0,
        "sign",
    );
    let o = run(&[
        "verify",
        "--key",
        "k.pub",
        "-a",
        "team=shop",
        "--format",
        "json",
        &image,
    ]);
    expect(&o, 0, "verify");
    let v = json_of(&o);
    assert_eq!(v["digest"], digest.as_str());
    assert_eq!(verified_sources(&v), ["legacy-tag", "referrer"]);

    // Another key, a missing and a different annotation: exit 1 with the reason.
    let o = run(&["verify", "--key", "other.pub", &image]);
    assert!(expect(&o, 1, "other key").contains("does not verify"));
    let o = run(&["verify", "--key", "k.pub", "-a", "env=prod", &image]);
    assert!(expect(&o, 1, "missing annotation").contains("required annotation env=prod is missing"));

    // SBOM attestation straight from `bulwark sbom`, then verify-attestation with the
    // example policy (an SBOM exists, no fixable CRITICAL in a vuln attestation).
    let o = run(&[
        "sbom",
        &format!("docker://{image}"),
        "--format",
        "cyclonedx",
        "-o",
        "sbom.json",
        "--attest",
        "--key",
        "k.key",
    ]);
    expect(&o, 0, "sbom --attest");
    let policy = bulwark_fixtures::workspace_root()
        .join("examples/attestation/sbom-and-no-fixable-critical.rego");
    let policy = policy.to_str().expect("utf-8");
    let o = run(&[
        "verify-attestation",
        "--key",
        "k.pub",
        "--type",
        "cyclonedx",
        "--policy",
        policy,
        "--format",
        "json",
        &image,
    ]);
    expect(&o, 0, "verify-attestation");
    let v = json_of(&o);
    assert_eq!(verified_sources(&v), ["legacy-tag", "referrer"]);
    assert_eq!(v["policy"]["passed"], true);
    std::fs::write(
        dir.join("vuln.json"),
        r#"{"scanner":{"uri":"x","version":"1","result":{"vulnerabilities":[{"id":"CVE-2099-7","package":"zlib","installed_version":"1","severity":"CRITICAL","fixed_versions":["2"]}]}}}"#,
    )
    .expect("write");
    expect(
        &run(&[
            "attest",
            "--key",
            "k.key",
            "--type",
            "vuln",
            "--predicate",
            "vuln.json",
            &image,
        ]),
        0,
        "attest vuln",
    );
    let o = run(&[
        "verify-attestation",
        "--key",
        "k.pub",
        "--policy",
        policy,
        &image,
    ]);
    assert!(
        expect(&o, 1, "policy denies").contains("CVE-2099-7 in zlib 1 is CRITICAL and fixed in 2")
    );
    let o = run(&[
        "verify-attestation",
        "--key",
        "other.pub",
        "--type",
        "cyclonedx",
        &image,
    ]);
    expect(&o, 1, "attestation with another key");

    // Integrity of the remote image, then a tampered layer blob in the registry storage.
    expect(&run(&["verify", "--integrity", &image]), 0, "integrity");
    let m = manifest(&repo(&reg, "e2e/app"), &digest);
    let layer = m["layers"][0]["digest"]
        .as_str()
        .expect("layer")
        .to_string();
    let path = reg.blob_data_path(&layer);
    let original = std::fs::read(&path).expect("blob");
    let mut bad = original.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 0xff;
    std::fs::write(&path, &bad).expect("tamper");
    let o = run(&["verify", "--integrity", &image]);
    let out = expect(&o, 1, "tampered layer");
    assert!(
        out.contains(&format!("TAMPERED   layer 0 {layer}: tampered")),
        "{out}"
    );
    std::fs::write(&path, &original).expect("restore");

    // Tamper with the signature (legacy only, so nothing else can verify).
    let small = images.join("rpm.docker.tar");
    let small = small.to_str().expect("utf-8");
    let push_small = |name: &str| -> String {
        let out = expect(
            &run(&["push", small, &format!("docker://{}/{name}:1", reg.host())]),
            0,
            "push small",
        );
        out.split('@')
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
            .expect("digest")
            .to_string()
    };
    let sig_img = format!("{}/e2e/t-sig:1", reg.host());
    let d = push_small("e2e/t-sig");
    expect(
        &run(&["sign", "--key", "k.key", "--format", "legacy", &sig_img]),
        0,
        "sign t-sig",
    );
    let r = repo(&reg, "e2e/t-sig");
    let mut sig = manifest(&r, &tag_of(&d, "sig"));
    let s = sig["layers"][0]["annotations"]["dev.cosignproject.cosign/signature"]
        .as_str()
        .expect("sig")
        .to_string();
    let flipped = format!("{}{}", &s[..8], if &s[8..9] == "A" { "B" } else { "A" }) + &s[9..];
    sig["layers"][0]["annotations"]["dev.cosignproject.cosign/signature"] = Value::String(flipped);
    r.push_manifest(
        Some(&tag_of(&d, "sig")),
        &serde_json::to_vec(&sig).expect("json"),
    )
    .expect("push tampered sig");
    let o = run(&["verify", "--key", "k.pub", &sig_img]);
    assert!(expect(&o, 1, "tampered signature").contains("does not verify"));

    // Tamper with the payload: same signature, payload bytes changed.
    let pay_img = format!("{}/e2e/t-payload:1", reg.host());
    let d = push_small("e2e/t-payload");
    expect(
        &run(&["sign", "--key", "k.key", "--format", "legacy", &pay_img]),
        0,
        "sign t-payload",
    );
    let r = repo(&reg, "e2e/t-payload");
    let mut sig = manifest(&r, &tag_of(&d, "sig"));
    let pd = sig["layers"][0]["digest"]
        .as_str()
        .expect("payload digest")
        .to_string();
    let payload = r.fetch_blob(&pd, 1 << 20).expect("payload");
    let tampered = String::from_utf8(payload)
        .expect("utf-8")
        .replace("\"optional\":null", "\"optional\":{\"x\":\"y\"}");
    let nd = r
        .push_blob_bytes(
            "application/vnd.dev.cosign.simplesigning.v1+json",
            tampered.as_bytes(),
        )
        .expect("push payload");
    sig["layers"][0]["digest"] = Value::String(nd.digest.clone());
    sig["layers"][0]["size"] = Value::from(nd.size);
    r.push_manifest(
        Some(&tag_of(&d, "sig")),
        &serde_json::to_vec(&sig).expect("json"),
    )
    .expect("push tampered payload");
    let o = run(&["verify", "--key", "k.pub", &pay_img]);
    assert!(expect(&o, 1, "tampered payload")
        .contains("the signature does not verify over the payload"));

    // Tamper with a stored bundle blob (both layouts signed, the legacy tag removed
    // from the picture by tampering with its payload blob in storage too).
    let bun_img = format!("{}/e2e/t-bundle:1", reg.host());
    let d = push_small("e2e/t-bundle");
    expect(
        &run(&["sign", "--key", "k.key", "--format", "bundle", &bun_img]),
        0,
        "sign t-bundle",
    );
    let r = repo(&reg, "e2e/t-bundle");
    let refs = r.referrers(&d, None).expect("referrers").manifests;
    assert_eq!(refs.len(), 1);
    let rm = manifest(&r, &refs[0].digest);
    let bd = rm["layers"][0]["digest"]
        .as_str()
        .expect("bundle digest")
        .to_string();
    let bpath = reg.blob_data_path(&bd);
    let bundle = std::fs::read_to_string(&bpath).expect("bundle");
    std::fs::write(
        &bpath,
        bundle.replacen("\"signature\":\"M", "\"signature\":\"N", 1),
    )
    .expect("tamper bundle");
    let o = run(&["verify", "--key", "k.pub", &bun_img]);
    assert!(expect(&o, 1, "tampered bundle").contains("digest mismatch"));

    // Re-point the tag at another image (the same blobs, another manifest): no
    // signature; then replay the first image's signature onto it.
    let tag_img = format!("{}/e2e/t-tag:1", reg.host());
    let a = push_small("e2e/t-tag");
    expect(&run(&["sign", "--key", "k.key", &tag_img]), 0, "sign t-tag");
    expect(
        &run(&["verify", "--key", "k.pub", &tag_img]),
        0,
        "verify t-tag",
    );
    let r = repo(&reg, "e2e/t-tag");
    let mut other = manifest(&r, &a);
    other["annotations"] = serde_json::json!({"org.example.rebuilt": "yes"});
    let b = r
        .push_manifest(Some("1"), &serde_json::to_vec(&other).expect("json"))
        .expect("re-point")
        .digest;
    let o = run(&["verify", "--key", "k.pub", &tag_img]);
    assert!(expect(&o, 1, "re-pointed tag")
        .contains(&format!("no valid signature for {tag_img} ({b})")));
    let sig = r.fetch_manifest(&tag_of(&a, "sig")).expect("sig");
    r.push_manifest(Some(&tag_of(&b, "sig")), &sig.bytes)
        .expect("replay");
    let o = run(&["verify", "--key", "k.pub", &tag_img]);
    assert!(expect(&o, 1, "replayed signature")
        .contains(&format!("the signature is for manifest {a}, not {b}")));
    // A signature for another repository fails the docker-reference check.
    let o = run(&[
        "verify",
        "--key",
        "k.pub",
        &format!("{}/e2e/t-tag@{a}", reg.host()),
        "--reference",
        "elsewhere.example/app",
    ]);
    assert!(expect(&o, 1, "other repository").contains("the signature is for"));
}

#[test]
fn oci_layout_sign_attest_verify_then_tamper() {
    let images = bulwark_fixtures::images_or_skip!();
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    keys(dir);
    let layout = dir.join("layout");
    copy_dir(&images.join("app.oci-dir"), &layout);
    let target = format!("oci:{}", layout.display());
    let run = |args: &[&str]| bulwark(dir, args, None);

    expect(
        &run(&["sign", "--key", "k.key", "-a", "build=42", &target]),
        0,
        "sign",
    );
    let o = run(&[
        "verify", "--key", "k.pub", "-a", "build=42", "--format", "json", &target,
    ]);
    expect(&o, 0, "verify");
    assert_eq!(verified_sources(&json_of(&o)), ["legacy-tag", "referrer"]);
    expect(
        &run(&[
            "sbom",
            &target,
            "--format",
            "spdx",
            "-o",
            "sbom.spdx.json",
            "--attest",
            "--key",
            "k.key",
        ]),
        0,
        "sbom --attest",
    );
    expect(
        &run(&[
            "verify-attestation",
            "--key",
            "k.pub",
            "--type",
            "spdx",
            &target,
        ]),
        0,
        "verify-attestation",
    );
    // `scan --attest` attaches the JSON report as a vuln attestation; a target that
    // cannot carry one is refused.
    let osv = bulwark_fixtures::workspace_root().join("examples/osv");
    let osv = osv.to_str().expect("utf-8");
    let o = run(&[
        "scan",
        &target,
        "--osv-dir",
        osv,
        "--format",
        "json",
        "-o",
        "scan.json",
        "--attest",
        "--key",
        "k.key",
    ]);
    expect(&o, 0, "scan --attest");
    let o = run(&[
        "verify-attestation",
        "--key",
        "k.pub",
        "--type",
        "vuln",
        "--format",
        "json",
        &target,
    ]);
    expect(&o, 0, "verify vuln attestation");
    assert_eq!(verified_sources(&json_of(&o)), ["legacy-tag", "referrer"]);
    let archive = images.join("rpm.docker.tar");
    let o = run(&[
        "sbom",
        archive.to_str().expect("utf-8"),
        "--attest",
        "--key",
        "k.key",
        "-o",
        "x.json",
    ]);
    assert!(expect(&o, 2, "attest on an archive")
        .contains("--attest needs an image in a registry or an OCI layout"));
    // The layout still reads as the one image (signatures are not images).
    expect(
        &run(&["sbom", &target, "--format", "json", "-o", "again.json"]),
        0,
        "sbom after signing",
    );
    expect(&run(&["verify", "--integrity", &target]), 0, "integrity");

    // A tampered layer is named.
    let index: Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).expect("index"))
            .expect("json");
    let digest = index["manifests"][0]["digest"]
        .as_str()
        .expect("digest")
        .to_string();
    let m: Value = serde_json::from_slice(
        &std::fs::read(
            layout
                .join("blobs/sha256")
                .join(digest.trim_start_matches("sha256:")),
        )
        .expect("manifest"),
    )
    .expect("json");
    let layer = m["layers"][1]["digest"]
        .as_str()
        .unwrap_or_else(|| m["layers"][0]["digest"].as_str().expect("layer"))
        .to_string();
    let lpath = layout
        .join("blobs/sha256")
        .join(layer.trim_start_matches("sha256:"));
    let original = std::fs::read(&lpath).expect("layer");
    let mut bad = original.clone();
    bad[0] ^= 1;
    std::fs::write(&lpath, &bad).expect("tamper");
    let o = run(&["verify", "--integrity", "--format", "json", &target]);
    expect(&o, 1, "tampered layer");
    let v = json_of(&o);
    let bad_blobs: Vec<&str> = v["blobs"]
        .as_array()
        .expect("blobs")
        .iter()
        .filter(|b| b["ok"] == false)
        .filter_map(|b| b["digest"].as_str())
        .collect();
    assert_eq!(bad_blobs, [layer.as_str()]);
    std::fs::write(&lpath, &original).expect("restore");

    // Tampered payload bytes (shared by the .sig layer and the bundle referrer).
    let sig_tag = tag_of(&digest, "sig");
    let sig_entry = index_entry(&layout, &sig_tag);
    let sm: Value = serde_json::from_slice(&std::fs::read(blob(&layout, &sig_entry)).expect("sig"))
        .expect("json");
    let pd = sm["layers"][0]["digest"]
        .as_str()
        .expect("payload")
        .to_string();
    let ppath = blob(&layout, &pd);
    let payload = std::fs::read(&ppath).expect("payload");
    std::fs::write(
        &ppath,
        String::from_utf8_lossy(&payload).replace("build", "bui1d"),
    )
    .expect("tamper");
    let o = run(&["verify", "--key", "k.pub", &target]);
    let out = expect(&o, 1, "tampered payload");
    assert!(out.contains("digest mismatch"), "{out}");
    std::fs::write(&ppath, &payload).expect("restore");
    expect(&run(&["verify", "--key", "k.pub", &target]), 0, "restored");

    // Another key fails; a re-pointed tag has no signature.
    assert!(expect(
        &run(&["verify", "--key", "other.pub", &target]),
        1,
        "other key"
    )
    .contains("does not verify"));
    let mut other = m.clone();
    other["annotations"] = serde_json::json!({"org.example.rebuilt": "yes"});
    let ob = serde_json::to_vec(&other).expect("json");
    let od = format!(
        "sha256:{}",
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&ob))
    );
    std::fs::write(blob(&layout, &od), &ob).expect("write");
    let mut idx = index.clone();
    for e in idx["manifests"].as_array_mut().expect("manifests") {
        if e["digest"] == digest.as_str()
            && e["annotations"]["org.opencontainers.image.ref.name"].is_string()
        {
            e["digest"] = Value::String(od.clone());
            e["size"] = Value::from(ob.len());
        }
    }
    std::fs::write(
        layout.join("index.json"),
        serde_json::to_vec(&idx).expect("json"),
    )
    .expect("index");
    let o = run(&["verify", "--key", "k.pub", &target]);
    assert!(expect(&o, 1, "re-pointed tag").contains(&od));
}

fn index_entry(layout: &Path, tag: &str) -> String {
    let index: Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).expect("index"))
            .expect("json");
    index["manifests"]
        .as_array()
        .expect("manifests")
        .iter()
        .find(|e| e["annotations"]["org.opencontainers.image.ref.name"] == tag)
        .and_then(|e| e["digest"].as_str())
        .expect("tag in index")
        .to_string()
}

fn blob(layout: &Path, digest: &str) -> PathBuf {
    layout
        .join("blobs/sha256")
        .join(digest.trim_start_matches("sha256:"))
}

#[test]
fn registry_errors_exit_2_never_verified() {
    use bulwark_testkit::{Canned, ScriptedServer};
    let tmp = tempfile::tempdir().expect("tempdir");
    keys(tmp.path());
    let digest = format!("sha256:{}", "a".repeat(64));
    // The image resolves; every later request (the .sig tag) answers 500.
    let srv = ScriptedServer::start(vec![
        Canned::status("200 OK")
            .header("Docker-Content-Digest", &digest)
            .header("Content-Type", "application/vnd.oci.image.manifest.v1+json"),
        Canned::status("500 Internal Server Error").body("boom"),
    ]);
    let o = bulwark(
        tmp.path(),
        &[
            "verify",
            "--key",
            "k.pub",
            "--insecure",
            &format!("{}/x/y:1", srv.host()),
        ],
        None,
    );
    let out = expect(&o, 2, "registry 500");
    assert!(out.contains("HTTP 500 server error"), "{out}");
    assert!(!out.contains("verified "), "{out}");
}

#[test]
fn a_registry_that_never_answers_is_exit_2_within_the_timeout() {
    let tmp = tempfile::tempdir().expect("tempdir");
    keys(tmp.path());
    let l = bulwark_testkit::hanging_listener();
    let started = std::time::Instant::now();
    let o = bulwark(
        tmp.path(),
        &[
            "verify",
            "--key",
            "k.pub",
            "--insecure",
            "--timeout",
            "2s",
            &format!("{}/x/y:1", l.host()),
        ],
        None,
    );
    let out = expect(&o, 2, "hanging registry");
    assert!(out.contains("timed out"), "{out}");
    assert!(!out.contains("verified "), "{out}");
    // One bounded wait (retries cover 429/5xx answers, not silence).
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
}

fn python() -> Option<std::ffi::OsString> {
    let p = std::env::var_os("BULWARK_TEST_PYTHON");
    if p.is_none() {
        if bulwark_fixtures::require_all() {
            panic!("BULWARK_TEST_PYTHON is not set (required under CI)");
        }
        eprintln!("SKIPPED: BULWARK_TEST_PYTHON is not set");
    }
    p
}

#[test]
fn interop_with_the_independent_python_signer() {
    let images = bulwark_fixtures::images_or_skip!();
    let Some(py) = python() else { return };
    let Some(reg) = bulwark_testkit::Registry::start(bulwark_testkit::RegistryOptions::plain())
    else {
        return;
    };
    let tool = bulwark_fixtures::fixtures_location().join("../tools/cosign_py.py");
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    keys(dir);
    let image = format!("{}/interop/img:1", reg.host());
    let small = images.join("rpm.docker.tar");
    let out = expect(
        &bulwark(
            dir,
            &[
                "push",
                small.to_str().expect("utf-8"),
                &format!("docker://{image}"),
                "--insecure",
            ],
            None,
        ),
        0,
        "push",
    );
    let digest = out
        .split('@')
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .expect("digest")
        .to_string();
    let pyrun = |args: &[&str]| {
        Command::new(&py)
            .arg(&tool)
            .args(args)
            .current_dir(dir)
            .output()
            .expect("python")
    };
    // Python signs, bulwark verifies (and refuses with another key).
    expect(&pyrun(&["genkey", "pk", "pypw"]), 0, "python genkey");
    expect(
        &pyrun(&[
            "sign",
            &reg.host(),
            "interop/img",
            &digest,
            "pk.key",
            "pypw",
        ]),
        0,
        "python sign",
    );
    let o = bulwark(
        dir,
        &[
            "verify",
            "--key",
            "pk.pub",
            "--insecure",
            "--format",
            "json",
            &image,
        ],
        None,
    );
    expect(&o, 0, "bulwark verifies python's signature");
    assert_eq!(verified_sources(&json_of(&o)), ["legacy-tag"]);
    expect(
        &bulwark(
            dir,
            &["verify", "--key", "k.pub", "--insecure", &image],
            None,
        ),
        1,
        "wrong key",
    );
    // bulwark signs (appending to python's .sig manifest), python verifies.
    expect(
        &bulwark(dir, &["sign", "--key", "k.key", "--insecure", &image], None),
        0,
        "bulwark sign",
    );
    let o = pyrun(&["verify", &reg.host(), "interop/img", &digest, "k.pub"]);
    let out = expect(&o, 0, "python verifies bulwark's signature");
    assert!(out.contains("verified:"), "{out}");
    // Both signatures are in the one manifest.
    let o = bulwark(
        dir,
        &[
            "verify",
            "--key",
            "pk.pub",
            "--insecure",
            "--format",
            "json",
            &image,
        ],
        None,
    );
    expect(&o, 0, "python's signature still there");
    let o = pyrun(&["verify", &reg.host(), "interop/img", &digest, "other.pub"]);
    expect(&o, 1, "python rejects another key");
}

/// Keyless through the CLI: a real cosign keyless signature (Fulcio certificate, Rekor
/// SET; shared/fixtures/sigstore/containers-image) stored under the `.sig` tag of an OCI
/// layout verifies with `--certificate-identity`/`--certificate-oidc-issuer` and the
/// production trusted root, and not for another identity or without a trusted root.
#[test]
fn keyless_cosign_signature_verifies_by_identity_from_the_cli() {
    use base64::Engine as _;
    use sha2::Digest as _;
    let fx = bulwark_fixtures::fixtures_or_skip!();
    let case = fx.join("sigstore/containers-image/dir-img-cosign-fulcio-rekor-valid");
    let root = fx.join("sigstore/trusted-root/production/trusted_root.json");
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("layout");
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).expect("blobs");
    let put = |data: &[u8]| {
        let d = hex::encode(sha2::Sha256::digest(data));
        std::fs::write(blobs.join(&d), data).expect("blob");
        (format!("sha256:{d}"), data.len())
    };
    let manifest = std::fs::read(case.join("manifest.json")).expect("manifest");
    let (image_digest, image_size) = put(&manifest);
    // signature-1: a line naming the format, then the layer as JSON.
    let raw = std::fs::read(case.join("signature-1")).expect("signature");
    let body = &raw[raw.iter().position(|b| *b == b'\n').expect("header line") + 1..];
    let sig: Value = serde_json::from_slice(body).expect("signature json");
    let payload = base64::engine::general_purpose::STANDARD
        .decode(sig["payload"].as_str().expect("payload"))
        .expect("base64");
    let (payload_digest, payload_size) = put(&payload);
    let (config_digest, config_size) = put(b"{}");
    let sig_manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": config_digest, "size": config_size},
        "layers": [{"mediaType": sig["mimeType"], "digest": payload_digest,
                    "size": payload_size, "annotations": sig["annotations"]}],
    }))
    .expect("json");
    let (sig_digest, sig_size) = put(&sig_manifest);
    let sig_tag = format!("{}.sig", image_digest.replace(':', "-"));
    let entry = |digest: &str, size: usize, tag: &str| {
        serde_json::json!({"mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": digest, "size": size,
            "annotations": {"org.opencontainers.image.ref.name": tag}})
    };
    std::fs::write(
        dir.join("index.json"),
        serde_json::to_vec(&serde_json::json!({"schemaVersion": 2, "manifests": [
            entry(&image_digest, image_size, "img"), entry(&sig_digest, sig_size, &sig_tag)]}))
        .expect("json"),
    )
    .expect("index");
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)
        .expect("oci-layout");

    let image = format!("oci:{}:img", dir.display());
    let root = root.display().to_string();
    let verify = |identity: &str, with_root: bool| {
        let mut args = vec![
            "verify",
            "--certificate-identity",
            identity,
            "--certificate-oidc-issuer",
            "https://github.com/login/oauth",
            "--format",
            "json",
        ];
        if with_root {
            args.extend(["--trusted-root", root.as_str()]);
        }
        args.push(image.as_str());
        bulwark(tmp.path(), &args, None)
    };
    let o = verify("mitr@redhat.com", true);
    expect(&o, 0, "keyless by identity");
    assert_eq!(json_of(&o)["verified"], true, "{}", text(&o));
    let o = verify("someone@example.com", true);
    let out = expect(&o, 1, "another identity");
    assert!(out.contains("does not match"), "{out}");
    let o = verify("mitr@redhat.com", false);
    assert_ne!(o.status.code(), Some(0), "no trusted root: {}", text(&o));
}
