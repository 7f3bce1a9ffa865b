//! Tests against the Trivy fixtures in `shared/fixtures/go`, plus a binary built here.

use super::*;
use crate::rust::exe;
use crate::{CatalogError, CatalogInput, Cataloger, ScanMode};
use bulwark_core::Package;
use std::collections::BTreeSet;

fn fixture(rel: &str) -> String {
    format!(
        "{}/go/{rel}",
        bulwark_fixtures::fixtures_location().display()
    )
}

fn run(c: &dyn Cataloger, path: &str) -> Result<Vec<Package>, CatalogError> {
    let mut f = std::fs::File::open(path)?;
    let size = f.metadata()?.len();
    c.catalog(CatalogInput {
        path: "x",
        size,
        mode: 0o755,
        reader: &mut f,
        spool_dir: None,
    })
    .map(|o| o.packages)
}

type Set = BTreeSet<(String, String)>;

/// (Name, Version) of every package in a case's list; a missing Version is "".
fn expected(rel: &str, case: usize, key: &str) -> Set {
    let text = std::fs::read_to_string(fixture(rel)).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["cases"][case][key]
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

fn names(pkgs: &[Package]) -> Set {
    pkgs.iter()
        .map(|p| (p.name.clone(), p.version.clone()))
        .collect()
}

#[test]
fn go_binaries_match_trivy() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    // test.elf is go1.15 (pointer format); the others are go1.22 (inline format).
    for (bin, exp) in [
        ("binary/test.elf", "binary/test.elf.expected.json"),
        ("binary/goexperiment", "binary/goexperiment.expected.json"),
        (
            "binary/main-version-via-ldflags.elf",
            "binary/main-version-via-ldflags.elf.expected.json",
        ),
    ] {
        let pkgs = run(&exe::ExecutableCataloger, &fixture(bin)).unwrap();
        assert_eq!(names(&pkgs), expected(exp, 0, "wantPkgs"), "{bin}");
        assert!(pkgs
            .iter()
            .all(|p| p.found_by == "go-binary" && p.ecosystem == bulwark_core::Ecosystem::Golang));
    }
}

#[test]
fn go_binary_ignores_other_files() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    let c = exe::ExecutableCataloger;
    assert!(c.wants("usr/local/bin/app", 10_000, 0o755, ScanMode::Image));
    // The Rust auditable ELF is not a Go binary.
    let rust_elf = format!(
        "{}/cargo/auditable-binary/test.elf",
        bulwark_fixtures::fixtures_location().display()
    );
    // The executable cataloger reports that file's crates; none of them is a Go module.
    assert!(!run(&c, &rust_elf)
        .unwrap()
        .iter()
        .any(|p| p.found_by == "go-binary" || p.ecosystem == bulwark_core::Ecosystem::Golang));
    assert!(run(&c, &fixture("mod/normal/go.mod")).unwrap().is_empty());
}

#[test]
fn stdlib_and_ldflags_helpers() {
    assert_eq!(
        binary::stdlib_version("go1.22.1 X:loopvar").as_deref(),
        Some("v1.22.1")
    );
    assert_eq!(binary::stdlib_version("devel go1.23-abc"), None);
    assert_eq!(
        binary::version_from_ldflags("-s -w -X main.version=v1.0.0").as_deref(),
        Some("v1.0.0")
    );
    assert_eq!(
        binary::version_from_ldflags("-X=github.com/x/y/cmd.Version=2.0").as_deref(),
        Some("2.0")
    );
    assert_eq!(binary::version_from_ldflags("-X main.commit=abc"), None);
}

#[test]
fn decode_rejects_garbage() {
    let mut blob = b"\xff Go buildinf:\x08\x02".to_vec();
    blob.resize(32, 0);
    // Inline format, but the length varint is missing.
    assert!(binary::decode(&blob, |_, _| None).is_err());
    // Pointer format with pointers into nowhere.
    let mut blob = b"\xff Go buildinf:\x08\x00".to_vec();
    blob.resize(32, 0xab);
    assert!(binary::decode(&blob, |_, _| None).is_err());
    // A length far beyond the data.
    let mut blob = b"\xff Go buildinf:\x08\x02".to_vec();
    blob.resize(32, 0);
    blob.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x0f]);
    assert!(binary::decode(&blob, |_, _| None).is_err());
}

#[test]
fn go_mod_fixtures_match_trivy() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    // Case 1 of normal.expected.json is the default (no stdlib from the `go` line);
    // case 0 of replaced.expected.json has `replace` applied, like us.
    for (dir, case) in [
        ("normal", 1),
        ("replaced", 0),
        ("go116", 0),
        ("replaced-with-local-path-and-version-mismatch", 0),
    ] {
        let pkgs = run(
            &gomod::GoModCataloger,
            &fixture(&format!("mod/{dir}/go.mod")),
        )
        .unwrap();
        assert_eq!(
            names(&pkgs),
            expected(&format!("mod/{dir}.expected.json"), case, "wantPkgs"),
            "{dir}"
        );
        assert!(pkgs.iter().all(|p| p.found_by == "go-mod"));
    }
}

#[test]
fn go_mod_project_happy() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    let pkgs = run(&gomod::GoModCataloger, &fixture("project-happy/go.mod")).unwrap();
    let text = std::fs::read_to_string(fixture("project-happy.expected.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let want: Set = v["cases"][0]["want"]["Applications"][0]["Packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["Name"].as_str().unwrap().to_string(),
                p["Version"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    // Licences come from the GOPATH module cache in Trivy's test; we do not read it.
    assert_eq!(names(&pkgs), want);
}

#[test]
fn go_mod_local_replace_removes_module_and_errors_have_lines() {
    let m = gomod::parse_go_mod(
        b"module a\n\nrequire (\n\tb.example/x v1.0.0 // indirect\n\tc.example/y v2.0.0\n)\nreplace b.example/x => ../x\nreplace c.example/y v2.0.0 => d.example/y v2.0.1\n",
    )
    .unwrap();
    assert!(m.requires.first().is_some_and(|r| r.indirect));
    assert_eq!(
        names(&m.packages()),
        Set::from([
            ("a".into(), "".into()),
            ("d.example/y".into(), "v2.0.1".into())
        ])
    );
    match gomod::parse_go_mod(b"module a\nrequire x\n").unwrap_err() {
        CatalogError::Parse { line, .. } => assert_eq!(line, Some(2)),
        e => panic!("{e}"),
    }
    assert!(gomod::parse_go_mod(b"require (\n a v1\n").is_err());
}

#[test]
fn go_sum_fixtures_match_trivy() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    for f in ["gomod_many.sum", "gomod_emptyline.sum", "gomod_normal.sum"] {
        let data = std::fs::read(fixture(&format!("sum/{f}"))).unwrap();
        let pkgs = gomod::parse_go_sum(&data).unwrap();
        assert_eq!(
            names(&pkgs),
            expected(&format!("sum/{f}.expected.json"), 0, "want"),
            "{f}"
        );
    }
}

/// Builds a tiny module with Debian's Go toolchain (one vendored dependency, version set
/// through `-ldflags -X`) and checks that what the toolchain recorded comes out.
#[test]
fn real_go_binary_built_here() {
    let Ok(out) = std::process::Command::new("go")
        .args(["env", "GOVERSION"])
        .output()
    else {
        eprintln!("skipping: no Go toolchain on this machine");
        return;
    };
    let goversion = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    let write = |rel: &str, text: &str| {
        let path = p.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write(
        "go.mod",
        "module example.com/app\n\ngo 1.19\n\nrequire example.com/dep v1.2.3\n",
    );
    write(
        "main.go",
        "package main\n\nimport \"example.com/dep\"\n\nvar version string\n\nfunc main() { println(dep.Hello(), version) }\n",
    );
    write(
        "vendor/modules.txt",
        "# example.com/dep v1.2.3\n## explicit\nexample.com/dep\n",
    );
    write(
        "vendor/example.com/dep/dep.go",
        "package dep\n\nfunc Hello() string { return \"hi\" }\n",
    );
    // Native ELF, plus cross-compiled PE and Mach-O to exercise their section lookups.
    for (goos, goarch) in [("", ""), ("windows", "amd64"), ("darwin", "arm64")] {
        let mut cmd = std::process::Command::new("go");
        cmd.args([
            "build",
            "-mod=vendor",
            "-buildvcs=false",
            "-ldflags=-X main.version=v0.9.1",
            "-o",
            "app",
            ".",
        ])
        .current_dir(p)
        .env("GOPROXY", "off")
        .env("GOFLAGS", "");
        if !goos.is_empty() {
            cmd.env("GOOS", goos).env("GOARCH", goarch);
        }
        assert!(cmd.status().unwrap().success(), "{goos}");
        let data = std::fs::read(p.join("app")).unwrap();
        let want_format = match goos {
            "windows" => exe::ExeFormat::Pe,
            "darwin" => exe::ExeFormat::MachO,
            _ => exe::ExeFormat::Elf,
        };
        assert_eq!(exe::sniff_bytes(&data), Some(want_format));
        let pkgs = run(&exe::ExecutableCataloger, p.join("app").to_str().unwrap()).unwrap();
        let want_std = binary::stdlib_version(&goversion).unwrap();
        assert_eq!(
            names(&pkgs),
            Set::from([
                ("example.com/app".into(), "v0.9.1".into()),
                ("example.com/dep".into(), "v1.2.3".into()),
                ("stdlib".into(), want_std),
            ]),
            "{goos}"
        );
    }
}

#[test]
fn byte_entry_point_matches_cataloger() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    let data = std::fs::read(fixture("binary/test.elf")).unwrap();
    let via_bytes = binary::parse_go_binary_bytes(&data).unwrap();
    let via_reader = run(&exe::ExecutableCataloger, &fixture("binary/test.elf")).unwrap();
    assert_eq!(names(&via_bytes), names(&via_reader));
    assert!(!via_bytes.is_empty());
    // Truncated binaries must not panic; whatever they yield is fine.
    for cut in [0, 4, 64, 1000, data.len() / 2] {
        let _ = binary::parse_go_binary_bytes(data.get(..cut).unwrap());
    }
}

#[test]
fn go_sum_completes_old_go_mod_only() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    let m = gomod::parse_go_mod(&std::fs::read(fixture("mod/go116/go.mod")).unwrap()).unwrap();
    let sum = std::fs::read(fixture("mod/go116/go.sum")).unwrap();
    let pkgs = names(&m.packages_with_go_sum(&sum).unwrap());
    // go.mod's own entries stay as Trivy's go.mod-only expectation has them ...
    assert!(expected("mod/go116.expected.json", 0, "wantPkgs").is_subset(&pkgs));
    // ... and the indirect module go.mod 1.16 leaves out comes from go.sum, at the last
    // (highest) version listed there.
    assert!(pkgs.contains(&(
        "gopkg.in/yaml.v3".to_string(),
        "v3.0.0-20210107192922-496545a6307b".to_string()
    )));
    assert_eq!(
        pkgs.iter().filter(|(n, _)| n == "gopkg.in/yaml.v3").count(),
        1
    );
    // A go 1.17+ module ignores go.sum.
    let m = gomod::parse_go_mod(&std::fs::read(fixture("project-happy/go.mod")).unwrap()).unwrap();
    let sum = std::fs::read(fixture("project-happy/go.sum")).unwrap();
    assert_eq!(
        names(&m.packages_with_go_sum(&sum).unwrap()),
        names(&m.packages())
    );
}
