//! `bulwark host` as a user runs it: exit codes (0 pass, the --exit-code of a failing
//! gate, 2 when the job cannot be done), the report formats, and the errors naming what
//! is missing. The checks themselves are tested in `crates/bulwark-host/tests`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

fn bulwark(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bulwark"))
        .args(args)
        .current_dir(cwd)
        .env_remove("DOCKER_HOST")
        .env_remove("BULWARK_DB")
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn node(root: &Path, anonymous: bool) {
    let cfg = root.join("var/lib/kubelet/config.yaml");
    std::fs::create_dir_all(cfg.parent().unwrap()).unwrap();
    std::fs::write(
        &cfg,
        format!(
            "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nauthentication:\n  anonymous:\n    enabled: {anonymous}\n"
        ),
    )
    .unwrap();
}

#[test]
fn unreachable_socket_exits_2_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    // A socket file nobody listens on.
    let sock = dir.path().join("dead.sock");
    drop(std::os::unix::net::UnixListener::bind(&sock).unwrap());
    let out = bulwark(
        &[
            "host",
            "--socket",
            sock.to_str().unwrap(),
            "--scanners",
            "misconfig",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(sock.to_str().unwrap()), "{err}");
    let gone = dir.path().join("gone.sock");
    let out = bulwark(
        &[
            "host",
            "--socket",
            gone.to_str().unwrap(),
            "--scanners",
            "misconfig",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("gone.sock"));
}

#[test]
fn node_findings_gate_and_formats() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("node");
    node(&root, true);
    let r = root.to_str().unwrap();
    // Default: report only (exit 0), table on stdout.
    let out = bulwark(
        &["host", "--node-root", r, "--scanners", "misconfig"],
        dir.path(),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("BW-NODE-0011"));
    // The gate: exit 1 with SARIF written to a file, rules named with their aliases.
    let sarif = dir.path().join("host.sarif");
    let out = bulwark(
        &[
            "host",
            "--node-root",
            r,
            "--scanners",
            "misconfig",
            "--exit-code",
            "1",
            "--format",
            "sarif",
            "-o",
            sarif.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&sarif).unwrap()).unwrap();
    let results = doc["runs"][0]["results"].as_array().unwrap();
    assert!(
        results.iter().any(|r| r["ruleId"] == "BW-NODE-0011"),
        "{doc}"
    );
    // JSON: the finding with its aliases; --severity filters.
    let out = bulwark(
        &[
            "host",
            "--node-root",
            r,
            "--scanners",
            "misconfig",
            "--format",
            "json",
            "--severity",
            "CRITICAL",
        ],
        dir.path(),
    );
    let rep: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let m = rep["misconfigurations"].as_array().unwrap();
    assert!(m.iter().all(|f| f["severity"] == "CRITICAL"), "{rep}");
    let anon = m.iter().find(|f| f["check_id"] == "BW-NODE-0011").unwrap();
    assert!(anon["aliases"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a == "KCV-0079"));
    // A node that satisfies the selected check passes the gate.
    node(&root, false);
    let out = bulwark(
        &[
            "host",
            "--node-root",
            r,
            "--scanners",
            "misconfig",
            "--checks",
            "CIS-K8S-4.2.1",
            "--exit-code",
            "1",
        ],
        dir.path(),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // An ignore-file entry by Trivy id suppresses the finding.
    node(&root, true);
    std::fs::write(
        dir.path().join(".bulwarkignore"),
        "misconfigurations:\n  - id: KCV-0079\n    reason: test node\n",
    )
    .unwrap();
    let out = bulwark(
        &[
            "host",
            "--node-root",
            r,
            "--scanners",
            "misconfig",
            "--checks",
            "BW-NODE-0011",
            "--exit-code",
            "1",
        ],
        dir.path(),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("node");
    node(&root, true);
    let r = root.to_str().unwrap();
    // Versions are matched by default: a missing DB fails closed.
    let nodb = dir.path().join("no-db");
    let out = bulwark(
        &["host", "--node-root", r, "--db", nodb.to_str().unwrap()],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no-db"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A typo in --checks runs nothing silently.
    let out = bulwark(
        &[
            "host",
            "--node-root",
            r,
            "--scanners",
            "misconfig",
            "--checks",
            "CIS-DOCKER-9.99",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    // An empty node root is not a clean node.
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let out = bulwark(
        &[
            "host",
            "--node-root",
            empty.to_str().unwrap(),
            "--scanners",
            "misconfig",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing to check"));
}
