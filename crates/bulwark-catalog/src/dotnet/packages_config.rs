//! NuGet's legacy `packages.config`: `<packages><package id=".." version=".."/></packages>`.

use super::xml::{attr, walk, Node};
use crate::other::support::dedup;
use crate::CatalogError;
use bulwark_core::{Ecosystem, Package};

const FORMAT: &str = "packages.config";

/// Parses a `packages.config`. Entries with `developmentDependency="true"` are kept and
/// marked as development dependencies.
pub fn parse(data: &[u8]) -> Result<Vec<Package>, CatalogError> {
    let mut pkgs = Vec::new();
    walk(data, FORMAT, |node| {
        if let Node::Element { stack, attrs, line } = node {
            if !matches!(stack, [root, pkg] if root == "packages" && pkg == "package") {
                return Ok(());
            }
            let (Some(id), Some(version)) = (attr(attrs, "id"), attr(attrs, "version")) else {
                return Err(CatalogError::Parse {
                    format: FORMAT,
                    line: Some(line),
                    message: "<package> without id or version".into(),
                });
            };
            let mut p = Package::new(Ecosystem::Nuget, id.trim(), version.trim(), "nuget-config");
            p.dev = attr(attrs, "developmentDependency")
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
            pkgs.push(p);
        }
        Ok(())
    })?;
    Ok(dedup(pkgs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::other::expected::*;

    #[test]
    fn packages_config_matches_expected() {
        let _fixtures = bulwark_fixtures::fixtures_or_skip!();
        let rel = "dotnet/packages-config/packages.config";
        let pkgs = parse(&fixture(rel)).unwrap();
        assert_eq!(our_nv(&pkgs), nv(&expected_packages(rel)));
        assert!(pkgs.iter().all(|p| !p.dev && p.found_by == "nuget-config"));
    }

    #[test]
    fn packages_config_dev_dependency() {
        let _fixtures = bulwark_fixtures::fixtures_or_skip!();
        // Deliberate difference: Trivy drops `developmentDependency="true"` entries; we
        // keep them flagged `dev`, so the non-dev set must equal Trivy's.
        let rel = "dotnet/packages-config/dev_dependency.config";
        let pkgs = parse(&fixture(rel)).unwrap();
        assert_eq!(
            our_nv(pkgs.iter().filter(|p| !p.dev)),
            nv(&expected_packages(rel))
        );
        let dev: Vec<_> = pkgs
            .iter()
            .filter(|p| p.dev)
            .map(|p| p.name.as_str())
            .collect();
        assert_eq!(dev, ["Microsoft.Net.Compilers"]);
    }

    #[test]
    fn packages_config_errors_have_lines() {
        let err = parse(b"<packages>\n  <package id=\"a\" />\n</packages>").unwrap_err();
        assert!(
            matches!(err, CatalogError::Parse { line: Some(2), .. }),
            "{err}"
        );
        let err =
            parse(b"<packages>\n  <package id=\"a\" version=\"1\">\n</packages>").unwrap_err();
        assert!(matches!(err, CatalogError::Parse { .. }), "{err}");
        assert!(parse(b"<packages><package").is_err());
    }
}
