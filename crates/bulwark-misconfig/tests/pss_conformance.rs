//! Pod Security Standards conformance: every official pod-security-admission fixture of
//! every version must be judged exactly as the reference implementation judges it, and
//! a fail fixture must fail for the right reason: the control its file name names (see
//! `shared/fixtures/pss/README.md`) must be among the findings, and any other control
//! only where the upstream fixture necessarily violates it too ([`co_violations`]).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic: that is its failure

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

/// The check a fail fixture's file name (`hostnamespaces3.yaml` -> `hostnamespaces`)
/// names, at `level` and PSS minor version `minor`. At the restricted level some
/// restricted controls replace their baseline counterpart (from the version that
/// introduced them), so a baseline fixture then fails under the replacing control.
fn expected_check(control: &str, level: &str, minor: u32) -> Option<&'static str> {
    let restricted = level == "restricted";
    Some(match control {
        "allowprivilegeescalation" => "BW-PSS-allow-privilege-escalation",
        "apparmorprofile" => "BW-PSS-apparmor",
        "capabilities_baseline" if restricted && minor >= 22 => "BW-PSS-capabilities-restricted",
        "capabilities_baseline" => "BW-PSS-capabilities-baseline",
        "capabilities_restricted" => "BW-PSS-capabilities-restricted",
        "hostnamespaces" => "BW-PSS-host-namespaces",
        "hostpathvolumes" if restricted => "BW-PSS-volume-types",
        "hostpathvolumes" => "BW-PSS-host-path-volumes",
        "hostports" => "BW-PSS-host-ports",
        "hostprobesandhostlifecycle" => "BW-PSS-host-probes",
        "privileged" => "BW-PSS-privileged",
        "procmount" if restricted && minor >= 35 => "BW-PSS-proc-mount-restricted",
        "procmount" => "BW-PSS-proc-mount",
        "procmount_restricted" => "BW-PSS-proc-mount-restricted",
        "restrictedvolumes" => "BW-PSS-volume-types",
        "runasnonroot" => "BW-PSS-run-as-non-root",
        "runasuser" => "BW-PSS-run-as-user",
        "seccompprofile_baseline" if restricted && minor >= 19 => "BW-PSS-seccomp-restricted",
        "seccompprofile_baseline" => "BW-PSS-seccomp-baseline",
        "seccompprofile_restricted" => "BW-PSS-seccomp-restricted",
        "selinuxoptions" => "BW-PSS-selinux",
        "sysctls" => "BW-PSS-sysctls",
        "windowshostprocess" => "BW-PSS-host-process",
        _ => return None,
    })
}

/// Controls that some upstream fail fixtures of `control` violate as well, by
/// construction. Any other extra finding is a disagreement.
fn co_violations(control: &str) -> &'static [&'static str] {
    match control {
        // A Windows HostProcess pod must also set hostNetwork: true.
        "windowshostprocess" => &["BW-PSS-host-namespaces"],
        // The privileged containers do not set allowPrivilegeEscalation: false.
        "privileged" => &["BW-PSS-allow-privilege-escalation"],
        // The container without a securityContext drops no capabilities either.
        "allowprivilegeescalation" => &["BW-PSS-capabilities-restricted"],
        _ => &[],
    }
}

/// `hostnamespaces3.yaml` -> `hostnamespaces`.
fn control_of(file: &Path) -> String {
    let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    stem.trim_end_matches(|c: char| c.is_ascii_digit())
        .to_string()
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
        let minor = version.minor();
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
                        let ids: Vec<&str> = found.iter().map(|m| m.check_id.as_str()).collect();
                        if expect_fail {
                            let control = control_of(&f);
                            let Some(want) = expected_check(&control, level, minor) else {
                                bad.push(format!("{name}: no known control named {control:?}"));
                                continue;
                            };
                            let also = co_violations(&control);
                            let stray: Vec<&&str> = ids
                                .iter()
                                .filter(|id| **id != want && !also.contains(id))
                                .collect();
                            if !ids.contains(&want) || !stray.is_empty() {
                                bad.push(format!("{name}: expected {want}, got {ids:?}"));
                            }
                        } else if !found.is_empty() {
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
