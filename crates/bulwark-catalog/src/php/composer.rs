//! Composer's `composer.lock` and the installed-packages record
//! `vendor/composer/installed.json` (v1: a top-level array; v2, Composer 2:
//! `{"packages": [...], "dev-package-names": [...]}`).

use crate::other::support::{dedup, json, split_or};
use crate::CatalogError;
use bulwark_core::{Ecosystem, Package};
use serde::Deserialize;

#[derive(Deserialize)]
struct Entry {
    name: String,
    version: String,
    #[serde(default)]
    license: Option<License>,
}

/// Composer accepts one licence string or an array of them (an "or" choice).
#[derive(Deserialize)]
#[serde(untagged)]
enum License {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
struct Lock {
    #[serde(default)]
    packages: Vec<Entry>,
    #[serde(default, rename = "packages-dev")]
    packages_dev: Vec<Entry>,
}

/// Composer 2's `installed.json`.
#[derive(Deserialize)]
struct InstalledV2 {
    packages: Vec<Entry>,
    #[serde(default, rename = "dev-package-names")]
    dev_package_names: Vec<String>,
}

fn package(e: Entry, dev: bool, found_by: &str) -> Package {
    let mut p = Package::new(Ecosystem::Composer, e.name, e.version, found_by);
    p.dev = dev;
    p.licenses = match e.license {
        Some(License::One(s)) => split_or(&s),
        Some(License::Many(v)) => v.into_iter().filter(|s| !s.trim().is_empty()).collect(),
        None => Vec::new(),
    };
    p
}

/// Parses `composer.lock`; `packages-dev` entries are marked as development dependencies.
pub fn parse_lock(data: &[u8]) -> Result<Vec<Package>, CatalogError> {
    let lock: Lock = json(data, "composer.lock")?;
    let pkgs = lock
        .packages
        .into_iter()
        .map(|e| package(e, false, "composer-lock"))
        .chain(
            lock.packages_dev
                .into_iter()
                .map(|e| package(e, true, "composer-lock")),
        )
        .collect();
    Ok(dedup(pkgs))
}

/// Parses `vendor/composer/installed.json` (either version); packages named in v2's
/// `dev-package-names` are marked as development dependencies.
pub fn parse_installed(data: &[u8]) -> Result<Vec<Package>, CatalogError> {
    // v1 is a bare array; deciding up front (rather than with an untagged enum) keeps
    // serde_json's line numbers in the error.
    let body = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
    let is_v1 = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[');
    let (entries, dev_names) = if is_v1 {
        (json::<Vec<Entry>>(data, "installed.json")?, Vec::new())
    } else {
        let v2: InstalledV2 = json(data, "installed.json")?;
        (v2.packages, v2.dev_package_names)
    };
    let pkgs = entries
        .into_iter()
        .map(|e| {
            let dev = dev_names.contains(&e.name);
            package(e, dev, "composer-installed")
        })
        .collect();
    Ok(dedup(pkgs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::other::expected::*;
    use std::collections::BTreeSet;

    fn dev_names(pkgs: &[serde_json::Value]) -> BTreeSet<String> {
        pkgs.iter()
            .filter(|p| p["Dev"] == true)
            .map(|p| field(p, "Name"))
            .collect()
    }

    fn check(pkgs: &[Package], want: &[serde_json::Value]) {
        assert_eq!(our_nv(pkgs), nv(want));
        assert_eq!(our_name_licenses(pkgs), name_licenses(want));
        let ours: BTreeSet<String> = pkgs
            .iter()
            .filter(|p| p.dev)
            .map(|p| p.name.clone())
            .collect();
        assert_eq!(ours, dev_names(want));
    }

    #[test]
    fn composer_lock_happy_matches_expected() {
        let _fixtures = bulwark_fixtures::fixtures_or_skip!();
        // Includes the string licence "MIT or BSD-2-Clause", which Trivy splits in two.
        let rel = "php/composer_happy.lock";
        let pkgs = parse_lock(&fixture(rel)).unwrap();
        check(&pkgs, &expected_packages(rel));
        assert!(pkgs.iter().all(|p| p.found_by == "composer-lock"));
    }

    #[test]
    fn composer_lock_with_dev_matches_expected() {
        let _fixtures = bulwark_fixtures::fixtures_or_skip!();
        let pkgs = parse_lock(&fixture("php/project-with-dev/composer.lock")).unwrap();
        check(&pkgs, &expected_packages("php/project-with-dev"));
    }

    #[test]
    fn installed_json_v2_matches_expected() {
        let _fixtures = bulwark_fixtures::fixtures_or_skip!();
        let rel = "php/vendor-composer/installed.json";
        let pkgs = parse_installed(&fixture(rel)).unwrap();
        check(&pkgs, &expected_packages(rel));
        assert!(pkgs.iter().all(|p| p.found_by == "composer-installed"));
    }

    #[test]
    fn installed_json_v1_and_errors() {
        let v1 = br#"[{"name":"a/b","version":"1.0.0","license":"MIT"}]"#;
        let p = parse_installed(v1).unwrap();
        assert_eq!(
            (p[0].name.as_str(), p[0].version.as_str()),
            ("a/b", "1.0.0")
        );
        assert_eq!(p[0].licenses, ["MIT"]);
        let v2dev = br#"{"packages":[{"name":"a/b","version":"1"},{"name":"c/d","version":"2"}],"dev-package-names":["c/d"]}"#;
        let p = parse_installed(v2dev).unwrap();
        assert_eq!(p.iter().filter(|p| p.dev).count(), 1);

        let err = parse_installed(b"{\"packages\": [\n {\"name\": 1}]}").unwrap_err();
        assert!(
            matches!(err, CatalogError::Parse { line: Some(2), .. }),
            "{err}"
        );
        let err = parse_lock(b"{\n\"packages\": [\n{\"version\": \"1\"}\n]}").unwrap_err();
        assert!(
            matches!(err, CatalogError::Parse { line: Some(3), .. }),
            "{err}"
        );
    }
}
