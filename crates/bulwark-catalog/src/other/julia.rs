//! Julia's `Manifest.toml` in both layouts: format 1 (Julia ≤ 1.6, packages as
//! top-level arrays of tables named after the package) and format 2 (Julia ≥ 1.7,
//! `manifest_format = "2.0"`, packages under `[[deps.Name]]`, with `julia_version`).

use super::support::toml;
use crate::CatalogError;
use bulwark_core::{Ecosystem, Package};
use toml::{Table, Value};

const FORMAT: &str = "Manifest.toml";

/// Parses a `Manifest.toml`.
///
/// An entry without `version` is a standard library when it has neither `path` nor
/// `repo-url`; in format 2 it then takes the manifest's `julia_version` (stdlibs are
/// versioned with Julia). Otherwise (format 1, or a local/dev package) its version is
/// unknown and left empty.
pub fn parse(data: &[u8]) -> Result<Vec<Package>, CatalogError> {
    let doc: Table = toml(data, FORMAT)?;
    let julia_version = doc.get("julia_version").and_then(Value::as_str);
    let entries: Vec<(&String, &Value)> = if doc.contains_key("manifest_format") {
        match doc.get("deps") {
            Some(Value::Table(t)) => t.iter().collect(),
            None => Vec::new(),
            Some(_) => return Err(CatalogError::parse(FORMAT, "`deps` is not a table")),
        }
    } else {
        doc.iter().filter(|(_, v)| v.is_array()).collect()
    };
    let mut out = Vec::new();
    for (name, value) in entries {
        let Some(items) = value.as_array() else {
            return Err(CatalogError::parse(
                FORMAT,
                format!("{name} is not an array of tables"),
            ));
        };
        for item in items {
            let Some(t) = item.as_table() else {
                return Err(CatalogError::parse(
                    FORMAT,
                    format!("{name} entry is not a table"),
                ));
            };
            if t.get("uuid").and_then(Value::as_str).is_none() {
                return Err(CatalogError::parse(
                    FORMAT,
                    format!("{name} entry has no uuid"),
                ));
            }
            let stdlib = !t.contains_key("path") && !t.contains_key("repo-url");
            let version = match t.get("version").and_then(Value::as_str) {
                Some(v) => v,
                None if stdlib => julia_version.unwrap_or_default(),
                None => "",
            };
            out.push(Package::new(
                Ecosystem::Julia,
                name.as_str(),
                version,
                "julia-manifest",
            ));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::other::expected::*;

    /// Deliberate difference: Trivy writes "unknown" for a version it cannot tell; we
    /// leave it empty (so no purl version is invented). Packages are distinguished by
    /// UUID in Julia, so two entries may share a name (v1.0 fixture: two `Foo`s); we
    /// compare as a multiset of name/version.
    fn check(rel: &str) {
        let pkgs = parse(&fixture(rel)).unwrap();
        let mut want: Vec<(String, String)> = expected_packages(rel)
            .iter()
            .map(|p| {
                let v = field(p, "Version");
                (
                    field(p, "Name"),
                    if v == "unknown" { String::new() } else { v },
                )
            })
            .collect();
        let mut got: Vec<(String, String)> = pkgs
            .iter()
            .map(|p| (p.name.clone(), p.version.clone()))
            .collect();
        want.sort();
        got.sort();
        assert_eq!(got, want, "{rel}");
    }

    #[test]
    fn julia_manifests_match_expected() {
        let _fixtures = bulwark_fixtures::fixtures_or_skip!();
        check("julia/primary/Manifest_v1.6.toml");
        check("julia/primary/Manifest_v1.8.toml");
        check("julia/julia_v1.0_format/Manifest.toml");
        check("julia/dep_ext_v1.9/Manifest.toml");
    }

    #[test]
    fn julia_manifest_errors() {
        let err = parse(b"manifest_format = \"2.0\"\n[[deps.A]]\nversion = \"1\"\n").unwrap_err();
        assert!(matches!(err, CatalogError::Parse { .. }), "{err}");
        let err = parse(b"a = 1\n[[B]\n").unwrap_err();
        assert!(
            matches!(err, CatalogError::Parse { line: Some(2), .. }),
            "{err}"
        );
    }
}
