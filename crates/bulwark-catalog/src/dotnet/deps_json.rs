//! .NET application dependency manifests (`<app>.deps.json`), written next to every
//! published .NET Core application. `libraries` lists everything the app was built
//! against as `Name/Version` keys; `targets` says which of them carry assets at run time.

use crate::other::support::{dedup, json};
use crate::CatalogError;
use bulwark_core::{Ecosystem, Package};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

#[derive(Deserialize)]
struct DepsJson {
    #[serde(default)]
    targets: BTreeMap<String, BTreeMap<String, Map<String, Value>>>,
    #[serde(default)]
    libraries: BTreeMap<String, Library>,
}

#[derive(Deserialize)]
struct Library {
    #[serde(rename = "type", default)]
    kind: String,
}

/// Whether a target entry ships files: a package whose entries all lack runtime, native
/// and runtime-target assets is a compile-time reference only (e.g. an SDK metapackage)
/// and is not loaded by the application.
fn has_assets(entry: &Map<String, Value>) -> bool {
    ["runtime", "runtimeTargets", "native"].iter().any(|k| {
        entry
            .get(*k)
            .and_then(Value::as_object)
            .is_some_and(|m| !m.is_empty())
    })
}

/// Parses a `.deps.json`.
///
/// Kept: libraries of type `package`, and `runtimepack` libraries (the bundled .NET
/// runtime of a self-contained app, named without their `runtimepack.` prefix), unless
/// every target lists them without assets. Skipped: `project` libraries (the application
/// itself and its sibling projects are not packages from a registry) and other types.
pub fn parse(data: &[u8]) -> Result<Vec<Package>, CatalogError> {
    let deps: DepsJson = json(data, "deps.json")?;
    let mut pkgs = Vec::new();
    for (key, lib) in &deps.libraries {
        let name_part = match lib.kind.as_str() {
            "package" => key.as_str(),
            "runtimepack" => key.strip_prefix("runtimepack.").unwrap_or(key),
            _ => continue,
        };
        let Some((name, version)) = name_part.split_once('/') else {
            return Err(CatalogError::parse(
                "deps.json",
                format!("library key {key:?} is not Name/Version"),
            ));
        };
        if name.is_empty() || version.is_empty() {
            return Err(CatalogError::parse(
                "deps.json",
                format!("library key {key:?} has an empty name or version"),
            ));
        }
        let mut listed = false;
        let mut shipped = false;
        for entries in deps.targets.values() {
            if let Some(entry) = entries.get(key) {
                listed = true;
                shipped |= has_assets(entry);
            }
        }
        if listed && !shipped {
            continue;
        }
        pkgs.push(Package::new(Ecosystem::Nuget, name, version, "dotnet-deps"));
    }
    Ok(dedup(pkgs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::other::expected::*;
    use std::collections::BTreeSet;

    /// Trivy also reports the `project` libraries (the app and its sibling projects,
    /// as Root/Workspace); we deliberately do not, so those are removed from the
    /// expectation, identified by their `type` in the fixture itself.
    fn check(file: &str) {
        let rel = format!("dotnet/deps-json/{file}");
        let data = fixture(&rel);
        let input: Value = serde_json::from_slice(&data).unwrap();
        let projects: BTreeSet<String> = input["libraries"]
            .as_object()
            .map(|m| {
                m.iter()
                    .filter(|(_, v)| v["type"] == "project")
                    .filter_map(|(k, _)| k.split_once('/').map(|(n, _)| n.to_string()))
                    .collect()
            })
            .unwrap_or_default();
        let want: Vec<Value> = expected_packages(&rel)
            .into_iter()
            .filter(|p| !projects.contains(&field(p, "Name")))
            .collect();
        let pkgs = parse(&data).unwrap();
        assert_eq!(our_nv(&pkgs), nv(&want), "{rel}");
        assert!(pkgs.iter().all(|p| p.found_by == "dotnet-deps"));
    }

    #[test]
    fn deps_json_fixtures_match_expected() {
        let _fixtures = bulwark_fixtures::fixtures_or_skip!();
        for f in [
            "happy.deps.json",
            "ambiguous-root.deps.json",
            "multi-project.deps.json",
            "no-libraries.deps.json",
            "self-contained.deps.json",
            "without-runtime.deps.json",
        ] {
            check(f);
        }
    }

    #[test]
    fn deps_json_syft_sample() {
        let _fixtures = bulwark_fixtures::fixtures_or_skip!();
        // No expectation file. Of the 12 `package` libraries, two are listed in the
        // target without runtime assets (System.Diagnostics.DiagnosticSource,
        // System.Runtime.CompilerServices.Unsafe, provided by the shared framework) and
        // the two `project` libraries are excluded.
        let data = fixture("dotnet/deps-json/syft-TestLibrary.deps.json");
        let pkgs = parse(&data).unwrap();
        assert_eq!(pkgs.len(), 10);
        assert!(!pkgs
            .iter()
            .any(|p| p.name == "System.Runtime.CompilerServices.Unsafe"));
        assert!(pkgs
            .iter()
            .any(|p| p.name == "Serilog" && p.version == "2.10.0"));
        assert!(!pkgs
            .iter()
            .any(|p| p.name == "TestLibrary" || p.name == "TestCommon"));
    }

    #[test]
    fn deps_json_errors() {
        let err = parse(b"{\"libraries\": {\"x\": {\"type\": \"package\"}}}").unwrap_err();
        assert!(matches!(err, CatalogError::Parse { .. }));
        let err = parse(b"{\n\"libraries\": [}").unwrap_err();
        assert!(
            matches!(err, CatalogError::Parse { line: Some(2), .. }),
            "{err}"
        );
    }
}
