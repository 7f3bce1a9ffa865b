//! Suppressed secrets and misconfigurations through the binary: an ignore-file rule
//! removes the finding from the default output and from `--exit-code`, `--show-suppressed`
//! brings it back marked with the rule's reason (JSON, table, schema-valid SARIF), and an
//! expired rule stops suppressing with a warning.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic: that is its failure

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

mod common;
use common::{run_in, stderr};

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}); stderr: {}", stderr(o)))
}

/// `(path, suppressed reason)` of each entry of `report[kind]`.
fn listed(report: &Value, kind: &str) -> Vec<(String, Option<String>)> {
    let mut v: Vec<_> = report[kind]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|f| {
                    (
                        f["path"].as_str().unwrap_or("").to_string(),
                        f["suppressed"].as_str().map(str::to_string),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Two AWS access key ids: one in application config, one in a test fixture.
fn secrets_dir() -> tempfile::TempDir {
    let d = tempfile::tempdir().expect("tempdir");
    let src = d.path().join("target/src/config");
    let tests = d.path().join("target/tests");
    std::fs::create_dir_all(&src).expect("mkdir");
    std::fs::create_dir_all(&tests).expect("mkdir");
    std::fs::write(
        src.join("prod.env"),
        "AWS_ACCESS_KEY_ID=AKIAZ4TQ7XKMN2BVCP5L\n",
    )
    .expect("write");
    std::fs::write(tests.join("fake.env"), "key = \"AKIAQ3VRWX7YHKD4MPLZ\"\n").expect("write");
    d
}

fn scan_secrets(d: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["scan", "target", "--scanners", "secret", "--exit-code", "1"];
    args.extend_from_slice(extra);
    run_in(d, &args)
}

#[test]
fn ignored_secret_is_hidden_by_default_and_shown_marked() {
    let d = secrets_dir();
    std::fs::write(
        d.path().join(".bulwarkignore"),
        "secrets:\n  - id: aws-access-key-id\n    path: \"tests/**\"\n    reason: fake key in a test fixture\n",
    )
    .expect("write");

    // The test fixture's key is suppressed; the real one still fails the run.
    let out = scan_secrets(d.path(), &["--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let r = json(&out);
    assert_eq!(
        listed(&r, "secrets"),
        [("src/config/prod.env".to_string(), None)]
    );
    assert!(
        stderr(&out).contains("1 finding(s) suppressed"),
        "{}",
        stderr(&out)
    );

    let out = scan_secrets(d.path(), &["--format", "json", "--show-suppressed"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        listed(&json(&out), "secrets"),
        [
            ("src/config/prod.env".to_string(), None),
            (
                "tests/fake.env".to_string(),
                Some("ignored: fake key in a test fixture (.bulwarkignore)".to_string())
            ),
        ]
    );
}

#[test]
fn all_secrets_ignored_exits_zero_even_when_shown() {
    let d = secrets_dir();
    let ignore = d.path().join("accepted.yaml");
    std::fs::write(
        &ignore,
        "secrets:\n  - id: aws-access-key-id\n    reason: keys of the sandbox account\n",
    )
    .expect("write");
    let ign = ignore.display().to_string();

    let out = scan_secrets(d.path(), &["--format", "json", "--ignorefile", &ign]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(listed(&json(&out), "secrets").is_empty());

    let out = scan_secrets(
        d.path(),
        &[
            "--format",
            "json",
            "--ignorefile",
            &ign,
            "--show-suppressed",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let got = listed(&json(&out), "secrets");
    assert_eq!(got.len(), 2);
    assert!(got
        .iter()
        .all(|(_, s)| s.as_deref().is_some_and(|s| s.contains("sandbox account"))));

    let out = scan_secrets(d.path(), &["--ignorefile", &ign, "--show-suppressed"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("Suppressed secrets (2)"), "{table}");
    assert!(table.contains("0 secrets, 2 suppressed"), "{table}");

    // SARIF keeps them as results with a suppression, and stays schema-valid.
    let sarif = d.path().join("out.sarif");
    let out = scan_secrets(
        d.path(),
        &[
            "--format",
            "sarif",
            "--ignorefile",
            &ign,
            "--show-suppressed",
            "--output",
            &sarif.display().to_string(),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&std::fs::read(&sarif).expect("read")).expect("json");
    let results = v["runs"][0]["results"].as_array().expect("results");
    assert_eq!(results.len(), 2);
    assert!(results
        .iter()
        .all(|r| r["suppressions"][0]["kind"] == "external"));
    validate_sarif(&sarif);
}

#[test]
fn expired_secret_rule_reports_the_finding_again() {
    let d = secrets_dir();
    std::fs::write(
        d.path().join(".bulwarkignore"),
        "secrets:\n  - id: aws-access-key-id\n    reason: old decision\n    expires: 2020-01-01\n",
    )
    .expect("write");
    let out = scan_secrets(d.path(), &["--format", "json", "--show-suppressed"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let r = json(&out);
    let got = listed(&r, "secrets");
    assert_eq!(got.len(), 2);
    assert!(got.iter().all(|(_, s)| s.is_none()), "{got:?}");
    let err = stderr(&out);
    assert!(err.contains("expired on 2020-01-01"), "{err}");
    assert!(r["warnings"].as_array().is_some_and(|w| w
        .iter()
        .any(|w| w["message"].as_str().is_some_and(|m| m.contains("expired")))));
}

/// `FROM ubuntu:latest` (DL3007) and `USER root` (DL3002), among others.
const DOCKERFILE: &str = "FROM ubuntu:latest\nRUN echo hi\nUSER root\n";

#[test]
fn ignored_misconfiguration_in_config_and_scan() {
    let d = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(d.path().join("target")).expect("mkdir");
    std::fs::write(d.path().join("target/Dockerfile"), DOCKERFILE).expect("write");

    // Every check id that fires, accepted by the ignore file.
    let all = json(&run_in(
        d.path(),
        &["config", "target/Dockerfile", "--format", "json"],
    ));
    let ids: Vec<String> = all["misconfigurations"]
        .as_array()
        .expect("misconfigurations")
        .iter()
        .filter_map(|m| m["check_id"].as_str().map(str::to_string))
        .collect();
    assert!(ids.len() >= 2, "{all}");
    let text: String = std::iter::once("misconfigurations:\n".to_string())
        .chain(
            ids.iter()
                .map(|i| format!("  - id: {i}\n    reason: base image pinned elsewhere\n")),
        )
        .collect();
    std::fs::write(d.path().join(".bulwarkignore"), text).expect("write");

    let config = |extra: &[&str]| {
        let mut a = vec!["config", "target/Dockerfile", "--exit-code", "1"];
        a.extend_from_slice(extra);
        run_in(d.path(), &a)
    };
    let out = config(&["--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(listed(&json(&out), "misconfigurations").is_empty());

    let out = config(&["--format", "json", "--show-suppressed"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let got = listed(&json(&out), "misconfigurations");
    assert_eq!(got.len(), ids.len());
    assert!(got.iter().all(|(_, s)| s
        .as_deref()
        .is_some_and(|s| s.contains("base image pinned elsewhere"))));

    let out = config(&["--show-suppressed"]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains(&format!("Suppressed misconfigurations ({})", ids.len())),
        "{table}"
    );

    // `scan --scanners misconfig` goes through the same filter.
    let scan = |extra: &[&str]| {
        let mut a = vec![
            "scan",
            "target",
            "--scanners",
            "misconfig",
            "--exit-code",
            "1",
            "--format",
            "json",
        ];
        a.extend_from_slice(extra);
        run_in(d.path(), &a)
    };
    let out = scan(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(listed(&json(&out), "misconfigurations").is_empty());
    let out = scan(&["--show-suppressed"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        listed(&json(&out), "misconfigurations").len(),
        ids.len(),
        "{}",
        stderr(&out)
    );

    // An expired rule suppresses nothing: the run fails again and says why.
    let expired: String =
        std::iter::once("misconfigurations:\n".to_string())
            .chain(ids.iter().map(|i| {
                format!("  - id: {i}\n    reason: old decision\n    expires: 2020-01-01\n")
            }))
            .collect();
    std::fs::write(d.path().join(".bulwarkignore"), expired).expect("write");
    let out = config(&["--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(listed(&json(&out), "misconfigurations").len(), ids.len());
    assert!(
        stderr(&out).contains("expired on 2020-01-01"),
        "{}",
        stderr(&out)
    );
}

fn validate_sarif(file: &Path) {
    let py = std::env::var("BULWARK_TEST_PYTHON")
        .unwrap_or_else(|_| "/opt/bench-venv/bin/python".to_string());
    assert!(
        Path::new(&py).exists(),
        "validator python {py} not found: set BULWARK_TEST_PYTHON"
    );
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../bulwark-report/tests/validate.py"
    );
    let out = Command::new(py)
        .arg(script)
        .arg("sarif")
        .arg(file)
        .output()
        .expect("run validator");
    assert!(
        out.status.success(),
        "SARIF validation failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// An inline `# hadolint ignore=` comment suppresses the finding on the next instruction:
/// hidden (and not failing the build) by default, listed marked `inline:` with
/// `--show-suppressed`, and an `inSource` suppression in SARIF.
#[test]
fn inline_dockerfile_suppression_is_kept_marked() {
    let d = tempfile::tempdir().expect("tempdir");
    let dockerfile = "FROM debian:12.5\nUSER app\n# hadolint ignore=DL3003\nRUN cd /tmp && make\n";
    std::fs::write(d.path().join("Dockerfile"), dockerfile).expect("write");
    let config = |extra: &[&str]| {
        let mut a = vec![
            "config",
            "Dockerfile",
            "--checks",
            "DL3003",
            "--exit-code",
            "1",
        ];
        a.extend_from_slice(extra);
        run_in(d.path(), &a)
    };
    let out = config(&["--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(listed(&json(&out), "misconfigurations").is_empty());
    let out = config(&["--format", "json", "--show-suppressed"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let got = listed(&json(&out), "misconfigurations");
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(
        got[0]
            .1
            .as_deref()
            .is_some_and(|s| s.starts_with("inline: DL3003")),
        "{got:?}"
    );
    // Without the comment the same file fails the build.
    std::fs::write(
        d.path().join("Dockerfile"),
        dockerfile.replace("# hadolint ignore=DL3003\n", ""),
    )
    .expect("write");
    let out = config(&["--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let sarif = d.path().join("out.sarif");
    std::fs::write(d.path().join("Dockerfile"), dockerfile).expect("write");
    let out = config(&[
        "--format",
        "sarif",
        "--show-suppressed",
        "-o",
        sarif.to_str().expect("utf-8"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc: Value = serde_json::from_slice(&std::fs::read(&sarif).expect("read")).expect("json");
    let kinds: Vec<&str> = doc["runs"][0]["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter_map(|r| r["suppressions"][0]["kind"].as_str())
        .collect();
    assert_eq!(kinds, ["inSource"], "{doc}");
}
