//! Complete, or saying what it missed (issue 12, item 5): malformed records and bad SBOM
//! entries are warnings naming the file; packages without an advisory source are listed
//! as not checked; a huge dpkg status is read whole by streaming; every format says
//! "incomplete"; `--exit-code` fails on an incomplete scan unless `--allow-incomplete`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic: that is its failure

mod common;

use common::{run, stderr};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;

fn osv() -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/osv")
        .display()
        .to_string()
}

fn stanza(name: &str, version: &str) -> String {
    format!(
        "Package: {name}\nStatus: install ok installed\nArchitecture: amd64\nVersion: {version}\nDescription: a package\n more text\n\n"
    )
}

/// A root filesystem with `os-release` and a dpkg status.
fn rootfs(dir: &Path, os_release: &str, status: &str) -> PathBuf {
    let root = dir.join("rootfs");
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::create_dir_all(root.join("var/lib/dpkg")).unwrap();
    std::fs::write(root.join("etc/os-release"), os_release).unwrap();
    std::fs::write(root.join("var/lib/dpkg/status"), status).unwrap();
    root
}

fn json_ok(o: &Output) -> Value {
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(o));
    serde_json::from_slice(&o.stdout).expect("JSON report")
}

fn scan(target: &Path, extra: &[&str]) -> Output {
    let (t, o) = (target.display().to_string(), osv());
    let mut args = vec!["scan", t.as_str(), "--osv-dir", o.as_str()];
    args.extend_from_slice(extra);
    run(&args)
}

#[test]
fn unknown_distro_packages_are_not_checked_and_gate_fails() {
    let dir = tempfile::tempdir().unwrap();
    let root = rootfs(
        dir.path(),
        "ID=mysteryos\nVERSION_ID=\"7\"\nPRETTY_NAME=\"Mystery OS 7\"\n",
        &(stanza("openssl", "3.0.11-1") + &stanza("zlib1g", "1:1.2.13.dfsg-1")),
    );
    let r = json_ok(&scan(&root, &["-f", "json"]));
    assert_eq!(r["schema_version"], 2);
    let nc = r["not_checked"].as_array().expect("not_checked listed");
    let names: Vec<&str> = nc.iter().filter_map(|n| n["name"].as_str()).collect();
    assert_eq!(names, ["openssl", "zlib1g"]);
    for n in nc {
        let reason = n["reason"].as_str().unwrap();
        // An os-release with an unknown ID is not detected as an OS (as in Trivy).
        assert_eq!(
            reason,
            "operating system not detected, so deb packages have no advisory source"
        );
        assert!(n["purl"].as_str().unwrap().starts_with("pkg:deb/"), "{n}");
    }
    let inc = r["incomplete"].as_array().expect("incomplete");
    assert!(
        inc.iter().any(|i| i["kind"] == "not-checked"
            && i["message"]
                .as_str()
                .unwrap()
                .starts_with("2 package(s) not checked")),
        "{inc:?}"
    );
    assert!(r["vulnerabilities"].as_array().is_none_or(Vec::is_empty));

    // The gate: no finding, but incomplete → fails with the --exit-code value.
    let o = scan(&root, &["--exit-code", "3"]);
    assert_eq!(o.status.code(), Some(3), "stderr: {}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("the scan is incomplete"), "{err}");
    assert!(err.contains("--allow-incomplete"), "{err}");
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(
        table.starts_with("INCOMPLETE SCAN"),
        "first line says it: {table}"
    );
    assert!(
        table.contains("Not checked for vulnerabilities (2)"),
        "{table}"
    );
    // --allow-incomplete gates only on what was checked.
    let o = scan(&root, &["--exit-code", "3", "--allow-incomplete"]);
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    // Without --exit-code there is no gate: exit 0, but the report still says it.
    assert_eq!(scan(&root, &[]).status.code(), Some(0));
}

#[test]
fn detected_distros_without_advisories_are_named() {
    for (id, name) in [
        ("amzn", "Amazon Linux"),
        ("ol", "Oracle Linux"),
        ("fedora", "Fedora"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let root = rootfs(
            dir.path(),
            &format!("ID={id}\nVERSION_ID=\"9\"\n"),
            &stanza("bash", "5.2-1"),
        );
        let r = json_ok(&scan(&root, &["-f", "json"]));
        let reason = r["not_checked"][0]["reason"].as_str().unwrap_or_default();
        assert!(
            reason.contains(&format!("{name} (")) && reason.contains("no advisory source"),
            "{id}: {reason}"
        );
    }
}

#[test]
fn every_format_says_incomplete() {
    let dir = tempfile::tempdir().unwrap();
    let root = rootfs(
        dir.path(),
        "ID=mysteryos\nVERSION_ID=1\n",
        &stanza("bash", "5.2-1"),
    );
    let out = |f: &str| {
        let o = scan(&root, &["-f", f]);
        assert_eq!(o.status.code(), Some(0), "{f}: {}", stderr(&o));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let sarif: Value = serde_json::from_str(&out("sarif")).unwrap();
    let run0 = &sarif["runs"][0];
    assert_eq!(run0["invocations"][0]["executionSuccessful"], false);
    assert!(
        run0["invocations"][0]["toolExecutionNotifications"][0]["message"]["text"]
            .as_str()
            .unwrap()
            .contains("incomplete scan: 1 package(s) not checked")
    );
    assert_eq!(run0["properties"]["incomplete"], true);

    let cdx: Value = serde_json::from_str(&out("cyclonedx")).unwrap();
    let props = cdx["metadata"]["properties"]
        .as_array()
        .expect("properties");
    assert!(props
        .iter()
        .any(|p| p["name"] == "bulwark:incomplete" && p["value"] == "true"));
    assert!(props
        .iter()
        .any(|p| p["name"] == "bulwark:incomplete_reason"
            && p["value"].as_str().unwrap().contains("not checked")));

    let spdx = out("spdx");
    assert!(spdx.contains("bulwark:incomplete: true"), "{spdx}");
    assert!(spdx.contains("bulwark:incomplete_reason: 1 package(s) not checked"));

    let html = out("html");
    assert!(html.contains("id=\"incomplete\""), "banner");
    assert!(html.contains("Incomplete scan"));

    // A complete scan says nothing of the kind (control): Debian is mapped, and the DB
    // holds Debian advisories (one record, for another package).
    let ok = tempfile::tempdir().unwrap();
    let deb = rootfs(
        ok.path(),
        "ID=debian\nVERSION_ID=\"12\"\n",
        &stanza("bash", "5.2-1"),
    );
    let osv_deb = osv_with_debian(ok.path());
    let o = scan_with(&deb, &osv_deb, &["-f", "json"]);
    let r = json_ok(&o);
    assert!(r.get("incomplete").is_none(), "{r}");
    assert!(r.get("not_checked").is_none());
    let o = scan_with(&deb, &osv_deb, &["--exit-code", "3"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!String::from_utf8_lossy(&o.stdout).contains("INCOMPLETE"));
}

/// examples/osv (Alpine, PyPI, npm) plus one Debian record for a package no test has.
fn osv_with_debian(dir: &Path) -> String {
    let d = dir.join("osv-deb");
    std::fs::create_dir_all(&d).unwrap();
    for e in std::fs::read_dir(osv()).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, d.join(p.file_name().unwrap())).unwrap();
    }
    std::fs::write(
        d.join("DSA-0000-1.json"),
        r#"{"id":"DSA-0000-1","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"Debian:12","name":"no-such-package"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1.0-1"}]}]}]}"#,
    )
    .unwrap();
    d.display().to_string()
}

fn scan_with(target: &Path, osv_dir: &str, extra: &[&str]) -> Output {
    let t = target.display().to_string();
    let mut args = vec!["scan", t.as_str(), "--osv-dir", osv_dir];
    args.extend_from_slice(extra);
    run(&args)
}

/// A mapped ecosystem the DB holds no advisories for is not checked either: a DB
/// imported from Alpine, PyPI and npm records says nothing about Debian packages, so
/// their zero findings must not read as "clean".
#[test]
fn packages_of_an_ecosystem_missing_from_the_db_are_not_checked() {
    let dir = tempfile::tempdir().unwrap();
    let deb = rootfs(
        dir.path(),
        "ID=debian\nVERSION_ID=\"12\"\n",
        &stanza("bash", "5.2-1"),
    );
    let r = json_ok(&scan(&deb, &["-f", "json"]));
    let nc = r["not_checked"].as_array().expect("not_checked");
    assert_eq!(nc.len(), 1, "{r}");
    assert_eq!(nc[0]["name"], "bash");
    assert!(
        nc[0]["reason"]
            .as_str()
            .unwrap()
            .contains("holds no Debian advisories"),
        "{r}"
    );
    assert!(r["incomplete"].as_array().is_some_and(|a| !a.is_empty()));
    // The gate fails an incomplete scan unless told otherwise.
    let o = scan(&deb, &["--exit-code", "3"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let o = scan(&deb, &["--exit-code", "3", "--allow-incomplete"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn malformed_dpkg_and_apk_records_are_warnings_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let status = stanza("good", "1.0-1")
        + "Package: broken\nStatus: install ok installed\nVersion: not a version!\n\n"
        + "garbage line without a colon\nPackage: alsobroken\n\n"
        + &stanza("good2", "2.0-1");
    let root = rootfs(dir.path(), "ID=debian\nVERSION_ID=\"12\"\n", &status);
    std::fs::create_dir_all(root.join("lib/apk/db")).unwrap();
    std::fs::write(
        root.join("lib/apk/db/installed"),
        "P:musl\nV:1.2.4-r2\nA:x86_64\n\nP:nover\nA:x86_64\n\nthis is not apk\nP:x\nV:1\n\n",
    )
    .unwrap();
    let o = run(&["sbom", "-f", "json", root.to_str().unwrap()]);
    let r = json_ok(&o);
    let names: Vec<&str> = r["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(names, ["good", "good2", "musl"], "good records kept");
    let warnings = r["warnings"].as_array().unwrap();
    let find = |path: &str, needle: &str| {
        warnings.iter().any(|w| {
            w["path"] == path && w["message"].as_str().unwrap_or_default().contains(needle)
        })
    };
    assert!(
        find(
            "var/lib/dpkg/status",
            "dpkg stanza at line 8 (broken) skipped: invalid version"
        ),
        "{warnings:?}"
    );
    assert!(
        find(
            "var/lib/dpkg/status",
            "is neither a field nor a continuation"
        ),
        "{warnings:?}"
    );
    assert!(
        find("lib/apk/db/installed", "no P: (name) or V: (version)"),
        "{warnings:?}"
    );
    assert!(
        find("lib/apk/db/installed", "is not `<letter>:<value>`"),
        "{warnings:?}"
    );
    let inc = r["incomplete"].as_array().expect("incomplete");
    assert!(inc
        .iter()
        .any(|i| i["kind"] == "skipped-records" && i["path"] == "var/lib/dpkg/status"));
    // Printed to stderr too, escaped and with the path.
    assert!(stderr(&o).contains("var/lib/dpkg/status: dpkg: dpkg stanza at line 8"));
}

#[test]
fn sbom_with_a_bad_purl_is_a_warning_and_incomplete() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.cdx.json");
    std::fs::write(
        &p,
        r#"{"bomFormat":"CycloneDX","specVersion":"1.6","version":1,"components":[
            {"type":"library","name":"lodash","version":"4.17.20","purl":"pkg:npm/lodash@4.17.20"},
            {"type":"library","name":"evil","version":"1","purl":"not a purl"}]}"#,
    )
    .unwrap();
    let target = format!("sbom:{}", p.display());
    let o = run(&["sbom", "-f", "json", &target]);
    let r = json_ok(&o);
    assert_eq!(r["packages"].as_array().unwrap().len(), 1);
    let w = r["warnings"].as_array().expect("warnings");
    assert!(
        w.iter().any(|w| w["path"]
            .as_str()
            .unwrap_or_default()
            .ends_with("bad.cdx.json")
            && w["message"]
                .as_str()
                .unwrap_or_default()
                .contains("invalid purl")),
        "{w:?}"
    );
    assert_eq!(r["incomplete"][0]["kind"], "skipped-records");
    // And the scan gate fails on it.
    let o = run(&["scan", &target, "--osv-dir", &osv(), "--exit-code", "4"]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
}

/// A 130 MB dpkg status (today's limit was 64 MiB: 0 packages and a passing gate) yields
/// every package.
#[test]
fn dpkg_status_of_130_mb_is_read_in_full() {
    let dir = tempfile::tempdir().unwrap();
    let long = "x".repeat(1000);
    let mut status = String::with_capacity(140 << 20);
    let mut n = 0usize;
    while status.len() < 130 << 20 {
        status.push_str(&format!(
            "Package: pkg{n}\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.{n}-1\nDescription: p\n {long}\n\n"
        ));
        n += 1;
    }
    let root = rootfs(dir.path(), "ID=debian\nVERSION_ID=\"12\"\n", &status);
    drop(status);
    let o = run(&["sbom", "-f", "json", root.to_str().unwrap()]);
    let r = json_ok(&o);
    assert_eq!(r["packages"].as_array().unwrap().len(), n, "every package");
    assert!(r.get("incomplete").is_none(), "{:?}", r["incomplete"]);
    assert!(n > 100_000, "{n}");
}
