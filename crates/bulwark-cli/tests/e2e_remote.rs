//! End-to-end: the test app image read from a real registry on loopback (pushed there by
//! podman, gzip and zstd layers) and from podman's Docker-compatible socket gives the same
//! packages as the docker-archive it was saved to.
//!
//! Needs the images of `scripts/build-test-images.sh` in podman's store and in
//! `BULWARK_TEST_IMAGES`, plus Debian's `docker-registry` and `podman`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic: that is its failure

mod common;
use common::purls;
use serde_json::Value;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const IMAGE: &str = "localhost/bulwark-test/app:1";

fn images() -> PathBuf {
    bulwark_fixtures::images_location()
}

fn require(bin: &str) {
    assert!(
        Path::new(bin).exists(),
        "{bin} missing: run scripts/setup-test-env.sh"
    );
}

/// A child process killed on drop.
struct Guard(Child);
impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{what} did not come up"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn sbom(target: &str, extra: &[&str], env: &[(&str, &str)]) -> Value {
    let cache = tempfile::tempdir().expect("tempdir");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bulwark"));
    cmd.args(["sbom", target, "--format", "json", "--cache-dir"])
        .arg(cache.path())
        .args(extra);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run bulwark");
    assert!(
        out.status.success(),
        "bulwark sbom {target}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json report")
}

#[test]
fn registry_gzip_and_zstd_match_docker_archive() {
    let _images = bulwark_fixtures::images_or_skip!();
    require("/usr/bin/docker-registry");
    require("/usr/bin/podman");
    let reference = purls(&sbom(
        &images().join("app.docker.tar").display().to_string(),
        &[],
        &[],
    ));
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let cfg = dir.path().join("config.yml");
    std::fs::write(
        &cfg,
        format!(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.path().join("storage").display()
        ),
    )
    .expect("config");
    let _registry = Guard(
        Command::new("/usr/bin/docker-registry")
            .arg("serve")
            .arg(&cfg)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start docker-registry"),
    );
    wait_for("docker-registry", || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    for (tag, compression) in [("gzip", "gzip"), ("zstd", "zstd")] {
        let dest = format!("docker://127.0.0.1:{port}/bulwark/app:{tag}");
        let st = Command::new("podman")
            .args([
                "push",
                "-q",
                "--tls-verify=false",
                "--compression-format",
                compression,
                IMAGE,
                &dest,
            ])
            .status()
            .expect("podman push");
        assert!(st.success(), "podman push {dest}");
        let target = format!("127.0.0.1:{port}/bulwark/app:{tag}");
        let report = sbom(&format!("docker://{target}"), &["--insecure"], &[]);
        assert_eq!(purls(&report), reference, "registry ({compression})");
        // A bare reference is a registry reference too.
        let bare = sbom(&target, &["--insecure"], &[]);
        assert_eq!(purls(&bare), reference, "bare reference ({compression})");
    }
}

#[test]
fn daemon_socket_matches_docker_archive() {
    let _images = bulwark_fixtures::images_or_skip!();
    require("/usr/bin/podman");
    let reference = purls(&sbom(
        &images().join("app.docker.tar").display().to_string(),
        &[],
        &[],
    ));
    let dir = tempfile::tempdir().expect("tempdir");
    let sock = dir.path().join("podman.sock");
    let _service = Guard(
        Command::new("podman")
            .args(["system", "service", "--time", "0"])
            .arg(format!("unix://{}", sock.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start podman system service"),
    );
    wait_for("podman socket", || sock.exists());
    let host = format!("unix://{}", sock.display());
    let report = sbom(
        &format!("docker-daemon:{IMAGE}"),
        &[],
        &[("DOCKER_HOST", host.as_str())],
    );
    assert_eq!(purls(&report), reference);
    assert_eq!(report["target"]["kind"], "image");

    // An image the daemon does not have: exit code 2 and a message naming it.
    let cache = tempfile::tempdir().expect("tempdir");
    let out = Command::new(env!("CARGO_BIN_EXE_bulwark"))
        .args(["sbom", "docker-daemon:localhost/nope:0", "--cache-dir"])
        .arg(cache.path())
        .env("DOCKER_HOST", &host)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("localhost/nope:0"), "{err}");
}
