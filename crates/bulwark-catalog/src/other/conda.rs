//! Conda: installed package records (`<env>/conda-meta/<name>-<version>-<build>.json`)
//! and environment files (`environment.yml`), whose `dependencies` are match specs
//! (`name`, `name=1.0`, `name==1.0=build`, `name 1.0 build`, `name>=1`, ...) plus an
//! optional `pip:` list of requirement strings.

use super::support::{json, yaml};
use crate::CatalogError;
use bulwark_core::{Ecosystem, Package};
use serde::Deserialize;
use serde_yaml_ng::Value;

#[derive(Deserialize)]
struct Meta {
    name: String,
    version: String,
    #[serde(default)]
    license: Option<String>,
    #[serde(default)]
    sha256: Option<String>,
    #[serde(default)]
    md5: Option<String>,
}

/// Parses one `conda-meta/*.json` record.
pub fn parse_meta(data: &[u8]) -> Result<Vec<Package>, CatalogError> {
    let m: Meta = json(data, "conda-meta json")?;
    if m.name.trim().is_empty() || m.version.trim().is_empty() {
        return Err(CatalogError::parse(
            "conda-meta json",
            "empty name or version",
        ));
    }
    let mut p = Package::new(Ecosystem::Conda, m.name, m.version, "conda-meta");
    p.licenses = m
        .license
        .into_iter()
        .filter(|l| !l.trim().is_empty())
        .collect();
    p.digest = m
        .sha256
        .filter(|s| !s.is_empty())
        .map(|s| format!("sha256:{s}"))
        .or_else(|| m.md5.filter(|s| !s.is_empty()).map(|s| format!("md5:{s}")));
    Ok(vec![p])
}

#[derive(Deserialize)]
struct Environment {
    #[serde(default)]
    dependencies: Vec<Value>,
}

/// A version that pins exactly one release: no wildcards, ranges or alternatives.
fn exact(v: &str) -> Option<&str> {
    let v = v.trim();
    (!v.is_empty() && !v.contains(['*', '|', ',', '<', '>', '!', '~', '=', ' '])).then_some(v)
}

/// Name and exact version (if the spec pins one) of a conda match spec.
pub fn conda_spec(spec: &str) -> Option<(&str, Option<&str>)> {
    let spec = spec.trim();
    // `channel::name...` or `channel/subdir::name...`
    let spec = spec.rsplit_once("::").map_or(spec, |(_, s)| s);
    let end = spec
        .find(|c: char| c.is_whitespace() || "=<>!~[".contains(c))
        .unwrap_or(spec.len());
    let (name, rest) = spec.split_at(end);
    if name.is_empty() {
        return None;
    }
    let rest = rest.trim_start();
    let version = if let Some(r) = rest.strip_prefix("==") {
        exact(r.split('=').next().unwrap_or_default())
    } else if let Some(r) = rest.strip_prefix('=') {
        // `=1.0` and `=1.0=build`; `=>`, `=<` are (misspelt) ranges.
        if r.starts_with(['<', '>', '=']) {
            None
        } else {
            exact(r.split('=').next().unwrap_or_default())
        }
    } else if !rest.is_empty() && !rest.starts_with(['<', '>', '!', '~', '[']) {
        // `name 1.0 build`
        rest.split_whitespace().next().and_then(exact)
    } else {
        None
    };
    Some((name, version))
}

/// Name and exact version of a pip requirement (`name==1.0`, `name[extra]==1.0`).
fn pip_spec(spec: &str) -> Option<(&str, Option<&str>)> {
    let spec = spec.split(';').next().unwrap_or_default().trim();
    if spec.is_empty() || spec.starts_with('-') || spec.contains("://") {
        return None;
    }
    let end = spec
        .find(|c: char| c.is_whitespace() || "=<>!~[(@".contains(c))
        .unwrap_or(spec.len());
    let (name, rest) = spec.split_at(end);
    if name.is_empty() {
        return None;
    }
    let rest = match rest.trim_start().strip_prefix('[') {
        Some(r) => r.split_once(']').map_or("", |(_, after)| after),
        None => rest,
    };
    let version = rest
        .trim_start()
        .strip_prefix("==")
        .filter(|r| !r.starts_with('='))
        .and_then(exact);
    Some((name, version))
}

/// Parses an `environment.yml`. Packages without an exact version are reported with an
/// empty version (the environment needs them, but which release is not recorded); `pip:`
/// entries are PyPI packages. Entries that are only operators (`"=="`) are skipped.
pub fn parse_environment(data: &[u8]) -> Result<Vec<Package>, CatalogError> {
    let env: Environment = yaml(data, "environment.yml")?;
    let mut out = Vec::new();
    let push = |out: &mut Vec<Package>, eco, spec: Option<(&str, Option<&str>)>| {
        if let Some((name, version)) = spec {
            out.push(Package::new(
                eco,
                name,
                version.unwrap_or_default(),
                "conda-environment",
            ));
        }
    };
    for dep in &env.dependencies {
        match dep {
            Value::String(s) => push(&mut out, Ecosystem::Conda, conda_spec(s)),
            Value::Mapping(m) => {
                for (k, v) in m {
                    if k.as_str() != Some("pip") {
                        continue;
                    }
                    let Some(list) = v.as_sequence() else {
                        return Err(CatalogError::parse(
                            "environment.yml",
                            "`pip` is not a list",
                        ));
                    };
                    for item in list {
                        let s = item.as_str().ok_or_else(|| {
                            CatalogError::parse("environment.yml", "pip entry is not a string")
                        })?;
                        push(&mut out, Ecosystem::Pypi, pip_spec(s));
                    }
                }
            }
            _ => {
                return Err(CatalogError::parse(
                    "environment.yml",
                    "dependency is neither a string nor a `pip:` list",
                ))
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::other::expected::*;

    #[test]
    fn conda_meta_matches_expected() {
        let _fixtures = bulwark_fixtures::fixtures_or_skip!();
        for f in [
            "_libgcc_mutex-0.1-main.json",
            "libgomp-11.2.0-h1234567_1.json",
        ] {
            let rel = format!("conda/conda-meta/{f}");
            let pkgs = parse_meta(&fixture(&rel)).unwrap();
            let want = expected_packages(&rel);
            assert_eq!(our_nv(&pkgs), nv(&want), "{rel}");
            assert_eq!(our_name_licenses(&pkgs), name_licenses(&want), "{rel}");
            assert!(pkgs[0]
                .digest
                .as_deref()
                .is_some_and(|d| d.starts_with("sha256:")));
        }
    }

    #[test]
    fn conda_environment_matches_expected() {
        let _fixtures = bulwark_fixtures::fixtures_or_skip!();
        // Deliberate difference: Trivy reports the `pip:` entries (asgiref, django) as
        // conda packages; we report them as PyPI packages. Name/version sets agree.
        for f in ["happy.yaml", "operator-only-dep.yaml"] {
            let rel = format!("conda/environment/{f}");
            let pkgs = parse_environment(&fixture(&rel)).unwrap();
            assert_eq!(our_nv(&pkgs), nv(&expected_packages(&rel)), "{rel}");
        }
        let pkgs = parse_environment(&fixture("conda/environment/happy.yaml")).unwrap();
        let pypi: Vec<_> = pkgs
            .iter()
            .filter(|p| p.ecosystem == Ecosystem::Pypi)
            .map(|p| p.name.as_str())
            .collect();
        assert_eq!(pypi, ["asgiref", "django"]);
    }

    #[test]
    fn conda_specs_and_errors() {
        assert_eq!(
            conda_spec("conda-forge::numpy=1.26.4=py312"),
            Some(("numpy", Some("1.26.4")))
        );
        assert_eq!(conda_spec("python>=3.9"), Some(("python", None)));
        assert_eq!(conda_spec("=="), None);
        assert_eq!(
            pip_spec("requests[socks]==2.31.0"),
            Some(("requests", Some("2.31.0")))
        );
        assert_eq!(pip_spec("-r requirements.txt"), None);
        assert!(parse_environment(b"dependencies:\n  - [1, 2]\n").is_err());
        assert!(parse_meta(b"{\"name\": \"x\"}").is_err());
    }
}
