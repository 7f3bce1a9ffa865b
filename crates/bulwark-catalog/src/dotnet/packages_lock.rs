//! NuGet lock files (`packages.lock.json`): per target framework, every resolved package
//! with its `type` (`Direct`, `Transitive`, `CentralTransitive`, or `Project` for
//! references to other projects in the same solution).

use crate::other::support::{dedup, json};
use crate::CatalogError;
use bulwark_core::{Ecosystem, Package};
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Deserialize)]
struct Lock {
    #[serde(default)]
    dependencies: BTreeMap<String, BTreeMap<String, Dep>>,
}

#[derive(Deserialize)]
struct Dep {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    resolved: Option<String>,
}

/// Parses a `packages.lock.json`; a package locked for several frameworks is reported once.
pub fn parse(data: &[u8]) -> Result<Vec<Package>, CatalogError> {
    let lock: Lock = json(data, "packages.lock.json")?;
    let mut pkgs = Vec::new();
    for (framework, deps) in lock.dependencies {
        for (name, dep) in deps {
            if dep.kind.eq_ignore_ascii_case("Project") {
                continue;
            }
            let version = dep
                .resolved
                .filter(|v| !v.trim().is_empty())
                .ok_or_else(|| {
                    CatalogError::parse(
                        "packages.lock.json",
                        format!("{name} ({framework}) has no resolved version"),
                    )
                })?;
            pkgs.push(Package::new(Ecosystem::Nuget, name, version, "nuget-lock"));
        }
    }
    Ok(dedup(pkgs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::other::expected::*;

    #[test]
    fn packages_lock_fixtures_match_expected() {
        let _fixtures = bulwark_fixtures::fixtures_or_skip!();
        for f in [
            "packages_lock_legacy.json",
            "packages_lock_multi.json",
            "packages_lock_simple.json",
            "packages_lock_subdependencies.json",
        ] {
            let rel = format!("dotnet/packages-lock/{f}");
            let pkgs = parse(&fixture(&rel)).unwrap();
            assert_eq!(our_nv(&pkgs), nv(&expected_packages(&rel)), "{rel}");
            assert_eq!(pkgs.len(), our_nv(&pkgs).len(), "deduplicated");
        }
    }

    #[test]
    fn packages_lock_missing_resolved() {
        let err = parse(br#"{"dependencies":{"net8.0":{"A":{"type":"Direct"}}}}"#).unwrap_err();
        assert!(matches!(err, CatalogError::Parse { .. }), "{err}");
    }
}
