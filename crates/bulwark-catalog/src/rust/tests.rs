//! Tests against the Trivy fixtures in `shared/fixtures/cargo`.

use super::*;
use crate::{CatalogError, CatalogInput, ScanMode};
use bulwark_core::Package;
use std::collections::BTreeSet;

fn fixture(rel: &str) -> String {
    format!(
        "{}/../../../shared/fixtures/cargo/{rel}",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn run(c: &dyn Cataloger, path: &str, mode: u32) -> Result<Vec<Package>, CatalogError> {
    let mut f = std::fs::File::open(path)?;
    let size = f.metadata()?.len();
    c.catalog(CatalogInput {
        path: "x",
        size,
        mode,
        reader: &mut f,
    })
    .map(|o| o.packages)
}

fn expected(rel: &str, case: usize, key: &str) -> BTreeSet<(String, String)> {
    let text = std::fs::read_to_string(fixture(rel)).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut list = &v["cases"][case][key];
    if let Some(apps) = list.get("Applications") {
        list = &apps[0]["Packages"];
    }
    list.as_array()
        .unwrap()
        .iter()
        .filter_map(|p| {
            Some((
                p["Name"].as_str()?.to_string(),
                p["Version"].as_str()?.to_string(),
            ))
        })
        .collect()
}

fn names(pkgs: &[Package]) -> BTreeSet<(String, String)> {
    pkgs.iter()
        .map(|p| (p.name.clone(), p.version.clone()))
        .collect()
}

#[test]
fn cargo_locks_match_trivy() {
    for f in ["cargo_normal.lock", "cargo_mixed.lock", "cargo_v3.lock"] {
        let pkgs = run(&cargo_lock::CargoLockCataloger, &fixture(f), 0o644).unwrap();
        assert_eq!(
            names(&pkgs),
            expected(&format!("{f}.expected.json"), 0, "wantPkgs"),
            "{f}"
        );
        assert!(pkgs
            .iter()
            .all(|p| p.found_by == "cargo-lock" && p.ecosystem == bulwark_core::Ecosystem::Cargo));
    }
}

#[test]
fn cargo_lock_workspace_members_kept() {
    let pkgs = run(
        &cargo_lock::CargoLockCataloger,
        &fixture("project-workspace-members/Cargo.lock"),
        0o644,
    )
    .unwrap();
    // Trivy's root entry is a synthetic hash ID without a name; it is filtered out by
    // `expected` because it has no Name/Version.
    assert_eq!(
        names(&pkgs),
        expected("project-workspace-members.expected.json", 0, "want")
    );
}

#[test]
fn cargo_lock_project_happy_superset() {
    let pkgs = run(
        &cargo_lock::CargoLockCataloger,
        &fixture("project-happy/Cargo.lock"),
        0o644,
    )
    .unwrap();
    let got = names(&pkgs);
    let want = expected("project-happy.expected.json", 0, "want");
    // Deliberate difference: Trivy prunes the dev-only winapi crates using Cargo.toml,
    // which a one-file cataloger does not see.
    let extra: BTreeSet<_> = got.difference(&want).map(|(n, _)| n.as_str()).collect();
    assert!(want.is_subset(&got));
    assert_eq!(
        extra,
        BTreeSet::from([
            "winapi",
            "winapi-i686-pc-windows-gnu",
            "winapi-x86_64-pc-windows-gnu"
        ])
    );
}

#[test]
fn cargo_lock_invalid_is_error() {
    let err = run(
        &cargo_lock::CargoLockCataloger,
        &fixture("cargo_invalid.lock"),
        0o644,
    )
    .unwrap_err();
    assert!(matches!(err, CatalogError::Parse { .. }), "{err}");
}

#[test]
fn cargo_lock_git_and_path_sources() {
    let pkgs = run(
        &cargo_lock::CargoLockCataloger,
        &fixture("syft-Cargo.lock-with-git-deps"),
        0o644,
    )
    .unwrap();
    assert!(pkgs
        .iter()
        .any(|p| p.name == "regex" && p.version == "1.11.1"));
    let pkgs = run(
        &cargo_lock::CargoLockCataloger,
        &fixture("syft-path-deps/Cargo.lock"),
        0o644,
    )
    .unwrap();
    assert!(pkgs
        .iter()
        .any(|p| p.name == "telemetry" && p.version == "0.1.0"));
    let memchr = pkgs.iter().find(|p| p.name == "memchr").unwrap();
    assert_eq!(
        memchr.digest.as_deref(),
        Some("sha256:78ca9ab1a0babb1e7d5695e3530886289c18cf2f87ec19a575a0abdce112e3a3")
    );
}

#[test]
fn cargo_lock_error_has_line() {
    let err = cargo_lock::parse_cargo_lock(b"version = 3\n\n[[package]]\nname = \n").unwrap_err();
    match err {
        CatalogError::Parse { line, .. } => assert_eq!(line, Some(4)),
        e => panic!("unexpected {e}"),
    }
}

#[test]
fn auditable_binaries_match_trivy() {
    for f in ["auditable-binary/test.elf", "auditable-binary/test.macho"] {
        let c = auditable::CargoAuditableCataloger;
        assert!(c.wants("usr/bin/test", 5000, 0o755, ScanMode::Image));
        let pkgs = run(&c, &fixture(f), 0o755).unwrap();
        assert_eq!(
            names(&pkgs),
            expected(&format!("{f}.expected.json"), 0, "want"),
            "{f}"
        );
        assert!(pkgs.iter().all(|p| p.found_by == "cargo-auditable"));
    }
}

#[test]
fn auditable_ignores_non_binaries_and_plain_binaries() {
    let c = auditable::CargoAuditableCataloger;
    // A script and a lock file: not a binary, nothing found, no error.
    assert!(run(&c, &fixture("cargo_v3.lock"), 0o755)
        .unwrap()
        .is_empty());
    // A Go ELF binary has no .dep-v0 section.
    let go = format!(
        "{}/../../../shared/fixtures/go/binary/test.elf",
        env!("CARGO_MANIFEST_DIR")
    );
    assert!(run(&c, &go, 0o755).unwrap().is_empty());
}

#[test]
fn auditable_zlib_bomb_and_garbage_are_errors() {
    assert!(auditable::parse_dep_v0(b"not zlib").is_err());
    let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    std::io::Write::write_all(&mut enc, &vec![b' '; 20 << 20]).unwrap();
    let bomb = enc.finish().unwrap();
    assert!(matches!(
        auditable::parse_dep_v0(&bomb),
        Err(CatalogError::TooLarge { .. })
    ));
}

#[test]
fn byte_entry_point_and_truncation() {
    let data = std::fs::read(fixture("auditable-binary/test.elf")).unwrap();
    let pkgs = auditable::parse_binary_bytes(&data).unwrap();
    assert_eq!(
        names(&pkgs),
        expected("auditable-binary/test.elf.expected.json", 0, "want")
    );
    for cut in [0, 4, 64, 1000, data.len() / 2] {
        let _ = auditable::parse_binary_bytes(data.get(..cut).unwrap());
    }
}
