//! Go module paths are case-sensitive: bulwark's own CycloneDX output of a Go module
//! keeps `github.com/0xJacky/Nginx-UI` as written, and scanning that SBOM finds what a
//! directory scan of the same files finds — also when another tool lower-cased the
//! namespace in the purl (issue 11).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic: that is its failure

use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;

mod common;
use common::{run_in, stderr};

const MODULE: &str = "github.com/0xJacky/Nginx-UI";

fn setup(dir: &Path) {
    std::fs::create_dir_all(dir.join("src")).expect("mkdir");
    std::fs::write(
        dir.join("src/go.mod"),
        format!("module example.com/app\n\ngo 1.21\n\nrequire {MODULE} v1.9.9\n"),
    )
    .expect("go.mod");
    std::fs::create_dir_all(dir.join("osv")).expect("mkdir");
    std::fs::write(
        dir.join("osv/GHSA-test-nginx-ui.json"),
        format!(
            r#"{{"id":"GHSA-test-nginx-ui","modified":"2024-01-01T00:00:00Z","aliases":["CVE-2024-99999"],
"affected":[{{"package":{{"ecosystem":"Go","name":"{MODULE}"}},
"ranges":[{{"type":"SEMVER","events":[{{"introduced":"0"}},{{"fixed":"2.0.0"}}]}}]}}]}}"#
        ),
    )
    .expect("osv record");
}

fn scan(dir: &Path, target: &str) -> BTreeSet<(String, String, String)> {
    let out = run_in(
        dir,
        &["scan", target, "--osv-dir", "osv", "--format", "json"],
    );
    assert!(
        out.status.success() || out.status.code() == Some(1),
        "bulwark scan {target}: {}",
        stderr(&out)
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("json");
    report["vulnerabilities"]
        .as_array()
        .expect("vulnerabilities")
        .iter()
        .map(|v| {
            (
                v["id"].as_str().unwrap_or_default().to_string(),
                v["package"].as_str().unwrap_or_default().to_string(),
                v["installed_version"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect()
}

#[test]
fn own_cyclonedx_of_a_mixed_case_go_module_scans_like_the_directory() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    setup(dir);

    let from_dir = scan(dir, "src");
    let want: BTreeSet<_> = [(
        "CVE-2024-99999".to_string(),
        MODULE.to_string(),
        "v1.9.9".to_string(),
    )]
    .into();
    assert_eq!(from_dir, want);

    // bulwark's CycloneDX keeps the module path's case in the purl.
    let out = run_in(
        dir,
        &["sbom", "src", "--format", "cyclonedx", "-o", "own.cdx.json"],
    );
    assert!(out.status.success(), "bulwark sbom: {}", stderr(&out));
    let text = std::fs::read_to_string(dir.join("own.cdx.json")).expect("sbom");
    assert!(
        text.contains("pkg:golang/github.com/0xJacky/Nginx-UI@v1.9.9"),
        "purl case lost: {text}"
    );
    assert_eq!(scan(dir, "sbom:own.cdx.json"), from_dir);

    // A third-party SBOM that lower-cased the namespace (the old purl rule) still matches.
    let lowered = text.replace(
        "pkg:golang/github.com/0xJacky/Nginx-UI",
        "pkg:golang/github.com/0xjacky/Nginx-UI",
    );
    assert_ne!(lowered, text);
    std::fs::write(dir.join("lowered.cdx.json"), lowered).expect("write");
    let from_lowered = scan(dir, "sbom:lowered.cdx.json");
    assert_eq!(from_lowered.len(), 1, "{from_lowered:?}");
    assert!(from_lowered
        .iter()
        .all(|(id, pkg, v)| id == "CVE-2024-99999"
            && pkg.eq_ignore_ascii_case(MODULE)
            && v == "v1.9.9"));
}
