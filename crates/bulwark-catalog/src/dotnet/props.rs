//! MSBuild central package management files (`Directory.Packages.props`,
//! `Packages.props`): `PackageVersion` items, and `PackageReference` /
//! `GlobalPackageReference` items with a version, under `Project/ItemGroup`.

use super::xml::{attr, walk, Node};
use crate::other::support::dedup;
use crate::CatalogError;
use bulwark_core::{Ecosystem, Package};

/// Parses a `*Packages.props` file. Items whose name or version is empty or an MSBuild
/// property reference (`$(Var)`) are skipped: their value is not known without
/// evaluating the build.
pub fn parse(data: &[u8]) -> Result<Vec<Package>, CatalogError> {
    let mut pkgs = Vec::new();
    walk(data, "Packages.props", |node| {
        if let Node::Element { stack, attrs, .. } = node {
            let [project, group, item] = stack else {
                return Ok(());
            };
            let is_item = [
                "PackageVersion",
                "PackageReference",
                "GlobalPackageReference",
            ]
            .iter()
            .any(|k| item.eq_ignore_ascii_case(k));
            if !project.eq_ignore_ascii_case("Project")
                || !group.eq_ignore_ascii_case("ItemGroup")
                || !is_item
            {
                return Ok(());
            }
            let name = attr(attrs, "Include").or_else(|| attr(attrs, "Update"));
            let version = attr(attrs, "Version");
            if let (Some(name), Some(version)) = (name.map(str::trim), version.map(str::trim)) {
                let usable = |s: &str| !s.is_empty() && !s.contains("$(");
                if usable(name) && usable(version) {
                    pkgs.push(Package::new(Ecosystem::Nuget, name, version, "nuget-props"));
                }
            }
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
    fn props_fixtures_match_expected() {
        let _fixtures = bulwark_fixtures::fixtures_or_skip!();
        for f in [
            "Directory.Packages.props",
            "packages.props",
            "several_item_groups",
            "variables_and_empty",
        ] {
            let rel = format!("dotnet/packages-props/{f}");
            let pkgs = parse(&fixture(&rel)).unwrap();
            assert_eq!(our_nv(&pkgs), nv(&expected_packages(&rel)), "{rel}");
        }
    }

    #[test]
    fn props_package_version_items() {
        let x = br#"<Project><ItemGroup><PackageVersion Include="Serilog" Version="3.1.1" /></ItemGroup></Project>"#;
        let p = parse(x).unwrap();
        assert_eq!(
            (p[0].name.as_str(), p[0].version.as_str()),
            ("Serilog", "3.1.1")
        );
        assert!(parse(b"<Project><ItemGroup></Project>").is_err());
    }
}
