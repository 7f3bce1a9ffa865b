//! CocoaPods' `Podfile.lock` (YAML): the `PODS` list names every installed pod as
//! `Name (version)`, either alone or as the key of a map listing its dependencies.

use super::support::{dedup, yaml};
use crate::CatalogError;
use bulwark_core::{Ecosystem, Package};
use serde::Deserialize;
use serde_yaml_ng::Value;

#[derive(Deserialize)]
struct Lock {
    #[serde(rename = "PODS", default)]
    pods: Vec<Value>,
}

fn pod(spec: &str) -> Result<Package, CatalogError> {
    let bad = || {
        CatalogError::parse(
            "Podfile.lock",
            format!("expected `Name (version)`, got {spec:?}"),
        )
    };
    let (name, rest) = spec.trim().split_once(" (").ok_or_else(bad)?;
    let version = rest.strip_suffix(')').ok_or_else(bad)?.trim();
    if name.is_empty() || version.is_empty() {
        return Err(bad());
    }
    Ok(Package::new(
        Ecosystem::Cocoapods,
        name,
        version,
        "cocoapods-lock",
    ))
}

/// Parses a `Podfile.lock`. Subspecs (`AppCenter/Core`) are reported as their own
/// packages, as the lock file lists them.
pub fn parse(data: &[u8]) -> Result<Vec<Package>, CatalogError> {
    let lock: Lock = yaml(data, "Podfile.lock")?;
    let mut out = Vec::new();
    for entry in &lock.pods {
        match entry {
            Value::String(s) => out.push(pod(s)?),
            Value::Mapping(m) => {
                for k in m.keys() {
                    let s = k.as_str().ok_or_else(|| {
                        CatalogError::parse("Podfile.lock", "non-string key in PODS")
                    })?;
                    out.push(pod(s)?);
                }
            }
            _ => {
                return Err(CatalogError::parse(
                    "Podfile.lock",
                    "unexpected entry in PODS",
                ))
            }
        }
    }
    Ok(dedup(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::other::expected::*;

    #[test]
    fn podfile_lock_matches_expected() {
        let _fixtures = bulwark_fixtures::fixtures_or_skip!();
        let rel = "cocoapods/happy.lock";
        let pkgs = parse(&fixture(rel)).unwrap();
        assert_eq!(our_nv(&pkgs), nv(&expected_packages(rel)));
    }

    #[test]
    fn podfile_lock_errors() {
        assert!(parse(b"PODS:\n  - Broken\n").is_err());
        let err = parse(b"PODS:\n  - [\n").unwrap_err();
        assert!(
            matches!(err, CatalogError::Parse { line: Some(_), .. }),
            "{err}"
        );
        // Alias bombs are refused by the YAML parser rather than expanded.
        let bomb = b"a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\nPODS: [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n";
        let err = parse(bomb).unwrap_err();
        assert!(err.to_string().contains("repetition limit"), "{err}");
    }
}
