//! `bulwark config` through the binary: Pod Security Standards conformance on the
//! upstream fixtures, directories with good, bad and malformed files, formats, ignore
//! files and exit codes.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic: that is its failure

use serde_json::Value;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Command, Output};

fn fixtures() -> PathBuf {
    bulwark_fixtures::fixtures_location()
}

fn bulwark(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bulwark"))
        .args(args)
        .output()
        .expect("run bulwark")
}

fn stdout_json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}); stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

// ---------------------------------------------------------------------------------------
// Pod Security Standards conformance.
//
// Criterion: `bulwark config FILE --checks pss-LEVEL --pss-version VERSION --exit-code 1`
// exits 1 on every fail fixture and 0 on every pass fixture. What runs per file: the
// real CLI, one process per file, for EVERY fixture (~4,500). One process per file is
// what the criterion asks for (several files in one invocation would let one failing
// file hide a passing one). To keep it fast, the files are spread over worker threads
// (each spawning its own processes); a release-like dev profile for dependencies keeps
// each run in the low milliseconds.

fn pss_cases() -> Vec<(String, String, PathBuf, bool)> {
    let mut cases = Vec::new();
    for level in ["baseline", "restricted"] {
        let dir = fixtures().join("pss").join(level);
        let Ok(versions) = std::fs::read_dir(&dir) else {
            continue;
        };
        for v in versions.flatten() {
            let version = v.file_name().to_string_lossy().into_owned();
            for (sub, fail) in [("pass", false), ("fail", true)] {
                let Ok(files) = std::fs::read_dir(v.path().join(sub)) else {
                    continue;
                };
                for f in files.flatten() {
                    if f.path().extension().is_some_and(|e| e == "yaml") {
                        cases.push((level.to_string(), version.clone(), f.path(), fail));
                    }
                }
            }
        }
    }
    cases.sort();
    cases
}

#[test]
fn pss_conformance_every_fixture_through_the_cli() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    let cases = pss_cases();
    assert!(cases.len() > 4000, "PSS fixtures missing: {}", cases.len());
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .max(2);
    let chunk = cases.len().div_ceil(threads);
    let mismatches: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = cases
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    let mut bad = Vec::new();
                    for (level, version, file, fail) in part {
                        let out = bulwark(&[
                            "config",
                            &file.display().to_string(),
                            "--checks",
                            &format!("pss-{level}"),
                            "--pss-version",
                            version,
                            "--exit-code",
                            "1",
                            "--format",
                            "json",
                        ]);
                        let want = if *fail { 1 } else { 0 };
                        if out.status.code() != Some(want) {
                            bad.push(format!(
                                "{}: exit {:?}, want {want}; stderr {}",
                                file.display(),
                                out.status.code(),
                                String::from_utf8_lossy(&out.stderr).trim()
                            ));
                        }
                    }
                    bad
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });
    assert!(
        mismatches.is_empty(),
        "{} of {} PSS fixtures disagree:\n{}",
        mismatches.len(),
        cases.len(),
        mismatches
            .iter()
            .take(40)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

// ---------------------------------------------------------------------------------------
// `bulwark config` on a directory.

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

#[test]
fn config_directory_json_finds_every_kind_and_warns_on_malformed() {
    let d = config_dir();
    let dir = d.path().display().to_string();
    let out = bulwark(&["config", &dir, "--format", "json", "--exit-code", "3"]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = stdout_json(&out);
    let m = r["misconfigurations"]
        .as_array()
        .expect("misconfigurations");
    let files: BTreeSet<String> = m
        .iter()
        .filter_map(|f| f["path"].as_str())
        .map(|p| {
            p.trim_start_matches(&dir)
                .trim_start_matches('/')
                .to_string()
        })
        .collect();
    assert!(files.contains("app/Dockerfile"), "{files:?}");
    assert!(files.contains("k8s/bad.yaml"), "{files:?}");
    assert!(files.contains("docker-compose.yml"), "{files:?}");
    assert!(!files.contains("notes.yaml"), "{files:?}");
    // The privileged container inside the List is found with the resource named.
    assert!(m.iter().any(|f| f["path"]
        .as_str()
        .is_some_and(|p| p.ends_with("k8s/bad.yaml"))
        && f["resource"].as_str().is_some_and(|r| r.contains("bad"))));
    let warned: Vec<String> = r["warnings"]
        .as_array()
        .expect("warnings")
        .iter()
        .filter_map(|w| w["path"].as_str().map(str::to_string))
        .collect();
    assert!(
        warned.iter().any(|p| p.ends_with("k8s/broken.yaml")),
        "{warned:?}"
    );
}

#[test]
fn config_good_file_exits_zero_and_severity_filter_applies() {
    let d = config_dir();
    let good = d.path().join("k8s/good.yaml").display().to_string();
    let out = bulwark(&[
        "config",
        &good,
        "--checks",
        "pss-restricted",
        "--exit-code",
        "1",
        "--format",
        "json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // The bad pod has CRITICAL/HIGH findings; keeping only LOW leaves the exit code at
    // 0 only if no LOW finding exists, so compare against the unfiltered report instead.
    let bad = d.path().join("k8s/bad.yaml").display().to_string();
    let all = stdout_json(&bulwark(&["config", &bad, "--format", "json"]));
    let high = stdout_json(&bulwark(&[
        "config",
        &bad,
        "--format",
        "json",
        "--severity",
        "HIGH,CRITICAL",
    ]));
    let sev = |r: &Value| -> Vec<String> {
        r["misconfigurations"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|m| m["severity"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let all_sev = sev(&all);
    let high_sev = sev(&high);
    assert!(!high_sev.is_empty());
    assert!(high_sev.iter().all(|s| s == "HIGH" || s == "CRITICAL"));
    assert_eq!(
        high_sev.len(),
        all_sev
            .iter()
            .filter(|s| *s == "HIGH" || *s == "CRITICAL")
            .count()
    );
}

#[test]
fn config_formats_and_usage_errors() {
    let d = config_dir();
    let bad = d.path().join("app/Dockerfile").display().to_string();
    let sarif = bulwark(&["config", &bad, "--format", "sarif"]);
    assert!(sarif.status.success());
    let s = stdout_json(&sarif);
    assert_eq!(s["version"], "2.1.0");
    assert!(!s["runs"][0]["results"]
        .as_array()
        .expect("results")
        .is_empty());
    let html = bulwark(&["config", &bad, "--format", "html"]);
    assert!(String::from_utf8_lossy(&html.stdout).contains("<html"));
    let table = bulwark(&["config", &bad, "--format", "table"]);
    assert!(table.status.success());
    assert!(!table.stdout.is_empty());
    // Output file.
    let out_file = d.path().join("out.json");
    let o = bulwark(&[
        "config",
        &bad,
        "--format",
        "json",
        "-o",
        &out_file.display().to_string(),
    ]);
    assert!(o.status.success());
    let written: Value =
        serde_json::from_slice(&std::fs::read(&out_file).expect("output file")).expect("json");
    assert!(!written["misconfigurations"]
        .as_array()
        .expect("m")
        .is_empty());
    // Usage and input errors: exit 2 with a message.
    let missing = bulwark(&["config", "/nonexistent/dir/for/bulwark"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/dir/for/bulwark"));
    let unknown = bulwark(&["config", &bad, "--checks", "no-such-set"]);
    assert_eq!(unknown.status.code(), Some(2));
    let badver = bulwark(&["config", &bad, "--pss-version", "2.x"]);
    assert_eq!(badver.status.code(), Some(2));
}

#[test]
fn config_ignorefile_suppresses() {
    let d = config_dir();
    let bad = d.path().join("app/Dockerfile").display().to_string();
    let all = stdout_json(&bulwark(&["config", &bad, "--format", "json"]));
    let ids: BTreeSet<String> = all["misconfigurations"]
        .as_array()
        .expect("m")
        .iter()
        .filter_map(|m| m["check_id"].as_str().map(str::to_string))
        .collect();
    assert!(!ids.is_empty());
    let ignore = d.path().join("ignore");
    let text: String = std::iter::once("misconfigurations:\n".to_string())
        .chain(
            ids.iter()
                .map(|i| format!("  - id: {i}\n    reason: accepted in test\n")),
        )
        .collect();
    std::fs::write(&ignore, text).expect("write");
    let out = bulwark(&[
        "config",
        &bad,
        "--format",
        "json",
        "--exit-code",
        "1",
        "--ignorefile",
        &ignore.display().to_string(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout_json(&out)["misconfigurations"]
        .as_array()
        .is_none_or(|a| a.is_empty()));
}

// ---------------------------------------------------------------------------------------
// The public k8s-corpus (real manifests and Compose files from 47 projects, unchanged
// upstream): the whole folder through the CLI, plus Helm templates beside it.

/// A Helm chart template: not YAML until rendered.
const HELM_TEMPLATE: &str = "{{- if .Values.enabled }}\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ include \"app.fullname\" . }}\nspec:\n  template:\n    spec:\n      containers:\n      - name: app\n        image: \"{{ .Values.image.repository }}:{{ .Values.image.tag }}\"\n{{- end }}\n";

#[test]
fn config_public_k8s_corpus_reads_everything_without_panicking() {
    let corpus = fixtures().join("k8s-corpus");
    if !corpus.is_dir() {
        bulwark_fixtures::absent("k8s-corpus", &bulwark_fixtures::fixtures_message());
        return;
    }
    // The corpus next to a chart's templates/ folder (a copy; the fixtures stay as they are).
    let d = tempfile::tempdir().expect("tempdir");
    let tpl = d.path().join("chart/templates/deployment.yaml");
    std::fs::create_dir_all(tpl.parent().expect("parent")).expect("mkdir");
    std::fs::write(&tpl, HELM_TEMPLATE).expect("write");
    let corpus_s = corpus.display().to_string();
    let chart_s = d.path().join("chart").display().to_string();
    let out = bulwark(&["config", &corpus_s, &chart_s, "--format", "json"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(101), "bulwark panicked: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let r = stdout_json(&out);
    let m = r["misconfigurations"]
        .as_array()
        .expect("misconfigurations");
    assert!(m.len() > 1000, "only {} findings on the corpus", m.len());
    let paths: BTreeSet<&str> = m.iter().filter_map(|f| f["path"].as_str()).collect();
    // Kubernetes and Compose files both produce findings, RBAC objects included.
    assert!(paths.iter().any(|p| p.contains("/k8s/")), "{paths:?}");
    assert!(paths.iter().any(|p| p.contains("/compose/")), "{paths:?}");
    assert!(
        m.iter().any(|f| f["resource"]
            .as_str()
            .is_some_and(|r| r.starts_with("ClusterRole/"))),
        "no ClusterRole finding"
    );
    // The template is not valid YAML: a warning naming it, never a silent "clean".
    let warned: Vec<&str> = r["warnings"]
        .as_array()
        .expect("warnings")
        .iter()
        .filter_map(|w| w["path"].as_str())
        .collect();
    assert!(
        warned
            .iter()
            .any(|p| p.ends_with("templates/deployment.yaml")),
        "{warned:?}"
    );
    assert!(
        !paths
            .iter()
            .any(|p| p.ends_with("templates/deployment.yaml")),
        "the template was checked as if it were YAML"
    );
}
