//! Tests against the Trivy fixtures in `shared/fixtures/cargo`.

use super::*;
use crate::{CatalogError, CatalogInput, ScanMode};
use bulwark_core::Package;
use std::collections::BTreeSet;

fn fixture(rel: &str) -> String {
    format!(
        "{}/cargo/{rel}",
        bulwark_fixtures::fixtures_location().display()
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
        spool_dir: None,
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
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
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
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
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
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
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
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
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
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
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
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    for f in ["auditable-binary/test.elf", "auditable-binary/test.macho"] {
        let c = exe::ExecutableCataloger;
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
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    let c = exe::ExecutableCataloger;
    // A script and a lock file: not a binary, nothing found, no error.
    assert!(run(&c, &fixture("cargo_v3.lock"), 0o755)
        .unwrap()
        .is_empty());
    // A Go ELF binary has no .dep-v0 section.
    let go = format!(
        "{}/go/binary/test.elf",
        bulwark_fixtures::fixtures_location().display()
    );
    // (The executable cataloger reports its Go modules; no crate comes out of it.)
    assert!(!run(&c, &go, 0o755)
        .unwrap()
        .iter()
        .any(|p| p.found_by == "cargo-auditable" || p.ecosystem == bulwark_core::Ecosystem::Cargo));
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
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
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

/// The stored bytes of a named section of a fixture binary.
fn section_bytes(path: &str, name: &str) -> Vec<u8> {
    use object::{Object, ObjectSection};
    let data = std::fs::read(path).unwrap();
    let file = object::File::parse(&*data).unwrap();
    file.section_by_name(name).unwrap().data().unwrap().to_vec()
}

/// A minimal little-endian ELF64 executable holding the given sections (name, address,
/// bytes) plus `.shstrtab`. The object crate has no write support enabled here, and this
/// is all the readers look at.
fn elf_with_sections(sections: &[(&str, u64, &[u8])]) -> Vec<u8> {
    let mut shstrtab = vec![0u8];
    let mut names = Vec::new();
    for (name, _, _) in sections {
        names.push(shstrtab.len() as u32);
        shstrtab.extend_from_slice(name.as_bytes());
        shstrtab.push(0);
    }
    let shstr_name = shstrtab.len() as u32;
    shstrtab.extend_from_slice(b".shstrtab\0");

    let mut body = Vec::new();
    let mut headers: Vec<[u64; 5]> = Vec::new(); // name, type, flags, addr, offset/size below
    let mut ranges = Vec::new();
    for (i, (_, addr, bytes)) in sections.iter().enumerate() {
        while body.len() % 16 != 0 {
            body.push(0);
        }
        let off = 64 + body.len() as u64;
        body.extend_from_slice(bytes);
        // PROGBITS, ALLOC|WRITE
        headers.push([u64::from(names[i]), 1, 3, *addr, 0]);
        ranges.push((off, bytes.len() as u64));
    }
    let off = 64 + body.len() as u64;
    body.extend_from_slice(&shstrtab);
    headers.push([u64::from(shstr_name), 3, 0, 0, 0]);
    ranges.push((off, shstrtab.len() as u64));
    while body.len() % 8 != 0 {
        body.push(0);
    }
    let shoff = 64 + body.len() as u64;
    let shnum = headers.len() as u16 + 1;

    let mut out = Vec::new();
    out.extend_from_slice(b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0");
    out.extend_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    out.extend_from_slice(&62u16.to_le_bytes()); // x86-64
    out.extend_from_slice(&1u32.to_le_bytes());
    out.extend_from_slice(&0u64.to_le_bytes()); // entry
    out.extend_from_slice(&0u64.to_le_bytes()); // phoff
    out.extend_from_slice(&shoff.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes()); // flags
    out.extend_from_slice(&64u16.to_le_bytes());
    out.extend_from_slice(&56u16.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes()); // phnum
    out.extend_from_slice(&64u16.to_le_bytes());
    out.extend_from_slice(&shnum.to_le_bytes());
    out.extend_from_slice(&(shnum - 1).to_le_bytes()); // shstrndx
    assert_eq!(out.len(), 64);
    out.extend_from_slice(&body);
    out.extend_from_slice(&[0u8; 64]); // null section
    for (h, (off, size)) in headers.iter().zip(ranges) {
        out.extend_from_slice(&(h[0] as u32).to_le_bytes());
        out.extend_from_slice(&(h[1] as u32).to_le_bytes());
        out.extend_from_slice(&h[2].to_le_bytes());
        out.extend_from_slice(&h[3].to_le_bytes());
        out.extend_from_slice(&off.to_le_bytes());
        out.extend_from_slice(&size.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&1u64.to_le_bytes());
        out.extend_from_slice(&0u64.to_le_bytes());
    }
    out
}

fn go_fixture(rel: &str) -> String {
    format!(
        "{}/go/{rel}",
        bulwark_fixtures::fixtures_location().display()
    )
}

/// Runs the executable cataloger over bytes written to a temporary file.
fn run_bytes(data: &[u8]) -> Result<Vec<Package>, CatalogError> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("app");
    std::fs::write(&path, data)?;
    run(
        &exe::ExecutableCataloger,
        path.to_str().unwrap_or_default(),
        0o755,
    )
}

/// Go expectations of the go1.22 fixture whose build info lives in its own section.
fn go_expected() -> BTreeSet<(String, String)> {
    let text = std::fs::read_to_string(go_fixture("binary/goexperiment.expected.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["cases"][0]["wantPkgs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["Name"].as_str().unwrap().to_string(),
                p["Version"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[test]
fn executable_with_go_build_info_and_dep_v0_reports_both() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    // The real `.go.buildinfo` of a Go 1.22 binary (inline format, so no pointers into
    // other sections) and the real `.dep-v0` of a cargo-auditable binary, in one ELF.
    let go = section_bytes(&go_fixture("binary/goexperiment"), ".go.buildinfo");
    let dep = section_bytes(&fixture("auditable-binary/test.elf"), ".dep-v0");
    let elf = elf_with_sections(&[(".go.buildinfo", 0x10000, &go), (".dep-v0", 0, &dep)]);
    let pkgs = run_bytes(&elf).unwrap();
    let go_pkgs: Vec<Package> = pkgs
        .iter()
        .filter(|p| p.found_by == "go-binary")
        .cloned()
        .collect();
    let crates: Vec<Package> = pkgs
        .iter()
        .filter(|p| p.found_by == "cargo-auditable")
        .cloned()
        .collect();
    assert_eq!(go_pkgs.len() + crates.len(), pkgs.len());
    assert_eq!(names(&go_pkgs), go_expected());
    assert_eq!(
        names(&crates),
        expected("auditable-binary/test.elf.expected.json", 0, "want")
    );
    assert!(go_pkgs
        .iter()
        .all(|p| p.ecosystem == bulwark_core::Ecosystem::Golang));
    assert!(crates
        .iter()
        .all(|p| p.ecosystem == bulwark_core::Ecosystem::Cargo));
    // The byte entry point sees the same.
    assert_eq!(
        names(&exe::parse_executable_bytes(&elf).unwrap()),
        names(&pkgs)
    );
}

#[test]
fn bad_dep_v0_does_not_hide_go_modules_and_vice_versa() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    let go = section_bytes(&go_fixture("binary/goexperiment"), ".go.buildinfo");
    let dep = section_bytes(&fixture("auditable-binary/test.elf"), ".dep-v0");
    let bad_dep = b"not zlib at all".as_slice();
    // Magic and inline-format flag, then a string length far past the section's end.
    let mut bad_go = b"\xff Go buildinf:\x08\x02".to_vec();
    bad_go.resize(32, 0);
    bad_go.extend_from_slice(&[0xff, 0xff, 0x0f]);

    let elf = elf_with_sections(&[(".go.buildinfo", 0x10000, &go), (".dep-v0", 0, bad_dep)]);
    assert_eq!(names(&run_bytes(&elf).unwrap()), go_expected());

    let elf = elf_with_sections(&[(".go.buildinfo", 0x10000, &bad_go), (".dep-v0", 0, &dep)]);
    assert_eq!(
        names(&run_bytes(&elf).unwrap()),
        expected("auditable-binary/test.elf.expected.json", 0, "want")
    );

    // With nothing valid left, the error is the file's result, as a single-format
    // cataloger's was (assembly turns it into a warning).
    let elf = elf_with_sections(&[(".go.buildinfo", 0x10000, &go), (".dep-v0", 0, bad_dep)]);
    assert!(auditable::parse_binary_bytes(&elf).is_err());
    let elf = elf_with_sections(&[(".dep-v0", 0, bad_dep)]);
    match run_bytes(&elf).unwrap_err() {
        CatalogError::Parse { format, .. } => assert_eq!(format, "cargo-auditable .dep-v0"),
        e => panic!("unexpected {e}"),
    }
    let elf = elf_with_sections(&[(".go.buildinfo", 0x10000, &bad_go)]);
    match run_bytes(&elf).unwrap_err() {
        CatalogError::Parse { format, .. } => assert_eq!(format, "Go build info"),
        e => panic!("unexpected {e}"),
    }
    let elf = elf_with_sections(&[(".go.buildinfo", 0x10000, &bad_go), (".dep-v0", 0, bad_dep)]);
    assert!(run_bytes(&elf).is_err());
}
