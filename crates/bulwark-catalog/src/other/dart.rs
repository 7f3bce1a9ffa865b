//! Dart/Flutter `pubspec.lock` (YAML): `packages` maps each name to its resolved
//! `version` and `dependency` kind (`direct main`, `direct dev`, `transitive`, ...).

use super::support::yaml;
use crate::CatalogError;
use bulwark_core::{Ecosystem, Package};
use serde::Deserialize;
use serde_yaml_ng::Value;
use std::collections::BTreeMap;

#[derive(Deserialize)]
struct Lock {
    #[serde(default)]
    packages: BTreeMap<String, Entry>,
}

#[derive(Deserialize)]
struct Entry {
    #[serde(default)]
    version: Option<Value>,
    #[serde(default)]
    dependency: Option<String>,
}

/// Parses a `pubspec.lock`. `direct dev` packages are marked as development dependencies.
/// SDK packages (`source: sdk`) keep the placeholder version pub records (`0.0.0`).
pub fn parse(data: &[u8]) -> Result<Vec<Package>, CatalogError> {
    let lock: Lock = yaml(data, "pubspec.lock")?;
    let mut out = Vec::new();
    for (name, e) in lock.packages {
        let version = match e.version {
            Some(Value::String(s)) => s,
            // An unquoted version YAML read as a number.
            Some(Value::Number(n)) => n.to_string(),
            _ => {
                return Err(CatalogError::parse(
                    "pubspec.lock",
                    format!("package {name} has no version"),
                ))
            }
        };
        let mut p = Package::new(Ecosystem::Pub, name, version, "pubspec-lock");
        p.dev = e.dependency.as_deref() == Some("direct dev");
        out.push(p);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::other::expected::*;

    #[test]
    fn pubspec_lock_matches_expected() {
        let _fixtures = bulwark_fixtures::fixtures_or_skip!();
        // The first case is Trivy without `useMinVersion`, which matches what the lock
        // records. Deliberate difference: Trivy does not set Dev for `direct dev`; we do.
        let rel = "dart/happy.lock";
        let case = &cases(rel)[0];
        assert_eq!(case["params"]["useMinVersion"], false);
        let pkgs = parse(&fixture(rel)).unwrap();
        assert_eq!(our_nv(&pkgs), nv(&packages_in(case)));
        let dev: Vec<_> = pkgs
            .iter()
            .filter(|p| p.dev)
            .map(|p| p.name.as_str())
            .collect();
        assert_eq!(dev, ["flutter_test"]);
    }

    #[test]
    fn pubspec_lock_errors() {
        assert!(parse(b"packages:\n  a:\n    dependency: transitive\n").is_err());
        assert!(parse(b"packages: [\n").is_err());
    }
}
