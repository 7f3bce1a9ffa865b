//! End-to-end: `bulwark push` copies the real test images to a real `docker-registry`
//! (htpasswd auth, TLS from a test CA, both from bulwark-testkit), and `bulwark sbom
//! docker://... --ca-file CA` reads them back — credentials from a `DOCKER_CONFIG`
//! directory the test writes — with the same packages as the local archive. A wrong
//! password and a missing repository fail with exit 2 and the 401 / 404 error.
//!
//! Needs the images of `scripts/build-test-images.sh` in `BULWARK_TEST_IMAGES`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic: that is its failure

mod common;
use common::purls;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn images() -> PathBuf {
    bulwark_fixtures::images_location()
}

/// Runs bulwark with `DOCKER_CONFIG` pointing at `docker_config` and no inherited
/// credentials.
fn bulwark(args: &[&str], docker_config: &Path) -> Output {
    let cache = tempfile::tempdir().expect("tempdir");
    Command::new(env!("CARGO_BIN_EXE_bulwark"))
        .args(args)
        .env("DOCKER_CONFIG", docker_config)
        .env_remove("BULWARK_USERNAME")
        .env_remove("BULWARK_PASSWORD")
        .env_remove("BULWARK_REGISTRY_TOKEN")
        .env("BULWARK_CACHE_DIR", cache.path())
        .env("XDG_CACHE_HOME", cache.path())
        .output()
        .expect("run bulwark")
}

fn ok(o: &Output, what: &str) -> String {
    assert!(
        o.status.success(),
        "{what}: exit {:?}: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn json(o: &Output, what: &str) -> Value {
    serde_json::from_str(&ok(o, what)).expect("json report")
}

#[test]
fn push_then_sbom_over_tls_with_docker_config_credentials() {
    let _images = bulwark_fixtures::images_or_skip!();
    let Some(reg) = bulwark_testkit::Registry::start(
        bulwark_testkit::RegistryOptions::tls_with_auth("ci-bot", "s3cret"),
    ) else {
        return;
    };
    let images = images();
    let ca = reg.ca_file().expect("tls registry has a CA");
    let ca = ca.to_str().expect("utf-8 path");
    let tmp = tempfile::tempdir().expect("tempdir");
    let good = reg.write_docker_config(&tmp.path().join("good"), "ci-bot", "s3cret");
    let bad = reg.write_docker_config(&tmp.path().join("bad"), "ci-bot", "not-it");
    let archive = images.join("app.docker.tar");
    let archive = archive.to_str().expect("utf-8 path");
    let local = purls(&json(
        &bulwark(&["sbom", archive, "--format", "json"], &good),
        "sbom of the archive",
    ));
    assert!(local.len() > 50, "too few packages: {}", local.len());

    // docker-archive → registry.
    let dest = format!("docker://{}/e2e/app:1", reg.host());
    let out = ok(
        &bulwark(&["push", archive, &dest, "--ca-file", ca], &good),
        "push docker-archive",
    );
    let pushed = out.trim();
    assert!(
        pushed.starts_with(&format!("{}/e2e/app@sha256:", reg.host())),
        "{pushed}"
    );
    let remote = purls(&json(
        &bulwark(&["sbom", &dest, "--ca-file", ca, "--format", "json"], &good),
        "sbom of the pushed image",
    ));
    assert_eq!(remote, local, "registry copy lists other packages");
    // By digest too.
    let by_digest = format!("docker://{pushed}");
    let again = purls(&json(
        &bulwark(
            &["sbom", &by_digest, "--ca-file", ca, "--format", "json"],
            &good,
        ),
        "sbom by digest",
    ));
    assert_eq!(again, local);

    // OCI layout → registry keeps the layout's manifest digest.
    let layout = images.join("app.oci-dir");
    if layout.join("index.json").exists() {
        let index: Value =
            serde_json::from_slice(&std::fs::read(layout.join("index.json")).expect("index"))
                .expect("index json");
        let want = index["manifests"][0]["digest"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let src = format!("oci:{}", layout.display());
        let dest = format!("docker://{}/e2e/app-oci:1", reg.host());
        let out = ok(
            &bulwark(&["push", &src, &dest, "--ca-file", ca], &good),
            "push OCI layout",
        );
        assert!(out.trim().ends_with(&want), "{out} vs {want}");
        let remote = purls(&json(
            &bulwark(&["sbom", &dest, "--ca-file", ca, "--format", "json"], &good),
            "sbom of the pushed OCI image",
        ));
        assert_eq!(remote, local);
    }

    // Wrong password: exit 2, the 401 error naming registry, repository and user.
    let o = bulwark(&["sbom", &dest, "--ca-file", ca, "--format", "json"], &bad);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("401 Unauthorized") && err.contains("\"ci-bot\""),
        "{err}"
    );
    assert!(
        err.contains(&reg.host()) && err.contains("e2e/app"),
        "{err}"
    );
    assert!(!err.contains("not-it"), "password leaked: {err}");

    // Missing repository: exit 2, the 404 error.
    let missing = format!("docker://{}/e2e/absent:1", reg.host());
    let o = bulwark(
        &["sbom", &missing, "--ca-file", ca, "--format", "json"],
        &good,
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("404 Not Found") && err.contains("e2e/absent"),
        "{err}"
    );

    // Without --ca-file the certificate is not trusted: exit 2, nothing reported.
    let o = bulwark(&["sbom", &dest, "--format", "json"], &good);
    assert_eq!(o.status.code(), Some(2));
    assert!(o.stdout.is_empty());
}

#[cfg(unix)]
#[test]
fn credentials_from_a_docker_credential_helper() {
    use std::os::unix::fs::PermissionsExt as _;
    let _images = bulwark_fixtures::images_or_skip!();
    let Some(reg) = bulwark_testkit::Registry::start(
        bulwark_testkit::RegistryOptions::tls_with_auth("helper-user", "helper-pw"),
    ) else {
        return;
    };
    let ca = reg.ca_file().expect("tls registry has a CA");
    let ca = ca.to_str().expect("utf-8 path");
    let tmp = tempfile::tempdir().expect("tempdir");
    let bin = tmp.path().join("bin");
    std::fs::create_dir_all(&bin).expect("bin dir");
    // The helper answers only for this registry, as `docker-credential-*` helpers do.
    let helper = bin.join("docker-credential-bwtest");
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\nread server\nif [ \"$1\" = get ] && [ \"$server\" = \"{}\" ]; then\n  echo '{{\"ServerURL\":\"'$server'\",\"Username\":\"helper-user\",\"Secret\":\"helper-pw\"}}'\nelse\n  echo 'credentials not found in native keychain'; exit 1\nfi\n",
            reg.host()
        ),
    )
    .expect("helper");
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let cfg_dir = tmp.path().join("docker");
    std::fs::create_dir_all(&cfg_dir).expect("config dir");
    std::fs::write(cfg_dir.join("config.json"), r#"{"credsStore":"bwtest"}"#).expect("config");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let archive = images().join("app.docker.tar");
    let dest = format!("docker://{}/helper/app:1", reg.host());
    let cache = tempfile::tempdir().expect("tempdir");
    let out = Command::new(env!("CARGO_BIN_EXE_bulwark"))
        .args([
            "push",
            archive.to_str().expect("utf-8"),
            &dest,
            "--ca-file",
            ca,
        ])
        .env("DOCKER_CONFIG", &cfg_dir)
        .env("PATH", &path)
        .env_remove("BULWARK_USERNAME")
        .env_remove("BULWARK_PASSWORD")
        .env_remove("BULWARK_REGISTRY_TOKEN")
        .env("BULWARK_CACHE_DIR", cache.path())
        .output()
        .expect("run bulwark");
    ok(&out, "push with helper credentials");
    // Without the helper on PATH the same push is a 401 naming the missing credentials.
    let out = Command::new(env!("CARGO_BIN_EXE_bulwark"))
        .args([
            "push",
            archive.to_str().expect("utf-8"),
            &dest,
            "--ca-file",
            ca,
        ])
        .env("DOCKER_CONFIG", &cfg_dir)
        .env("PATH", "/usr/bin:/bin")
        .env_remove("BULWARK_USERNAME")
        .env_remove("BULWARK_PASSWORD")
        .env_remove("BULWARK_REGISTRY_TOKEN")
        .env("BULWARK_CACHE_DIR", cache.path())
        .output()
        .expect("run bulwark");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("401 Unauthorized") && err.contains("no credentials"),
        "{err}"
    );
}

#[test]
fn push_to_a_digest_the_image_does_not_have_pushes_nothing() {
    let _images = bulwark_fixtures::images_or_skip!();
    let tmp = tempfile::tempdir().expect("tempdir");
    let archive = images().join("app.docker.tar");
    let dest = format!("127.0.0.1:1/x/y@sha256:{}", "0".repeat(64));
    let o = bulwark(
        &[
            "push",
            archive.to_str().expect("utf-8"),
            &dest,
            "--insecure",
        ],
        tmp.path(),
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("nothing pushed"), "{err}");
}
