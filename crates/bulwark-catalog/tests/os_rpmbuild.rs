//! Builds a real rpm with `rpmbuild`, installs it into a fresh SQLite rpmdb with
//! `rpm --justdb`, and checks that the native SQLite reader gets name, epoch and source
//! rpm back. Needs the `rpm` tools (Debian package `rpm`); fails with a clear message
//! when they are missing.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic: that is its failure

use bulwark_catalog::os::rpm::{parse_rpmdb, RpmDbFormat};
use std::path::Path;
use std::process::Command;

const SPEC: &str = "\
Name: bulwarktest
Version: 1.2.3
Release: 4
Epoch: 2
Summary: bulwark rpmdb test package
License: MIT
Vendor: Bulwark Tests
BuildArch: noarch

%description
Test package for bulwark's rpm database reader.

%files
";

fn run(cmd: &mut Command) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?} (is the `rpm` package installed?): {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn find_rpm(dir: &Path) -> Option<std::path::PathBuf> {
    for e in std::fs::read_dir(dir).ok()?.flatten() {
        let p = e.path();
        if p.is_dir() {
            if let Some(f) = find_rpm(&p) {
                return Some(f);
            }
        } else if p.extension().is_some_and(|x| x == "rpm") {
            return Some(p);
        }
    }
    None
}

#[test]
fn rpmbuild_sqlite_roundtrip() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let t = tmp.path();
    let spec = t.join("bulwarktest.spec");
    std::fs::write(&spec, SPEC).unwrap_or_else(|e| panic!("{e}"));
    run(Command::new("rpmbuild")
        .arg("-bb")
        .arg("--define")
        .arg(format!("_topdir {}", t.join("build").display()))
        .arg(&spec));
    let rpm_file =
        find_rpm(&t.join("build/RPMS")).unwrap_or_else(|| panic!("rpmbuild produced no rpm"));
    let root = t.join("root");
    for args in [
        vec!["--initdb".to_string()],
        vec![
            "-i".into(),
            "--nodeps".into(),
            "--justdb".into(),
            rpm_file.display().to_string(),
        ],
    ] {
        run(Command::new("rpm")
            .arg("--root")
            .arg(&root)
            .arg("--dbpath")
            .arg("/var/lib/rpm")
            .arg("--define")
            .arg("_db_backend sqlite")
            .args(args));
    }
    let db = root.join("var/lib/rpm/rpmdb.sqlite");
    // Fold the WAL into the main file, as a finished image layer would have it.
    {
        let conn = rusqlite::Connection::open(&db).unwrap_or_else(|e| panic!("{e}"));
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let data = std::fs::read(&db).unwrap_or_else(|e| panic!("{e}"));
    let spool = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let pkgs =
        parse_rpmdb(&data, RpmDbFormat::Sqlite, spool.path()).unwrap_or_else(|e| panic!("{e}"));
    let p = pkgs
        .iter()
        .find(|p| p.name == "bulwarktest")
        .unwrap_or_else(|| panic!("bulwarktest not found in {pkgs:?}"));
    assert_eq!(p.version, "2:1.2.3-4");
    assert_eq!(p.epoch, Some(2));
    assert_eq!(p.arch.as_deref(), Some("noarch"));
    assert_eq!(p.licenses, ["MIT"]);
    assert_eq!(p.supplier.as_deref(), Some("Bulwark Tests"));
    let src = p.source.as_ref().unwrap_or_else(|| panic!("no source rpm"));
    assert_eq!(
        (src.name.as_str(), src.version.as_str()),
        ("bulwarktest", "1.2.3-4")
    );
}
