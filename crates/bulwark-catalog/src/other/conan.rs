//! Conan lock files (`conan.lock`): v1 (Conan 1.x, `graph_lock.nodes` with `ref`s) and
//! v2 (Conan 2.x, `requires` / `build_requires` / `python_requires` reference lists).

use super::support::{dedup, json};
use crate::CatalogError;
use bulwark_core::{Ecosystem, Package};
use serde::Deserialize;
use std::collections::BTreeMap;

const FORMAT: &str = "conan.lock";

#[derive(Deserialize)]
struct Lock {
    #[serde(default)]
    graph_lock: Option<GraphLock>,
    #[serde(default)]
    requires: Vec<String>,
    #[serde(default)]
    build_requires: Vec<String>,
    #[serde(default)]
    python_requires: Vec<String>,
}

#[derive(Deserialize)]
struct GraphLock {
    #[serde(default)]
    nodes: BTreeMap<String, Node>,
}

#[derive(Deserialize)]
struct Node {
    #[serde(rename = "ref", default)]
    reference: Option<String>,
    #[serde(default)]
    context: Option<String>,
}

/// Splits a reference `name/version[@user/channel][#revision][%timestamp]`.
pub fn parse_ref(r: &str) -> Option<(&str, &str)> {
    let r = r.split('%').next().unwrap_or(r);
    let r = r.split('#').next().unwrap_or(r);
    let r = r.split('@').next().unwrap_or(r);
    let (name, version) = r.split_once('/')?;
    let (name, version) = (name.trim(), version.trim());
    (!name.is_empty() && !version.is_empty() && !version.contains('/')).then_some((name, version))
}

fn package(r: &str, dev: bool) -> Result<Package, CatalogError> {
    let (name, version) =
        parse_ref(r).ok_or_else(|| CatalogError::parse(FORMAT, format!("bad reference {r:?}")))?;
    let mut p = Package::new(Ecosystem::Conan, name, version, "conan-lock");
    p.dev = dev;
    Ok(p)
}

/// Parses a `conan.lock` of either version. The root node of a v1 graph (the consuming
/// `conanfile`, which has no `ref`) is not a package; build-context requirements (v1
/// `context: build`, v2 `build_requires`) and v2 `python_requires` (recipe code) are
/// marked as development dependencies since they do not ship in the product.
pub fn parse(data: &[u8]) -> Result<Vec<Package>, CatalogError> {
    let lock: Lock = json(data, FORMAT)?;
    let mut pkgs = Vec::new();
    if let Some(graph) = lock.graph_lock {
        for node in graph.nodes.values() {
            if let Some(r) = node.reference.as_deref().filter(|r| !r.is_empty()) {
                pkgs.push(package(r, node.context.as_deref() == Some("build"))?);
            }
        }
    }
    for r in &lock.requires {
        pkgs.push(package(r, false)?);
    }
    for r in lock.build_requires.iter().chain(&lock.python_requires) {
        pkgs.push(package(r, true)?);
    }
    Ok(dedup(pkgs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::other::expected::*;

    #[test]
    fn conan_fixtures_match_expected() {
        let _fixtures = bulwark_fixtures::fixtures_or_skip!();
        // Deliberate difference: v2 `build_requires` are reported (flagged dev), Trivy
        // omits them; the non-dev set must equal Trivy's.
        for f in [
            "happy_v1_case1.lock",
            "happy_v1_case2.lock",
            "happy_v2.lock",
        ] {
            let rel = format!("conan/{f}");
            let pkgs = parse(&fixture(&rel)).unwrap();
            assert_eq!(
                our_nv(pkgs.iter().filter(|p| !p.dev)),
                nv(&expected_packages(&rel)),
                "{rel}"
            );
        }
        let v2 = parse(&fixture("conan/happy_v2.lock")).unwrap();
        let dev: Vec<_> = v2
            .iter()
            .filter(|p| p.dev)
            .map(|p| p.name.as_str())
            .collect();
        assert_eq!(dev, ["automake", "autoconf"]);
    }

    #[test]
    fn conan_refs_and_errors() {
        assert_eq!(
            parse_ref("pkgc/0.1.1@user/testing"),
            Some(("pkgc", "0.1.1"))
        );
        assert_eq!(parse_ref("zlib/1.2.12#abc%1.5"), Some(("zlib", "1.2.12")));
        assert_eq!(parse_ref("noversion"), None);
        assert!(parse(br#"{"requires": ["broken"]}"#).is_err());
        assert!(parse(b"{\n\"requires\": 5}").is_err());
    }
}
