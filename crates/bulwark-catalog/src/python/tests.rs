//! Python cataloger tests against the shared fixtures and the anchors' expectations.

use super::testutil::{expected, full, nv, nvd, ours, read};
use super::*;
use crate::{CatalogInput, ScanMode};
use bulwark_core::Ecosystem;
use bulwark_core::Package;

fn by_id(id: &str) -> Box<dyn Cataloger> {
    catalogers()
        .into_iter()
        .find(|c| c.id() == id)
        .unwrap_or_else(|| panic!("no cataloger {id}"))
}

/// Runs a cataloger through the trait on a fixture file.
fn run(id: &str, path: &str, rel: &str) -> Result<Vec<Package>, CatalogError> {
    let data = read(rel);
    let mut cur = std::io::Cursor::new(data.clone());
    let c = by_id(id);
    assert!(
        c.wants(path, data.len() as u64, 0o644, ScanMode::Image),
        "{id} wants {path}"
    );
    c.catalog(CatalogInput {
        path,
        size: data.len() as u64,
        mode: 0o644,
        reader: &mut cur,
        spool_dir: None,
    })
    .map(|o| o.packages)
}

#[test]
fn metadata_fixtures_match_expected() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    // networkx: Trivy reports `file://LICENSE.txt` from License-File; a file name is not
    // a license, so we report none there (the file is not in a METADATA-only input).
    for (file, id) in [
        ("asyncssh-2.14.2.METADATA", DIST_INFO),
        ("distlib-0.3.1.METADATA", DIST_INFO),
        ("iniconfig-2.0.0.METADATA", DIST_INFO),
        ("simple-0.1.0.METADATA", DIST_INFO),
        ("zipp-3.12.1.METADATA", DIST_INFO),
        ("networkx-3.0.METADATA", DIST_INFO),
        ("distlib-0.3.1-py3.9.egg-info", EGG_INFO),
        ("setuptools-51.3.3-py3.8.egg-info.PKG-INFO", EGG_INFO),
        ("unidecode-egg-info.PKG-INFO", EGG_INFO),
    ] {
        let rel = format!("python/packaging/{file}");
        let data = read(&rel);
        let got = if id == DIST_INFO {
            parse_dist_info(&data)
        } else {
            parse_egg_info(&data)
        };
        let got = got.unwrap_or_else(|e| panic!("{file}: {e}"));
        let mut want = expected(&rel, 0);
        if file.starts_with("networkx") {
            for w in &mut want {
                w.licenses.retain(|l| !l.starts_with("file://"));
            }
        }
        assert_eq!(full(&ours(&got)), full(&want), "{file}");
        assert!(got
            .iter()
            .all(|p| p.found_by == id && p.ecosystem == Ecosystem::Pypi));
    }
}

const DIST_INFO: &str = "python-dist-info";
const EGG_INFO: &str = "python-egg-info";

#[test]
fn egg_zip_kitchen_matches_expected() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    let rel = "python/egg/kitchen-1.2.6-py2.7.egg";
    let got = run(
        EGG_INFO,
        "usr/lib/python2.7/site-packages/kitchen-1.2.6-py2.7.egg",
        rel,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    // Both cases (with and without checksum) expect the same package.
    assert_eq!(full(&ours(&got)), full(&expected(rel, 0)));
    assert_eq!(full(&ours(&got)), full(&expected(rel, 1)));
    assert_eq!(parse_egg_zip(&read(rel)).map(|p| p.len()).ok(), Some(1));
}

#[test]
fn egg_zip_with_license_file_matches_name_version() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    // Trivy classifies the bundled LICENSE.txt text to get "MIT"; we do not classify
    // license texts, and PKG-INFO itself names no license.
    let rel = "python/egg/sample_package.egg";
    let got = parse_egg_zip(&read(rel)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(nv(&ours(&got)), nv(&expected(rel, 0)));
    assert!(got.iter().all(|p| p.licenses.is_empty()));
}

#[test]
fn egg_zip_garbage_is_parse_error() {
    assert!(matches!(
        parse_egg_zip(b"PK\x03\x04 not really a zip"),
        Err(CatalogError::Parse { .. })
    ));
}

#[test]
fn site_packages_venv_tree() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    let base = "python/site-packages-venv/python-dir/lib/python3.10/site-packages";
    let mut names = Vec::new();
    for dir in [
        "annotated_types-0.7.0.dist-info",
        "Flask-2.0.0.dist-info",
        "click-8.0.0.dist-info",
    ] {
        let path = format!("usr/lib/python3.10/site-packages/{dir}/METADATA");
        let pkgs = run(DIST_INFO, &path, &format!("{base}/{dir}/METADATA"))
            .unwrap_or_else(|e| panic!("{e}"));
        names.extend(
            pkgs.into_iter()
                .map(|p| format!("{}@{}", p.name, p.version)),
        );
    }
    assert_eq!(
        names,
        ["annotated-types@0.7.0", "Flask@2.0.0", "click@8.0.0"]
    );
}

#[test]
fn metadata_continuation_and_latin1() {
    let data = b"Metadata-Version: 1.1\nName: caf\xe9\nVersion: 1.0\nLicense: Some\n  long text\n   \n  more\nClassifier: License :: OSI Approved\n\nClassifier: License :: X :: Body\n";
    let p = parse_egg_info(data).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.first().map(|p| p.name.as_str()), Some("caf\u{FFFD}"));
    assert_eq!(
        p.first().map(|p| p.licenses.clone()),
        Some(vec!["Some".to_string()])
    );
    assert!(matches!(
        parse_dist_info(b"Metadata-Version: 2.1\nVersion: 1\n"),
        Err(CatalogError::Parse { .. })
    ));
}

#[test]
fn wants_paths() {
    let d = by_id(DIST_INFO);
    let e = by_id(EGG_INFO);
    let m = ScanMode::Image;
    assert!(d.wants(
        "usr/lib/python3/dist-packages/a-1.dist-info/METADATA",
        1,
        0,
        m
    ));
    assert!(!d.wants(
        "usr/lib/python3/dist-packages/a-1.egg-info/METADATA",
        1,
        0,
        m
    ));
    assert!(e.wants("x/a-1.egg-info/PKG-INFO", 1, 0, m));
    assert!(e.wants("x/a-1.egg/EGG-INFO/PKG-INFO", 1, 0, m));
    assert!(e.wants("x/a-1-py3.9.egg-info", 1, 0, m));
    assert!(e.wants("x/a-1-py3.9.egg", 1, 0, m));
    assert!(!e.wants("x/PKG-INFO", 1, 0, m));
    let r = by_id("pip-requirements");
    assert!(r.wants("app/requirements-dev.txt", 1, 0, ScanMode::Source));
    assert!(!r.wants("app/constraints.txt", 1, 0, ScanMode::Source));
    let p = by_id("pylock");
    assert!(p.wants("pylock.toml", 1, 0, ScanMode::Source));
    assert!(p.wants("a/pylock.dev.toml", 1, 0, ScanMode::Source));
    assert!(!p.wants("a/pylock.a.b.toml", 1, 0, ScanMode::Source));
}

#[test]
fn requirements_fixtures_match_expected() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    for file in [
        "requirement_exstras.txt",
        "requirements_comments.txt",
        "requirements_flask.txt",
        "requirements_hash.txt",
        "requirements_no_version.txt",
        "requirements_operator.txt",
        "requirements_utf16le.txt",
        "requirements_with_templating_engine.txt",
    ] {
        let rel = format!("python/pip/{file}");
        let got = parse_requirements(&read(&rel)).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(nv(&ours(&got)), nv(&expected(&rel, 0)), "{file}");
        assert!(got.iter().all(|p| p.found_by == "pip-requirements"));
    }
}

#[test]
fn requirements_compatible_pins_only() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    // The anchor case runs with `useMinVersion` (ranges → their lower bound). We report
    // only exact pins, and this file has none that are not wildcards.
    let rel = "python/pip/requirements_compatible.txt";
    let got = parse_requirements(&read(rel)).unwrap_or_else(|e| panic!("{e}"));
    assert!(got.is_empty(), "{got:?}");
    assert!(!expected(rel, 0).is_empty());
}

#[test]
fn requirements_edge_cases() {
    let data = b"-r other.txt\n-e git+https://x/y#egg=y\nname @ https://x/y.whl\nA.b_c[x]===1.0 ; python_version<'3'\nd==2.0\\\n  --hash=sha256:00\nutf16==1.*\n";
    let got = parse_requirements(data).unwrap_or_else(|e| panic!("{e}"));
    let got: Vec<String> = got
        .iter()
        .map(|p| format!("{}@{}", p.name, p.version))
        .collect();
    assert_eq!(got, ["A.b_c@1.0", "d@2.0"]);
    // UTF-16 big-endian with BOM.
    let mut be = vec![0xFE, 0xFF];
    for u in "x==1\n".encode_utf16() {
        be.extend(u.to_be_bytes());
    }
    assert_eq!(parse_requirements(&be).map(|p| p.len()).ok(), Some(1));
    assert!(matches!(
        parse_requirements(b"a==1\n\xff\xfe\xfd"),
        Err(CatalogError::Parse { line: Some(2), .. })
    ));
}

#[test]
fn pipenv_fixtures_match_expected() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    for file in [
        "Pipfile_django.lock",
        "Pipfile_many.lock",
        "Pipfile_normal.lock",
    ] {
        let rel = format!("python/pipenv/{file}");
        let got = parse_pipfile_lock(&read(&rel)).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(nvd(&ours(&got)), nvd(&expected(&rel, 0)), "{file}");
    }
}

#[test]
fn pipenv_develop_is_dev_and_default_wins() {
    let data = br#"{"default":{"a":{"version":"==1.0"},"g":{"git":"x"}},
        "develop":{"a":{"version":"==1.0"},"b":{"version":"==2.0"}}}"#;
    let got = parse_pipfile_lock(data).unwrap_or_else(|e| panic!("{e}"));
    let got: Vec<(String, bool)> = got.iter().map(|p| (p.name.clone(), p.dev)).collect();
    assert_eq!(got, [("a".to_string(), false), ("b".to_string(), true)]);
    assert!(matches!(
        parse_pipfile_lock(b"{\n\"default\": [}"),
        Err(CatalogError::Parse { line: Some(2), .. })
    ));
}

#[test]
fn poetry_fixtures_match_expected() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    for file in [
        "poetry_normal.lock",
        "poetry_flask.lock",
        "poetry_v2_flask.lock",
    ] {
        let rel = format!("python/poetry/{file}");
        let got = parse_poetry_lock(&read(&rel)).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(nvd(&ours(&got)), nvd(&expected(&rel, 0)), "{file}");
        assert!(got.iter().all(|p| p.found_by == "poetry-lock"));
    }
}

#[test]
fn poetry_project_with_groups_names_versions() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    // The anchor reads pyproject.toml beside the lock to mark group-only packages dev;
    // this lock (Poetry 1.8 format) records no groups, so we compare name/version only.
    let got = parse_poetry_lock(&read("python/poetry-project-with-groups/poetry.lock"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        nv(&ours(&got)),
        nv(&expected("python/poetry-project-with-groups", 0))
    );
}

#[test]
fn poetry_bad_toml_has_line() {
    let err = parse_poetry_lock(b"[[package]]\nname = \"a\"\nversion = \n");
    assert!(
        matches!(err, Err(CatalogError::Parse { line: Some(3), .. })),
        "{err:?}"
    );
}

#[test]
fn uv_normal_matches_expected() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    let rel = "python/uv/uv_normal.lock";
    let got = parse_uv_lock(&read(rel)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(nvd(&ours(&got)), nvd(&expected(rel, 0)));
}

#[test]
fn uv_without_single_root_is_lenient() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    // The anchor refuses these files ("must contain 1 root package"); a scanner that
    // refuses a lock file misses its packages, so we report them all as non-dev.
    for file in ["uv_without_root.lock", "uv_multiple_roots.lock"] {
        let got = parse_uv_lock(&read(&format!("python/uv/{file}")))
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(!got.is_empty(), "{file}");
        assert!(got.iter().all(|p| !p.dev), "{file}");
    }
}

#[test]
fn pylock_matches_expected() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    let rel = "python/pylock/pylock.toml";
    let got = parse_pylock(&read(rel)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(nvd(&ours(&got)), nvd(&expected(rel, 0)));
    assert_eq!(got.len(), expected(rel, 0).len());
}
