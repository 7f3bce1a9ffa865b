//! JavaScript cataloger tests against the shared fixtures and the anchors' expectations.

use super::*;
use crate::python::testutil::{expected, full, nvd, ours, read, Exp};
use crate::ScanMode;
use bulwark_core::Package;
use std::collections::BTreeMap;

/// The anchor keeps one entry per (name, version, peers/path); we keep one per name and
/// version, dev only when every copy is dev. Applies the same merge to expectations.
fn merged(e: Vec<Exp>) -> Vec<Exp> {
    let mut m: BTreeMap<(String, String), Exp> = BTreeMap::new();
    for x in e {
        m.entry((x.name.clone(), x.version.clone()))
            .and_modify(|y| y.dev &= x.dev)
            .or_insert(x);
    }
    m.into_values().collect()
}

fn check(parse: fn(&[u8]) -> Result<Vec<Package>, crate::CatalogError>, rel: &str) -> Vec<Package> {
    let got = parse(&read(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    assert!(
        got.iter()
            .all(|p| p.ecosystem == bulwark_core::Ecosystem::Npm),
        "{rel}"
    );
    got
}

#[test]
fn package_lock_fixtures_match_expected() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    // Licenses are compared too: v2/v3 entries record them (string or legacy array).
    for file in [
        "package-lock_v1.json",
        "package-lock_v2.json",
        "package-lock_v3.json",
        "package-lock_v3_broken_link.json",
        "package-lock_v3_with-same-dev-and-non-dev.json",
        "package-lock_v3_with_legacy_licenses.json",
        "package-lock_v3_with_peer.json",
        "package-lock_v3_with_workspace.json",
        "package-lock_v3_without_root_deps_field.json",
    ] {
        let rel = format!("npm/{file}");
        let got = check(parse_package_lock, &rel);
        let mut want = merged(expected(&rel, 0));
        if file == "package-lock_v3_with_legacy_licenses.json" {
            // `"license": ["MIT", "Apache2"]` (an array of plain strings): the anchor only
            // reads arrays of `{type}` objects and reports nothing; we keep both names.
            for w in want.iter_mut().filter(|w| w.name == "pause-stream") {
                assert!(w.licenses.is_empty());
                w.licenses = vec!["MIT".into(), "Apache2".into()];
            }
        }
        assert_eq!(full(&ours(&got)), full(&want), "{file}");
        assert!(got.iter().all(|p| p.found_by == "npm-lock"));
    }
}

#[test]
fn package_lock_project_with_node_modules() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    // The anchor's analyzer fills licenses in from node_modules/*/package.json; our
    // lock cataloger sees only the lock, and the package.json cataloger reports the
    // installed copies separately. So: name/version/dev from the lock here, and the
    // licenses of the installed manifests below.
    let rel = "npm/project-with-node_modules";
    let got = check(parse_package_lock, &format!("{rel}/package-lock.json"));
    let want = merged(expected(rel, 0));
    assert_eq!(nvd(&ours(&got)), nvd(&want));
    for dir in [
        "ms",
        "@babel/parser",
        "body-parser",
        "body-parser/node_modules/debug",
        "express",
        "express/node_modules/debug",
    ] {
        let got = check(
            parse_package_json,
            &format!("{rel}/node_modules/{dir}/package.json"),
        );
        let [p] = got.as_slice() else {
            panic!("{dir}: {got:?}")
        };
        let w = want
            .iter()
            .find(|w| w.name == p.name && w.version == p.version);
        // Installed copies the lock does not list at that version are still real packages.
        if let Some(w) = w {
            assert_eq!(p.licenses, w.licenses, "{dir}");
        }
        assert_eq!(p.found_by, "npm-package-json");
    }
}

#[test]
fn package_json_fixtures_match_expected() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    for file in [
        "legacy_array_package.json",
        "legacy_package.json",
        "mixed_array_license_package.json",
        "package.json",
        "workspace_as_map_package.json",
    ] {
        let rel = format!("npm/package-json/{file}");
        let got = check(parse_package_json, &rel);
        assert_eq!(full(&ours(&got)), full(&expected(&rel, 0)), "{file}");
    }
    // The anchor parses a version-less manifest into a name-only record; as an
    // installed package it is not reportable (Trivy's analyzer drops it too).
    let rel = "npm/package-json/without_version_package.json";
    assert!(check(parse_package_json, rel).is_empty());
    assert_eq!(
        expected(rel, 0).first().map(|e| e.version.as_str()),
        Some("")
    );
}

#[test]
fn package_json_wants() {
    let c = catalogers();
    let pj = c
        .iter()
        .find(|c| c.id() == "npm-package-json")
        .map(|c| c.as_ref());
    let Some(pj) = pj else {
        panic!("no npm-package-json")
    };
    assert!(pj.wants("app/node_modules/x/package.json", 1, 0, ScanMode::Source));
    assert!(!pj.wants("app/package.json", 1, 0, ScanMode::Source));
    assert!(pj.wants("app/package.json", 1, 0, ScanMode::Image));
    let lock = c.iter().find(|c| c.id() == "npm-lock").map(|c| c.as_ref());
    let Some(lock) = lock else {
        panic!("no npm-lock")
    };
    assert!(lock.wants("app/package-lock.json", 1, 0, ScanMode::Source));
    assert!(!lock.wants(
        "app/node_modules/x/package-lock.json",
        1,
        0,
        ScanMode::Image
    ));
}

#[test]
fn npm_bad_json_has_line() {
    let err = parse_package_lock(b"{\n  \"packages\": {\n    \"a\": ]\n}");
    assert!(
        matches!(err, Err(crate::CatalogError::Parse { line: Some(3), .. })),
        "{err:?}"
    );
    assert!(parse_package_json(b"[1,2").is_err());
}

#[test]
fn yarn_fixtures_match_expected() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    for file in [
        "yarn_happy.lock",
        "yarn_v2_deps_with_protocol.lock",
        "yarn_v2_happy.lock",
        "yarn_with_bad_protocol.lock",
        "yarn_with_git.lock",
        "yarn_with_local.lock",
        "yarn_with_npm.lock",
    ] {
        let rel = format!("yarn/{file}");
        let got = check(parse_yarn_lock, &rel);
        assert_eq!(nvd(&ours(&got)), nvd(&expected(&rel, 0)), "{file}");
        assert!(got.iter().all(|p| p.found_by == "yarn-lock"));
    }
}

#[test]
fn yarn_classic_alias_and_bad_header() {
    let data = b"# yarn lockfile v1\n\n\"foo@npm:real@^1\", foo@npm:real@^1.1:\n  version \"1.2.0\"\n  dependencies:\n    version \"9\"\n";
    let got = parse_yarn_lock(data).unwrap_or_else(|e| panic!("{e}"));
    let got: Vec<String> = got
        .iter()
        .map(|p| format!("{}@{}", p.name, p.version))
        .collect();
    assert_eq!(got, ["real@1.2.0"]);
    assert!(matches!(
        parse_yarn_lock(b"a@^1:\n  version \"1\"\nbroken line\n"),
        Err(crate::CatalogError::Parse { line: Some(3), .. })
    ));
    assert!(matches!(
        parse_yarn_lock(b"__metadata:\n  version: 6\n\"a@npm:1\": [\n"),
        Err(crate::CatalogError::Parse { line: Some(_), .. })
    ));
}

#[test]
fn pnpm_fixtures_match_expected() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    for file in [
        "pnpm-lock_archives.yaml",
        "pnpm-lock_normal.yaml",
        "pnpm-lock_v6.yaml",
        "pnpm-lock_v9.yaml",
        "pnpm-lock_v9_cyclic_import.yaml",
        "pnpm-lock_v9_multi_version.yaml",
        "pnpm-lock_v9_multiple_documents.yaml",
        "pnpm-lock_v9_same-vers-diff-peers.yaml",
    ] {
        let rel = format!("pnpm/{file}");
        let got = check(parse_pnpm_lock, &rel);
        assert_eq!(nvd(&ours(&got)), nvd(&merged(expected(&rel, 0))), "{file}");
        assert!(got.iter().all(|p| p.found_by == "pnpm-lock"));
    }
}

#[test]
fn pnpm_with_dev_keeps_dev_packages_flagged() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    // The anchor drops `dev: true` packages of format 5/6 locks; we keep them, flagged.
    let rel = "pnpm/pnpm-lock_with_dev.yaml";
    let got = check(parse_pnpm_lock, rel);
    let runtime: Vec<Package> = got.iter().filter(|p| !p.dev).cloned().collect();
    assert_eq!(nvd(&ours(&runtime)), nvd(&expected(rel, 0)));
    assert!(got
        .iter()
        .any(|p| p.dev && p.name == "mocha" && p.version == "10.0.0"));
}

#[test]
fn pnpm_bounded_yaml() {
    // Alias expansion ("billion laughs") must fail, not blow up.
    let mut doc = String::from("lockfileVersion: '9.0'\na: &a [x, x, x, x, x, x, x, x, x, x]\n");
    let mut prev = "a".to_string();
    for i in 0..12 {
        let name = format!("l{i}");
        doc.push_str(&format!(
            "{name}: &{name} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
        ));
        prev = name;
    }
    assert!(parse_pnpm_lock(doc.as_bytes()).is_err());
    let deep = format!(
        "lockfileVersion: '9.0'\npackages: {}{}\n",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    assert!(parse_pnpm_lock(deep.as_bytes()).is_err());
    assert!(matches!(
        parse_pnpm_lock(b"lockfileVersion: '9.0'\npackages:\n  a: [\n"),
        Err(crate::CatalogError::Parse { line: Some(_), .. })
    ));
}

#[test]
fn bun_fixtures_match_expected() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    for file in ["bun_happy.lock", "bun_multiple_ws.lock"] {
        let rel = format!("bun/{file}");
        let got = check(parse_bun_lock, &rel);
        assert_eq!(nvd(&ours(&got)), nvd(&expected(&rel, 0)), "{file}");
        assert!(got.iter().all(|p| p.found_by == "bun-lock"));
    }
}

#[test]
fn bun_without_workspaces_is_not_dev() {
    let got =
        parse_bun_lock(b"{\"packages\": {\"a\": [\"a@1.0.0\"], \"g\": [\"g@github:x/y\"],},}")
            .unwrap_or_else(|e| panic!("{e}"));
    let got: Vec<(String, bool)> = got.iter().map(|p| (p.name.clone(), p.dev)).collect();
    assert_eq!(got, [("a".to_string(), false)]);
}

#[test]
fn jsonc_rewrite() {
    let src = "{\n // c, ]\n \"a\": [1, 2,], /* x,\n } */ \"b\": \"s,]//\",\n}";
    let json = bun::jsonc_to_json(src);
    let v: serde_json::Value =
        serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"));
    assert_eq!(v["b"], "s,]//");
    assert_eq!(v["a"].as_array().map(Vec::len), Some(2));
    assert_eq!(json.lines().count(), src.lines().count());
    assert!(matches!(
        parse_bun_lock(b"{\n\"packages\": {\n  \"a\": [\"a@1\" \"x\"],\n}}"),
        Err(crate::CatalogError::Parse { line: Some(3), .. })
    ));
}

/// Every parser of both modules on every fixture of both modules, whole and cut short
/// at several points: errors are fine, panics and hangs are not.
#[test]
fn no_panics_on_any_fixture_or_truncation() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    let parsers: [crate::util::ParseFn; 15] = [
        parse_package_lock,
        parse_package_json,
        parse_yarn_lock,
        parse_pnpm_lock,
        parse_bun_lock,
        crate::python::parse_dist_info,
        crate::python::parse_egg_info,
        crate::python::parse_egg_zip,
        crate::python::parse_requirements,
        crate::python::parse_pipfile_lock,
        crate::python::parse_poetry_lock,
        crate::python::parse_uv_lock,
        crate::python::parse_pylock,
        |d| Ok(parse_yarn_lock(&[b"__metadata:\n".as_slice(), d].concat()).unwrap_or_default()),
        |d| {
            Ok(
                parse_bun_lock(&bun::jsonc_to_json(&String::from_utf8_lossy(d)).into_bytes())
                    .unwrap_or_default(),
            )
        },
    ];
    let mut files = Vec::new();
    let mut stack: Vec<std::path::PathBuf> = ["python", "npm", "yarn", "pnpm", "bun"]
        .iter()
        .map(|d| crate::python::testutil::fixture(d).into())
        .collect();
    while let Some(p) = stack.pop() {
        if p.is_dir() {
            for e in std::fs::read_dir(&p).into_iter().flatten().flatten() {
                stack.push(e.path());
            }
        } else if !p.to_string_lossy().ends_with(".expected.json") {
            files.push(p);
        }
    }
    assert!(files.len() > 60, "{}", files.len());
    for f in files {
        let data = std::fs::read(&f).unwrap_or_default();
        let cuts = [
            data.len(),
            data.len() / 2,
            data.len() / 3,
            7.min(data.len()),
        ];
        for cut in cuts {
            let slice = data.get(..cut).unwrap_or_default();
            for parse in parsers {
                let _ = parse(slice);
            }
        }
    }
}

#[test]
fn catalog_refuses_oversized_input() {
    let c = catalogers();
    let Some(lock) = c.iter().find(|c| c.id() == "pnpm-lock") else {
        panic!("no pnpm-lock")
    };
    let mut cur = std::io::Cursor::new(Vec::<u8>::new());
    let r = lock.catalog(crate::CatalogInput {
        path: "pnpm-lock.yaml",
        size: 1 << 40,
        mode: 0o644,
        reader: &mut cur,
        spool_dir: None,
    });
    assert!(
        matches!(r, Err(crate::CatalogError::TooLarge { .. })),
        "{r:?}"
    );
}
