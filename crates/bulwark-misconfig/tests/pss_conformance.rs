//! Pod Security Standards conformance: every official pod-security-admission fixture of
//! every version must be judged exactly as the reference implementation judges it.

use std::path::{Path, PathBuf};

use bulwark_misconfig::{scan_k8s, CheckSelection, K8sOptions, PssVersion};

fn fixtures() -> PathBuf {
    bulwark_fixtures::fixtures_location().join("pss")
}

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    v.retain(|p| p.extension().is_some_and(|e| e == "yaml"));
    v.sort();
    v
}

/// Returns (files checked, disagreements).
fn conformance(level: &str) -> (usize, Vec<String>) {
    let root = fixtures().join(level);
    let mut versions: Vec<PathBuf> = std::fs::read_dir(&root)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    versions.sort();
    assert!(
        versions.len() >= 38,
        "expected v1.0..v1.37 under {}",
        root.display()
    );
    let mut checked = 0;
    let mut bad = Vec::new();
    for vdir in versions {
        let vname = vdir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_string();
        let version: PssVersion = match vname.parse() {
            Ok(v) => v,
            Err(e) => panic!("{e}"),
        };
        let opts = K8sOptions {
            sets: CheckSelection::of([format!("pss-{level}")]),
            pss_version: version,
        };
        for (expect_fail, sub) in [(true, "fail"), (false, "pass")] {
            let files = yaml_files(&vdir.join(sub));
            assert!(
                !files.is_empty() || sub == "fail",
                "no fixtures in {}",
                vdir.display()
            );
            for f in files {
                checked += 1;
                let bytes = std::fs::read(&f).unwrap_or_default();
                let name = f.display().to_string();
                match scan_k8s(&name, &bytes, &opts) {
                    Err(e) => bad.push(format!("{name}: error {e}")),
                    Ok(found) => {
                        if expect_fail && found.is_empty() {
                            bad.push(format!("{name}: expected a finding, got none"));
                        } else if !expect_fail && !found.is_empty() {
                            let ids: Vec<String> = found
                                .iter()
                                .map(|m| format!("{} ({})", m.check_id, m.message))
                                .collect();
                            bad.push(format!("{name}: expected none, got {ids:?}"));
                        }
                    }
                }
            }
        }
    }
    (checked, bad)
}

#[test]
fn pss_baseline_every_version() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    let (n, bad) = conformance("baseline");
    eprintln!("baseline: {n} fixtures, {} disagreements", bad.len());
    assert!(n > 1000, "only {n} fixtures");
    assert!(bad.is_empty(), "disagreements:\n{}", bad.join("\n"));
}

#[test]
fn pss_restricted_every_version() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    let (n, bad) = conformance("restricted");
    eprintln!("restricted: {n} fixtures, {} disagreements", bad.len());
    assert!(n > 2000, "only {n} fixtures");
    assert!(bad.is_empty(), "disagreements:\n{}", bad.join("\n"));
}
